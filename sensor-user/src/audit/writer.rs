//! [`AuditWriter`]: opens a log (creating it, or checking and continuing its last record),
//! recovers a torn last line left by a crash, appends records and keeps the head file current.
//!
//! Opening checks only the tail: the last complete record must parse, match its hash, fit the
//! key, and agree with the head (which may lag one record behind after a crash between the
//! append and the head update). Anything else is refused rather than continued, because
//! rewriting the head over a truncated or rewritten log would erase the evidence.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::AuditError;
use super::chain::{self, GENESIS, Head, HeadState, Header, RECOVERY_KIND, Record};

/// How many `<log>.torn-<secs>[-n]` names are tried before giving up.
const TORN_NAME_ATTEMPTS: u32 = 100;

/// Appends records to one audit log. Created by [`AuditWriter::open`].
pub struct AuditWriter {
    file: File,
    path: PathBuf,
    key: Option<Vec<u8>>,
    sync: bool,
    last_seq: u64,
    last_hash: String,
    /// Set when a write failed part-way: the file may end in a torn line.
    poisoned: bool,
}

impl std::fmt::Debug for AuditWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditWriter")
            .field("path", &self.path)
            .field("keyed", &self.key.is_some())
            .field("sync", &self.sync)
            .field("last_seq", &self.last_seq)
            .field("poisoned", &self.poisoned)
            .finish_non_exhaustive()
    }
}

/// What [`AuditWriter::open`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenReport {
    /// Complete records in the log when it was opened (not counting a torn line or the
    /// recovery record appended for it).
    pub records: u64,
    /// The torn last line that was moved aside, if any.
    pub torn: Option<TornTail>,
}

/// A torn last line moved aside by [`AuditWriter::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TornTail {
    /// Seq of the last complete record before it (0 if none).
    pub after_seq: u64,
    /// Its line number in the log.
    pub line: u64,
    /// How many bytes were removed from the log (including a '\n' if it had one).
    pub bytes: u64,
    /// Where those bytes were saved.
    pub saved_to: PathBuf,
}

/// A record just appended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Its sequence number.
    pub seq: u64,
    /// Its hash (hex SHA-256), which the next record's `prev` will hold.
    pub hash: String,
}

/// The last complete record of the log, as far as opening needs it.
struct Tip {
    seq: u64,
    hash: String,
    prev: String,
    mac: Option<String>,
}

impl Tip {
    fn empty() -> Self {
        Self { seq: 0, hash: GENESIS.to_owned(), prev: GENESIS.to_owned(), mac: None }
    }
}

/// One line of the log read while scanning (without its '\n').
struct Line {
    start: u64,
    bytes: Vec<u8>,
}

/// The end of the log: its last two complete lines and a trailing partial line.
#[derive(Default)]
struct Scan {
    complete: u64,
    last: Option<Line>,
    before_last: Option<Line>,
    partial: Option<Line>,
}

/// Bytes to move aside.
struct Torn {
    line: u64,
    start: u64,
    bytes: Vec<u8>,
    reason: String,
}

