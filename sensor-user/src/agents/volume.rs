//! Exfiltration-sized uploads: a host sending far more than usual to a destination it has
//! not talked to before.
//!
//! How: from finished flows ([`FlowSummary`]), the client is the host; its egress is what it
//! sent (`bytes_to_server`), its ingress what it received. Per host, bytes are summed over a
//! `window_s` (300 s) window and folded at the window's end into an EWMA baseline
//! (`baseline_alpha` 0.1 per window) that is persisted (`save`/`load`) and published to the
//! [`Context`] (`publish_baseline`) for other agents. Per (host, destination) pair the table
//! remembers when the destination was first seen from the host and the bytes sent to it in
//! the current window. A finding is raised when, within one window, a host sends to a
//! destination first seen less than `novelty_s` (1 day) ago either
//! - at least `exfil_bytes` (100 MB), or
//! - at least `baseline_min_bytes` (20 MB) and `baseline_factor` (10) times its usual egress
//!   per window, once `baseline_min_windows` (12) windows are learned.
//!
//! Confidence: 0.45 at 100 MB rising 0.15 per doubling; 0.35 at ten times the baseline rising
//! 0.1 per doubling; +0.1 when both rules hold; +0.2 when the context already holds a finding
//! of 0.5 or more about the destination (a beacon, a bad address), which also makes the
//! technique T1041 (exfiltration over a C2 channel). Otherwise T1567 (web service) for HTTP(S)
//! and T1048 (alternative protocol) for the rest. One pair is reported once per `cooldown_s`
//! (3600 s) unless the confidence enters a higher band.
//!
//! A flow's bytes count when it ends (or at the pipeline's active timeout), so a transfer over
//! one long connection is judged at its end. Uploads only: a server whose data is pulled by a
//! client is that client's ingress, not judged here.
//!
//! Memory: `max_hosts` (16384) hosts of about 90 bytes and `max_pairs` (32768) pairs of
//! about 130 bytes (6 MB in all), allocated at start, the stalest evicted when full (an
//! evicted pair is new again). Sharded by host (the client).

use std::net::IpAddr;

use super::{
    agent::{Agent, Emitter, ns_secs, secs_ns},
    context::{Context, HostBaseline, NAME_KEEP},
    event::{Event, FlowSummary, addr_key, kind},
    finding::{Entities, Evidence, Finding, Severity},
    sketch::{BoundedTable, is_unicast},
};

/// The `[agents.volume]` section.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct VolumeConfig {
    /// Accounting window, seconds (default 300).
    pub window_s: f64,
    /// Bytes to one new destination in a window that are reported outright (default 100 MB).
    pub exfil_bytes: u64,
    /// Multiple of the host's usual egress per window that is reported (default 10).
    pub baseline_factor: f64,
    /// Least bytes to one new destination for the baseline rule (default 20 MB).
    pub baseline_min_bytes: u64,
    /// EWMA weight of one window in the baseline (default 0.1).
    pub baseline_alpha: f64,
    /// Windows learned before the baseline rule applies (default 12).
    pub baseline_min_windows: u32,
    /// A destination first seen from the host less than this long ago is new, seconds
    /// (default 86400).
    pub novelty_s: f64,
    /// Hosts tracked at once (default 16384).
    pub max_hosts: usize,
    /// (host, destination) pairs remembered (default 32768).
    pub max_pairs: usize,
    /// Hold-off between findings about one pair, seconds (default 3600).
    pub cooldown_s: f64,
}

impl Default for VolumeConfig {
    fn default() -> Self {
        Self {
            window_s: 300.0,
            exfil_bytes: 100_000_000,
            baseline_factor: 10.0,
            baseline_min_bytes: 20_000_000,
            baseline_alpha: 0.1,
            baseline_min_windows: 12,
            novelty_s: 86_400.0,
            max_hosts: 16_384,
            max_pairs: 32_768,
            cooldown_s: 3600.0,
        }
    }
}

/// Traffic of one host.
#[derive(Clone, Copy, Debug, Default)]
struct Host {
    start_ns: u64,
    egress: u64,
    ingress: u64,
    ewma_egress: f64,
    ewma_ingress: f64,
    windows: u64,
}

