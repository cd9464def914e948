//! The governor: findings in, governed containment out. Each finding goes to the
//! correlator; when its incident is confident enough, the governor proposes actions (block
//! the adversaries, kill the attacker's processes, isolate a host that talks to C2 or
//! uploads), weighs each with the decision policy, asks the authority matrix, and then
//! acts, queues an approval, or records why not. Every decision, approval, expiry, manual
//! action and feedback is one record in the audit log.

use std::{
    collections::{BTreeMap, VecDeque},
    net::IpAddr,
    path::PathBuf,
    time::Duration,
};

use sensor_common::block::BlockReason;

use super::{
    actuator::Actuator,
    approvals::{Approvals, Pending},
    config::{Authority, GovernanceConfig},
    decision::{Decision, Outcome, Target, Verdict},
    feedback::{Feedback, Suppression},
    guard::refuse_block,
    policy::{self, Inputs},
};
use crate::{
    agents::finding::Finding,
    api::kill::{KillOutcome, start_ticks},
    audit::AuditWriter,
    block::Cidr,
    correlate::{
        correlator::Correlator,
        incident::{FindingRecord, Incident},
        stage::Stage,
    },
};

/// A governor operation that could not be done (answers to the control socket).
#[derive(Debug, thiserror::Error)]
pub enum GovError {
    /// No pending approval with that id.
    #[error("no pending approval {0} (see `sensor approvals list`)")]
    NoApproval(u64),
    /// No incident with that id.
    #[error("no incident {0} (see `sensor incidents`)")]
    NoIncident(u64),
    /// The block is refused.
    #[error("refused: {0}")]
    Refused(String),
    /// The actuator failed.
    #[error("{0}")]
    Act(#[from] super::actuator::ActError),
}

/// How often [`Governor::tick`] checks that the block maps still hold what it wrote.
pub const BLOCK_CHECK_NS: u64 = 2_000_000_000;

/// A block or isolation the governor wrote and will see expire.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ActiveBlock {
    /// The prefix.
    pub cidr: Cidr,
    /// "block", "isolate" or "manual".
    pub kind: String,
    /// The incident (0 for manual blocks).
    pub incident: u64,
    /// The decision (0 for manual blocks).
    pub decision: u64,
    /// Wall-clock expiry, ns since the epoch.
    pub expires_ns: u64,
    /// Why, in words.
    pub reason: String,
}

/// Counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct GovStats {
    /// Findings received.
    pub findings: u64,
    /// Findings suppressed by feedback.
    pub suppressed: u64,
    /// Decisions made.
    pub decisions: u64,
    /// Actions carried out.
    pub applied: u64,
    /// Audit records that could not be written.
    pub audit_errors: u64,
}

/// What the governor persists between runs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct GovState {
    /// Highest incident id handed out.
    pub last_incident: u64,
    /// Highest decision id handed out.
    pub last_decision: u64,
    /// Feedback labels and suppressions.
    pub feedback: Feedback,
    /// Offences per prefix (TTL ladder position).
    pub offenders: BTreeMap<String, u32>,
    /// Blocks written and not yet expired.
    pub blocks: Vec<ActiveBlock>,
    /// The latest incidents (for `sensor incidents` while no sensor runs).
    pub incidents: Vec<Incident>,
}

/// Incidents kept in the state file.
const INCIDENTS_PERSISTED: usize = 1000;
/// Findings shown as evidence on an approval.
const EVIDENCE_LINES: usize = 8;

/// The governor.
pub struct Governor {
    cfg: GovernanceConfig,
    correlator: Correlator,
    feedback: Feedback,
    offenders: BTreeMap<String, u32>,
    approvals: Approvals,
    blocks: BTreeMap<Cidr, ActiveBlock>,
    recent_blocks: VecDeque<u64>,
    actuator: Box<dyn Actuator>,
    audit: Option<AuditWriter>,
    loss_share: f64,
    last_decision: u64,
    print: bool,
    /// Where the state is saved (None: not persisted).
    pub state_path: Option<PathBuf>,
    dirty: bool,
    next_check_ns: u64,
    /// Counters.
    pub stats: GovStats,
    /// Decisions made, oldest first (drained by the caller for output).
    pub outbox: Vec<Decision>,
    /// Incidents changed since the caller last drained this (for output).
    pub touched: std::collections::BTreeSet<u64>,
    /// Rung after each change a viewer should see (the console's live updates).
    pub changes: std::sync::Arc<super::changes::Changes>,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor").field("version", &self.cfg.version).field("stats", &self.stats).finish()
    }
}

