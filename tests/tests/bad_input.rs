//! Bad input gives one clear error naming the problem and the fix, and a failed start leaves
//! nothing attached or pinned.

use std::process::Command;

use tests::{NetPair, PinDir, privileged, sensor_bin, sensor_cli};

#[test]
fn invalid_cidr_and_ttl_are_named_with_examples() {
    if !sensor_bin().is_file() {
        eprintln!("skipped: no sensor binary (cargo build --bin sensor)");
        return;
    }
    let (ok, _, err) = sensor_cli(&["--pin-dir", "/nonexistent", "block", "10.0.0.1/33"]);
    assert!(!ok && err.contains("invalid address or CIDR \"10.0.0.1/33\""), "{err}");
    let (ok, _, err) = sensor_cli(&["--pin-dir", "/nonexistent", "block", "10.0.0.1", "--ttl", "5x"]);
    assert!(!ok && err.contains("invalid TTL \"5x\"") && err.contains("10m"), "{err}");
    let (ok, _, err) = sensor_cli(&["--pin-dir", "/nonexistent/sensor", "block", "10.0.0.1"]);
    assert!(!ok && err.contains("start the sensor first"), "{err}");
    let (ok, _, err) = sensor_cli(&["--pin-dir", "/nonexistent/sensor", "status"]);
    assert!(!ok && err.contains("no running sensor"), "{err}");
}

#[test]
fn a_missing_interface_or_object_or_root_fails_cleanly() {
    if !privileged(true) {
        return;
    }
    let pins = PinDir::new();
    let pin = pins.path.to_string_lossy().into_owned();
    let (ok, _, err) = sensor_cli(&["--pin-dir", &pin, "run", "--iface", "nosuch0"]);
    assert!(!ok && err.contains("\"nosuch0\"") && err.contains("ip link"), "{err}");
    assert!(
        !pins.path.exists() || std::fs::read_dir(&pins.path).map(|d| d.count()).unwrap_or(0) == 0,
        "nothing pinned"
    );

    let (ok, _, err) = sensor_cli(&["--pin-dir", &pin, "run", "--iface", "lo", "--object", "/nonexistent/x.o"]);
    assert!(!ok && err.contains("kernel object not found") && err.contains("cargo xtask build-ebpf"), "{err}");

    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(sensor_bin())
        .args(["--pin-dir", &pin, "run", "--iface", "lo"])
        .output()
        .expect("setpriv runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("must run as root"), "{err}");
}

#[test]
fn a_failed_attach_leaves_nothing_attached_or_pinned() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    // The namespace's loopback has no native XDP: the attach fails after the object loaded.
    let out = NetPair::command(&net.ns_a, sensor_bin())
        .arg("--pin-dir")
        .arg(&pins.path)
        .args(["run", "--iface", "lo", "--xdp-mode", "native", "--no-tracepoints"])
        .output()
        .expect("sensor runs");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("failed to attach sensor_xdp on lo"), "{err}");
    let link = Command::new("ip").args(["-n", &net.ns_a, "link", "show", "lo"]).output().expect("ip");
    assert!(!String::from_utf8_lossy(&link.stdout).contains("xdp"), "XDP left attached");
    let left: Vec<_> = std::fs::read_dir(&pins.path)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "pins left behind: {left:?}");
}

#[test]
fn a_console_setting_that_cannot_be_served_stops_the_start_and_leaves_nothing_attached() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let state = tests::TempDir::new("console-bad-");
    let run = |extra: &[&str]| {
        let out = NetPair::command(&net.ns_a, sensor_bin())
            .arg("--pin-dir")
            .arg(&pins.path)
            .arg("--state-dir")
            .arg(&state.0)
            .args(["run", "--iface", &net.if_a, "--no-tracepoints", "--duration", "5"])
            .args(extra)
            .output()
            .expect("sensor runs");
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&["--console", "10.201.0.1:9465"]);
    assert!(!ok && err.contains("is not loopback") && err.contains("--console-remote"), "{err}");
    let users = state.0.join("console-users");
    std::fs::set_permissions(&users, std::os::unix::fs::PermissionsExt::from_mode(0o644)).expect("chmod");
    let (ok, err) = run(&[]);
    assert!(!ok && err.contains("mode 644") && err.contains("chmod 600"), "{err}");
    std::fs::set_permissions(&users, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    let (ok, err) = run(&["--console-cert", "/nonexistent/c.pem", "--console-key", "/nonexistent/k.pem"]);
    assert!(!ok && err.contains("/nonexistent/c.pem"), "{err}");
    let link = Command::new("ip").args(["-n", &net.ns_a, "link", "show", &net.if_a]).output().expect("ip");
    assert!(!String::from_utf8_lossy(&link.stdout).contains("xdp"), "XDP left attached");
    let left: Vec<_> = std::fs::read_dir(&pins.path)
        .map(|d| d.filter_map(Result::ok).map(|e| e.file_name()).collect())
        .unwrap_or_default();
    // The block lists stay pinned, as after any stop (blocks outlive the process).
    assert!(left.iter().all(|n| n == "BLOCK_V4" || n == "BLOCK_V6"), "pins left behind: {left:?}");
}