/// Flow ids kept per pair as evidence.
const SAMPLE: usize = 4;

/// One (host, destination) pair.
#[derive(Clone, Copy, Debug, Default)]
struct Pair {
    first_seen_ns: u64,
    start_ns: u64,
    egress: u64,
    flows: u32,
    last_emit_ns: u64,
    last_band: u8,
    sample: [u64; SAMPLE],
    sampled: u32,
}

fn pair_key(host: &IpAddr, dst: &IpAddr) -> u64 {
    addr_key(host) ^ addr_key(dst).rotate_left(23)
}

fn band(c: f32) -> u8 {
    match c {
        c if c >= 0.9 => 3,
        c if c >= 0.7 => 2,
        c if c >= 0.5 => 1,
        _ => 0,
    }
}

fn mb(b: f64) -> String {
    format!("{:.1} MB", b / 1e6)
}

/// The volume agent.
#[derive(Debug)]
pub struct Volume {
    cfg: VolumeConfig,
    window_ns: u64,
    novelty_ns: u64,
    cooldown_ns: u64,
    hosts: BoundedTable<IpAddr, Host>,
    pairs: BoundedTable<(IpAddr, IpAddr), Pair>,
    next_sweep_ns: u64,
}

impl Volume {
    /// (hosts, pairs) tracked now.
    pub fn tracked(&self) -> (usize, usize) {
        (self.hosts.len(), self.pairs.len())
    }

    /// The learned baseline of `host`.
    pub fn baseline(&self, host: &IpAddr) -> Option<HostBaseline> {
        self.hosts.get(addr_key(host), host).map(|h| HostBaseline {
            egress: h.ewma_egress,
            ingress: h.ewma_ingress,
            windows: h.windows,
        })
    }

    /// Closes the host's window if `now` is past it: folds it into the baseline (windows
    /// without traffic in between count as empty) and publishes the baseline.
    fn close(h: &mut Host, addr: &IpAddr, now: u64, window_ns: u64, alpha: f64, cx: &Context) -> bool {
        if h.start_ns == 0 || now < h.start_ns.saturating_add(window_ns) {
            return false;
        }
        let elapsed = (now - h.start_ns) / window_ns.max(1);
        let idle = elapsed.saturating_sub(1).min(10_000) as i32;
        let (e, i) = (h.egress as f64, h.ingress as f64);
        if h.windows == 0 {
            h.ewma_egress = e;
            h.ewma_ingress = i;
        } else {
            h.ewma_egress = (1.0 - alpha) * h.ewma_egress + alpha * e;
            h.ewma_ingress = (1.0 - alpha) * h.ewma_ingress + alpha * i;
        }
        let keep = (1.0 - alpha).powi(idle);
        h.ewma_egress *= keep;
        h.ewma_ingress *= keep;
        h.windows = h.windows.saturating_add(1 + idle as u64);
        h.start_ns = 0;
        h.egress = 0;
        h.ingress = 0;
        cx.publish_baseline(
            addr,
            HostBaseline { egress: h.ewma_egress, ingress: h.ewma_ingress, windows: h.windows },
            now,
        );
        true
    }

