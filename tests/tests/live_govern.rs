//! Tier 4, governed containment live: the sensor runs on one end of a veth pair with a
//! test policy while the peer namespace scans it from several addresses. A scan from an
//! ordinary address is blocked in XDP on its own (later packets dropped and counted, no
//! replies), the block expires at its TTL, and the repeat offender gets the next, longer
//! TTL; an allowlisted scanner is never blocked. A scan from a critical asset waits for
//! approval: approved through the control socket it is applied, denied it is not, and the
//! audit log records who decided and verifies, until one byte of it is changed. A sensor
//! killed with SIGKILL while a block is in force finds the pinned block map at restart,
//! expires the block at its TTL and keeps an audit chain that verifies.

use std::{
    path::Path,
    time::{Duration, Instant},
};

use tests::{ADDR_A, NetPair, PinDir, SensorProcess, TempDir, privileged, sensor_cli};

const POLICY: &str = r#"
version = "live-test"
[limits]
ttl_min = "1s"
ttl_ladder = ["4s", "8s", "1h"]
approval_expiry = "2m"
[[asset]]
name = "buildsrv"
match = ["10.201.0.3", "10.201.0.5"]
criticality = 9
impact = 100.0
false_positive_cost = 40.0
class = "critical"
[allowlist]
never_block = ["10.201.0.4"]
"#;

