//! Password guessing, from two sources.
//!
//! **Auth logs** ([`crate::logs`]): failed logins are counted per source address (per user
//! when the line names no address, as for `su`) over a sliding window (default 60 s, two
//! buckets). `min_failures` (5) in the window give a `brute_force` finding (T1110.001, or
//! T1110.003 password spraying when most failures are for different users); confidence
//! starts at 0.45 (five typos are possible) and grows with the count (to +0.3 at four times
//! the threshold) and the number of distinct users tried (to +0.2 at five users). Findings
//! are repeated only when the count doubles, or after `cooldown_s`. A successful login from
//! a source with at least `min_failures` failures in the last `success_lookback_s` (600 s)
//! is `brute_force_success` (high/critical severity, confidence 0.7 to 0.95): the guess
//! may have worked.
//!
//! **Flows**: a password-guessing tool opens one short session per few attempts. Finished
//! TCP flows (`FlowEnd`) to the watched ports (default 21 ftp, 22 ssh, 23 telnet, 445 smb,
//! 3389 rdp, 5900 vnc) that lasted at most `short_session_s` (20 s), carried at most
//! `short_session_bytes` (32 KiB both ways) and saw at least `min_session_packets` (3)
//! packets each way (a real exchange: a bare SYN/RST is a scan, not a login) are counted
//! per client, server and port over a sliding `flow_window_s` (120 s). Established or not
//! (a capture that started mid-session still counts). `min_short_sessions` (8) give a
//! `brute_force` finding (T1110) at 0.55, up to 0.8 with the count, +0.1 when the sessions
//! are near-identical in size (within 25%: a script, not a person).
//!
//! Both tables are bounded (`max_sources`, `max_services`), allocated in `new()`, expired
//! on tick and evicting (counted) when full; the agent is sharded by source address, so the
//! log and flow views of one attacker meet in one instance.

use std::net::IpAddr;

use foldhash::{HashMap, HashMapExt};

use super::{
    agent::{Agent, Emitter, ns_secs, secs_ns},
    context::Context,
    event::{AuthEvent, AuthOutcome, Event, FlowSummary, addr_key, bytes_key, int_key, ip_proto, kind},
    finding::{Entities, Evidence, Finding, Severity},
};

/// Registry name.
pub const NAME: &str = "brute_force";

/// Settings of the `brute_force` agent.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BruteForceConfig {
    /// Window over which failed logins per source are counted, seconds (60).
    pub window_s: f64,
    /// Failed logins in the window that make a finding (5).
    pub min_failures: u32,
    /// A success this soon after `min_failures` failures is reported, seconds (600).
    pub success_lookback_s: f64,
    /// TCP ports of login services whose short sessions are counted ([21, 22, 23, 445, 3389, 5900]).
    pub ports: Vec<u16>,
    /// Window over which short sessions per client and service are counted, seconds (120).
    pub flow_window_s: f64,
    /// Short sessions to one service in the window that make a finding (8).
    pub min_short_sessions: u32,
    /// Longest session that counts as short, seconds (20).
    pub short_session_s: f64,
    /// Most bytes (both directions, on the wire) of a short session (32768).
    pub short_session_bytes: u64,
    /// Fewest packets each way for a session to count (3).
    pub min_session_packets: u64,
    /// Hold-off before a finding about the same source is repeated at the same level, seconds (300).
    pub cooldown_s: f64,
    /// Sources tracked at most for auth failures (16384).
    pub max_sources: usize,
    /// Client/service pairs tracked at most for short sessions (8192).
    pub max_services: usize,
}

impl Default for BruteForceConfig {
    fn default() -> Self {
        Self {
            window_s: 60.0,
            min_failures: 5,
            success_lookback_s: 600.0,
            ports: vec![21, 22, 23, 445, 3389, 5900],
            flow_window_s: 120.0,
            min_short_sessions: 8,
            short_session_s: 20.0,
            short_session_bytes: 32_768,
            min_session_packets: 3,
            cooldown_s: 300.0,
            max_sources: 16_384,
            max_services: 8_192,
        }
    }
}

/// A count over a sliding window made of two buckets (the previous bucket is weighted by
/// how much of it still overlaps the window).
#[derive(Clone, Copy, Debug, Default)]
struct Sliding {
    start_ns: u64,
    cur: u32,
    prev: u32,
}

