//! Helpers shared by the integration tests and the benchmarks: deciding whether a privileged
//! tier can run, unique BPF pin directories, a veth pair across two network namespaces, and a
//! `sensor run` child process whose JSON events are collected.
//!
//! Everything created here is removed on `Drop`, including when a test panics.

use std::{
    io::{BufRead, BufReader},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A short name unique to this process and call.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}x{}", std::process::id() % 100_000, SEQ.fetch_add(1, Ordering::Relaxed))
}

/// The kernel object, if built.
pub fn object_path() -> PathBuf {
    sensor_user::kernel::default_object_path()
}

/// The `sensor` binary.
pub fn sensor_bin() -> PathBuf {
    if let Some(p) = std::env::var_os("SENSOR_BIN") {
        return PathBuf::from(p);
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/debug/sensor"))
}

/// Whether a privileged test can run. When `SENSOR_REQUIRE_PRIVILEGED=1` (set by
/// `cargo xtask test`) a missing prerequisite fails the test; otherwise the test is skipped
/// with the reason printed.
pub fn privileged(needs_binary: bool) -> bool {
    let mut missing = Vec::new();
    if sensor_user::sys::euid() != 0 {
        missing.push("root".to_owned());
    }
    if !object_path().is_file() {
        missing.push(format!("the kernel object at {} (cargo xtask build-ebpf)", object_path().display()));
    }
    if needs_binary && !sensor_bin().is_file() {
        missing.push(format!("the sensor binary at {} (cargo build --bin sensor)", sensor_bin().display()));
    }
    if missing.is_empty() {
        return true;
    }
    let msg = format!("needs {}", missing.join(", "));
    if std::env::var("SENSOR_REQUIRE_PRIVILEGED").is_ok_and(|v| v == "1") {
        panic!("privileged tier required but {msg}");
    }
    eprintln!("skipped: {msg}; `sudo -E cargo xtask test` runs it");
    false
}

/// A unique directory on bpffs for one test's pins, removed (with its pins) on drop.
pub struct PinDir {
    /// The directory.
    pub path: PathBuf,
}

impl PinDir {
    /// Creates `/sys/fs/bpf/<unique>` (mounting bpffs if needed).
    pub fn new() -> Self {
        let path = PathBuf::from("/sys/fs/bpf").join(unique("sensor-test-"));
        sensor_user::kernel::preflight::ensure_bpffs(&path).expect("bpffs");
        Self { path }
    }
}

impl Default for PinDir {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for PinDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A directory under the temp dir, removed on drop (also when the test fails).
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// Creates `<tmp>/<prefix><unique>`.
    pub fn new(prefix: &str) -> Self {
        let p = std::env::temp_dir().join(unique(prefix));
        std::fs::create_dir_all(&p).expect("temp dir");
        Self(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two network namespaces joined by a veth pair: `sensor` side (`a`, 10.201.0.1/24,
/// fd00:201::1/64) and `peer` side (`b`, 10.201.0.2/24, fd00:201::2/64). Removed on drop.
pub struct NetPair {
    /// Namespace holding the sensor's interface.
    pub ns_a: String,
    /// Namespace of the traffic generator.
    pub ns_b: String,
    /// Interface in `ns_a`.
    pub if_a: String,
    /// Interface in `ns_b`.
    pub if_b: String,
}

/// IPv4 address of the sensor side.
pub const ADDR_A: &str = "10.201.0.1";
/// IPv4 address of the peer side.
pub const ADDR_B: &str = "10.201.0.2";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip(8) runs");
    assert!(out.status.success(), "ip {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

impl NetPair {
    /// Creates the namespaces, the pair, addresses and links up.
    pub fn new() -> Self {
        let tag = unique("");
        let p = NetPair {
            ns_a: format!("sns-a{tag}"),
            ns_b: format!("sns-b{tag}"),
            if_a: format!("sva{tag}"),
            if_b: format!("svb{tag}"),
        };
        assert!(p.if_a.len() <= 15, "interface name too long");
        ip(&["netns", "add", &p.ns_a]);
        // From here on, Drop cleans up even if a later step panics.
        ip(&["netns", "add", &p.ns_b]);
        ip(&["-n", &p.ns_a, "link", "add", &p.if_a, "type", "veth", "peer", "name", &p.if_b, "netns", &p.ns_b]);
        ip(&["-n", &p.ns_a, "addr", "add", &format!("{ADDR_A}/24"), "dev", &p.if_a]);
        ip(&["-n", &p.ns_b, "addr", "add", &format!("{ADDR_B}/24"), "dev", &p.if_b]);
        ip(&["-n", &p.ns_a, "-6", "addr", "add", "fd00:201::1/64", "dev", &p.if_a, "nodad"]);
        ip(&["-n", &p.ns_b, "-6", "addr", "add", "fd00:201::2/64", "dev", &p.if_b, "nodad"]);
        for (ns, ifc) in [(&p.ns_a, &p.if_a), (&p.ns_b, &p.if_b)] {
            ip(&["-n", ns, "link", "set", ifc, "up"]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        p
    }

    /// Adds `addr`/24 to the peer's interface (`peer`) or the sensor side's.
    pub fn add_addr(&self, peer: bool, addr: &str) {
        let (ns, dev) = if peer { (&self.ns_b, &self.if_b) } else { (&self.ns_a, &self.if_a) };
        ip(&["-n", ns, "addr", "add", &format!("{addr}/24"), "dev", dev]);
    }

    /// TCP connection attempts from the peer namespace to 40 closed ports of `dst` from
    /// `first_port` on, from address `src` when given.
    pub fn scan(&self, src: Option<&str>, dst: &str, first_port: u16) {
        let script = "import socket,sys\nsrc,dst,lo=sys.argv[1],sys.argv[2],int(sys.argv[3])\nfor p in range(lo,lo+40):\n    s=socket.socket()\n    if src:\n        s.bind((src,0))\n    s.settimeout(0.05)\n    try:\n        s.connect((dst,p))\n    except Exception:\n        pass\n    s.close()\n";
        let st = Self::command(&self.ns_b, "python3")
            .args(["-c", script, src.unwrap_or(""), dst, &first_port.to_string()])
            .status()
            .expect("python3");
        assert!(st.success(), "scan script failed");
    }

    /// `/run/netns/<ns>`.
    pub fn ns_path(ns: &str) -> PathBuf {
        Path::new("/run/netns").join(ns)
    }

    /// A command run with only its network namespace switched (same mounts, so the pins
    /// under /sys/fs/bpf are shared with the host).
    pub fn command(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net={}", Self::ns_path(ns).display())).arg("--").arg(program);
        c
    }

    /// Starts `f` on a thread inside namespace `ns`.
    pub fn spawn_in_ns<T: Send + 'static>(
        ns: &str,
        f: impl FnOnce() -> T + Send + 'static,
    ) -> std::thread::JoinHandle<T> {
        let path = Self::ns_path(ns);
        std::thread::spawn(move || {
            sensor_user::sys::enter_netns(&path).expect("setns");
            f()
        })
    }

    /// Runs `f` on a thread inside namespace `ns` and returns its result.
    pub fn in_ns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = Self::ns_path(ns);
        std::thread::spawn(move || {
            sensor_user::sys::enter_netns(&path).expect("setns");
            f()
        })
        .join()
        .expect("namespace thread")
    }
}

impl Default for NetPair {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for NetPair {
    fn drop(&mut self) {
        // Deleting a namespace deletes the veth end inside it, and with it the peer.
        for ns in [&self.ns_a, &self.ns_b] {
            let _ = Command::new("ip").args(["netns", "delete", ns]).status();
        }
    }
}

/// A `sensor run --print-events` child; its stdout JSON lines are collected.
pub struct SensorProcess {
    child: Child,
    /// Every event printed so far.
    pub events: Arc<Mutex<Vec<Value>>>,
    /// Everything printed on stderr so far.
    pub stderr: Arc<Mutex<String>>,
    /// The state directory `start` made (control socket, audit log), removed on drop.
    pub state_dir: Option<PathBuf>,
}

impl SensorProcess {
    /// Starts `sensor --pin-dir PIN run --print-events ARGS` in namespace `ns` (or the
    /// current one) and waits until it reports it is running.
    pub fn start(ns: Option<&str>, pin_dir: &Path, args: &[&str]) -> Self {
        let mut cmd = match ns {
            Some(ns) => NetPair::command(ns, sensor_bin()),
            None => Command::new(sensor_bin()),
        };
        // Its own state directory: sensors running at once must not share a control socket.
        let state = std::env::temp_dir().join(unique("sensor-state-"));
        cmd.arg("--pin-dir").arg(pin_dir).arg("--state-dir").arg(&state).args(["run", "--print-events"]).args(args);
        let mut p = Self::spawn(cmd, true);
        p.state_dir = Some(state);
        p
    }

    /// Spawns `cmd` (a `sensor run`) collecting stdout when `collect` is true; when false the
    /// stdout pipe is left unread (a slow consumer) until [`SensorProcess::drain_stdout`].
    pub fn spawn(mut cmd: Command, collect: bool) -> Self {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("sensor starts");
        let events = Arc::new(Mutex::new(Vec::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let err = child.stderr.take().expect("stderr piped");
        let se = Arc::clone(&stderr);
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                se.lock().expect("lock").push_str(&(line + "\n"));
            }
        });
        let mut p = SensorProcess { child, events, stderr, state_dir: None };
        if collect {
            p.drain_stdout();
        }
        let t0 = Instant::now();
        loop {
            if p.stderr().contains("sensor running") {
                break;
            }
            if let Ok(Some(status)) = p.child.try_wait() {
                std::thread::sleep(Duration::from_millis(100));
                panic!("sensor exited with {status}: {}", p.stderr());
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "sensor did not start: {}", p.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
        p
    }

    /// Starts collecting stdout (if not already).
    pub fn drain_stdout(&mut self) {
        if let Some(out) = self.child.stdout.take() {
            let ev = Arc::clone(&self.events);
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    if let Ok(v) = serde_json::from_str::<Value>(&line) {
                        ev.lock().expect("lock").push(v);
                    }
                }
            });
        }
    }

    /// The stderr text so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits up to `timeout` for an event matching `pred`; returns a copy of it.
    pub fn wait_for(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let t0 = Instant::now();
        loop {
            if let Some(v) = self.events.lock().expect("lock").iter().find(|v| pred(v)) {
                return Some(v.clone());
            }
            if t0.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The child's pid.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits up to `timeout` for a clean exit; returns whether it exited
    /// successfully in time.
    pub fn stop(&mut self, timeout: Duration) -> bool {
        let _ = sensor_user::sys::kill(self.child.id(), libc::SIGTERM);
        let t0 = Instant::now();
        while t0.elapsed() < timeout {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.success();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for SensorProcess {
    fn drop(&mut self) {
        self.terminate();
        if let Some(dir) = &self.state_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl SensorProcess {
    fn terminate(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = sensor_user::sys::kill(self.child.id(), libc::SIGTERM);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) {
                if matches!(self.child.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Resident memory of process `pid` in KiB (0 when it cannot be read).
pub fn rss_kib(pid: u32) -> u64 {
    let st = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    st.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Waits up to `timeout` for `pred`, polling; panics naming `what` with `log()` (the
/// sensor's stderr) when it does not come.
pub fn wait_until(what: &str, timeout: Duration, pred: impl Fn() -> bool, log: impl Fn() -> String) {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if pred() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}; sensor stderr:\n{}", log());
}

/// GET /metrics of a sensor listening at `addr` in namespace `ns`: the whole HTTP response.
pub fn scrape_metrics(ns: &str, addr: String) -> String {
    use std::io::{Read, Write};
    NetPair::in_ns(ns, move || {
        let mut c = std::net::TcpStream::connect(&addr).expect("connect to /metrics");
        c.write_all(b"GET /metrics HTTP/1.1\r\nHost: sensor\r\n\r\n").expect("request");
        let mut s = String::new();
        c.read_to_string(&mut s).expect("response");
        s
    })
}

/// Runs the `sensor` CLI with `args` and returns (success, stdout, stderr).
pub fn sensor_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(sensor_bin()).args(args).output().expect("sensor runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Reads the counters of the sensor whose pins are in `pin_dir` (`sensor status --json`).
pub fn status(pin_dir: &Path) -> Value {
    let pin = pin_dir.to_string_lossy();
    let (ok, out, err) = sensor_cli(&["--pin-dir", &pin, "status", "--json"]);
    assert!(ok, "sensor status failed: {err}");
    serde_json::from_str(&out).expect("status JSON")
}

/// Frame builders for BPF_PROG_TEST_RUN and the benchmarks.
pub mod frames;
pub mod replay;
