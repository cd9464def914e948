//! Floods against one destination: SYN floods, UDP floods, ICMP floods, SYN-ACK reflection,
//! UDP reflection/amplification, and DHCP request floods.
//!
//! How, per destination address (the victim), from packets:
//! - **syn_flood**: SYNs per second over a `window_s` (10 s) window at least `syn_min_rate`
//!   (200/s) and `baseline_factor` (10) times the destination's learned packet rate, with
//!   most SYNs never followed by the client's ACK (half-open share >= `syn_min_half_open`,
//!   0.7) or coming from many distinct (spoofed) sources.
//! - **udp_flood** / **icmp_flood**: UDP (`udp_min_rate`, 2000/s) or ICMP (`icmp_min_rate`,
//!   500/s) packets per second, same baseline rule; a UDP flood must also open many flows
//!   (random ports or sources) so one fast QUIC download is not a flood.
//! - **synack_reflection**: SYN-ACKs on flows the destination never opened (a flow first seen
//!   on a SYN-ACK, and that flow's retransmissions), at least `synack_min` (20) in a
//!   `slow_window_s` (60 s) window from `synack_min_sources` (2) reflectors.
//! - **udp_amplification**: UDP responses from an amplification service port (`amp_ports`:
//!   DNS 53, NTP 123, SNMP 161, IKE 500/4500, SSDP 1900, memcached 11211, BACnet 47808, DVR
//!   37810...) on flows the destination never opened, at least `amp_min_responses` (20) in
//!   the slow window from `amp_min_sources` (5) reflectors, at `amp_min_rate` (5/s) or more.
//!   When the requests are visible (finished flows whose client is the victim), responses at
//!   least `amp_min_ratio` (10) times larger than the requests over `amp_min_responses` flows
//!   and `amp_min_bytes` also count.
//! - **dhcp_flood**: DHCP/DHCPv6 client requests at `dhcp_min_rate` (20/s) or more, pooled for
//!   the whole segment (DHCP floods spray spoofed addresses at broadcast or many servers).
//!
//! Rates are counts over the time elapsed in the window, at least `min_duration_s` (1 s), so a
//! burst shorter than a second is measured against one second and a fresh sensor still
//! detects on the absolute minimums. The learned rate is an EWMA of packets per second per
//! destination over windows without an attack (`baseline_alpha` 0.05), persisted through
//! `save`/`load`. Confidence starts near 0.4 at the thresholds and grows with the rate
//! multiple, the half-open share and the number of sources; findings name the victim
//! (`entities.dst`), its port and, when one source dominates, the attacker. One victim and
//! kind is reported again within `cooldown_s` (300 s) only when the confidence enters a
//! higher band (0.5, 0.7, 0.9).
//!
//! Memory: `max_destinations` (8192) entries of about 730 bytes (6 MB) allocated at start,
//! the stalest evicted when full. Sharded by destination address (DHCP requests all go to one
//! shard; finished flows by their client, the victim of visible-request amplification).

use std::net::IpAddr;

use super::{
    agent::{Agent, Emitter, ns_secs, secs_ns},
    context::Context,
    event::{Event, FlowSummary, PacketMeta, addr_key, int_key, ip_proto, kind, tcp},
    finding::{Entities, Evidence, Finding, Severity},
    sketch::{BoundedTable, LinearCounter, PortSet, TopOne, is_unicast},
};

/// The `[agents.flood]` section.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FloodConfig {
    /// Rate window for SYN, UDP, ICMP and DHCP floods, seconds (default 10).
    pub window_s: f64,
    /// Window for reflection evidence (unsolicited responses), seconds (default 60).
    pub slow_window_s: f64,
    /// Shortest time a rate is measured over, seconds (default 1).
    pub min_duration_s: f64,
    /// SYNs per second to one destination before a SYN flood is considered (default 200).
    pub syn_min_rate: f64,
    /// Least share of SYNs not followed by a client ACK (default 0.7).
    pub syn_min_half_open: f64,
    /// UDP packets per second to one destination before a UDP flood is considered (default 2000).
    pub udp_min_rate: f64,
    /// ICMP packets per second to one destination before an ICMP flood is considered (default 500).
    pub icmp_min_rate: f64,
    /// DHCP client requests per second on the segment before a DHCP flood (default 20).
    pub dhcp_min_rate: f64,
    /// A rate must also be this many times the destination's learned rate (default 10).
    pub baseline_factor: f64,
    /// EWMA weight of one window in the learned rate (default 0.05).
    pub baseline_alpha: f64,
    /// Windows learned before the learned rate is used (default 30).
    pub baseline_min_windows: u32,
    /// UDP source ports of amplification services (default: 17, 19, 53, 69, 111, 123, 137, 161,
    /// 389, 427, 500, 520, 1434, 1900, 3283, 3478, 3702, 4500, 5351, 5353, 5683, 10001, 11211,
    /// 33848, 37810, 47808).
    pub amp_ports: Vec<u16>,
    /// Unsolicited amplification responses in the slow window (default 20).
    pub amp_min_responses: u32,
    /// Distinct reflectors among them (default 5).
    pub amp_min_sources: u32,
    /// Unsolicited responses per second over the slow window so far (default 5).
    pub amp_min_rate: f64,
    /// Response/request byte ratio when requests are visible (default 10).
    pub amp_min_ratio: f64,
    /// Response bytes in the slow window when requests are visible (default 500000).
    pub amp_min_bytes: u64,
    /// Unsolicited SYN-ACKs in the slow window (default 20).
    pub synack_min: u32,
    /// Distinct reflectors among them (default 2).
    pub synack_min_sources: u32,
    /// Destinations tracked at once (default 8192).
    pub max_destinations: usize,
    /// Hold-off between findings about one victim and kind, seconds (default 300).
    pub cooldown_s: f64,
}

impl Default for FloodConfig {
    fn default() -> Self {
        Self {
            window_s: 10.0,
            slow_window_s: 60.0,
            min_duration_s: 1.0,
            syn_min_rate: 200.0,
            syn_min_half_open: 0.7,
            udp_min_rate: 2000.0,
            icmp_min_rate: 500.0,
            dhcp_min_rate: 20.0,
            baseline_factor: 10.0,
            baseline_alpha: 0.05,
            baseline_min_windows: 30,
            amp_ports: vec![
                17, 19, 53, 69, 111, 123, 137, 161, 389, 427, 500, 520, 1434, 1900, 3283, 3478, 3702, 4500, 5351, 5353,
                5683, 10001, 11211, 33848, 37810, 47808,
            ],
            amp_min_responses: 20,
            amp_min_sources: 5,
            amp_min_rate: 5.0,
            amp_min_ratio: 10.0,
            amp_min_bytes: 500_000,
            synack_min: 20,
            synack_min_sources: 2,
            max_destinations: 8192,
            cooldown_s: 300.0,
        }
    }
}

