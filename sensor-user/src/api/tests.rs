//! End-to-end tests of the control socket: a real server on a real socket, talked to by the
//! client, by raw streams and by a child process running as `nobody`. They run as root.

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{ControlError, ControlServer, Handler, MAX_REQUEST, Peer, request};

const TIMEOUT: Duration = Duration::from_secs(5);

/// A unique directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("p4-control-{}-{n}-{name}", std::process::id()));
        fs::create_dir(&dir).expect("create temp dir");
        // Explicit chmod: umask (which the server changes briefly) must not decide the mode.
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).expect("chmod temp dir");
        Self(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Echoes the request and the peer, and counts its calls.
#[derive(Default)]
struct Echo {
    calls: AtomicU64,
}

impl Handler for Echo {
    fn handle(&self, peer: &Peer, request: Value) -> Value {
        self.calls.fetch_add(1, Ordering::Relaxed);
        json!({ "ok": true, "request": request, "uid": peer.uid, "user": peer.user, "pid": peer.pid })
    }
}

fn start_echo(path: &Path) -> (ControlServer, Arc<Echo>) {
    let echo = Arc::new(Echo::default());
    let server = ControlServer::start(path, echo.clone()).expect("start control server");
    (server, echo)
}

/// Sends raw bytes (then shuts down writing) and returns the parsed one-line answer.
fn raw_exchange(path: &Path, bytes: &[u8]) -> Value {
    let mut stream = UnixStream::connect(path).expect("connect");
    stream.set_read_timeout(Some(TIMEOUT)).expect("timeout");
    // The server may stop reading an over-long request early; its answer still arrives.
    let _ = stream.write_all(bytes);
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut answer = String::new();
    stream.read_to_string(&mut answer).expect("read answer");
    assert!(answer.ends_with('\n'), "answer must be one line: {answer:?}");
    serde_json::from_str(answer.trim_end()).expect("answer is JSON")
}

fn error_of(answer: &Value) -> &str {
    assert_eq!(answer["ok"], false, "{answer}");
    answer["error"].as_str().expect("error string")
}

#[test]
fn round_trip_reaches_the_handler_with_the_peer_identity() {
    let tmp = TempDir::new("roundtrip");
    let path = tmp.join("sensor.sock");
    let (server, echo) = start_echo(&path);
    let req = json!({ "cmd": "approvals.list", "args": [1, 2] });
    let answer = request(&path, &req, TIMEOUT).expect("request");
    assert_eq!(answer["ok"], true);
    assert_eq!(answer["request"], req);
    assert_eq!(answer["uid"], 0, "tests run as root");
    assert_eq!(answer["user"], "root");
    assert_eq!(answer["pid"], std::process::id());
    assert_eq!(echo.calls.load(Ordering::Relaxed), 1);
    assert_eq!(server.connections(), 1);
    assert_eq!(server.path(), path);
}

#[test]
fn socket_is_0600_in_a_freshly_created_0700_directory() {
    let tmp = TempDir::new("modes");
    let dir = tmp.join("run/sensor");
    let path = dir.join("control.sock");
    let (_server, _echo) = start_echo(&path);
    let meta = fs::symlink_metadata(&path).expect("stat socket");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let dir_mode = fs::metadata(&dir).expect("stat dir").permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert_eq!(dir_mode & 0o002, 0, "parent must not be world-writable");
}

#[test]
fn world_writable_parent_directory_is_refused() {
    let tmp = TempDir::new("worldw");
    fs::set_permissions(&tmp.0, fs::Permissions::from_mode(0o777)).expect("chmod");
    let err = ControlServer::start(&tmp.join("sensor.sock"), Arc::new(Echo::default())).err().expect("refused");
    assert!(matches!(err, ControlError::InsecureDir { mode: 0o777, .. }), "{err}");
}

/// A python3 that `nobody` can execute (pyenv shims under /root are not), or None.
fn python_for_nobody() -> Option<&'static str> {
    ["/usr/bin/python3", "/usr/local/bin/python3"].into_iter().find(|p| Path::new(p).exists())
}

