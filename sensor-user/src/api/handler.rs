//! The requests the control socket answers, on the running sensor's governor:
//! `approvals`, `approve`, `deny`, `incidents`, `incident`, `feedback`, `block`, `unblock`,
//! `blocks`, `reload` and `status`. Every state-changing request records the peer's
//! identity (from `SO_PEERCRED`) in the audit log.

use std::{
    path::PathBuf,
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};

use super::{Handler, Peer};
use crate::{
    block::{Cidr, parse_ttl},
    respond::{config::GovernanceConfig, governor::Governor, wall_ns},
};

/// The governor shared by the decision thread and the control socket.
pub type SharedGovernor = Arc<Mutex<Governor>>;

/// Answers control requests on a governor.
pub struct GovernorApi {
    gov: SharedGovernor,
    policy: Option<PathBuf>,
    rules_reload: Option<RulesReload>,
}

/// Rebuilds the signature rule set and hands it to the pipeline; returns a summary line or
/// why the previous set stays in force.
pub type RulesReload = Box<dyn Fn() -> Result<String, String> + Send + Sync>;

impl GovernorApi {
    /// Serves `gov`; `policy` is the file `reload` reads (None: the embedded default).
    pub fn new(gov: SharedGovernor, policy: Option<PathBuf>) -> Self {
        Self { gov, policy, rules_reload: None }
    }

    /// Also serves `reload_rules` with `f`.
    pub fn with_rules_reload(mut self, f: RulesReload) -> Self {
        self.rules_reload = Some(f);
        self
    }
}

fn err(msg: impl std::fmt::Display) -> Value {
    json!({"ok": false, "error": msg.to_string()})
}

fn id_of(req: &Value, key: &str) -> Result<u64, Value> {
    req.get(key).and_then(Value::as_u64).ok_or_else(|| err(format!("missing or bad \"{key}\" (a number)")))
}

impl Handler for GovernorApi {
    fn handle(&self, peer: &Peer, req: Value) -> Value {
        let cmd = req.get("cmd").and_then(Value::as_str).unwrap_or("");
        let now = wall_ns();
        let who = peer.identity();
        if cmd == "reload_rules" {
            // Built outside the governor lock: a large rule set takes a moment.
            return match &self.rules_reload {
                None => err("this sensor runs no signature engine (start it with --rules)"),
                Some(f) => match f() {
                    Ok(summary) => json!({"ok": true, "summary": summary, "by": who}),
                    Err(e) => err(format!("{e}; the previous rule set stays in force")),
                },
            };
        }
        let Ok(mut gov) = self.gov.lock() else { return err("the governor stopped after a panic") };
        let r: Result<Value, Value> = (|| match cmd {
            "status" => Ok(json!({"ok": true, "stats": gov.stats, "policy_version": gov.config().version,
                "approvals": gov.approvals().count(), "blocks": gov.blocks().count(), "incidents": gov.incidents().count()})),
            "approvals" => Ok(json!({"ok": true, "approvals": gov.approvals().collect::<Vec<_>>(), "now_ns": now})),
            "approve" => {
                let id = id_of(&req, "id")?;
                let d = gov.approve(id, &who, now).map_err(err)?;
                Ok(json!({"ok": true, "decision": d}))
            }
            "deny" => {
                let id = id_of(&req, "id")?;
                let reason = req.get("reason").and_then(Value::as_str).unwrap_or("");
                let d = gov.deny(id, &who, reason, now).map_err(err)?;
                Ok(json!({"ok": true, "decision": d}))
            }
            "incidents" => Ok(json!({"ok": true, "incidents": gov.incidents().collect::<Vec<_>>()})),
            "incident" => {
                let id = id_of(&req, "id")?;
                let inc = gov.incident(id).ok_or_else(|| err(format!("no incident {id}")))?;
                Ok(json!({"ok": true, "incident": inc}))
            }
            "feedback" => {
                let id = id_of(&req, "incident")?;
                let tp = match req.get("label").and_then(Value::as_str) {
                    Some("true-positive" | "true_positive" | "tp") => true,
                    Some("false-positive" | "false_positive" | "fp") => false,
                    _ => return Err(err("label must be true-positive or false-positive")),
                };
                let note = req.get("note").and_then(Value::as_str).unwrap_or("");
                let suppress = match req.get("suppress").and_then(Value::as_str) {
                    Some(s) => parse_ttl(s).map_err(err)?,
                    None => None,
                };
                let summary = gov.feedback(id, tp, note, suppress, &who, now).map_err(err)?;
                Ok(json!({"ok": true, "summary": summary}))
            }
            "block" => {
                let cidr: Cidr = req.get("cidr").and_then(Value::as_str).unwrap_or("").parse().map_err(err)?;
                let ttl = parse_ttl(req.get("ttl").and_then(Value::as_str).unwrap_or("1h")).map_err(err)?;
                let ttl = ttl.ok_or_else(|| err("a block through the governor needs a TTL (at most 365d)"))?;
                let reason = req.get("reason").and_then(Value::as_str).unwrap_or("");
                gov.manual_block(cidr, ttl, reason, &who, now).map_err(err)?;
                Ok(json!({"ok": true, "cidr": cidr, "ttl_s": ttl.as_secs()}))
            }
            "unblock" => {
                let cidr: Cidr = req.get("cidr").and_then(Value::as_str).unwrap_or("").parse().map_err(err)?;
                let was = gov.manual_unblock(cidr, &who).map_err(err)?;
                Ok(json!({"ok": true, "cidr": cidr, "was_blocked": was}))
            }
            "blocks" => Ok(json!({"ok": true, "blocks": gov.blocks().collect::<Vec<_>>(), "now_ns": now})),
            "reload" => {
                let cfg = match &self.policy {
                    Some(p) => GovernanceConfig::load(p)
                        .map_err(|e| err(format!("{e}; the previous policy stays in force")))?,
                    None => GovernanceConfig::default_config(),
                };
                let version = cfg.version.clone();
                gov.reload(cfg, &who, now);
                Ok(json!({"ok": true, "policy_version": version}))
            }
            "" => Err(err("missing \"cmd\"")),
            other => Err(err(format!("unknown command {other:?}"))),
        })();
        if r.is_ok() && matches!(cmd, "approve" | "deny" | "feedback" | "block" | "unblock" | "reload") {
            gov.changes.bump();
        }
        r.unwrap_or_else(|e| e)
    }
}
