//! Authentication messages from journald, where the system has one.
//!
//! [`Journal::spawn`] starts `journalctl -f -o json --no-pager -n 0` with matches for sshd
//! (`_COMM=sshd`, `_COMM=sshd-session`) and the auth/authpriv syslog facilities (4 and 10,
//! where PAM, su, sudo and login log), reads its output in one thread, turns each JSON line
//! into a [`JournalEntry`] and queues it on a bounded channel (entries that do not fit are
//! dropped and counted). The caller drains the queue with [`Journal::drain`] and hands
//! each message to [`super::auth::parse_message`]. Dropping the [`Journal`] kills the
//! child and joins the thread.

use std::{
    io::{BufRead, BufReader, Read},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc::{Receiver, TrySendError, sync_channel},
    },
    thread::JoinHandle,
};

/// Entries queued between the reader thread and the caller.
const QUEUE: usize = 4096;
/// Longest JSON line read; longer ones are skipped and counted.
const MAX_JSON_LINE: usize = 1 << 20;

/// A journal problem.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// journalctl could not be started.
    #[error("failed to start {program}")]
    Spawn {
        /// The program.
        program: String,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// journalctl's output could not be captured.
    #[error("journalctl gave no stdout")]
    NoStdout,
    /// The reader thread could not be started.
    #[error("failed to start the journal reader thread")]
    Thread(#[source] std::io::Error),
    /// A line was not a journal JSON object.
    #[error("bad journal JSON line")]
    Json(#[source] serde_json::Error),
    /// A JSON entry had no MESSAGE.
    #[error("journal entry without MESSAGE")]
    NoMessage,
}

/// One journal entry, reduced to what the auth parser needs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct JournalEntry {
    /// SYSLOG_IDENTIFIER, else _COMM (`sshd`, `sshd-session`, `su`...).
    pub identifier: Vec<u8>,
    /// MESSAGE (bytes: journald gives non-UTF-8 messages as byte arrays).
    pub message: Vec<u8>,
    /// __REALTIME_TIMESTAMP, microseconds since the Unix epoch.
    pub realtime_us: Option<u64>,
    /// _PID.
    pub pid: Option<u32>,
}

/// A journal field: text, bytes (non-UTF-8), or several values (the first is used).
#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Field {
    Text(String),
    Bytes(Vec<u8>),
    Many(Vec<Field>),
}

impl Field {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Field::Text(s) => s.into_bytes(),
            Field::Bytes(b) => b,
            Field::Many(v) => v.into_iter().next().map(Field::into_bytes).unwrap_or_default(),
        }
    }
}

#[derive(serde::Deserialize)]
#[allow(non_snake_case, reason = "journal field names")]
struct RawEntry {
    MESSAGE: Option<Field>,
    SYSLOG_IDENTIFIER: Option<Field>,
    _COMM: Option<Field>,
    __REALTIME_TIMESTAMP: Option<Field>,
    _PID: Option<Field>,
}

fn number<T: std::str::FromStr>(f: Option<Field>) -> Option<T> {
    std::str::from_utf8(&f?.into_bytes()).ok()?.trim().parse().ok()
}

/// Parses one line of `journalctl -o json`.
pub fn parse_json_line(line: &[u8]) -> Result<JournalEntry, JournalError> {
    let raw: RawEntry = serde_json::from_slice(line).map_err(JournalError::Json)?;
    let message = raw.MESSAGE.ok_or(JournalError::NoMessage)?.into_bytes();
    let identifier = raw.SYSLOG_IDENTIFIER.or(raw._COMM).map(Field::into_bytes).unwrap_or_default();
    Ok(JournalEntry { identifier, message, realtime_us: number(raw.__REALTIME_TIMESTAMP), pid: number(raw._PID) })
}

/// Counters of a [`Journal`].
#[derive(Debug, Default)]
pub struct JournalStats {
    /// JSON lines read.
    pub lines: AtomicU64,
    /// Lines that were not journal JSON (or had no MESSAGE).
    pub bad_json: AtomicU64,
    /// Lines longer than the limit, skipped.
    pub too_long: AtomicU64,
    /// Entries dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// A running `journalctl -f`.
#[derive(Debug)]
pub struct Journal {
    child: Child,
    rx: Receiver<JournalEntry>,
    thread: Option<JoinHandle<()>>,
    stats: Arc<JournalStats>,
}

fn in_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

impl Journal {
    /// Whether journald is there to read: `journalctl` is on the PATH, a journal directory
    /// (`/run/log/journal` or `/var/log/journal`) exists, and journald's socket directory
    /// (`/run/systemd/journal`) exists (an empty journal directory in a container without
    /// journald is not a source).
    pub fn available() -> bool {
        in_path("journalctl").is_some()
            && (Path::new("/run/log/journal").is_dir() || Path::new("/var/log/journal").is_dir())
            && Path::new("/run/systemd/journal").is_dir()
    }

    /// The arguments given to journalctl: follow, JSON, no history, sshd or auth facilities.
    pub fn args() -> &'static [&'static str] {
        &[
            "-f",
            "-o",
            "json",
            "--no-pager",
            "-n",
            "0",
            "_COMM=sshd",
            "+",
            "_COMM=sshd-session",
            "+",
            "SYSLOG_FACILITY=4",
            "+",
            "SYSLOG_FACILITY=10",
        ]
    }

    /// Starts `journalctl` with [`Journal::args`] and its reader thread.
    pub fn spawn() -> Result<Self, JournalError> {
        Self::spawn_command("journalctl", Self::args())
    }