impl Sliding {
    fn new(ts: u64) -> Self {
        Self { start_ns: ts, cur: 0, prev: 0 }
    }

    /// Moves the buckets to `ts` (times before the current bucket count in it).
    fn advance(&mut self, ts: u64, w: u64) {
        let age = ts.saturating_sub(self.start_ns);
        if age < w {
            return;
        }
        if age < 2 * w {
            self.prev = self.cur;
            self.start_ns = self.start_ns.saturating_add(w);
        } else {
            self.prev = 0;
            self.start_ns = ts;
        }
        self.cur = 0;
    }

    fn add(&mut self, ts: u64, w: u64) {
        self.advance(ts, w);
        self.cur = self.cur.saturating_add(1);
    }

    fn estimate(&self, ts: u64, w: u64) -> f64 {
        let into = ts.saturating_sub(self.start_ns).min(w) as f64 / w.max(1) as f64;
        f64::from(self.cur) + f64::from(self.prev) * (1.0 - into)
    }
}

/// A 128-bit linear-counting sketch (distinct users; exact or off by one up to ~10).
#[derive(Clone, Copy, Debug, Default)]
struct Users([u64; 2]);

impl Users {
    fn bit(h: u64) -> (usize, u64) {
        let b = (int_key(h) % 128) as usize;
        (b / 64, 1 << (b % 64))
    }
    fn insert(&mut self, h: u64) {
        let (w, b) = Self::bit(h);
        self.0[w] |= b;
    }
    fn contains(&self, h: u64) -> bool {
        let (w, b) = Self::bit(h);
        self.0[w] & b != 0
    }
    fn estimate(&self) -> f64 {
        let zeros = self.0[0].count_zeros() + self.0[1].count_zeros();
        128.0 * (128.0 / f64::from(zeros.max(1))).ln()
    }
}

/// Bytes of a user name kept for findings.
const USER_KEEP: usize = 32;

/// Failed logins from one source.
#[derive(Clone, Copy, Debug)]
struct AuthEntry {
    source: Option<IpAddr>,
    user_key: u64,
    window: Sliding,
    /// Failures since the episode began (reset after `success_lookback_s` without one).
    episode: u32,
    first_ns: u64,
    last_fail_ns: u64,
    users: Users,
    user_len: u8,
    user: [u8; USER_KEEP],
    service: &'static str,
    level: u32,
    report_ns: u64,
    success_reported: bool,
}

impl AuthEntry {
    fn new(source: Option<IpAddr>, user_key: u64, ts: u64) -> Self {
        Self {
            source,
            user_key,
            window: Sliding::new(ts),
            episode: 0,
            first_ns: ts,
            last_fail_ns: ts,
            users: Users::default(),
            user_len: 0,
            user: [0; USER_KEEP],
            service: "",
            level: 0,
            report_ns: 0,
            success_reported: false,
        }
    }

    fn set_user(&mut self, u: &[u8]) {
        let n = u.len().min(USER_KEEP);
        self.user[..n].copy_from_slice(&u[..n]);
        self.user_len = n as u8;
    }

    fn user(&self) -> String {
        self.user[..usize::from(self.user_len)].escape_ascii().to_string()
    }
}

/// Flow ids kept per service entry.
const FLOWS: usize = 4;

/// Short sessions from one client to one service.
#[derive(Clone, Copy, Debug)]
struct SvcEntry {
    client: IpAddr,
    server: IpAddr,
    port: u16,
    window: Sliding,
    episode: u32,
    first_ns: u64,
    last_ns: u64,
    min_bytes: u64,
    max_bytes: u64,
    max_dur_ns: u64,
    flows: [u64; FLOWS],
    nflows: u8,
    level: u32,
    report_ns: u64,
}

/// Counters of the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BruteForceStats {
    /// Failed logins seen.
    pub failures: u64,
    /// Successful logins seen.
    pub successes: u64,
    /// Short sessions to watched services.
    pub short_sessions: u64,
    /// Source entries evicted because the table was full.
    pub evicted_sources: u64,
    /// Service entries evicted because the table was full.
    pub evicted_services: u64,
    /// Events ignored because they were older than their window (time went backwards).
    pub backwards: u64,
}

