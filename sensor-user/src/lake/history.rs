//! Recent history for the agents: the events of the last hour (or as asked) read back from
//! the lake at start, so windows that were open when the sensor stopped (a slow scan, a
//! beacon's intervals, a brute force's failures) continue across the restart.
//!
//! Read back: `flows` (as finished flows), `dns` (queries and answers; A/AAAA answers also
//! refill the context's address -> name table), `tls` SNI and `http` Host (as names) and
//! `log` (login attempts). Process, connect, open and syscall rows are not: the process
//! tree is seeded from /proc instead, and pids of an earlier boot mean nothing.
//!
//! Only rows of this host newer than `since` are read; partitions whose storage hour ended
//! before `since` are skipped without opening their files (a row is stored after it
//! happened). At most `max_events` events are kept, the newest. Unreadable files are
//! skipped and named.

use std::{net::IpAddr, path::Path};

use arrow::{
    array::{Array, AsArray, Int64Array, RecordBatch, StringArray, TimestampNanosecondArray},
    datatypes::{Int64Type, TimestampNanosecondType},
};

use super::{Table, maintain::read_file, path::data_files};
use crate::{
    agents::event::{AuthEvent, AuthOutcome, DnsEvent, Event, FlowSummary, NameEvent, Text, tcp},
    packet::{
        app::{
            AppProto,
            dns::{rcode_name, rrtype_name},
        },
        eve::proto_name,
    },
};

/// Events kept at most by default (the newest; about 600 bytes each while loading).
pub const DEFAULT_MAX_EVENTS: usize = 250_000;

const HOUR_NS: u64 = 3_600_000_000_000;

/// Events read back per table.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HistoryCounts {
    /// Finished flows.
    pub flows: u64,
    /// DNS queries and answers.
    pub dns: u64,
    /// TLS SNI and HTTP Host names.
    pub names: u64,
    /// Login attempts.
    pub logins: u64,
}

/// What was read back.
#[derive(Debug, Default)]
pub struct History {
    /// The events, oldest first.
    pub events: Vec<Event>,
    /// A/AAAA answers: address, name, time (for the context's address -> name table).
    pub dns_answers: Vec<(IpAddr, Text, u64)>,
    /// Events per table (before the cap).
    pub counts: HistoryCounts,
    /// Events left out because more than `max_events` were found (the oldest).
    pub dropped: u64,
    /// Files that could not be read, with why.
    pub skipped: Vec<String>,
}

/// Reads the events of `host` newer than `since_ns` (wall time) from the lake at `root`.
pub fn load(root: &Path, host: &str, since_ns: u64, max_events: usize) -> History {
    let mut h = History::default();
    for table in [Table::Flows, Table::Dns, Table::Tls, Table::Http, Table::Log] {
        for (path, hour_ns) in data_files(root, table) {
            if hour_ns.saturating_add(HOUR_NS) <= since_ns {
                continue;
            }
            let batches = match read_file(&path) {
                Ok(b) => b,
                Err(e) => {
                    h.skipped.push(format!("{}: {e}", path.display()));
                    continue;
                }
            };
            for b in &batches {
                read_batch(&mut h, table, &Cols(b), host, since_ns);
            }
            if h.events.len() > max_events.saturating_mul(2).max(1024) {
                keep_newest(&mut h, max_events);
            }
        }
    }
    keep_newest(&mut h, max_events);
    h.events.sort_by_key(Event::ts_ns);
    h.dns_answers.sort_by_key(|a| a.2);
    h
}

fn keep_newest(h: &mut History, max: usize) {
    if h.events.len() <= max {
        return;
    }
    h.events.sort_by_key(|e| std::cmp::Reverse(e.ts_ns()));
    h.dropped += (h.events.len() - max) as u64;
    h.events.truncate(max);
}

/// A batch's columns by name (absent or mistyped columns read as null).
struct Cols<'a>(&'a RecordBatch);

