//! Findings -> incidents. A finding joins the open incident that shares an entity with it
//! (an address, a host or domain name, a non-root user, a process or its parent) and whose
//! latest finding is within the correlation window; a finding that links two incidents
//! merges them; otherwise it opens a new one. Shared infrastructure (the allowlisted
//! gateway, resolvers and management addresses) never links: everything talks to it.
//!
//! Confidence: each agent contributes its highest finding confidence times a weight
//! (calibration x feedback precision x entity feedback); agents are combined as
//! independent witnesses with a noisy-OR, `p = 1 - prod(1 - c_a)`, and each further
//! kill-chain stage takes `stage_boost` off what remains: `1 - (1 - p)(1 - boost)^(stages-1)`.

use std::{collections::BTreeMap, collections::HashMap, net::IpAddr};

use super::{
    incident::{AgentScore, FindingRecord, Incident, MAX_FINDINGS_KEPT, ProcessRef},
    stage::Stage,
};
use crate::agents::finding::Finding;

/// Incidents kept in memory; the oldest (by latest finding) go first.
pub const MAX_INCIDENTS: usize = 10_000;

/// What a finding's confidence is multiplied by, and why.
#[derive(Clone, Debug, PartialEq)]
pub struct Weight {
    /// In [0, 1].
    pub factor: f64,
    /// In words ("calibration 1.00 x precision 0.90").
    pub note: String,
}

/// Supplies weights (the feedback store does; tests use a constant).
pub trait Weigh {
    /// The weight of `agent`'s findings about `entity`.
    fn weigh(&self, agent: &str, entity: &str) -> Weight;
}

/// Every agent at full weight.
#[derive(Clone, Copy, Debug, Default)]
pub struct FullWeight;