/// The `brute_force` agent.
#[derive(Debug)]
pub struct BruteForce {
    cfg: BruteForceConfig,
    window_ns: u64,
    lookback_ns: u64,
    flow_window_ns: u64,
    short_ns: u64,
    cooldown_ns: u64,
    sources: HashMap<u64, AuthEntry>,
    services: HashMap<u64, SvcEntry>,
    stats: BruteForceStats,
}

fn ramp(x: f64, from: f64, to: f64) -> f64 {
    if to <= from { 1.0 } else { ((x - from) / (to - from)).clamp(0.0, 1.0) }
}

/// Level of a count: 1 at the threshold, +1 each time it doubles.
fn level(n: f64, min: f64) -> u32 {
    if n < min || min <= 0.0 { 0 } else { 1 + (n / min).log2().floor().max(0.0) as u32 }
}

/// Removes one entry to make room (a stale one when found among the first few).
fn evict<V>(map: &mut HashMap<u64, V>, stale: impl Fn(&V) -> bool) {
    let victim = map.iter().take(8).find(|(_, v)| stale(v)).or_else(|| map.iter().next()).map(|(k, _)| *k);
    if let Some(k) = victim {
        map.remove(&k);
    }
}

fn auth_key(a: &AuthEvent) -> u64 {
    match &a.source {
        Some(s) => addr_key(s),
        None => bytes_key(a.user.as_bytes()) ^ 0x5a5a_5a5a,
    }
}

impl BruteForce {
    /// The agent's counters.
    pub fn stats(&self) -> BruteForceStats {
        self.stats
    }

    /// Entries held (sources, client/service pairs).
    pub fn entries(&self) -> (usize, usize) {
        (self.sources.len(), self.services.len())
    }

    fn on_auth(&mut self, a: &AuthEvent, out: &mut Emitter<'_>) {
        let key = auth_key(a);
        let ukey = bytes_key(a.user.as_bytes());
        let ts = a.ts_ns;
        match a.outcome {
            AuthOutcome::Success => {
                self.stats.successes += 1;
                self.on_success(key, ukey, a, out);
            }
            AuthOutcome::Failure => {
                self.stats.failures += 1;
                let lookback = self.lookback_ns;
                if !self.sources.contains_key(&key) && self.sources.len() >= self.cfg.max_sources {
                    evict(&mut self.sources, |e| ts.saturating_sub(e.last_fail_ns) > lookback);
                    self.stats.evicted_sources += 1;
                }
                let nkey = if a.source.is_none() { ukey } else { 0 };
                let e = self.sources.entry(key).or_insert_with(|| AuthEntry::new(a.source, nkey, ts));
                if e.source != a.source || e.user_key != nkey {
                    *e = AuthEntry::new(a.source, nkey, ts);
                }
                if ts.saturating_sub(e.last_fail_ns) > lookback {
                    // A new episode.
                    *e = AuthEntry::new(a.source, nkey, ts);
                }
                if ts.saturating_add(self.window_ns) < e.window.start_ns {
                    // Older than the window: the clock went backwards; ignore it.
                    self.stats.backwards += 1;
                    return;
                }
                e.window.add(ts, self.window_ns);
                e.episode = e.episode.saturating_add(1);
                e.last_fail_ns = e.last_fail_ns.max(ts);
                e.users.insert(ukey);
                e.set_user(a.user.as_bytes());
                e.service = a.service;
                let n = e.window.estimate(ts, self.window_ns);
                let min = f64::from(self.cfg.min_failures.max(1));
                let lv = level(n, min);
                if lv == 0 || (lv <= e.level && ts < e.report_ns.saturating_add(self.cooldown_ns)) {
                    return;
                }
                e.level = e.level.max(lv);
                e.report_ns = ts;
                let users = e.users.estimate().round();
                let conf = (0.45 + 0.3 * ramp(n, min, 4.0 * min) + 0.2 * ramp(users, 1.0, 5.0)) as f32;
                let spraying = users >= 5.0 && users * 2.0 >= n;
                let who = who(e.source);
                let service = if e.service.is_empty() { "auth" } else { e.service };
                let reason = format!(
                    "{who} failed {} logins to {service} in {:.0} s ({} in the window), trying {} user{} (last: {})",
                    e.episode,
                    ns_secs(ts.saturating_sub(e.first_ns)),
                    n.round(),
                    users,
                    if users == 1.0 { "" } else { "s" },
                    e.user()
                );
                out.emit(Finding::new(
                    NAME,
                    "brute_force",
                    ts,
                    conf,
                    if conf >= 0.7 { Severity::High } else { Severity::Medium },
                    if spraying { "T1110.003" } else { "T1110.001" },
                    Entities { src: e.source, user: Some(e.user()), ..Entities::default() },
                    Evidence {
                        flow_ids: Vec::new(),
                        observed: n,
                        threshold: min,
                        measure: "failed_logins",
                        window_s: ns_secs(self.window_ns),
                        count: u64::from(e.episode),
                    },
                    reason,
                ));
            }
        }
    }

