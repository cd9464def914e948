//! The tamper-evident decision log: `audit/` alone records what `respond/` decided.
//!
//! The log is append-only JSON lines, one record per governance decision. Each record holds
//! the SHA-256 of the previous one (a hash chain) and, when a key is configured, an
//! HMAC-SHA256 that an attacker without the key cannot recompute. A head file beside the log
//! (`<log>.head`) records the last sequence number and hash, so removing records from the end
//! is detectable too. `verify` finds every edited, removed, reordered or truncated record and
//! says where; a torn last line left by a crash is reported, and moved aside (with a
//! `recovery` record saying so) the next time the log is opened for writing.
//!
//! - `chain`: hashing, HMAC, the byte-exact record encoding and the head file format;
//! - `writer`: [`AuditWriter`], which opens (and recovers) a log and appends records;
//! - `verify`: [`verify`] and [`read_records`];
//! - `key`: [`load_key`], the HMAC key file.
//!
//! One process writes a given log at a time (the sensor owns it); nothing here locks the file.

mod chain;
mod key;
mod verify;
mod writer;

use std::path::PathBuf;

pub use key::load_key;
pub use verify::{Problem, ProblemKind, VerifyReport, read_records, verify};
pub use writer::{Appended, AuditWriter, OpenReport, TornTail};

/// Errors of the audit log. Integrity problems found by [`verify`] are not errors: they are
/// [`Problem`]s in its report.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An I/O operation on the log, its head, a torn-tail file or a key file failed.
    #[error("failed to {action} {}", path.display())]
    Io {
        /// What was being done, e.g. "open" or "write the head".
        action: &'static str,
        /// The file involved.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// A record body used a field name that the record header owns.
    #[error("body field {field:?} is reserved for the record header (seq, ts, prev, kind, hash, mac)")]
    ReservedField {
        /// The offending field name.
        field: String,
    },
    /// A body value could not be serialized.
    #[error("failed to encode body field {field:?}")]
    Encode {
        /// The field whose value failed to serialize.
        field: String,
        /// The serializer's error.
        #[source]
        source: serde_json::Error,
    },
    /// The head file exists but is not a valid head.
    #[error("the head file {} is not valid", path.display())]
    HeadFormat {
        /// The head file.
        path: PathBuf,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },
    /// The head file does not match the log's last record: continuing the log would erase the
    /// evidence (records removed from the end, or a rewritten tail).
    #[error("the head of {} does not match the log: {reason}; run `sensor audit verify`", path.display())]
    HeadMismatch {
        /// The log.
        path: PathBuf,
        /// What differs, naming seqs.
        reason: String,
    },
    /// The last complete record of the log cannot be continued (edited, or unreadable with a
    /// torn line after it).
    #[error("cannot continue {} after line {line}: {reason}; run `sensor audit verify`", path.display())]
    Tail {
        /// The log.
        path: PathBuf,
        /// The line of the record in question.
        line: u64,
        /// Why it cannot be continued.
        reason: String,
    },
    /// The key given does not fit the log (wrong key, or keyed/unkeyed mismatch).
    #[error("the key does not fit {}: {reason}", path.display())]
    KeyMismatch {
        /// The log.
        path: PathBuf,
        /// What does not fit.
        reason: String,
    },
    /// A key file was refused (permissions, size, encoding).
    #[error("refusing key file {}: {reason}", path.display())]
    KeyFile {
        /// The key file.
        path: PathBuf,
        /// Why it was refused.
        reason: String,
    },
    /// An earlier append failed part-way, so the log may end in a torn line; reopen it (which
    /// moves the torn line aside) before appending again.
    #[error("an earlier write to {} failed part-way; reopen the log to recover its tail", path.display())]
    Poisoned {
        /// The log.
        path: PathBuf,
    },
}

impl AuditError {
    /// Builds a closure mapping an `io::Error` to [`AuditError::Io`] (for `map_err`).
    fn io<'a>(action: &'static str, path: &'a std::path::Path) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| Self::Io { action, path: path.to_owned(), source }
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Temporary directories and record bodies shared by the tests of this module.

    use std::path::{Path, PathBuf};
    use std::sync::atomic::{AtomicU64, Ordering};

    use serde_json::{Map, Value, json};

    /// A fresh directory under the system temp dir, removed on drop.
    pub(crate) struct TempDir(PathBuf);

    impl TempDir {
        pub(crate) fn new(name: &str) -> Self {
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let dir = std::env::temp_dir().join(format!("p4-audit-{}-{name}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).expect("create temp dir");
            Self(dir)
        }

        pub(crate) fn path(&self) -> &Path {
            &self.0
        }

        /// The log path used by most tests.
        pub(crate) fn log(&self) -> PathBuf {
            self.0.join("audit.log")
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    /// A decision body that differs per `i`.
    pub(crate) fn body(i: u64) -> Map<String, Value> {
        let value = json!({
            "action": "block",
            "ip": format!("10.0.0.{i}"),
            "reason": {"agent": "port_scan", "confidence": 0.9, "ports": [22, 80, i]},
        });
        match value {
            Value::Object(map) => map,
            _ => unreachable!("json! object literal"),
        }
    }
}
