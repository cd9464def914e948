//! The control client used by the `sensor` subcommands: one request, one answer.

use std::io;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::ControlError;
use super::wire::{self, ReadLineError};

/// The longest answer accepted, in bytes (incident lists can be long; a runaway is not).
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// Sends one request to the sensor listening on `path` and waits up to `timeout` (for the
/// write and, separately, for the whole answer) for its answer.
///
/// # Errors
///
/// A missing socket or refused connection gives [`ControlError::NotRunning`] (which tells the
/// user to start `sensor run`); permission denied gives [`ControlError::Denied`] ("run as
/// root"); a silent server gives [`ControlError::Timeout`].
pub fn request(path: &Path, req: &Value, timeout: Duration) -> Result<Value, ControlError> {
    let mut stream = UnixStream::connect(path).map_err(|e| connect_error(path, e))?;
    let io_err = |op, source| ControlError::Io { path: path.to_owned(), op, source };
    stream.set_write_timeout(Some(timeout)).map_err(|e| io_err("connect", e))?;
    match wire::write_line(&mut stream, req) {
        Ok(()) => {}
        // The server may answer and close before reading everything (e.g. a request it
        // refuses as too long): its answer is still there to read.
        Err(e) if matches!(e.kind(), io::ErrorKind::BrokenPipe | io::ErrorKind::ConnectionReset) => {}
        Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
            return Err(ControlError::Timeout { path: path.to_owned(), timeout });
        }
        Err(e) => return Err(io_err("send the request", e)),
    }
    let line = wire::read_line(&mut stream, MAX_ANSWER, timeout).map_err(|e| match e {
        ReadLineError::TimedOut => ControlError::Timeout { path: path.to_owned(), timeout },
        ReadLineError::Empty => bad_answer(path, "the sensor closed the connection without answering"),
        ReadLineError::TooLong => bad_answer(path, "the answer is longer than 16 MiB"),
        ReadLineError::Io(e) => io_err("read the answer", e),
    })?;
    serde_json::from_slice(&line).map_err(|source| ControlError::Json { path: path.to_owned(), source })
}

/// Maps a connect failure to what the user should do about it.
fn connect_error(path: &Path, source: io::Error) -> ControlError {
    let path = path.to_owned();
    match source.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::ConnectionRefused => ControlError::NotRunning { path, source },
        io::ErrorKind::PermissionDenied => ControlError::Denied { path, source },
        _ => ControlError::Io { path, op: "connect", source },
    }
}

fn bad_answer(path: &Path, reason: &str) -> ControlError {
    ControlError::BadAnswer { path: path.to_owned(), reason: reason.to_owned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_on_connect_tells_the_user_to_run_as_root() {
        let err = connect_error(Path::new("/run/x.sock"), io::Error::from_raw_os_error(libc::EACCES));
        assert!(matches!(err, ControlError::Denied { .. }));
        assert!(err.to_string().contains("run as root"), "{err}");
    }

    #[test]
    fn refused_connection_means_not_running() {
        let err = connect_error(Path::new("/run/x.sock"), io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert!(matches!(err, ControlError::NotRunning { .. }));
        assert!(err.to_string().contains("sensor run"), "{err}");
    }
}