    fn on_success(&mut self, key: u64, ukey: u64, a: &AuthEvent, out: &mut Emitter<'_>) {
        let ts = a.ts_ns;
        let Some(e) = self.sources.get_mut(&key) else { return };
        let min = self.cfg.min_failures.max(1);
        if e.source != a.source
            || e.success_reported
            || e.episode < min
            || ts.saturating_sub(e.last_fail_ns) > self.lookback_ns
        {
            return;
        }
        e.success_reported = true;
        let tried = e.users.contains(ukey);
        let conf = (0.7
            + 0.2 * ramp(f64::from(e.episode), f64::from(min), 4.0 * f64::from(min))
            + if tried { 0.05 } else { 0.0 }) as f32;
        let user = a.user.as_bytes().escape_ascii().to_string();
        let who = who(e.source);
        let service = if a.service.is_empty() { "auth" } else { a.service };
        let reason = format!(
            "{who} logged in to {service} as {user} after {} failed logins in {:.0} s{}",
            e.episode,
            ns_secs(ts.saturating_sub(e.first_ns)),
            if tried { ", a user it had been guessing" } else { "" }
        );
        out.emit(Finding::new(
            NAME,
            "brute_force_success",
            ts,
            conf,
            if conf >= 0.8 { Severity::Critical } else { Severity::High },
            "T1110.001",
            Entities { src: e.source, user: Some(user), ..Entities::default() },
            Evidence {
                flow_ids: Vec::new(),
                observed: f64::from(e.episode),
                threshold: f64::from(min),
                measure: "failures_before_success",
                window_s: ns_secs(self.lookback_ns),
                count: u64::from(e.episode),
            },
            reason,
        ));
    }

    fn on_flow(&mut self, f: &FlowSummary, out: &mut Emitter<'_>) {
        if f.proto != ip_proto::TCP || !self.cfg.ports.contains(&f.server_port) {
            return;
        }
        let dur = f.ts_ns.saturating_sub(f.start_ns);
        let bytes = f.bytes_to_server.saturating_add(f.bytes_to_client);
        let min_p = self.cfg.min_session_packets;
        if dur > self.short_ns
            || bytes > self.cfg.short_session_bytes
            || f.pkts_to_server < min_p
            || f.pkts_to_client < min_p
        {
            return;
        }
        self.stats.short_sessions += 1;
        let key = int_key(addr_key(&f.client) ^ addr_key(&f.server).rotate_left(21) ^ u64::from(f.server_port));
        let ts = f.ts_ns;
        let w = self.flow_window_ns;
        if !self.services.contains_key(&key) && self.services.len() >= self.cfg.max_services {
            evict(&mut self.services, |e| ts.saturating_sub(e.last_ns) > 2 * w);
            self.stats.evicted_services += 1;
        }
        let fresh = SvcEntry {
            client: f.client,
            server: f.server,
            port: f.server_port,
            window: Sliding::new(ts),
            episode: 0,
            first_ns: f.start_ns.min(ts),
            last_ns: ts,
            min_bytes: u64::MAX,
            max_bytes: 0,
            max_dur_ns: 0,
            flows: [0; FLOWS],
            nflows: 0,
            level: 0,
            report_ns: 0,
        };
        let e = self.services.entry(key).or_insert(fresh);
        if e.client != f.client
            || e.server != f.server
            || e.port != f.server_port
            || ts.saturating_sub(e.last_ns) > 2 * w
        {
            *e = fresh;
        }
        if ts.saturating_add(w) < e.window.start_ns {
            self.stats.backwards += 1;
            return;
        }
        e.window.add(ts, w);
        e.episode = e.episode.saturating_add(1);
        e.last_ns = e.last_ns.max(ts);
        e.first_ns = e.first_ns.min(f.start_ns);
        e.min_bytes = e.min_bytes.min(f.bytes_to_server);
        e.max_bytes = e.max_bytes.max(f.bytes_to_server);
        e.max_dur_ns = e.max_dur_ns.max(dur);
        let slot = usize::from(e.nflows) % FLOWS;
        e.flows[slot] = f.flow_id;
        e.nflows = e.nflows.wrapping_add(1);
        let n = e.window.estimate(ts, w);
        let min = f64::from(self.cfg.min_short_sessions.max(1));
        let lv = level(n, min);
        if lv == 0 || (lv <= e.level && ts < e.report_ns.saturating_add(self.cooldown_ns)) {
            return;
        }
        e.level = e.level.max(lv);
        e.report_ns = ts;
        let uniform = e.min_bytes > 0 && e.max_bytes.saturating_mul(4) <= e.min_bytes.saturating_mul(5);
        let conf = (0.55 + 0.25 * ramp(n, min, 4.0 * min) + if uniform { 0.1 } else { 0.0 }) as f32;
        let reason = format!(
            "{} opened {} short sessions to {}:{} ({}) in {:.0} s ({} in the last {:.0} s), each under {:.1} s{}",
            e.client,
            e.episode,
            e.server,
            e.port,
            service_name(e.port),
            ns_secs(ts.saturating_sub(e.first_ns)),
            n.round(),
            ns_secs(w),
            ns_secs(e.max_dur_ns),
            if uniform {
                format!(", all of about the same size ({}-{} bytes sent)", e.min_bytes, e.max_bytes)
            } else {
                String::new()
            }
        );
        out.emit(Finding::new(
            NAME,
            "brute_force",
            ts,
            conf,
            if conf >= 0.7 { Severity::High } else { Severity::Medium },
            "T1110",
            Entities { src: Some(e.client), dst: Some(e.server), port: Some(e.port), ..Entities::default() },
            Evidence {
                flow_ids: e.flows[..usize::from(e.nflows).min(FLOWS)].to_vec(),
                observed: n,
                threshold: min,
                measure: "short_sessions",
                window_s: ns_secs(w),
                count: u64::from(e.episode),
            },
            reason,
        ));
    }
}

