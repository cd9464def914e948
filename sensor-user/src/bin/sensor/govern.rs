//! Governance in the binary: building the governor for `run` and `replay`, and the
//! commands that talk to it (`approvals`, `incidents`, `feedback`, `audit`, `policy`).
//! Commands go through the running sensor's control socket; `incidents` and `feedback`
//! fall back to the state file when no sensor runs.

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use sensor_user::{
    api::{ControlError, handler::SharedGovernor, request},
    audit::{self, AuditWriter},
    correlate::incident::Incident,
    respond::{
        actuator::{Actuator, DryRun},
        approvals::Pending,
        config::{GovernanceConfig, default_toml},
        decision::Decision,
        governor::Governor,
        state, wall_ns,
    },
};
use serde_json::{Value, json};

use crate::cli::{ApprovalsCmd, AuditCmd, GovernArgs, IncidentsCmd, LabelArg, PolicyCmd};

/// The control socket under `state_dir`.
pub fn socket_path(state_dir: &Path) -> PathBuf {
    state_dir.join("control.sock")
}

/// The governor state file under `state_dir`.
pub fn state_path(state_dir: &Path) -> PathBuf {
    state_dir.join("governor-state.json")
}

/// The audit log under `state_dir`.
pub fn audit_path(state_dir: &Path) -> PathBuf {
    state_dir.join("audit.jsonl")
}

/// Loads the policy the arguments name (or the default).
pub fn policy(args: &GovernArgs) -> Result<GovernanceConfig> {
    Ok(match &args.policy {
        Some(p) => GovernanceConfig::load(p)?,
        None => GovernanceConfig::default_config(),
    })
}

/// A governor acting through `actuator`, auditing to `audit_log` (when given), resuming
/// the state in `state_file` (when given).
pub fn build(
    args: &GovernArgs,
    actuator: Box<dyn Actuator>,
    audit_log: Option<&Path>,
    state_file: Option<&Path>,
    print: bool,
) -> Result<SharedGovernor> {
    let cfg = policy(args)?;
    let audit = match audit_log {
        Some(p) => {
            let key = args.audit_key.as_deref().map(audit::load_key).transpose()?;
            let (w, report) =
                AuditWriter::open(p, key, true).with_context(|| format!("opening the audit log {}", p.display()))?;
            if let Some(t) = &report.torn {
                eprintln!(
                    "warning: the audit log {} ended in a torn line ({} bytes after seq {}, line {}): saved to {} and recorded",
                    p.display(),
                    t.bytes,
                    t.after_seq,
                    t.line,
                    t.saved_to.display()
                );
            }
            Some(w)
        }
        None => None,
    };
    let st = match state_file {
        Some(p) => state::load(p).with_context(|| format!("reading the governor state {}", p.display()))?,
        None => Default::default(),
    };
    let version = cfg.version.clone();
    let mut gov = Governor::new(cfg, actuator, audit, st).printing(print);
    gov.state_path = state_file.map(Path::to_owned);
    eprintln!("governance: policy {version}");
    Ok(Arc::new(Mutex::new(gov)))
}

/// Sends `req` to the running sensor.
fn ask(state_dir: &Path, req: Value) -> Result<Value, ControlError> {
    request(&socket_path(state_dir), &req, Duration::from_secs(10))
}

/// The answer's payload, or its error as an error.
fn ok(v: Value) -> Result<Value> {
    if v.get("ok").and_then(Value::as_bool) == Some(true) {
        Ok(v)
    } else {
        bail!("{}", v.get("error").and_then(Value::as_str).unwrap_or("the sensor refused the request"))
    }
}

fn secs_left(expires_ns: u64, now_ns: u64) -> u64 {
    expires_ns.saturating_sub(now_ns) / 1_000_000_000
}