impl AuditWriter {
    /// Opens (creating, mode 0600, parent dirs 0700) the log at `path`, checks the existing
    /// chain's last record (and only that: full verification is [`super::verify`]), and
    /// continues it. `key` adds an HMAC to every record; `sync` makes every append durable
    /// (fdatasync) before it returns.
    ///
    /// A torn last line (no trailing '\n', or a complete line that is not a record) is moved
    /// aside: its bytes are saved to `<log>.torn-<unix secs>`, the log is truncated to the last
    /// complete record, and a record of kind `recovery` is appended saying how many bytes after
    /// which seq were torn and where they were saved.
    ///
    /// # Errors
    ///
    /// [`AuditError::Io`] on file errors; [`AuditError::Tail`] if the last record was edited,
    /// or cannot be read while a torn line follows it; [`AuditError::KeyMismatch`] if the last
    /// record's MAC does not verify with `key`, or the log is keyed and `key` is `None` (or the
    /// reverse); [`AuditError::HeadFormat`] / [`AuditError::HeadMismatch`] if the head file
    /// shows records were removed from the end or the tail was rewritten.
    pub fn open(path: &Path, key: Option<Vec<u8>>, sync: bool) -> Result<(Self, OpenReport), AuditError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(AuditError::io("create the directory", parent))?;
        }
        let file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .mode(0o600)
            .open(path)
            .map_err(AuditError::io("open", path))?;
        let scan = scan(&file, path)?;
        let (records, last, torn) = split_torn(scan);
        let tip = match &last {
            Some(line) => check_tip(path, records, &line.bytes, key.as_deref())?,
            None => Tip::empty(),
        };
        let head = match chain::read_head(path)? {
            HeadState::Missing => None,
            HeadState::Invalid(source) => {
                return Err(AuditError::HeadFormat { path: chain::head_path(path), source });
            }
            HeadState::Present(head) => Some(head),
        };
        check_head(path, head.as_ref(), &tip, torn.is_some())?;

        let mut writer = Self {
            file,
            path: path.to_owned(),
            key,
            sync,
            last_seq: tip.seq,
            last_hash: tip.hash.clone(),
            poisoned: false,
        };
        let torn = match torn {
            Some(torn) => Some(writer.recover(torn)?),
            None => {
                let current = Head { seq: tip.seq, hash: tip.hash, mac: tip.mac };
                if tip.seq > 0 && head.as_ref() != Some(&current) {
                    write_head(path, &current, sync)?;
                }
                None
            }
        };
        Ok((writer, OpenReport { records, torn }))
    }

    /// Appends one record of `kind` with the fields of `body` (in the map's order). With
    /// `sync`, the record is on disk (fdatasync) when this returns. Returns its seq and hash.
    ///
    /// # Errors
    ///
    /// [`AuditError::ReservedField`] if `body` uses seq/ts/prev/kind/hash/mac (nothing is
    /// written); [`AuditError::Io`] on a write error. A failed record write poisons the writer
    /// ([`AuditError::Poisoned`] from then on: reopen to recover the tail); a failed head write
    /// leaves the record in the log and the head one behind, which the next append repairs.
    pub fn append(&mut self, kind: &str, body: &Map<String, Value>) -> Result<Appended, AuditError> {
        if self.poisoned {
            return Err(AuditError::Poisoned { path: self.path.clone() });
        }
        let seq = self.last_seq + 1;
        let ts = now_ts();
        let header = Header { seq, ts: &ts, prev: &self.last_hash, kind };
        let encoded = chain::encode(&header, body, self.key.as_deref())?;
        if let Err(source) = self.file.write_all(encoded.line.as_bytes()) {
            self.poisoned = true;
            return Err(AuditError::Io { action: "append to", path: self.path.clone(), source });
        }
        if self.sync {
            if let Err(source) = self.file.sync_data() {
                self.poisoned = true;
                return Err(AuditError::Io { action: "sync", path: self.path.clone(), source });
            }
        }
        self.last_seq = seq;
        self.last_hash.clone_from(&encoded.hash);
        write_head(&self.path, &Head { seq, hash: encoded.hash.clone(), mac: encoded.mac }, self.sync)?;
        Ok(Appended { seq, hash: encoded.hash })
    }

    /// Seq of the last record (0 for an empty log).
    pub fn last_seq(&self) -> u64 {
        self.last_seq
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Saves `torn` aside, truncates the log before it, and appends the recovery record.
    fn recover(&mut self, torn: Torn) -> Result<TornTail, AuditError> {
        let saved_to = save_torn(&self.path, &torn.bytes)?;
        self.file.set_len(torn.start).map_err(AuditError::io("truncate", &self.path))?;
        self.file.sync_all().map_err(AuditError::io("sync", &self.path))?;
        let tail = TornTail { after_seq: self.last_seq, line: torn.line, bytes: torn.bytes.len() as u64, saved_to };
        let mut body = Map::new();
        body.insert("after_seq".to_owned(), tail.after_seq.into());
        body.insert("line".to_owned(), tail.line.into());
        body.insert("bytes".to_owned(), tail.bytes.into());
        body.insert("saved_to".to_owned(), tail.saved_to.to_string_lossy().into_owned().into());
        body.insert("reason".to_owned(), torn.reason.into());
        self.append(RECOVERY_KIND, &body)?;
        Ok(tail)
    }
}