fn service_name(port: u16) -> &'static str {
    match port {
        21 => "ftp",
        22 => "ssh",
        23 => "telnet",
        445 => "smb",
        3389 => "rdp",
        5900 => "vnc",
        _ => "login service",
    }
}

/// The source of a finding, for its sentence.
fn who(source: Option<IpAddr>) -> String {
    source.map_or_else(|| "an unknown source".to_owned(), |s| s.to_string())
}

impl Agent for BruteForce {
    const NAME: &'static str = NAME;
    const INTEREST: u16 = kind::AUTH | kind::FLOW_END;
    type Config = BruteForceConfig;

    fn new(cfg: &Self::Config) -> Self {
        let mut cfg = cfg.clone();
        cfg.max_sources = cfg.max_sources.max(1);
        cfg.max_services = cfg.max_services.max(1);
        Self {
            window_ns: secs_ns(cfg.window_s).max(1),
            lookback_ns: secs_ns(cfg.success_lookback_s).max(1),
            flow_window_ns: secs_ns(cfg.flow_window_s).max(1),
            short_ns: secs_ns(cfg.short_session_s),
            cooldown_ns: secs_ns(cfg.cooldown_s),
            // Twice the cap: the table never rehashes into a new allocation below it.
            sources: HashMap::with_capacity(cfg.max_sources.saturating_mul(2)),
            services: HashMap::with_capacity(cfg.max_services.saturating_mul(2)),
            stats: BruteForceStats::default(),
            cfg,
        }
    }

    fn shard_key(ev: &Event) -> u64 {
        match ev {
            Event::Auth(a) => auth_key(a),
            Event::FlowEnd(f) => addr_key(&f.client),
            _ => 0,
        }
    }

    fn on_event(&mut self, ev: &Event, _cx: &Context, out: &mut Emitter<'_>) {
        match ev {
            Event::Auth(a) => self.on_auth(a, out),
            Event::FlowEnd(f) => self.on_flow(f, out),
            _ => {}
        }
    }

    fn on_tick(&mut self, now_ns: u64, _cx: &Context, _out: &mut Emitter<'_>) {
        let (lookback, w, hold) = (self.lookback_ns, self.flow_window_ns, self.cooldown_ns);
        self.sources.retain(|_, e| now_ns.saturating_sub(e.last_fail_ns) <= lookback);
        self.services.retain(|_, e| now_ns.saturating_sub(e.last_ns) <= (2 * w).max(hold));
    }
}

