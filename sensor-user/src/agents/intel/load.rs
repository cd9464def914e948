//! Reading feed files into an [`IndicatorSetBuilder`]: plain lists, CSV, Suricata dataset
//! files and MISP JSON exports ([`super::misp`]), the format given by the feed config or
//! detected from the extension and the content. A bad line is reported with its file and
//! line number and the reason, and the rest of the file is loaded; a file that cannot be
//! used at all (missing, unreadable, compressed, UTF-16, broken JSON) is reported and its
//! feed skipped. Reports keep the first [`ERRORS_KEPT`] bad lines of each file and count the
//! rest.

use std::{fmt, path::Path, sync::Arc};

use super::{
    DatasetType, FeedConfig, Format,
    indicators::{Counts, DESCRIPTION_MAX, HashKind, IndicatorSetBuilder, Inserted, Meta, Mirror, technique_id},
    misp,
    parse::{ParseOpts, Want, base64_decode, parse_indicator},
};
use crate::agents::finding::Severity;

/// Longest line of a plain list or dataset file, bytes.
pub const MAX_LINE: usize = 4096;
/// Longest CSV record (quoted fields may span lines), bytes.
pub const MAX_RECORD: usize = 65_536;
/// Bad lines kept per file in the report (the rest are counted).
pub const ERRORS_KEPT: usize = 50;
/// Confidence factor for a domain taken from a URL with a path (see
/// [`super::parse::Parsed::from_url_path`]).
pub const URL_PATH_FACTOR: f32 = 0.5;

/// Limits of one load.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest file read, bytes.
    pub max_file_bytes: u64,
    /// Prefix limits.
    pub parse: ParseOpts,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_file_bytes: 512 << 20, parse: ParseOpts::default() }
    }
}

/// A feed file that could not be used at all.
#[derive(Clone, Debug, thiserror::Error)]
pub enum FeedError {
    /// The feed entry has an empty `path`.
    #[error("feed {feed:?} has no path")]
    NoPath {
        /// Feed name.
        feed: String,
    },
    /// The file could not be read.
    #[error("reading {path}")]
    Read {
        /// File.
        path: String,
        /// Cause.
        #[source]
        source: Arc<std::io::Error>,
    },
    /// The file is larger than `max_file_mb`.
    #[error("{path} is {size} bytes, over the limit of {max} bytes (max_file_mb)")]
    TooLarge {
        /// File.
        path: String,
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },
    /// The file is not UTF-8 text (compressed, UTF-16...).
    #[error("{path} is {what}: decompress or convert it to UTF-8 text first")]
    Encoding {
        /// File.
        path: String,
        /// What it looks like.
        what: &'static str,
    },
    /// A dataset feed without `dataset_type`.
    #[error("{path}: format \"dataset\" needs dataset_type = ipv4|ipv6|ip|string|md5|sha1|sha256")]
    NoDatasetType {
        /// File.
        path: String,
    },
    /// The JSON does not parse.
    #[error("{path}:{line}:{column}: broken JSON: {message}")]
    Json {
        /// File.
        path: String,
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
        /// Parser message.
        message: String,
    },
    /// The JSON parses but is not a MISP export.
    #[error("{path}: not a MISP export: {reason}")]
    NotMisp {
        /// File.
        path: String,
        /// What was found instead.
        reason: &'static str,
    },
}

/// One bad line (or record, or MISP attribute).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineError {
    /// 1-based line, when known.
    pub line: Option<u64>,
    /// What is wrong.
    pub reason: String,
    /// The offending text, cut and escaped for printing.
    pub text: String,
}

/// What loading one feed did.
#[derive(Clone, Debug)]
pub struct FileReport {
    /// Feed name.
    pub feed: String,
    /// File path as configured.
    pub path: String,
    /// Format used (after detection).
    pub format: Format,
    /// New indicators loaded, per category.
    pub loaded: Counts,
    /// Indicators already loaded (from this or an earlier feed).
    pub duplicates: u64,
    /// Entries of a type the agent does not match (emails, file names, URIs...), skipped.
    pub unsupported: u64,
    /// Entries skipped because `max_indicators` was reached.
    pub over_limit: u64,
    /// Bad lines, all of them (only the first [`ERRORS_KEPT`] are in `errors`).
    pub bad: u64,
    /// The first bad lines.
    pub errors: Vec<LineError>,
    /// Remarks that did not skip anything (empty file, no CSV header...).
    pub notes: Vec<String>,
    /// Why the whole file was skipped.
    pub failed: Option<FeedError>,
}

impl FileReport {
    fn new(fc: &FeedConfig) -> Self {
        Self {
            feed: fc.feed_name(),
            path: fc.path.clone(),
            format: fc.format,
            loaded: Counts::default(),
            duplicates: 0,
            unsupported: 0,
            over_limit: 0,
            bad: 0,
            errors: Vec::new(),
            notes: Vec::new(),
            failed: None,
        }
    }

    /// Records a bad line.
    pub fn bad_line(&mut self, line: Option<u64>, reason: impl Into<String>, text: &str) {
        self.bad += 1;
        if self.errors.len() < ERRORS_KEPT {
            self.errors.push(LineError { line, reason: reason.into(), text: excerpt(text) });
        }
    }

    /// Whether the file loaded with no bad line and no failure.
    pub fn is_clean(&self) -> bool {
        self.failed.is_none() && self.bad == 0
    }
}

/// At most 80 characters of `text`, escaped.
fn excerpt(text: &str) -> String {
    let mut out: String = text.chars().take(80).flat_map(char::escape_debug).collect();
    if text.chars().nth(80).is_some() {
        out.push_str("...");
    }
    out
}

