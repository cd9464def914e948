//! The governor end to end on findings, with a recording actuator and a real audit log:
//! autonomous blocks with the TTL ladder, the allowlist, protected and critical assets,
//! approvals, feedback, loss-awareness, and a chain that verifies afterwards.

use std::{
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use sensor_common::block::BlockReason;

use super::{
    actuator::{ActError, Actuator, DryAction, DryRun},
    config::GovernanceConfig,
    decision::{Outcome, Target, Verdict},
    governor::{GovState, Governor},
};
use crate::{
    agents::finding::{Entities, Evidence, Finding, Severity},
    api::kill::KillOutcome,
    audit::{AuditWriter, verify},
    block::Cidr,
};

const POLICY: &str = r#"
version = "test-1"
[policy]
min_confidence = 0.2
[limits]
ttl_min = "1s"
ttl_ladder = ["10m", "1h", "24h", "7d"]
approval_expiry = "15m"
[[asset]]
name = "web"
match = ["10.9.0.1"]
criticality = 5
impact = 80.0
false_positive_cost = 10.0
[[asset]]
name = "buildsrv"
match = ["10.9.0.3"]
criticality = 9
impact = 100.0
false_positive_cost = 40.0
class = "critical"
[[asset]]
name = "vault"
match = ["10.9.0.4"]
criticality = 10
impact = 100.0
false_positive_cost = 100.0
protected = true
[allowlist]
never_block = ["10.9.0.254"]
"#;

#[derive(Clone, Default)]
struct Rec(Arc<Mutex<DryRun>>);

impl Rec {
    fn blocks(&self) -> Vec<(Cidr, Duration)> {
        let d = self.0.lock().expect("lock");
        d.actions.iter().filter_map(|a| if let DryAction::Block(c, t) = a { Some((*c, *t)) } else { None }).collect()
    }
}

impl Actuator for Rec {
    fn block(&mut self, cidr: Cidr, ttl: Duration, reason: BlockReason) -> Result<(), ActError> {
        self.0.lock().expect("lock").block(cidr, ttl, reason)
    }
    fn unblock(&mut self, cidr: Cidr) -> Result<bool, ActError> {
        self.0.lock().expect("lock").unblock(cidr)
    }
    fn isolate(&mut self, host: IpAddr, ttl: Duration, m: &[Cidr]) -> Result<(), ActError> {
        self.0.lock().expect("lock").isolate(host, ttl, m)
    }
    fn allow(&mut self, cidr: Cidr) -> Result<(), ActError> {
        self.0.lock().expect("lock").allow(cidr)
    }
    fn kill(&mut self, pid: u32, start: Option<u64>) -> Result<KillOutcome, ActError> {
        self.0.lock().expect("lock").kill(pid, start)
    }
    fn sweep(&mut self) -> Result<Vec<Cidr>, ActError> {
        self.0.lock().expect("lock").sweep()
    }
    fn holds(&mut self, cidr: Cidr, isolate: bool) -> Result<bool, ActError> {
        self.0.lock().expect("lock").holds(cidr, isolate)
    }
}

struct Fixture {
    gov: Governor,
    rec: Rec,
    dir: std::path::PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sensor-gov-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (audit, _) = AuditWriter::open(&dir.join("audit.jsonl"), None, false).expect("audit");
        let rec = Rec::default();
        let cfg = GovernanceConfig::parse(POLICY, "test.toml").expect("policy");
        let gov = Governor::new(cfg, Box::new(rec.clone()), Some(audit), GovState::default());
        Self { gov, rec, dir }
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.dir.join("audit.jsonl")).expect("audit log")
    }

    fn verifies(&self) -> bool {
        verify(&self.dir.join("audit.jsonl"), None).expect("verify").ok()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const S: u64 = 1_000_000_000;

fn scan(src: &str, dst: &str, conf: f32, ts_s: u64) -> Finding {
    let e = Entities { src: src.parse().ok(), dst: dst.parse().ok(), ..Entities::default() };
    Finding::new(
        "port_scan",
        "syn_scan",
        ts_s * S,
        conf,
        Severity::High,
        "T1046",
        e,
        Evidence::default(),
        "scan".into(),
    )
}

fn cidr(s: &str) -> Cidr {
    s.parse().expect("cidr")
}

#[test]
fn a_confident_scan_is_blocked_autonomously_and_a_repeat_offender_gets_the_next_ttl() {
    let mut fx = Fixture::new("ladder");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 10), 10 * S);
    assert_eq!(fx.rec.blocks(), vec![(cidr("10.9.0.2"), Duration::from_secs(600))]);
    let inc = fx.gov.incidents().next().expect("incident");
    let d = &inc.decisions[0];
    assert_eq!((d.verdict, d.outcome, d.offence, d.ttl_s), (Verdict::Contain, Outcome::Applied, Some(1), Some(600)));
    assert_eq!(d.rollback.as_deref(), Some("unblock 10.9.0.2/32"));
    // More findings while the block holds decide nothing new.
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 11), 11 * S);
    assert_eq!(fx.rec.blocks().len(), 1);
    // Lifted, then a new scan an hour later (a new incident): second offence, 1 h.
    fx.gov.manual_unblock(cidr("10.9.0.2"), "test").expect("unblock");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 7200), 7200 * S);
    assert_eq!(fx.rec.blocks()[1], (cidr("10.9.0.2"), Duration::from_secs(3600)));
    assert_eq!(fx.gov.incidents().count(), 2);
    assert!(fx.verifies());
}

