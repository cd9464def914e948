//! Port scans: one source probing many ports of one host (vertical), one port on many hosts
//! (horizontal) or many ports on many hosts (block), and single banner grabs on
//! remote-access ports.
//!
//! How: every finished flow ([`FlowSummary`]) is classified from its client's side: a TCP
//! SYN that never completed the handshake (rejected by RST, unanswered, or half-open and
//! reset by the client), a `connect()` probe (handshake, no data, closed at once), a
//! banner grab (handshake, a few bytes, client reset within seconds), a FIN / NULL / Xmas
//! probe (no SYN at all), a UDP datagram that got no answer. Those are *failed probes*;
//! every other flow the source started counts as an answered attempt. Per source, a fast
//! window (`window_s`, 60 s) and a slow one (`slow_window_s`, 1 h) count failed probes into
//! three distinct-count sketches (destination hosts, ports, host:port services, see
//! [`super::sketch`]) and by probe style. A scan is reported when the distinct failed
//! targets reach `min_distinct` (5) with a failure share of at least `min_failure_share`
//! (0.3): a browser opening connections to 40 servers on 443 has its connections answered,
//! so it stays quiet. Peer-to-peer style fan-out (many hosts, each on its own port) is
//! neither horizontal nor vertical and is not reported.
//!
//! Confidence grows with the distinct count (5 targets ~0.3, 10 ~0.5, 20 ~0.7, 100+ ~0.95),
//! is scaled by the failure share and raised by 0.1 when FIN / NULL / Xmas probes, which
//! benign stacks never send, are seen. A single banner grab on a remote-access port
//! (`service_ports`) is reported at 0.2 (0.05 more per further grab, at most 0.45).
//! Findings about one source are held for `cooldown_s` (600 s) unless the confidence enters
//! a higher band (0.5, 0.7, 0.9), the distinct count grows eightfold or the scan changes
//! shape (a banner grab, then a sweep).
//!
//! Memory: `max_sources` (8192) source entries of about 650 bytes (5.3 MB), allocated at
//! start; the stalest source is evicted when the table is full. Sharded by source address.

use std::net::IpAddr;

use super::{
    agent::{Agent, Emitter, ns_secs, secs_ns},
    context::Context,
    event::{Event, FlowSummary, addr_key, int_key, ip_proto, kind, tcp},
    finding::{Entities, Evidence, Finding, Severity},
    sketch::{BoundedTable, LinearCounter, PortSet, TopOne, is_unicast},
};

/// The `[agents.port_scan]` section.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PortScanConfig {
    /// Fast window, seconds (default 60).
    pub window_s: f64,
    /// Slow window for slow scans, seconds (default 3600).
    pub slow_window_s: f64,
    /// Distinct failed targets (ports of one host, hosts on one port, or services) before a
    /// scan is reported (default 5).
    pub min_distinct: u32,
    /// Least share of the source's connection attempts in the window that failed (default 0.3).
    pub min_failure_share: f64,
    /// Longest flow that still counts as a `connect()` probe or banner grab, seconds (default 3).
    pub probe_max_s: f64,
    /// Report single banner grabs on `service_ports` (default true).
    pub report_service_probes: bool,
    /// Remote-access and commonly attacked service ports for banner grabs (default: FTP, SSH,
    /// telnet, SMTP, RPC, NetBIOS, SMB, databases, RDP, VNC, Redis, Docker, Elasticsearch...).
    pub service_ports: Vec<u16>,
    /// Sources tracked at once (default 8192); the stalest is evicted when full.
    pub max_sources: usize,
    /// Hold-off between findings about one source unless confidence enters a higher band
    /// (0.5, 0.7, 0.9) or the distinct count grows eightfold, seconds
    /// (default 600).
    pub cooldown_s: f64,
}

impl Default for PortScanConfig {
    fn default() -> Self {
        Self {
            window_s: 60.0,
            slow_window_s: 3600.0,
            min_distinct: 5,
            min_failure_share: 0.3,
            probe_max_s: 3.0,
            report_service_probes: true,
            service_ports: vec![
                21, 22, 23, 25, 110, 111, 135, 139, 143, 445, 512, 513, 514, 1433, 1521, 2049, 2375, 2376, 3306, 3389,
                5432, 5900, 5901, 5902, 5903, 5984, 6379, 8291, 9200, 11211, 27017,
            ],
            max_sources: 8192,
            cooldown_s: 600.0,
        }
    }
}