/// Reads the log once, keeping its last two complete lines and a trailing partial line.
fn scan(file: &File, path: &Path) -> Result<Scan, AuditError> {
    let mut reader = BufReader::new(file);
    let mut scan = Scan::default();
    let mut offset = 0u64;
    loop {
        let mut bytes = Vec::new();
        let n = reader.read_until(b'\n', &mut bytes).map_err(AuditError::io("read", path))?;
        if n == 0 {
            return Ok(scan);
        }
        let start = offset;
        offset += n as u64;
        if bytes.last() == Some(&b'\n') {
            bytes.pop();
            scan.before_last = scan.last.replace(Line { start, bytes });
            scan.complete += 1;
        } else {
            scan.partial = Some(Line { start, bytes });
        }
    }
}

/// Picks the torn line (a partial last line, or else a last line that is not a record) and
/// the last complete record before it. Returns (complete records, that record, torn).
fn split_torn(scan: Scan) -> (u64, Option<Line>, Option<Torn>) {
    let Scan { complete, last, before_last, partial } = scan;
    if let Some(partial) = partial {
        let torn = Torn {
            line: complete + 1,
            start: partial.start,
            bytes: partial.bytes,
            reason: "the line has no terminating newline".to_owned(),
        };
        return (complete, last, Some(torn));
    }
    match last {
        Some(last) => match Record::parse(&last.bytes) {
            Ok(_) => (complete, Some(last), None),
            Err(why) => {
                let mut bytes = last.bytes;
                bytes.push(b'\n');
                let torn = Torn {
                    line: complete,
                    start: last.start,
                    bytes,
                    reason: format!("the line is not a record: {why}"),
                };
                (complete - 1, before_last, Some(torn))
            }
        },
        None => (complete, None, None),
    }
}

/// Checks the last complete record (at `line`) and the key against it.
fn check_tip(path: &Path, line: u64, bytes: &[u8], key: Option<&[u8]>) -> Result<Tip, AuditError> {
    let tail_error = |reason: String| AuditError::Tail { path: path.to_owned(), line, reason };
    let key_error = |reason: String| AuditError::KeyMismatch { path: path.to_owned(), reason };
    let rec = Record::parse(bytes).map_err(|why| tail_error(format!("line {line} is not a record: {why}")))?;
    if !rec.hash_ok() {
        return Err(tail_error(format!(
            "line {line} (seq {}) was edited: its content does not match its hash",
            rec.seq
        )));
    }
    match (key, rec.mac) {
        (Some(key), Some(_)) if !rec.mac_ok(key) => {
            return Err(key_error(format!("the mac of line {line} (seq {}) does not verify with this key", rec.seq)));
        }
        (Some(_), None) => return Err(key_error("the log is not keyed (its last record has no mac)".to_owned())),
        (None, Some(_)) => return Err(key_error("the log is keyed: continuing it needs the key".to_owned())),
        _ => {}
    }
    Ok(Tip { seq: rec.seq, hash: rec.hash.to_owned(), prev: rec.prev, mac: rec.mac.map(str::to_owned) })
}

/// Checks the head against the last record: equal, one behind (crash between the append and
/// the head update), missing with at most one record, or (with a torn line, which may be the
/// record the head names) one ahead.
fn check_head(path: &Path, head: Option<&Head>, tip: &Tip, torn: bool) -> Result<(), AuditError> {
    let mismatch = |reason: String| Err(AuditError::HeadMismatch { path: path.to_owned(), reason });
    let Some(head) = head else {
        if tip.seq <= 1 {
            return Ok(());
        }
        return mismatch(format!("the head file is missing but the log ends at seq {}", tip.seq));
    };
    if head.seq == tip.seq {
        if head.hash != tip.hash || head.mac != tip.mac {
            return mismatch(format!("the head's hash or mac for seq {} differs from the last record's", head.seq));
        }
    } else if head.seq + 1 == tip.seq {
        if head.hash != tip.prev {
            return mismatch(format!("the head's hash for seq {} is not the last record's prev", head.seq));
        }
    } else if !(torn && head.seq == tip.seq + 1) {
        return mismatch(format!("the log ends at seq {} but its head records seq {}", tip.seq, head.seq));
    }
    Ok(())
}