impl<'a> Cols<'a> {
    fn str(&self, name: &str) -> Option<&'a StringArray> {
        self.0.column_by_name(name)?.as_string_opt::<i32>()
    }
    fn i64(&self, name: &str) -> Option<&'a Int64Array> {
        self.0.column_by_name(name)?.as_primitive_opt::<Int64Type>()
    }
    fn ts(&self, name: &str) -> Option<&'a TimestampNanosecondArray> {
        self.0.column_by_name(name)?.as_primitive_opt::<TimestampNanosecondType>()
    }
}

fn s(a: Option<&StringArray>, i: usize) -> Option<&str> {
    a.filter(|a| !a.is_null(i)).map(|a| a.value(i))
}

fn n(a: Option<&Int64Array>, i: usize) -> Option<i64> {
    a.filter(|a| !a.is_null(i)).map(|a| a.value(i))
}

fn u(a: Option<&Int64Array>, i: usize) -> u64 {
    n(a, i).unwrap_or(0).max(0) as u64
}

fn t(a: Option<&TimestampNanosecondArray>, i: usize) -> Option<u64> {
    a.filter(|a| !a.is_null(i)).map(|a| a.value(i).max(0) as u64)
}

fn ip(a: Option<&StringArray>, i: usize) -> Option<IpAddr> {
    s(a, i)?.parse().ok()
}

fn port(a: Option<&Int64Array>, i: usize) -> u16 {
    n(a, i).and_then(|p| u16::try_from(p).ok()).unwrap_or(0)
}

fn hex_flags(a: Option<&StringArray>, i: usize) -> Option<u8> {
    u8::from_str_radix(s(a, i)?, 16).ok()
}

/// The protocol number of a `proto` column value (a name or a number).
pub fn proto_number(name: &str) -> Option<u8> {
    name.parse().ok().or_else(|| (0..=u8::MAX).find(|p| proto_name(*p) == name))
}

/// The record type of an `rrtype` value (a name or a number).
pub fn rrtype_number(name: &str) -> Option<u16> {
    name.parse().ok().or_else(|| (0..=512u16).find(|t| rrtype_name(*t) == name))
}

/// The response code of an `rcode` value (a name or a number).
pub fn rcode_number(name: &str) -> Option<u8> {
    name.parse().ok().or_else(|| (0..=u8::MAX).find(|c| rcode_name(*c) == name))
}

/// The static name the agents use for an `app_proto` value ("" when unknown).
fn app_name(name: Option<&str>) -> &'static str {
    AppProto::ALL
        .iter()
        .map(|a| a.name())
        .find(|n| Some(*n) == name)
        .filter(|n| !matches!(*n, "unknown" | "failed"))
        .unwrap_or("")
}

fn read_batch(h: &mut History, table: Table, c: &Cols<'_>, host: &str, since_ns: u64) {
    let (ts, hosts) = (c.ts("ts"), c.str("host"));
    for i in 0..c.0.num_rows() {
        let Some(ts_ns) = t(ts, i).filter(|t| *t >= since_ns) else { continue };
        if s(hosts, i) != Some(host) {
            continue;
        }
        let ev = match table {
            Table::Flows => flow(c, i, ts_ns).map(Event::FlowEnd),
            Table::Dns => dns(h, c, i, ts_ns).map(Event::Dns),
            Table::Tls | Table::Http => name(c, i, ts_ns, table).map(Event::Name),
            Table::Log => login(c, i, ts_ns).map(Event::Auth),
            _ => None,
        };
        let Some(ev) = ev else { continue };
        match table {
            Table::Flows => h.counts.flows += 1,
            Table::Dns => h.counts.dns += 1,
            Table::Log => h.counts.logins += 1,
            _ => h.counts.names += 1,
        }
        h.events.push(ev);
    }
}

