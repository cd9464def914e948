//! A signature alert as a [`Finding`] for the correlator: the agent name is `sid:N` (so
//! analyst feedback calibrates each rule on its own), the confidence comes from the rule's
//! priority and its `confidence` metadata, the severity from its priority and
//! `signature_severity`, and the ATT&CK technique from `mitre_technique_id` metadata, else
//! from its classtype.

use std::{
    collections::HashSet,
    net::IpAddr,
    sync::{Mutex, OnceLock},
};

use super::ir::Signature;
use crate::agents::finding::{Entities, Evidence, Finding, Severity};

/// Interns `s` for the `&'static str` fields of a finding. Each distinct string is leaked
/// once (rule names and technique ids: a bounded set), so reloads do not grow memory.
pub fn intern(s: &str) -> &'static str {
    static SET: OnceLock<Mutex<HashSet<&'static str>>> = OnceLock::new();
    let set = SET.get_or_init(Default::default);
    let mut g = match set.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    };
    if let Some(v) = g.get(s) {
        return v;
    }
    let v: &'static str = Box::leak(s.to_owned().into_boxed_str());
    g.insert(v);
    v
}

/// The ATT&CK technique a classtype most often stands for ("" when it says nothing).
pub fn technique_of_class(class: &str) -> &'static str {
    match class {
        "trojan-activity" | "command-and-control" | "domain-c2" => "T1071",
        "web-application-attack" | "web-application-activity" => "T1190",
        "exploit-kit" | "attempted-user" | "successful-user" => "T1189",
        "attempted-recon" | "successful-recon-limited" | "successful-recon-largescale" | "network-scan" => "T1595",
        "attempted-admin" | "successful-admin" => "T1068",
        "shellcode-detect" => "T1203",
        "coin-mining" => "T1496",
        "attempted-dos" | "successful-dos" | "denial-of-service" => "T1499",
        "credential-theft" | "social-engineering" => "T1566",
        "suspicious-login" | "default-login-attempt" | "unsuccessful-user" => "T1110",
        _ => "",
    }
}

fn meta<'s>(sig: &'s Signature, key: &str) -> Option<&'s str> {
    sig.metadata.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Confidence of a rule's alert: 0.9 / 0.7 / 0.5 / 0.3 for priority 1 / 2 / 3 / 4+, scaled by
/// the rule's own `confidence` metadata (High 1.0, Medium 0.85, Low 0.6).
pub fn confidence(sig: &Signature) -> f32 {
    let base = match sig.priority {
        0 | 1 => 0.9,
        2 => 0.7,
        3 => 0.5,
        _ => 0.3,
    };
    let scale = match meta(sig, "confidence").map(str::to_ascii_lowercase).as_deref() {
        Some("high") => 1.0,
        Some("medium") => 0.85,
        Some("low") => 0.6,
        _ => 1.0,
    };
    base * scale
}

/// Severity of a rule's alert.
pub fn severity(sig: &Signature) -> Severity {
    match meta(sig, "signature_severity").map(str::to_ascii_lowercase).as_deref() {
        Some("critical") => return Severity::Critical,
        Some("major") => return Severity::High,
        _ => {}
    }
    match sig.priority {
        0 | 1 => Severity::High,
        2 => Severity::Medium,
        _ => Severity::Low,
    }
}

/// The finding of one alert. `src`/`dst` are the alerting packet's addresses; the acting
/// side is the source unless the rule's `target:src_ip` says the source is the victim.
#[allow(clippy::too_many_arguments, reason = "the alert's coordinates, each required")]
pub fn alert_finding(
    sig: &Signature,
    ts_ns: u64,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    flow_id: Option<u64>,
    host: Option<&[u8]>,
) -> Finding {
    let (actor, victim, port) = if sig.target_dest == Some(false) { (dst, src, sport) } else { (src, dst, dport) };
    let technique = match sig.mitre.first() {
        Some(t) => intern(t),
        None => technique_of_class(sig.classtype.as_deref().unwrap_or("")),
    };
    let entities = Entities {
        src: Some(actor),
        dst: Some(victim),
        port: Some(port),
        host: host.filter(|h| !h.is_empty()).map(|h| String::from_utf8_lossy(h).into_owned()),
        ..Entities::default()
    };
    let evidence = Evidence {
        flow_ids: flow_id.into_iter().collect(),
        observed: 1.0,
        threshold: 1.0,
        window_s: 0.0,
        count: 1,
        measure: "signature match",
    };
    let agent = intern(&format!("sid:{}", sig.sid));
    let reason = format!(
        "[{}:{}:{}] {} ({})",
        sig.gid,
        sig.sid,
        sig.rev,
        sig.msg,
        sig.category.as_deref().unwrap_or("no class")
    );
    Finding::new(agent, "signature", ts_ns, confidence(sig), severity(sig), technique, entities, evidence, reason)
}