/// How a failed probe looked from the client's side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Syn,
    Connect,
    Fin,
    Null,
    Xmas,
    Odd,
    Udp,
    Service,
}

const STYLES: usize = 8;

impl Style {
    const ALL: [Style; STYLES] =
        [Style::Syn, Style::Connect, Style::Fin, Style::Null, Style::Xmas, Style::Odd, Style::Udp, Style::Service];

    fn label(self) -> &'static str {
        match self {
            Style::Syn => "SYN",
            Style::Connect => "connect",
            Style::Fin => "FIN",
            Style::Null => "NULL",
            Style::Xmas => "Xmas",
            Style::Odd => "odd-flags",
            Style::Udp => "UDP",
            Style::Service => "banner-grab",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Style::Syn => "syn_scan",
            Style::Connect => "connect_scan",
            Style::Fin => "fin_scan",
            Style::Null => "null_scan",
            Style::Xmas => "xmas_scan",
            Style::Odd => "stealth_scan",
            Style::Udp => "udp_scan",
            Style::Service => "service_scan",
        }
    }

    fn stealthy(self) -> bool {
        matches!(self, Style::Fin | Style::Null | Style::Xmas | Style::Odd)
    }
}

/// What a finished flow says about its client.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    /// A connection attempt that was answered and used.
    Answered,
    /// A probe that failed, with its style.
    Failed(Style),
}

/// Frame header bytes assumed per packet when estimating payload from frame counters
/// (Ethernet 14 + IPv4 20 + TCP with timestamps 32; IPv6 adds 20).
fn header_bytes(a: &IpAddr) -> u64 {
    if a.is_ipv4() { 66 } else { 86 }
}

/// Classifies a finished flow from its client's point of view (None: not a connection
/// attempt by the client: midstream pickups, teardown leftovers, multicast, ICMP...).
fn classify(f: &FlowSummary, probe_max_ns: u64) -> Option<Outcome> {
    if !is_unicast(&f.server) || f.pkts_to_server == 0 {
        return None;
    }
    match f.proto {
        ip_proto::UDP => Some(if f.pkts_to_client == 0 { Outcome::Failed(Style::Udp) } else { Outcome::Answered }),
        ip_proto::TCP => {
            let fs = f.flags_to_server;
            if fs & tcp::SYN == 0 {
                // No SYN from the client: stealth probes, or a connection picked up midway.
                return match fs {
                    0 => Some(Outcome::Failed(Style::Null)),
                    tcp::FIN => Some(Outcome::Failed(Style::Fin)),
                    _ if fs & (tcp::ACK | tcp::RST) != 0 => None,
                    _ if fs & (tcp::FIN | tcp::PSH | tcp::URG) == tcp::FIN | tcp::PSH | tcp::URG => {
                        Some(Outcome::Failed(Style::Xmas))
                    }
                    _ => Some(Outcome::Failed(Style::Odd)),
                };
            }
            // The handshake completed: the pipeline says so, or the client acknowledged after
            // the server's SYN-ACK (a half-open scan resets without ACK).
            let synack = f.flags_to_client & (tcp::SYN | tcp::ACK) == tcp::SYN | tcp::ACK;
            if !(f.established || (synack && fs & tcp::ACK != 0)) {
                return Some(Outcome::Failed(Style::Syn));
            }
            let hdr = header_bytes(&f.client);
            let client_payload = f.bytes_to_server.saturating_sub(f.pkts_to_server.saturating_mul(hdr));
            let server_payload = f.bytes_to_client.saturating_sub(f.pkts_to_client.saturating_mul(hdr));
            let short = f.ts_ns.saturating_sub(f.start_ns) <= probe_max_ns;
            if short
                && fs & (tcp::RST | tcp::FIN) != 0
                && f.pkts_to_server <= 4
                && f.pkts_to_client <= 3
                && client_payload <= 16
            {
                return Some(Outcome::Failed(Style::Connect));
            }
            if short
                && fs & tcp::RST != 0
                && f.pkts_to_server <= 12
                && client_payload <= 64
                && f.pkts_to_client >= 2
                && server_payload <= 4096
            {
                return Some(Outcome::Failed(Style::Service));
            }
            Some(Outcome::Answered)
        }
        _ => None,
    }
}

/// Counters of one window of one source.
#[derive(Clone, Copy, Debug, Default)]
struct Window<const W: usize> {
    start_ns: u64,
    last_ns: u64,
    probes: u32,
    failed: u32,
    styles: [u32; STYLES],
    hosts: LinearCounter<W>,
    ports: LinearCounter<W>,
    services: LinearCounter<W>,
    top_host: TopOne<IpAddr>,
    top_port: TopOne<u16>,
}