    fn on_flow(&mut self, f: &FlowSummary, cx: &Context, out: &mut Emitter<'_>) {
        let ts = f.ts_ns;
        let (window_ns, alpha) = (self.window_ns, self.cfg.baseline_alpha);
        let (h, _) = self.hosts.get_or_insert_with(addr_key(&f.client), f.client, ts, Host::default);
        Self::close(h, &f.client, ts, window_ns, alpha, cx);
        if h.start_ns == 0 {
            h.start_ns = ts.max(1);
        }
        h.egress = h.egress.saturating_add(f.bytes_to_server);
        h.ingress = h.ingress.saturating_add(f.bytes_to_client);
        let host = *h;
        if !is_unicast(&f.server) || f.bytes_to_server == 0 {
            return;
        }
        let key = (f.client, f.server);
        let first = f.start_ns.min(ts).max(1);
        let (p, _) = self.pairs.get_or_insert_with(pair_key(&f.client, &f.server), key, ts, || Pair {
            first_seen_ns: first,
            ..Pair::default()
        });
        p.first_seen_ns = p.first_seen_ns.min(first);
        if p.start_ns == 0 || ts >= p.start_ns.saturating_add(window_ns) {
            p.start_ns = ts.max(1);
            p.egress = 0;
            p.flows = 0;
        }
        p.egress = p.egress.saturating_add(f.bytes_to_server);
        p.flows = p.flows.saturating_add(1);
        p.sample[p.sampled as usize % SAMPLE] = f.flow_id;
        p.sampled = p.sampled.wrapping_add(1);
        let cfg = &self.cfg;
        let egress = p.egress;
        let absolute = egress >= cfg.exfil_bytes;
        let learned = host.windows >= u64::from(cfg.baseline_min_windows);
        let usual = host.ewma_egress.max(1.0);
        let relative = learned && egress >= cfg.baseline_min_bytes && egress as f64 >= cfg.baseline_factor * usual;
        if !absolute && !relative {
            return;
        }
        let age_ns = ts.saturating_sub(p.first_seen_ns);
        if age_ns >= self.novelty_ns {
            return;
        }
        let abs_c = if absolute {
            0.45 + (0.15 * (egress as f64 / cfg.exfil_bytes.max(1) as f64).log2()).min(0.3)
        } else {
            0.0
        };
        let ratio = egress as f64 / usual;
        let rel_c = if relative { 0.35 + (0.1 * (ratio / cfg.baseline_factor.max(1.0)).log2()).min(0.25) } else { 0.0 };
        let flagged = cx.findings_about(&f.server).is_some_and(|m| m.max_confidence >= 0.5);
        let mut conf = abs_c.max(rel_c);
        if absolute && relative {
            conf += 0.1;
        }
        if flagged {
            conf += 0.2;
        }
        let conf = conf.clamp(0.0, 0.99) as f32;
        let cooled = p.last_emit_ns == 0 || ts >= p.last_emit_ns.saturating_add(self.cooldown_ns);
        if !cooled && band(conf) <= p.last_band {
            return;
        }
        p.last_emit_ns = ts.max(1);
        p.last_band = band(conf);
        let pair = *p;
        let technique = if flagged {
            "T1041"
        } else if matches!(f.app, "http" | "tls") || matches!(f.server_port, 80 | 443 | 8080 | 8443) {
            "T1567"
        } else {
            "T1048"
        };
        let mut name = [0u8; NAME_KEEP];
        let host_name = cx.name_of(&f.server, &mut name).map(|n| String::from_utf8_lossy(&name[..n]).into_owned());
        let shown = host_name.as_ref().map_or_else(String::new, |n| format!(" ({n})"));
        let usual_txt = if learned {
            format!("; its usual egress is {} per {:.0} s", mb(host.ewma_egress), cfg.window_s)
        } else {
            String::new()
        };
        let reason = format!(
            "{} sent {} to {}{shown}:{} in {} flow(s) within {:.0} s, a destination first seen {:.0} s ago{usual_txt}",
            f.client,
            mb(egress as f64),
            f.server,
            f.server_port,
            pair.flows,
            cfg.window_s,
            ns_secs(age_ns),
        );
        let (measure, threshold) = if absolute {
            ("egress_bytes_to_new_destination", cfg.exfil_bytes as f64)
        } else {
            ("egress_vs_baseline", cfg.baseline_factor * usual)
        };
        out.emit(Finding::new(
            Self::NAME,
            "exfiltration",
            ts,
            conf,
            if conf >= 0.7 { Severity::High } else { Severity::Medium },
            technique,
            Entities {
                src: Some(f.client),
                dst: Some(f.server),
                port: Some(f.server_port),
                host: host_name,
                ..Entities::default()
            },
            Evidence {
                flow_ids: pair.sample[..(pair.sampled as usize).min(SAMPLE)].to_vec(),
                observed: egress as f64,
                threshold,
                measure,
                window_s: cfg.window_s,
                count: u64::from(pair.flows),
            },
            reason,
        ));
    }
}