/// Writes the head beside the log: to `<log>.head.tmp`, then renamed over `<log>.head`.
fn write_head(log: &Path, head: &Head, sync: bool) -> Result<(), AuditError> {
    let path = chain::head_path(log);
    let tmp = chain::sibling(&path, ".tmp");
    let mut json = serde_json::to_vec(head).map_err(|source| AuditError::HeadFormat { path: path.clone(), source })?;
    json.push(b'\n');
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(AuditError::io("create the head", &tmp))?;
    file.write_all(&json).map_err(AuditError::io("write the head", &tmp))?;
    if sync {
        file.sync_data().map_err(AuditError::io("sync the head", &tmp))?;
    }
    std::fs::rename(&tmp, &path).map_err(AuditError::io("rename the head into", &path))?;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    if let Some(dir) = dir.filter(|_| sync) {
        File::open(dir).and_then(|d| d.sync_all()).map_err(AuditError::io("sync the directory", dir))?;
    }
    Ok(())
}

/// Saves torn bytes to a new `<log>.torn-<unix secs>` (`-2`, `-3`, ... if taken), mode 0600.
fn save_torn(log: &Path, bytes: &[u8]) -> Result<PathBuf, AuditError> {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let base = chain::sibling(log, &format!(".torn-{secs}"));
    for attempt in 1..=TORN_NAME_ATTEMPTS {
        let path = if attempt == 1 { base.clone() } else { chain::sibling(&base, &format!("-{attempt}")) };
        match OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path) {
            Ok(mut file) => {
                file.write_all(bytes).map_err(AuditError::io("save the torn tail to", &path))?;
                file.sync_all().map_err(AuditError::io("sync", &path))?;
                return Ok(path);
            }
            Err(e) if e.kind() == ErrorKind::AlreadyExists => {}
            Err(source) => return Err(AuditError::Io { action: "create", path, source }),
        }
    }
    Err(AuditError::Io {
        action: "find a free name for the torn tail near",
        path: base,
        source: ErrorKind::AlreadyExists.into(),
    })
}

/// Now as UTC RFC 3339 with milliseconds. A clock before 1970 reads as 1970.
fn now_ts() -> String {
    format_ts(SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default())
}

/// Formats a time since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn format_ts(since_epoch: Duration) -> String {
    let secs = since_epoch.as_secs();
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since_epoch.subsec_millis()
    )
}