impl<const W: usize> Window<W> {
    /// Starts a new window when `ts` is past this one (a time before the start counts in
    /// the current window: flow ends arrive out of order).
    fn roll(&mut self, ts: u64, len_ns: u64) {
        if self.start_ns == 0 || ts >= self.start_ns.saturating_add(len_ns) {
            *self = Self { start_ns: ts.max(1), last_ns: ts, ..Self::default() };
        }
        self.last_ns = self.last_ns.max(ts);
    }

    fn add(&mut self, f: &FlowSummary, outcome: Outcome) {
        self.probes = self.probes.saturating_add(1);
        let Outcome::Failed(style) = outcome else { return };
        self.failed = self.failed.saturating_add(1);
        self.styles[style as usize] = self.styles[style as usize].saturating_add(1);
        let h = addr_key(&f.server);
        let p = int_key(u64::from(f.server_port) | u64::from(f.proto) << 16);
        self.hosts.insert(h);
        self.ports.insert(p);
        self.services.insert(h ^ p.rotate_left(17));
        self.top_host.add(f.server);
        self.top_port.add(f.server_port);
    }
}

/// Which shape of scan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    Vertical,
    Horizontal,
    Block,
    ServiceProbe,
}

/// A scan judged from one window.
#[derive(Clone, Copy, Debug)]
struct Verdict {
    shape: Shape,
    distinct: u32,
    confidence: f32,
    kind: &'static str,
    window_s: f64,
    span_ns: u64,
    probes: u32,
    failed: u32,
    styles: [u32; STYLES],
    host: Option<IpAddr>,
    port: Option<u16>,
}

fn dominant_kind(styles: &[u32; STYLES], failed: u32) -> &'static str {
    let (i, n) = styles.iter().enumerate().max_by_key(|(_, n)| **n).map_or((0, 0), |(i, n)| (i, *n));
    if failed > 0 && f64::from(n) >= 0.6 * f64::from(failed) { Style::ALL[i].kind() } else { "mixed_scan" }
}

/// Confidence for `d` distinct failed targets at failure share `share`.
fn scan_confidence(d: u32, share: f64, stealth: bool) -> f32 {
    let base = (0.1 + 0.18 * (f64::from(d) / 2.0).log2()).clamp(0.0, 0.95);
    let c = base * (0.4 + 0.6 * share.clamp(0.0, 1.0)) + if stealth { 0.1 } else { 0.0 };
    c.clamp(0.0, 0.99) as f32
}

impl<const W: usize> Window<W> {
    fn verdict(&self, cfg: &PortScanConfig, window_s: f64) -> Option<Verdict> {
        if self.failed == 0 || self.probes == 0 {
            return None;
        }
        let share = f64::from(self.failed) / f64::from(self.probes);
        if share < cfg.min_failure_share {
            return None;
        }
        let (h, p, s) = (self.hosts.count(), self.ports.count(), self.services.count());
        let min = cfg.min_distinct.max(1);
        let (shape, d) = if p >= min && h <= (p / 4).max(2) {
            (Shape::Vertical, p)
        } else if h >= min && p <= (h / 4).max(2) {
            (Shape::Horizontal, h)
        } else if s >= 2 * min && s >= 2 * h.max(p) {
            (Shape::Block, s)
        } else {
            return None;
        };
        let stealth = Style::ALL.iter().any(|st| st.stealthy() && self.styles[*st as usize] > 0);
        Some(Verdict {
            shape,
            distinct: d,
            confidence: scan_confidence(d, share, stealth),
            kind: dominant_kind(&self.styles, self.failed),
            window_s,
            span_ns: self.last_ns.saturating_sub(self.start_ns),
            probes: self.probes,
            failed: self.failed,
            styles: self.styles,
            host: (shape == Shape::Vertical).then(|| self.top_host.get()).flatten(),
            port: (shape == Shape::Horizontal).then(|| self.top_port.get()).flatten(),
        })
    }
}

/// Flow ids kept per source as evidence.
const SAMPLE: usize = 8;

/// State of one source.
#[derive(Clone, Copy, Debug, Default)]
struct Source {
    fast: Window<8>,
    slow: Window<4>,
    service_probes: u32,
    last_conf: f32,
    last_distinct: u32,
    last_shape: Option<Shape>,
    last_emit_ns: u64,
    sample: [u64; SAMPLE],
    sampled: u32,
}

