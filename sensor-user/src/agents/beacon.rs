//! Beacons: a host connecting to the same destination (address, port) again and again at a
//! steady interval, as command-and-control implants check in.
//!
//! How: every finished flow ([`FlowSummary`]) is a connection start (`start_ns`) for the pair
//! (client, server, server port, protocol). Per pair a fixed ring keeps the last `history`
//! (16) starts in time order (flows end out of order; a start already held, a start within
//! `min_interval_s` of its neighbour, i.e. a second connection of the same check-in, and a
//! second record of the same flow are not added). Once it holds `min_intervals` + 1 starts
//! (7, i.e. 6 intervals), the intervals between consecutive starts are measured: a beacon
//! has a mean interval between `min_interval_s` (1 s) and `max_interval_s` (6 h) and a
//! coefficient of variation (standard deviation / mean) of at most `max_cv` (0.15).
//!
//! Confidence grows with the number of intervals (6: 0.25, 15: 0.8) and shrinks with the
//! jitter (x1 at CV 0, x0.4 at `max_cv`), so only long, tight series pass 0.5; browsers
//! polling a page do not reconnect on a steady clock, and keep-alive reuses one flow. Pairs
//! between two internal (private) addresses, where monitoring and health checks live, are
//! capped at `internal_max_confidence` (0.45), an external client calling an internal server
//! (scanners and brute-forcers retry on a clock too; implants call out) at
//! `inbound_max_confidence` (0.3), and a series of mostly unanswered attempts is scaled by
//! 0.6. Multicast and broadcast destinations and
//! `ignore_ports` (DNS, DHCP, NTP, NetBIOS, SSDP, mDNS, LLMNR) are skipped. Technique T1573
//! (encrypted channel) for TLS, T1071.001 for HTTP, T1071 otherwise. A pair is reported again
//! within `cooldown_s` (3600 s) only when its confidence enters a higher band.
//!
//! Memory: `max_pairs` (32768) pairs of about 260 bytes (8.5 MB), allocated at start, the
//! stalest evicted when full. Sharded by source (the client).

use std::net::IpAddr;

use super::{
    agent::{Agent, Emitter, ns_secs, secs_ns},
    context::{Context, NAME_KEEP},
    event::{Event, FlowSummary, addr_key, int_key, ip_proto, kind, tcp},
    finding::{Entities, Evidence, Finding, Severity},
    sketch::{BoundedTable, PortSet, is_internal, is_unicast},
};

/// Most connection starts a pair can keep.
pub const MAX_HISTORY: usize = 32;

/// The `[agents.beacon]` section.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BeaconConfig {
    /// Connection starts kept per pair (default 16, at most 32).
    pub history: usize,
    /// Intervals needed before a series is judged (default 6).
    pub min_intervals: usize,
    /// Largest coefficient of variation of the intervals (default 0.15).
    pub max_cv: f64,
    /// Shortest mean interval, seconds; closer starts are one check-in (default 1).
    pub min_interval_s: f64,
    /// Longest mean interval, seconds (default 21600).
    pub max_interval_s: f64,
    /// Destination ports never judged (default 53, 67, 68, 123, 137, 138, 1900, 5353, 5355).
    pub ignore_ports: Vec<u16>,
    /// Highest confidence for a pair of two internal addresses (default 0.45).
    pub internal_max_confidence: f64,
    /// Highest confidence for an external client calling an internal server: an implant
    /// calls out, not in (default 0.3).
    pub inbound_max_confidence: f64,
    /// Pairs tracked at once (default 32768).
    pub max_pairs: usize,
    /// Hold-off between findings about one pair, seconds (default 3600).
    pub cooldown_s: f64,
}

impl Default for BeaconConfig {
    fn default() -> Self {
        Self {
            history: 16,
            min_intervals: 6,
            max_cv: 0.15,
            min_interval_s: 1.0,
            max_interval_s: 21_600.0,
            ignore_ports: vec![53, 67, 68, 123, 137, 138, 1900, 5353, 5355],
            internal_max_confidence: 0.45,
            inbound_max_confidence: 0.3,
            max_pairs: 32_768,
            cooldown_s: 3600.0,
        }
    }
}