impl Governor {
    /// A governor acting through `actuator`, auditing to `audit`, resuming `state`.
    pub fn new(
        cfg: GovernanceConfig,
        actuator: Box<dyn Actuator>,
        audit: Option<AuditWriter>,
        state: GovState,
    ) -> Self {
        let mut correlator =
            Correlator::new(cfg.correlation.window.as_nanos() as u64, cfg.correlation.stage_boost, state.last_incident);
        correlator.restore(state.incidents);
        let mut feedback = state.feedback;
        feedback.calibration = cfg.correlation.calibration.clone();
        let mut g = Self {
            cfg,
            correlator,
            feedback,
            offenders: state.offenders,
            approvals: Approvals::default(),
            blocks: state.blocks.into_iter().map(|b| (b.cidr, b)).collect(),
            recent_blocks: VecDeque::new(),
            actuator,
            audit,
            loss_share: 0.0,
            last_decision: state.last_decision,
            print: false,
            state_path: None,
            dirty: false,
            next_check_ns: 0,
            stats: GovStats::default(),
            outbox: Vec::new(),
            touched: std::collections::BTreeSet::new(),
            changes: std::sync::Arc::default(),
        };
        g.install_allowlist();
        g
    }

    /// Also prints each decision on stderr.
    pub fn printing(mut self, on: bool) -> Self {
        self.print = on;
        self
    }

    /// The config in force.
    pub fn config(&self) -> &GovernanceConfig {
        &self.cfg
    }

    /// Replaces the config (already validated); audited.
    pub fn reload(&mut self, cfg: GovernanceConfig, by: &str, now_ns: u64) {
        let old = std::mem::replace(&mut self.cfg, cfg);
        self.correlator.retune(self.cfg.correlation.window.as_nanos() as u64, self.cfg.correlation.stage_boost);
        self.feedback.calibration = self.cfg.correlation.calibration.clone();
        self.install_allowlist();
        let body = serde_json::json!({
            "from_version": old.version, "to_version": self.cfg.version, "origin": self.cfg.origin, "by": by, "at_ns": now_ns,
        });
        self.audit("config", body);
    }

    /// Writes allow entries for the allowlist and management addresses, so the kernel
    /// never drops them whatever else is in the maps.
    fn install_allowlist(&mut self) {
        let all: Vec<Cidr> =
            self.cfg.allowlist.never_block.iter().chain(&self.cfg.allowlist.management).copied().collect();
        for c in all {
            if let Err(e) = self.actuator.allow(c) {
                eprintln!("warning: cannot write allow entry {c}: {e}");
            }
        }
    }

    /// The share of events lost over the loss window, as last set.
    pub fn loss_share(&self) -> f64 {
        self.loss_share
    }

    /// The share of events lost in the policy's loss window, measured by the caller.
    pub fn set_loss_share(&mut self, share: f64) {
        self.loss_share = if share.is_finite() { share.clamp(0.0, 1.0) } else { 0.0 };
    }

    /// The loss window the caller should measure over.
    pub fn loss_window(&self) -> Duration {
        self.cfg.policy.loss_window
    }

    /// The incidents held, oldest first.
    pub fn incidents(&self) -> impl Iterator<Item = &Incident> {
        self.correlator.incidents()
    }

    /// Incident `id`.
    pub fn incident(&self, id: u64) -> Option<&Incident> {
        self.correlator.get(id)
    }

    /// Pending approvals.
    pub fn approvals(&self) -> impl Iterator<Item = &Pending> {
        self.approvals.list()
    }

    /// Blocks the governor wrote that have not expired.
    pub fn blocks(&self) -> impl Iterator<Item = &ActiveBlock> {
        self.blocks.values()
    }

    /// One finding, at wall-clock `now_ns`.
    pub fn on_finding(&mut self, f: &Finding, now_ns: u64) {
        self.stats.findings += 1;
        self.dirty = true;
        let entity = FindingRecord::of(f, Stage::of(f.technique, f.agent)).entity();
        let allow = &self.cfg.allowlist;
        let unlinkable = |a: IpAddr| allow.protects(a).is_some();
        if self.feedback.suppressed(f.agent, &entity, now_ns).is_some() {
            self.stats.suppressed += 1;
            self.correlator.note_suppressed(f, &unlinkable);
            return;
        }
        let added = self.correlator.add(f, &unlinkable, &self.feedback);
        self.touched.insert(added.id);
        if added.opened {
            if let Some(inc) = self.correlator.get_mut(added.id) {
                inc.opened_ns = now_ns;
                if self.print {
                    eprintln!("{}", inc.summary());
                }
            }
        }
        self.govern(added.id, now_ns);
    }