/// The port-scan agent.
#[derive(Debug)]
pub struct PortScan {
    cfg: PortScanConfig,
    window_ns: u64,
    slow_ns: u64,
    probe_max_ns: u64,
    cooldown_ns: u64,
    service_ports: PortSet,
    sources: BoundedTable<IpAddr, Source>,
}

impl PortScan {
    /// Sources evicted so far because the table was full.
    pub fn evicted(&self) -> u64 {
        self.sources.evicted()
    }

    /// Sources tracked now.
    pub fn tracked(&self) -> usize {
        self.sources.len()
    }

    fn on_flow(&mut self, f: &FlowSummary, out: &mut Emitter<'_>) {
        let Some(outcome) = classify(f, self.probe_max_ns) else { return };
        let ts = f.ts_ns;
        let (window_ns, slow_ns) = (self.window_ns, self.slow_ns);
        let (src, _) = self.sources.get_or_insert_with(addr_key(&f.client), f.client, ts, Source::default);
        let fast_rolled = src.fast.start_ns == 0 || ts >= src.fast.start_ns.saturating_add(window_ns);
        src.fast.roll(ts, window_ns);
        if fast_rolled {
            src.service_probes = 0;
        }
        src.slow.roll(ts, slow_ns);
        src.fast.add(f, outcome);
        src.slow.add(f, outcome);
        let Outcome::Failed(style) = outcome else { return };
        src.sample[src.sampled as usize % SAMPLE] = f.flow_id;
        src.sampled = src.sampled.wrapping_add(1);
        let cfg = &self.cfg;
        let fast = src.fast.verdict(cfg, cfg.window_s);
        let slow = src.slow.verdict(cfg, cfg.slow_window_s);
        let mut best = match (fast, slow) {
            (Some(a), Some(b)) => Some(if b.confidence > a.confidence { b } else { a }),
            (a, b) => a.or(b),
        };
        if best.is_none()
            && style == Style::Service
            && cfg.report_service_probes
            && self.service_ports.contains(f.server_port)
        {
            src.service_probes = src.service_probes.saturating_add(1);
            let n = src.service_probes;
            best = Some(Verdict {
                shape: Shape::ServiceProbe,
                distinct: n,
                confidence: (0.2 + 0.05 * (n.min(6) - 1) as f32).min(0.45),
                kind: "service_probe",
                window_s: cfg.window_s,
                span_ns: ts.saturating_sub(f.start_ns),
                probes: src.fast.probes,
                failed: src.fast.failed,
                styles: src.fast.styles,
                host: Some(f.server),
                port: Some(f.server_port),
            });
        }
        let Some(v) = best else { return };
        let cooled = src.last_emit_ns == 0 || ts >= src.last_emit_ns.saturating_add(self.cooldown_ns);
        let grew = v.distinct >= src.last_distinct.saturating_mul(8);
        let reshaped = src.last_shape != Some(v.shape);
        if !cooled && band(v.confidence) <= band(src.last_conf) && !grew && !reshaped {
            return;
        }
        src.last_shape = Some(v.shape);
        src.last_distinct = v.distinct;
        src.last_conf = v.confidence;
        src.last_emit_ns = ts.max(1);
        let n = (src.sampled as usize).min(SAMPLE);
        let flow_ids = src.sample[..n].to_vec();
        out.emit(finding(f.client, ts, &v, flow_ids, cfg.min_distinct));
    }
}

/// Confidence bands: a finding about a source already reported is repeated within the
/// cooldown only when its confidence enters a higher band.
fn band(c: f32) -> u8 {
    match c {
        c if c >= 0.9 => 3,
        c if c >= 0.7 => 2,
        c if c >= 0.5 => 1,
        _ => 0,
    }
}

