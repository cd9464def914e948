//! The control server: binds the root-only socket safely and serves one request per
//! connection, in turn, on a thread named "control". What requests mean is the [`Handler`]'s
//! business; this file owns binding, peer checks, framing and shutdown.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use serde_json::{Value, json};

use super::wire::{self, ReadLineError};
use super::{ControlError, MAX_REQUEST, Peer, peer_of};

/// How often the accept loop looks at the stop flag.
const ACCEPT_POLL: Duration = Duration::from_millis(100);
/// Read and write budget of one connection.
const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// Answers control requests. Called on the "control" thread, one request at a time, only for
/// peers that are root or the sensor's own user.
pub trait Handler: Send + Sync + 'static {
    /// Answers `request` (a JSON object) from `peer`. By convention the answer is an object
    /// with `"ok": bool` and, when not ok, `"error": "..."`.
    fn handle(&self, peer: &Peer, request: Value) -> Value;
}

/// Counters shared by the server and its thread.
#[derive(Debug, Default)]
struct Counters {
    connections: AtomicU64,
    denied: AtomicU64,
    bad_requests: AtomicU64,
}

/// A running control server. Dropping it stops it, like [`ControlServer::stop`].
pub struct ControlServer {
    path: PathBuf,
    /// (st_dev, st_ino) of the socket we bound, so we only ever remove our own file.
    socket_id: (u64, u64),
    stop: Arc<AtomicBool>,
    counters: Arc<Counters>,
    thread: Option<JoinHandle<()>>,
}

impl ControlServer {
    /// Binds `path`: creates the parent dir (mode 0700) if missing and refuses an existing
    /// parent writable by other users; refuses to start when a live server already answers on
    /// it ([`ControlError::InUse`]); removes a stale socket file (only if it is a socket);
    /// binds under umask 077 so the socket is never exposed, then chmods it 0600; spawns one
    /// thread "control" that polls accept every 100 ms (so stop is seen) and serves each
    /// connection in turn with a 5 s read/write budget. Peers whose uid is neither 0 nor the
    /// server's euid get a "permission denied" answer without the handler being called; bad
    /// JSON or an over-long request gets a "bad request" answer.
    ///
    /// # Errors
    ///
    /// See [`ControlError`]; every variant names the path involved.
    pub fn start(path: &Path, handler: Arc<dyn Handler>) -> Result<Self, ControlError> {
        prepare_dir(path)?;
        clear_stale(path)?;
        let listener = bind_private(path)?;
        let bind_err = |source| ControlError::Bind { path: path.to_owned(), source };
        let meta = fs::symlink_metadata(path).map_err(bind_err)?;
        listener.set_nonblocking(true).map_err(bind_err)?;

        let stop = Arc::new(AtomicBool::new(false));
        let counters = Arc::new(Counters::default());
        let own_uid = crate::sys::euid();
        let (t_stop, t_counters) = (Arc::clone(&stop), Arc::clone(&counters));
        let thread = thread::Builder::new()
            .name("control".into())
            .spawn(move || accept_loop(&listener, &*handler, own_uid, &t_stop, &t_counters))
            .map_err(|source| {
                let _ = fs::remove_file(path);
                ControlError::Spawn { path: path.to_owned(), source }
            })?;
        Ok(Self { path: path.to_owned(), socket_id: (meta.dev(), meta.ino()), stop, counters, thread: Some(thread) })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Connections accepted so far (served, denied or bad).
    pub fn connections(&self) -> u64 {
        self.counters.connections.load(Ordering::Relaxed)
    }

    /// Connections refused because the peer was not root or the sensor's user.
    pub fn denied(&self) -> u64 {
        self.counters.denied.load(Ordering::Relaxed)
    }

    /// Requests answered with "bad request" (not JSON, not an object, too long, timed out).
    pub fn bad_requests(&self) -> u64 {
        self.counters.bad_requests.load(Ordering::Relaxed)
    }

    /// Stops the thread (within about 100 ms, or after the connection being served) and
    /// removes the socket file if it is still the one this server bound.
    pub fn stop(mut self) {
        self.shutdown();
    }

    /// Idempotent stop, shared by [`Self::stop`] and `Drop`.
    fn shutdown(&mut self) {
        let Some(thread) = self.thread.take() else { return };
        self.stop.store(true, Ordering::Relaxed);
        let _ = thread.join();
        if let Ok(meta) = fs::symlink_metadata(&self.path)
            && (meta.dev(), meta.ino()) == self.socket_id
        {
            let _ = fs::remove_file(&self.path);
        }
    }
}

impl Drop for ControlServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Creates the socket's parent directory 0700 if missing; refuses one that others can write.
fn prepare_dir(path: &Path) -> Result<(), ControlError> {
    let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) else { return Ok(()) };
    let dir_err = |source| ControlError::Dir { path: dir.to_owned(), source };
    if !dir.exists() {
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(dir_err)?;
    }
    let meta = fs::metadata(dir).map_err(dir_err)?;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o002 != 0 {
        return Err(ControlError::InsecureDir { path: dir.to_owned(), mode });
    }
    Ok(())
}