/// `sensor approvals ...`.
pub fn approvals(state_dir: &Path, what: &ApprovalsCmd) -> Result<()> {
    match what {
        ApprovalsCmd::List { json } => {
            let v = ok(ask(state_dir, json!({"cmd": "approvals"}))?)?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&v["approvals"])?);
                return Ok(());
            }
            let now = v["now_ns"].as_u64().unwrap_or_else(wall_ns);
            let list: Vec<Pending> = serde_json::from_value(v["approvals"].clone())?;
            if list.is_empty() {
                println!("no pending approvals");
            }
            for p in &list {
                let d = &p.decision;
                println!(
                    "approval {}: {} (incident {}, confidence {:.2}, asset {} class {}), expires in {}s",
                    p.id,
                    d.target.describe(),
                    d.incident,
                    d.scores.confidence,
                    if d.asset.is_empty() { "-" } else { &d.asset },
                    d.class,
                    secs_left(p.expires_ns, now)
                );
                for r in &d.reasoning {
                    println!("    why: {r}");
                }
                for e in &p.evidence {
                    println!("    evidence: {e}");
                }
            }
        }
        ApprovalsCmd::Approve { id } => {
            let v = ok(ask(state_dir, json!({"cmd": "approve", "id": id}))?)?;
            let d: Decision = serde_json::from_value(v["decision"].clone())?;
            println!("{}", d.line());
            if let Some(last) = d.reasoning.last() {
                println!("    {last}");
            }
        }
        ApprovalsCmd::Deny { id, reason } => {
            let v = ok(ask(state_dir, json!({"cmd": "deny", "id": id, "reason": reason}))?)?;
            let d: Decision = serde_json::from_value(v["decision"].clone())?;
            println!("{}", d.line());
        }
    }
    Ok(())
}

/// The incidents, from the running sensor or else the state file.
fn load_incidents(state_dir: &Path) -> Result<(Vec<Incident>, &'static str)> {
    match ask(state_dir, json!({"cmd": "incidents"})) {
        Ok(v) => Ok((serde_json::from_value(ok(v)?["incidents"].clone())?, "running sensor")),
        Err(ControlError::NotRunning { .. }) => {
            let p = state_path(state_dir);
            let st = state::load(&p).with_context(|| format!("reading {}", p.display()))?;
            Ok((st.incidents, "state file (no sensor running)"))
        }
        Err(e) => Err(e.into()),
    }
}

/// `sensor incidents [show ID] [--json]`.
pub fn incidents(state_dir: &Path, what: Option<&IncidentsCmd>, json_out: bool) -> Result<()> {
    let (list, from) = load_incidents(state_dir)?;
    if let Some(IncidentsCmd::Show { id, json }) = what {
        let inc = list.iter().find(|i| i.id == *id).with_context(|| format!("no incident {id} in the {from}"))?;
        if *json || json_out {
            println!("{}", serde_json::to_string_pretty(inc)?);
        } else {
            print!("{}", describe(inc));
        }
        return Ok(());
    }
    if json_out {
        println!("{}", serde_json::to_string_pretty(&list)?);
        return Ok(());
    }
    println!(
        "{:<5} {:<22} {:>5} {:>8}  {:<28} {:<18} LAST DECISION",
        "ID", "STAGE", "CONF", "FINDINGS", "AGENTS", "ADVERSARY"
    );
    for i in &list {
        let agents: Vec<&str> = i.agents.keys().map(String::as_str).collect();
        let adv = i.adversaries.iter().next().map(ToString::to_string).unwrap_or_else(|| "-".into());
        let last =
            i.decisions.last().map(|d| format!("{} {}", d.target.describe(), d.outcome.name())).unwrap_or_default();
        println!(
            "{:<5} {:<22} {:>5.2} {:>8}  {:<28} {:<18} {}",
            i.id,
            i.stage().map_or("-", |s| s.name()),
            i.confidence,
            i.findings_total,
            agents.join(","),
            adv,
            last
        );
    }
    println!("{} incident(s) from the {from}", list.len());
    Ok(())
}

/// An incident in words.
pub fn describe(i: &Incident) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(s, "{}", i.summary());
    let stages: Vec<&str> = i.stages.iter().map(|x| x.name()).collect();
    let _ = writeln!(s, "  stages: {}", stages.join(" > "));
    let _ = writeln!(s, "  techniques: {}", i.techniques.iter().cloned().collect::<Vec<_>>().join(", "));
    let _ = writeln!(s, "  confidence {:.2}: {}", i.confidence, i.confidence_note);
    for (name, a) in &i.agents {
        let _ = writeln!(s, "  agent {name}: {} finding(s), weight {:.2} ({})", a.count, a.weight, a.note);
    }
    let _ = writeln!(s, "  findings ({} total, {} suppressed; latest shown):", i.findings_total, i.suppressed);
    for f in &i.findings {
        let _ = writeln!(s, "    [{}] {} {} {:.2}: {}", f.stage.name(), f.agent, f.kind, f.confidence, f.reason);
    }
    for d in &i.decisions {
        let _ = writeln!(s, "  {}", d.line());
        for r in &d.reasoning {
            let _ = writeln!(s, "      {r}");
        }
    }
    for fb in &i.feedback {
        let _ = writeln!(s, "  feedback: {fb}");
    }
    s
}

