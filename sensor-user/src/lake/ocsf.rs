//! Incidents as OCSF Detection Finding events (class 2004, OCSF 1.3), one JSON line each
//! time an incident is opened (activity Create) or changes (Update), beside eve.json, so
//! SIEMs that speak OCSF (Security Lake, Splunk, Sentinel connectors) take them unchanged.

use std::{collections::BTreeSet, io::Write};

use serde_json::{Value, json};

use crate::{correlate::incident::Incident, correlate::stage::Stage, respond::decision::Outcome};

/// The OCSF schema version written.
pub const OCSF_VERSION: &str = "1.3.0";

/// The ATT&CK tactic (uid, name) of a stage.
pub fn tactic(s: Stage) -> (&'static str, &'static str) {
    match s {
        Stage::Recon => ("TA0043", "Reconnaissance"),
        Stage::InitialAccess => ("TA0001", "Initial Access"),
        Stage::Execution => ("TA0002", "Execution"),
        Stage::Persistence => ("TA0003", "Persistence"),
        Stage::PrivilegeEscalation => ("TA0004", "Privilege Escalation"),
        Stage::DefenseEvasion => ("TA0005", "Defense Evasion"),
        Stage::CredentialAccess => ("TA0006", "Credential Access"),
        Stage::LateralMovement => ("TA0008", "Lateral Movement"),
        Stage::Collection => ("TA0009", "Collection"),
        Stage::CommandAndControl => ("TA0011", "Command and Control"),
        Stage::Exfiltration => ("TA0010", "Exfiltration"),
        Stage::Impact => ("TA0040", "Impact"),
    }
}

fn severity_id(name: &str) -> u8 {
    match name {
        "info" | "informational" => 1,
        "low" => 2,
        "medium" => 3,
        "high" => 4,
        "critical" => 5,
        _ => 0,
    }
}

/// One Detection Finding for incident `i` at wall time `now_ns`; `created` selects the
/// activity (Create for a new incident, Update otherwise).
pub fn detection_finding(i: &Incident, now_ns: u64, created: bool, host: &str) -> Value {
    let ms = |ns: u64| ns / 1_000_000;
    let activity_id = if created { 1 } else { 2 };
    let sev = i.severity.name();
    let mut attacks = Vec::new();
    let mut seen = BTreeSet::new();
    for f in &i.findings {
        if f.technique.is_empty() || !seen.insert((f.technique.clone(), f.stage)) {
            continue;
        }
        let (tuid, tname) = tactic(f.stage);
        attacks.push(json!({
            "technique": {"uid": f.technique},
            "tactic": {"uid": tuid, "name": tname},
            "version": "15",
        }));
    }
    let evidences: Vec<Value> = i
        .findings
        .iter()
        .rev()
        .take(16)
        .map(|f| {
            let mut e = serde_json::Map::new();
            if let Some(a) = f.src {
                e.insert("src_endpoint".into(), json!({"ip": a.to_string()}));
            }
            match (f.dst, f.port) {
                (Some(a), Some(p)) => e.insert("dst_endpoint".into(), json!({"ip": a.to_string(), "port": p})),
                (Some(a), None) => e.insert("dst_endpoint".into(), json!({"ip": a.to_string()})),
                _ => None,
            };
            if let Some(pid) = f.pid {
                let mut p = json!({"pid": pid});
                if let Some(exe) = &f.exe {
                    p["file"] = json!({"path": exe, "name": exe.rsplit('/').next().unwrap_or(exe), "type_id": 1});
                }
                e.insert("process".into(), p);
            }
            if let Some(u) = &f.user {
                e.insert("actor".into(), json!({"user": {"name": u}}));
            }
            e.insert(
                "data".into(),
                json!({"agent": f.agent, "kind": f.kind, "confidence": f.confidence, "reason": f.reason}),
            );
            Value::Object(e)
        })
        .collect();
    let mut observables = Vec::new();
    for a in &i.adversaries {
        observables.push(json!({"name": "src_endpoint.ip", "type_id": 2, "type": "IP Address", "value": a.to_string(), "reputation": {"score_id": 0}}));
    }
    for a in &i.targets {
        observables
            .push(json!({"name": "dst_endpoint.ip", "type_id": 2, "type": "IP Address", "value": a.to_string()}));
    }
    let blocked = i.decisions.iter().any(|d| d.outcome == Outcome::Applied);
    let stages: Vec<&str> = i.stages.iter().map(Stage::name).collect();
    let remediation: Vec<String> = i.decisions.iter().map(|d| d.line()).collect();
    json!({
        "activity_id": activity_id,
        "activity_name": if created { "Create" } else { "Update" },
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": 2004,
        "class_name": "Detection Finding",
        "type_uid": 200400 + activity_id,
        "type_name": format!("Detection Finding: {}", if created { "Create" } else { "Update" }),
        "time": ms(now_ns),
        "severity_id": severity_id(sev),
        "severity": sev,
        "status_id": 1,
        "status": "New",
        "confidence_score": (i.confidence * 100.0).round() as i64,
        "message": i.summary(),
        "action_id": if blocked { 2 } else { 0 },
        "action": if blocked { "Denied" } else { "Unknown" },
        "disposition_id": if blocked { 2 } else { 15 },
        "disposition": if blocked { "Blocked" } else { "Detected" },
        "finding_info": {
            "uid": format!("{host}:incident:{}", i.id),
            "title": i.summary(),
            "desc": i.confidence_note,
            "types": stages,
            "created_time": ms(i.first_ns),
            "first_seen_time": ms(i.first_ns),
            "last_seen_time": ms(i.last_ns),
            "modified_time": ms(now_ns),
            "attacks": attacks,
            "analytic": {"name": "sensor correlator", "type_id": 1, "type": "Rule", "uid": "correlate"},
            "related_events_count": i.findings_total,
            "product_uid": "sensor",
        },
        "evidences": evidences,
        "observables": observables,
        "remediation": {"desc": remediation.join("; ")},
        "device": {"hostname": host, "type_id": 0},
        "metadata": {
            "version": OCSF_VERSION,
            "product": {"name": "sensor", "vendor_name": "sensor project", "version": env!("CARGO_PKG_VERSION")},
            "uid": format!("{host}:incident:{}:{}", i.id, now_ns),
            "logged_time": ms(now_ns),
        },
    })
}

/// Writes one finding per line.
pub fn write_line(out: &mut impl Write, v: &Value) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, v)?;
    out.write_all(b"\n")
}