impl fmt::Display for FileReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "intel feed '{}' ({}", self.feed, self.path)?;
        if self.format != Format::Auto {
            write!(f, ", {}", self.format.name())?;
        }
        write!(f, "): ")?;
        if let Some(e) = &self.failed {
            write!(f, "NOT LOADED: {e}")?;
            let mut src = std::error::Error::source(e);
            while let Some(s) = src {
                write!(f, ": {s}")?;
                src = s.source();
            }
            return Ok(());
        }
        write!(f, "loaded {}", self.loaded)?;
        write!(f, ", {} bad lines, {} duplicates, {} unsupported", self.bad, self.duplicates, self.unsupported)?;
        if self.over_limit > 0 {
            write!(f, ", {} over max_indicators", self.over_limit)?;
        }
        for n in &self.notes {
            write!(f, "\n  {}: {n}", self.path)?;
        }
        for e in &self.errors {
            match e.line {
                Some(l) => write!(f, "\n  {}:{l}: {}", self.path, e.reason)?,
                None => write!(f, "\n  {}: {}", self.path, e.reason)?,
            }
            if !e.text.is_empty() {
                write!(f, ": \"{}\"", e.text)?;
            }
        }
        if self.bad > self.errors.len() as u64 {
            write!(f, "\n  {}: ... and {} more bad lines", self.path, self.bad - self.errors.len() as u64)?;
        }
        Ok(())
    }
}

/// What loading every feed did.
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    /// One report per configured feed, in order.
    pub files: Vec<FileReport>,
}

impl LoadReport {
    /// New indicators loaded from all feeds.
    pub fn loaded(&self) -> Counts {
        let mut c = Counts::default();
        for f in &self.files {
            c.merge(&f.loaded);
        }
        c
    }

    /// Bad lines in all feeds.
    pub fn bad_lines(&self) -> u64 {
        self.files.iter().map(|f| f.bad).sum()
    }

    /// Feeds skipped entirely.
    pub fn failed(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.failed.is_some())
    }

    /// Whether every feed loaded without a bad line.
    pub fn is_clean(&self) -> bool {
        self.files.iter().all(FileReport::is_clean)
    }

    /// One line for logs: "intel: 1234 indicators from 3 feeds (1 not loaded, 5 bad lines)".
    pub fn summary(&self) -> String {
        format!(
            "intel: {} indicators from {} feeds ({} not loaded, {} bad lines)",
            self.loaded().total(),
            self.files.len(),
            self.failed().count(),
            self.bad_lines()
        )
    }
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, r) in self.files.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{r}")?;
        }
        Ok(())
    }
}

/// Where loaded indicators go, with the feed's defaults.
pub(super) struct Sink<'a> {
    pub(super) builder: &'a mut IndicatorSetBuilder,
    pub(super) report: &'a mut FileReport,
    pub(super) opts: ParseOpts,
    feed: u16,
    mirror: Mirror,
    confidence: f32,
    severity: Severity,
    technique: Option<&'static str>,
}

/// Per-row details that override the feed's defaults.
#[derive(Clone, Debug, Default)]
pub(super) struct Row {
    pub(super) confidence: Option<f32>,
    pub(super) severity: Option<Severity>,
    pub(super) technique: Option<&'static str>,
    pub(super) description: Option<String>,
}

impl Sink<'_> {
    /// Parses `value` as `want` and adds it; a bad value is reported at `line`.
    pub(super) fn add(&mut self, line: Option<u64>, value: &str, want: Want, row: &Row) -> bool {
        self.add_with(value, want, row, &mut || line)
    }

    /// Like [`Sink::add`], computing the line only when the value is bad and kept in the
    /// report (locating a JSON value costs a search).
    pub(super) fn add_with(
        &mut self,
        value: &str,
        want: Want,
        row: &Row,
        line_of: &mut dyn FnMut() -> Option<u64>,
    ) -> bool {
        match parse_indicator(value, want, &self.opts) {
            Ok(p) => {
                let mut confidence = row.confidence.unwrap_or(self.confidence);
                if p.from_url_path {
                    confidence *= URL_PATH_FACTOR;
                }
                let meta = Meta {
                    feed: self.feed,
                    confidence: confidence.clamp(0.0, 1.0),
                    severity: row.severity.unwrap_or(self.severity),
                    technique: row.technique.or(self.technique),
                    description: row.description.as_deref().map(cut_description),
                };
                let category = p.indicator.category();
                match self.builder.insert(p.indicator, meta, self.mirror) {
                    Inserted::New => self.report.loaded.add(category),
                    Inserted::Duplicate => self.report.duplicates += 1,
                    Inserted::Full => self.report.over_limit += 1,
                }
                true
            }
            Err(reason) => {
                let line = if self.report.errors.len() < ERRORS_KEPT { line_of() } else { None };
                self.report.bad_line(line, reason, value);
                false
            }
        }
    }
}

/// `d` trimmed to [`DESCRIPTION_MAX`] bytes at a character boundary, control characters
/// replaced.
fn cut_description(d: &str) -> Box<str> {
    let d = d.trim();
    let mut end = d.len().min(DESCRIPTION_MAX);
    while !d.is_char_boundary(end) {
        end -= 1;
    }
    d[..end].chars().map(|c| if c.is_control() { ' ' } else { c }).collect::<String>().into_boxed_str()
}

/// Whether feed text marks an indicator as command and control ("botnet_cc", "C2",
/// "CnC", "command and control").
pub(super) fn says_c2(text: &str) -> bool {
    let t = text.to_ascii_lowercase();
    let words: Vec<&str> = t.split(|c: char| !c.is_ascii_alphanumeric()).filter(|w| !w.is_empty()).collect();
    words.iter().any(|w| matches!(*w, "c2" | "cc" | "cnc" | "c&c" | "botnet"))
        || t.contains("c&c")
        || t.contains("command and control")
        || t.contains("command-and-control")
}

/// Loads one configured feed into `b`.
pub fn load_feed(fc: &FeedConfig, limits: &Limits, b: &mut IndicatorSetBuilder) -> FileReport {
    let mut report = FileReport::new(fc);
    let feed = b.add_feed(&report.feed, fc.mirror);
    if fc.path.trim().is_empty() {
        report.failed = Some(FeedError::NoPath { feed: report.feed.clone() });
        return report;
    }
    let path = Path::new(&fc.path);
    let size = match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => {
            let source = Arc::new(std::io::Error::other("is a directory"));
            report.failed = Some(FeedError::Read { path: fc.path.clone(), source });
            return report;
        }
        Ok(m) => m.len(),
        Err(e) => {
            report.failed = Some(FeedError::Read { path: fc.path.clone(), source: Arc::new(e) });
            return report;
        }
    };
    if size > limits.max_file_bytes {
        report.failed = Some(FeedError::TooLarge { path: fc.path.clone(), size, max: limits.max_file_bytes });
        return report;
    }
    match std::fs::read(path) {
        Ok(bytes) => load_into(fc, limits, &bytes, b, feed, &mut report),
        Err(e) => report.failed = Some(FeedError::Read { path: fc.path.clone(), source: Arc::new(e) }),
    }
    report
}

