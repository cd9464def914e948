//! Full verification of an audit log ([`verify`]) and reading its records for display
//! ([`read_records`]).
//!
//! Verification reads every line, reports every problem it finds (it never stops at the
//! first), and names the lines and seqs involved. Each record is checked on its own (parses,
//! matches its hash, carries a valid MAC when a key is given), then against its neighbours
//! (seq is one more than the highest before it, prev is the hash of the record before it), and
//! the last one against the head file.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use serde_json::Value;

use super::AuditError;
use super::chain::{self, GENESIS, Head, HeadState, RECOVERY_KIND, Record};

/// The outcome of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Lines that parsed as records (whatever else is wrong with them).
    pub records: u64,
    /// Whether MACs were checked (a key was given).
    pub keyed: bool,
    /// Every integrity problem, in line order (head problems last).
    pub problems: Vec<Problem>,
    /// Lines of `recovery` records (torn tails moved aside by the writer): not problems, but
    /// worth showing.
    pub recoveries: Vec<u64>,
    /// Hash of the last record, if any.
    pub last_hash: Option<String>,
}

impl VerifyReport {
    /// True when no problem was found.
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// One integrity problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line it was found at (1-based); for head problems, the last record's line (0 if none).
    pub line: u64,
    /// The seq of the record at that line, when known.
    pub seq: Option<u64>,
    /// What kind of problem.
    pub kind: ProblemKind,
    /// A sentence naming the lines and seqs involved.
    pub detail: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind, self.detail)
    }
}

/// Kinds of integrity problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProblemKind {
    /// The line does not parse as a record.
    NotARecord,
    /// The record's content does not match its hash.
    Edited,
    /// The record's prev is not the hash of the record before it.
    BrokenChain,
    /// Seqs are missing before this record.
    Missing,
    /// The record's seq repeats or goes back, or comes before seqs found later.
    OutOfOrder,
    /// The record's MAC does not verify with the key.
    BadMac,
    /// The record has no MAC although a key was given.
    MissingMac,
    /// Records were removed from the end (or the head is missing).
    Truncated,
    /// The last line has no terminating newline (an interrupted write).
    TornTail,
    /// The head file does not match the record it names.
    HeadMismatch,
}

impl fmt::Display for ProblemKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotARecord => "not a record",
            Self::Edited => "edited",
            Self::BrokenChain => "broken chain",
            Self::Missing => "missing",
            Self::OutOfOrder => "out of order",
            Self::BadMac => "bad mac",
            Self::MissingMac => "missing mac",
            Self::Truncated => "truncated",
            Self::TornTail => "torn tail",
            Self::HeadMismatch => "head mismatch",
        })
    }
}

/// Fully verifies the log at `path` (and its head file); with `key`, every MAC too.
///
/// # Errors
///
/// [`AuditError::Io`] when the log or head cannot be read (a missing log included). Every
/// integrity problem is in the report instead.
pub fn verify(path: &Path, key: Option<&[u8]>) -> Result<VerifyReport, AuditError> {
    let data = std::fs::read(path).map_err(AuditError::io("read", path))?;
    let head = chain::read_head(path)?;
    let (lines, torn) = split_lines(&data);

    let mut problems = Vec::new();
    let mut entries = Vec::new();
    for (line, bytes) in lines {
        match Record::parse(bytes) {
            Ok(rec) => entries.push(Entry { line, rec }),
            Err(why) => problems.push(Problem {
                line,
                seq: None,
                kind: ProblemKind::NotARecord,
                detail: format!("line {line} is not a record: {why}"),
            }),
        }
    }
    let mut walk = Walk::new(&entries, key);
    for (i, entry) in entries.iter().enumerate() {
        walk.check(i, entry);
    }
    problems.append(&mut walk.problems);
    if let Some((line, bytes)) = torn {
        problems.push(Problem {
            line,
            seq: Record::parse(bytes).ok().map(|r| r.seq),
            kind: ProblemKind::TornTail,
            detail: format!(
                "line {line} is torn: its {} byte(s) have no terminating newline (an interrupted write); \
                 opening the log for writing moves it aside",
                bytes.len()
            ),
        });
    }
    problems.sort_by_key(|p| p.line);
    check_head(path, head, &entries, &mut problems);

    Ok(VerifyReport {
        records: entries.len() as u64,
        keyed: key.is_some(),
        problems,
        recoveries: walk.recoveries,
        last_hash: entries.last().map(|e| e.rec.hash.to_owned()),
    })
}

