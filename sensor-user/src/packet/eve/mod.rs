//! eve.json output: one JSON object per line with Suricata's field names (`timestamp`,
//! `flow_id`, `event_type`, `src_ip`, ..., `community_id`) for flow, http, dns, tls, ssh,
//! anomaly and stats records, so Filebeat/Vector/Evebox ingest them unchanged.
//!
//! Records are built in a reused buffer and written through a `BufWriter`; field order is
//! fixed, so the same input gives byte-identical output.

mod alert;
mod community_id;
mod finding;
mod json;
mod records;

use std::io::{self, Write};

pub use alert::AlertCtx;
pub use community_id::community_id;
pub(crate) use json::civil_from_days;
pub use json::{Json, escape, timestamp};
pub use records::{FlowCtx, ip, proto_name, tls_version_name};

/// Record types, for counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordType {
    /// `flow`.
    Flow,
    /// `http`.
    Http,
    /// `dns`.
    Dns,
    /// `tls`.
    Tls,
    /// `ssh`.
    Ssh,
    /// `anomaly`.
    Anomaly,
    /// `stats`.
    Stats,
    /// `alert` (a signature matched).
    Alert,
}

impl RecordType {
    /// Every type, in counter order.
    pub const ALL: [RecordType; 8] = [
        RecordType::Flow,
        RecordType::Http,
        RecordType::Dns,
        RecordType::Tls,
        RecordType::Ssh,
        RecordType::Anomaly,
        RecordType::Stats,
        RecordType::Alert,
    ];

    /// The `event_type` value.
    pub fn name(self) -> &'static str {
        match self {
            RecordType::Flow => "flow",
            RecordType::Http => "http",
            RecordType::Dns => "dns",
            RecordType::Tls => "tls",
            RecordType::Ssh => "ssh",
            RecordType::Anomaly => "anomaly",
            RecordType::Stats => "stats",
            RecordType::Alert => "alert",
        }
    }
}

/// Which record types are written (all by default).
#[derive(Clone, Copy, Debug)]
pub struct EveTypes(u8);

impl Default for EveTypes {
    fn default() -> Self {
        Self(0xFF)
    }
}

impl EveTypes {
    /// Only the given types.
    pub fn only(types: &[RecordType]) -> Self {
        Self(types.iter().fold(0, |m, t| m | (1 << *t as u8)))
    }

    /// Whether `t` is written.
    pub fn has(self, t: RecordType) -> bool {
        self.0 & (1 << t as u8) != 0
    }
}

/// Writes eve records to a sink (a file, stdout, or nowhere).
pub struct EveWriter {
    out: Option<Box<dyn Write + Send>>,
    types: EveTypes,
    buf: Vec<u8>,
    counts: [u64; RecordType::ALL.len()],
    error: Option<io::Error>,
    lake: Option<crate::lake::LakeSink>,
}

impl std::fmt::Debug for EveWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EveWriter").field("counts", &self.counts).finish_non_exhaustive()
    }
}

impl EveWriter {
    /// A writer to `out` (buffered here); `None` counts records without writing them.
    pub fn new(out: Option<Box<dyn Write + Send>>, types: EveTypes) -> Self {
        let out = out.map(|w| Box::new(io::BufWriter::with_capacity(1 << 20, w)) as Box<dyn Write + Send>);
        Self { out, types, buf: Vec::with_capacity(4096), counts: [0; RecordType::ALL.len()], error: None, lake: None }
    }

    /// Also writes every flow, http, dns, tls, alert and finding record as a lake row
    /// (whatever `types` says: the lake keeps everything).
    pub fn with_lake(mut self, sink: crate::lake::LakeSink) -> Self {
        self.lake = Some(sink);
        self
    }

    /// The lake sink, when rows go to one.
    pub fn lake(&mut self) -> Option<&mut crate::lake::LakeSink> {
        self.lake.as_mut()
    }

    /// Records written (or counted) by type.
    pub fn count(&self, t: RecordType) -> u64 {
        self.counts[t as usize]
    }

    /// Whether records of type `t` are wanted.
    pub fn wants(&self, t: RecordType) -> bool {
        self.types.has(t)
    }

    /// Starts a record: the common header fields, then `body` adds the rest.
    pub(crate) fn record(&mut self, t: RecordType, ts_ns: u64, body: impl FnOnce(&mut Json<'_>)) {
        if !self.types.has(t) {
            return;
        }
        self.counts[t as usize] += 1;
        self.buf.clear();
        self.buf.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(&mut self.buf, ts_ns);
        self.buf.push(b'"');
        let mut j = Json::continue_object(&mut self.buf);
        j.str("event_type", t.name());
        body(&mut j);
        j.end();
        self.buf.push(b'\n');
        if let (Some(out), None) = (self.out.as_mut(), self.error.as_ref()) {
            if let Err(e) = out.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
    }

    /// Flushes buffered output; reports the first write error seen.
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(l) = self.lake.as_mut() {
            l.flush();
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        match self.out.as_mut() {
            Some(out) => out.flush(),
            None => Ok(()),
        }
    }
}