    /// A block another sensor of the fleet applied: audited as received, then decided on
    /// like a finding of agent `fleet` about the blocked address, through this sensor's
    /// own decision rule and authority matrix (which may refuse it; that is audited too).
    pub fn fleet_offer(&mut self, offer: &crate::fleet::FleetOffer, now_ns: u64) {
        self.audit(
            "fleet_offer",
            serde_json::json!({
                "from_site": offer.site, "from_host": offer.host, "decision": offer.decision_id,
                "cidr": offer.cidr, "confidence": offer.confidence, "technique": offer.technique,
                "summary": offer.summary, "reasoning": offer.reasoning, "decided_ns": offer.decided_ns,
            }),
        );
        if self.print {
            eprintln!(
                "fleet: offer from {}.{}: block {} (confidence {:.2}); deciding under the local policy",
                offer.site, offer.host, offer.cidr, offer.confidence
            );
        }
        self.on_finding(&offer.finding(now_ns), now_ns);
    }

    /// Proposes and decides the actions incident `id` calls for.
    fn govern(&mut self, id: u64, now_ns: u64) {
        let Some(inc) = self.correlator.get(id) else { return };
        if inc.confidence < self.cfg.policy.min_confidence {
            return;
        }
        for target in proposals(inc) {
            if !self.worth_deciding(id, &target) {
                continue;
            }
            self.decide(id, target, now_ns);
        }
    }

    /// Whether `target` needs a (new) decision on incident `id`: not yet decided, or only
    /// monitored at a confidence at least 0.1 lower than now; and not already in force.
    fn worth_deciding(&self, id: u64, target: &Target) -> bool {
        let Some(inc) = self.correlator.get(id) else { return false };
        if let Target::Block { cidr } = target {
            if self.blocks.contains_key(cidr) {
                return false;
            }
        }
        if self.approvals.waiting_for(target).is_some() {
            return false;
        }
        match inc.decisions.iter().rev().find(|d| &d.target == target) {
            None => true,
            Some(d) if d.outcome == Outcome::Monitored => inc.confidence >= d.scores.confidence + 0.1,
            Some(d) => matches!(d.outcome, Outcome::RolledBack | Outcome::Expired),
        }
    }