/// Loads `bytes` as the content of feed `fc` (tests, benchmarks, feeds not read from a
/// file).
pub fn load_bytes(fc: &FeedConfig, limits: &Limits, bytes: &[u8], b: &mut IndicatorSetBuilder) -> FileReport {
    let mut report = FileReport::new(fc);
    let feed = b.add_feed(&report.feed, fc.mirror);
    load_into(fc, limits, bytes, b, feed, &mut report);
    report
}

fn load_into(
    fc: &FeedConfig,
    limits: &Limits,
    bytes: &[u8],
    b: &mut IndicatorSetBuilder,
    feed: u16,
    r: &mut FileReport,
) {
    let encoding = match bytes {
        [0x1f, 0x8b, ..] => Some("gzip-compressed"),
        [b'P', b'K', 3, 4, ..] => Some("a zip archive"),
        [0xfd, b'7', b'z', b'X', b'Z', 0, ..] => Some("xz-compressed"),
        [b'B', b'Z', b'h', ..] => Some("bzip2-compressed"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd-compressed"),
        [0xff, 0xfe, ..] | [0xfe, 0xff, ..] => Some("UTF-16 text"),
        _ => None,
    };
    if let Some(what) = encoding {
        r.failed = Some(FeedError::Encoding { path: fc.path.clone(), what });
        return;
    }
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        r.notes.push("empty file: nothing loaded".into());
        r.format = if fc.format == Format::Auto { detect(fc, bytes) } else { fc.format };
        return;
    }
    let format = match fc.format {
        Format::Auto => detect(fc, bytes),
        f => f,
    };
    r.format = format;
    let technique = if fc.technique.trim().is_empty() { None } else { technique_id(&fc.technique) };
    if technique.is_none() && !fc.technique.trim().is_empty() {
        r.notes.push(format!("technique {:?} is not an ATT&CK id (T1234 or T1234.001): ignored", fc.technique));
    }
    let mut sink = Sink {
        builder: b,
        report: r,
        opts: limits.parse,
        feed,
        mirror: fc.mirror,
        confidence: if fc.confidence.is_nan() { 0.8 } else { fc.confidence.clamp(0.0, 1.0) },
        severity: fc.severity,
        technique,
    };
    match format {
        Format::Misp => misp::load(fc, bytes, &mut sink),
        Format::Dataset => match fc.dataset_type {
            Some(t) => load_dataset(&String::from_utf8_lossy(bytes), t, &mut sink),
            None => sink.report.failed = Some(FeedError::NoDatasetType { path: fc.path.clone() }),
        },
        Format::Csv => {
            let tab = fc.path.to_ascii_lowercase().ends_with(".tsv");
            load_csv(&String::from_utf8_lossy(bytes), tab, &mut sink);
        }
        Format::Plain | Format::Auto => load_plain(&String::from_utf8_lossy(bytes), &mut sink),
    }
}

/// The format of a feed whose config says `auto`.
fn detect(fc: &FeedConfig, bytes: &[u8]) -> Format {
    let ext = Path::new(&fc.path).extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase);
    match ext.as_deref() {
        Some("json") => return Format::Misp,
        Some("csv" | "tsv") => return Format::Csv,
        _ => {}
    }
    if fc.dataset_type.is_some() {
        return Format::Dataset;
    }
    match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{' | b'[') => return Format::Misp,
        None => return Format::Plain,
        _ => {}
    }
    // A CSV header names its columns: look at the first lines.
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(8192)]);
    let looks_csv = head.lines().take(20).any(|l| {
        let l = l.trim().trim_start_matches('#');
        l.contains([',', '\t', ';']) && {
            let d = delimiter(l, false);
            split_simple(l, d).any(|c| column_role(&normalise(&c)).is_some_and(|r| r == Role::Indicator))
        }
    });
    if looks_csv { Format::Csv } else { Format::Plain }
}

/// A line checked for binary junk and length, trimmed, CR removed; None when bad
/// (reported) or blank.
fn clean_line<'t>(sink: &mut Sink<'_>, n: u64, raw: &'t str) -> Option<&'t str> {
    let raw = raw.strip_suffix('\r').unwrap_or(raw);
    if raw.len() > MAX_LINE {
        sink.report.bad_line(Some(n), format!("line of {} bytes is longer than {MAX_LINE}", raw.len()), raw);
        return None;
    }
    if raw.contains('\u{fffd}') {
        sink.report.bad_line(Some(n), "not UTF-8 text (binary data?)", raw);
        return None;
    }
    if raw.chars().any(|c| c.is_control() && c != '\t') {
        sink.report.bad_line(Some(n), "control characters (binary data?)", raw);
        return None;
    }
    let t = raw.trim();
    (!t.is_empty()).then_some(t)
}

/// Removes a comment: whole-line `#`, `;`, `//`, or ` #`/` ;` after the value.
fn strip_comment(line: &str) -> &str {
    if line.starts_with(['#', ';']) || line.starts_with("//") {
        return "";
    }
    let b = line.as_bytes();
    let cut = (1..b.len()).find(|&i| matches!(b[i], b'#' | b';') && b[i - 1].is_ascii_whitespace());
    cut.map_or(line, |i| &line[..i]).trim()
}

/// Names hosts files map to a sink address that are not indicators.
const HOSTS_LOCAL: &[&str] = &[
    "localhost",
    "localhost.localdomain",
    "local",
    "broadcasthost",
    "ip6-localhost",
    "ip6-loopback",
    "ip6-localnet",
    "ip6-mcastprefix",
    "ip6-allnodes",
    "ip6-allrouters",
    "ip6-allhosts",
    "0.0.0.0",
];