/// Reads every record of the log as a JSON value, for display: (line, value) pairs. Lines
/// that are not JSON are skipped; nothing is verified.
///
/// # Errors
///
/// [`AuditError::Io`] when the log cannot be read.
pub fn read_records(path: &Path) -> Result<Vec<(u64, Value)>, AuditError> {
    let data = std::fs::read(path).map_err(AuditError::io("read", path))?;
    let (lines, torn) = split_lines(&data);
    Ok(lines
        .into_iter()
        .chain(torn)
        .filter_map(|(n, bytes)| serde_json::from_slice(bytes).ok().map(|v| (n, v)))
        .collect())
}

/// A 1-based line number and the line's bytes (without '\n').
type NumberedLine<'a> = (u64, &'a [u8]);

/// Splits the log into numbered complete lines and a trailing partial line.
fn split_lines(data: &[u8]) -> (Vec<NumberedLine<'_>>, Option<NumberedLine<'_>>) {
    let mut parts: Vec<&[u8]> = data.split(|&b| b == b'\n').collect();
    // `split` yields one part after the last '\n': empty when the log ends with '\n'.
    let tail = parts.pop().filter(|p| !p.is_empty());
    let numbered = (1u64..).zip(parts).collect::<Vec<_>>();
    let torn = tail.map(|bytes| (numbered.len() as u64 + 1, bytes));
    (numbered, torn)
}

/// A line that parsed as a record.
struct Entry<'a> {
    line: u64,
    rec: Record<'a>,
}

/// Walks the records in order, checking each against itself and its predecessor.
struct Walk<'e, 'a> {
    entries: &'e [Entry<'a>],
    key: Option<&'e [u8]>,
    /// Stored hash -> index of the first record with it.
    by_hash: HashMap<&'a str, usize>,
    /// Seq -> index of the first record with it.
    by_seq: BTreeMap<u64, usize>,
    /// Highest seq so far and its index.
    max: Option<(u64, usize)>,
    problems: Vec<Problem>,
    recoveries: Vec<u64>,
}