/// (client, server, server port, protocol).
type PairKey = (IpAddr, IpAddr, u16, u8);

fn pair_hash(k: &PairKey) -> u64 {
    addr_key(&k.0) ^ addr_key(&k.1).rotate_left(21) ^ int_key(u64::from(k.2) | u64::from(k.3) << 16)
}

/// Flow ids kept per pair as evidence.
const SAMPLE: usize = 4;

/// Connection starts of one pair: milliseconds after `base_ns`, sorted.
#[derive(Clone, Copy, Debug)]
struct Series {
    base_ns: u64,
    starts: [u32; MAX_HISTORY],
    len: u8,
    /// Starts merged into a neighbour (decays as the ring turns over).
    merged: u32,
    /// Connections added, and those answered (TCP handshake, or a UDP reply).
    added: u32,
    answered: u32,
    last_flow: u64,
    last_emit_ns: u64,
    last_band: u8,
    sample: [u64; SAMPLE],
    sampled: u32,
}

impl Default for Series {
    fn default() -> Self {
        Self {
            base_ns: 0,
            starts: [0; MAX_HISTORY],
            len: 0,
            merged: 0,
            added: 0,
            answered: 0,
            last_flow: u64::MAX,
            last_emit_ns: 0,
            last_band: 0,
            sample: [0; SAMPLE],
            sampled: 0,
        }
    }
}

impl Series {
    fn held(&self) -> &[u32] {
        &self.starts[..usize::from(self.len)]
    }

    /// Adds a start; false when it was not added (a neighbour within `merge_ms`, too old for a
    /// full ring, or out of range).
    fn add(&mut self, start_ns: u64, cap: usize, merge_ms: u32) -> bool {
        if self.len == 0 {
            self.base_ns = start_ns;
            self.starts[0] = 0;
            self.len = 1;
            return true;
        }
        if start_ns < self.base_ns {
            // Earlier than everything held: shift the offsets, or start over when they
            // would not fit.
            let d = (self.base_ns - start_ns).div_ceil(1_000_000);
            let top = u64::from(self.held().last().copied().unwrap_or(0));
            if d > u64::from(u32::MAX) || top + d > u64::from(u32::MAX) {
                *self = Self {
                    last_flow: self.last_flow,
                    last_emit_ns: self.last_emit_ns,
                    last_band: self.last_band,
                    ..Self::default()
                };
                return self.add(start_ns, cap, merge_ms);
            }
            for s in &mut self.starts[..usize::from(self.len)] {
                *s += d as u32;
            }
            self.base_ns -= d * 1_000_000;
        }
        let off = (start_ns - self.base_ns) / 1_000_000;
        let Ok(off) = u32::try_from(off) else {
            // More than 49 days after the base: start over from here.
            *self = Self {
                last_flow: self.last_flow,
                last_emit_ns: self.last_emit_ns,
                last_band: self.last_band,
                ..Self::default()
            };
            return self.add(start_ns, cap, merge_ms);
        };
        let n = usize::from(self.len);
        let pos = self.held().partition_point(|s| *s <= off);
        let near = |i: usize| self.starts[i].abs_diff(off) < merge_ms.max(1);
        if (pos > 0 && near(pos - 1)) || (pos < n && near(pos)) {
            self.merged = self.merged.saturating_add(1);
            return false;
        }
        if n == cap {
            if pos == 0 {
                return false;
            }
            self.merged -= self.merged / cap as u32;
            // Drop the oldest to make room.
            self.starts.copy_within(1..pos, 0);
            self.starts[pos - 1] = off;
        } else {
            self.starts.copy_within(pos..n, pos + 1);
            self.starts[pos] = off;
            self.len += 1;
        }
        true
    }

    /// (intervals, mean ms, coefficient of variation, span ms) of the held starts.
    fn stats(&self) -> (usize, f64, f64, u32) {
        let s = self.held();
        if s.len() < 2 {
            return (0, 0.0, 0.0, 0);
        }
        let n = s.len() - 1;
        let mean = f64::from(s[n] - s[0]) / n as f64;
        let var = s.windows(2).map(|w| (f64::from(w[1] - w[0]) - mean).powi(2)).sum::<f64>() / n as f64;
        let cv = if mean > 0.0 { var.sqrt() / mean } else { f64::INFINITY };
        (n, mean, cv, s[n] - s[0])
    }
}

