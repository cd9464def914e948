//! Hardening, with root and a real kernel: after loading and attaching, the sensor keeps
//! only the documented capabilities (in every thread) with no_new_privs; its control socket
//! refuses a non-root process; configuration, rules and policy that a non-root user could
//! change are refused at start and on reload; a kernel object the verifier rejects stops
//! the start with the verifier's log and nothing left attached; and another process that
//! deletes a block from the pinned map or detaches the XDP or TC program raises a tamper
//! finding, and the sensor restores them and audits it.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Command, time::Duration};

use tests::{NetPair, PinDir, SensorProcess, TempDir, object_path, privileged, sensor_bin};

/// CAP_KILL, CAP_NET_ADMIN, CAP_PERFMON, CAP_BPF (docs/THREAT_MODEL.md).
const KEPT: u64 = (1 << 5) | (1 << 12) | (1 << 38) | (1 << 39);

fn status_field(status: &str, key: &str) -> Option<u64> {
    let v = status.lines().find_map(|l| l.strip_prefix(key))?.trim();
    u64::from_str_radix(v, if key.starts_with("Cap") { 16 } else { 10 }).ok()
}

fn chmod(p: &Path, mode: u32) {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn after_attaching_every_thread_keeps_only_the_documented_capabilities() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let sensor = SensorProcess::start(Some(&net.ns_a), &pins.path, &["--iface", &net.if_a, "--metrics", "off"]);
    let err = sensor.stderr();
    assert!(err.contains("capabilities: kept CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_KILL"), "{err}");
    let tasks: Vec<_> = std::fs::read_dir(format!("/proc/{}/task", sensor.pid()))
        .expect("task dir")
        .flatten()
        .map(|e| e.path().join("status"))
        .collect();
    assert!(tasks.len() > 3, "the sensor runs its threads: {tasks:?}");
    for t in &tasks {
        let Ok(st) = std::fs::read_to_string(t) else { continue }; // a thread that ended
        let name = st.lines().next().unwrap_or("").to_owned();
        for (key, want) in [
            ("CapEff:", KEPT),
            ("CapPrm:", KEPT),
            ("CapBnd:", KEPT),
            ("CapInh:", 0),
            ("CapAmb:", 0),
            ("NoNewPrivs:", 1),
        ] {
            assert_eq!(status_field(&st, key), Some(want), "{key} of {name} ({})", t.display());
        }
    }
    // The sensor still works with what it kept: a block through the control socket (the
    // governor writes the map) is applied.
    let state = sensor.state_dir.clone().expect("state dir");
    let s = state.to_str().expect("utf8");
    let (ok, out, err) = tests::sensor_cli(&[
        "--state-dir",
        s,
        "--pin-dir",
        pins.path.to_str().expect("utf8"),
        "block",
        "198.51.100.9/32",
        "--ttl",
        "60",
    ]);
    assert!(ok && out.contains("audited by the running sensor"), "{out}{err}");
    // A non-root process is refused by the control socket.
    let out = Command::new("setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(sensor_bin())
        .args(["--state-dir", s, "incidents"])
        .output()
        .expect("setpriv");
    let text = String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "nobody may not talk to the sensor: {text}");
    assert!(text.contains("ermission denied"), "{text}");
}