/// Refuses a live server on `path`; removes a dead server's socket file (and nothing else).
fn clear_stale(path: &Path) -> Result<(), ControlError> {
    let meta = match fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => return Err(ControlError::Stale { path: path.to_owned(), source }),
    };
    if !meta.file_type().is_socket() {
        return Err(ControlError::NotASocket { path: path.to_owned() });
    }
    match UnixStream::connect(path) {
        Ok(_) => Err(ControlError::InUse { path: path.to_owned() }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            fs::remove_file(path).map_err(|source| ControlError::Stale { path: path.to_owned(), source })
        }
        Err(source) => Err(ControlError::Stale { path: path.to_owned(), source }),
    }
}

/// Binds `path` with umask 077 (so the socket is never reachable by others, even briefly),
/// then chmods it 0600.
fn bind_private(path: &Path) -> Result<UnixListener, ControlError> {
    let old = crate::sys::umask(0o077);
    let bound = UnixListener::bind(path);
    crate::sys::umask(old);
    let listener = bound.map_err(|source| match source.kind() {
        // Another server won a race to bind between our probe and our bind.
        io::ErrorKind::AddrInUse => ControlError::InUse { path: path.to_owned() },
        _ => ControlError::Bind { path: path.to_owned(), source },
    })?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600))
        .map_err(|source| ControlError::Bind { path: path.to_owned(), source })?;
    Ok(listener)
}

/// Accepts until `stop` is set, serving each connection before taking the next.
fn accept_loop(listener: &UnixListener, handler: &dyn Handler, own_uid: u32, stop: &AtomicBool, counters: &Counters) {
    while !stop.load(Ordering::Relaxed) {
        match listener.accept() {
            Ok((stream, _)) => {
                counters.connections.fetch_add(1, Ordering::Relaxed);
                serve(stream, handler, own_uid, counters);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(ACCEPT_POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            // EMFILE and friends: back off rather than spin; the connection waits in the backlog.
            Err(_) => thread::sleep(ACCEPT_POLL),
        }
    }
}

/// Serves one connection: peer check, read one request, answer once. Errors writing the
/// answer mean the client went away; there is nobody to tell.
fn serve(mut stream: UnixStream, handler: &dyn Handler, own_uid: u32, counters: &Counters) {
    if stream.set_nonblocking(false).is_err() || stream.set_write_timeout(Some(IO_TIMEOUT)).is_err() {
        return;
    }
    let answer = answer(&mut stream, handler, own_uid, counters);
    let _ = wire::write_line(&mut stream, &answer);
}

/// The answer for the request waiting on `stream`.
fn answer(stream: &mut UnixStream, handler: &dyn Handler, own_uid: u32, counters: &Counters) -> Value {
    let peer = match peer_of(stream) {
        Ok(peer) => peer,
        Err(e) => return json!({ "ok": false, "error": format!("cannot identify the peer: {e}") }),
    };
    // Read the request even from a refused peer, so closing with unread data does not reset
    // the connection before the peer reads why it was refused.
    let line = wire::read_line(stream, MAX_REQUEST, IO_TIMEOUT);
    if peer.uid != 0 && peer.uid != own_uid {
        counters.denied.fetch_add(1, Ordering::Relaxed);
        let error = format!("permission denied: the control socket is root-only (uid {})", peer.uid);
        return json!({ "ok": false, "error": error });
    }
    let request = match line.map_err(describe).and_then(|line| parse_request(&line)) {
        Ok(request) => request,
        Err(reason) => {
            counters.bad_requests.fetch_add(1, Ordering::Relaxed);
            return json!({ "ok": false, "error": format!("bad request: {reason}") });
        }
    };
    catch_unwind(AssertUnwindSafe(|| handler.handle(&peer, request)))
        .unwrap_or_else(|_| json!({ "ok": false, "error": "internal error: the request handler panicked" }))
}

/// Why a request line could not be read, for the "bad request" answer.
fn describe(e: ReadLineError) -> String {
    match e {
        ReadLineError::TooLong => format!("longer than {MAX_REQUEST} bytes"),
        ReadLineError::TimedOut => format!("no complete request within {}s", IO_TIMEOUT.as_secs()),
        ReadLineError::Empty => "empty request".to_owned(),
        ReadLineError::Io(e) => e.to_string(),
    }
}

/// Parses one request line, which must be a JSON object.
fn parse_request(line: &[u8]) -> Result<Value, String> {
    match serde_json::from_slice::<Value>(line) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err("expected a JSON object".to_owned()),
        Err(e) => Err(format!("invalid JSON: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_must_be_a_json_object() {
        assert!(parse_request(br#"{"cmd":"list"}"#).is_ok());
        assert_eq!(parse_request(b"[1,2]").expect_err("array"), "expected a JSON object");
        assert!(parse_request(b"{nope").expect_err("garbage").starts_with("invalid JSON"));
    }
}