/// A plain list: one indicator per line, type inferred; hosts-file lines
/// (`0.0.0.0 evil.example`) give their names.
fn load_plain(text: &str, sink: &mut Sink<'_>) {
    let row = Row::default();
    for (i, raw) in text.split('\n').enumerate() {
        let n = i as u64 + 1;
        let Some(line) = clean_line(sink, n, raw) else { continue };
        let line = strip_comment(line);
        let mut tokens = line.split_whitespace();
        let Some(first) = tokens.next() else { continue };
        if matches!(first, "0.0.0.0" | "127.0.0.1" | "::" | "::1" | "::0") {
            let mut named = false;
            for t in tokens {
                named = true;
                if !HOSTS_LOCAL.contains(&t.to_ascii_lowercase().as_str()) {
                    sink.add(Some(n), t, Want::Domain, &row);
                }
            }
            if !named {
                sink.add(Some(n), first, Want::Any, &row);
            }
            continue;
        }
        sink.add(Some(n), first, Want::Any, &row);
    }
}

/// A Suricata dataset file: one value per line (`string` values base64-encoded), an
/// optional `,reputation` suffix.
fn load_dataset(text: &str, t: DatasetType, sink: &mut Sink<'_>) {
    let row = Row::default();
    for (i, raw) in text.split('\n').enumerate() {
        let n = i as u64 + 1;
        let Some(line) = clean_line(sink, n, raw) else { continue };
        if line.starts_with('#') {
            continue;
        }
        let (value, rep) = match line.split_once(',') {
            Some((v, r)) => (v.trim(), Some(r.trim())),
            None => (line, None),
        };
        if let Some(r) = rep.filter(|r| r.parse::<i64>().is_err()) {
            sink.report.bad_line(Some(n), format!("bad reputation value {r:?} (expected an integer)"), line);
            continue;
        }
        let want = match t {
            DatasetType::Ipv4 => Want::Ipv4,
            DatasetType::Ipv6 => Want::Ipv6,
            DatasetType::Ip => Want::Address,
            DatasetType::Md5 => Want::Hash(Some(HashKind::Md5)),
            DatasetType::Sha1 => Want::Hash(Some(HashKind::Sha1)),
            DatasetType::Sha256 => Want::Hash(Some(HashKind::Sha256)),
            DatasetType::String => {
                let decoded = base64_decode(value).map(String::from_utf8);
                match decoded {
                    Some(Ok(s)) => {
                        sink.add(Some(n), &s, Want::Domain, &row);
                    }
                    Some(Err(_)) => sink.report.bad_line(Some(n), "base64 value does not decode to UTF-8 text", line),
                    None => sink.report.bad_line(Some(n), "invalid base64", line),
                }
                continue;
            }
        };
        sink.add(Some(n), value, want, &row);
    }
}

/// What a CSV column holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Indicator,
    Type,
    Description,
    Confidence,
    Source,
    Technique,
    Threat,
    Severity,
}

/// Indicator column names, most specific first (the first present is used).
const INDICATOR_COLUMNS: &[&str] = &[
    "indicator",
    "ioc",
    "ioc_value",
    "value",
    "observable",
    "ip",
    "ip_address",
    "ipaddress",
    "ipv4",
    "ipv6",
    "address",
    "addr",
    "dst_ip",
    "dest_ip",
    "destination_ip",
    "dstip",
    "src_ip",
    "srcip",
    "cidr",
    "network",
    "netblock",
    "subnet",
    "domain",
    "domain_name",
    "hostname",
    "host",
    "fqdn",
    "url",
    "hash",
    "file_hash",
    "sha256",
    "sha256_hash",
    "sha1",
    "sha1_hash",
    "md5",
    "md5_hash",
];

/// `name` lower-cased, `#`, quotes and spaces trimmed, ` ` and `-` turned into `_`.
fn normalise(name: &str) -> String {
    name.trim().trim_start_matches('#').trim().trim_matches('"').trim().to_ascii_lowercase().replace([' ', '-'], "_")
}

fn column_role(n: &str) -> Option<Role> {
    if INDICATOR_COLUMNS.contains(&n) {
        return Some(Role::Indicator);
    }
    Some(match n {
        "type" | "ioc_type" | "indicator_type" | "kind" | "attribute_type" => Role::Type,
        "description" | "desc" | "comment" | "comments" | "malware_printable" | "malware" | "info" | "note"
        | "notes" => Role::Description,
        "confidence" | "confidence_level" | "score" => Role::Confidence,
        "source" | "feed" | "reporter" | "provider" => Role::Source,
        "technique" | "mitre" | "mitre_technique" | "technique_id" | "attack_id" | "mitre_attack" | "ttp" => {
            Role::Technique
        }
        "threat_type" | "threat" | "category" | "classification" | "tags" => Role::Threat,
        "severity" | "threat_level" => Role::Severity,
        _ => return None,
    })
}

/// What a value of the indicator column named `n` is expected to be.
fn want_of_column(n: &str) -> Want {
    match n {
        "ip" | "ip_address" | "ipaddress" | "address" | "addr" | "dst_ip" | "dest_ip" | "destination_ip" | "dstip"
        | "src_ip" | "srcip" | "cidr" | "network" | "netblock" | "subnet" => Want::Address,
        "ipv4" => Want::Ipv4,
        "ipv6" => Want::Ipv6,
        "domain" | "domain_name" | "hostname" | "host" | "fqdn" => Want::Domain,
        "url" => Want::Url,
        "hash" | "file_hash" => Want::Hash(None),
        "sha256" | "sha256_hash" => Want::Hash(Some(HashKind::Sha256)),
        "sha1" | "sha1_hash" => Want::Hash(Some(HashKind::Sha1)),
        "md5" | "md5_hash" => Want::Hash(Some(HashKind::Md5)),
        _ => Want::Any,
    }
}