/// `sensor run` with `extra` arguments; returns (success, stderr) once it exits or after
/// it is stopped at `sensor running`.
fn run_until_started(net: &NetPair, pins: &PinDir, extra: &[&str]) -> (bool, String) {
    let out = NetPair::command(&net.ns_a, sensor_bin())
        .arg("--pin-dir")
        .arg(&pins.path)
        .arg("--state-dir")
        .arg(std::env::temp_dir().join(tests::unique("sensor-state-")))
        .args(["run", "--iface", &net.if_a, "--metrics", "off", "--duration", "0.1"])
        .args(extra)
        .output()
        .expect("sensor runs");
    (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn policy_rules_and_config_others_can_write_are_refused_at_start_and_on_reload() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let dir = TempDir::new("trust-");
    chmod(&dir.0, 0o755);
    let policy = dir.0.join("policy.toml");
    std::fs::write(&policy, "").expect("policy");
    chmod(&policy, 0o666);
    let p = policy.to_str().expect("utf8");
    let (ok, err) = run_until_started(&net, &pins, &["--policy", p]);
    assert!(!ok, "a world-writable policy is refused: {err}");
    assert!(
        err.contains("policy file") && err.contains("is refused: it is writable by every user (mode 666)"),
        "{err}"
    );
    assert!(!err.contains("sensor running"), "refused before anything is attached: {err}");

    let rules = dir.0.join("rules");
    std::fs::create_dir(&rules).expect("mkdir");
    chmod(&rules, 0o755);
    let rule = rules.join("local.rules");
    std::fs::write(&rule, "alert icmp any any -> any any (msg:\"ping\"; sid:1;)\n").expect("rule");
    std::os::unix::fs::chown(&rule, None, Some(1000)).expect("chgrp");
    chmod(&rule, 0o664);
    let (ok, err) = run_until_started(&net, &pins, &["--rules", rules.to_str().expect("utf8")]);
    assert!(!ok && err.contains("local.rules is refused: it is writable by group 1000"), "{err}");

    let cfg = dir.0.join("sensor.toml");
    std::fs::write(&cfg, "[agents]\n").expect("config");
    std::os::unix::fs::chown(&cfg, Some(1000), None).expect("chown");
    let (ok, err) = run_until_started(&net, &pins, &["--config", cfg.to_str().expect("utf8")]);
    assert!(!ok && err.contains("agents config") && err.contains("owned by uid 1000, not root"), "{err}");

    // Trusted at start, opened to everyone later: the reload is refused, the policy in
    // force stays.
    chmod(&policy, 0o644);
    let sensor =
        SensorProcess::start(Some(&net.ns_a), &pins.path, &["--iface", &net.if_a, "--metrics", "off", "--policy", p]);
    chmod(&policy, 0o666);
    let _ = sensor_user::sys::kill(sensor.pid(), libc::SIGHUP);
    tests::wait_until(
        "the refused reload",
        Duration::from_secs(10),
        || sensor.stderr().contains("policy reload refused, the previous policy stays in force"),
        || sensor.stderr(),
    );
    assert!(sensor.stderr().contains("writable by every user"), "{}", sensor.stderr());
}

/// The file range of symbol `name`'s code in the ELF object `elf`.
fn program_offset(elf: &[u8], name: &str) -> usize {
    use object::{Object, ObjectSection, ObjectSymbol};
    let file = object::File::parse(elf).expect("ELF");
    let sym = file.symbols().find(|s| s.name() == Ok(name)).expect("program symbol");
    let section = file.section_by_index(sym.section_index().expect("section")).expect("section");
    let (start, _) = section.file_range().expect("file range");
    usize::try_from(start + sym.address()).expect("offset")
}

#[test]
fn an_object_the_verifier_rejects_stops_the_start_with_the_verifier_log() {
    if !privileged(true) {
        return;
    }
    let mut elf = std::fs::read(object_path()).expect("kernel object");
    let at = program_offset(&elf, "sensor_xdp");
    // r0 = *(u64 *)(r9 + 0): r9 was never written, which the verifier refuses.
    elf[at..at + 8].copy_from_slice(&[0x79, 0x90, 0, 0, 0, 0, 0, 0]);
    let dir = TempDir::new("verifier-");
    let bad = dir.0.join("rejected.o");
    std::fs::write(&bad, &elf).expect("write");
    let net = NetPair::new();
    let pins = PinDir::new();
    let (ok, err) = run_until_started(&net, &pins, &["--object", bad.to_str().expect("utf8")]);
    assert!(!ok, "{err}");
    assert!(err.contains("error: failed to load sensor_xdp"), "a clear error: {err}");
    assert!(err.contains("R9 !read_ok"), "the verifier's log: {err}");
    // Nothing stays attached to the interface.
    let link = Command::new("ip").args(["-n", &net.ns_a, "link", "show", &net.if_a]).output().expect("ip");
    assert!(!String::from_utf8_lossy(&link.stdout).contains("xdp"), "{}", String::from_utf8_lossy(&link.stdout));
}

/// bpf(2) from Python (ctypes), as an attacker with root would call it: `delete PIN` removes
/// the first key of the pinned map; `detach IFACE TYPE` detaches the interface's link of
/// that type (6 XDP, 11 tcx).
const TAMPER: &str = r#"
import ctypes, os, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
def bpf(cmd, attr):
    buf = ctypes.create_string_buffer(attr, 128)
    r = libc.syscall(321, cmd, buf, 128)
    if r < 0:
        raise OSError(ctypes.get_errno(), "bpf cmd %d" % cmd)
    return r, buf.raw
def info(fd, size):
    out = ctypes.create_string_buffer(size)
    bpf(15, struct.pack("IIQ", fd, size, ctypes.addressof(out)))
    return out.raw
if sys.argv[1] == "delete":
    path = ctypes.create_string_buffer(sys.argv[2].encode())
    fd, _ = bpf(7, struct.pack("Q", ctypes.addressof(path)))
    key_size = struct.unpack_from("I", info(fd, 80), 8)[0]
    key = ctypes.create_string_buffer(key_size)
    bpf(4, struct.pack("IIQQ", fd, 0, 0, ctypes.addressof(key)))
    bpf(3, struct.pack("IIQ", fd, 0, ctypes.addressof(key)))
    print("deleted", key.raw.hex())
else:
    want, wtype = socket.if_nametoindex(sys.argv[2]), int(sys.argv[3])
    lid = 0
    while True:
        try:
            _, raw = bpf(31, struct.pack("I", lid))
        except OSError:
            sys.exit("no link of type %d on %s" % (wtype, sys.argv[2]))
        lid = struct.unpack_from("I", raw, 4)[0]
        fd, _ = bpf(30, struct.pack("I", lid))
        ltype, _, prog, _, ifindex = struct.unpack_from("IIIII", info(fd, 64), 0)
        if ltype == wtype and ifindex == want:
            bpf(34, struct.pack("I", fd))
            print("detached link", lid, "of program", prog)
            break
        os.close(fd)
"#;

fn tamper(net: &NetPair, args: &[&str]) {
    let out = NetPair::command(&net.ns_a, "python3").arg("-c").arg(TAMPER).args(args).output().expect("python3");
    assert!(
        out.status.success(),
        "tamper {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_deleted_block_and_a_detached_program_are_restored_audited_and_raise_a_tamper_finding() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let sensor = SensorProcess::start(Some(&net.ns_a), &pins.path, &["--iface", &net.if_a, "--metrics", "off"]);
    let state = sensor.state_dir.clone().expect("state dir");
    let s = state.to_str().expect("utf8");
    let p = pins.path.to_str().expect("utf8");
    let (ok, out, err) =
        tests::sensor_cli(&["--state-dir", s, "--pin-dir", p, "block", "198.51.100.9/32", "--ttl", "10m"]);
    assert!(ok, "{out}{err}");

    tamper(&net, &["delete", &pins.path.join("BLOCK_V4").to_string_lossy()]);
    tests::wait_until(
        "the block restored",
        Duration::from_secs(10),
        || {
            sensor
                .stderr()
                .contains("198.51.100.9/32 was removed or changed in the block map by another process: restored")
        },
        || sensor.stderr(),
    );
    let (ok, out, err) = tests::sensor_cli(&["--pin-dir", p, "blocks"]);
    assert!(ok && out.contains("198.51.100.9/32"), "back in the map: {out}{err}");

    tamper(&net, &["detach", &net.if_a, "6"]);
    let back = |program: &str| {
        let s = sensor.stderr();
        s.lines().any(|l| l.starts_with(&format!("tamper: {program} (program id")) && l.contains("re-attached"))
    };
    tests::wait_until(
        "the XDP program re-attached",
        Duration::from_secs(10),
        || back("sensor_xdp"),
        || sensor.stderr(),
    );
    let link = Command::new("ip").args(["-n", &net.ns_a, "link", "show", &net.if_a]).output().expect("ip");
    assert!(
        String::from_utf8_lossy(&link.stdout).contains("xdp"),
        "attached again: {}",
        String::from_utf8_lossy(&link.stdout)
    );
    tamper(&net, &["detach", &net.if_a, "11"]);
    tests::wait_until(
        "the TC program re-attached",
        Duration::from_secs(10),
        || back("sensor_tc_egress"),
        || sensor.stderr(),
    );

    // The bpf() calls themselves are a finding of the process agent.
    tests::wait_until(
        "the tamper finding",
        Duration::from_secs(10),
        || sensor.stderr().lines().any(|l| l.contains("sensor_tamper_bpf") && l.contains("python3")),
        || sensor.stderr(),
    );
    let log = std::fs::read_to_string(state.join("audit.jsonl")).expect("audit log");
    let tampers: Vec<&str> = log.lines().filter(|l| l.contains("\"kind\":\"tamper\"")).collect();
    assert!(
        tampers.iter().any(|l| l.contains("block_map") && l.contains("\"outcome\":\"restored\""))
            && ["sensor_xdp", "sensor_tc_egress"].iter().all(|p| tampers
                .iter()
                .any(|l| l.contains("program_detached") && l.contains(p) && l.contains("\"outcome\":\"restored\""))),
        "{tampers:#?}"
    );
    let (ok, out, err) = tests::sensor_cli(&["--state-dir", s, "audit", "verify"]);
    assert!(ok, "{out}{err}");
}