impl<'e, 'a> Walk<'e, 'a> {
    fn new(entries: &'e [Entry<'a>], key: Option<&'e [u8]>) -> Self {
        let mut by_hash = HashMap::new();
        let mut by_seq = BTreeMap::new();
        for (i, e) in entries.iter().enumerate() {
            by_hash.entry(e.rec.hash).or_insert(i);
            by_seq.entry(e.rec.seq).or_insert(i);
        }
        Self { entries, key, by_hash, by_seq, max: None, problems: Vec::new(), recoveries: Vec::new() }
    }

    fn push(&mut self, entry: &Entry<'_>, kind: ProblemKind, detail: String) {
        self.problems.push(Problem { line: entry.line, seq: Some(entry.rec.seq), kind, detail });
    }

    /// "line L (seq S)" of the entry at `index`.
    fn name(&self, index: usize) -> String {
        let e = &self.entries[index];
        format!("line {} (seq {})", e.line, e.rec.seq)
    }

    fn check(&mut self, index: usize, entry: &Entry<'_>) {
        let (line, seq) = (entry.line, entry.rec.seq);
        if !entry.rec.hash_ok() {
            self.push(
                entry,
                ProblemKind::Edited,
                format!("line {line} (seq {seq}) was edited: its content does not match its hash"),
            );
        }
        if let Some(key) = self.key {
            if entry.rec.mac.is_none() {
                self.push(
                    entry,
                    ProblemKind::MissingMac,
                    format!("line {line} (seq {seq}) has no mac, but the log is verified with a key"),
                );
            } else if !entry.rec.mac_ok(key) {
                self.push(
                    entry,
                    ProblemKind::BadMac,
                    format!("line {line} (seq {seq}) has a mac that does not verify with the key: it was rewritten without the key, or written with another"),
                );
            }
        }
        self.check_seq(index, entry);
        self.check_prev(index, entry);
        if entry.rec.kind == RECOVERY_KIND {
            self.recoveries.push(line);
        }
        if self.max.is_none_or(|(max, _)| seq > max) {
            self.max = Some((seq, index));
        }
    }

    /// Seq must be one more than the highest seq before it.
    fn check_seq(&mut self, index: usize, entry: &Entry<'_>) {
        let (line, seq) = (entry.line, entry.rec.seq);
        let (max_seq, max_index) = self.max.map_or((0, None), |(s, i)| (s, Some(i)));
        if Some(seq) == max_seq.checked_add(1) {
            return;
        }
        if seq <= max_seq {
            let detail = match self.by_seq.get(&seq) {
                Some(&first) if first != index => format!("line {line} repeats seq {seq} of {}", self.name(first)),
                _ => match max_index {
                    Some(m) => {
                        format!("line {line} has seq {seq} but comes after {}: records were reordered", self.name(m))
                    }
                    None => format!("line {line} has seq {seq}, but seqs start at 1"),
                },
            };
            self.push(entry, ProblemKind::OutOfOrder, detail);
            return;
        }
        // A gap: seqs max_seq+1 ..= seq-1 are absent here; those found later were reordered.
        let later: Vec<(u64, usize)> = self.by_seq.range(max_seq + 1..seq).map(|(&s, &i)| (s, i)).collect();
        if let Some(&(_, at)) = later.first() {
            let detail = format!("line {line} (seq {seq}) comes before {}: records were reordered", self.name(at));
            self.push(entry, ProblemKind::OutOfOrder, detail);
        }
        let mut ranges = Vec::new();
        let mut from = max_seq + 1;
        for &(s, _) in later.iter().chain(std::iter::once(&(seq, index))) {
            if s > from {
                ranges.push(if s - 1 == from { format!("{from}") } else { format!("{from}..{}", s - 1) });
            }
            from = s + 1;
        }
        if ranges.is_empty() {
            return;
        }
        let place = match index.checked_sub(1) {
            Some(p) => format!("between line {} and line {line}", self.entries[p].line),
            None => format!("before line {line}"),
        };
        self.push(entry, ProblemKind::Missing, format!("seq {} missing {place}", ranges.join(", ")));
    }

    /// Prev must be the (stored) hash of the record before it, or the genesis value first.
    fn check_prev(&mut self, index: usize, entry: &Entry<'_>) {
        let (line, seq) = (entry.line, entry.rec.seq);
        let before = index.checked_sub(1);
        let expected = before.map_or(GENESIS, |p| self.entries[p].rec.hash);
        let prev = entry.rec.prev.as_str();
        if prev == expected {
            return;
        }
        let points_at = self.by_hash.get(prev).copied().filter(|&i| i != index);
        let detail = match (before, points_at) {
            (None, Some(at)) => format!(
                "line {line} (seq {seq}) starts the log but its prev is the hash of {}: records were reordered",
                self.name(at)
            ),
            (None, None) => format!(
                "line {line} (seq {seq}) starts the log but its prev is not the genesis value: records before it were removed"
            ),
            (Some(p), Some(at)) => format!(
                "line {line} (seq {seq}) does not chain to {}: its prev is the hash of {}, so records between were removed or reordered",
                self.name(p),
                self.name(at)
            ),
            (Some(p), None) if prev == GENESIS => {
                format!(
                    "line {line} (seq {seq}) has the genesis prev but follows {}: records were reordered",
                    self.name(p)
                )
            }
            (Some(p), None) if Some(seq) == self.entries[p].rec.seq.checked_add(1) => format!(
                "line {line} (seq {seq}) does not chain to {}: that line was changed (its hash differs from this prev) or this prev was altered",
                self.name(p)
            ),
            (Some(p), None) => format!(
                "line {line} (seq {seq}) does not chain to {}: records between them were removed or reordered",
                self.name(p)
            ),
        };
        self.push(entry, ProblemKind::BrokenChain, detail);
    }
}