/// What a type-column value says the indicator is; `Err` for types the agent does not
/// match (emails, file names...), `Ok(Any)` when empty.
pub(super) fn want_of_type(t: &str) -> Result<Want, ()> {
    let t = t.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    Ok(match t.as_str() {
        "" => Want::Any,
        "md5" | "md5_hash" | "filename|md5" | "hash_md5" => Want::Hash(Some(HashKind::Md5)),
        "sha1" | "sha1_hash" | "filename|sha1" | "hash_sha1" => Want::Hash(Some(HashKind::Sha1)),
        "sha256" | "sha256_hash" | "filename|sha256" | "hash_sha256" => Want::Hash(Some(HashKind::Sha256)),
        "hash" | "filehash" | "file_hash" => Want::Hash(None),
        "url" | "uri_full" => Want::Url,
        "domain" | "hostname" | "fqdn" | "host" | "domain_name" | "dns" => Want::Domain,
        "ip" | "ipv4" | "ipv6" | "ip_dst" | "ip_src" | "ip:port" | "ip_port" | "ip_dst|port" | "ip_src|port"
        | "cidr" | "netblock" | "network" | "subnet" | "address" | "ipv4_addr" | "ipv6_addr" | "ip_address" => {
            Want::Address
        }
        _ => return Err(()),
    })
}

fn parse_severity(s: &str) -> Option<Severity> {
    match s.trim().to_ascii_lowercase().as_str() {
        "low" | "3" => Some(Severity::Low),
        "medium" | "moderate" | "2" => Some(Severity::Medium),
        "high" | "1" => Some(Severity::High),
        "critical" => Some(Severity::Critical),
        _ => None,
    }
}

/// The most frequent of `,`, tab, `;`, `|` outside quotes (`,` on ties or none).
fn delimiter(line: &str, tab: bool) -> u8 {
    if tab {
        return b'\t';
    }
    let mut counts = [0usize; 4];
    let mut quoted = false;
    for c in line.bytes() {
        match c {
            b'"' => quoted = !quoted,
            b',' if !quoted => counts[0] += 1,
            b'\t' if !quoted => counts[1] += 1,
            b';' if !quoted => counts[2] += 1,
            b'|' if !quoted => counts[3] += 1,
            _ => {}
        }
    }
    let best = (0..4).max_by_key(|i| (counts[*i], std::cmp::Reverse(*i))).unwrap_or(0);
    if counts[best] == 0 { b',' } else { [b',', b'\t', b';', b'|'][best] }
}

/// Fields of a one-line record (header sniffing).
fn split_simple(line: &str, d: u8) -> impl Iterator<Item = String> + '_ {
    let mut rec = Vec::new();
    let mut r = CsvReader { s: line, pos: 0, line: 1, delim: d };
    let _ = r.next_record(&mut rec);
    rec.into_iter()
}

/// An RFC 4180 record reader: quoted fields with delimiters, doubled quotes and line
/// breaks; lenient with text after a closing quote.
struct CsvReader<'a> {
    s: &'a str,
    pos: usize,
    line: u64,
    delim: u8,
}

/// One record.
enum Record {
    /// Fields read into the caller's vector; the record started on `line`.
    Ok { line: u64, text_start: usize, text_end: usize },
    /// Unusable record starting on `line`.
    Bad { line: u64, reason: String, text_start: usize, text_end: usize },
}

impl<'a> CsvReader<'a> {
    /// The end of the physical line containing byte `i` (index of its `\n` or the end).
    fn line_end(&self, i: usize) -> usize {
        memchr::memchr(b'\n', &self.s.as_bytes()[i.min(self.s.len())..]).map_or(self.s.len(), |k| i + k)
    }

    /// Skips the current physical line; returns it.
    fn skip_line(&mut self) -> &'a str {
        let end = self.line_end(self.pos);
        let l = &self.s[self.pos..end];
        self.pos = (end + 1).min(self.s.len());
        self.line += 1;
        l
    }

    fn peek_line(&self) -> &'a str {
        &self.s[self.pos..self.line_end(self.pos)]
    }

    fn next_record(&mut self, out: &mut Vec<String>) -> Option<Record> {
        let s = self.s;
        let b = s.as_bytes();
        if self.pos >= b.len() {
            return None;
        }
        out.clear();
        let start = self.pos;
        let start_line = self.line;
        let mut i = start;
        let mut field = String::new();
        let bad = |me: &mut Self, reason: String| {
            // Resynchronise on the line after the record's first line.
            me.pos = start;
            me.line = start_line;
            let end = me.line_end(start);
            me.skip_line();
            Some(Record::Bad { line: start_line, reason, text_start: start, text_end: end })
        };
        loop {
            if i < b.len() && b[i] == b'"' {
                i += 1;
                loop {
                    let Some(k) = memchr::memchr(b'"', &b[i..]) else {
                        return bad(self, "unterminated quoted field".into());
                    };
                    let chunk = &s[i..i + k];
                    self.line += chunk.bytes().filter(|c| *c == b'\n').count() as u64;
                    field.push_str(chunk);
                    i += k + 1;
                    if i - start > MAX_RECORD {
                        return bad(self, format!("record longer than {MAX_RECORD} bytes (unterminated quote?)"));
                    }
                    if b.get(i) == Some(&b'"') {
                        field.push('"');
                        i += 1;
                    } else {
                        break;
                    }
                }
            }
            let end = b[i..].iter().position(|c| *c == self.delim || *c == b'\n').map_or(b.len(), |k| i + k);
            field.push_str(&s[i..end]);
            i = end;
            if i - start > MAX_RECORD {
                return bad(self, format!("record longer than {MAX_RECORD} bytes"));
            }
            let at_end = i >= b.len() || b[i] == b'\n';
            if at_end && field.ends_with('\r') {
                field.pop();
            }
            out.push(std::mem::take(&mut field));
            if i >= b.len() {
                self.pos = b.len();
                self.line += 1;
                return Some(Record::Ok { line: start_line, text_start: start, text_end: i });
            }
            if b[i] == b'\n' {
                self.pos = i + 1;
                self.line += 1;
                return Some(Record::Ok { line: start_line, text_start: start, text_end: i });
            }
            i += 1;
        }
    }
}

