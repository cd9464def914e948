//! Command-line definitions (clap derive structs only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// An eBPF packet and syscall sensor with governed XDP containment.
#[derive(Parser, Debug)]
#[command(name = "sensor", version, about)]
pub struct Cli {
    /// Where the sensor pins its maps (on bpffs).
    #[arg(long, global = true, default_value = sensor_user::kernel::DEFAULT_PIN_DIR)]
    pub pin_dir: PathBuf,
    /// Where the sensor keeps its state: block notes, the governor's state, the audit log
    /// and the control socket.
    #[arg(long, global = true, default_value = "/run/sensor")]
    pub state_dir: PathBuf,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Sub-commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Load the kernel programs, attach them and read events until SIGINT/SIGTERM.
    Run(Box<RunArgs>),
    /// Block a source address or CIDR in XDP (acts on the pinned maps of the sensor).
    Block {
        /// IPv4/IPv6 address or CIDR.
        cidr: String,
        /// How long: 30s, 10m, 1h, 7d; 0 or never for no expiry.
        #[arg(long, default_value = "10m")]
        ttl: String,
        /// Why (kept in the block notes).
        #[arg(long, default_value = "manual block")]
        reason: String,
    },
    /// Remove a block.
    Unblock {
        /// The address or CIDR as blocked.
        cidr: String,
    },
    /// List active blocks.
    Blocks {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Replay pcap/pcapng captures (plain or gzip) through the packet pipeline and write
    /// eve.json records (flow, http, dns, tls, ssh, anomaly, stats).
    Replay(Box<ReplayArgs>),
    /// Suricata rules: check files (counts loaded and skipped by reason, with file:line), or
    /// reload the running sensor's rule set.
    Rules {
        /// What to do.
        #[command(subcommand)]
        what: RulesCmd,
    },
    /// The micro-agents: list them, or print the commented default `[agents]` config.
    Agents {
        /// What to show.
        #[command(subcommand)]
        what: AgentsCmd,
    },
    /// Pending containment actions: list, approve or deny them (through the running
    /// sensor's root-only control socket; your identity is recorded in the audit log).
    Approvals {
        /// What to do.
        #[command(subcommand)]
        what: ApprovalsCmd,
    },
    /// Incidents: stage, confidence, the findings behind them, the decisions and why.
    Incidents {
        /// Show one incident in full.
        #[command(subcommand)]
        what: Option<IncidentsCmd>,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Tell the sensor whether an incident was real: updates the agents' precision (which
    /// weights later confidence) and can suppress the same agent + entity for a while.
    Feedback {
        /// The incident id.
        incident: u64,
        /// true-positive or false-positive.
        #[arg(value_enum)]
        label: LabelArg,
        /// Why.
        #[arg(long, default_value = "")]
        note: String,
        /// Also ignore these agents' findings about this entity for this long (10m, 1h, 7d).
        #[arg(long)]
        suppress: Option<String>,
    },
    /// The decision audit log.
    Audit {
        /// What to do.
        #[command(subcommand)]
        what: AuditCmd,
    },
    /// The governance policy (asset inventory, decision rule, authority matrix).
    Policy {
        /// What to do.
        #[command(subcommand)]
        what: PolicyCmd,
    },
    /// SQL over the lake (Apache DataFusion): tables flows, dns, http, tls, process,
    /// connect, open, syscall, log, findings, alerts, incidents, decisions, baselines.
    Query {
        /// The query, e.g. "SELECT src_ip, count(*) FROM flows GROUP BY 1 ORDER BY 2 DESC LIMIT 10".
        sql: String,
        /// The lake (default: STATE_DIR/lake).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// One JSON object per row.
        #[arg(long, conflicts_with = "csv")]
        json: bool,
        /// CSV with a header line.
        #[arg(long)]
        csv: bool,
    },
    /// The lake: its schema (Markdown), or a maintenance pass (compaction, retention).
    Lake {
        /// What to do.
        #[command(subcommand)]
        what: LakeCmd,
    },
    /// Kernel counters of the running sensor.
    Status {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// `sensor lake ...`.
#[derive(Subcommand, Debug)]
pub enum LakeCmd {
    /// Print every table's columns as Markdown (docs/LAKE.md).
    Schema,
    /// Compact small files and apply retention now.
    Maintain {
        /// The lake (default: STATE_DIR/lake).
        #[arg(long)]
        lake: Option<PathBuf>,
        /// Remove partitions older than this (30d, 12h).
        #[arg(long)]
        max_age: Option<String>,
        /// Remove the oldest files while the lake is larger than this (500M, 10G).
        #[arg(long)]
        max_size: Option<String>,
    },
}

/// Where events, findings, incidents and decisions are kept, and the other outputs.
#[derive(Args, Debug, Clone, Default)]
pub struct LakeArgs {
    /// Write the lake (Parquet) here; `run` writes STATE_DIR/lake unless --no-lake.
    #[arg(long)]
    pub lake: Option<PathBuf>,
    /// Do not write the lake (`run`).
    #[arg(long, conflicts_with = "lake")]
    pub no_lake: bool,
    /// Lake retention: remove partitions older than this (run default 30d).
    #[arg(long)]
    pub lake_max_age: Option<String>,
    /// Lake retention: remove the oldest files while the lake is larger (run default 10G).
    #[arg(long)]
    pub lake_max_size: Option<String>,
    /// Seconds after a batch's first row before it is committed (live; default 10).
    #[arg(long)]
    pub lake_flush: Option<f64>,
    /// Write incidents as OCSF Detection Finding JSON lines to this file.
    #[arg(long)]
    pub ocsf: Option<PathBuf>,
}

/// `sensor approvals ...`.
#[derive(Subcommand, Debug)]
pub enum ApprovalsCmd {
    /// What waits, with the evidence, confidence, reasoning and time left.
    List {
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
    /// Carry out a pending action.
    Approve {
        /// Approval id.
        id: u64,
    },
    /// Refuse a pending action.
    Deny {
        /// Approval id.
        id: u64,
        /// Why.
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `sensor incidents show ID`.
#[derive(Subcommand, Debug)]
pub enum IncidentsCmd {
    /// One incident in full.
    Show {
        /// Incident id.
        id: u64,
        /// JSON output.
        #[arg(long)]
        json: bool,
    },
}

/// A feedback label.
#[derive(Clone, Copy, Debug, ValueEnum, PartialEq, Eq)]
pub enum LabelArg {
    /// The incident was a real attack.
    TruePositive,
    /// It was not.
    FalsePositive,
}

/// `sensor audit ...`.
#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check the hash chain (and HMACs with --key): exits non-zero and says where when any
    /// record was edited, deleted, reordered or truncated, or the last line is torn.
    Verify {
        /// The log (default STATE_DIR/audit.jsonl).
        #[arg(long)]
        log: Option<PathBuf>,
        /// HMAC key file (mode 0600) the log was written with.
        #[arg(long)]
        key: Option<PathBuf>,
    },
    /// Print the records.
    Show {
        /// The log (default STATE_DIR/audit.jsonl).
        #[arg(long)]
        log: Option<PathBuf>,
    },
}

/// `sensor policy ...`.
#[derive(Subcommand, Debug)]
pub enum PolicyCmd {
    /// Validate a policy file (exit non-zero with FILE:LINE on the first error).
    Check {
        /// The file.
        file: PathBuf,
    },
    /// Print the commented default policy.
    Default,
    /// Make the running sensor re-read its policy file (the previous one stays in force
    /// when the new one is invalid).
    Reload,
}

/// Governance options of `run` and `replay`.
#[derive(Args, Debug, Clone, Default)]
pub struct GovernArgs {
    /// Governance policy file (see `sensor policy default`); the embedded default otherwise.
    #[arg(long)]
    pub policy: Option<PathBuf>,
    /// Correlate and decide nothing (agents still report findings).
    #[arg(long)]
    pub no_govern: bool,
    /// Audit log (default: STATE_DIR/audit.jsonl for run, none for replay).
    #[arg(long)]
    pub audit_log: Option<PathBuf>,
    /// HMAC key file (mode 0600) for the audit log.
    #[arg(long)]
    pub audit_key: Option<PathBuf>,
}

/// `sensor agents ...`.
#[derive(Subcommand, Debug)]
pub enum AgentsCmd {
    /// Every agent, whether it runs by default, and the events it reads.
    List,
    /// The default `[agents]` config (TOML), to copy into a config file and edit.
    Config,
}

/// `sensor rules ...`.
#[derive(Subcommand, Debug)]
pub enum RulesCmd {
    /// Load rule files or directories and report what loaded, what was skipped (by reason)
    /// and what has errors, each with file:line. Exits non-zero only on syntax errors.
    Check {
        /// Rule files, or directories of `*.rules`.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Rule variables and classification.
        #[command(flatten)]
        vars: RuleVarArgs,
        /// JSON output.
        #[arg(long)]
        json: bool,
        /// Print every skipped rule (default: the reasons with counts and the first few).
        #[arg(long)]
        verbose: bool,
    },
    /// Make the running sensor load its rule files again (as SIGHUP does); the new set is
    /// built beside the old one and swapped in between batches.
    Reload,
}

/// Rule variables and the classification file.
#[derive(Args, Debug, Clone, Default)]
pub struct RuleVarArgs {
    /// A rule variable, `NAME=VALUE` (repeatable); Suricata's default vars apply otherwise.
    /// Names ending in `_PORTS`, `_PORT` or `port:NAME=...` are port groups; `address:NAME=...`
    /// forces an address group.
    #[arg(long = "var")]
    pub vars: Vec<String>,
    /// classification.config (default: the one beside the first rule path, else the
    /// embedded ET Open one).
    #[arg(long)]
    pub classification: Option<PathBuf>,
    /// The prefilter's multi-pattern matcher: `hs` (Hyperscan, as Suricata) or `ac`
    /// (the aho-corasick crate).
    #[arg(long, default_value = "hs")]
    pub mpm: sensor_user::rules::engine::Mpm,
    /// Suricata threshold.config to apply (`threshold` / `event_filter`, `suppress`,
    /// `rate_filter` entries by gen_id and sig_id).
    #[arg(long)]
    pub threshold_file: Option<PathBuf>,
    /// Order in which rule actions apply (Suricata's `action-order`), e.g.
    /// `drop,pass,reject,alert`.
    #[arg(long, default_value = "pass,drop,reject,alert")]
    pub action_order: sensor_user::rules::ir::ActionOrder,
}

/// Signature engine options shared by `run` and `replay`.
#[derive(Args, Debug, Clone, Default)]
pub struct RuleArgs {
    /// Suricata rule files, or directories of `*.rules` (repeatable). No rules: no signature
    /// engine.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// Treat TCP flows picked up without a handshake as established (Suricata's
    /// `stream.midstream: true`; off by default, as in Suricata).
    #[arg(long)]
    pub midstream: bool,
    /// Pick up TCP sessions from their SYN-ACK without --midstream (Suricata's
    /// `stream.async-oneside`, for captures that see one direction).
    #[arg(long)]
    pub async_oneside: bool,
    /// What to do with TCP flows picked up midstream (Suricata's `stream.midstream-policy` /
    /// `exception-policy`): ignore, auto, pass-flow, pass-packet, bypass, drop-flow,
    /// drop-packet, reject. Drop policies act only with --simulate-ips.
    #[arg(long, default_value = "ignore")]
    pub midstream_policy: sensor_user::rules::policy::ExceptionPolicy,
    /// Replay as an inline sensor would see it (Suricata's `--simulate-ips`): drop verdicts are
    /// reported as `blocked`, drop exception policies apply, and TCP app-layer data is seen on
    /// arrival rather than on acknowledgement. Refused by `run` (the live sensor is passive).
    #[arg(long)]
    pub simulate_ips: bool,
    /// Rule variables and classification.
    #[command(flatten)]
    pub vars: RuleVarArgs,
}

/// Micro-agent options shared by `run` and `replay`.
#[derive(Args, Debug, Clone, Default)]
pub struct AgentArgs {
    /// TOML file whose `[agents]` table configures the micro-agents (see `sensor agents config`).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Run no micro-agents.
    #[arg(long)]
    pub no_agents: bool,
    /// Run only these agents (comma-separated names, see `sensor agents list`).
    #[arg(long, value_delimiter = ',')]
    pub agents: Vec<String>,
    /// Learned baselines: read at start when the file exists, written at the end.
    /// `run` defaults to STATE_DIR/agents-state.json; `replay` keeps none unless given.
    #[arg(long)]
    pub agent_state: Option<PathBuf>,
}

/// XDP attach mode.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum XdpModeArg {
    /// Native, falling back to generic.
    Auto,
    /// Native (driver) mode only.
    Native,
    /// Generic (skb) mode only.
    Generic,
}

/// `sensor run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// Interface to attach XDP ingress and TC egress to (repeatable).
    #[arg(long = "iface", required = true)]
    pub ifaces: Vec<String>,
    /// Print every event as a JSON line on stdout.
    #[arg(long)]
    pub print_events: bool,
    /// The kernel object (default: $SENSOR_BPF_OBJECT, next to the binary, or target/bpf/).
    #[arg(long)]
    pub object: Option<PathBuf>,
    /// XDP attach mode.
    #[arg(long, value_enum, default_value = "auto")]
    pub xdp_mode: XdpModeArg,
    /// Bytes of L4 payload per sample (N, at most 1024).
    #[arg(long, default_value_t = 256)]
    pub sample_bytes: u32,
    /// Payload-carrying packets sampled per direction of each flow (K).
    #[arg(long, default_value_t = 3)]
    pub sample_packets: u32,
    /// Path prefix whose openat is reported (repeatable; replaces the defaults).
    #[arg(long = "watch-path")]
    pub watch_paths: Vec<String>,
    /// Do not attach TC egress.
    #[arg(long)]
    pub no_egress: bool,
    /// Do not attach the process and syscall tracepoints.
    #[arg(long)]
    pub no_tracepoints: bool,
    /// Network event ring size in bytes (power of two).
    #[arg(long)]
    pub net_ring_bytes: Option<u32>,
    /// Process event ring size in bytes (power of two).
    #[arg(long)]
    pub proc_ring_bytes: Option<u32>,
    /// Also run the packet pipeline (flows, TCP reassembly, HTTP/DNS/TLS/SSH parsing) on the
    /// kernel's flow events and payload samples, writing eve.json records to this file.
    #[arg(long)]
    pub eve: Option<std::path::PathBuf>,
    /// Stop after this many seconds (default: run until signalled).
    #[arg(long)]
    pub duration: Option<f64>,
    /// Join a fleet through the NATS JetStream server at this URL (nats://host:4222):
    /// publish findings, incidents and decisions, and take the blocks other sensors
    /// applied through this sensor's own governance.
    #[arg(long)]
    pub fleet: Option<String>,
    /// The fleet site this sensor belongs to (a subject level).
    #[arg(long, default_value = "default")]
    pub site: String,
    /// This sensor's name in the fleet (default: the host name).
    #[arg(long)]
    pub fleet_id: Option<String>,
    /// Serve Prometheus metrics at http://ADDR/metrics (loopback by default; "off" to
    /// disable).
    #[arg(long, default_value = "127.0.0.1:9464")]
    pub metrics: String,
    /// At start, the agents warm up on this much recent history from the lake (flows,
    /// DNS, TLS/HTTP names, logins of this host), so windows open at the last stop go on;
    /// what they find on it is not reported again. "0" turns it off.
    #[arg(long, default_value = "1h")]
    pub agent_history: String,
    /// Auth log files (sshd/PAM lines) to follow for the brute_force agent (repeatable);
    /// the systemd journal is read too when journald runs.
    #[arg(long = "auth-log")]
    pub auth_logs: Vec<PathBuf>,
    /// Micro-agents.
    #[command(flatten)]
    pub agents: AgentArgs,
    /// Signature engine.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Governance.
    #[command(flatten)]
    pub govern: GovernArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
    /// Analyst console.
    #[command(flatten)]
    pub console: ConsoleArgs,
}

/// The analyst console of `run`.
#[derive(Args, Debug, Clone)]
pub struct ConsoleArgs {
    /// Serve the analyst web console at ADDR ("off" to disable). Loopback only unless
    /// --console-remote.
    #[arg(long, default_value = "127.0.0.1:9465")]
    pub console: String,
    /// The console's accounts: one "NAME TOKEN" (or "NAME sha256:HEX") per line, mode 600.
    /// Default STATE_DIR/console-users, created with user admin and a random token (printed
    /// once) when missing.
    #[arg(long)]
    pub console_users: Option<PathBuf>,
    /// Let the console listen on a non-loopback address (give it a certificate too).
    #[arg(long)]
    pub console_remote: bool,
    /// PEM certificate chain: serve the console over HTTPS.
    #[arg(long, requires = "console_key")]
    pub console_cert: Option<PathBuf>,
    /// PEM private key of --console-cert.
    #[arg(long, requires = "console_cert")]
    pub console_key: Option<PathBuf>,
}

/// `sensor replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// Capture files or directories (read recursively, in name order).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where eve.json records go: a file path, or `-` for stdout.
    #[arg(long, default_value = "-")]
    pub eve: String,
    /// Record types to write (comma-separated: flow,http,dns,tls,ssh,anomaly,stats).
    #[arg(long, value_delimiter = ',')]
    pub types: Vec<String>,
    /// Bytes of each TCP direction reassembled and parsed.
    #[arg(long, default_value_t = 1 << 20)]
    pub stream_depth: u64,
    /// Most flows tracked at once (beyond it the flow nearest its timeout is evicted).
    #[arg(long, default_value_t = 1 << 20)]
    pub max_flows: usize,
    /// Leave the VLAN id out of flow keys (Suricata's `vlan.use-for-tracking: false`), for
    /// captures whose two directions carry different tags.
    #[arg(long)]
    pub no_vlan_tracking: bool,
    /// Bytes of each HTTP body kept after de-chunking and decompression.
    #[arg(long, default_value_t = 64 * 1024)]
    pub http_body_limit: usize,
    /// No progress bar.
    #[arg(long)]
    pub no_progress: bool,
    /// No summary table on stderr.
    #[arg(long)]
    pub quiet: bool,
    /// Write the incidents and their (dry-run) decisions as JSON to this file.
    #[arg(long)]
    pub incidents: Option<PathBuf>,
    /// Micro-agents.
    #[command(flatten)]
    pub agents: AgentArgs,
    /// Signature engine.
    #[command(flatten)]
    pub rules: RuleArgs,
    /// Governance (replay decides on event time and acts on nothing).
    #[command(flatten)]
    pub govern: GovernArgs,
    #[command(flatten)]
    pub lake: LakeArgs,
}