#[test]
fn a_block_that_expires_is_audited_as_rolled_back_and_the_chain_verifies() {
    let mut fx = Fixture::new("expiry");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 10), 10 * S);
    assert_eq!(fx.rec.blocks().len(), 1);
    // Its TTL passes (the recorder's clock is the monotonic one: move the expiry instead).
    for b in &mut fx.rec.0.lock().expect("lock").live {
        b.1 = 0;
    }
    fx.gov.tick(700 * S);
    let log = fx.audit();
    let expiry = log.lines().find(|l| l.contains("\"kind\":\"expiry\"")).unwrap_or_else(|| panic!("{log}"));
    assert!(expiry.contains("\"cidr\":\"10.9.0.2/32\"") && expiry.contains("\"outcome\":\"rolled_back\""), "{expiry}");
    assert!(expiry.contains("\"action\":\"block\""), "{expiry}");
    assert!(fx.verifies());
}

#[test]
fn a_block_removed_behind_the_governors_back_is_restored_and_audited() {
    let mut fx = Fixture::new("tamper");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 10), 10 * S);
    assert_eq!(fx.gov.check_blocks(20 * S), 0, "intact: nothing to do");
    // Another process deletes the entry.
    fx.rec.0.lock().expect("lock").live.clear();
    assert_eq!(fx.gov.check_blocks(20 * S), 1);
    let blocks = fx.rec.blocks();
    assert_eq!(blocks.len(), 2, "written again");
    assert_eq!(blocks[1], (cidr("10.9.0.2"), Duration::from_secs(590)), "for the time it had left");
    let log = fx.audit();
    let t = log.lines().find(|l| l.contains("\"kind\":\"tamper\"")).unwrap_or_else(|| panic!("{log}"));
    assert!(t.contains("\"outcome\":\"restored\"") && t.contains("10.9.0.2/32"), "{t}");
    assert_eq!(fx.gov.check_blocks(21 * S), 0, "restored: intact again");
    assert!(fx.verifies());
}

#[test]
fn an_allowlisted_address_is_never_blocked_even_by_a_certain_incident() {
    let mut fx = Fixture::new("allow");
    fx.gov.on_finding(&scan("10.9.0.254", "10.9.0.1", 1.0, 1), S);
    assert!(fx.rec.blocks().is_empty());
    let d = &fx.gov.incidents().next().expect("incident").decisions[0];
    assert_eq!(d.outcome, Outcome::Refused);
    assert!(d.reasoning.iter().any(|r| r.contains("allowlist")), "{:?}", d.reasoning);
    assert!(fx.audit().contains("\"outcome\":\"refused\""));
    // The kernel is told too: the allowlist is written as allow entries.
    let acts = fx.rec.0.lock().expect("lock").actions.clone();
    assert!(acts.contains(&DryAction::Allow(cidr("10.9.0.254"))), "{acts:?}");
}

#[test]
fn an_action_on_a_protected_asset_is_forbidden_and_audited() {
    let mut fx = Fixture::new("protected");
    fx.gov.on_finding(&scan("10.9.0.4", "10.9.0.1", 1.0, 1), S);
    assert!(fx.rec.blocks().is_empty());
    let d = &fx.gov.incidents().next().expect("incident").decisions[0];
    assert_eq!(d.outcome, Outcome::Forbidden);
    assert!(d.reasoning.iter().any(|r| r.contains("vault is protected")), "{:?}", d.reasoning);
    assert!(fx.audit().contains("\"outcome\":\"forbidden\""));
    assert!(fx.verifies());
}

