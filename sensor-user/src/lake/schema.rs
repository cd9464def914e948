//! The lake's tables and their columns: one definition each, from which the Arrow schema,
//! the row builders and docs/LAKE.md (`sensor lake schema`) are made.
//!
//! Timestamps are nanoseconds since the Unix epoch in UTC (Parquet `TIMESTAMP(NANOS,
//! true)`); counters and ids are signed 64-bit so every SQL engine reads them without
//! an unsigned type; addresses are text as eve.json writes them.

use std::sync::{Arc, OnceLock};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// A column's type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Nanoseconds since the epoch, UTC.
    Ts,
    /// Signed 64-bit integer.
    I64,
    /// 64-bit float.
    F64,
    /// UTF-8 text.
    Str,
    /// Boolean.
    Bool,
}

impl Kind {
    /// The Arrow type.
    pub fn data_type(self) -> DataType {
        match self {
            Kind::Ts => DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())),
            Kind::I64 => DataType::Int64,
            Kind::F64 => DataType::Float64,
            Kind::Str => DataType::Utf8,
            Kind::Bool => DataType::Boolean,
        }
    }

    /// The SQL name shown in the docs.
    pub fn sql(self) -> &'static str {
        match self {
            Kind::Ts => "TIMESTAMP (ns, UTC)",
            Kind::I64 => "BIGINT",
            Kind::F64 => "DOUBLE",
            Kind::Str => "VARCHAR",
            Kind::Bool => "BOOLEAN",
        }
    }
}

/// One column: name, type, meaning.
pub type Column = (&'static str, Kind, &'static str);

/// A table of the lake.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Ended (or timed-out) flows.
    Flows,
    /// DNS queries and answers.
    Dns,
    /// HTTP transactions.
    Http,
    /// TLS handshakes.
    Tls,
    /// Process execs and exits.
    Process,
    /// connect() and accept() calls.
    Connect,
    /// Opens of watched paths.
    Open,
    /// Privilege changes, ptrace, module loads and bpf() calls.
    Syscall,
    /// Log lines (login attempts).
    Log,
    /// Micro-agent findings.
    Findings,
    /// Signature alerts.
    Alerts,
    /// Incident snapshots (one row each time an incident changes).
    Incidents,
    /// Governance decisions (one row per state of a decision).
    Decisions,
    /// The agents' learned baselines.
    Baselines,
}

const TUPLE: [Column; 5] = [
    ("src_ip", Kind::Str, "source address (client side for flow records)"),
    ("src_port", Kind::I64, "source port (null without ports)"),
    ("dest_ip", Kind::Str, "destination address"),
    ("dest_port", Kind::I64, "destination port (null without ports)"),
    ("proto", Kind::Str, "IP protocol name (TCP, UDP, ICMP, IPv6-ICMP) or number"),
];

const PROC: [Column; 7] = [
    ("pid", Kind::I64, "process id (thread group id)"),
    ("tid", Kind::I64, "thread id"),
    ("ppid", Kind::I64, "parent process id (0 when BTF offsets are missing)"),
    ("uid", Kind::I64, "user id"),
    ("gid", Kind::I64, "group id"),
    ("cgroup_id", Kind::I64, "cgroup v2 id"),
    ("comm", Kind::Str, "command name (16 bytes at most)"),
];

macro_rules! cols {
    ($($part:expr),* $(,)?) => {{
        let mut v: Vec<Column> = Vec::new();
        $( v.extend_from_slice(&$part); )*
        v
    }};
}

impl Table {
    /// Every table, in directory order.
    pub const ALL: [Table; 14] = [
        Table::Flows,
        Table::Dns,
        Table::Http,
        Table::Tls,
        Table::Process,
        Table::Connect,
        Table::Open,
        Table::Syscall,
        Table::Log,
        Table::Findings,
        Table::Alerts,
        Table::Incidents,
        Table::Decisions,
        Table::Baselines,
    ];