/// Kinds of flood, indexing per-kind emission state.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Syn,
    Udp,
    Icmp,
    SynAck,
    Amp,
    Dhcp,
}

const KINDS: usize = 6;

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Syn => "syn_flood",
            Kind::Udp => "udp_flood",
            Kind::Icmp => "icmp_flood",
            Kind::SynAck => "synack_reflection",
            Kind::Amp => "udp_amplification",
            Kind::Dhcp => "dhcp_flood",
        }
    }

    fn technique(self) -> &'static str {
        match self {
            Kind::Syn => "T1499.001",
            Kind::Udp | Kind::Icmp => "T1498.001",
            Kind::SynAck | Kind::Amp => "T1498.002",
            Kind::Dhcp => "T1499.002",
        }
    }
}

/// Counters of the rate window.
#[derive(Clone, Copy, Debug, Default)]
struct Fast {
    start_ns: u64,
    last_ns: u64,
    pkts: u32,
    syn: u32,
    /// New-flow SYNs in the 1-in-[`HALF_OPEN_SAMPLE`] sample of flows.
    syn_sampled: u32,
    /// Sampled flows whose client sent an ACK (completed handshakes, or older flows).
    done: LinearCounter<8>,
    udp: u32,
    udp_new: u32,
    icmp: u32,
    sources: LinearCounter<8>,
    top_src: TopOne<IpAddr>,
    top_port: TopOne<u16>,
}

/// Counters of the reflection window.
#[derive(Clone, Copy, Debug, Default)]
struct Slow {
    start_ns: u64,
    last_ns: u64,
    synack: u32,
    synack_flows: u32,
    synack_sources: LinearCounter<4>,
    synack_port: TopOne<u16>,
    amp: u32,
    amp_flows: u32,
    amp_bytes: u64,
    amp_sources: LinearCounter<8>,
    amp_port: TopOne<u16>,
    victim_port: TopOne<u16>,
    req_flows: u32,
    req_bytes: u64,
    resp_bytes: u64,
    req_servers: LinearCounter<4>,
    req_top: TopOne<IpAddr>,
}

/// One flow in this many is followed to measure the half-open share of SYNs.
const HALF_OPEN_SAMPLE: u64 = 4;

fn sampled(flow_id: u64) -> bool {
    int_key(flow_id).is_multiple_of(HALF_OPEN_SAMPLE)
}

/// Flows per destination remembered as opened by a response (to count their later packets).
const UNSOLICITED: usize = 8;
/// Flow ids kept per destination as evidence.
const SAMPLE: usize = 8;

/// State of one destination.
#[derive(Clone, Copy, Debug, Default)]
struct Dest {
    fast: Fast,
    slow: Slow,
    unsolicited: [u64; UNSOLICITED],
    unsolicited_next: u8,
    sample: [u64; SAMPLE],
    sampled: u32,
    baseline_pps: f64,
    baseline_windows: u32,
    attacked: bool,
    last_emit_ns: [u64; KINDS],
    last_band: [u8; KINDS],
}

impl Dest {
    fn remember(&mut self, flow_id: u64) {
        self.sample[self.sampled as usize % SAMPLE] = flow_id;
        self.sampled = self.sampled.wrapping_add(1);
    }

    fn samples(&self) -> Vec<u64> {
        self.sample[..(self.sampled as usize).min(SAMPLE)].to_vec()
    }

    fn unsolicited_flow(&self, flow_id: u64) -> bool {
        self.unsolicited.contains(&flow_id)
    }

    fn mark_unsolicited(&mut self, flow_id: u64) {
        self.unsolicited[usize::from(self.unsolicited_next) % UNSOLICITED] = flow_id;
        self.unsolicited_next = self.unsolicited_next.wrapping_add(1);
    }
}

/// The segment's DHCP request counters (all DHCP requests reach one shard).
#[derive(Clone, Copy, Debug, Default)]
struct Dhcp {
    start_ns: u64,
    last_ns: u64,
    requests: u32,
    sources: LinearCounter<8>,
    servers: LinearCounter<4>,
    top_server: TopOne<IpAddr>,
    last_emit_ns: u64,
    last_band: u8,
    sample: [u64; SAMPLE],
    sampled: u32,
}

/// Shard key of the pooled DHCP state.
fn dhcp_key() -> u64 {
    int_key(0xd4c9)
}

fn is_dhcp_request(p: &PacketMeta) -> bool {
    p.proto == ip_proto::UDP && matches!((p.sport, p.dport), (68, 67) | (546, 547))
}

/// Whether `n` is a checkpoint at which a growing counter is evaluated (8, 16, 32, ...).
fn checkpoint(n: u32) -> bool {
    n >= 8 && n.is_power_of_two()
}

fn band(c: f32) -> u8 {
    match c {
        c if c >= 0.9 => 3,
        c if c >= 0.7 => 2,
        c if c >= 0.5 => 1,
        _ => 0,
    }
}

fn severity(c: f32) -> Severity {
    if c >= 0.7 {
        Severity::High
    } else if c >= 0.4 {
        Severity::Medium
    } else {
        Severity::Low
    }
}

/// A flood judged from a window.
#[derive(Debug)]
struct Verdict {
    confidence: f32,
    measure: &'static str,
    observed: f64,
    threshold: f64,
    window_s: f64,
    count: u64,
    src: Option<IpAddr>,
    port: Option<u16>,
    reason: String,
}

/// The flood agent.
#[derive(Debug)]
pub struct Flood {
    cfg: FloodConfig,
    window_ns: u64,
    slow_ns: u64,
    cooldown_ns: u64,
    amp_ports: PortSet,
    dests: BoundedTable<IpAddr, Dest>,
    dhcp: Dhcp,
}

/// The candidate of `t` when it makes up most of the `n` items counted.
fn dominant_port(t: &TopOne<u16>, n: u32) -> Option<u16> {
    t.get().filter(|_| u64::from(t.lead()) * 2 > u64::from(n))
}

fn log10_ratio(x: f64, min: f64) -> f64 {
    if min <= 0.0 || x <= min { 0.0 } else { (x / min).log10() }
}

impl Flood {
    /// Destinations evicted so far because the table was full.
    pub fn evicted(&self) -> u64 {
        self.dests.evicted()
    }

    /// Destinations tracked now.
    pub fn tracked(&self) -> usize {
        self.dests.len()
    }

    /// The learned rate of `dst` (packets per second, windows learned).
    pub fn baseline(&self, dst: &IpAddr) -> Option<(f64, u32)> {
        self.dests.get(addr_key(dst), dst).map(|d| (d.baseline_pps, d.baseline_windows))
    }