fn finding(src: IpAddr, ts: u64, v: &Verdict, flow_ids: Vec<u64>, min_distinct: u32) -> Finding {
    let styles: Vec<String> = Style::ALL
        .iter()
        .filter(|s| v.styles[**s as usize] > 0)
        .map(|s| format!("{} {}", s.label(), v.styles[*s as usize]))
        .collect();
    let span = ns_secs(v.span_ns);
    let pct = 100.0 * f64::from(v.failed) / f64::from(v.probes.max(1));
    let (measure, target) = match v.shape {
        Shape::Vertical => (
            "distinct_ports",
            format!(
                "{} distinct ports on {}",
                v.distinct,
                v.host.map_or_else(|| "one host".to_owned(), |h| h.to_string())
            ),
        ),
        Shape::Horizontal => (
            "distinct_hosts",
            format!(
                "{} distinct hosts on port {}",
                v.distinct,
                v.port.map_or_else(|| "?".to_owned(), |p| p.to_string())
            ),
        ),
        Shape::Block => ("distinct_services", format!("{} distinct host:port services", v.distinct)),
        Shape::ServiceProbe => (
            "service_probes",
            format!(
                "a banner grab of {}:{} (connected, sent almost nothing, reset within {span:.1} s)",
                v.host.map_or_else(|| "?".to_owned(), |h| h.to_string()),
                v.port.unwrap_or(0)
            ),
        ),
    };
    let reason = match v.shape {
        Shape::ServiceProbe => format!("{src} made {target}; {} such probe(s) in {:.0} s", v.distinct, v.window_s),
        _ => format!(
            "{src} probed {target} in {span:.0} s ({}), {pct:.0}% of {} connection attempts failed",
            styles.join(", "),
            v.probes
        ),
    };
    let severity = if v.confidence >= 0.5 { Severity::Medium } else { Severity::Low };
    Finding::new(
        PortScan::NAME,
        v.kind,
        ts,
        v.confidence,
        severity,
        "T1046",
        Entities { src: Some(src), dst: v.host, port: v.port, ..Entities::default() },
        Evidence {
            flow_ids,
            observed: f64::from(v.distinct),
            threshold: if v.shape == Shape::ServiceProbe { 1.0 } else { f64::from(min_distinct) },
            measure,
            window_s: v.window_s,
            count: u64::from(v.failed),
        },
        reason,
    )
}

impl Agent for PortScan {
    const NAME: &'static str = "port_scan";
    const INTEREST: u16 = kind::FLOW_END;
    type Config = PortScanConfig;

    fn new(cfg: &Self::Config) -> Self {
        Self {
            cfg: cfg.clone(),
            window_ns: secs_ns(cfg.window_s).max(1),
            slow_ns: secs_ns(cfg.slow_window_s).max(1),
            probe_max_ns: secs_ns(cfg.probe_max_s),
            cooldown_ns: secs_ns(cfg.cooldown_s),
            service_ports: PortSet::new(&cfg.service_ports),
            sources: BoundedTable::new(cfg.max_sources.max(1)),
        }
    }

    fn shard_key(ev: &Event) -> u64 {
        match ev {
            Event::FlowEnd(f) => addr_key(&f.client),
            Event::Packet(p) => addr_key(if p.to_server { &p.src } else { &p.dst }),
            _ => 0,
        }
    }

    fn on_event(&mut self, ev: &Event, _cx: &Context, out: &mut Emitter<'_>) {
        if let Event::FlowEnd(f) = ev {
            self.on_flow(f, out);
        }
    }
}

/// A flow summary for tests and benchmarks.
#[doc(hidden)]
#[allow(clippy::too_many_arguments, reason = "a test constructor naming every counter")]
pub fn flow(
    id: u64,
    client: IpAddr,
    server: IpAddr,
    server_port: u16,
    proto: u8,
    start_ns: u64,
    end_ns: u64,
    pkts: (u64, u64),
    bytes: (u64, u64),
    flags: (u8, u8),
    established: bool,
) -> FlowSummary {
    FlowSummary {
        ts_ns: end_ns,
        flow_id: id,
        client,
        server,
        client_port: 40_000u16.wrapping_add(id as u16),
        server_port,
        proto,
        start_ns,
        pkts_to_server: pkts.0,
        pkts_to_client: pkts.1,
        bytes_to_server: bytes.0,
        bytes_to_client: bytes.1,
        flags_to_server: flags.0,
        flags_to_client: flags.1,
        established,
        app: "",
    }
}