    /// The table's name (directory `table=NAME`, SQL table name).
    pub fn name(self) -> &'static str {
        match self {
            Table::Flows => "flows",
            Table::Dns => "dns",
            Table::Http => "http",
            Table::Tls => "tls",
            Table::Process => "process",
            Table::Connect => "connect",
            Table::Open => "open",
            Table::Syscall => "syscall",
            Table::Log => "log",
            Table::Findings => "findings",
            Table::Alerts => "alerts",
            Table::Incidents => "incidents",
            Table::Decisions => "decisions",
            Table::Baselines => "baselines",
        }
    }

    /// The table named `name`.
    pub fn from_name(name: &str) -> Option<Table> {
        Table::ALL.into_iter().find(|t| t.name() == name)
    }

    /// What one row is.
    pub fn doc(self) -> &'static str {
        match self {
            Table::Flows => "One flow, written when it ends or times out (eve `flow`).",
            Table::Dns => "One DNS query name, or one answer message (eve `dns`).",
            Table::Http => "One HTTP transaction (eve `http`).",
            Table::Tls => "One TLS handshake (eve `tls`).",
            Table::Process => "One exec or exit seen by the sched tracepoints.",
            Table::Connect => "One connect() or accept() seen by the syscall tracepoints.",
            Table::Open => "One openat() of a watched path prefix.",
            Table::Syscall => "One set*id, ptrace, init/finit_module or bpf() call.",
            Table::Log => "One login attempt read from the auth logs or the journal.",
            Table::Findings => "One micro-agent finding (eve `anomaly` with type `finding`).",
            Table::Alerts => "One signature alert (eve `alert`).",
            Table::Incidents => {
                "The state of an incident each time it changes: the latest row per `incident_id` is current."
            }
            Table::Decisions => {
                "The state of a governance decision each time it changes (decided, approved, denied, expired, rolled back)."
            }
            Table::Baselines => "The agents' learned state (baselines), saved at shutdown and read back at start.",
        }
    }

    /// The table's columns, `ts` first.
    pub fn columns(self) -> &'static [Column] {
        static COLS: OnceLock<Vec<Vec<Column>>> = OnceLock::new();
        &COLS.get_or_init(|| Table::ALL.iter().map(|t| t.build_columns()).collect())[self as usize]
    }

    /// The Arrow schema.
    pub fn schema(self) -> SchemaRef {
        static SCHEMAS: OnceLock<Vec<SchemaRef>> = OnceLock::new();
        Arc::clone(
            &SCHEMAS.get_or_init(|| {
                Table::ALL
                    .iter()
                    .map(|t| {
                        let fields: Vec<Field> =
                            t.columns().iter().map(|(n, k, _)| Field::new(*n, k.data_type(), true)).collect();
                        Arc::new(Schema::new(fields))
                    })
                    .collect()
            })[self as usize],
        )
    }

    fn build_columns(self) -> Vec<Column> {
        const TS: [Column; 1] = [("ts", Kind::Ts, "event time (capture time in replay)")];
        const FLOW_ID: [Column; 1] = [("flow_id", Kind::I64, "the flow's id, as in eve.json")];
        const HOST: [Column; 1] = [("host", Kind::Str, "the sensor's host name")];
        match self {
            Table::Flows => cols![
                TS,
                HOST,
                FLOW_ID,
                [("community_id", Kind::Str, "Community ID flow hash v1")],
                TUPLE,
                [
                    ("app_proto", Kind::Str, "detected application protocol"),
                    ("start", Kind::Ts, "first packet"),
                    ("pkts_toserver", Kind::I64, "packets client to server"),
                    ("pkts_toclient", Kind::I64, "packets server to client"),
                    ("bytes_toserver", Kind::I64, "bytes client to server"),
                    ("bytes_toclient", Kind::I64, "bytes server to client"),
                    ("state", Kind::Str, "flow state (new, established, closed)"),
                    ("reason", Kind::Str, "why the record was written (timeout, forced, shutdown)"),
                    ("alerted", Kind::Bool, "a signature alerted on the flow"),
                    ("tcp_flags", Kind::Str, "TCP flags seen in both directions, hex"),
                    ("icmp_type", Kind::I64, "ICMP type of the first packet"),
                    ("icmp_code", Kind::I64, "ICMP code of the first packet"),
                    ("tcp_flags_ts", Kind::Str, "TCP flags sent by the client, hex"),
                    ("tcp_flags_tc", Kind::Str, "TCP flags sent by the server, hex"),
                ]
            ],
            Table::Dns => cols![
                TS,
                HOST,
                FLOW_ID,
                TUPLE,
                [
                    ("type", Kind::Str, "query or answer"),
                    ("id", Kind::I64, "DNS transaction id"),
                    ("rrname", Kind::Str, "queried name"),
                    ("rrtype", Kind::Str, "query type (A, AAAA, TXT, ...)"),
                    ("rcode", Kind::Str, "answer code (NOERROR, NXDOMAIN, ...); null for queries"),
                    ("answers", Kind::Str, "answer data, comma separated"),
                    ("ttl_min", Kind::I64, "lowest answer TTL"),
                ]
            ],
            Table::Http => cols![
                TS,
                HOST,
                FLOW_ID,
                TUPLE,
                [
                    ("hostname", Kind::Str, "Host header"),
                    ("url", Kind::Str, "request target"),
                    ("method", Kind::Str, "request method"),
                    ("protocol", Kind::Str, "HTTP version"),
                    ("status", Kind::I64, "response status"),
                    ("user_agent", Kind::Str, "User-Agent header"),
                    ("content_type", Kind::Str, "response Content-Type"),
                    ("referer", Kind::Str, "Referer header"),
                    ("length", Kind::I64, "response body bytes"),
                ]
            ],
            Table::Tls => cols![
                TS,
                HOST,
                FLOW_ID,
                TUPLE,
                [
                    ("sni", Kind::Str, "server name indication"),
                    ("version", Kind::Str, "negotiated version"),
                    ("subject", Kind::Str, "server certificate subject"),
                    ("issuer", Kind::Str, "server certificate issuer"),
                    ("fingerprint", Kind::Str, "server certificate SHA-1"),
                    ("ja3", Kind::Str, "JA3 hash"),
                    ("ja3s", Kind::Str, "JA3S hash"),
                    ("ja4", Kind::Str, "JA4 fingerprint"),
                ]
            ],
            Table::Process => cols![
                TS,
                HOST,
                [("event", Kind::Str, "exec or exit")],
                PROC,
                [
                    ("filename", Kind::Str, "executed file (exec)"),
                    ("argv", Kind::Str, "argument head, space separated (exec)"),
                    ("exit_code", Kind::I64, "exit status (exit)"),
                ]
            ],
            Table::Connect => cols![
                TS,
                HOST,
                [("event", Kind::Str, "connect or accept")],
                PROC,
                [
                    ("family", Kind::Str, "inet or inet6"),
                    ("addr", Kind::Str, "remote address (connect) or local address (accept)"),
                    ("port", Kind::I64, "port"),
                ]
            ],
            Table::Open => {
                cols![TS, HOST, PROC, [("path", Kind::Str, "opened path"), ("flags", Kind::I64, "open flags")]]
            }
            Table::Syscall => cols![
                TS,
                HOST,
                [("event", Kind::Str, "setid, ptrace, module_load or bpf")],
                PROC,
                [
                    ("nr", Kind::I64, "syscall or command number"),
                    ("arg0", Kind::I64, "first argument"),
                    ("arg1", Kind::I64, "second argument"),
                ]
            ],
            Table::Log => cols![
                TS,
                HOST,
                [
                    ("service", Kind::Str, "service (sshd, pam, ...)"),
                    ("outcome", Kind::Str, "failure or success"),
                    ("user", Kind::Str, "user name tried"),
                    ("src_ip", Kind::Str, "remote address, when the line names one"),
                ]
            ],
            Table::Findings => cols![
                TS,
                HOST,
                [
                    ("agent", Kind::Str, "the micro-agent (sid:N for signatures)"),
                    ("kind", Kind::Str, "what the agent saw (syn_scan, beacon, ...)"),
                    ("confidence", Kind::F64, "0..1"),
                    ("severity", Kind::Str, "low, medium, high, critical"),
                    ("technique", Kind::Str, "ATT&CK technique id"),
                    ("src_ip", Kind::Str, "adversary address"),
                    ("dest_ip", Kind::Str, "target address"),
                    ("dest_port", Kind::I64, "target port"),
                    ("pid", Kind::I64, "process id"),
                    ("exe", Kind::Str, "executable"),
                    ("user", Kind::Str, "user"),
                    ("measure", Kind::Str, "what was measured"),
                    ("observed", Kind::F64, "measured value"),
                    ("threshold", Kind::F64, "threshold crossed"),
                    ("count", Kind::I64, "events counted"),
                    ("reason", Kind::Str, "the finding in words"),
                ]
            ],
            Table::Alerts => cols![
                TS,
                HOST,
                FLOW_ID,
                TUPLE,
                [
                    ("action", Kind::Str, "allowed or blocked"),
                    ("gid", Kind::I64, "generator id"),
                    ("signature_id", Kind::I64, "sid"),
                    ("rev", Kind::I64, "revision"),
                    ("signature", Kind::Str, "msg"),
                    ("category", Kind::Str, "classtype description"),
                    ("severity", Kind::I64, "priority"),
                    ("app_proto", Kind::Str, "the flow's application protocol"),
                ]
            ],
            Table::Incidents => cols![
                TS,
                HOST,
                [
                    ("incident_id", Kind::I64, "incident id"),
                    ("first_seen", Kind::Ts, "first finding"),
                    ("last_seen", Kind::Ts, "last finding"),
                    ("stage", Kind::Str, "furthest kill-chain stage"),
                    ("stages", Kind::Str, "stages seen, comma separated"),
                    ("confidence", Kind::F64, "combined confidence"),
                    ("severity", Kind::Str, "highest severity"),
                    ("techniques", Kind::Str, "ATT&CK techniques, comma separated"),
                    ("adversaries", Kind::Str, "adversary addresses, comma separated"),
                    ("targets", Kind::Str, "target addresses, comma separated"),
                    ("agents", Kind::Str, "agents that contributed, comma separated"),
                    ("findings", Kind::I64, "findings so far"),
                    ("decisions", Kind::I64, "decisions so far"),
                    ("summary", Kind::Str, "one line"),
                ]
            ],
            Table::Decisions => cols![
                TS,
                HOST,
                [
                    ("decision_id", Kind::I64, "decision id"),
                    ("incident_id", Kind::I64, "incident id"),
                    ("action", Kind::Str, "block, kill, isolate"),
                    ("target", Kind::Str, "what the action is on"),
                    ("verdict", Kind::Str, "what the decision rule said"),
                    ("outcome", Kind::Str, "applied, pending, denied, monitored, refused, expired, rolled_back"),
                    ("authority", Kind::Str, "autonomous, approval, forbidden"),
                    ("asset", Kind::Str, "inventory asset"),
                    ("class", Kind::Str, "asset class"),
                    ("confidence", Kind::F64, "incident confidence when decided"),
                    ("cost_of_inaction", Kind::F64, "confidence x impact"),
                    ("cost_of_action", Kind::F64, "(1 - confidence) x false-positive cost"),
                    ("loss_share", Kind::F64, "share of events lost when decided"),
                    ("by", Kind::Str, "who approved or denied"),
                    ("reasoning", Kind::Str, "why, one line per reason"),
                    ("origin", Kind::Str, "local, or the fleet sensor that proposed it"),
                ]
            ],
            Table::Baselines => {
                cols![TS, HOST, [("state", Kind::Str, "the agents' learned state, JSON as in the state file")]]
            }
        }
    }
}