/// Checks the head file against the log's records.
fn check_head(path: &Path, head: HeadState, entries: &[Entry<'_>], problems: &mut Vec<Problem>) {
    let head_path = chain::head_path(path);
    let last = entries.last();
    let (line, last_seq) = last.map_or((0, 0), |e| (e.line, e.rec.seq));
    let mut report = |kind, seq, detail| problems.push(Problem { line, seq, kind, detail });
    let head: Head = match head {
        HeadState::Missing if last.is_none() => return,
        HeadState::Missing => {
            return report(
                ProblemKind::Truncated,
                Some(last_seq),
                format!(
                    "the head file {} is missing, so removal of records after seq {last_seq} (line {line}) cannot be ruled out",
                    head_path.display()
                ),
            );
        }
        HeadState::Invalid(e) => {
            return report(
                ProblemKind::HeadMismatch,
                None,
                format!("the head file {} is not valid ({e})", head_path.display()),
            );
        }
        HeadState::Present(head) => head,
    };
    if head.seq > last_seq {
        let ends = if last.is_some() { format!("ends at seq {last_seq}") } else { "is empty".to_owned() };
        let removed = head.seq - last_seq;
        let detail =
            format!("the log {ends} but its head records seq {}: {removed} record(s) removed from the end", head.seq);
        return report(ProblemKind::Truncated, Some(head.seq), detail);
    }
    let Some(named) = entries.iter().rev().find(|e| e.rec.seq == head.seq) else {
        let detail = format!("the head records seq {}, which is not in the log", head.seq);
        return report(ProblemKind::HeadMismatch, Some(head.seq), detail);
    };
    let named_line = named.line;
    if named.rec.hash != head.hash {
        let detail = format!(
            "the head records hash {} for seq {} but line {named_line} (seq {}) has hash {}: the record or the head was rewritten",
            short(&head.hash),
            head.seq,
            head.seq,
            short(named.rec.hash)
        );
        report(ProblemKind::HeadMismatch, Some(head.seq), detail);
    } else if head.mac.as_deref() != named.rec.mac {
        let detail = format!(
            "the head's mac for seq {} differs from that of line {named_line}: the record or the head was rewritten",
            head.seq
        );
        report(ProblemKind::HeadMismatch, Some(head.seq), detail);
    }
    // One behind is the crash window between appending a record and renaming the head.
    if head.seq + 1 < last_seq {
        let detail = format!(
            "the head records seq {} but the log continues to seq {last_seq}: records were appended without updating the head",
            head.seq
        );
        report(ProblemKind::HeadMismatch, Some(head.seq), detail);
    }
}

/// The first 12 hex characters of a hash, for messages.
fn short(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use serde_json::Map;

    use super::*;
    use crate::audit::AuditWriter;
    use crate::audit::chain::{record_mac, sha256_hex};
    use crate::audit::test_support::{TempDir, body};

    const KEY: &[u8] = &[0x42; 32];

    /// A log of `n` records in a fresh directory.
    fn log_of(name: &str, n: u64, key: Option<&[u8]>) -> (TempDir, PathBuf) {
        let dir = TempDir::new(name);
        let log = dir.log();
        let (mut writer, _) = AuditWriter::open(&log, key.map(<[u8]>::to_vec), false).expect("open");
        for i in 1..=n {
            writer.append("block", &body(i)).expect("append");
        }
        (dir, log)
    }

    fn read_lines(log: &Path) -> Vec<String> {
        std::fs::read_to_string(log).expect("read").lines().map(str::to_owned).collect()
    }

    fn write_lines(log: &Path, lines: &[String]) {
        std::fs::write(log, lines.iter().map(|l| format!("{l}\n")).collect::<String>()).expect("write");
    }

    fn kinds(report: &VerifyReport) -> Vec<(u64, ProblemKind)> {
        report.problems.iter().map(|p| (p.line, p.kind)).collect()
    }

    /// Re-hashes `line` with a new prev (as an attacker without the key would), keeping any
    /// stale mac. Returns the line and its new hash.
    fn rehash(line: &str, new_prev: &str) -> (String, String) {
        let old = Record::parse(line.as_bytes()).expect("record");
        let prefix = std::str::from_utf8(old.prefix).expect("utf8").replace(&old.prev, new_prev);
        let hash = sha256_hex(prefix.as_bytes());
        let mac = old.mac.map(|m| format!(",\"mac\":\"{m}\"")).unwrap_or_default();
        (format!("{prefix},\"hash\":\"{hash}\"{mac}}}"), hash)
    }

    fn assert_every_flip_detected(log: &Path, key: Option<&[u8]>) {
        let original = std::fs::read(log).expect("read");
        assert!(verify(log, key).expect("verify").ok());
        for offset in 0..original.len() {
            let mut flipped = original.clone();
            flipped[offset] ^= 0x01;
            std::fs::write(log, &flipped).expect("write");
            let report = verify(log, key).expect("verify");
            assert!(!report.ok(), "flipping byte {offset} ({:?}) went unnoticed", original[offset] as char);
        }
        std::fs::write(log, &original).expect("restore");
        assert!(verify(log, key).expect("verify").ok());
    }

    #[test]
    fn every_single_byte_flip_is_detected() {
        let (_dir, log) = log_of("flip", 4, None);
        assert_every_flip_detected(&log, None);
    }

    #[test]
    fn every_single_byte_flip_of_a_keyed_log_is_detected_with_the_key() {
        let (_dir, log) = log_of("flip-keyed", 4, Some(KEY));
        assert_every_flip_detected(&log, Some(KEY));
    }

    #[test]
    fn an_edit_is_reported_at_its_line_and_seq() {
        let (_dir, log) = log_of("edit", 4, None);
        let mut lines = read_lines(&log);
        lines[2] = lines[2].replace("\"block\"", "\"allow\"");
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(3, ProblemKind::Edited)]);
        assert_eq!(report.problems[0].seq, Some(3));
        assert_eq!(report.problems[0].detail, "line 3 (seq 3) was edited: its content does not match its hash");
    }

    #[test]
    fn deleting_the_first_record_is_reported_at_line_1() {
        let (_dir, log) = log_of("del-first", 4, None);
        let mut lines = read_lines(&log);
        lines.remove(0);
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(1, ProblemKind::Missing), (1, ProblemKind::BrokenChain)]);
        assert_eq!(report.problems[0].detail, "seq 1 missing before line 1");
        assert_eq!(report.problems[0].seq, Some(2));
    }

    #[test]
    fn deleting_a_middle_record_is_reported_where_the_gap_is() {
        let (_dir, log) = log_of("del-middle", 5, None);
        let mut lines = read_lines(&log);
        lines.drain(2..4);
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(3, ProblemKind::Missing), (3, ProblemKind::BrokenChain)]);
        assert_eq!(report.problems[0].detail, "seq 3..4 missing between line 2 and line 3");
        assert_eq!(report.problems[0].seq, Some(5));
    }

    #[test]
    fn deleting_the_last_record_is_reported_as_truncation() {
        let (_dir, log) = log_of("del-last", 4, None);
        let mut lines = read_lines(&log);
        lines.pop();
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(3, ProblemKind::Truncated)]);
        assert_eq!(
            report.problems[0].detail,
            "the log ends at seq 3 but its head records seq 4: 1 record(s) removed from the end"
        );
    }

    #[test]
    fn truncating_several_records_reports_how_many_were_removed() {
        let (_dir, log) = log_of("truncate", 5, None);
        let lines = read_lines(&log);
        write_lines(&log, &lines[..2]);
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(2, ProblemKind::Truncated)]);
        assert!(report.problems[0].detail.contains("3 record(s) removed"), "{}", report.problems[0].detail);
    }

    #[test]
    fn emptying_the_log_is_reported_through_the_head() {
        let (_dir, log) = log_of("empty", 3, None);
        std::fs::write(&log, "").expect("write");
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(0, ProblemKind::Truncated)]);
    }

    #[test]
    fn swapping_adjacent_records_is_reported_as_out_of_order() {
        let (_dir, log) = log_of("swap", 4, None);
        let mut lines = read_lines(&log);
        lines.swap(1, 2);
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        assert_eq!(
            kinds(&report),
            [
                (2, ProblemKind::OutOfOrder),
                (2, ProblemKind::BrokenChain),
                (3, ProblemKind::OutOfOrder),
                (3, ProblemKind::BrokenChain),
                (4, ProblemKind::BrokenChain),
            ]
        );
        assert!(!report.problems.iter().any(|p| p.kind == ProblemKind::Missing));
    }

    #[test]
    fn a_duplicated_record_is_reported_as_a_repeat() {
        let (_dir, log) = log_of("dup", 3, None);
        let mut lines = read_lines(&log);
        lines.insert(2, lines[1].clone());
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        let out = report.problems.iter().find(|p| p.kind == ProblemKind::OutOfOrder).expect("out of order");
        assert_eq!((out.line, out.detail.as_str()), (3, "line 3 repeats seq 2 of line 2 (seq 2)"));
    }

    #[test]
    fn a_line_that_is_not_a_record_is_reported_and_the_rest_still_checked() {
        let (_dir, log) = log_of("garbage", 3, None);
        let mut lines = read_lines(&log);
        lines[1] = "not json".to_owned();
        write_lines(&log, &lines);
        let report = verify(&log, None).expect("verify");
        assert_eq!(
            kinds(&report),
            [(2, ProblemKind::NotARecord), (3, ProblemKind::Missing), (3, ProblemKind::BrokenChain)]
        );
    }

    #[test]
    fn a_partial_last_line_is_reported_as_torn() {
        let (_dir, log) = log_of("torn", 2, None);
        let mut bytes = std::fs::read(&log).expect("read");
        bytes.extend_from_slice(b"{\"seq\":3,");
        std::fs::write(&log, bytes).expect("write");
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(3, ProblemKind::TornTail)]);
        assert_eq!(report.records, 2);
    }

    #[test]
    fn a_missing_head_is_reported_only_when_records_exist() {
        let (dir, log) = log_of("no-head", 2, None);
        std::fs::remove_file(chain::head_path(&log)).expect("remove head");
        let report = verify(&log, None).expect("verify");
        assert_eq!(kinds(&report), [(2, ProblemKind::Truncated)]);
        assert!(report.problems[0].detail.contains("is missing"));
        let empty = dir.path().join("empty.log");
        std::fs::write(&empty, "").expect("write");
        assert!(verify(&empty, None).expect("verify").ok());
    }

    #[test]
    fn a_missing_log_is_an_io_error() {
        let dir = TempDir::new("missing");
        assert!(matches!(verify(&dir.log(), None), Err(AuditError::Io { .. })));
    }

    #[test]
    fn a_wrong_key_is_reported_as_bad_mac_on_every_record() {
        let (_dir, log) = log_of("wrong-key", 3, Some(KEY));
        let report = verify(&log, Some(&[0x43; 32])).expect("verify");
        assert_eq!(kinds(&report), [(1, ProblemKind::BadMac), (2, ProblemKind::BadMac), (3, ProblemKind::BadMac)]);
        assert!(report.keyed);
    }

    #[test]
    fn an_unkeyed_log_verified_with_a_key_reports_missing_macs() {
        let (_dir, log) = log_of("unkeyed", 2, None);
        let report = verify(&log, Some(KEY)).expect("verify");
        assert_eq!(kinds(&report), [(1, ProblemKind::MissingMac), (2, ProblemKind::MissingMac)]);
    }

    #[test]
    fn stripping_a_mac_is_reported_with_the_key() {
        let (_dir, log) = log_of("strip", 2, Some(KEY));
        let mut lines = read_lines(&log);
        let rec = Record::parse(lines[0].as_bytes()).expect("record");
        let stripped = format!("{},\"hash\":\"{}\"}}", std::str::from_utf8(rec.prefix).expect("utf8"), rec.hash);
        lines[0] = stripped;
        write_lines(&log, &lines);
        assert_eq!(kinds(&verify(&log, Some(KEY)).expect("verify")), [(1, ProblemKind::MissingMac)]);
    }

    #[test]
    fn a_rewrite_without_the_key_shows_only_as_bad_macs_or_through_the_head() {
        let (_dir, log) = log_of("rewrite", 4, Some(KEY));
        let original = read_lines(&log);
        // The attacker edits record 2 and re-hashes it and every record after it.
        let mut lines = original.clone();
        let mut prev = Record::parse(lines[0].as_bytes()).expect("record").hash.to_owned();
        for (i, line) in lines.iter_mut().enumerate().skip(1) {
            let edited = if i == 1 { line.replace("10.0.0.2", "10.0.0.99") } else { line.clone() };
            let (rewritten, hash) = rehash(&edited, &prev);
            *line = rewritten;
            prev = hash;
        }
        write_lines(&log, &lines);

        let with_key = verify(&log, Some(KEY)).expect("verify");
        let bad_macs: Vec<u64> =
            with_key.problems.iter().filter(|p| p.kind == ProblemKind::BadMac).map(|p| p.line).collect();
        assert_eq!(bad_macs, [2, 3, 4]);
        // Without the key the chain is consistent again: only the head, not rewritten, differs.
        let without_key = verify(&log, None).expect("verify");
        assert_eq!(kinds(&without_key), [(4, ProblemKind::HeadMismatch)]);

        // If the attacker also rewrites the head, only the key can tell.
        let last = Record::parse(lines[3].as_bytes()).expect("record");
        let head = Head { seq: 4, hash: last.hash.to_owned(), mac: last.mac.map(str::to_owned) };
        std::fs::write(chain::head_path(&log), serde_json::to_vec(&head).expect("json")).expect("write head");
        assert!(verify(&log, None).expect("verify").ok(), "a full rewrite is undetectable without the key");
        let with_key = verify(&log, Some(KEY)).expect("verify");
        assert_eq!(kinds(&with_key), [(2, ProblemKind::BadMac), (3, ProblemKind::BadMac), (4, ProblemKind::BadMac)]);
    }

    #[test]
    fn a_record_forged_with_the_right_key_material_verifies() {
        // Guards the BadMac tests above: a mac computed as documented must pass.
        let (_dir, log) = log_of("forge", 1, Some(KEY));
        let lines = read_lines(&log);
        let rec = Record::parse(lines[0].as_bytes()).expect("record");
        assert_eq!(rec.mac, Some(record_mac(KEY, rec.prefix, rec.hash).as_str()));
    }

    #[test]
    fn recovery_records_are_listed_not_reported() {
        let (_dir, log) = log_of("recovery", 1, None);
        let (mut writer, _) = AuditWriter::open(&log, None, false).expect("open");
        let mut body = Map::new();
        body.insert("after_seq".to_owned(), 1.into());
        writer.append(RECOVERY_KIND, &body).expect("append");
        let report = verify(&log, None).expect("verify");
        assert!(report.ok());
        assert_eq!(report.recoveries, [2]);
    }

    #[test]
    fn read_records_returns_json_lines_and_skips_bad_ones() {
        let (_dir, log) = log_of("read", 3, None);
        let mut lines = read_lines(&log);
        lines[1] = "{broken".to_owned();
        write_lines(&log, &lines);
        let records = read_records(&log).expect("read");
        assert_eq!(
            records.iter().map(|(n, v)| (*n, v["seq"].as_u64())).collect::<Vec<_>>(),
            [(1, Some(1)), (3, Some(3))]
        );
        assert_eq!(records[0].1["ip"], "10.0.0.1");
    }
}
