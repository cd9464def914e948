//! An incident: the findings of one attack grouped by the entities they share, with its
//! kill-chain stages, ATT&CK techniques, per-agent scores, combined confidence and the
//! governance decisions taken on it. Serialisable, for `sensor incidents` and the eve
//! `incident` record.

use std::{
    collections::{BTreeMap, BTreeSet},
    net::IpAddr,
};

use super::stage::{Stage, Stages};
use crate::{
    agents::finding::{Finding, Severity},
    respond::decision::Decision,
};

/// Findings kept per incident (the latest; `findings_total` counts all).
pub const MAX_FINDINGS_KEPT: usize = 64;

/// What an incident keeps of one finding.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FindingRecord {
    /// Agent (or `signature`).
    pub agent: String,
    /// Finding kind.
    pub kind: String,
    /// Event time, ns since the epoch.
    pub ts_ns: u64,
    /// The agent's confidence.
    pub confidence: f32,
    /// Severity.
    pub severity: Severity,
    /// ATT&CK technique.
    pub technique: String,
    /// Kill-chain stage.
    pub stage: Stage,
    /// The agent's sentence.
    pub reason: String,
    /// Acting address.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub src: Option<IpAddr>,
    /// Address acted on.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub dst: Option<IpAddr>,
    /// Destination port.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub port: Option<u16>,
    /// Process id.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pid: Option<u32>,
    /// Executable.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub exe: Option<String>,
    /// User.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub user: Option<String>,
    /// Host or domain name.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub host: Option<String>,
    /// Measure, observed value and threshold, in words ("distinct_ports 120 >= 25 in 60s").
    pub evidence: String,
}

impl FindingRecord {
    /// The record of `f` at `stage`.
    pub fn of(f: &Finding, stage: Stage) -> Self {
        let e = &f.entities;
        let ev = &f.evidence;
        let evidence = if ev.measure.is_empty() {
            String::new()
        } else {
            format!("{} {} >= {} in {}s ({} events)", ev.measure, ev.observed, ev.threshold, ev.window_s, ev.count)
        };
        Self {
            agent: f.agent.to_owned(),
            kind: f.kind.to_owned(),
            ts_ns: f.ts_ns,
            confidence: f.confidence,
            severity: f.severity,
            technique: f.technique.to_owned(),
            stage,
            reason: f.reason.clone(),
            src: e.src,
            dst: e.dst,
            port: e.port,
            pid: e.pid,
            exe: e.exe.clone(),
            user: e.user.clone(),
            host: e.host.clone(),
            evidence,
        }
    }

    /// The entity feedback and suppressions are keyed on: the adversary's address, else
    /// the executable, the user or the host name.
    pub fn entity(&self) -> String {
        let adversary = if self.stage.adversary_is_destination() { self.dst.or(self.src) } else { self.src };
        match (adversary, &self.exe, &self.user, &self.host) {
            (Some(a), ..) => a.to_string(),
            (None, Some(x), ..) => x.clone(),
            (None, None, Some(u), _) => u.clone(),
            (None, None, None, Some(h)) => h.clone(),
            _ => String::new(),
        }
    }
}

/// One agent's contribution to an incident.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AgentScore {
    /// Highest confidence among its findings.
    pub raw: f64,
    /// The weight applied (calibration x precision x entity feedback).
    pub weight: f64,
    /// `raw x weight`, the value combined.
    pub weighted: f64,
    /// Findings counted.
    pub count: u64,
    /// The entity its weight was looked up for.
    pub entity: String,
    /// How the weight was made, in words.
    pub note: String,
}

/// A process named by an incident.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ProcessRef {
    /// Process id.
    pub pid: u32,
    /// Parent id (0 unknown).
    pub ppid: u32,
    /// Executable ("" unknown).
    pub exe: String,
}

