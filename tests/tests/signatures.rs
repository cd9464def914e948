//! The signature engine end to end: Suricata's own regression tests (suricata-verify, the
//! DEV split in ../shared/data) replayed through `sensor replay --rules`, each test's
//! expected alert counts compared, and the ET Open rule set loaded by `sensor rules check`.

use std::process::Command;

use tests::{replay::data_dir, sensor_bin};

fn full_suite() -> bool {
    std::env::var("SENSOR_REQUIRE_PRIVILEGED").as_deref() == Ok("1")
}

/// Runs tests/scripts/suricata_verify.py: one line per test (PASS / FAIL / EXCLUDED with the
/// reason) and a summary; the script fails when fewer than 90% of the supported tests pass.
#[test]
fn suricata_verify_alert_counts() {
    let Some(data) = data_dir() else {
        assert!(!full_suite(), "../shared/data is required by the full suite");
        eprintln!("skipped: no ../shared/data");
        return;
    };
    let bin = sensor_bin();
    if !bin.is_file() {
        assert!(!full_suite(), "the sensor binary is required by the full suite");
        eprintln!("skipped: no sensor binary at {}", bin.display());
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/suricata_verify.py");
    let out = Command::new("python3")
        .arg(script)
        .arg("--sensor")
        .arg(&bin)
        .arg("--data")
        .arg(data.join("suricata-verify"))
        .arg("--min-pass")
        .arg("0.90")
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    eprintln!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "suricata-verify pass rate below 90% (see the summary line)");
    assert!(stdout.contains("suricata-verify:"), "no summary line");
}