impl Weigh for FullWeight {
    fn weigh(&self, _agent: &str, _entity: &str) -> Weight {
        Weight { factor: 1.0, note: "weight 1.00".to_owned() }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key {
    Addr(IpAddr),
    Name(String),
    User(String),
    Pid(u32),
}

/// What adding a finding did.
#[derive(Clone, Debug, PartialEq)]
pub struct Added {
    /// The incident it belongs to now.
    pub id: u64,
    /// Whether the finding opened it.
    pub opened: bool,
    /// Incidents merged into it.
    pub merged: Vec<u64>,
    /// Its confidence before and after.
    pub confidence: (f64, f64),
    /// A stage it had not reached before, if any.
    pub new_stage: Option<Stage>,
}

/// The correlator.
#[derive(Debug)]
pub struct Correlator {
    window_ns: u64,
    stage_boost: f64,
    incidents: BTreeMap<u64, Incident>,
    index: HashMap<Key, u64>,
    next_id: u64,
}

impl Correlator {
    /// Incidents stay open for `window_ns` after their latest finding; `stage_boost` in
    /// [0, 1]. Ids start after `last_id` (so they stay unique across restarts).
    pub fn new(window_ns: u64, stage_boost: f64, last_id: u64) -> Self {
        Self {
            window_ns,
            stage_boost: stage_boost.clamp(0.0, 1.0),
            incidents: BTreeMap::new(),
            index: HashMap::new(),
            next_id: last_id + 1,
        }
    }

    /// Changes the window and boost (config reload).
    pub fn retune(&mut self, window_ns: u64, stage_boost: f64) {
        self.window_ns = window_ns;
        self.stage_boost = stage_boost.clamp(0.0, 1.0);
    }

    /// The incident `id`.
    pub fn get(&self, id: u64) -> Option<&Incident> {
        self.incidents.get(&id)
    }

    /// The incident `id`, to record decisions on.
    pub fn get_mut(&mut self, id: u64) -> Option<&mut Incident> {
        self.incidents.get_mut(&id)
    }

    /// Every incident held, oldest first.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.incidents.values()
    }

    /// The highest id handed out.
    pub fn last_id(&self) -> u64 {
        self.next_id - 1
    }

    /// Puts back incidents loaded from a snapshot (they are closed for linking).
    pub fn restore(&mut self, incidents: Vec<Incident>) {
        for i in incidents {
            self.next_id = self.next_id.max(i.id + 1);
            self.incidents.insert(i.id, i);
        }
        self.trim();
    }

    /// Adds `f`. `unlinkable` says which addresses never link findings; `weigh` weights
    /// the agents.
    pub fn add(&mut self, f: &Finding, unlinkable: &dyn Fn(IpAddr) -> bool, weigh: &dyn Weigh) -> Added {
        let stage = Stage::of(f.technique, f.agent);
        let rec = FindingRecord::of(f, stage);
        let keys = keys_of(&rec, unlinkable);
        let mut ids: Vec<u64> = Vec::new();
        for k in &keys {
            if let Some(&id) = self.index.get(k) {
                let open = self.incidents.get(&id).is_some_and(|i| f.ts_ns <= i.last_ns.saturating_add(self.window_ns));
                if open && !ids.contains(&id) {
                    ids.push(id);
                }
            }
        }
        ids.sort_unstable();
        let (id, opened) = match ids.first() {
            Some(&id) => (id, false),
            None => {
                let id = self.next_id;
                self.next_id += 1;
                self.incidents.insert(id, Incident::new(id, f.ts_ns, f.severity));
                (id, true)
            }
        };
        let merged: Vec<u64> = ids.iter().skip(1).copied().collect();
        for m in &merged {
            if let Some(other) = self.incidents.remove(m) {
                if let Some(inc) = self.incidents.get_mut(&id) {
                    inc.absorb(other);
                }
            }
            for v in self.index.values_mut() {
                if *v == *m {
                    *v = id;
                }
            }
        }
        for k in keys {
            self.index.insert(k, id);
        }
        let boost = self.stage_boost;
        let Some(inc) = self.incidents.get_mut(&id) else {
            return Added { id, opened, merged, confidence: (0.0, 0.0), new_stage: None };
        };
        let before = if opened { 0.0 } else { inc.confidence };
        let new_stage = inc.stages.insert(stage).then_some(stage);
        fold(inc, &rec, f);
        rescore(inc, boost, weigh);
        let after = inc.confidence;
        self.trim();
        Added { id, opened, merged, confidence: (before, after), new_stage }
    }

    /// Counts a suppressed finding against the incident it would have joined, if any.
    pub fn note_suppressed(&mut self, f: &Finding, unlinkable: &dyn Fn(IpAddr) -> bool) -> Option<u64> {
        let rec = FindingRecord::of(f, Stage::of(f.technique, f.agent));
        let id = keys_of(&rec, unlinkable).iter().find_map(|k| self.index.get(k).copied())?;
        let inc = self.incidents.get_mut(&id)?;
        inc.suppressed += 1;
        Some(id)
    }

    /// Recomputes the confidence of incident `id` with current weights (after feedback).
    pub fn rescore(&mut self, id: u64, weigh: &dyn Weigh) -> Option<f64> {
        let boost = self.stage_boost;
        let inc = self.incidents.get_mut(&id)?;
        rescore(inc, boost, weigh);
        Some(inc.confidence)
    }

    fn trim(&mut self) {
        while self.incidents.len() > MAX_INCIDENTS {
            let Some(oldest) = self.incidents.values().min_by_key(|i| i.last_ns).map(|i| i.id) else { break };
            self.incidents.remove(&oldest);
            self.index.retain(|_, v| *v != oldest);
        }
    }
}

fn keys_of(r: &FindingRecord, unlinkable: &dyn Fn(IpAddr) -> bool) -> Vec<Key> {
    let mut keys = Vec::with_capacity(6);
    for a in [r.src, r.dst].into_iter().flatten() {
        if !unlinkable(a) && !a.is_unspecified() {
            keys.push(Key::Addr(a));
        }
    }
    if let Some(h) = r.host.as_deref().filter(|h| !h.is_empty()) {
        keys.push(Key::Name(h.to_ascii_lowercase()));
    }
    if let Some(u) = r.user.as_deref().filter(|u| !matches!(*u, "" | "root" | "0")) {
        keys.push(Key::User(u.to_owned()));
    }
    if let Some(p) = r.pid.filter(|p| *p > 1) {
        keys.push(Key::Pid(p));
    }
    keys
}

fn fold(inc: &mut Incident, rec: &FindingRecord, f: &Finding) {
    inc.first_ns = inc.first_ns.min(f.ts_ns);
    inc.last_ns = inc.last_ns.max(f.ts_ns);
    inc.severity = inc.severity.max(f.severity);
    inc.findings_total += 1;
    if !f.technique.is_empty() {
        inc.techniques.insert(f.technique.to_owned());
    }
    let e = &f.entities;
    let (adversary, target) = if rec.stage.adversary_is_destination() { (e.dst, e.src) } else { (e.src, e.dst) };
    inc.adversaries.extend(adversary);
    inc.targets.extend(target);
    inc.hosts.extend(e.host.clone());
    inc.users.extend(e.user.clone());
    if let Some(pid) = e.pid {
        inc.processes
            .insert(pid, ProcessRef { pid, ppid: e.ppid.unwrap_or(0), exe: e.exe.clone().unwrap_or_default() });
    }
    let entity = rec.entity();
    let s = inc.agents.entry(f.agent.to_owned()).or_insert_with(|| AgentScore {
        raw: 0.0,
        weight: 1.0,
        weighted: 0.0,
        count: 0,
        entity: entity.clone(),
        note: String::new(),
    });
    s.count += 1;
    if f64::from(f.confidence) > s.raw {
        s.raw = f64::from(f.confidence);
        s.entity = entity;
    }
    if inc.findings.len() == MAX_FINDINGS_KEPT {
        inc.findings.remove(0);
    }
    inc.findings.push(rec.clone());
}

fn rescore(inc: &mut Incident, boost: f64, weigh: &dyn Weigh) {
    let mut miss = 1.0;
    let mut parts = Vec::with_capacity(inc.agents.len());
    for (name, s) in &mut inc.agents {
        let w = weigh.weigh(name, &s.entity);
        s.weight = w.factor.clamp(0.0, 1.0);
        s.weighted = s.raw * s.weight;
        s.note = w.note;
        miss *= 1.0 - s.weighted;
        parts.push(format!("{name} {:.2} x {:.2} = {:.2}", s.raw, s.weight, s.weighted));
    }
    let p = 1.0 - miss;
    let extra = inc.stages.len().saturating_sub(1);
    let conf = 1.0 - (1.0 - p) * (1.0 - boost).powi(extra as i32);
    inc.confidence = conf.clamp(0.0, 1.0);
    inc.confidence_note = if extra == 0 {
        format!("{} -> noisy-OR {:.2}", parts.join("; "), p)
    } else {
        format!("{} -> noisy-OR {:.2}, {} stages raise it to {:.2}", parts.join("; "), p, extra + 1, inc.confidence)
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::finding::{Entities, Evidence, Severity};

    fn finding(agent: &'static str, technique: &'static str, ts_s: u64, conf: f32, e: Entities) -> Finding {
        Finding::new(
            agent,
            "k",
            ts_s * 1_000_000_000,
            conf,
            Severity::High,
            technique,
            e,
            Evidence::default(),
            "r".into(),
        )
    }

    fn net(src: &str, dst: &str) -> Entities {
        Entities { src: src.parse().ok(), dst: dst.parse().ok(), ..Entities::default() }
    }

    const WINDOW: u64 = 1800 * 1_000_000_000;

    fn none(_: IpAddr) -> bool {
        false
    }

    #[test]
    fn the_four_step_intrusion_is_one_incident_with_four_stages() {
        let mut c = Correlator::new(WINDOW, 0.2, 0);
        // A login from an unusual source, credential use on a data store, a bulk export,
        // an upload to an external address.
        let login = finding("brute_force", "T1078", 10, 0.5, net("203.0.113.9", "10.0.0.20"));
        let mut cred = finding("process", "T1552.004", 70, 0.5, net("10.0.0.20", "10.0.0.5"));
        cred.entities.user = Some("alice".into());
        let export = finding("volume", "T1005", 130, 0.5, net("10.0.0.20", "10.0.0.5"));
        let upload = finding("volume", "T1048", 190, 0.6, net("10.0.0.20", "198.51.100.7"));
        let ids: Vec<Added> = [login, cred, export, upload].iter().map(|f| c.add(f, &none, &FullWeight)).collect();
        assert!(ids.iter().all(|a| a.id == ids[0].id), "{ids:?}");
        assert_eq!(c.incidents().count(), 1);
        let inc = c.get(ids[0].id).expect("incident");
        let stages: Vec<Stage> = inc.stages.iter().collect();
        assert_eq!(stages, vec![Stage::InitialAccess, Stage::CredentialAccess, Stage::Collection, Stage::Exfiltration]);
        assert!(inc.adversaries.contains(&"203.0.113.9".parse::<IpAddr>().expect("ip")));
        assert!(inc.adversaries.contains(&"198.51.100.7".parse::<IpAddr>().expect("ip")));
        // Confidence rose with every stage.
        let confs: Vec<f64> = ids.iter().map(|a| a.confidence.1).collect();
        assert!(confs.windows(2).all(|w| w[1] > w[0]), "{confs:?}");
    }

    #[test]
    fn independent_agents_combine_by_noisy_or() {
        let mut c = Correlator::new(WINDOW, 0.0, 0);
        c.add(&finding("port_scan", "T1046", 1, 0.6, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        let a = c.add(&finding("intel", "T1046", 2, 0.5, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        assert!((a.confidence.1 - 0.8).abs() < 1e-6, "{a:?}");
        // The same agent again does not count twice.
        let b = c.add(&finding("port_scan", "T1046", 3, 0.6, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        assert!((b.confidence.1 - 0.8).abs() < 1e-6, "{b:?}");
    }

    #[test]
    fn findings_outside_the_window_or_without_shared_entities_open_new_incidents() {
        let mut c = Correlator::new(60 * 1_000_000_000, 0.2, 0);
        let a = c.add(&finding("port_scan", "T1046", 0, 0.6, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        let b = c.add(&finding("port_scan", "T1046", 10, 0.6, net("10.8.0.2", "10.8.0.1")), &none, &FullWeight);
        let later = c.add(&finding("port_scan", "T1046", 1000, 0.6, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        assert!(a.opened && b.opened && later.opened);
        assert_eq!(c.incidents().count(), 3);
    }

    #[test]
    fn allowlisted_infrastructure_does_not_link_findings() {
        let mut c = Correlator::new(WINDOW, 0.2, 0);
        let resolver: IpAddr = "10.0.0.53".parse().expect("ip");
        let infra = move |a: IpAddr| a == resolver;
        let a = c.add(&finding("dns_tunnel", "T1071.004", 1, 0.6, net("10.0.0.7", "10.0.0.53")), &infra, &FullWeight);
        let b = c.add(&finding("dns_tunnel", "T1071.004", 2, 0.6, net("10.0.0.8", "10.0.0.53")), &infra, &FullWeight);
        assert_ne!(a.id, b.id);
    }

    #[test]
    fn a_finding_linking_two_incidents_merges_them() {
        let mut c = Correlator::new(WINDOW, 0.2, 0);
        let a = c.add(&finding("port_scan", "T1046", 1, 0.6, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        let b = c.add(&finding("beacon", "T1071", 2, 0.6, net("10.9.0.7", "198.51.100.1")), &none, &FullWeight);
        let m = c.add(&finding("volume", "T1048", 3, 0.6, net("10.9.0.1", "10.9.0.7")), &none, &FullWeight);
        assert_eq!(m.id, a.id.min(b.id));
        assert_eq!(m.merged, vec![a.id.max(b.id)]);
        assert_eq!(c.incidents().count(), 1);
        assert_eq!(c.get(m.id).expect("incident").findings_total, 3);
    }

    struct Halve;
    impl Weigh for Halve {
        fn weigh(&self, agent: &str, _e: &str) -> Weight {
            let factor = if agent == "port_scan" { 0.5 } else { 1.0 };
            Weight { factor, note: format!("x{factor}") }
        }
    }

    #[test]
    fn weights_scale_an_agent_and_rescoring_applies_new_weights() {
        let mut c = Correlator::new(WINDOW, 0.2, 0);
        let a = c.add(&finding("port_scan", "T1046", 1, 0.8, net("10.9.0.2", "10.9.0.1")), &none, &FullWeight);
        assert!((a.confidence.1 - 0.8).abs() < 1e-6);
        let now = c.rescore(a.id, &Halve).expect("incident");
        assert!((now - 0.4).abs() < 1e-6, "{now}");
        let inc = c.get(a.id).expect("incident");
        assert!(inc.confidence_note.contains("port_scan 0.80 x 0.50 = 0.40"), "{}", inc.confidence_note);
    }
}