    fn decide(&mut self, id: u64, target: Target, now_ns: u64) {
        let Some(inc) = self.correlator.get(id) else { return };
        let cfg = &self.cfg;
        let d = &cfg.defaults;
        let asset = match target.address() {
            Some(a) => cfg.inventory.lookup(a, d),
            None => inc
                .targets
                .iter()
                .map(|a| cfg.inventory.lookup(*a, d))
                .max_by_key(|v| v.criticality)
                .unwrap_or_else(|| cfg.inventory.lookup(IpAddr::from([0u8; 4]), d)),
        };
        let impact = inc
            .targets
            .iter()
            .map(|a| cfg.inventory.lookup(*a, d).impact)
            .fold(if inc.targets.is_empty() { asset.impact } else { 0.0 }, f64::max);
        let mut why = vec![format!("{}; confidence {:.2}", inc.summary(), inc.confidence)];
        for (name, s) in &inc.agents {
            why.push(format!(
                "{name}: {} finding(s), confidence {:.2} x weight {:.2} ({})",
                s.count, s.raw, s.weight, s.note
            ));
        }
        let asset_name = if asset.known { asset.name.to_owned() } else { String::new() };
        why.push(format!(
            "{} is on {} (class {}, criticality {}, false-positive cost {:.1}); impact at stake {:.1}",
            target.describe(),
            if asset.known { format!("asset {}", asset.name) } else { "an unlisted address".to_owned() },
            asset.class,
            asset.criticality,
            asset.false_positive_cost,
            impact
        ));
        let inputs = Inputs {
            confidence: inc.confidence,
            impact,
            false_positive_cost: asset.false_positive_cost,
            criticality: asset.criticality,
            loss_share: self.loss_share,
        };
        let (verdict, scores) = policy::decide(&cfg.policy, &inputs, &mut why);
        let action = target.action();
        let authority = cfg.authority.get(asset.class, action);
        let protected = asset.protected;
        let class = asset.class.to_owned();
        self.last_decision += 1;
        let mut dec = Decision {
            id: self.last_decision,
            incident: id,
            at_ns: now_ns,
            target: target.clone(),
            verdict,
            authority: authority.name().to_owned(),
            asset: asset_name,
            class,
            outcome: Outcome::Monitored,
            scores,
            ttl_s: None,
            offence: None,
            approval: None,
            approver: None,
            rollback: None,
            expires_ns: None,
            policy_version: cfg.version.clone(),
            reasoning: Vec::new(),
        };
        let refusal = match &target {
            Target::Block { cidr } => refuse_block(cidr, &cfg.allowlist),
            Target::Isolate { host } => cfg
                .allowlist
                .protects(*host)
                .map(|c| format!("{host} is allowlisted ({c}): never isolated, whatever the confidence")),
            Target::Kill { .. } => None,
        };
        if let Some(r) = refusal {
            why.push(r);
            dec.outcome = Outcome::Refused;
        } else if protected {
            why.push(format!("asset {} is protected: every action on it is forbidden", dec.asset));
            dec.outcome = Outcome::Forbidden;
        } else if verdict == Verdict::Monitor {
            dec.outcome = Outcome::Monitored;
        } else if authority == Authority::Forbidden {
            why.push(format!("the authority matrix forbids {} on class {} assets", action.name(), dec.class));
            dec.outcome = Outcome::Forbidden;
        } else if verdict == Verdict::Contain && authority == Authority::Autonomous {
            match self.limit_reached(&target, now_ns) {
                Some(limit) => {
                    why.push(format!("{limit}: a person decides"));
                    dec.outcome = Outcome::Pending;
                }
                None => {
                    why.push(format!(
                        "the authority matrix lets the sensor {} class {} assets alone",
                        action.name(),
                        dec.class
                    ));
                    dec.outcome = Outcome::Applied;
                }
            }
        } else {
            why.push(if verdict == Verdict::Contain {
                format!("the authority matrix requires approval to {} class {} assets", action.name(), dec.class)
            } else {
                format!("escalated: {} waits for approval", target.describe())
            });
            dec.outcome = Outcome::Pending;
        }
        dec.reasoning = why;
        match dec.outcome {
            Outcome::Applied => self.execute(&mut dec, now_ns),
            Outcome::Pending => {
                let expires = now_ns.saturating_add(self.cfg.limits.approval_expiry.as_nanos() as u64);
                let evidence: Vec<String> = self
                    .correlator
                    .get(id)
                    .map(|i| {
                        i.findings
                            .iter()
                            .rev()
                            .take(EVIDENCE_LINES)
                            .map(|f| format!("{} {}: {}", f.agent, f.kind, f.reason))
                            .collect()
                    })
                    .unwrap_or_default();
                let aid = self.approvals.next_id();
                dec.expires_ns = Some(expires);
                dec.approval = Some(aid);
                dec.reasoning.push(format!(
                    "approval {aid} waits until it expires in {}s",
                    self.cfg.limits.approval_expiry.as_secs()
                ));
                self.approvals.add(dec.clone(), now_ns, expires, evidence);
            }
            _ => {}
        }
        self.record(dec, "decision");
    }

    /// Why a new autonomous block would exceed the matrix's limits, if it would.
    fn limit_reached(&mut self, target: &Target, now_ns: u64) -> Option<String> {
        if !matches!(target, Target::Block { .. } | Target::Isolate { .. }) {
            return None;
        }
        let l = &self.cfg.limits;
        while self.recent_blocks.front().is_some_and(|t| now_ns.saturating_sub(*t) >= 60_000_000_000) {
            self.recent_blocks.pop_front();
        }
        if self.blocks.len() >= l.max_active_blocks {
            return Some(format!("{} active blocks reach the limit of {}", self.blocks.len(), l.max_active_blocks));
        }
        if self.recent_blocks.len() >= l.max_new_blocks_per_minute as usize {
            return Some(format!(
                "{} new blocks in the last minute reach the limit of {}",
                self.recent_blocks.len(),
                l.max_new_blocks_per_minute
            ));
        }
        None
    }