    fn rate_floor(&self, d: &Dest, min: f64) -> f64 {
        if d.baseline_windows >= self.cfg.baseline_min_windows {
            min.max(self.cfg.baseline_factor * d.baseline_pps)
        } else {
            min
        }
    }

    fn secs(&self, start: u64, now: u64, cap_ns: u64) -> f64 {
        ns_secs(now.saturating_sub(start).min(cap_ns)).max(self.cfg.min_duration_s).max(1e-3)
    }

    fn on_packet(&mut self, p: &PacketMeta, out: &mut Emitter<'_>) {
        if is_dhcp_request(p) {
            self.on_dhcp(p, out);
            return;
        }
        if !is_unicast(&p.dst) {
            return;
        }
        let ts = p.ts_ns;
        let (window_ns, slow_ns, alpha) = (self.window_ns, self.slow_ns, self.cfg.baseline_alpha);
        let window_s = self.cfg.window_s;
        let (d, _) = self.dests.get_or_insert_with(addr_key(&p.dst), p.dst, ts, Dest::default);
        // Close the rate window: evaluate it whole, then fold it into the baseline unless it
        // held an attack.
        let mut closed = None;
        if d.fast.start_ns == 0 || ts >= d.fast.start_ns.saturating_add(window_ns) {
            if d.fast.start_ns != 0 {
                let windows = (ts - d.fast.start_ns) / window_ns.max(1);
                closed = Some((d.fast, windows, d.attacked));
            }
            d.fast = Fast { start_ns: ts.max(1), last_ns: ts, ..Fast::default() };
            d.attacked = false;
        }
        if d.slow.start_ns == 0 || ts >= d.slow.start_ns.saturating_add(slow_ns) {
            d.slow = Slow { start_ns: ts.max(1), last_ns: ts, ..Slow::default() };
        }
        if let Some((prev, windows, mut attacked)) = closed {
            for k in [Kind::Syn, Kind::Udp, Kind::Icmp] {
                attacked |= self.evaluate(p.dst, k, Some(prev), prev.last_ns, out);
            }
            if !attacked && let Some(d) = self.dests.get_mut(addr_key(&p.dst), &p.dst) {
                let x = f64::from(prev.pkts) / window_s.max(1e-3);
                let keep = (1.0 - alpha).powi(windows.saturating_sub(1).min(10_000) as i32);
                d.baseline_pps =
                    if d.baseline_windows == 0 { x } else { d.baseline_pps * keep * (1.0 - alpha) + alpha * x };
                d.baseline_windows = d.baseline_windows.saturating_add(1);
            }
        }
        let Some(d) = self.dests.get_mut(addr_key(&p.dst), &p.dst) else { return };
        d.fast.last_ns = d.fast.last_ns.max(ts);
        d.slow.last_ns = d.slow.last_ns.max(ts);
        d.fast.pkts = d.fast.pkts.saturating_add(1);
        let mut check: Option<Kind> = None;
        match p.proto {
            ip_proto::TCP => {
                let f = p.tcp_flags;
                let synack = f & (tcp::SYN | tcp::ACK) == tcp::SYN | tcp::ACK;
                if f & tcp::SYN != 0 && f & tcp::ACK == 0 && p.to_server {
                    d.fast.syn = d.fast.syn.saturating_add(1);
                    d.fast.sources.insert(addr_key(&p.src));
                    d.fast.top_src.add(p.src);
                    d.fast.top_port.add(p.dport);
                    if p.new_flow {
                        d.remember(p.flow_id);
                        if sampled(p.flow_id) {
                            d.fast.syn_sampled = d.fast.syn_sampled.saturating_add(1);
                        }
                    }
                    check = checkpoint(d.fast.syn).then_some(Kind::Syn);
                } else if synack && !p.to_server && (p.new_flow || d.unsolicited_flow(p.flow_id)) {
                    // A SYN-ACK opening a flow: nobody here sent the SYN.
                    if p.new_flow {
                        d.mark_unsolicited(p.flow_id);
                        d.remember(p.flow_id);
                        d.slow.synack_flows = d.slow.synack_flows.saturating_add(1);
                    }
                    d.slow.synack = d.slow.synack.saturating_add(1);
                    d.slow.synack_sources.insert(addr_key(&p.src));
                    d.slow.synack_port.add(p.dport);
                    check = checkpoint(d.slow.synack).then_some(Kind::SynAck);
                } else if f & tcp::ACK != 0 && f & tcp::SYN == 0 && p.to_server && sampled(p.flow_id) {
                    d.fast.done.insert(int_key(p.flow_id));
                }
            }
            ip_proto::UDP => {
                d.fast.udp = d.fast.udp.saturating_add(1);
                d.fast.sources.insert(addr_key(&p.src));
                d.fast.top_src.add(p.src);
                d.fast.top_port.add(p.dport);
                if p.new_flow {
                    d.fast.udp_new = d.fast.udp_new.saturating_add(1);
                }
                // Same-port pairs with small payloads are peers talking (NTP symmetric mode).
                let response = self.amp_ports.contains(p.sport) && !(p.sport == p.dport && p.payload_len < 100);
                if response && (p.new_flow || d.unsolicited_flow(p.flow_id)) {
                    if p.new_flow {
                        d.mark_unsolicited(p.flow_id);
                        d.remember(p.flow_id);
                        d.slow.amp_flows = d.slow.amp_flows.saturating_add(1);
                    }
                    d.slow.amp = d.slow.amp.saturating_add(1);
                    d.slow.amp_bytes = d.slow.amp_bytes.saturating_add(u64::from(p.wire_len));
                    d.slow.amp_sources.insert(addr_key(&p.src));
                    d.slow.amp_port.add(p.sport);
                    d.slow.victim_port.add(p.dport);
                    check = checkpoint(d.slow.amp).then_some(Kind::Amp);
                } else if checkpoint(d.fast.udp) {
                    check = Some(Kind::Udp);
                }
            }
            ip_proto::ICMP | ip_proto::ICMPV6 => {
                d.fast.icmp = d.fast.icmp.saturating_add(1);
                d.fast.sources.insert(addr_key(&p.src));
                d.fast.top_src.add(p.src);
                check = checkpoint(d.fast.icmp).then_some(Kind::Icmp);
            }
            _ => {}
        }
        if let Some(k) = check {
            self.evaluate(p.dst, k, None, ts, out);
        }
    }