/// The lake's schema as Markdown (docs/LAKE.md's table section).
pub fn markdown() -> String {
    let mut s = String::new();
    for t in Table::ALL {
        s.push_str(&format!("### `{}`\n\n{}\n\n| column | type | meaning |\n|---|---|---|\n", t.name(), t.doc()));
        for (n, k, d) in t.columns() {
            s.push_str(&format!("| `{n}` | {} | {d} |\n", k.sql()));
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_starts_with_ts_then_host_and_names_columns_once() {
        for t in Table::ALL {
            let cols = t.columns();
            assert_eq!(cols[0].0, "ts", "{}", t.name());
            assert_eq!(cols[1].0, "host", "{}", t.name());
            let mut names: Vec<_> = cols.iter().map(|c| c.0).collect();
            names.sort_unstable();
            names.dedup();
            assert_eq!(names.len(), cols.len(), "duplicate column in {}", t.name());
            assert_eq!(Table::from_name(t.name()), Some(t));
            assert_eq!(t.schema().fields().len(), cols.len());
        }
    }

    #[test]
    fn the_documented_schema_is_the_one_written() {
        let doc = include_str!("../../../docs/LAKE.md");
        assert!(doc.contains(&markdown()), "docs/LAKE.md is stale: paste `sensor lake schema` into it");
    }
}
