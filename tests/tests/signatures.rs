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
