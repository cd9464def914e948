//! Errors of the control socket, server and client side. Every variant names the socket path.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// What can go wrong starting the control server or talking to it.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// The socket's parent directory could not be created or inspected.
    #[error("failed to create or inspect the control socket directory {path}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The socket's parent directory is writable by other users, who could replace the socket.
    #[error("refusing the control socket directory {path}: mode {mode:o} is writable by other users")]
    InsecureDir {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// A live server already answers on the socket.
    #[error("another sensor already serves the control socket {path}")]
    InUse {
        /// The socket path.
        path: PathBuf,
    },
    /// Something other than a socket sits at the socket path; it is left alone.
    #[error("{path} exists and is not a socket; refusing to replace it")]
    NotASocket {
        /// The path.
        path: PathBuf,
    },
    /// Probing for a live server, or removing a stale socket file, failed.
    #[error("failed to check or remove the stale control socket {path}")]
    Stale {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Binding or securing (chmod, non-blocking mode) the listening socket failed.
    #[error("failed to bind the control socket {path}")]
    Bind {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The "control" thread could not be spawned.
    #[error("failed to spawn the control thread for {path}")]
    Spawn {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// No sensor listens on the socket (missing socket file or connection refused).
    #[error("no sensor is running (nothing listens on {path}); start it with `sensor run`")]
    NotRunning {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The socket exists but this user may not connect to it.
    #[error("permission denied on the control socket {path}: run as root")]
    Denied {
        /// The socket path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// Connecting, sending or receiving failed for another reason.
    #[error("control socket {path}: failed to {op}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done: "connect", "send the request", "read the answer".
        op: &'static str,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server did not answer in time.
    #[error("control socket {path}: no answer within {timeout:?}")]
    Timeout {
        /// The socket path.
        path: PathBuf,
        /// The time waited.
        timeout: Duration,
    },
    /// The server closed the connection without a complete answer, or the answer was too long.
    #[error("control socket {path}: {reason}")]
    BadAnswer {
        /// The socket path.
        path: PathBuf,
        /// What was wrong with it.
        reason: String,
    },
    /// The answer was not valid JSON.
    #[error("control socket {path}: the answer is not valid JSON")]
    Json {
        /// The socket path.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
}
