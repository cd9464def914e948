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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        agents::finding::{Entities, Evidence, Finding, Severity},
        correlate::incident::FindingRecord,
    };

    fn incident() -> Incident {
        let src: std::net::IpAddr = "10.201.0.2".parse().expect("ip");
        let dst: std::net::IpAddr = "10.201.0.1".parse().expect("ip");
        let f = Finding::new(
            "port_scan",
            "syn_scan",
            1_796_670_000_000_000_000,
            0.52,
            Severity::Medium,
            "T1046",
            Entities { src: Some(src), dst: Some(dst), port: Some(22), ..Entities::default() },
            Evidence::default(),
            "10.201.0.2 probed 10 distinct ports <script>".into(),
        );
        let mut i = Incident::new(7, f.ts_ns, Severity::Medium);
        i.stages.insert(Stage::Recon);
        i.techniques.insert("T1046".into());
        i.adversaries.insert(src);
        i.targets.insert(dst);
        i.confidence = 0.52;
        i.findings_total = 1;
        i.findings.push(FindingRecord::of(&f, Stage::Recon));
        i
    }

    #[test]
    fn an_incident_is_a_detection_finding_with_its_attacks_evidence_and_observables() {
        let i = incident();
        let v = detection_finding(&i, 1_796_670_001_000_000_000, true, "gw1");
        assert_eq!(v["class_uid"], 2004);
        assert_eq!(v["category_uid"], 2);
        assert_eq!(v["activity_id"], 1);
        assert_eq!(v["type_uid"], 200401);
        assert_eq!(v["severity_id"], 3);
        assert_eq!(v["confidence_score"], 52);
        assert_eq!(v["time"], 1_796_670_001_000u64);
        assert_eq!(v["metadata"]["version"], OCSF_VERSION);
        assert_eq!(v["finding_info"]["uid"], "gw1:incident:7");
        assert_eq!(v["finding_info"]["attacks"][0]["technique"]["uid"], "T1046");
        assert_eq!(v["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0043");
        assert_eq!(v["evidences"][0]["src_endpoint"]["ip"], "10.201.0.2");
        assert_eq!(v["evidences"][0]["dst_endpoint"]["port"], 22);
        assert_eq!(v["observables"][0]["value"], "10.201.0.2");
        assert_eq!(v["disposition"], "Detected");
        // An update of the same incident.
        let u = detection_finding(&i, 1_796_670_002_000_000_000, false, "gw1");
        assert_eq!((u["activity_id"].as_u64(), u["type_uid"].as_u64()), (Some(2), Some(200402)));
        // Hostile text stays data.
        let mut out = Vec::new();
        write_line(&mut out, &v).expect("write");
        let line = String::from_utf8(out).expect("utf8");
        assert_eq!(line.lines().count(), 1);
        let back: Value = serde_json::from_str(&line).expect("valid JSON");
        assert!(back["evidences"][0]["data"]["reason"].as_str().is_some_and(|r| r.ends_with("<script>")));
    }
}