    /// Visible requests to amplification services: the client is the victim.
    fn on_flow(&mut self, f: &FlowSummary, out: &mut Emitter<'_>) {
        if f.proto != ip_proto::UDP
            || !self.amp_ports.contains(f.server_port)
            || f.pkts_to_server == 0
            || f.bytes_to_server == 0
            || !is_unicast(&f.client)
            || !is_unicast(&f.server)
        {
            return;
        }
        let ts = f.ts_ns;
        let slow_ns = self.slow_ns;
        let (d, _) = self.dests.get_or_insert_with(addr_key(&f.client), f.client, ts, Dest::default);
        if d.slow.start_ns == 0 || ts >= d.slow.start_ns.saturating_add(slow_ns) {
            d.slow = Slow { start_ns: ts.max(1), last_ns: ts, ..Slow::default() };
        }
        d.slow.last_ns = d.slow.last_ns.max(ts);
        d.slow.req_flows = d.slow.req_flows.saturating_add(1);
        d.slow.req_bytes = d.slow.req_bytes.saturating_add(f.bytes_to_server);
        d.slow.resp_bytes = d.slow.resp_bytes.saturating_add(f.bytes_to_client);
        d.slow.req_servers.insert(addr_key(&f.server));
        d.slow.req_top.add(f.server);
        d.slow.victim_port.add(f.client_port);
        if f.bytes_to_client >= f.bytes_to_server.saturating_mul(4) {
            d.remember(f.flow_id);
        }
        if checkpoint(d.slow.req_flows) {
            self.evaluate(f.client, Kind::Amp, None, ts, out);
        }
    }

    fn on_dhcp(&mut self, p: &PacketMeta, out: &mut Emitter<'_>) {
        let ts = p.ts_ns;
        let h = &mut self.dhcp;
        if h.start_ns == 0 || ts >= h.start_ns.saturating_add(self.window_ns) {
            let (e, b) = (h.last_emit_ns, h.last_band);
            *h = Dhcp { start_ns: ts.max(1), last_ns: ts, last_emit_ns: e, last_band: b, ..Dhcp::default() };
        }
        h.last_ns = h.last_ns.max(ts);
        h.requests = h.requests.saturating_add(1);
        h.sources.insert(addr_key(&p.src));
        h.servers.insert(addr_key(&p.dst));
        h.top_server.add(p.dst);
        h.sample[h.sampled as usize % SAMPLE] = p.flow_id;
        h.sampled = h.sampled.wrapping_add(1);
        if !checkpoint(h.requests) {
            return;
        }
        let start = h.start_ns;
        let secs = self.secs(start, ts, self.window_ns);
        let h = &self.dhcp;
        let rate = f64::from(h.requests) / secs;
        let min = self.cfg.dhcp_min_rate;
        if rate < min {
            return;
        }
        let (sources, servers) = (h.sources.count(), h.servers.count());
        let conf = (0.4 + 0.3 * log10_ratio(rate, min) + if sources >= 50 { 0.1 } else { 0.0 }).clamp(0.0, 0.99) as f32;
        let cooled = h.last_emit_ns == 0 || ts >= h.last_emit_ns.saturating_add(self.cooldown_ns);
        if !cooled && band(conf) <= h.last_band {
            return;
        }
        // The server most requests went to; with requests sprayed over many addresses,
        // the latest one (the reason says how many there were).
        let victim = h.top_server.get().filter(|_| h.top_server.lead() * 2 > h.requests).or(Some(p.dst));
        let reason = format!(
            "{} DHCP requests in {secs:.1} s ({rate:.0}/s, threshold {min:.0}/s) from {sources} source addresses to {servers} server address(es)",
            h.requests,
        );
        let ev = Evidence {
            flow_ids: h.sample[..(h.sampled as usize).min(SAMPLE)].to_vec(),
            observed: rate,
            threshold: min,
            measure: "dhcp_request_rate",
            window_s: secs,
            count: u64::from(h.requests),
        };
        self.dhcp.last_emit_ns = ts.max(1);
        self.dhcp.last_band = band(conf);
        out.emit(Finding::new(
            Self::NAME,
            Kind::Dhcp.name(),
            ts,
            conf,
            severity(conf),
            Kind::Dhcp.technique(),
            Entities { dst: victim, port: Some(p.dport), ..Entities::default() },
            ev,
            reason,
        ));
    }

    /// Judges `kind` for `dst` (from `closed`, a window that just ended, or the current
    /// counters) and emits when the emission rules allow. Returns whether it found a flood.
    fn evaluate(&mut self, dst: IpAddr, kind: Kind, closed: Option<Fast>, now: u64, out: &mut Emitter<'_>) -> bool {
        let Some(d) = self.dests.get(addr_key(&dst), &dst) else { return false };
        let live = closed.is_none();
        let Some(v) = self.judge(dst, d, kind, closed, now) else { return false };
        let cooldown_ns = self.cooldown_ns;
        let Some(d) = self.dests.get_mut(addr_key(&dst), &dst) else { return true };
        let k = kind as usize;
        if live && matches!(kind, Kind::Syn | Kind::Udp | Kind::Icmp) {
            d.attacked = true;
        }
        let cooled = d.last_emit_ns[k] == 0 || now >= d.last_emit_ns[k].saturating_add(cooldown_ns);
        if !cooled && band(v.confidence) <= d.last_band[k] {
            return true;
        }
        d.last_emit_ns[k] = now.max(1);
        d.last_band[k] = band(v.confidence);
        let flow_ids = d.samples();
        out.emit(Finding::new(
            Self::NAME,
            kind.name(),
            now,
            v.confidence,
            severity(v.confidence),
            kind.technique(),
            Entities { src: v.src, dst: Some(dst), port: v.port, ..Entities::default() },
            Evidence {
                flow_ids,
                observed: v.observed,
                threshold: v.threshold,
                measure: v.measure,
                window_s: v.window_s,
                count: v.count,
            },
            v.reason,
        ));
        true
    }