    /// Carries out `dec` (autonomous or approved) and fills in its outcome, TTL and rollback.
    fn execute(&mut self, dec: &mut Decision, now_ns: u64) {
        let result: Result<(), String> = match dec.target.clone() {
            Target::Block { cidr } => self.write_entry(dec, cidr, "block", now_ns),
            Target::Isolate { host } => {
                let prefix = if host.is_ipv4() { 32 } else { 128 };
                self.write_entry(dec, Cidr { addr: host, prefix }, "isolate", now_ns)
            }
            Target::Kill { pid, start, .. } => match self.actuator.kill(pid, start) {
                Ok(KillOutcome::Killed) => {
                    dec.rollback = Some("none: a killed process cannot be restored".into());
                    dec.reasoning.push(format!("pid {pid} killed through a pidfd"));
                    Ok(())
                }
                Ok(KillOutcome::AlreadyGone) => Err(format!("pid {pid} had already exited")),
                Ok(KillOutcome::Reused { found_start }) => {
                    Err(format!("pid {pid} now belongs to another process (start {found_start}): not killed"))
                }
                Err(e) => Err(e.to_string()),
            },
        };
        match result {
            Ok(()) => {
                dec.outcome = Outcome::Applied;
                self.stats.applied += 1;
            }
            Err(e) => {
                dec.outcome = Outcome::Failed;
                dec.reasoning.push(format!("failed: {e}"));
            }
        }
    }

    /// Writes a block (`kind` "block") or an isolation ("isolate") of `cidr` with the TTL
    /// of its next offence, remembers it for expiry, and fills in `dec`.
    fn write_entry(&mut self, dec: &mut Decision, cidr: Cidr, kind: &str, now_ns: u64) -> Result<(), String> {
        let key = if kind == "block" { cidr.to_string() } else { format!("{kind}:{}", cidr.addr) };
        let offence = self.offenders.get(&key).copied().unwrap_or(0) + 1;
        let ttl = self.cfg.limits.ttl_for_offence(offence);
        let written = if kind == "block" {
            self.actuator.block(cidr, ttl, BlockReason::Policy)
        } else {
            let mgmt = self.cfg.allowlist.management.clone();
            self.actuator.isolate(cidr.addr, ttl, &mgmt)
        };
        written.map_err(|e| e.to_string())?;
        self.offenders.insert(key, offence);
        if kind == "block" {
            self.recent_blocks.push_back(now_ns);
        }
        let expires = now_ns.saturating_add(ttl.as_nanos() as u64);
        let reason = format!("incident {}", dec.incident);
        let (incident, decision) = (dec.incident, dec.id);
        self.blocks
            .insert(cidr, ActiveBlock { cidr, kind: kind.into(), incident, decision, expires_ns: expires, reason });
        dec.ttl_s = Some(ttl.as_secs());
        dec.offence = Some(offence);
        dec.expires_ns = Some(expires);
        dec.rollback = Some(format!("unblock {cidr}"));
        dec.reasoning.push(if kind == "block" {
            format!(
                "offence {offence} of {cidr}: blocked in XDP for {}s (TTL ladder {:?})",
                ttl.as_secs(),
                self.cfg.limits.ttl_ladder.iter().map(Duration::as_secs).collect::<Vec<_>>()
            )
        } else {
            format!(
                "{} isolated for {}s: only {} management prefix(es) still reach it",
                cidr.addr,
                ttl.as_secs(),
                self.cfg.allowlist.management.len()
            )
        });
        Ok(())
    }

    /// Stores `dec` on its incident (replacing an earlier state of the same decision),
    /// audits it, prints it and queues it for output.
    fn record(&mut self, dec: Decision, kind: &str) {
        self.stats.decisions += u64::from(kind == "decision");
        self.dirty = true;
        if let Some(inc) = self.correlator.get_mut(dec.incident) {
            match inc.decisions.iter_mut().find(|d| d.id == dec.id) {
                Some(d) => *d = dec.clone(),
                None => inc.decisions.push(dec.clone()),
            }
        }
        let mut body = serde_json::to_value(&dec).unwrap_or(serde_json::Value::Null);
        if let (Some(obj), Some(inc)) = (body.as_object_mut(), self.correlator.get(dec.incident)) {
            obj.insert("matrix_version".into(), self.cfg.version.clone().into());
            obj.insert(
                "incident_summary".into(),
                serde_json::json!({
                    "stages": inc.stages.iter().map(Stage::name).collect::<Vec<_>>(),
                    "techniques": inc.techniques,
                    "confidence": inc.confidence,
                    "findings": inc.findings_total,
                    "agents": inc.agents.iter().map(|(k, v)| (k.clone(), v.weighted)).collect::<BTreeMap<_, _>>(),
                }),
            );
        }
        self.audit(kind, body);
        if self.print {
            eprintln!("{}", dec.line());
        }
        self.outbox.push(dec);
    }