fn band(c: f32) -> u8 {
    match c {
        c if c >= 0.9 => 3,
        c if c >= 0.7 => 2,
        c if c >= 0.5 => 1,
        _ => 0,
    }
}

fn human(ms: f64) -> String {
    let s = ms / 1000.0;
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// The beacon agent.
#[derive(Debug)]
pub struct Beacon {
    cfg: BeaconConfig,
    cap: usize,
    merge_ms: u32,
    cooldown_ns: u64,
    ignore: PortSet,
    pairs: BoundedTable<PairKey, Series>,
}

impl Beacon {
    /// Pairs tracked now.
    pub fn tracked(&self) -> usize {
        self.pairs.len()
    }

    fn on_flow(&mut self, f: &FlowSummary, cx: &Context, out: &mut Emitter<'_>) {
        if !matches!(f.proto, ip_proto::TCP | ip_proto::UDP)
            || !is_unicast(&f.server)
            || self.ignore.contains(f.server_port)
            || f.pkts_to_server == 0
        {
            return;
        }
        let key: PairKey = (f.client, f.server, f.server_port, f.proto);
        let ts = f.ts_ns.max(f.start_ns);
        let (cap, merge_ms) = (self.cap, self.merge_ms);
        let (s, _) = self.pairs.get_or_insert_with(pair_hash(&key), key, ts, Series::default);
        if s.last_flow == f.flow_id {
            // The same flow logged again (active timeout): one connection.
            return;
        }
        s.last_flow = f.flow_id;
        if !s.add(f.start_ns, cap, merge_ms) {
            return;
        }
        s.sample[s.sampled as usize % SAMPLE] = f.flow_id;
        s.sampled = s.sampled.wrapping_add(1);
        let synack = f.flags_to_client & (tcp::SYN | tcp::ACK) == tcp::SYN | tcp::ACK;
        let answered = if f.proto == ip_proto::TCP { f.established || synack } else { f.pkts_to_client > 0 };
        s.added = s.added.saturating_add(1);
        s.answered = s.answered.saturating_add(u32::from(answered));
        let cfg = &self.cfg;
        let (n, mean_ms, cv, span_ms) = s.stats();
        // More than two merged connections per interval: a chatty client, not check-ins.
        if n < cfg.min_intervals.max(2) || cv > cfg.max_cv || s.merged as usize > 2 * n {
            return;
        }
        let mean_s = mean_ms / 1000.0;
        if mean_s < cfg.min_interval_s || mean_s > cfg.max_interval_s {
            return;
        }
        let full = (cap - 1).max(cfg.min_intervals + 1);
        let reps = ((n - cfg.min_intervals) as f64 / (full - cfg.min_intervals) as f64).clamp(0.0, 1.0);
        let jitter = 1.0 - 0.6 * (cv / cfg.max_cv.max(1e-9)).clamp(0.0, 1.0);
        let mut conf = (0.25 + 0.55 * reps) * jitter;
        // Mostly failed attempts: a retrying client (or a C2 that is down): weaker.
        let failing = 2 * s.answered < s.added;
        if failing {
            conf *= 0.6;
        }
        let internal = is_internal(&f.client) && is_internal(&f.server);
        let inbound = !is_internal(&f.client) && is_internal(&f.server);
        if internal {
            conf = conf.min(cfg.internal_max_confidence);
        }
        if inbound {
            conf = conf.min(cfg.inbound_max_confidence);
        }
        let conf = conf.clamp(0.0, 0.99) as f32;
        let cooled = s.last_emit_ns == 0 || ts >= s.last_emit_ns.saturating_add(self.cooldown_ns);
        if !cooled && band(conf) <= s.last_band {
            return;
        }
        s.last_emit_ns = ts.max(1);
        s.last_band = band(conf);
        let flow_ids = s.sample[..(s.sampled as usize).min(SAMPLE)].to_vec();
        let technique = match (f.app, f.server_port) {
            ("tls", _) | (_, 443 | 8443 | 993 | 995 | 465 | 636) => "T1573",
            ("http", _) | (_, 80 | 8080 | 8000) => "T1071.001",
            _ => "T1071",
        };
        let mut name = [0u8; NAME_KEEP];
        let host = cx.name_of(&f.server, &mut name).map(|k| String::from_utf8_lossy(&name[..k]).into_owned());
        let shown = host.as_ref().map_or_else(String::new, |h| format!(" ({h})"));
        let reason = format!(
            "{} connected to {}{shown}:{} {} times every {} (CV {cv:.3}) over {}{}",
            f.client,
            f.server,
            f.server_port,
            n + 1,
            human(mean_ms),
            human(f64::from(span_ms)),
            match (internal, inbound, failing) {
                (true, _, _) => "; both ends internal",
                (_, true, _) => "; inbound from an external client",
                (_, _, true) => "; mostly unanswered",
                _ => "",
            }
        );
        out.emit(Finding::new(
            Self::NAME,
            "beacon",
            ts,
            conf,
            if conf >= 0.7 {
                Severity::High
            } else if conf >= 0.4 {
                Severity::Medium
            } else {
                Severity::Low
            },
            technique,
            Entities {
                src: Some(f.client),
                dst: Some(f.server),
                port: Some(f.server_port),
                host,
                ..Entities::default()
            },
            Evidence {
                flow_ids,
                observed: cv,
                threshold: cfg.max_cv,
                measure: "interval_cv",
                window_s: ns_secs(u64::from(span_ms) * 1_000_000),
                count: (n + 1) as u64,
            },
            reason,
        ));
    }
}

impl Agent for Beacon {
    const NAME: &'static str = "beacon";
    const INTEREST: u16 = kind::FLOW_END;
    type Config = BeaconConfig;

    fn new(cfg: &Self::Config) -> Self {
        Self {
            cfg: cfg.clone(),
            cap: cfg.history.clamp(3, MAX_HISTORY),
            merge_ms: (secs_ns(cfg.min_interval_s) / 1_000_000).min(u64::from(u32::MAX)) as u32,
            cooldown_ns: secs_ns(cfg.cooldown_s),
            ignore: PortSet::new(&cfg.ignore_ports),
            pairs: BoundedTable::new(cfg.max_pairs.max(1)),
        }
    }

    fn shard_key(ev: &Event) -> u64 {
        match ev {
            Event::FlowEnd(f) => addr_key(&f.client),
            _ => 0,
        }
    }

    fn on_event(&mut self, ev: &Event, cx: &Context, out: &mut Emitter<'_>) {
        if let Event::FlowEnd(f) = ev {
            self.on_flow(f, cx, out);
        }
    }
}

fn conn(id: u64, client: IpAddr, server: IpAddr, port: u16, start_ns: u64) -> FlowSummary {
    FlowSummary {
        ts_ns: start_ns.saturating_add(400_000_000),
        flow_id: id,
        client,
        server,
        client_port: 49_152 + (id % 16_000) as u16,
        server_port: port,
        proto: ip_proto::TCP,
        start_ns,
        pkts_to_server: 8,
        pkts_to_client: 7,
        bytes_to_server: 900,
        bytes_to_client: 4_000,
        flags_to_server: 0x1b,
        flags_to_client: 0x1b,
        established: true,
        app: if port == 443 { "tls" } else { "" },
    }
}

/// `n` flow ends of browsing: 20 hosts opening connections to 300 servers at irregular
/// moments (pseudo-random gaps between 0.2 s and 3 min per pair).
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    let mut t = 1_000_000_000u64;
    (0..n)
        .map(|i| {
            let i64 = i as u64;
            let r = int_key(i64);
            t += 10_000_000 + r % 400_000_000;
            let client = IpAddr::from([10, 3, 0, (r % 20) as u8 + 1]);
            let server = IpAddr::from([151, 101, ((r >> 8) % 30) as u8, ((r >> 16) % 10) as u8 + 1]);
            Event::FlowEnd(conn(i64, client, server, 443, t))
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

    /// `n` connections every `period` seconds with a jitter of +-`jitter` (fraction).
    fn periodic(client: IpAddr, server: IpAddr, port: u16, n: u64, period: f64, jitter: f64) -> Vec<Event> {
        (0..n)
            .map(|i| {
                let wobble = ((int_key(i) % 2001) as f64 / 1000.0 - 1.0) * jitter;
                let start = S + (i as f64 * period * 1e9 + wobble * period * 1e9) as u64;
                Event::FlowEnd(conn(i, client, server, port, start))
            })
            .collect()
    }

    #[test]
    fn a_60_second_tls_beacon_with_little_jitter_is_reported() {
        let (c, s) = (ip("10.0.2.15"), ip("45.9.74.78"));
        let got = run(&mut Beacon::new(&BeaconConfig::default()), &periodic(c, s, 443, 20, 60.0, 0.02));
        let f = got.last().expect("finding");
        assert_eq!((f.kind, f.entities.src, f.entities.dst, f.entities.port), ("beacon", Some(c), Some(s), Some(443)));
        assert_eq!(f.technique, "T1573");
        assert!(f.confidence >= 0.7, "{}", f.confidence);
        assert!(got.len() <= 4, "{}", got.len());
        assert!(
            f.reason.contains("every 60.0 s") || f.reason.contains("every 59.9 s") || f.reason.contains("every 60.1 s"),
            "{}",
            f.reason
        );
    }

    #[test]
    fn a_short_series_is_weak_and_five_intervals_are_nothing() {
        let (c, s) = (ip("10.0.2.15"), ip("45.9.74.78"));
        let got = run(&mut Beacon::new(&BeaconConfig::default()), &periodic(c, s, 8080, 7, 30.0, 0.01));
        let f = got.last().expect("six intervals suffice");
        assert!(f.confidence < 0.5, "{}", f.confidence);
        assert_eq!(f.technique, "T1071.001");
        assert!(run(&mut Beacon::new(&BeaconConfig::default()), &periodic(c, s, 8080, 6, 30.0, 0.01)).is_empty());
    }

    #[test]
    fn a_browser_polling_with_jitter_stays_quiet() {
        let (c, s) = (ip("10.0.2.15"), ip("151.101.1.69"));
        assert!(run(&mut Beacon::new(&BeaconConfig::default()), &periodic(c, s, 443, 30, 30.0, 0.5)).is_empty());
    }

    #[test]
    fn intervals_out_of_range_and_ignored_ports_are_skipped() {
        let (c, s) = (ip("10.0.2.15"), ip("45.9.74.78"));
        let cfg = BeaconConfig::default();
        // 0.2 s apart: a chatty client, whose starts merge into one-second beats.
        assert!(run(&mut Beacon::new(&cfg), &periodic(c, s, 443, 100, 0.2, 0.0)).is_empty());
        // Once a day: beyond 6 h.
        assert!(run(&mut Beacon::new(&cfg), &periodic(c, s, 443, 10, 86_400.0, 0.0)).is_empty());
        // NTP polls are periodic by design.
        let ntp: Vec<Event> = periodic(c, s, 123, 20, 64.0, 0.0);
        assert!(run(&mut Beacon::new(&cfg), &ntp).is_empty());
        // Broadcast destinations are not C2.
        assert!(run(&mut Beacon::new(&cfg), &periodic(c, ip("10.0.2.255"), 9999, 20, 30.0, 0.0)).is_empty());
    }

    #[test]
    fn internal_health_checks_are_capped_below_one_half() {
        let (c, s) = (ip("10.0.0.2"), ip("10.0.0.80"));
        let got = run(&mut Beacon::new(&BeaconConfig::default()), &periodic(c, s, 8080, 40, 5.0, 0.0));
        let f = got.last().expect("reported weakly");
        assert!(f.confidence <= 0.45, "{}", f.confidence);
        assert!(f.reason.contains("internal"));
    }

    #[test]
    fn inbound_retries_and_unanswered_attempts_are_weak() {
        let (c, s) = (ip("136.243.174.154"), ip("10.10.10.10"));
        let got = run(&mut Beacon::new(&BeaconConfig::default()), &periodic(c, s, 9069, 30, 5.0, 0.0));
        assert!(got.iter().all(|f| f.confidence <= 0.3), "{got:?}");
        let (c, s) = (ip("10.0.2.15"), ip("45.9.74.78"));
        let ev: Vec<Event> = periodic(c, s, 443, 20, 60.0, 0.0)
            .into_iter()
            .map(|e| match e {
                Event::FlowEnd(mut f) => {
                    f.established = false;
                    f.flags_to_client = 0;
                    f.pkts_to_client = 0;
                    Event::FlowEnd(f)
                }
                e => e,
            })
            .collect();
        let got = run(&mut Beacon::new(&BeaconConfig::default()), &ev);
        let f = got.last().expect("still reported");
        assert!(f.confidence < 0.5 && f.reason.contains("unanswered"), "{f:?}");
    }

    #[test]
    fn flows_ending_out_of_order_and_logged_twice_still_form_the_series() {
        let (c, s) = (ip("10.0.2.15"), ip("45.9.74.78"));
        let mut ev = periodic(c, s, 443, 16, 120.0, 0.01);
        ev.reverse();
        let dup = ev[3];
        ev.insert(4, dup);
        let got = run(&mut Beacon::new(&BeaconConfig::default()), &ev);
        let f = got.last().expect("finding");
        assert!(f.confidence >= 0.6, "{}", f.confidence);
        assert!(f.reason.contains("every 120.0 s") || f.reason.contains("every 2.0 min"), "{}", f.reason);
    }

    #[test]
    fn backwards_and_extreme_times_do_not_panic() {
        let (c, s) = (ip("10.0.2.15"), ip("45.9.74.78"));
        let mut a = Beacon::new(&BeaconConfig::default());
        let starts = [u64::MAX, 0, 1, u64::MAX / 2, 5 * S, 3 * S, u64::MAX - 1, 7 * S, 60 * 86_400 * S, 2];
        let ev: Vec<Event> =
            starts.iter().enumerate().map(|(i, t)| Event::FlowEnd(conn(i as u64, c, s, 443, *t))).collect();
        let got = run(&mut a, &ev);
        assert!(got.is_empty());
        let mut one = Series::default();
        for t in [u64::MAX, 0, u64::MAX] {
            one.add(t, 16, 1000);
        }
        assert!(one.len >= 1);
    }

    #[test]
    fn the_ring_keeps_the_latest_starts_in_order() {
        let mut s = Series::default();
        for i in [5u64, 1, 9, 3, 7, 11, 13, 15, 17, 19] {
            s.add(i * S, 4, 1000);
        }
        assert_eq!(s.held().len(), 4);
        let abs: Vec<u64> = s.held().iter().map(|o| s.base_ns / S + u64::from(*o) / 1000).collect();
        assert_eq!(abs, vec![13, 15, 17, 19]);
    }

    #[test]
    fn the_pair_table_stays_bounded_under_1e5_pairs() {
        let mut a = Beacon::new(&BeaconConfig { max_pairs: 1024, ..BeaconConfig::default() });
        let cx = Context::default();
        let (q, _rx) = FindingQueue::bounded(16);
        let mut out = Emitter::new(&q, &cx);
        for i in 0..100_000u32 {
            let s = IpAddr::from(std::net::Ipv4Addr::from(0x2000_0000 + i));
            a.on_event(&Event::FlowEnd(conn(u64::from(i), ip("10.0.0.1"), s, 443, u64::from(i) * S)), &cx, &mut out);
            assert!(a.tracked() <= 1024);
        }
    }

    #[test]
    fn entry_sizes_match_the_documented_memory() {
        eprintln!("Series {} bytes", std::mem::size_of::<Series>());
        assert!(std::mem::size_of::<Series>() <= 250);
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 20_000;
        let ev = steady_events(2 * n);
        let mut a = Beacon::new(&BeaconConfig::default());
        let _ = run(&mut a, &ev[..n]);
        assert!(run(&mut a, &ev[n..]).is_empty());
    }
}