    fn judge(&self, dst: IpAddr, d: &Dest, kind: Kind, closed: Option<Fast>, now: u64) -> Option<Verdict> {
        let cfg = &self.cfg;
        let fast = closed.unwrap_or(d.fast);
        let fast_secs =
            if closed.is_some() { cfg.window_s.max(1e-3) } else { self.secs(fast.start_ns, now, self.window_ns) };
        let dominant = |t: &TopOne<IpAddr>, n: u32| t.get().filter(|_| u64::from(t.lead()) * 2 > u64::from(n));
        match kind {
            Kind::Syn => {
                let rate = f64::from(fast.syn) / fast_secs;
                let floor = self.rate_floor(d, cfg.syn_min_rate);
                if fast.syn < 8 || rate < floor {
                    return None;
                }
                // Sampled SYN flows never followed by a client ACK. A saturated sketch means
                // more completed flows than it can count: not half-open.
                let half_open = if fast.done.saturated() || fast.syn_sampled == 0 {
                    0.0
                } else {
                    1.0 - (f64::from(fast.done.count()) / f64::from(fast.syn_sampled)).min(1.0)
                };
                if half_open < cfg.syn_min_half_open {
                    return None;
                }
                let sources = fast.sources.count();
                // One source spraying many ports is a port scan, not a flood.
                let port = dominant_port(&fast.top_port, fast.syn);
                if port.is_none() && sources < 20 {
                    return None;
                }
                let spread = (f64::from(sources) / f64::from(fast.syn)).min(1.0);
                let conf = 0.4
                    + 0.25 * log10_ratio(rate, floor).min(1.0)
                    + 0.15 * half_open
                    + 0.1 * spread
                    + if sources >= 100 { 0.1 } else { 0.0 };
                let src = dominant(&fast.top_src, fast.syn);
                Some(Verdict {
                    confidence: conf.clamp(0.0, 0.99) as f32,
                    measure: "syn_rate",
                    observed: rate,
                    threshold: floor,
                    window_s: fast_secs,
                    count: u64::from(fast.syn),
                    src,
                    port,
                    reason: format!(
                        "{dst} received {} SYNs in {fast_secs:.1} s ({rate:.0}/s, threshold {floor:.0}/s) from {sources} source addresses, {:.0}% never completed",
                        fast.syn,
                        half_open * 100.0,
                    ),
                })
            }
            Kind::Udp | Kind::Icmp => {
                let (n, min, measure, what) = if kind == Kind::Udp {
                    (fast.udp, cfg.udp_min_rate, "udp_rate", "UDP packets")
                } else {
                    (fast.icmp, cfg.icmp_min_rate, "icmp_rate", "ICMP packets")
                };
                let rate = f64::from(n) / fast_secs;
                let floor = self.rate_floor(d, min);
                if n < 8 || rate < floor {
                    return None;
                }
                let sources = fast.sources.count();
                let new_share = if n > 0 { f64::from(fast.udp_new) / f64::from(n) } else { 0.0 };
                let port = if kind == Kind::Udp { dominant_port(&fast.top_port, n) } else { None };
                if kind == Kind::Udp && sources < 20 && (new_share < 0.3 || port.is_none()) {
                    return None;
                }
                let conf = 0.4
                    + 0.3 * log10_ratio(rate, floor).min(1.0)
                    + if sources >= 20 { 0.15 } else { 0.0 }
                    + if kind == Kind::Udp { 0.1 * new_share } else { 0.0 };
                Some(Verdict {
                    confidence: conf.clamp(0.0, 0.99) as f32,
                    measure,
                    observed: rate,
                    threshold: floor,
                    window_s: fast_secs,
                    count: u64::from(n),
                    src: dominant(&fast.top_src, n),
                    port,
                    reason: format!(
                        "{dst} received {n} {what} in {fast_secs:.1} s ({rate:.0}/s, threshold {floor:.0}/s) from {sources} source addresses"
                    ),
                })
            }
            Kind::SynAck => {
                let s = &d.slow;
                let sources = s.synack_sources.count();
                if s.synack < cfg.synack_min || sources < cfg.synack_min_sources {
                    return None;
                }
                let secs = self.secs(s.start_ns, now, self.slow_ns);
                let rate = f64::from(s.synack) / secs;
                let conf = 0.25
                    + 0.2 * log10_ratio(f64::from(s.synack), f64::from(cfg.synack_min))
                    + 0.2 * log10_ratio(f64::from(sources), f64::from(cfg.synack_min_sources.max(1)));
                Some(Verdict {
                    confidence: conf.clamp(0.0, 0.99) as f32,
                    measure: "unsolicited_synacks",
                    observed: f64::from(s.synack),
                    threshold: f64::from(cfg.synack_min),
                    window_s: secs,
                    count: u64::from(s.synack),
                    src: None,
                    port: dominant_port(&s.synack_port, s.synack),
                    reason: format!(
                        "{dst} received {} SYN-ACKs it never asked for ({} flows opened by a SYN-ACK) in {secs:.1} s ({rate:.0}/s) from {sources} reflectors",
                        s.synack, s.synack_flows
                    ),
                })
            }
            Kind::Amp => {
                let s = &d.slow;
                let secs = self.secs(s.start_ns, now, self.slow_ns);
                let sources = s.amp_sources.count();
                let unsolicited = s.amp >= cfg.amp_min_responses
                    && sources >= cfg.amp_min_sources
                    && f64::from(s.amp) / secs >= cfg.amp_min_rate;
                let ratio = if s.req_bytes > 0 { s.resp_bytes as f64 / s.req_bytes as f64 } else { 0.0 };
                let visible = s.req_flows >= cfg.amp_min_responses
                    && ratio >= cfg.amp_min_ratio
                    && s.resp_bytes >= cfg.amp_min_bytes;
                if unsolicited {
                    let rate = f64::from(s.amp) / secs;
                    let conf = 0.3
                        + 0.15 * log10_ratio(f64::from(s.amp), f64::from(cfg.amp_min_responses))
                        + 0.2 * log10_ratio(f64::from(sources), f64::from(cfg.amp_min_sources.max(1)))
                        + if s.amp_bytes >= 1_000_000 { 0.1 } else { 0.0 };
                    let svc = s.amp_port.get().unwrap_or(0);
                    Some(Verdict {
                        confidence: conf.clamp(0.0, 0.99) as f32,
                        measure: "unsolicited_responses",
                        observed: f64::from(s.amp),
                        threshold: f64::from(cfg.amp_min_responses),
                        window_s: secs,
                        count: u64::from(s.amp),
                        src: None,
                        port: dominant_port(&s.victim_port, s.amp),
                        reason: format!(
                            "{dst} received {} unsolicited UDP responses from service port {svc} ({} bytes, {rate:.0}/s) in {secs:.1} s from {sources} reflectors",
                            s.amp, s.amp_bytes
                        ),
                    })
                } else if visible {
                    let servers = s.req_servers.count();
                    let conf = 0.35
                        + 0.2 * log10_ratio(ratio, cfg.amp_min_ratio).min(1.0)
                        + 0.15 * log10_ratio(s.resp_bytes as f64, cfg.amp_min_bytes as f64).min(1.0)
                        + if servers >= cfg.amp_min_sources { 0.15 } else { 0.0 };
                    Some(Verdict {
                        confidence: conf.clamp(0.0, 0.99) as f32,
                        measure: "amplification_ratio",
                        observed: ratio,
                        threshold: cfg.amp_min_ratio,
                        window_s: secs,
                        count: u64::from(s.req_flows),
                        src: if servers <= 1 { s.req_top.get() } else { None },
                        port: dominant_port(&s.victim_port, s.req_flows),
                        reason: format!(
                            "requests in the name of {dst} to {servers} amplification service(s) drew {} response bytes for {} request bytes ({ratio:.0}x) over {} flows in {secs:.1} s",
                            s.resp_bytes, s.req_bytes, s.req_flows
                        ),
                    })
                } else {
                    None
                }
            }
            Kind::Dhcp => None,
        }
    }
}