    fn audit(&mut self, kind: &str, body: serde_json::Value) {
        let Some(w) = self.audit.as_mut() else { return };
        let map = match body {
            serde_json::Value::Object(m) => m,
            other => {
                let mut m = serde_json::Map::new();
                m.insert("value".into(), other);
                m
            }
        };
        if let Err(e) = w.append(kind, &map) {
            self.stats.audit_errors += 1;
            eprintln!("error: audit log: {e}");
        }
    }

    /// Approves approval `id` as `approver`: carries the action out (re-checking the
    /// allowlist and the matrix in force now) and audits who approved.
    pub fn approve(&mut self, id: u64, approver: &str, now_ns: u64) -> Result<Decision, GovError> {
        let p = self.approvals.take(id).ok_or(GovError::NoApproval(id))?;
        let mut dec = p.decision;
        dec.approver = Some(approver.to_owned());
        dec.at_ns = now_ns;
        let recheck = match &dec.target {
            Target::Block { cidr } => refuse_block(cidr, &self.cfg.allowlist),
            _ => None,
        };
        let action = dec.target.action();
        if let Some(r) = recheck {
            dec.reasoning.push(format!("approved by {approver}, but {r}"));
            dec.outcome = Outcome::Refused;
        } else if self.cfg.authority.get(&dec.class, action) == Authority::Forbidden {
            dec.reasoning.push(format!(
                "approved by {approver}, but the matrix in force now forbids {} on class {}",
                action.name(),
                dec.class
            ));
            dec.outcome = Outcome::Forbidden;
        } else {
            dec.reasoning.push(format!("approved by {approver}"));
            self.execute(&mut dec, now_ns);
        }
        self.record(dec.clone(), "approval");
        Ok(dec)
    }

    /// Denies approval `id` as `approver`, with a reason; audited.
    pub fn deny(&mut self, id: u64, approver: &str, reason: &str, now_ns: u64) -> Result<Decision, GovError> {
        let p = self.approvals.take(id).ok_or(GovError::NoApproval(id))?;
        let mut dec = p.decision;
        dec.approver = Some(approver.to_owned());
        dec.at_ns = now_ns;
        dec.outcome = Outcome::Denied;
        dec.reasoning.push(if reason.is_empty() {
            format!("denied by {approver}")
        } else {
            format!("denied by {approver}: {reason}")
        });
        self.record(dec.clone(), "approval");
        Ok(dec)
    }

    /// Analyst feedback on incident `id`: labels every agent's finding about its entity,
    /// optionally suppresses them for `suppress`, and rescores the incident. Returns what
    /// changed, in words.
    pub fn feedback(
        &mut self,
        id: u64,
        true_positive: bool,
        note: &str,
        suppress: Option<Duration>,
        by: &str,
        now_ns: u64,
    ) -> Result<String, GovError> {
        let inc = self.correlator.get(id).ok_or(GovError::NoIncident(id))?;
        let pairs: Vec<(String, String)> = inc.agents.iter().map(|(a, s)| (a.clone(), s.entity.clone())).collect();
        let before = inc.confidence;
        let label = if true_positive { "true_positive" } else { "false_positive" };
        for (agent, entity) in &pairs {
            self.feedback.label(agent, entity, true_positive);
            if let Some(d) = suppress {
                self.feedback.suppress(Suppression {
                    agent: agent.clone(),
                    entity: entity.clone(),
                    until_ns: now_ns.saturating_add(d.as_nanos() as u64),
                    note: format!("{by}: {note}"),
                });
            }
        }
        let after = self.correlator.rescore(id, &self.feedback).unwrap_or(before);
        if let Some(inc) = self.correlator.get_mut(id) {
            inc.feedback
                .push(format!("{label} by {by}{}", if note.is_empty() { String::new() } else { format!(": {note}") }));
        }
        let summary = format!(
            "incident {id} marked {label}: {} agent label(s) recorded{}; its confidence {before:.2} -> {after:.2}",
            pairs.len(),
            suppress.map(|d| format!(", suppressed for {}s", d.as_secs())).unwrap_or_default()
        );
        self.audit(
            "feedback",
            serde_json::json!({
                "incident": id, "label": label, "note": note, "by": by, "at_ns": now_ns,
                "agents": pairs.iter().map(|(a, e)| serde_json::json!({"agent": a, "entity": e})).collect::<Vec<_>>(),
                "suppress_s": suppress.map(|d| d.as_secs()), "confidence_before": before, "confidence_after": after,
            }),
        );
        self.dirty = true;
        Ok(summary)
    }