/// A realistic steady stream of `n` events this agent wants: key-based logins from many
/// hosts, an occasional mistyped password from scattered sources, long interactive SSH
/// sessions and a few short ones (scp, git) per client.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    use super::event::Text;
    let server = IpAddr::from([10, 0, 0, 22]);
    (0..n)
        .map(|i| {
            let ts = 1_000_000_000_000 + i as u64 * 50_000_000;
            let k = i / 4;
            match i % 4 {
                0 | 2 => Event::Auth(AuthEvent {
                    ts_ns: ts,
                    outcome: if i % 4 == 0 { AuthOutcome::Success } else { AuthOutcome::Failure },
                    source: Some(IpAddr::from([10, 1, (k % 250) as u8, (k % 241) as u8 + 1])),
                    user: Text::new(if i % 8 == 0 { b"deploy" } else { b"alice" }),
                    service: "sshd",
                }),
                r => {
                    let long = r == 1;
                    let client = IpAddr::from([10, 2, (k % 300 / 250) as u8, (k % 250) as u8 + 1]);
                    let dur = if long { 1_800_000_000_000 } else { 2_000_000_000 };
                    Event::FlowEnd(FlowSummary {
                        ts_ns: ts,
                        flow_id: i as u64,
                        client,
                        server,
                        client_port: 40_000 + (i % 20_000) as u16,
                        server_port: 22,
                        proto: ip_proto::TCP,
                        start_ns: ts.saturating_sub(dur),
                        pkts_to_server: if long { 9_000 } else { 25 },
                        pkts_to_client: if long { 12_000 } else { 20 },
                        bytes_to_server: if long { 900_000 } else { 5_000 + (i % 7) as u64 * 1_500 },
                        bytes_to_client: if long { 4_000_000 } else { 6_000 },
                        flags_to_server: 0x1b,
                        flags_to_client: 0x1b,
                        established: true,
                        app: "ssh",
                    })
                }
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{event::Text, finding::FindingQueue};

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("addr")
    }

    fn auth(ts_s: f64, src: Option<&str>, user: &str, ok: bool) -> Event {
        Event::Auth(AuthEvent {
            ts_ns: (ts_s * 1e9) as u64,
            outcome: if ok { AuthOutcome::Success } else { AuthOutcome::Failure },
            source: src.map(addr),
            user: Text::new(user.as_bytes()),
            service: "sshd",
        })
    }

    /// A finished TCP session of `dur_s` from `client` to `server:port`, ending at `end_s`.
    fn session(end_s: f64, dur_s: f64, client: &str, server: &str, port: u16, bytes: u64, id: u64) -> Event {
        let ts = (end_s * 1e9) as u64;
        Event::FlowEnd(FlowSummary {
            ts_ns: ts,
            flow_id: id,
            client: addr(client),
            server: addr(server),
            client_port: 50_000u16.wrapping_add(id as u16),
            server_port: port,
            proto: ip_proto::TCP,
            start_ns: ts.saturating_sub((dur_s * 1e9) as u64),
            pkts_to_server: 22,
            pkts_to_client: 15,
            bytes_to_server: bytes,
            bytes_to_client: bytes * 4 / 5,
            flags_to_server: 0x1b,
            flags_to_client: 0x1b,
            established: true,
            app: "",
        })
    }

    fn run(agent: &mut BruteForce, evs: &[Event]) -> Vec<Finding> {
        let cx = Context::default();
        let (queue, rx) = FindingQueue::bounded(4096);
        let mut out = Emitter::new(&queue, &cx);
        for (i, ev) in evs.iter().enumerate() {
            agent.on_event(ev, &cx, &mut out);
            if i % 50 == 0 {
                agent.on_tick(ev.ts_ns(), &cx, &mut out);
            }
        }
        rx.try_iter().collect()
    }

    fn agent() -> BruteForce {
        BruteForce::new(&BruteForceConfig::default())
    }

    #[test]
    fn five_failures_in_a_minute_are_reported_with_the_source_and_weak_confidence() {
        let mut a = agent();
        let evs: Vec<Event> = (0..5).map(|i| auth(f64::from(i) * 5.0, Some("203.0.113.5"), "root", false)).collect();
        let f = run(&mut a, &evs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, "brute_force");
        assert_eq!(f[0].technique, "T1110.001");
        assert_eq!(f[0].entities.src, Some(addr("203.0.113.5")));
        assert_eq!(f[0].entities.user.as_deref(), Some("root"));
        assert!(f[0].confidence < 0.5, "{:?}", f[0]);
    }

    #[test]
    fn four_failures_and_slow_failures_are_quiet() {
        let mut a = agent();
        let mut evs: Vec<Event> = (0..4).map(|i| auth(f64::from(i), Some("203.0.113.5"), "root", false)).collect();
        // One failure every 20 s: at most three in any minute.
        evs.extend((0..30).map(|i| auth(1000.0 + f64::from(i) * 20.0, Some("203.0.113.6"), "bob", false)));
        assert!(run(&mut a, &evs).is_empty());
    }

    #[test]
    fn confidence_grows_with_failures_and_distinct_users() {
        let mut a = agent();
        let users = ["root", "admin", "oracle", "test", "ubuntu", "pi", "guest", "git"];
        let evs: Vec<Event> =
            (0..40).map(|i| auth(f64::from(i), Some("198.51.100.7"), users[i as usize % users.len()], false)).collect();
        let f = run(&mut a, &evs);
        assert!(f.len() >= 2 && f.len() <= 5, "{}", f.len());
        let last = f.last().expect("finding");
        assert!(last.confidence >= 0.9, "{last:?}");
        assert!(f.windows(2).all(|w| w[1].confidence >= w[0].confidence));
        assert_eq!(last.technique, "T1110.001");
    }

    #[test]
    fn one_try_each_for_many_users_is_password_spraying() {
        let mut a = agent();
        let evs: Vec<Event> =
            (0..20).map(|i| auth(f64::from(i), Some("198.51.100.8"), &format!("user{i}"), false)).collect();
        let f = run(&mut a, &evs);
        let last = f.last().expect("finding");
        assert_eq!(last.technique, "T1110.003");
        assert!(last.confidence >= 0.8, "{last:?}");
    }

    #[test]
    fn a_success_after_many_failures_is_a_critical_finding_naming_the_user() {
        let mut a = agent();
        let mut evs: Vec<Event> = (0..20).map(|i| auth(f64::from(i), Some("203.0.113.9"), "admin", false)).collect();
        evs.push(auth(25.0, Some("203.0.113.9"), "admin", true));
        evs.push(auth(26.0, Some("203.0.113.9"), "admin", true));
        let f = run(&mut a, &evs);
        let s: Vec<_> = f.iter().filter(|f| f.kind == "brute_force_success").collect();
        assert_eq!(s.len(), 1, "{f:?}");
        assert!(s[0].severity >= Severity::High && s[0].confidence >= 0.9, "{:?}", s[0]);
        assert_eq!(s[0].entities.user.as_deref(), Some("admin"));
        assert!(s[0].reason.contains("after 20 failed logins"), "{}", s[0].reason);
    }

    #[test]
    fn a_typo_then_success_and_successes_alone_are_quiet() {
        let mut a = agent();
        let evs = [
            auth(0.0, Some("10.0.0.5"), "alice", false),
            auth(3.0, Some("10.0.0.5"), "alice", true),
            auth(10.0, Some("10.0.0.6"), "bob", true),
        ];
        assert!(run(&mut a, &evs).is_empty());
    }

    #[test]
    fn local_failures_without_an_address_are_counted_per_user() {
        let mut a = agent();
        let evs: Vec<Event> = (0..6).map(|i| auth(f64::from(i), None, "root", false)).collect();
        let f = run(&mut a, &evs);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].entities.src, None);
        assert!(f[0].reason.contains("unknown source"));
    }

    #[test]
    fn many_short_ssh_sessions_from_one_client_are_reported() {
        // zeek sshguess: 11 sessions of 3.5-10 s, 4-4.6 KB sent each, over 70 s.
        let mut a = agent();
        let starts = [0.0, 9.0, 14.6, 19.4, 23.9, 31.1, 42.3, 47.2, 51.9, 60.7, 66.3];
        let durs = [8.2, 4.7, 3.6, 3.6, 6.2, 10.0, 4.0, 4.1, 8.0, 4.3, 3.7];
        let evs: Vec<Event> = starts
            .iter()
            .zip(durs)
            .enumerate()
            .map(|(i, (s, d))| {
                session(s + d, d, "192.168.56.1", "192.168.56.103", 22, if d > 6.0 { 4613 } else { 4045 }, i as u64)
            })
            .collect();
        let f = run(&mut a, &evs);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].kind, "brute_force");
        assert_eq!(f[0].entities.src, Some(addr("192.168.56.1")));
        assert_eq!(f[0].entities.dst, Some(addr("192.168.56.103")));
        assert_eq!(f[0].entities.port, Some(22));
        assert!(f[0].confidence >= 0.6, "{:?}", f[0]);
    }

    #[test]
    fn long_sessions_scans_and_other_ports_are_quiet() {
        let mut a = agent();
        let mut evs = Vec::new();
        for i in 0..30u64 {
            // Long interactive sessions.
            evs.push(session(i as f64 * 4.0 + 600.0, 600.0, "10.0.0.7", "10.0.0.22", 22, 500_000, i));
            // Short sessions to HTTPS.
            evs.push(session(i as f64 * 4.0, 1.0, "10.0.0.8", "10.0.0.80", 443, 3_000, 100 + i));
        }
        // SYN then RST to ssh (a scan): no exchange.
        for i in 0..30u64 {
            if let Event::FlowEnd(mut f) = session(i as f64, 0.01, "10.0.0.9", "10.0.0.22", 22, 60, 200 + i) {
                f.pkts_to_server = 1;
                f.pkts_to_client = 1;
                f.established = false;
                evs.push(Event::FlowEnd(f));
            }
        }
        assert!(run(&mut a, &evs).is_empty());
    }

    #[test]
    fn backwards_time_does_not_panic_or_merge_distant_windows() {
        let mut a = agent();
        let mut evs = Vec::new();
        // Four failures and four short sessions in each of two epochs 1e9 s apart, interleaved.
        for i in 0..8u64 {
            let t = if i % 2 == 0 { 1e9 + i as f64 } else { i as f64 };
            evs.push(auth(t, Some("10.0.0.1"), "x", false));
            evs.push(session(t, 1.0, "10.0.0.1", "10.0.0.2", 22, 1000, i));
        }
        evs.push(auth(0.0, Some("10.0.0.1"), "x", true));
        evs.push(auth(f64::MAX, Some("10.0.0.1"), "x", false));
        let f = run(&mut a, &evs);
        assert!(f.is_empty(), "{f:?}");
        assert!(a.stats().backwards > 0);
    }

    #[test]
    fn hostile_user_names_are_kept_short_and_printable() {
        let mut a = agent();
        let long = "\u{1b}[31m".repeat(100);
        let evs: Vec<Event> = (0..5).map(|i| auth(f64::from(i), Some("10.9.9.9"), &long, false)).collect();
        let f = run(&mut a, &evs);
        let u = f[0].entities.user.as_deref().expect("user");
        assert!(u.len() <= 4 * USER_KEEP && !u.contains('\u{1b}'), "{u}");
    }

    #[test]
    fn the_tables_never_exceed_their_caps() {
        let cfg = BruteForceConfig { max_sources: 300, max_services: 200, ..BruteForceConfig::default() };
        let mut a = BruteForce::new(&cfg);
        let evs: Vec<Event> = (0..100_000u32)
            .flat_map(|i| {
                let c = IpAddr::from((0x0a00_0000 + i).to_be_bytes()).to_string();
                let t = f64::from(i) * 1e-3;
                [auth(t, Some(&c), "root", false), session(t, 1.0, &c, "10.255.0.1", 22, 1000, u64::from(i))]
            })
            .collect();
        run(&mut a, &evs);
        let (s, v) = a.entries();
        assert!(s <= 300 && v <= 200, "{s} {v}");
        assert!(a.stats().evicted_sources > 0 && a.stats().evicted_services > 0);
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 8000;
        let evs = steady_events(2 * n);
        let mut a = agent();
        run(&mut a, &evs[..n]);
        let f = run(&mut a, &evs[n..]);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn config_round_trips_through_toml() {
        let c = BruteForceConfig::default();
        let t = toml::to_string(&c).expect("serialises");
        let back: BruteForceConfig = toml::from_str(&t).expect("parses");
        assert_eq!(back.ports, c.ports);
        assert!(toml::from_str::<BruteForceConfig>("nope = 1").is_err());
    }
}