/// Whether a ping from `src` gets an answer.
fn answers(net: &NetPair, src: &str) -> bool {
    NetPair::command(&net.ns_b, "ping")
        .args(["-c", "2", "-i", "0.2", "-W", "1", "-I", src, ADDR_A])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn wait_line(sensor: &SensorProcess, timeout: Duration, pred: impl Fn(&str) -> bool) -> Option<String> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if let Some(l) = sensor.stderr().lines().find(|l| pred(l)) {
            return Some(l.to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn start(net: &NetPair, pins: &PinDir, state: &Path) -> SensorProcess {
    let policy = state.join("policy.toml");
    std::fs::write(&policy, POLICY).expect("policy");
    let mut cmd = NetPair::command(&net.ns_a, tests::sensor_bin());
    cmd.arg("--pin-dir").arg(&pins.path).arg("--state-dir").arg(state).args([
        "run",
        "--iface",
        &net.if_a,
        "--no-tracepoints",
        "--agents",
        "port_scan",
        "--agent-state",
    ]);
    cmd.arg(state.join("agents.json")).arg("--policy").arg(&policy);
    SensorProcess::spawn(cmd, false)
}

fn drops(pins: &PinDir) -> u64 {
    tests::status(&pins.path)["drop_blocked_v4"].as_u64().unwrap_or(0)
}

fn cli(state: &Path, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["--state-dir", state.to_str().expect("utf8")];
    all.extend_from_slice(args);
    sensor_cli(&all)
}

#[test]
fn a_scan_is_blocked_alone_expires_at_its_ttl_and_a_repeat_offender_gets_a_longer_one() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    net.add_addr(true, "10.201.0.4");
    let pins = PinDir::new();
    let state = TempDir::new("govern-");
    let sensor = start(&net, &pins, &state.0);
    const SCANNER: &str = "10.201.0.2";
    assert!(answers(&net, SCANNER), "the peer answers before any block");

    net.scan(Some(SCANNER), ADDR_A, 2000);
    let line = wait_line(&sensor, Duration::from_secs(15), |l| l.contains("block 10.201.0.2/32 -> applied"))
        .unwrap_or_else(|| panic!("no autonomous block; sensor stderr:\n{}", sensor.stderr()));
    assert!(line.contains("(contain, authority autonomous)"), "{line}");
    let before = drops(&pins);
    assert!(!answers(&net, SCANNER), "blocked: no replies");
    assert!(drops(&pins) > before, "the XDP program counted the drops");
    let (ok, out, err) = cli(&state.0, &["incidents"]);
    assert!(ok && out.contains("recon") && out.contains(SCANNER), "{out}{err}");

    // The first offence's TTL is 4 s: it expires and traffic passes again.
    wait_line(&sensor, Duration::from_secs(10), |l| l.contains("expired block 10.201.0.2/32"))
        .unwrap_or_else(|| panic!("block did not expire; sensor stderr:\n{}", sensor.stderr()));
    assert!(answers(&net, SCANNER), "the expired block lets packets pass");

    // The second offence gets the second step of the ladder.
    net.scan(Some(SCANNER), ADDR_A, 3000);
    let (ok, out, _) = cli(&state.0, &["incidents", "--json"]);
    assert!(ok);
    let t0 = Instant::now();
    let mut second = None;
    while t0.elapsed() < Duration::from_secs(15) && second.is_none() {
        let (_, out, _) = cli(&state.0, &["incidents", "--json"]);
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        second = v
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|i| i["decisions"].as_array().cloned().unwrap_or_default())
            .find(|d| d["offence"].as_u64() == Some(2) && d["target"]["cidr"] == "10.201.0.2/32");
        std::thread::sleep(Duration::from_millis(200));
    }
    let second = second.unwrap_or_else(|| panic!("no second offence: {out}\n{}", sensor.stderr()));
    assert_eq!(second["ttl_s"].as_u64(), Some(8), "{second}");
    assert!(!answers(&net, SCANNER));

    // An allowlisted scanner is never blocked, whatever the confidence.
    net.scan(Some("10.201.0.4"), ADDR_A, 4000);
    wait_line(&sensor, Duration::from_secs(15), |l| l.contains("block 10.201.0.4/32 -> refused"))
        .unwrap_or_else(|| panic!("no refusal for the allowlisted scanner; stderr:\n{}", sensor.stderr()));
    assert!(answers(&net, "10.201.0.4"), "the allowlisted address still passes");
}

#[test]
fn a_block_of_a_critical_asset_waits_for_approval_and_the_audit_log_names_the_approver() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    net.add_addr(true, "10.201.0.3");
    net.add_addr(true, "10.201.0.5");
    let pins = PinDir::new();
    let state = TempDir::new("govern-");
    let sensor = start(&net, &pins, &state.0);

    net.scan(Some("10.201.0.3"), ADDR_A, 2000);
    wait_line(&sensor, Duration::from_secs(15), |l| l.contains("block 10.201.0.3/32 -> pending"))
        .unwrap_or_else(|| panic!("no pending approval; sensor stderr:\n{}", sensor.stderr()));
    assert!(answers(&net, "10.201.0.3"), "nothing is applied before approval");
    let (ok, out, err) = cli(&state.0, &["approvals", "list", "--json"]);
    assert!(ok, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let pending = list.as_array().and_then(|a| a.first()).cloned().expect("one approval");
    assert_eq!(pending["decision"]["target"]["cidr"], "10.201.0.3/32");
    assert_eq!(pending["decision"]["class"], "critical");
    let id = pending["id"].as_u64().expect("id").to_string();
    let (ok, out, err) = cli(&state.0, &["approvals", "approve", &id]);
    assert!(ok && out.contains("applied") && out.contains("by root (uid 0"), "{out}{err}");
    assert!(!answers(&net, "10.201.0.3"), "approved: blocked");

    net.scan(Some("10.201.0.5"), ADDR_A, 3000);
    wait_line(&sensor, Duration::from_secs(15), |l| l.contains("block 10.201.0.5/32 -> pending"))
        .unwrap_or_else(|| panic!("no second approval; sensor stderr:\n{}", sensor.stderr()));
    let (_, out, _) = cli(&state.0, &["approvals", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&out).expect("json");
    let id = list[0]["id"].as_u64().expect("id").to_string();
    let (ok, out, err) = cli(&state.0, &["approvals", "deny", &id, "--reason", "scheduled inventory scan"]);
    assert!(ok && out.contains("denied"), "{out}{err}");
    assert!(answers(&net, "10.201.0.5"), "denied: not blocked");
    assert!(!cli(&state.0, &["approvals", "approve", &id]).0, "a denied approval cannot be approved");

    // The audit log names both decisions' approver and verifies; one changed byte breaks it.
    let log = state.0.join("audit.jsonl");
    let text = std::fs::read_to_string(&log).expect("audit log");
    assert!(text.matches("\"approver\":\"root (uid 0").count() >= 2, "{text}");
    assert!(text.contains("scheduled inventory scan"));
    let (ok, out, err) = cli(&state.0, &["audit", "verify"]);
    assert!(ok && out.contains("chain verified"), "{out}{err}");
    let mut bytes = std::fs::read(&log).expect("read");
    let at = bytes.iter().position(|b| *b == b'\n').expect("a line") + 20;
    bytes[at] ^= 0x01;
    std::fs::write(&log, &bytes).expect("write");
    let (ok, out, _) = cli(&state.0, &["audit", "verify"]);
    assert!(!ok && out.contains("line 2"), "{out}");
}

#[test]
fn after_sigkill_a_restart_finds_the_pinned_block_expires_it_and_the_audit_chain_verifies() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let state = TempDir::new("govern-kill-");
    let first = start(&net, &pins, &state.0);
    const SCANNER: &str = "10.201.0.2";
    net.scan(Some(SCANNER), ADDR_A, 5000);
    wait_line(&first, Duration::from_secs(15), |l| l.contains("block 10.201.0.2/32 -> applied"))
        .unwrap_or_else(|| panic!("no block; sensor stderr:\n{}", first.stderr()));
    // The governor saves its state on its next tick; then the sensor dies without a word.
    std::thread::sleep(Duration::from_millis(1500));
    let pid = first.pid();
    assert_eq!(sensor_user::sys::kill(pid, libc::SIGKILL).map_err(|e| e.to_string()), Ok(()));
    let t0 = Instant::now();
    while std::fs::metadata(format!("/proc/{pid}")).is_ok() && t0.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(20));
    }
    drop(first);
    // The block outlives the process in the pinned map.
    let (ok, out, err) = sensor_cli(&["--pin-dir", pins.path.to_str().expect("utf8"), "blocks"]);
    assert!(ok && out.contains("10.201.0.2/32"), "the pinned block map holds the block: {out}{err}");

    let second = start(&net, &pins, &state.0);
    wait_line(&second, Duration::from_secs(10), |l| l.contains("expired block 10.201.0.2/32"))
        .unwrap_or_else(|| panic!("the restarted sensor did not expire the block:\n{}", second.stderr()));
    assert!(answers(&net, SCANNER), "the expired block lets packets pass");
    let (ok, out, err) = cli(&state.0, &["audit", "verify"]);
    assert!(ok, "the audit chain verifies across the kill: {out}{err}");
    let log = std::fs::read_to_string(state.0.join("audit.jsonl")).expect("audit log");
    assert!(
        log.lines().rev().any(|l| l.contains("\"expiry\"") && l.contains("10.201.0.2/32")),
        "the expiry is audited: {log}\n{}",
        second.stderr()
    );
}