/// ET Open loads: at least 95% of its enabled rules, no syntax errors.
#[test]
fn et_open_loads() {
    let Some(data) = data_dir() else {
        assert!(!full_suite(), "../shared/data is required by the full suite");
        return;
    };
    let bin = sensor_bin();
    if !bin.is_file() {
        assert!(!full_suite(), "the sensor binary is required by the full suite");
        return;
    }
    let out = Command::new(&bin)
        .args(["rules", "check", "--json"])
        .arg(data.join("rules/et-open"))
        .output()
        .expect("sensor runs");
    assert!(out.status.success(), "rules check failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    let loaded = v["loaded"].as_u64().unwrap_or(0);
    let skipped = v["skipped"].as_array().map_or(0, Vec::len) as u64;
    let errors = v["errors"].as_array().map_or(0, Vec::len) as u64;
    let total = loaded + skipped + errors;
    println!("ET Open: {loaded} of {total} loaded, {skipped} skipped, {errors} errors");
    println!("skip reasons: {}", v["skip_summary"]);
    assert_eq!(errors, 0, "errors: {}", v["errors"]);
    assert!(loaded * 100 >= total * 95, "only {loaded} of {total} loaded");
}

fn tmpdir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("sensor-sig-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

/// A real HTTP check-in (suricata-verify bug-28: handshake, one GET retransmitted four
/// times): sticky buffers, classtype and metadata in the eve record, flowbits with noalert,
/// (the setter runs before the checker on the same packet), a threshold limit over the
/// retransmissions, case sensitivity, and the alert reaching the
/// correlator as a `sid:N` finding.
#[test]
fn alerts_on_a_real_http_checkin() {
    let (Some(data), bin) = (data_dir(), sensor_bin()) else {
        assert!(!full_suite(), "../shared/data is required by the full suite");
        return;
    };
    if !bin.is_file() {
        assert!(!full_suite(), "the sensor binary is required by the full suite");
        return;
    }
    let dir = tmpdir("checkin");
    let rules = dir.join("test.rules");
    std::fs::write(
        &rules,
        r#"alert http $HOME_NET any -> $EXTERNAL_NET any (msg:"check-in uri"; flow:established,to_server; http.uri; content:"ROUTINE_CHECKIN"; http.host; content:"btgrab.com"; endswith; classtype:trojan-activity; metadata:mitre_technique_id T1071, confidence High; sid:1000001; rev:3;)
alert tcp any any -> any 80 (msg:"GET seen"; flow:to_server; content:"GET /a/"; depth:7; flowbits:set,seen.get; flowbits:noalert; sid:1000002; rev:1;)
alert tcp any any -> any 80 (msg:"payload after GET"; flow:established,to_server; content:"Drk.syn"; flowbits:isset,seen.get; threshold:type limit, track by_src, count 1, seconds 600; sid:1000003; rev:1;)
alert http any any -> any any (msg:"wrong case"; http.uri; content:"routine_checkin"; sid:1000004; rev:1;)
"#,
    )
    .expect("rules");
    // The same alerts whichever prefilter matcher runs.
    for mpm in ["hs", "ac"] {
        checkin_alerts(&bin, &data, &dir, &rules, mpm);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// One replay of the check-in capture with matcher `mpm`, and the alerts, counters and
/// finding it must give.
fn checkin_alerts(
    bin: &std::path::Path,
    data: &std::path::Path,
    dir: &std::path::Path,
    rules: &std::path::Path,
    mpm: &str,
) {
    let eve = dir.join(format!("eve-{mpm}.json"));
    let incidents = dir.join(format!("incidents-{mpm}.json"));
    let out = Command::new(bin)
        .arg("replay")
        .arg(data.join("suricata-verify/tests/bug-28/input.pcap"))
        .arg("--rules")
        .arg(rules)
        .arg("--eve")
        .arg(&eve)
        .arg("--incidents")
        .arg(&incidents)
        .args(["--no-progress", "--quiet", "--mpm", mpm])
        .output()
        .expect("sensor runs");
    assert!(out.status.success(), "replay failed: {}", String::from_utf8_lossy(&out.stderr));
    let records: Vec<serde_json::Value> = std::fs::read_to_string(&eve)
        .expect("eve")
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .collect();
    let alerts: Vec<&serde_json::Value> = records.iter().filter(|r| r["event_type"] == "alert").collect();
    let stats = records.iter().rfind(|r| r["event_type"] == "stats").expect("a stats record");
    let detect = &stats["stats"]["detect"];
    assert_eq!(detect["alert"], alerts.len() as u64, "{mpm}: the detect counters count the alerts: {detect}");
    assert_eq!(detect["prefilter_errors"], 0, "{mpm}: {detect}");
    assert!(detect["packets"].as_u64().unwrap_or(0) > 0, "{mpm}: {detect}");
    let by = |sid: u64| alerts.iter().filter(|a| a["alert"]["signature_id"] == sid).collect::<Vec<_>>();
    let a = by(1_000_001);
    assert_eq!(a.len(), 1, "{mpm}: one alert for the transaction: {alerts:?}");
    let a = a[0];
    assert_eq!(a["alert"]["rev"], 3);
    assert_eq!(a["alert"]["signature"], "check-in uri");
    assert_eq!(a["alert"]["category"], "A Network Trojan was detected");
    assert_eq!(a["alert"]["severity"], 1);
    assert_eq!(a["alert"]["metadata"]["mitre_technique_id"][0], "T1071");
    assert_eq!(a["app_proto"], "http");
    assert_eq!(a["direction"], "to_server");
    assert_eq!(a["src_ip"], "192.168.2.7");
    assert_eq!(a["dest_port"], 80);
    assert!(a["flow_id"].as_u64().is_some());
    assert!(by(1_000_002).is_empty(), "noalert rules do not alert");
    assert_eq!(by(1_000_003).len(), 1, "the threshold limits five matching packets to one alert");
    assert!(by(1_000_004).is_empty(), "content without nocase is case-sensitive");
    let inc = std::fs::read_to_string(&incidents).expect("incidents");
    assert!(inc.contains("\"sid:1000001\""), "the alert reached the correlator as a finding: {inc}");
}

/// Malformed rules each give file:line and a reason while the other rules load; the check
/// fails only because of syntax errors.
#[test]
fn bad_rules_are_reported_with_their_line_and_the_rest_load() {
    let bin = sensor_bin();
    if !bin.is_file() {
        assert!(!full_suite(), "the sensor binary is required by the full suite");
        return;
    }
    let dir = tmpdir("bad");
    let rules = dir.join("bad.rules");
    std::fs::write(
        &rules,
        r#"alert tcp any any -> any any (msg:"good"; content:"abc"; sid:1;)
alert tcp any any -> any any (msg:"unterminated; content:"abc"; sid:2;)
alert tcp any any -> any any (msg:"bad hex"; content:"|4g|"; sid:3;)
alert tcp $NO_SUCH_NET any -> any any (msg:"unknown var"; content:"abc"; sid:4;)
alert tcp any any -> any any (msg:"duplicate"; content:"xyz"; sid:1;)
alert tcp any any -> any any (msg:"absurd depth"; content:"abc"; depth:70000; sid:6;)
alert smtp any any -> any any (msg:"unsupported protocol"; content:"abc"; sid:7;)
alert tcp any any -> any any (msg:"pcre"; pcre:"/(a+)+$/"; sid:8;)
"#,
    )
    .expect("rules");
    let out = Command::new(&bin).args(["rules", "check", "--json"]).arg(&rules).output().expect("sensor runs");
    assert!(!out.status.success(), "syntax errors make the check fail");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(v["loaded"], 2, "the good rule and the pcre one load: {v}");
    let errors = v["errors"].as_array().expect("errors");
    let lines: Vec<String> = errors.iter().map(|e| e["origin"].as_str().unwrap_or("").to_owned()).collect();
    for line in [2, 3, 4, 5, 6] {
        assert!(lines.iter().any(|o| o.ends_with(&format!("bad.rules:{line}"))), "line {line} reported: {lines:?}");
    }
    assert!(errors.iter().all(|e| !e["reason"].as_str().unwrap_or("").is_empty()));
    let skipped = v["skipped"].as_array().expect("skipped");
    assert_eq!(skipped.len(), 1, "smtp is skipped, not an error: {v}");
    assert!(skipped[0]["reason"].as_str().unwrap_or("").contains("smtp"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// A threshold.config's bad lines are errors with file:line; its good entries apply: a
/// suppressed source raises no alert and a rate filter turns later matches into drops,
/// reported as `blocked` under --simulate-ips.
#[test]
fn threshold_file_entries_apply_and_bad_ones_are_reported() {
    let bin = sensor_bin();
    if !bin.is_file() {
        assert!(!full_suite(), "the sensor binary is required by the full suite");
        return;
    }
    let Some(data) = data_dir().map(|d| d.join("suricata-verify/tests/http-all-headers/input.pcap")) else {
        assert!(!full_suite(), "../shared/data is required by the full suite");
        return;
    };
    if !data.is_file() {
        assert!(!full_suite(), "suricata-verify data is required by the full suite");
        return;
    }
    let dir = tmpdir("threshold");
    let rules = dir.join("t.rules");
    std::fs::write(
        &rules,
        "alert tcp any any -> any any (msg:\"every packet\"; sid:1;)\nalert http any any -> any any (msg:\"http\"; sid:2;)\n",
    )
    .expect("rules");
    let tf = dir.join("threshold.config");
    std::fs::write(
        &tf,
        "suppress gen_id 1, sig_id 1, track by_src, ip 145.254.160.237\n\
         rate_filter gen_id 1, sig_id 2, track by_rule, count 1, seconds 60, new_action drop, timeout 100\n\
         suppress gen_id 1, sig_id 1, track sideways, ip 1.2.3.4\n",
    )
    .expect("threshold file");
    let out = Command::new(&bin)
        .args(["rules", "check", "--json", "--threshold-file"])
        .arg(&tf)
        .arg(&rules)
        .output()
        .expect("sensor runs");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json report");
    assert_eq!(v["loaded"], 2, "{v}");
    assert_eq!(v["threshold_entries"], 2, "{v}");
    let errors = v["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{v}");
    assert!(errors[0]["origin"].as_str().unwrap_or("").ends_with("threshold.config:3"), "{v}");

    let good = dir.join("good.config");
    let text = std::fs::read_to_string(&tf).expect("read");
    std::fs::write(&good, text.lines().take(2).collect::<Vec<_>>().join("\n")).expect("write");
    let eve = dir.join("eve.json");
    let out = Command::new(&bin)
        .args([
            "replay",
            "--no-agents",
            "--no-govern",
            "--no-progress",
            "--quiet",
            "--types",
            "alert",
            "--simulate-ips",
        ])
        .arg(&data)
        .arg("--rules")
        .arg(&rules)
        .arg("--threshold-file")
        .arg(&good)
        .arg("--eve")
        .arg(&eve)
        .output()
        .expect("replay runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts: Vec<serde_json::Value> = std::fs::read_to_string(&eve)
        .expect("eve")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|r: &serde_json::Value| r["event_type"] == "alert")
        .collect();
    let of = |sid: u64| alerts.iter().filter(|a| a["alert"]["signature_id"] == sid).collect::<Vec<_>>();
    assert!(!of(1).is_empty());
    assert!(of(1).iter().all(|a| a["src_ip"] != "145.254.160.237"), "the suppressed source raised no alert");
    let http: Vec<&str> = of(2).iter().map(|a| a["alert"]["action"].as_str().unwrap_or("")).collect();
    assert_eq!(http, ["allowed", "blocked"], "one allowed match, then the rate filter drops the flow");
    let _ = std::fs::remove_dir_all(&dir);
}