/// Learned rates as saved.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    /// (destination, packets per second, windows learned).
    baselines: Vec<(IpAddr, f64, u32)>,
}

impl Agent for Flood {
    const NAME: &'static str = "flood";
    const INTEREST: u16 = kind::PACKET | kind::FLOW_END;
    type Config = FloodConfig;

    fn new(cfg: &Self::Config) -> Self {
        Self {
            cfg: cfg.clone(),
            window_ns: secs_ns(cfg.window_s).max(1),
            slow_ns: secs_ns(cfg.slow_window_s).max(1),
            cooldown_ns: secs_ns(cfg.cooldown_s),
            amp_ports: PortSet::new(&cfg.amp_ports),
            dests: BoundedTable::new(cfg.max_destinations.max(1)),
            dhcp: Dhcp::default(),
        }
    }

    fn shard_key(ev: &Event) -> u64 {
        match ev {
            Event::Packet(p) if is_dhcp_request(p) => dhcp_key(),
            Event::Packet(p) => addr_key(&p.dst),
            Event::FlowEnd(f) => addr_key(&f.client),
            _ => 0,
        }
    }

    fn on_event(&mut self, ev: &Event, _cx: &Context, out: &mut Emitter<'_>) {
        match ev {
            Event::Packet(p) => self.on_packet(p, out),
            Event::FlowEnd(f) => self.on_flow(f, out),
            _ => {}
        }
    }

    fn save(&self) -> Option<serde_json::Value> {
        let baselines: Vec<(IpAddr, f64, u32)> = self
            .dests
            .iter()
            .filter(|(_, d)| d.baseline_windows > 0 && d.baseline_pps.is_finite())
            .map(|(a, d)| (*a, d.baseline_pps, d.baseline_windows))
            .collect();
        serde_json::to_value(Saved { baselines }).ok()
    }

    fn load(&mut self, state: &serde_json::Value) {
        let Ok(saved) = serde_json::from_value::<Saved>(state.clone()) else { return };
        for (addr, pps, windows) in saved.baselines {
            if !pps.is_finite() || pps < 0.0 {
                continue;
            }
            let (d, _) = self.dests.get_or_insert_with(addr_key(&addr), addr, 0, Dest::default);
            let (w0, w1) = (f64::from(d.baseline_windows), f64::from(windows));
            d.baseline_pps = if w0 + w1 > 0.0 { (d.baseline_pps * w0 + pps * w1) / (w0 + w1) } else { pps };
            d.baseline_windows = d.baseline_windows.max(windows);
        }
    }
}

/// A packet for tests and benchmarks.
#[doc(hidden)]
#[allow(clippy::too_many_arguments, reason = "a test constructor naming every field")]
pub fn packet(
    ts_ns: u64,
    flow_id: u64,
    src: IpAddr,
    dst: IpAddr,
    sport: u16,
    dport: u16,
    proto: u8,
    flags: u8,
    wire_len: u32,
    to_server: bool,
    new_flow: bool,
) -> PacketMeta {
    PacketMeta {
        ts_ns,
        flow_id,
        src,
        dst,
        sport,
        dport,
        proto,
        tcp_flags: flags,
        icmp_type: (proto == ip_proto::ICMP).then_some(8),
        wire_len,
        payload_len: wire_len.saturating_sub(42),
        to_server,
        new_flow,
    }
}