/// Column positions of a CSV header.
#[derive(Debug, Default)]
struct Columns {
    indicator: usize,
    indicator_name: String,
    kind: Option<usize>,
    description: Option<usize>,
    confidence: Option<usize>,
    source: Option<usize>,
    technique: Option<usize>,
    threat: Option<usize>,
    severity: Option<usize>,
}

impl Columns {
    /// The header's columns, when it names an indicator column.
    fn of(header: &[String]) -> Option<Self> {
        let names: Vec<String> = header.iter().map(|h| normalise(h)).collect();
        let (indicator, indicator_name) = INDICATOR_COLUMNS
            .iter()
            .find_map(|want| names.iter().position(|n| n == want).map(|i| (i, (*want).to_owned())))?;
        let mut c = Self { indicator, indicator_name, ..Self::default() };
        for (i, n) in names.iter().enumerate() {
            let slot = match column_role(n) {
                Some(Role::Type) => &mut c.kind,
                Some(Role::Description) => &mut c.description,
                Some(Role::Confidence) => &mut c.confidence,
                Some(Role::Source) => &mut c.source,
                Some(Role::Technique) => &mut c.technique,
                Some(Role::Threat) => &mut c.threat,
                Some(Role::Severity) => &mut c.severity,
                Some(Role::Indicator) | None => continue,
            };
            slot.get_or_insert(i);
        }
        Some(c)
    }
}

/// A CSV file with a header row naming the indicator column.
fn load_csv(text: &str, tab: bool, sink: &mut Sink<'_>) {
    let mut r = CsvReader { s: text, pos: 0, line: 1, delim: b',' };
    let mut fields = Vec::new();
    let mut last_comment: Option<String> = None;
    // Skip blank and comment lines before the header (a commented header is remembered).
    while r.pos < text.len() {
        let l = r.peek_line().trim();
        if l.is_empty() {
            r.skip_line();
        } else if let Some(c) = l.strip_prefix('#') {
            last_comment = Some(c.trim().to_owned());
            r.skip_line();
        } else {
            break;
        }
    }
    if r.pos >= text.len() {
        sink.report.notes.push("no data rows".into());
        return;
    }
    r.delim = delimiter(r.peek_line(), tab);
    let first_line = r.line;
    let (cols, data_starts_here) = {
        let mut header = Vec::new();
        let here = r.pos;
        let here_line = r.line;
        let own = match r.next_record(&mut header) {
            Some(Record::Ok { .. }) => Columns::of(&header),
            _ => None,
        };
        match own {
            Some(c) => (c, false),
            None => {
                r.pos = here;
                r.line = here_line;
                let commented = last_comment.as_deref().and_then(|c| {
                    let d = delimiter(c, tab);
                    let h: Vec<String> = split_simple(c, d).collect();
                    Columns::of(&h).map(|cols| (cols, d))
                });
                match commented {
                    Some((c, d)) => {
                        r.delim = d;
                        (c, true)
                    }
                    None => {
                        sink.report.notes.push(format!(
                            "line {first_line}: no header naming the indicator column (indicator, value, ioc, ip, \
                             domain, url, hash, ...): reading the first column"
                        ));
                        (Columns { indicator_name: String::new(), ..Columns::default() }, true)
                    }
                }
            }
        }
    };
    let _ = data_starts_here;
    let column_want = want_of_column(&cols.indicator_name);
    loop {
        // Comment and blank lines between rows.
        if r.pos < text.len() {
            let l = r.peek_line().trim();
            if l.is_empty() || l.starts_with('#') {
                r.skip_line();
                continue;
            }
        }
        let Some(rec) = r.next_record(&mut fields) else { break };
        let (line, t0, t1) = match rec {
            Record::Ok { line, text_start, text_end } => (line, text_start, text_end),
            Record::Bad { line, reason, text_start, text_end } => {
                sink.report.bad_line(Some(line), reason, &text[text_start..text_end]);
                continue;
            }
        };
        let raw = &text[t0..t1];
        if raw.contains('\u{fffd}') {
            sink.report.bad_line(Some(line), "not UTF-8 text (binary data?)", raw);
            continue;
        }
        if raw.chars().any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r')) {
            sink.report.bad_line(Some(line), "control characters (binary data?)", raw);
            continue;
        }
        csv_row(sink, line, raw, &fields, &cols, column_want);
    }
}