#[test]
fn an_action_on_a_critical_asset_waits_then_approve_applies_and_deny_does_not() {
    let mut fx = Fixture::new("approve");
    fx.gov.on_finding(&scan("10.9.0.3", "10.9.0.1", 0.95, 1), S);
    assert!(fx.rec.blocks().is_empty(), "nothing before approval");
    let p = fx.gov.approvals().next().expect("pending approval").clone();
    assert_eq!(p.decision.target, Target::Block { cidr: cidr("10.9.0.3") });
    assert_eq!(p.decision.outcome, Outcome::Pending);
    assert!(!p.evidence.is_empty());
    let d = fx.gov.approve(p.id, "alice (uid 0, pid 7)", 2 * S).expect("approve");
    assert_eq!(d.outcome, Outcome::Applied);
    assert_eq!(fx.rec.blocks(), vec![(cidr("10.9.0.3"), Duration::from_secs(600))]);
    assert!(fx.audit().contains("\"approver\":\"alice (uid 0, pid 7)\""));
    assert!(fx.gov.approve(p.id, "alice", 3 * S).is_err(), "an approval is used once");

    // A second critical source, denied.
    fx.gov.manual_unblock(cidr("10.9.0.3"), "test").expect("unblock");
    fx.gov.on_finding(&scan("10.9.0.3", "10.9.0.1", 0.95, 9000), 9000 * S);
    let p = fx.gov.approvals().next().expect("pending approval").clone();
    let d = fx.gov.deny(p.id, "bob (uid 0, pid 8)", "maintenance scan", 9001 * S).expect("deny");
    assert_eq!(d.outcome, Outcome::Denied);
    assert_eq!(fx.rec.blocks().len(), 1, "deny applies nothing");
    let log = fx.audit();
    assert!(log.contains("\"approver\":\"bob (uid 0, pid 8)\"") && log.contains("maintenance scan"));
    assert!(fx.verifies());
}

#[test]
fn pending_approvals_expire_unapplied() {
    let mut fx = Fixture::new("expire");
    fx.gov.on_finding(&scan("10.9.0.3", "10.9.0.1", 0.95, 1), S);
    assert_eq!(fx.gov.approvals().count(), 1);
    fx.gov.tick(S + 16 * 60 * S);
    assert_eq!(fx.gov.approvals().count(), 0);
    assert!(fx.rec.blocks().is_empty());
    assert!(fx.audit().contains("\"outcome\":\"expired\""));
}

#[test]
fn a_false_positive_lowers_the_next_decision_for_that_agent_and_entity_and_says_so() {
    let mut fx = Fixture::new("feedback");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 1), S);
    let first = fx.gov.incidents().next().expect("incident").decisions[0].clone();
    let summary = fx.gov.feedback(1, false, "our vulnerability scanner", None, "carol", 2 * S).expect("feedback");
    assert!(summary.contains("false_positive"), "{summary}");
    fx.gov.manual_unblock(cidr("10.9.0.2"), "test").expect("unblock");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 9000), 9000 * S);
    let inc = fx.gov.incidents().last().expect("second incident");
    let next = inc.decisions.first().expect("a decision");
    assert!(
        next.scores.confidence < first.scores.confidence * 0.6,
        "{} vs {}",
        next.scores.confidence,
        first.scores.confidence
    );
    assert!(next.reasoning.iter().any(|r| r.contains("1 false positive(s) on 10.9.0.2")), "{:?}", next.reasoning);
    // Another source is only slightly affected (the agent's precision), not halved.
    fx.gov.on_finding(&scan("10.9.0.7", "10.9.0.8", 0.95, 9001), 9001 * S);
    let other = fx.gov.incidents().last().expect("third incident");
    assert!(other.confidence > 0.8, "{}", other.confidence);
    assert!(fx.audit().contains("\"kind\":\"feedback\""));
}

#[test]
fn a_suppression_keeps_the_agents_findings_about_the_entity_out() {
    let mut fx = Fixture::new("suppress");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 1), S);
    fx.gov.feedback(1, false, "", Some(Duration::from_secs(3600)), "carol", 2 * S).expect("feedback");
    fx.gov.manual_unblock(cidr("10.9.0.2"), "test").expect("unblock");
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 10), 10 * S);
    assert_eq!(fx.gov.stats.suppressed, 1);
    assert_eq!(fx.rec.blocks().len(), 1);
}

#[test]
fn loss_above_the_limit_turns_autonomous_blocks_into_approvals() {
    let mut fx = Fixture::new("loss");
    fx.gov.set_loss_share(0.3);
    fx.gov.on_finding(&scan("10.9.0.2", "10.9.0.1", 0.95, 1), S);
    assert!(fx.rec.blocks().is_empty());
    let p = fx.gov.approvals().next().expect("escalated");
    assert!(p.decision.reasoning.iter().any(|r| r.contains("30.0% of events were lost")), "{:?}", p.decision.reasoning);
}

#[test]
fn manual_blocks_of_everything_loopback_or_allowlisted_are_refused() {
    let mut fx = Fixture::new("manual");
    for c in ["0.0.0.0/0", "::/0", "127.0.0.1", "10.9.0.254"] {
        let e = fx.gov.manual_block(cidr(c), Duration::from_secs(60), "x", "dave", S).expect_err(c);
        assert!(e.to_string().starts_with("refused"), "{e}");
    }
    assert!(fx.rec.blocks().is_empty());
    fx.gov.manual_block(cidr("10.9.0.9"), Duration::from_secs(60), "x", "dave", S).expect("block");
    assert_eq!(fx.rec.blocks().len(), 1);
    assert!(fx.verifies());
}