/// `n` packets of a busy but healthy web server 10.0.0.80 and its clients: complete
/// handshakes, requests, responses and DNS lookups, 2000 packets per second.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    let server = IpAddr::from([10, 0, 0, 80]);
    let resolver = IpAddr::from([10, 0, 0, 53]);
    (0..n)
        .map(|i| {
            let ts = 1_000_000_000 + i as u64 * 500_000;
            let conn = i as u64 / 8;
            let client = IpAddr::from([198, 51, (conn % 200) as u8, (conn % 251) as u8 + 1]);
            let sport = 30_000 + (conn % 30_000) as u16;
            let p = match i % 8 {
                0 => packet(ts, conn, client, server, sport, 443, ip_proto::TCP, tcp::SYN, 74, true, true),
                1 => packet(ts, conn, server, client, 443, sport, ip_proto::TCP, tcp::SYN | tcp::ACK, 74, false, false),
                2 => packet(ts, conn, client, server, sport, 443, ip_proto::TCP, tcp::ACK, 66, true, false),
                3 => packet(ts, conn, client, server, sport, 443, ip_proto::TCP, tcp::ACK | tcp::PSH, 600, true, false),
                4 => {
                    packet(ts, conn, server, client, 443, sport, ip_proto::TCP, tcp::ACK | tcp::PSH, 1500, false, false)
                }
                5 => packet(ts, conn, client, server, sport, 443, ip_proto::TCP, tcp::ACK | tcp::FIN, 66, true, false),
                6 => packet(ts, 1 << 40 | conn, server, resolver, 50_000, 53, ip_proto::UDP, 0, 80, true, true),
                _ => packet(ts, 1 << 40 | conn, resolver, server, 53, 50_000, ip_proto::UDP, 0, 200, false, false),
            };
            Event::Packet(p)
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

    fn v4(i: u32) -> IpAddr {
        IpAddr::from(std::net::Ipv4Addr::from(i))
    }

    fn spoofed_syns(victim: IpAddr, n: u32, t0: u64, gap_ns: u64) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let src = v4(0x0b00_0000 + i * 7919);
                Event::Packet(packet(
                    t0 + u64::from(i) * gap_ns,
                    u64::from(i),
                    src,
                    victim,
                    1024 + i as u16,
                    80,
                    ip_proto::TCP,
                    tcp::SYN,
                    60,
                    true,
                    true,
                ))
            })
            .collect()
    }

    #[test]
    fn a_spoofed_syn_flood_names_the_victim_and_port() {
        let victim = ip("10.10.10.10");
        let got = run(&mut Flood::new(&FloodConfig::default()), &spoofed_syns(victim, 20_000, S, 100_000));
        let f = got.last().expect("finding");
        assert_eq!(
            (f.kind, f.entities.dst, f.entities.port, f.entities.src),
            ("syn_flood", Some(victim), Some(80), None)
        );
        assert!(f.confidence >= 0.9, "{f:?}");
        assert_eq!(f.technique, "T1499.001");
        assert!(got.len() <= 5, "{}", got.len());
        assert!(f.reason.contains("never completed"), "{}", f.reason);
    }

    #[test]
    fn a_busy_web_server_with_complete_handshakes_is_not_flooded() {
        // 1000 new connections per second, every one completed and used.
        let server = ip("10.0.0.80");
        let mut ev = Vec::new();
        for i in 0..20_000u64 {
            let client = v4(0xc633_0000 + (i % 5000) as u32);
            let t = S + i * 1_000_000;
            ev.push(Event::Packet(packet(t, i, client, server, 40_000, 443, ip_proto::TCP, tcp::SYN, 74, true, true)));
            ev.push(Event::Packet(packet(
                t + 10,
                i,
                client,
                server,
                40_000,
                443,
                ip_proto::TCP,
                tcp::ACK,
                66,
                true,
                false,
            )));
            ev.push(Event::Packet(packet(
                t + 20,
                i,
                client,
                server,
                40_000,
                443,
                ip_proto::TCP,
                tcp::ACK | tcp::PSH,
                600,
                true,
                false,
            )));
        }
        let got = run(&mut Flood::new(&FloodConfig::default()), &ev);
        assert!(got.is_empty(), "{got:?}");
    }

    #[test]
    fn a_burst_shorter_than_a_second_is_measured_against_one_second() {
        let victim = ip("10.10.10.10");
        // 8000 SYN-ACKs from 7000 reflectors in 0.15 s.
        let ev: Vec<Event> = (0..8000u32)
            .map(|i| {
                let src = v4(0x2000_0000 + (i % 7000) * 104_729);
                let t = S + u64::from(i) * 18_000;
                let new = i < 7000;
                Event::Packet(packet(
                    t,
                    u64::from(i % 7000),
                    src,
                    victim,
                    80,
                    2000 + (i % 7000) as u16,
                    ip_proto::TCP,
                    tcp::SYN | tcp::ACK,
                    60,
                    false,
                    new,
                ))
            })
            .collect();
        let got = run(&mut Flood::new(&FloodConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.entities.dst, f.technique), ("synack_reflection", Some(victim), "T1498.002"));
        assert!(f.confidence >= 0.9);
    }

    #[test]
    fn a_slow_synack_reflection_is_weak_but_found() {
        let victim = ip("10.10.10.10");
        let mut ev = Vec::new();
        // Two reflectors retransmitting SYN-ACKs from port 21 every 2 s and 6 s.
        for i in 0..60u64 {
            let t = S + i * 2 * S;
            ev.push(Event::Packet(packet(
                t,
                1,
                ip("75.136.225.254"),
                victim,
                21,
                21,
                ip_proto::TCP,
                0x12,
                60,
                false,
                i == 0,
            )));
            if i % 3 == 0 {
                ev.push(Event::Packet(packet(
                    t + 1000,
                    2,
                    ip("93.114.150.139"),
                    victim,
                    21,
                    21,
                    ip_proto::TCP,
                    0x12,
                    60,
                    false,
                    i == 0,
                )));
            }
        }
        let got = run(&mut Flood::new(&FloodConfig::default()), &ev);
        let f = got.first().expect("finding");
        assert_eq!((f.kind, f.entities.dst, f.entities.port), ("synack_reflection", Some(victim), Some(21)));
        assert!(f.confidence < 0.5, "{}", f.confidence);
    }

    #[test]
    fn solicited_synacks_are_ordinary() {
        let me = ip("10.0.0.5");
        // A client opening 100 connections a minute: every SYN-ACK answers its SYN.
        let ev: Vec<Event> = (0..300u64)
            .map(|i| {
                Event::Packet(packet(
                    S + i * 600_000_000,
                    i,
                    v4(0x5db8_0000 + i as u32),
                    me,
                    443,
                    50_000,
                    ip_proto::TCP,
                    0x12,
                    74,
                    false,
                    false,
                ))
            })
            .collect();
        assert!(run(&mut Flood::new(&FloodConfig::default()), &ev).is_empty());
    }

    #[test]
    fn dns_amplification_names_the_victim_and_the_service() {
        let victim = ip("10.10.10.10");
        let ev: Vec<Event> = (0..400u64)
            .map(|i| {
                let src = v4(0x5000_0000 + (i % 120) as u32 * 65_537);
                Event::Packet(packet(
                    S + i * 70_000_000,
                    i % 120,
                    src,
                    victim,
                    53,
                    22,
                    ip_proto::UDP,
                    0,
                    3972,
                    true,
                    i < 120,
                ))
            })
            .collect();
        let got = run(&mut Flood::new(&FloodConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.entities.dst, f.entities.port), ("udp_amplification", Some(victim), Some(22)));
        assert!(f.reason.contains("service port 53"), "{}", f.reason);
        assert!(f.confidence >= 0.5, "{}", f.confidence);
    }

    #[test]
    fn answered_dns_lookups_and_ntp_peers_are_not_amplification() {
        let me = ip("10.0.0.5");
        let mut ev = Vec::new();
        for i in 0..500u64 {
            let t = S + i * 50_000_000;
            // Responses to our own queries: the flow was opened by the query.
            ev.push(Event::Packet(packet(t, i, ip("10.0.0.53"), me, 53, 40_000, ip_proto::UDP, 0, 400, false, false)));
            // NTP peers in symmetric mode: 123 -> 123, small.
            ev.push(Event::Packet(packet(
                t + 1,
                1 << 32 | i,
                v4(0x0a01_0000 + i as u32),
                me,
                123,
                123,
                ip_proto::UDP,
                0,
                90,
                true,
                true,
            )));
        }
        assert!(run(&mut Flood::new(&FloodConfig::default()), &ev).is_empty());
    }

    #[test]
    fn visible_requests_with_large_responses_are_amplification() {
        let victim = ip("192.0.2.77");
        // Seen at a reflector: spoofed requests in the victim's name, 40x responses.
        let ev: Vec<Event> = (0..64u64)
            .map(|i| {
                let f = crate::agents::port_scan::flow(
                    i,
                    victim,
                    ip("10.0.0.53"),
                    53,
                    ip_proto::UDP,
                    S + i * S / 2,
                    S + i * S / 2,
                    (1, 3),
                    (100, 40_000),
                    (0, 0),
                    false,
                );
                Event::FlowEnd(f)
            })
            .collect();
        let got = run(&mut Flood::new(&FloodConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!(
            (f.kind, f.entities.dst, f.evidence.measure),
            ("udp_amplification", Some(victim), "amplification_ratio")
        );
        assert_eq!(f.entities.src, Some(ip("10.0.0.53")));
    }

    #[test]
    fn a_dhcp_request_flood_is_pooled_over_spoofed_addresses() {
        let ev: Vec<Event> = (0..250u32)
            .map(|i| {
                let p = packet(
                    S + u64::from(i) * 20_000_000,
                    u64::from(i),
                    v4(0x8002_0500 + i),
                    v4(0x8002_0700 + i),
                    68,
                    67,
                    ip_proto::UDP,
                    0,
                    300,
                    true,
                    true,
                );
                Event::Packet(p)
            })
            .collect();
        assert!(ev.iter().all(|e| Flood::shard_key(e) == dhcp_key()));
        let got = run(&mut Flood::new(&FloodConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.technique), ("dhcp_flood", "T1499.002"));
        assert!(f.entities.dst.is_some());
        assert!(f.confidence >= 0.5, "{}", f.confidence);
        // A normal lease exchange is quiet.
        let one: Vec<Event> = ev.into_iter().take(4).collect();
        assert!(run(&mut Flood::new(&FloodConfig::default()), &one).is_empty());
    }

    #[test]
    fn an_icmp_flood_and_a_udp_flood_are_typed() {
        let victim = ip("10.0.0.9");
        let icmp: Vec<Event> = (0..5000u32)
            .map(|i| {
                Event::Packet(packet(
                    S + u64::from(i) * 200_000,
                    1,
                    v4(0x0c00_0000 + i % 50),
                    victim,
                    0,
                    0,
                    ip_proto::ICMP,
                    0,
                    98,
                    true,
                    i < 50,
                ))
            })
            .collect();
        assert_eq!(run(&mut Flood::new(&FloodConfig::default()), &icmp).last().map(|f| f.kind), Some("icmp_flood"));
        let udp: Vec<Event> = (0..40_000u32)
            .map(|i| {
                Event::Packet(packet(
                    S + u64::from(i) * 50_000,
                    u64::from(i),
                    ip("203.0.113.9"),
                    victim,
                    1024 + (i % 60_000) as u16,
                    30120,
                    ip_proto::UDP,
                    0,
                    512,
                    true,
                    true,
                ))
            })
            .collect();
        let got = run(&mut Flood::new(&FloodConfig::default()), &udp);
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.entities.src, f.entities.port), ("udp_flood", Some(ip("203.0.113.9")), Some(30120)));
    }

    #[test]
    fn one_fast_quic_download_is_not_a_udp_flood() {
        let me = ip("10.0.0.5");
        let ev: Vec<Event> = (0..50_000u32)
            .map(|i| {
                Event::Packet(packet(
                    S + u64::from(i) * 100_000,
                    7,
                    ip("142.250.1.1"),
                    me,
                    443,
                    50_000,
                    ip_proto::UDP,
                    0,
                    1350,
                    false,
                    i == 0,
                ))
            })
            .collect();
        assert!(run(&mut Flood::new(&FloodConfig::default()), &ev).is_empty());
    }

    #[test]
    fn the_learned_rate_raises_the_bar_and_survives_save_and_load() {
        let victim = ip("10.10.10.10");
        let cfg = FloodConfig { baseline_min_windows: 3, ..FloodConfig::default() };
        let mut a = Flood::new(&cfg);
        // 100 windows of 500 healthy SYN/s... (with their ACKs).
        let mut ev = Vec::new();
        for i in 0..(100 * 10 * 500u64) / 10 {
            let t = S + i * 20_000_000 / 10;
            let c = v4(0x0d00_0000 + (i % 1000) as u32);
            ev.push(Event::Packet(packet(t, i, c, victim, 40_000, 443, ip_proto::TCP, tcp::SYN, 60, true, true)));
            ev.push(Event::Packet(packet(t + 1, i, c, victim, 40_000, 443, ip_proto::TCP, tcp::ACK, 60, true, false)));
        }
        assert!(run(&mut a, &ev).is_empty());
        let (pps, windows) = a.baseline(&victim).expect("learned");
        assert!(pps > 500.0 && windows > 5, "{pps} {windows}");
        let saved = a.save().expect("state");
        let mut b = Flood::new(&cfg);
        b.load(&saved);
        b.load(&saved);
        let (pps2, _) = b.baseline(&victim).expect("loaded");
        assert!((pps2 - pps).abs() < 1e-6);
        // 1000 spoofed SYN/s: over the absolute minimum, but not ten times the learned rate.
        let t0 = 2000 * S;
        assert!(run(&mut b, &spoofed_syns(victim, 5000, t0, 1_000_000)).is_empty());
        // The same on a fresh sensor is a flood.
        assert!(!run(&mut Flood::new(&cfg), &spoofed_syns(victim, 5000, t0, 1_000_000)).is_empty());
        // Damaged state is ignored.
        b.load(&serde_json::json!({"baselines": "nope"}));
        b.load(&serde_json::json!(null));
    }

    #[test]
    fn backwards_time_and_odd_packets_neither_panic_nor_fire() {
        let victim = ip("10.0.0.1");
        let mut ev = Vec::new();
        for i in 0..2000u64 {
            let t = if i % 2 == 0 { u64::MAX - i } else { i };
            ev.push(Event::Packet(packet(t, i, ip("10.0.0.2"), victim, 0, 0, 250, 0xff, u32::MAX, i % 3 == 0, true)));
        }
        ev.push(Event::Packet(packet(
            0,
            0,
            ip("0.0.0.0"),
            ip("255.255.255.255"),
            68,
            67,
            ip_proto::UDP,
            0,
            0,
            true,
            true,
        )));
        assert!(run(&mut Flood::new(&FloodConfig::default()), &ev).is_empty());
    }

    #[test]
    fn the_destination_table_stays_bounded_under_1e5_victims() {
        let mut agent = Flood::new(&FloodConfig { max_destinations: 1024, ..FloodConfig::default() });
        let cx = Context::default();
        let (q, _rx) = FindingQueue::bounded(16);
        let mut out = Emitter::new(&q, &cx);
        for i in 0..100_000u32 {
            let p = packet(
                S + u64::from(i),
                u64::from(i),
                ip("10.0.0.1"),
                v4(0x0a00_0000 + i),
                1,
                2,
                ip_proto::UDP,
                0,
                60,
                true,
                true,
            );
            agent.on_event(&Event::Packet(p), &cx, &mut out);
            assert!(agent.tracked() <= 1024);
        }
        assert!(agent.evicted() > 90_000);
    }

    #[test]
    fn entry_sizes_match_the_documented_memory() {
        eprintln!("Dest {} bytes", std::mem::size_of::<Dest>());
        assert!(std::mem::size_of::<Dest>() <= 700);
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 20_000;
        let ev = steady_events(2 * n);
        let mut agent = Flood::new(&FloodConfig::default());
        let _ = run(&mut agent, &ev[..n]);
        assert!(run(&mut agent, &ev[n..]).is_empty());
    }
}