/// One attack, many signals.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Incident {
    /// Incident id (increasing).
    pub id: u64,
    /// First finding's time, ns since the epoch.
    pub first_ns: u64,
    /// Latest finding's time.
    pub last_ns: u64,
    /// Kill-chain stages reached, in order.
    #[serde(with = "stages_serde")]
    pub stages: Stages,
    /// ATT&CK techniques.
    pub techniques: BTreeSet<String>,
    /// Adversary addresses (sources of attacks; far ends of C2 and uploads).
    pub adversaries: BTreeSet<IpAddr>,
    /// Addresses attacked or compromised.
    pub targets: BTreeSet<IpAddr>,
    /// Host and domain names.
    pub hosts: BTreeSet<String>,
    /// Users.
    pub users: BTreeSet<String>,
    /// Processes, by pid.
    pub processes: BTreeMap<u32, ProcessRef>,
    /// Per-agent scores.
    pub agents: BTreeMap<String, AgentScore>,
    /// Combined confidence in [0, 1].
    pub confidence: f64,
    /// How the confidence was combined, in words.
    pub confidence_note: String,
    /// Highest severity.
    pub severity: Severity,
    /// Findings counted.
    pub findings_total: u64,
    /// Findings suppressed by feedback.
    pub suppressed: u64,
    /// The latest findings (at most [`MAX_FINDINGS_KEPT`]).
    pub findings: Vec<FindingRecord>,
    /// Governance decisions taken on it, oldest first.
    pub decisions: Vec<Decision>,
    /// Analyst feedback: "true_positive" or "false_positive" with the note.
    #[serde(default)]
    pub feedback: Vec<String>,
    /// When the governor opened it, ns since the epoch (wall clock; 0 when unknown, as in
    /// state saved by older versions). The console measures its update latency from it.
    #[serde(default)]
    pub opened_ns: u64,
}

impl Incident {
    /// A new incident opened by a finding at `ts_ns`.
    pub fn new(id: u64, ts_ns: u64, severity: Severity) -> Self {
        Self {
            id,
            first_ns: ts_ns,
            last_ns: ts_ns,
            stages: Stages::default(),
            techniques: BTreeSet::new(),
            adversaries: BTreeSet::new(),
            targets: BTreeSet::new(),
            hosts: BTreeSet::new(),
            users: BTreeSet::new(),
            processes: BTreeMap::new(),
            agents: BTreeMap::new(),
            confidence: 0.0,
            confidence_note: String::new(),
            severity,
            findings_total: 0,
            suppressed: 0,
            findings: Vec::new(),
            decisions: Vec::new(),
            feedback: Vec::new(),
            opened_ns: 0,
        }
    }

    /// The furthest stage reached.
    pub fn stage(&self) -> Option<Stage> {
        self.stages.furthest()
    }

    /// One line: id, stages, confidence, adversaries and targets.
    pub fn summary(&self) -> String {
        let stages: Vec<&str> = self.stages.iter().map(Stage::name).collect();
        let list = |s: &BTreeSet<IpAddr>| s.iter().map(IpAddr::to_string).collect::<Vec<_>>().join(",");
        let agents: Vec<&str> = self.agents.keys().map(String::as_str).collect();
        format!(
            "incident {} [{}] confidence {:.2} by {} from {} against {}",
            self.id,
            stages.join(" > "),
            self.confidence,
            agents.join("+"),
            if self.adversaries.is_empty() { "-".to_owned() } else { list(&self.adversaries) },
            if self.targets.is_empty() { "-".to_owned() } else { list(&self.targets) },
        )
    }

    /// Folds `other` (a later incident found to be the same attack) into this one.
    pub fn absorb(&mut self, other: Incident) {
        self.first_ns = self.first_ns.min(other.first_ns);
        self.last_ns = self.last_ns.max(other.last_ns);
        self.stages.0 |= other.stages.0;
        self.techniques.extend(other.techniques);
        self.adversaries.extend(other.adversaries);
        self.targets.extend(other.targets);
        self.hosts.extend(other.hosts);
        self.users.extend(other.users);
        self.processes.extend(other.processes);
        for (name, s) in other.agents {
            match self.agents.get_mut(&name) {
                Some(mine) => {
                    mine.count += s.count;
                    if s.raw > mine.raw {
                        mine.raw = s.raw;
                        mine.entity = s.entity;
                    }
                }
                None => {
                    self.agents.insert(name, s);
                }
            }
        }
        self.severity = self.severity.max(other.severity);
        self.findings_total += other.findings_total;
        self.suppressed += other.suppressed;
        self.findings.extend(other.findings);
        self.findings.sort_by_key(|f| f.ts_ns);
        let excess = self.findings.len().saturating_sub(MAX_FINDINGS_KEPT);
        self.findings.drain(..excess);
        self.decisions.extend(other.decisions);
        self.feedback.extend(other.feedback);
    }
}

mod stages_serde {
    use super::{Stage, Stages};

    pub fn serialize<S: serde::Serializer>(s: &Stages, ser: S) -> Result<S::Ok, S::Error> {
        ser.collect_seq(s.iter())
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(de: D) -> Result<Stages, D::Error> {
        let v: Vec<Stage> = serde::Deserialize::deserialize(de)?;
        let mut s = Stages::default();
        for x in v {
            s.insert(x);
        }
        Ok(s)
    }
}