/// Proleptic Gregorian (year, month, day) of a day count since 1970-01-01 (H. Hinnant's
/// `civil_from_days`, restricted to non-negative days).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::audit::test_support::{TempDir, body};
    use crate::audit::{ProblemKind, verify};

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).expect("metadata").permissions().mode() & 0o777
    }

    fn lines(path: &Path) -> Vec<String> {
        std::fs::read_to_string(path).expect("read log").lines().map(str::to_owned).collect()
    }

    fn append_n(writer: &mut AuditWriter, n: u64) -> Vec<Appended> {
        (1..=n).map(|i| writer.append("block", &body(i)).expect("append")).collect()
    }

    #[test]
    fn format_ts_renders_utc_with_milliseconds() {
        assert_eq!(format_ts(Duration::ZERO), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_ts(Duration::from_millis(1_795_255_200_123)), "2026-11-21T10:00:00.123Z");
        assert_eq!(format_ts(Duration::from_millis(1_709_251_199_999)), "2024-02-29T23:59:59.999Z");
        assert_eq!(format_ts(Duration::from_secs(951_868_800)), "2000-03-01T00:00:00.000Z");
    }

    #[test]
    fn appended_records_chain_and_verify() {
        let dir = TempDir::new("append");
        let (mut writer, report) = AuditWriter::open(&dir.log(), None, true).expect("open");
        assert_eq!(report, OpenReport { records: 0, torn: None });
        let appended = append_n(&mut writer, 5);
        assert_eq!(appended.iter().map(|a| a.seq).collect::<Vec<_>>(), [1, 2, 3, 4, 5]);
        assert_eq!(writer.last_seq(), 5);
        let first = Record::parse(lines(&dir.log())[0].as_bytes()).expect("record").prev;
        assert_eq!(first, GENESIS);
        let report = verify(&dir.log(), None).expect("verify");
        assert!(report.ok(), "{:?}", report.problems);
        assert_eq!(report.records, 5);
        assert_eq!(report.last_hash.as_deref(), Some(appended[4].hash.as_str()));
    }

    #[test]
    fn reopening_continues_the_chain() {
        let dir = TempDir::new("reopen");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        let fifth = append_n(&mut writer, 5).pop().expect("five records");
        drop(writer);
        let (mut writer, report) = AuditWriter::open(&dir.log(), None, false).expect("reopen");
        assert_eq!(report, OpenReport { records: 5, torn: None });
        let sixth = writer.append("block", &body(6)).expect("append");
        assert_eq!(sixth.seq, 6);
        let rec = lines(&dir.log())[5].clone();
        assert_eq!(Record::parse(rec.as_bytes()).expect("record").prev, fifth.hash);
        assert!(verify(&dir.log(), None).expect("verify").ok());
    }

    #[test]
    fn new_log_is_private_and_its_parents_are_created_0700() {
        let dir = TempDir::new("modes");
        let log = dir.path().join("a/b/audit.log");
        let (mut writer, _) = AuditWriter::open(&log, None, false).expect("open");
        writer.append("block", &body(1)).expect("append");
        assert_eq!(mode(&log), 0o600);
        assert_eq!(mode(&chain::head_path(&log)), 0o600);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        assert_eq!(mode(&dir.path().join("a/b")), 0o700);
    }

    #[test]
    fn reserved_body_field_is_rejected_without_writing() {
        let dir = TempDir::new("reserved");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        let mut bad = body(1);
        bad.insert("prev".to_owned(), "x".into());
        assert!(matches!(writer.append("block", &bad), Err(AuditError::ReservedField { field }) if field == "prev"));
        assert_eq!(writer.last_seq(), 0);
        assert_eq!(std::fs::metadata(dir.log()).expect("metadata").len(), 0);
    }

    #[test]
    fn torn_tail_is_saved_aside_truncated_and_recorded() {
        let dir = TempDir::new("torn");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        append_n(&mut writer, 3);
        drop(writer);
        let clean_len = std::fs::metadata(dir.log()).expect("metadata").len();
        let partial = b"{\"seq\":4,\"ts\":\"2026-11-21T10:00:00";
        let mut file = OpenOptions::new().append(true).open(dir.log()).expect("open log");
        file.write_all(partial).expect("write partial line");
        drop(file);

        let before = verify(&dir.log(), None).expect("verify");
        assert_eq!(before.problems.len(), 1, "{:?}", before.problems);
        assert_eq!((before.problems[0].kind, before.problems[0].line), (ProblemKind::TornTail, 4));

        let (mut writer, report) = AuditWriter::open(&dir.log(), None, false).expect("reopen");
        let torn = report.torn.expect("torn tail reported");
        assert_eq!(report.records, 3);
        assert_eq!((torn.after_seq, torn.line, torn.bytes), (3, 4, partial.len() as u64));
        assert_eq!(std::fs::read(&torn.saved_to).expect("saved bytes"), partial);
        assert_eq!(mode(&torn.saved_to), 0o600);
        assert!(std::fs::metadata(dir.log()).expect("metadata").len() > clean_len);
        let recovery = serde_json::from_str::<Value>(&lines(&dir.log())[3]).expect("json");
        assert_eq!(recovery["kind"], "recovery");
        assert_eq!(recovery["seq"], 4);
        assert_eq!(recovery["after_seq"], 3);
        assert_eq!(recovery["bytes"], partial.len() as u64);
        assert_eq!(writer.append("block", &body(5)).expect("append").seq, 5);

        let after = verify(&dir.log(), None).expect("verify");
        assert!(after.ok(), "{:?}", after.problems);
        assert_eq!(after.recoveries, [4]);
    }

    #[test]
    fn complete_last_line_that_is_not_a_record_is_moved_aside() {
        let dir = TempDir::new("garbage");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        append_n(&mut writer, 2);
        drop(writer);
        let mut file = OpenOptions::new().append(true).open(dir.log()).expect("open log");
        file.write_all(b"\0\0\0\n").expect("write garbage");
        drop(file);
        let (_, report) = AuditWriter::open(&dir.log(), None, false).expect("reopen");
        let torn = report.torn.expect("torn");
        assert_eq!((torn.after_seq, torn.line, torn.bytes), (2, 3, 4));
        let after = verify(&dir.log(), None).expect("verify");
        assert!(after.ok(), "{:?}", after.problems);
        assert_eq!(after.recoveries, [3]);
    }

    #[test]
    fn open_refuses_an_edited_last_record() {
        let dir = TempDir::new("edited-tail");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        append_n(&mut writer, 2);
        drop(writer);
        let text = std::fs::read_to_string(dir.log()).expect("read");
        std::fs::write(dir.log(), text.replace("10.0.0.2", "10.0.0.9")).expect("write");
        assert!(matches!(AuditWriter::open(&dir.log(), None, false), Err(AuditError::Tail { line: 2, .. })));
    }

    #[test]
    fn open_refuses_a_log_truncated_below_its_head() {
        let dir = TempDir::new("truncated");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        append_n(&mut writer, 4);
        drop(writer);
        let kept: String = lines(&dir.log())[..2].iter().map(|l| format!("{l}\n")).collect();
        std::fs::write(dir.log(), kept).expect("truncate");
        assert!(matches!(AuditWriter::open(&dir.log(), None, false), Err(AuditError::HeadMismatch { .. })));
    }

    #[test]
    fn head_one_record_behind_after_a_crash_is_repaired_on_open() {
        let dir = TempDir::new("lag");
        let (mut writer, _) = AuditWriter::open(&dir.log(), None, false).expect("open");
        append_n(&mut writer, 2);
        let head_after_two = std::fs::read(chain::head_path(&dir.log())).expect("head");
        writer.append("block", &body(3)).expect("append");
        drop(writer);
        std::fs::write(chain::head_path(&dir.log()), head_after_two).expect("roll back head");
        let (writer, report) = AuditWriter::open(&dir.log(), None, false).expect("reopen");
        assert_eq!((writer.last_seq(), report.records), (3, 3));
        assert!(verify(&dir.log(), None).expect("verify").ok());
        let HeadState::Present(head) = chain::read_head(&dir.log()).expect("head") else { panic!("head missing") };
        assert_eq!(head.seq, 3);
    }

    #[test]
    fn open_refuses_a_wrong_key_and_a_keyed_or_unkeyed_mismatch() {
        let dir = TempDir::new("keys");
        let (mut writer, _) = AuditWriter::open(&dir.log(), Some(vec![7; 32]), false).expect("open");
        append_n(&mut writer, 2);
        drop(writer);
        let wrong = AuditWriter::open(&dir.log(), Some(vec![8; 32]), false);
        assert!(matches!(wrong, Err(AuditError::KeyMismatch { .. })));
        assert!(matches!(AuditWriter::open(&dir.log(), None, false), Err(AuditError::KeyMismatch { .. })));
        let (mut writer, _) = AuditWriter::open(&dir.log(), Some(vec![7; 32]), false).expect("right key");
        writer.append("block", &body(3)).expect("append");
        assert!(verify(&dir.log(), Some(&[7; 32])).expect("verify").ok());

        let plain = TempDir::new("keys-plain");
        let (mut writer, _) = AuditWriter::open(&plain.log(), None, false).expect("open");
        append_n(&mut writer, 1);
        drop(writer);
        let keyed = AuditWriter::open(&plain.log(), Some(vec![7; 32]), false);
        assert!(matches!(keyed, Err(AuditError::KeyMismatch { .. })));
    }
}