/// `sensor feedback ID LABEL`.
pub fn feedback(state_dir: &Path, incident: u64, label: LabelArg, note: &str, suppress: Option<&str>) -> Result<()> {
    let label_s = if label == LabelArg::TruePositive { "true-positive" } else { "false-positive" };
    let req = json!({"cmd": "feedback", "incident": incident, "label": label_s, "note": note, "suppress": suppress});
    match ask(state_dir, req) {
        Ok(v) => {
            println!("{}", ok(v)?["summary"].as_str().unwrap_or(""));
            Ok(())
        }
        Err(ControlError::NotRunning { .. }) => {
            // No sensor: apply it to the state file, audited as the invoking user.
            let sp = state_path(state_dir);
            let gov = build(
                &GovernArgs::default(),
                Box::new(DryRun::default()),
                Some(&audit_path(state_dir)),
                Some(&sp),
                false,
            )?;
            let mut g = gov.lock().map_err(|_| anyhow::anyhow!("governor poisoned"))?;
            let dur = suppress.map(sensor_user::block::parse_ttl).transpose()?.flatten();
            let who = format!("uid {} (offline)", sensor_user::sys::euid());
            let summary = g.feedback(incident, label == LabelArg::TruePositive, note, dur, &who, wall_ns())?;
            g.save();
            println!("{summary} (written to {}; no sensor running)", sp.display());
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

/// `sensor audit ...`.
pub fn audit_cmd(state_dir: &Path, what: &AuditCmd) -> Result<()> {
    match what {
        AuditCmd::Verify { log, key } => {
            let path = log.clone().unwrap_or_else(|| audit_path(state_dir));
            let key = key.as_deref().map(audit::load_key).transpose()?;
            let r = audit::verify(&path, key.as_deref()).with_context(|| format!("reading {}", path.display()))?;
            for p in &r.problems {
                println!("line {}: {:?}: {}", p.line, p.kind, p.detail);
            }
            for line in &r.recoveries {
                println!("line {line}: recovery record (a torn line after a crash was set aside)");
            }
            if !r.ok() {
                bail!(
                    "{}: {} problem(s) in {} record(s): the audit chain does not verify",
                    path.display(),
                    r.problems.len(),
                    r.records
                );
            }
            println!(
                "{}: {} record(s), chain verified{}; last hash {}",
                path.display(),
                r.records,
                if r.keyed { " with HMAC" } else { "" },
                r.last_hash.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        AuditCmd::Show { log } => {
            let path = log.clone().unwrap_or_else(|| audit_path(state_dir));
            for (_, v) in audit::read_records(&path)? {
                println!("{v}");
            }
            Ok(())
        }
    }
}

/// `sensor policy ...`.
pub fn policy_cmd(state_dir: &Path, what: &PolicyCmd) -> Result<()> {
    match what {
        PolicyCmd::Check { file } => {
            let c = GovernanceConfig::load(file)?;
            println!(
                "{}: valid (version {}): {} asset(s), classes {}, {} allowlisted and {} management prefix(es)",
                file.display(),
                c.version,
                c.inventory.len(),
                c.authority.classes().collect::<Vec<_>>().join(", "),
                c.allowlist.never_block.len(),
                c.allowlist.management.len()
            );
        }
        PolicyCmd::Default => print!("{}", default_toml()),
        PolicyCmd::Reload => {
            let v = ok(ask(state_dir, json!({"cmd": "reload"}))?)?;
            println!("policy reloaded: version {}", v["policy_version"].as_str().unwrap_or("?"));
        }
    }
    Ok(())
}

/// Sends `req` to the running sensor: `Ok(None)` when none runs, the answer's payload
/// otherwise, an error when it refused.
pub fn control(state_dir: &Path, req: Value) -> Result<Option<Value>> {
    match ask(state_dir, req) {
        Ok(v) => ok(v).map(Some),
        Err(ControlError::NotRunning { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// `sensor rules reload`: the running sensor rebuilds its rule set and swaps it in.
pub fn rules_reload(state_dir: &Path) -> Result<()> {
    let v = ok(ask(state_dir, json!({"cmd": "reload_rules"}))?)?;
    println!("{}", v["summary"].as_str().unwrap_or("rules reloaded"));
    Ok(())
}