/// `n` flow ends of ordinary client traffic: hosts of 10.1.0.0/16 making answered TLS,
/// HTTP and DNS connections to a few hundred servers, one every 50 ms.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    let est = tcp::SYN | tcp::ACK | tcp::PSH | tcp::FIN;
    (0..n)
        .map(|i| {
            let i64 = i as u64;
            let client = IpAddr::from([10, 1, (i % 7) as u8, (i % 13) as u8 + 1]);
            let server = IpAddr::from([93, 184, (i % 17) as u8, (i % 23) as u8 + 1]);
            let start = 1_000_000_000 + i64 * 50_000_000;
            let f = if i % 5 == 0 {
                flow(
                    i64,
                    client,
                    IpAddr::from([10, 1, 255, 53]),
                    53,
                    ip_proto::UDP,
                    start,
                    start + 20_000_000,
                    (1, 1),
                    (80, 160),
                    (0, 0),
                    false,
                )
            } else {
                let port = if i % 3 == 0 { 80 } else { 443 };
                flow(
                    i64,
                    client,
                    server,
                    port,
                    ip_proto::TCP,
                    start,
                    start + 2_000_000_000,
                    (12, 14),
                    (2_400, 30_000),
                    (est, est),
                    true,
                )
            };
            Event::FlowEnd(f)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{
        finding::FindingQueue,
        testkit::{S, ip, run},
    };

    fn syn_probe(id: u64, src: IpAddr, dst: IpAddr, port: u16, t: u64, rst: bool) -> Event {
        let fc = if rst { tcp::RST | tcp::ACK } else { 0 };
        let back = u64::from(rst);
        Event::FlowEnd(flow(
            id,
            src,
            dst,
            port,
            ip_proto::TCP,
            t,
            t + 1_000_000,
            (1, back),
            (60, 60 * back),
            (tcp::SYN, fc),
            false,
        ))
    }

    fn tls(id: u64, src: IpAddr, dst: IpAddr, t: u64) -> Event {
        let f = tcp::SYN | tcp::ACK | tcp::PSH | tcp::FIN;
        Event::FlowEnd(flow(id, src, dst, 443, ip_proto::TCP, t, t + 5 * S, (20, 25), (3_000, 40_000), (f, f), true))
    }

    #[test]
    fn a_syn_scan_of_100_ports_is_reported_with_the_scanner() {
        let (a, b) = (ip("10.0.0.5"), ip("10.0.0.9"));
        let ev: Vec<Event> =
            (0..100).map(|i| syn_probe(i, a, b, 1 + i as u16, S + i * 10_000_000, i % 2 == 0)).collect();
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        let f = got.last().expect("a finding");
        assert_eq!(f.kind, "syn_scan");
        assert_eq!(f.entities.src, Some(a));
        assert_eq!(f.entities.dst, Some(b));
        assert_eq!(f.evidence.measure, "distinct_ports");
        assert!(f.confidence >= 0.8, "{f:?}");
        assert!(f.evidence.observed >= 38.0, "reported again as the scan grew: {}", f.evidence.observed);
        assert!(got.len() <= 6, "a handful of findings, not one per probe: {}", got.len());
        assert!(f.reason.contains("10.0.0.5") && f.reason.contains("ports on 10.0.0.9"), "{}", f.reason);
    }

    #[test]
    fn a_horizontal_udp_sweep_names_the_port() {
        let a = ip("192.0.2.66");
        let ev: Vec<Event> = (0..40u64)
            .map(|i| {
                let dst = IpAddr::from([10, 2, 0, i as u8 + 1]);
                Event::FlowEnd(flow(
                    i,
                    a,
                    dst,
                    161,
                    ip_proto::UDP,
                    S + i * S,
                    S + i * S,
                    (1, 0),
                    (90, 0),
                    (0, 0),
                    false,
                ))
            })
            .collect();
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.entities.port, f.evidence.measure), ("udp_scan", Some(161), "distinct_hosts"));
        assert!(f.confidence >= 0.7, "{}", f.confidence);
    }

    #[test]
    fn fin_null_and_xmas_probes_are_classified_and_raise_confidence() {
        let (a, b) = (ip("192.168.1.178"), ip("192.168.1.2"));
        let mk = |id: u64, port: u16, flags: u8| {
            Event::FlowEnd(flow(
                id,
                a,
                b,
                port,
                ip_proto::TCP,
                id * S,
                id * S,
                (1, 1),
                (54, 60),
                (flags, tcp::RST | tcp::ACK),
                false,
            ))
        };
        let ev = vec![
            mk(1, 3390, tcp::FIN),
            mk(2, 3391, 0),
            mk(3, 3392, tcp::FIN | tcp::PSH | tcp::URG),
            mk(4, 3393, tcp::FIN),
            mk(5, 3394, 0),
        ];
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!(f.kind, "mixed_scan");
        assert!(
            f.reason.contains("FIN 2") && f.reason.contains("NULL 2") && f.reason.contains("Xmas 1"),
            "{}",
            f.reason
        );
        assert!(f.confidence > 0.4, "stealth probes weigh: {}", f.confidence);
    }

    #[test]
    fn connect_probes_count_as_failed_attempts() {
        let (a, b) = (ip("10.9.0.1"), ip("10.9.0.2"));
        let fl = tcp::SYN | tcp::ACK | tcp::RST;
        let ev: Vec<Event> = (0..12u64)
            .map(|i| {
                let t = S + i * 100_000_000;
                Event::FlowEnd(flow(
                    i,
                    a,
                    b,
                    20 + i as u16,
                    ip_proto::TCP,
                    t,
                    t + 2_000_000,
                    (3, 1),
                    (198, 74),
                    (fl, 0x12),
                    true,
                ))
            })
            .collect();
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        assert_eq!(got.last().map(|f| f.kind), Some("connect_scan"));
    }

    #[test]
    fn a_browser_opening_40_tls_connections_to_30_servers_stays_quiet() {
        let a = ip("10.0.0.20");
        let mut ev: Vec<Event> =
            (0..40u64).map(|i| tls(i, a, IpAddr::from([151, 101, (i % 30) as u8, 1]), S + i * 200_000_000)).collect();
        // A few happy-eyeballs losers and an unanswered QUIC attempt among them.
        ev.push(syn_probe(100, a, ip("151.101.0.1"), 443, 3 * S, false));
        ev.push(syn_probe(101, a, ip("151.101.1.1"), 443, 4 * S, true));
        ev.push(syn_probe(102, a, ip("151.101.2.1"), 443, 5 * S, false));
        ev.push(Event::FlowEnd(flow(
            103,
            a,
            ip("142.250.1.1"),
            443,
            ip_proto::UDP,
            6 * S,
            6 * S,
            (2, 0),
            (1_300, 0),
            (0, 0),
            false,
        )));
        assert!(run(&mut PortScan::new(&PortScanConfig::default()), &ev).is_empty());
    }

    #[test]
    fn a_finished_connection_not_flagged_established_is_still_answered() {
        let (a, b) = (ip("10.0.0.20"), ip("10.0.0.21"));
        let f = tcp::SYN | tcp::ACK | tcp::FIN;
        let done = flow(1, a, b, 22, ip_proto::TCP, S, 2 * S, (12, 12), (4_000, 9_000), (f, f), false);
        assert_eq!(classify(&done, secs_ns(3.0)), Some(Outcome::Answered));
        // A half-open probe: the client reset the SYN-ACK without acknowledging it.
        let half = flow(2, a, b, 22, ip_proto::TCP, S, S, (2, 1), (120, 60), (tcp::SYN | tcp::RST, 0x12), false);
        assert_eq!(classify(&half, secs_ns(3.0)), Some(Outcome::Failed(Style::Syn)));
    }

    #[test]
    fn entry_sizes_match_the_documented_memory() {
        eprintln!("Source {} bytes", std::mem::size_of::<Source>());
        assert!(std::mem::size_of::<Source>() <= 620);
    }

    #[test]
    fn peer_to_peer_fan_out_is_not_a_scan() {
        let a = ip("10.0.0.30");
        // 60 peers, each on its own random port, half unanswered.
        let ev: Vec<Event> = (0..60u64)
            .map(|i| {
                let dst = IpAddr::from([80, (i * 7) as u8, (i * 13) as u8, 9]);
                let port = 20_000 + (i as u16) * 331;
                let back = i % 2;
                Event::FlowEnd(flow(
                    i,
                    a,
                    dst,
                    port,
                    ip_proto::UDP,
                    S + i * S,
                    S + i * S,
                    (1, back),
                    (120, 120 * back),
                    (0, 0),
                    false,
                ))
            })
            .collect();
        assert!(run(&mut PortScan::new(&PortScanConfig::default()), &ev).is_empty());
    }

    #[test]
    fn a_single_banner_grab_on_vnc_is_a_weak_service_probe() {
        let (a, b) = (ip("192.168.0.11"), ip("10.0.0.149"));
        let fs = tcp::SYN | tcp::ACK | tcp::PSH | tcp::FIN | tcp::RST;
        let ev = [Event::FlowEnd(flow(
            1,
            a,
            b,
            5900,
            ip_proto::TCP,
            S,
            S + 1_474_000_000,
            (10, 10),
            (622, 657),
            (fs, 0x19 | 0x02),
            true,
        ))];
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        assert_eq!(got.len(), 1);
        let f = &got[0];
        assert_eq!((f.kind, f.entities.src, f.entities.port), ("service_probe", Some(a), Some(5900)));
        assert!(f.confidence < 0.5);
        // The same shape on a web port is ordinary.
        let ev = [Event::FlowEnd(flow(
            1,
            a,
            b,
            8443,
            ip_proto::TCP,
            S,
            S + 1_474_000_000,
            (10, 10),
            (622, 657),
            (fs, 0x1b),
            true,
        ))];
        assert!(run(&mut PortScan::new(&PortScanConfig::default()), &ev).is_empty());
    }

    #[test]
    fn a_banner_grab_does_not_mute_the_sweep_that_follows() {
        let (a, b) = (ip("192.168.0.11"), ip("10.0.0.149"));
        let fs = tcp::SYN | tcp::ACK | tcp::PSH | tcp::FIN | tcp::RST;
        let mut ev =
            vec![Event::FlowEnd(flow(1, a, b, 5900, ip_proto::TCP, S, 2 * S, (10, 10), (622, 657), (fs, 0x1b), true))];
        ev.extend(
            (0..6u64).map(|i| syn_probe(10 + i, a, IpAddr::from([10, 0, 1, i as u8 + 1]), 5900, 3 * S + i * S, true)),
        );
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        let kinds: Vec<(&str, &str)> = got.iter().map(|f| (f.kind, f.evidence.measure)).collect();
        assert_eq!(kinds, vec![("service_probe", "service_probes"), ("syn_scan", "distinct_hosts")]);
    }

    #[test]
    fn a_slow_sweep_is_caught_by_the_slow_window() {
        let a = ip("202.77.162.213");
        // One unanswered portmapper probe every 90 s: never 5 in a fast window.
        let ev: Vec<Event> = (0..8u64)
            .map(|i| {
                let dst = IpAddr::from([172, 16, 112, i as u8 + 10]);
                let t = S + i * 90 * S;
                Event::FlowEnd(flow(i, a, dst, 111, ip_proto::UDP, t, t, (1, 0), (98, 0), (0, 0), false))
            })
            .collect();
        let got = run(&mut PortScan::new(&PortScanConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.evidence.window_s), ("udp_scan", 3600.0));
        let quick = PortScanConfig { slow_window_s: 60.0, ..PortScanConfig::default() };
        assert!(run(&mut PortScan::new(&quick), &ev).is_empty());
    }

    #[test]
    fn backwards_time_and_hostile_counters_neither_panic_nor_fire() {
        let a = ip("10.0.0.7");
        let mut ev = Vec::new();
        for i in 0..50u64 {
            let t = if i % 2 == 0 { u64::MAX - i } else { i };
            let f = flow(
                i,
                a,
                ip("10.0.0.8"),
                443,
                ip_proto::TCP,
                t,
                t / 2,
                (u64::MAX, u64::MAX),
                (u64::MAX, 0),
                (0xff, 0xff),
                true,
            );
            ev.push(Event::FlowEnd(f));
        }
        ev.push(Event::FlowEnd(flow(99, a, ip("255.255.255.255"), 0, 0, 0, 0, (0, 0), (0, 0), (0, 0), false)));
        assert!(run(&mut PortScan::new(&PortScanConfig::default()), &ev).is_empty());
    }

    #[test]
    fn the_source_table_stays_bounded_under_1e5_scanners() {
        let cfg = PortScanConfig { max_sources: 1024, ..PortScanConfig::default() };
        let mut agent = PortScan::new(&cfg);
        let cx = Context::default();
        let (q, _rx) = FindingQueue::bounded(16);
        let mut out = Emitter::new(&q, &cx);
        for i in 0..100_000u32 {
            let src = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000u32 + i));
            agent.on_event(&syn_probe(u64::from(i), src, ip("10.255.0.1"), 22, S + u64::from(i), false), &cx, &mut out);
            assert!(agent.tracked() <= 1024);
        }
        assert!(agent.evicted() > 90_000);
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 5_000;
        let ev = steady_events(2 * n);
        let mut agent = PortScan::new(&PortScanConfig::default());
        let _ = run(&mut agent, &ev[..n]);
        assert!(run(&mut agent, &ev[n..]).is_empty());
    }

    #[test]
    fn the_config_rejects_unknown_keys_and_round_trips() {
        let text = toml::to_string(&PortScanConfig::default()).expect("serialise");
        let back: PortScanConfig = toml::from_str(&text).expect("parse");
        assert_eq!(back.min_distinct, 5);
        assert!(toml::from_str::<PortScanConfig>("bogus = 1").is_err());
    }
}