const NOBODY_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except PermissionError:
    print("EACCES")
    sys.exit(0)
s.sendall(b'{"cmd":"block","addr":"10.0.0.1"}\n')
print(s.makefile().readline().strip())
"#;

/// Runs the python client as uid/gid 65534 against `path`; returns its stdout.
fn connect_as_nobody(python: &str, path: &Path) -> String {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", python, "-c", NOBODY_CLIENT])
        .arg(path)
        .current_dir("/")
        .env_clear()
        .output()
        .expect("run setpriv");
    assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn non_root_peer_is_refused_without_calling_the_handler() {
    let Some(python) = python_for_nobody() else {
        println!("skipped: no python3 executable by nobody");
        return;
    };
    if Command::new("setpriv").arg("--version").output().is_err() {
        println!("skipped: setpriv not found");
        return;
    }
    let tmp = TempDir::new("nobody");
    let path = tmp.join("sensor.sock");
    let (server, echo) = start_echo(&path);

    fs::set_permissions(&path, fs::Permissions::from_mode(0o666)).expect("open up the socket for the test");
    let answer: Value = serde_json::from_str(connect_as_nobody(python, &path).trim()).expect("JSON answer");
    assert_eq!(error_of(&answer), "permission denied: the control socket is root-only (uid 65534)");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 0, "the handler must not run for nobody");
    assert_eq!(server.denied(), 1);

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("close the socket again");
    assert_eq!(connect_as_nobody(python, &path).trim(), "EACCES");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 0);
    assert_eq!(server.connections(), 1, "with 0600 nobody cannot even connect");
}

#[test]
fn second_server_on_a_live_path_is_refused() {
    let tmp = TempDir::new("inuse");
    let path = tmp.join("sensor.sock");
    let (_first, echo) = start_echo(&path);
    let err = ControlServer::start(&path, Arc::new(Echo::default())).err().expect("second start refused");
    assert!(matches!(&err, ControlError::InUse { path: p } if *p == path), "{err}");
    // The refused start must not have broken the first server.
    request(&path, &json!({ "cmd": "ping" }), TIMEOUT).expect("first server still answers");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 1);
}

#[test]
fn stale_socket_file_is_replaced() {
    let tmp = TempDir::new("stale");
    let path = tmp.join("sensor.sock");
    drop(UnixListener::bind(&path).expect("bind the stale socket"));
    assert!(path.exists(), "a dropped listener leaves its file behind");
    let (_server, echo) = start_echo(&path);
    request(&path, &json!({ "cmd": "ping" }), TIMEOUT).expect("new server answers");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 1);
}

#[test]
fn regular_file_at_the_socket_path_is_left_alone() {
    let tmp = TempDir::new("notsock");
    let path = tmp.join("sensor.sock");
    fs::write(&path, b"precious").expect("write file");
    let err = ControlServer::start(&path, Arc::new(Echo::default())).err().expect("refused");
    assert!(matches!(err, ControlError::NotASocket { .. }), "{err}");
    assert_eq!(fs::read(&path).expect("file still there"), b"precious");
}

#[test]
fn bad_json_and_non_objects_get_a_bad_request_answer() {
    let tmp = TempDir::new("badjson");
    let path = tmp.join("sensor.sock");
    let (server, echo) = start_echo(&path);
    assert!(error_of(&raw_exchange(&path, b"{not json\n")).starts_with("bad request: invalid JSON"));
    assert_eq!(error_of(&raw_exchange(&path, b"[1]\n")), "bad request: expected a JSON object");
    assert_eq!(error_of(&raw_exchange(&path, b"")), "bad request: empty request");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 0);
    assert_eq!(server.bad_requests(), 3);
}