/// Learned state as saved.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    /// (host, smoothed egress, smoothed ingress, windows).
    hosts: Vec<(IpAddr, f64, f64, u64)>,
    /// (host, destination, first seen ns).
    pairs: Vec<(IpAddr, IpAddr, u64)>,
}

impl Agent for Volume {
    const NAME: &'static str = "volume";
    const INTEREST: u16 = kind::FLOW_END;
    type Config = VolumeConfig;

    fn new(cfg: &Self::Config) -> Self {
        Self {
            cfg: cfg.clone(),
            window_ns: secs_ns(cfg.window_s).max(1),
            novelty_ns: secs_ns(cfg.novelty_s),
            cooldown_ns: secs_ns(cfg.cooldown_s),
            hosts: BoundedTable::new(cfg.max_hosts.max(1)),
            pairs: BoundedTable::new(cfg.max_pairs.max(1)),
            next_sweep_ns: 0,
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

    /// Once per window, closes the windows of hosts that went quiet and publishes their
    /// baselines.
    fn on_tick(&mut self, now_ns: u64, cx: &Context, _out: &mut Emitter<'_>) {
        if now_ns < self.next_sweep_ns {
            return;
        }
        self.next_sweep_ns = now_ns.saturating_add(self.window_ns);
        let (window_ns, alpha) = (self.window_ns, self.cfg.baseline_alpha);
        for (addr, h) in self.hosts.iter_mut() {
            Self::close(h, addr, now_ns, window_ns, alpha, cx);
        }
    }

    fn save(&self) -> Option<serde_json::Value> {
        let hosts = self
            .hosts
            .iter()
            .filter(|(_, h)| h.windows > 0 && h.ewma_egress.is_finite() && h.ewma_ingress.is_finite())
            .map(|(a, h)| (*a, h.ewma_egress, h.ewma_ingress, h.windows))
            .collect();
        let pairs = self.pairs.iter().map(|((h, d), p)| (*h, *d, p.first_seen_ns)).collect();
        serde_json::to_value(Saved { hosts, pairs }).ok()
    }

    fn load(&mut self, state: &serde_json::Value) {
        let Ok(saved) = serde_json::from_value::<Saved>(state.clone()) else { return };
        for (addr, e, i, w) in saved.hosts {
            if !(e.is_finite() && i.is_finite() && e >= 0.0 && i >= 0.0) {
                continue;
            }
            let (h, _) = self.hosts.get_or_insert_with(addr_key(&addr), addr, 0, Host::default);
            let (w0, w1) = (h.windows as f64, w as f64);
            if w0 + w1 > 0.0 {
                h.ewma_egress = (h.ewma_egress * w0 + e * w1) / (w0 + w1);
                h.ewma_ingress = (h.ewma_ingress * w0 + i * w1) / (w0 + w1);
            }
            h.windows = h.windows.max(w);
        }
        for (host, dst, first) in saved.pairs {
            let first = first.max(1);
            let (p, _) = self.pairs.get_or_insert_with(pair_key(&host, &dst), (host, dst), 0, || Pair {
                first_seen_ns: first,
                ..Pair::default()
            });
            p.first_seen_ns = p.first_seen_ns.min(first);
        }
    }
}

/// `n` flow ends of ordinary office traffic: 50 hosts uploading a few kilobytes and
/// downloading up to a few megabytes from 40 known servers, one flow every 100 ms.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    (0..n)
        .map(|i| {
            let i64 = i as u64;
            let client = IpAddr::from([10, 2, 0, (i % 50) as u8 + 1]);
            let server = IpAddr::from([198, 18, (i % 40) as u8, 10]);
            let start = 1_000_000_000 + i64 * 100_000_000;
            Event::FlowEnd(FlowSummary {
                ts_ns: start + 3_000_000_000,
                flow_id: i64,
                client,
                server,
                client_port: 40_000 + (i % 20_000) as u16,
                server_port: 443,
                proto: 6,
                start_ns: start,
                pkts_to_server: 20,
                pkts_to_client: 40,
                bytes_to_server: 2_000 + (i64 * 7919) % 20_000,
                bytes_to_client: 10_000 + (i64 * 104_729) % 3_000_000,
                flags_to_server: 0x1b,
                flags_to_client: 0x1b,
                established: true,
                app: "tls",
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{
        finding::FindingQueue,
        testkit::{S, ip},
    };

    fn up(id: u64, host: IpAddr, dst: IpAddr, start: u64, end: u64, sent: u64) -> Event {
        Event::FlowEnd(FlowSummary {
            ts_ns: end,
            flow_id: id,
            client: host,
            server: dst,
            client_port: 50_000,
            server_port: 443,
            proto: 6,
            start_ns: start,
            pkts_to_server: sent / 1400 + 1,
            pkts_to_client: sent / 2800 + 1,
            bytes_to_server: sent,
            bytes_to_client: 5_000,
            flags_to_server: 0x1b,
            flags_to_client: 0x1b,
            established: true,
            app: "tls",
        })
    }

    fn run_cx(agent: &mut Volume, cx: &Context, events: &[Event]) -> Vec<Finding> {
        let (q, rx) = FindingQueue::bounded(4096);
        let mut out = Emitter::new(&q, cx);
        for e in events {
            agent.on_event(e, cx, &mut out);
            agent.on_tick(e.ts_ns(), cx, &mut out);
        }
        rx.try_iter().collect()
    }

    fn run(agent: &mut Volume, events: &[Event]) -> Vec<Finding> {
        run_cx(agent, &Context::default(), events)
    }

    #[test]
    fn a_150_mb_upload_to_a_new_destination_is_exfiltration() {
        let (h, d) = (ip("10.0.0.5"), ip("203.0.113.9"));
        let got = run(&mut Volume::new(&VolumeConfig::default()), &[up(1, h, d, 100 * S, 160 * S, 150_000_000)]);
        assert_eq!(got.len(), 1);
        let f = &got[0];
        assert_eq!((f.kind, f.entities.src, f.entities.dst, f.technique), ("exfiltration", Some(h), Some(d), "T1567"));
        assert!((0.45..0.7).contains(&f.confidence), "{}", f.confidence);
        assert!(f.reason.contains("150.0 MB"), "{}", f.reason);
    }

    #[test]
    fn the_same_upload_to_a_destination_known_for_days_is_quiet() {
        let (h, d) = (ip("10.0.0.5"), ip("198.18.0.10"));
        let mut a = Volume::new(&VolumeConfig::default());
        let day = 86_400 * S;
        let ev = [up(1, h, d, S, 2 * S, 10_000), up(2, h, d, 2 * day, 2 * day + 60 * S, 400_000_000)];
        assert!(run(&mut a, &ev).is_empty());
    }

    #[test]
    fn ten_times_the_usual_egress_to_a_new_destination_is_reported_once_learned() {
        let h = ip("10.0.0.7");
        let cx = Context::default();
        let mut a = Volume::new(&VolumeConfig::default());
        // 20 windows of 1 MB a window to a known server.
        let known = ip("198.18.0.10");
        let ev: Vec<Event> = (0..200u64).map(|i| up(i, h, known, i * 30 * S, i * 30 * S + S, 100_000)).collect();
        assert!(run_cx(&mut a, &cx, &ev).is_empty());
        let b = a.baseline(&h).expect("learned");
        assert!(b.windows >= 12 && (200_000.0..2_000_000.0).contains(&b.egress), "{b:?}");
        assert_eq!(cx.baseline(&h).map(|p| p.windows), Some(b.windows), "published to the context");
        // 30 MB to somewhere new: under 100 MB, but 30x usual.
        let got = run_cx(&mut a, &cx, &[up(999, h, ip("45.9.74.78"), 6001 * S, 6050 * S, 30_000_000)]);
        let f = got.first().expect("finding");
        assert_eq!(f.evidence.measure, "egress_vs_baseline");
        // 15 MB is under the floor.
        let mut b2 = Volume::new(&VolumeConfig::default());
        let _ = run_cx(&mut b2, &Context::default(), &ev);
        assert!(
            run_cx(&mut b2, &Context::default(), &[up(999, h, ip("45.9.74.78"), 6001 * S, 6050 * S, 15_000_000)])
                .is_empty()
        );
    }

    #[test]
    fn a_destination_flagged_by_another_agent_makes_it_exfiltration_over_c2() {
        let (h, d) = (ip("10.0.0.5"), ip("203.0.113.9"));
        let cx = Context::default();
        cx.record_finding(&d, 0.8, S);
        let got = run_cx(&mut Volume::new(&VolumeConfig::default()), &cx, &[up(1, h, d, S, 60 * S, 120_000_000)]);
        let f = got.first().expect("finding");
        assert_eq!(f.technique, "T1041");
        assert!(f.confidence >= 0.6);
    }

    #[test]
    fn baselines_and_known_destinations_survive_save_and_load() {
        let (h, d) = (ip("10.0.0.5"), ip("198.18.0.10"));
        let mut a = Volume::new(&VolumeConfig::default());
        let ev: Vec<Event> = (0..100u64).map(|i| up(i, h, d, i * 30 * S, i * 30 * S + S, 100_000)).collect();
        let _ = run(&mut a, &ev);
        let saved = a.save().expect("state");
        let mut b = Volume::new(&VolumeConfig::default());
        b.load(&saved);
        b.load(&saved);
        let (x, y) = (a.baseline(&h).expect("a"), b.baseline(&h).expect("b"));
        assert!((x.egress - y.egress).abs() < 1e-6 && x.windows == y.windows);
        // The destination is known two days later, so a big upload to it stays quiet.
        let later = 2 * 86_400 * S;
        assert!(run(&mut b, &[up(500, h, d, later, later + S, 300_000_000)]).is_empty());
        b.load(&serde_json::json!({"hosts": [["not an ip", 1.0, 1.0, 1]]}));
    }

    #[test]
    fn backwards_time_and_hostile_counters_do_not_panic() {
        let h = ip("10.0.0.5");
        let mut a = Volume::new(&VolumeConfig::default());
        let mut ev = Vec::new();
        for i in 0..100u64 {
            let t = if i % 2 == 0 { u64::MAX - i * S } else { i };
            ev.push(up(i, h, ip("10.9.9.9"), t, t / 3, if i % 3 == 0 { u64::MAX } else { 0 }));
        }
        let got = run(&mut a, &ev);
        assert!(got.len() <= 2, "{}", got.len());
        assert!(got.iter().all(|f| f.confidence.is_finite()));
    }

    #[test]
    fn the_tables_stay_bounded_under_1e5_destinations() {
        let mut a = Volume::new(&VolumeConfig { max_hosts: 256, max_pairs: 1024, ..VolumeConfig::default() });
        let cx = Context::default();
        let (q, _rx) = FindingQueue::bounded(16);
        let mut out = Emitter::new(&q, &cx);
        for i in 0..100_000u32 {
            let h = IpAddr::from(std::net::Ipv4Addr::from(0x0a00_0000 + i % 5000));
            let d = IpAddr::from(std::net::Ipv4Addr::from(0x2000_0000 + i));
            a.on_event(&up(u64::from(i), h, d, u64::from(i) * S, u64::from(i) * S + 1, 1000), &cx, &mut out);
            let (hosts, pairs) = a.tracked();
            assert!(hosts <= 256 && pairs <= 1024);
        }
    }

    #[test]
    fn entry_sizes_match_the_documented_memory() {
        eprintln!("Pair {} bytes", std::mem::size_of::<Pair>());
        assert!(std::mem::size_of::<Pair>() <= 120);
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 20_000;
        let ev = steady_events(2 * n);
        let mut a = Volume::new(&VolumeConfig::default());
        let cx = Context::default();
        let _ = run_cx(&mut a, &cx, &ev[..n]);
        assert!(run_cx(&mut a, &cx, &ev[n..]).is_empty());
    }
}