    /// Starts `program args` (any command printing journal JSON lines) and its reader.
    pub fn spawn_command(program: &str, args: &[&str]) -> Result<Self, JournalError> {
        let mut child = Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| JournalError::Spawn { program: program.to_owned(), source })?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(JournalError::NoStdout);
        };
        let stats = Arc::new(JournalStats::default());
        let (tx, rx) = sync_channel(QUEUE);
        let st = Arc::clone(&stats);
        let thread = std::thread::Builder::new().name("journal-reader".into()).spawn(move || {
            let mut r = BufReader::new(stdout);
            let mut line = Vec::with_capacity(4096);
            loop {
                line.clear();
                match Read::take(&mut r, MAX_JSON_LINE as u64 + 1).read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
                if line.len() > MAX_JSON_LINE && line.last() != Some(&b'\n') {
                    st.too_long.fetch_add(1, Relaxed);
                    // Skip the rest of the line.
                    let mut sink = Vec::new();
                    if r.read_until(b'\n', &mut sink).is_err() {
                        return;
                    }
                    continue;
                }
                st.lines.fetch_add(1, Relaxed);
                match parse_json_line(&line) {
                    Ok(e) => match tx.try_send(e) {
                        Ok(()) => {}
                        Err(TrySendError::Full(_)) => {
                            st.dropped.fetch_add(1, Relaxed);
                        }
                        Err(TrySendError::Disconnected(_)) => return,
                    },
                    Err(_) => {
                        st.bad_json.fetch_add(1, Relaxed);
                    }
                }
            }
        });
        let thread = match thread {
            Ok(t) => t,
            Err(e) => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(JournalError::Thread(e));
            }
        };
        Ok(Self { child, rx, thread: Some(thread), stats })
    }

    /// Hands every queued entry to `f`; returns how many.
    pub fn drain(&mut self, mut f: impl FnMut(JournalEntry)) -> usize {
        let mut n = 0;
        while let Ok(e) = self.rx.try_recv() {
            f(e);
            n += 1;
        }
        n
    }

    /// Waits up to `timeout` for one entry (for tests and one-shot readers).
    pub fn recv_timeout(&mut self, timeout: std::time::Duration) -> Option<JournalEntry> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Whether the child is still running.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The counters.
    pub fn stats(&self) -> &JournalStats {
        &self.stats
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_json_line_gives_identifier_message_time_and_pid() {
        let line = br#"{"__CURSOR":"s=1;i=2","__REALTIME_TIMESTAMP":"1763719200123456","_PID":"4242","_COMM":"sshd-session","SYSLOG_IDENTIFIER":"sshd-session","SYSLOG_FACILITY":"4","MESSAGE":"Failed password for root from 203.0.113.5 port 52311 ssh2"}"#;
        let e = parse_json_line(line).expect("parses");
        assert_eq!(e.identifier, b"sshd-session");
        assert_eq!(e.message, b"Failed password for root from 203.0.113.5 port 52311 ssh2");
        assert_eq!(e.realtime_us, Some(1_763_719_200_123_456));
        assert_eq!(e.pid, Some(4242));
        let r = crate::logs::auth::parse_message(&e.identifier, &e.message).expect("auth");
        assert_eq!(r.user, b"root");
    }

    #[test]
    fn binary_messages_and_missing_identifiers_are_handled() {
        let e = parse_json_line(br#"{"MESSAGE":[73,110,118,97,108,105,100,32,117,115,101,114,32,255,32,102,114,111,109,32,49,46,50,46,51,46,52],"_COMM":"sshd"}"#)
            .expect("bytes");
        assert_eq!(e.identifier, b"sshd");
        assert_eq!(e.message, b"Invalid user \xff from 1.2.3.4");
        let r = crate::logs::auth::parse_message(&e.identifier, &e.message).expect("auth");
        assert_eq!(r.user, b"\xff");
        let e = parse_json_line(br#"{"MESSAGE":"x","SYSLOG_IDENTIFIER":["a","b"]}"#).expect("many");
        assert_eq!(e.identifier, b"a");
        assert_eq!(e.realtime_us, None);
    }

    #[test]
    fn bad_lines_are_errors_not_panics() {
        for l in [&b""[..], b"{", b"[]", b"null", b"{\"MESSAGE\":null}", b"{\"MESSAGE\":{\"x\":1}}", b"\xff\xfe"] {
            assert!(parse_json_line(l).is_err(), "{}", l.escape_ascii());
        }
    }

    #[test]
    fn a_child_printing_journal_lines_is_read_and_killed_on_drop() {
        // Any program printing JSON lines stands in for journalctl.
        let script = r#"printf '%s\n' '{"MESSAGE":"Invalid user bob from 192.0.2.9 port 4242","SYSLOG_IDENTIFIER":"sshd"}' 'not json'; exec sleep 30"#;
        let mut j = Journal::spawn_command("sh", &["-c", script]).expect("spawn sh");
        let e = j.recv_timeout(std::time::Duration::from_secs(10)).expect("an entry");
        assert_eq!(e.identifier, b"sshd");
        let t0 = std::time::Instant::now();
        while j.stats().bad_json.load(Relaxed) == 0 && t0.elapsed().as_secs() < 10 {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        assert_eq!(j.stats().bad_json.load(Relaxed), 1);
        assert!(j.running());
        let t0 = std::time::Instant::now();
        drop(j);
        assert!(t0.elapsed().as_secs() < 5, "drop kills the child instead of waiting for it");
    }

    #[test]
    fn a_live_journal_is_followed_when_present() {
        if !Journal::available() {
            eprintln!("skipped: no running journald");
            return;
        }
        let mut j = Journal::spawn().expect("journalctl starts");
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(j.running(), "journalctl -f keeps running");
        j.drain(|_| {});
    }
}