#[test]
fn over_long_request_gets_a_bad_request_answer() {
    let tmp = TempDir::new("toolong");
    let path = tmp.join("sensor.sock");
    let (_server, echo) = start_echo(&path);
    let long = vec![b'x'; MAX_REQUEST + 10];
    let expected = format!("bad request: longer than {MAX_REQUEST} bytes");
    assert_eq!(error_of(&raw_exchange(&path, &long)), expected);
    // Through the client too: it must still read the answer after the server stopped reading.
    let req = json!({ "cmd": "feedback", "text": "y".repeat(4 * MAX_REQUEST) });
    let answer = request(&path, &req, TIMEOUT).expect("answer to an over-long request");
    assert_eq!(error_of(&answer), expected);
    assert_eq!(echo.calls.load(Ordering::Relaxed), 0);
}

#[test]
fn request_without_a_server_is_not_running() {
    let tmp = TempDir::new("notrunning");
    let missing = tmp.join("sensor.sock");
    let err = request(&missing, &json!({ "cmd": "ping" }), TIMEOUT).expect_err("no server");
    assert!(matches!(&err, ControlError::NotRunning { path, .. } if *path == missing), "{err}");
    assert!(err.to_string().contains("sensor run"), "{err}");

    drop(UnixListener::bind(&missing).expect("bind"));
    let err = request(&missing, &json!({ "cmd": "ping" }), TIMEOUT).expect_err("stale socket");
    assert!(matches!(err, ControlError::NotRunning { .. }), "{err}");
}

/// Answers only after a delay.
struct Slow(Duration);

impl Handler for Slow {
    fn handle(&self, _peer: &Peer, _request: Value) -> Value {
        std::thread::sleep(self.0);
        json!({ "ok": true })
    }
}

#[test]
fn silent_server_makes_the_client_time_out() {
    let tmp = TempDir::new("slow");
    let path = tmp.join("sensor.sock");
    let _server = ControlServer::start(&path, Arc::new(Slow(Duration::from_millis(600)))).expect("start");
    let err = request(&path, &json!({ "cmd": "ping" }), Duration::from_millis(100)).expect_err("timeout");
    assert!(matches!(err, ControlError::Timeout { .. }), "{err}");
}

/// Panics on every request.
struct Panics;

impl Handler for Panics {
    fn handle(&self, _peer: &Peer, _request: Value) -> Value {
        panic!("handler bug (expected by the test)")
    }
}

#[test]
fn panicking_handler_gets_an_error_answer_and_the_server_keeps_serving() {
    let tmp = TempDir::new("panics");
    let path = tmp.join("sensor.sock");
    let server = ControlServer::start(&path, Arc::new(Panics)).expect("start");
    for _ in 0..2 {
        let answer = request(&path, &json!({ "cmd": "ping" }), TIMEOUT).expect("answer");
        assert!(error_of(&answer).starts_with("internal error"));
    }
    assert_eq!(server.connections(), 2);
}

#[test]
fn stop_is_prompt_and_removes_the_socket_file() {
    let tmp = TempDir::new("stop");
    let path = tmp.join("sensor.sock");
    let (server, _echo) = start_echo(&path);
    let t0 = Instant::now();
    server.stop();
    assert!(t0.elapsed() < Duration::from_secs(1), "stop took {:?}", t0.elapsed());
    assert!(!path.exists());

    let (server, _echo) = start_echo(&path);
    drop(server);
    assert!(!path.exists(), "drop stops too");
}

#[test]
fn stop_leaves_a_socket_file_that_another_server_now_owns() {
    let tmp = TempDir::new("owned");
    let path = tmp.join("sensor.sock");
    let (old, _echo) = start_echo(&path);
    fs::remove_file(&path).expect("someone removes our socket");
    let (_new, echo) = start_echo(&path);
    old.stop();
    assert!(path.exists(), "the old server must not remove the new server's socket");
    request(&path, &json!({ "cmd": "ping" }), TIMEOUT).expect("new server answers");
    assert_eq!(echo.calls.load(Ordering::Relaxed), 1);
}