fn csv_row(sink: &mut Sink<'_>, line: u64, raw: &str, fields: &[String], cols: &Columns, column_want: Want) {
    let Some(value) = fields.get(cols.indicator).map(|v| v.trim()) else {
        let name = if cols.indicator_name.is_empty() { "the first" } else { &cols.indicator_name };
        sink.report.bad_line(
            Some(line),
            format!("row has {} fields; the indicator column '{name}' is field {}", fields.len(), cols.indicator + 1),
            raw,
        );
        return;
    };
    if value.is_empty() {
        sink.report.bad_line(Some(line), "empty indicator field", raw);
        return;
    }
    let get = |c: Option<usize>| c.and_then(|i| fields.get(i)).map(|v| v.trim()).filter(|v| !v.is_empty());
    let want = match get(cols.kind).map(want_of_type) {
        None | Some(Ok(Want::Any)) => column_want,
        Some(Ok(w)) => w,
        Some(Err(())) => {
            sink.report.unsupported += 1;
            return;
        }
    };
    let mut row = Row::default();
    if let Some(c) = get(cols.confidence) {
        match c.trim_end_matches('%').parse::<f32>() {
            Ok(v) if (0.0..=1.0).contains(&v) => row.confidence = Some(v),
            Ok(v) if (1.0..=100.0).contains(&v) => row.confidence = Some(v / 100.0),
            _ => {
                sink.report.bad_line(Some(line), format!("bad confidence {c:?} (expected 0..1 or 0..100)"), raw);
                return;
            }
        }
    }
    if let Some(t) = get(cols.technique) {
        match technique_id(t) {
            Some(id) => row.technique = Some(id),
            None => {
                sink.report.bad_line(Some(line), format!("bad technique {t:?} (expected T1234 or T1234.001)"), raw);
                return;
            }
        }
    }
    if let Some(s) = get(cols.severity).and_then(parse_severity) {
        row.severity = Some(s);
    }
    if get(cols.threat).is_some_and(says_c2) && row.severity.is_none_or(|s| s < Severity::High) {
        row.severity = Some(Severity::High);
    }
    row.description = match (get(cols.description), get(cols.source)) {
        (Some(d), Some(s)) => Some(format!("{d} (source: {s})")),
        (Some(d), None) => Some(d.to_owned()),
        (None, Some(s)) => Some(format!("source: {s}")),
        (None, None) => None,
    };
    sink.add(Some(line), value, want, &row);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::intel::indicators::IndicatorSet;

    fn feed(path: &str, format: Format) -> FeedConfig {
        FeedConfig { path: path.into(), format, ..FeedConfig::default() }
    }

    fn load(fc: &FeedConfig, text: &[u8]) -> (IndicatorSet, FileReport) {
        let mut b = IndicatorSetBuilder::new(1000);
        let r = load_bytes(fc, &Limits::default(), text, &mut b);
        (b.build(), r)
    }

    fn lines(r: &FileReport) -> Vec<u64> {
        r.errors.iter().filter_map(|e| e.line).collect()
    }

    #[test]
    fn a_plain_list_loads_good_lines_and_names_the_bad_ones() {
        let text = b"\xef\xbb\xbf# C2 list\r\n198.51.100.7\r\n999.1.1.1\r\n\r\n203.0.113.0/24 ; SBL123\r\n\
198.51.100.0/40\r\nevil.example # inline comment\r\ngarbage\r\n2001:db8::/32\r\n\
0.0.0.0 ads.example\r\n127.0.0.1 localhost\r\n\xff\xfe\x00junk\r\n";
        let (set, r) = load(&feed("c2.txt", Format::Auto), text);
        assert_eq!(r.format, Format::Plain);
        assert_eq!((r.loaded.addresses, r.loaded.cidrs, r.loaded.domains), (1, 2, 2), "{r}");
        assert_eq!(lines(&r), vec![3, 6, 8, 12], "{r}");
        assert!(r.errors[0].reason.contains("invalid IPv4"), "{r}");
        assert!(r.errors[1].reason.contains("/40"), "{r}");
        assert!(r.errors[3].reason.contains("UTF-8"), "{r}");
        assert!(set.match_domain(b"x.ads.example").is_some());
        let shown = r.to_string();
        assert!(shown.contains("c2.txt:3: invalid IPv4 address: \"999.1.1.1\""), "{shown}");
    }

    #[test]
    fn overlong_and_control_character_lines_are_reported() {
        let mut text = Vec::new();
        text.extend_from_slice(b"192.0.2.1\n");
        text.extend_from_slice(&vec![b'a'; MAX_LINE + 1]);
        text.extend_from_slice(b"\n192.0.2.2\x07\n192.0.2.3");
        let (_, r) = load(&feed("x.txt", Format::Plain), &text);
        assert_eq!(r.loaded.addresses, 2);
        assert_eq!(lines(&r), vec![2, 3]);
        assert!(r.errors[0].reason.contains("longer than"));
        assert!(r.errors[0].text.len() < 100);
    }

    #[test]
    fn csv_headers_quotes_and_short_rows_are_handled() {
        let text = "\"indicator\",\"type\",\"description\",\"confidence\",\"technique\"\n\
\"198.51.100.7\",\"ip\",\"Emotet C2, epoch 5\",\"90\",\"T1071.001\"\n\
\"evil.example\",\"domain\",\"multi\nline comment\",\"0.6\",\"\"\n\
\"someone@example.org\",\"email\",\"\",\"\",\"\"\n\
\"203.0.113.5\"\n\
,ip,empty,,\n\
\"198.51.100.8\",\"ip\",\"x\",\"abc\",\"\"\n\
\"198.51.100.9\",\"ip\",\"x\",\"\",\"not-a-technique\"\n\
\"198.51.100.10\",\"domain\",\"x\",\"\",\"\"\n";
        let (set, r) = load(&feed("ti.csv", Format::Auto), text.as_bytes());
        assert_eq!(r.format, Format::Csv);
        assert_eq!(r.unsupported, 1, "{r}");
        assert_eq!((r.loaded.addresses, r.loaded.domains), (3, 1), "{r}");
        assert_eq!(lines(&r), vec![7, 8, 9], "{r}");
        let h = set.match_addr(&"198.51.100.7".parse().expect("ip")).expect("hit");
        assert_eq!(h.meta.confidence, 0.9);
        assert_eq!(h.meta.technique, Some("T1071.001"));
        assert_eq!(h.meta.description.as_deref(), Some("Emotet C2, epoch 5"));
        let d = set.match_domain(b"evil.example").expect("domain");
        assert_eq!(d.meta.description.as_deref(), Some("multi line comment"));
        // A row without the type column: the column-less value is inferred.
        assert!(set.match_addr(&"203.0.113.5".parse().expect("ip")).is_some());
    }

    #[test]
    fn a_csv_row_missing_the_indicator_column_is_reported() {
        let text = "first_seen,dst_ip,port\n2024-01-01,198.51.100.7,443\n2024-01-02\n";
        let (_, r) = load(&feed("c.csv", Format::Csv), text.as_bytes());
        assert_eq!(r.loaded.addresses, 1);
        assert_eq!(lines(&r), vec![3]);
        assert!(r.errors[0].reason.contains("indicator column 'dst_ip' is field 2"), "{r}");
    }

    #[test]
    fn abuse_ch_style_commented_headers_and_threat_types_are_understood() {
        let text = "################\n# Feodo Tracker\n#\n\
# \"first_seen_utc\",\"dst_ip\",\"dst_port\",\"c2_status\",\"last_online\",\"malware\"\n\
\"2024-01-01 00:00:00\",\"198.51.100.20\",\"443\",\"online\",\"2024-01-02\",\"QakBot\"\n\
# ThreatFox\n";
        let (set, r) = load(&feed("feodo.csv", Format::Auto), text.as_bytes());
        assert_eq!(r.loaded.addresses, 1, "{r}");
        let h = set.match_addr(&"198.51.100.20".parse().expect("ip")).expect("hit");
        assert_eq!(h.meta.description.as_deref(), Some("QakBot"));
        let text = "ioc_value,ioc_type,threat_type,confidence_level\n\
198.51.100.30:8080,ip:port,botnet_cc,75\nhttps://files.example/x.exe,url,payload_delivery,100\n";
        let (set, r) = load(&feed("threatfox.csv", Format::Auto), text.as_bytes());
        assert_eq!((r.loaded.addresses, r.loaded.domains), (1, 1), "{r}");
        let h = set.match_addr(&"198.51.100.30".parse().expect("ip")).expect("hit");
        assert_eq!((h.meta.severity, h.meta.confidence), (Severity::High, 0.75));
        let d = set.match_domain(b"files.example").expect("url host");
        assert_eq!((d.meta.severity, d.meta.confidence), (Severity::Medium, 0.5));
    }

    #[test]
    fn a_headerless_csv_reads_its_first_column_and_says_so() {
        let (_, r) = load(&feed("h.csv", Format::Csv), b"198.51.100.7,x\n203.0.113.9,y\n");
        assert_eq!(r.loaded.addresses, 2);
        assert!(r.notes[0].contains("no header"), "{r}");
    }

    #[test]
    fn an_unterminated_quote_costs_one_record_not_the_file() {
        let text = "indicator,description\n198.51.100.1,\"oops\n198.51.100.2,fine\n198.51.100.3,ok\n";
        let (_, r) = load(&feed("q.csv", Format::Csv), text.as_bytes());
        // The open quote swallows the rest of the file until MAX_RECORD, or stops at EOF:
        // either way the record is reported and the reader resumes on the next line.
        assert_eq!(lines(&r), vec![2], "{r}");
        assert_eq!(r.loaded.addresses, 2, "{r}");
    }

    #[test]
    fn suricata_datasets_decode_strings_and_accept_reputations() {
        let mut fc = feed("d.lst", Format::Auto);
        fc.dataset_type = Some(DatasetType::String);
        // evil.example, c2.evil.example,10 ; bad base64; base64 of "not a domain"
        let text = b"ZXZpbC5leGFtcGxl\nYzIuZXZpbC5leGFtcGxl,10\n!!!\nbm90IGEgZG9tYWlu\nZXZpbC5leGFtcGxl,x\n";
        let (set, r) = load(&fc, text);
        assert_eq!(r.format, Format::Dataset);
        assert_eq!((r.loaded.domains, r.duplicates), (2, 0), "{r}");
        assert_eq!(lines(&r), vec![3, 4, 5], "{r}");
        assert!(set.match_domain(b"www.evil.example").is_some());
        fc.dataset_type = Some(DatasetType::Ipv4);
        let (_, r) = load(&fc, b"192.0.2.1\n192.0.2.2,3\n2001:db8::1\n");
        assert_eq!(r.loaded.addresses, 2);
        assert!(r.errors[0].reason.contains("expected IPv4"), "{r}");
        fc.dataset_type = Some(DatasetType::Sha256);
        let good = "a".repeat(64);
        let (set, r) = load(&fc, format!("{good}\n{}\n", "b".repeat(32)).as_bytes());
        assert_eq!((r.loaded.sha256, r.bad), (1, 1), "{r}");
        assert!(set.match_hash_hex(&good).is_some());
    }

    #[test]
    fn a_dataset_without_its_type_is_refused_as_a_whole() {
        let (_, r) = load(&feed("d.lst", Format::Dataset), b"192.0.2.1\n");
        assert!(matches!(r.failed, Some(FeedError::NoDatasetType { .. })), "{r}");
    }

    #[test]
    fn compressed_utf16_and_empty_files_are_reported_not_parsed() {
        let (_, r) = load(&feed("x.txt", Format::Auto), &[0x1f, 0x8b, 8, 0, 1, 2]);
        assert!(r.to_string().contains("gzip"), "{r}");
        let (_, r) = load(&feed("x.txt", Format::Auto), &[0xff, 0xfe, b'1', 0]);
        assert!(r.to_string().contains("UTF-16"), "{r}");
        let (_, r) = load(&feed("x.txt", Format::Auto), b"\xef\xbb\xbf \n\n");
        assert!(r.failed.is_none() && r.notes[0].contains("empty"), "{r}");
        assert_eq!(r.loaded.total(), 0);
    }

    #[test]
    fn missing_files_and_directories_fail_their_feed_only() {
        let mut b = IndicatorSetBuilder::new(10);
        let r = load_feed(&feed("/nonexistent/intel/feed.txt", Format::Auto), &Limits::default(), &mut b);
        let shown = r.to_string();
        assert!(shown.contains("NOT LOADED") && shown.contains("/nonexistent/intel/feed.txt"), "{shown}");
        assert!(shown.contains("No such file"), "{shown}");
        let r = load_feed(&feed("/", Format::Auto), &Limits::default(), &mut b);
        assert!(r.failed.is_some());
        let r = load_feed(&feed("", Format::Auto), &Limits::default(), &mut b);
        assert!(matches!(r.failed, Some(FeedError::NoPath { .. })));
    }

    #[test]
    fn only_the_first_errors_are_kept_but_all_are_counted() {
        let text = "bad\n".repeat(ERRORS_KEPT + 25);
        let (_, r) = load(&feed("x.txt", Format::Plain), text.as_bytes());
        assert_eq!(r.bad, ERRORS_KEPT as u64 + 25);
        assert_eq!(r.errors.len(), ERRORS_KEPT);
        assert!(r.to_string().contains("and 25 more"));
    }

    #[test]
    fn c2_wording_is_recognised_without_matching_lookalikes() {
        for t in ["botnet_cc", "C2", "CnC server", "C&C", "command and control"] {
            assert!(says_c2(t), "{t}");
        }
        for t in ["ec2", "payload_delivery", "phishing", "cc2x"] {
            assert!(!says_c2(t), "{t}");
        }
    }
}