    /// An operator's block through the control socket; refused for allowlisted, loopback
    /// or all-address prefixes. Audited with the operator's identity.
    pub fn manual_block(
        &mut self,
        cidr: Cidr,
        ttl: Duration,
        reason: &str,
        by: &str,
        now_ns: u64,
    ) -> Result<(), GovError> {
        if let Some(r) = refuse_block(&cidr, &self.cfg.allowlist) {
            self.audit(
                "manual",
                serde_json::json!({"action": "block", "cidr": cidr, "by": by, "outcome": "refused", "reason": r}),
            );
            return Err(GovError::Refused(r));
        }
        self.actuator.block(cidr, ttl, BlockReason::Manual)?;
        let expires = now_ns.saturating_add(ttl.as_nanos() as u64);
        self.blocks.insert(
            cidr,
            ActiveBlock {
                cidr,
                kind: "manual".into(),
                incident: 0,
                decision: 0,
                expires_ns: expires,
                reason: reason.to_owned(),
            },
        );
        self.audit(
            "manual",
            serde_json::json!({"action": "block", "cidr": cidr, "ttl_s": ttl.as_secs(), "by": by, "reason": reason,
                "outcome": "applied", "rollback": format!("unblock {cidr}"), "expires_ns": expires}),
        );
        self.dirty = true;
        Ok(())
    }

    /// An operator's unblock; returns whether the prefix was blocked. Audited.
    pub fn manual_unblock(&mut self, cidr: Cidr, by: &str) -> Result<bool, GovError> {
        let was = self.actuator.unblock(cidr)?;
        if let Some(b) = self.blocks.remove(&cidr) {
            self.rolled_back(&b, &format!("lifted by {by}"));
        }
        self.audit("manual", serde_json::json!({"action": "unblock", "cidr": cidr, "by": by, "existed": was}));
        self.dirty = true;
        Ok(was)
    }

    /// Marks the decision behind `b` rolled back (so a new offence is decided afresh).
    fn rolled_back(&mut self, b: &ActiveBlock, how: &str) {
        if let Some(inc) = self.correlator.get_mut(b.incident) {
            if let Some(d) = inc.decisions.iter_mut().find(|d| d.id == b.decision) {
                d.outcome = Outcome::RolledBack;
                d.reasoning.push(format!("{} {how}", d.target.describe()));
            }
        }
    }

    /// Periodic work at wall-clock `now_ns`: expires approvals and blocks (audited), drops
    /// expired suppressions, saves the state when it changed.
    pub fn tick(&mut self, now_ns: u64) {
        for p in self.approvals.expire(now_ns) {
            let mut dec = p.decision;
            dec.outcome = Outcome::Expired;
            dec.at_ns = now_ns;
            dec.reasoning.push("nobody approved or denied it before it expired: not applied".into());
            self.record(dec, "approval");
        }
        match self.actuator.sweep() {
            Ok(gone) => {
                for cidr in gone {
                    let Some(b) = self.blocks.remove(&cidr) else { continue };
                    self.audit(
                        "expiry",
                        serde_json::json!({"cidr": cidr, "action": b.kind, "incident": b.incident, "decision": b.decision,
                            "outcome": "rolled_back", "at_ns": now_ns}),
                    );
                    self.rolled_back(&b, "expired at its TTL and was removed");
                    if self.print {
                        eprintln!("expired {} {cidr} (incident {})", b.kind, b.incident);
                    }
                    self.dirty = true;
                }
            }
            Err(e) => eprintln!("warning: sweeping block maps: {e}"),
        }
        if self.feedback.expire(now_ns) > 0 {
            self.dirty = true;
        }
        if now_ns >= self.next_check_ns {
            self.next_check_ns = now_ns.saturating_add(BLOCK_CHECK_NS);
            self.check_blocks(now_ns);
        }
        if self.dirty {
            self.save();
        }
    }