/// A `flows` row as the finished flow the pipeline gave the agents. Rows written before
/// the per-direction flag columns existed take the union for the client and count the
/// handshake as done when the state says established.
fn flow(c: &Cols<'_>, i: usize, ts_ns: u64) -> Option<FlowSummary> {
    let (client, server) = (ip(c.str("src_ip"), i)?, ip(c.str("dest_ip"), i)?);
    let proto = proto_number(s(c.str("proto"), i)?)?;
    let (pkts_to_server, pkts_to_client) = (u(c.i64("pkts_toserver"), i), u(c.i64("pkts_toclient"), i));
    let per_dir = (hex_flags(c.str("tcp_flags_ts"), i), hex_flags(c.str("tcp_flags_tc"), i));
    let (fs, fc, established) = match per_dir {
        (Some(fs), Some(fc)) => {
            let syn_ack = tcp::SYN | tcp::ACK;
            let handshake = fc & syn_ack == syn_ack && fs & tcp::ACK != 0;
            let midstream = (fs | fc) & tcp::SYN == 0 && pkts_to_server > 0 && pkts_to_client > 0;
            (fs, fc, handshake || midstream)
        }
        _ => {
            let union = hex_flags(c.str("tcp_flags"), i).unwrap_or(0);
            (union, 0, s(c.str("state"), i) == Some("established"))
        }
    };
    let established = established && proto == crate::agents::event::ip_proto::TCP;
    Some(FlowSummary {
        ts_ns,
        flow_id: u(c.i64("flow_id"), i),
        client,
        server,
        client_port: port(c.i64("src_port"), i),
        server_port: port(c.i64("dest_port"), i),
        proto,
        start_ns: t(c.ts("start"), i).unwrap_or(ts_ns).min(ts_ns),
        pkts_to_server,
        pkts_to_client,
        bytes_to_server: u(c.i64("bytes_toserver"), i),
        bytes_to_client: u(c.i64("bytes_toclient"), i),
        flags_to_server: fs,
        flags_to_client: fc,
        established,
        app: app_name(s(c.str("app_proto"), i)),
    })
}

/// A `dns` row: a query (sent by the client) or an answer (sent by the server).
fn dns(h: &mut History, c: &Cols<'_>, i: usize, ts_ns: u64) -> Option<DnsEvent> {
    let (src, dst) = (ip(c.str("src_ip"), i)?, ip(c.str("dest_ip"), i)?);
    let response = s(c.str("type"), i) == Some("answer");
    let (client, server) = if response { (dst, src) } else { (src, dst) };
    let qname = Text::new(s(c.str("rrname"), i).unwrap_or("").as_bytes());
    let answers = s(c.str("answers"), i).unwrap_or("");
    let mut count: u16 = 0;
    for a in answers.split(',').filter(|a| !a.is_empty()) {
        count = count.saturating_add(1);
        if let Ok(addr) = a.trim().parse::<IpAddr>()
            && !qname.is_empty()
        {
            h.dns_answers.push((addr, qname, ts_ns));
        }
    }
    Some(DnsEvent {
        ts_ns,
        flow_id: u(c.i64("flow_id"), i),
        client,
        server,
        response,
        qname,
        qtype: s(c.str("rrtype"), i).and_then(rrtype_number).unwrap_or(0),
        rcode: if response { s(c.str("rcode"), i).and_then(rcode_number).unwrap_or(0) } else { 0 },
        answers: count,
        size: 0,
    })
}

/// A `tls` SNI or an `http` Host header as a name event.
fn name(c: &Cols<'_>, i: usize, ts_ns: u64, table: Table) -> Option<NameEvent> {
    let (col, source) = if table == Table::Tls { ("sni", "tls") } else { ("hostname", "http") };
    let name = s(c.str(col), i).filter(|n| !n.is_empty())?;
    Some(NameEvent {
        ts_ns,
        flow_id: u(c.i64("flow_id"), i),
        client: ip(c.str("src_ip"), i)?,
        server: ip(c.str("dest_ip"), i)?,
        source,
        name: Text::new(name.as_bytes()),
    })
}

/// A `log` row as a login attempt.
fn login(c: &Cols<'_>, i: usize, ts_ns: u64) -> Option<AuthEvent> {
    let outcome = match s(c.str("outcome"), i)? {
        "failure" => AuthOutcome::Failure,
        "success" => AuthOutcome::Success,
        _ => return None,
    };
    Some(AuthEvent {
        ts_ns,
        outcome,
        source: ip(c.str("src_ip"), i),
        user: Text::new(s(c.str("user"), i).unwrap_or("").as_bytes()),
        service: crate::logs::auth::service_name(s(c.str("service"), i).unwrap_or("").as_bytes()),
    })
}