    /// Self-protection: every block and isolation the governor wrote and that has not
    /// expired must still be in the maps as written. One that another process removed or
    /// changed is written again for the time it has left and audited (`tamper`, outcome
    /// `restored`, or `failed` with the error). Returns how many were restored.
    pub fn check_blocks(&mut self, now_ns: u64) -> usize {
        let live: Vec<ActiveBlock> = self.blocks.values().filter(|b| b.expires_ns > now_ns).cloned().collect();
        let mut restored = 0;
        for b in live {
            let isolate = b.kind == "isolate";
            match self.actuator.holds(b.cidr, isolate) {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => {
                    eprintln!("warning: checking the block maps: {e}");
                    return restored;
                }
            }
            let ttl = Duration::from_nanos(b.expires_ns - now_ns);
            let written = if isolate {
                let mgmt = self.cfg.allowlist.management.clone();
                self.actuator.isolate(b.cidr.addr, ttl, &mgmt)
            } else {
                self.actuator.block(b.cidr, ttl, BlockReason::Policy)
            };
            let (outcome, error) = match &written {
                Ok(()) => ("restored", None),
                Err(e) => ("failed", Some(e.to_string())),
            };
            self.audit(
                "tamper",
                serde_json::json!({"what": "block_map", "cidr": b.cidr, "action": b.kind, "incident": b.incident,
                    "decision": b.decision, "found": "missing or changed", "outcome": outcome,
                    "ttl_left_s": ttl.as_secs(), "error": error, "at_ns": now_ns}),
            );
            if written.is_ok() {
                restored += 1;
            }
            eprintln!(
                "tamper: {} {} was removed or changed in the block map by another process: {outcome} ({}s left)",
                b.kind,
                b.cidr,
                ttl.as_secs()
            );
        }
        restored
    }

    /// Audits a tamper event found outside the governor (a detached program), with what
    /// was done about it.
    pub fn audit_tamper(&mut self, what: &str, detail: serde_json::Value, outcome: &str, now_ns: u64) {
        self.audit("tamper", serde_json::json!({"what": what, "detail": detail, "outcome": outcome, "at_ns": now_ns}));
    }

    /// The state to persist.
    pub fn state(&self) -> GovState {
        let mut incidents: Vec<Incident> = self.correlator.incidents().cloned().collect();
        let excess = incidents.len().saturating_sub(INCIDENTS_PERSISTED);
        incidents.drain(..excess);
        GovState {
            last_incident: self.correlator.last_id(),
            last_decision: self.last_decision,
            feedback: self.feedback.clone(),
            offenders: self.offenders.clone(),
            blocks: self.blocks.values().cloned().collect(),
            incidents,
        }
    }

    /// Saves the state to `state_path` (write then rename); errors are printed.
    pub fn save(&mut self) {
        let Some(path) = self.state_path.clone() else { return };
        match super::state::save(&path, &self.state()) {
            Ok(()) => self.dirty = false,
            Err(e) => eprintln!("warning: saving {}: {e}", path.display()),
        }
    }
}

/// The actions an incident calls for: block each adversary address, kill processes seen
/// executing or escalating, isolate a host seen talking to C2 or uploading once the
/// incident spans two stages or more.
pub fn proposals(inc: &Incident) -> Vec<Target> {
    let mut out = Vec::new();
    for a in &inc.adversaries {
        if a.is_unspecified() {
            continue;
        }
        out.push(Target::Block { cidr: Cidr { addr: *a, prefix: if a.is_ipv4() { 32 } else { 128 } } });
    }
    for f in &inc.findings {
        if let (Some(pid), Stage::Execution | Stage::PrivilegeEscalation | Stage::Persistence) = (f.pid, f.stage) {
            let t = Target::Kill { pid, start: start_ticks(pid).ok(), exe: f.exe.clone().unwrap_or_default() };
            if !out.iter().any(|x| matches!(x, Target::Kill { pid: p, .. } if *p == pid)) {
                out.push(t);
            }
        }
    }
    if inc.stages.len() >= 2 {
        for f in &inc.findings {
            if let (true, Some(host)) = (f.stage.adversary_is_destination(), f.src) {
                let t = Target::Isolate { host };
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
    }
    out
}
