//! The agent host: feeds the context, routes each event to the agents that want it, ticks
//! them on event time, and collects their findings.
//!
//! Two modes. Inline (`shards = 0`, replay's default): every agent instance runs on the
//! caller's thread, so a replay stays deterministic. Sharded: `shards` threads each own
//! one instance of every enabled agent; an event goes to the shard `shard_key % shards` of
//! each agent that wants it, through a bounded preallocated queue per shard (events that do
//! not fit are dropped and counted, never blocking the ring readers). Findings from all
//! shards go to one bounded [`FindingQueue`].

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
    thread::JoinHandle,
};

use super::{
    agent::{DynAgent, Emitter},
    config::{AgentsConfig, Enabled},
    context::Context,
    event::Event,
    finding::{Finding, FindingQueue},
};

/// Counters of the host.
#[derive(Debug, Default)]
pub struct RuntimeStats {
    /// Events given to the host.
    pub events: AtomicU64,
    /// Agent deliveries (an event wanted by three agents counts three).
    pub deliveries: AtomicU64,
    /// Events whose time was before the latest seen (clock went backwards).
    pub backwards: AtomicU64,
    /// Events dropped because a shard queue was full.
    pub shard_dropped: AtomicU64,
    /// Per agent (in [`Runtime::agents`] order): time in `on_event`, measured on one event
    /// in [`LATENCY_SAMPLE`] per shard so the clock reads cost nothing measurable.
    pub latency: Vec<crate::metrics::Histogram>,
    /// Findings written, per agent (in [`Runtime::agents`] order).
    pub findings: Vec<AtomicU64>,
    /// The agents' names, in that order.
    pub names: Vec<&'static str>,
    /// Findings of agents not in the list (signatures: `sid:N`).
    pub findings_other: AtomicU64,
}

impl RuntimeStats {
    /// Counts one written finding of `agent`.
    pub fn count_finding(&self, agent: &str) {
        match self.names.iter().position(|n| *n == agent).and_then(|i| self.findings.get(i)) {
            Some(c) => c.fetch_add(1, Relaxed),
            None => self.findings_other.fetch_add(1, Relaxed),
        };
    }
}

/// One event in this many is timed for the latency histograms.
pub const LATENCY_SAMPLE: u32 = 64;

/// Runs `a.on_event`, timing it into `h` when `timed`.
#[inline]
fn timed_event(timed: bool, h: Option<&crate::metrics::Histogram>, f: impl FnOnce()) {
    match (timed, h) {
        (true, Some(h)) => {
            let t = std::time::Instant::now();
            f();
            h.observe(t.elapsed().as_nanos() as u64);
        }
        _ => f(),
    }
}

#[allow(clippy::large_enum_variant, reason = "events are copied into the preallocated shard queue, never boxed")]
enum Msg {
    Event { agents: u64, ev: Event },
    Tick(u64),
}

enum Mode {
    /// The agents, run on the caller's thread.
    Inline(Vec<Box<dyn DynAgent>>),
    /// The shard threads, fed through the runtime's dispatcher.
    Sharded(Vec<JoinHandle<Vec<Box<dyn DynAgent>>>>),
}

/// What the dispatcher needs about each enabled agent.
#[derive(Clone, Copy)]
struct Route {
    interest: u16,
    shard_key: fn(&Event) -> u64,
}

/// Routes events to the shards from another producer thread (live mode: the process ring
/// and the log reader each hold one). Only sharded runtimes hand them out.
#[derive(Clone)]
pub struct Dispatcher {
    routes: Arc<[Route]>,
    union: u16,
    senders: Vec<SyncSender<Msg>>,
    context: Arc<Context>,
    stats: Arc<RuntimeStats>,
    clock_ns: u64,
    next_tick_ns: u64,
    tick_ns: u64,
}

impl std::fmt::Debug for Dispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dispatcher").field("shards", &self.senders.len()).finish()
    }
}

impl Dispatcher {
    /// Whether any running agent wants events of `kind`.
    pub fn wants(&self, kind: u16) -> bool {
        self.union & kind != 0
    }

    /// The shared context.
    pub fn context(&self) -> &Arc<Context> {
        &self.context
    }

    /// One event (see [`Runtime::on_event`]).
    pub fn on_event(&mut self, ev: &Event) {
        let Some(kind) = admit(&self.stats, self.union, &mut self.clock_ns, &self.context, ev) else { return };
        send_to_shards(&self.routes, &self.senders, &self.stats, kind, ev);
        if self.clock_ns >= self.next_tick_ns {
            self.tick(self.clock_ns);
        }
    }

    /// Ticks every shard at `now_ns`.
    pub fn tick(&mut self, now_ns: u64) {
        self.clock_ns = self.clock_ns.max(now_ns);
        self.next_tick_ns = self.clock_ns.saturating_add(self.tick_ns);
        for s in &self.senders {
            let _ = s.send(Msg::Tick(self.clock_ns));
        }
    }
}

/// Counts `ev`, advances the clock (counting time that goes backwards) and feeds the
/// context; returns the event's kind when some agent wants it.
fn admit(stats: &RuntimeStats, union: u16, clock_ns: &mut u64, context: &Context, ev: &Event) -> Option<u16> {
    stats.events.fetch_add(1, Relaxed);
    let kind = ev.kind();
    if union & kind == 0 {
        return None;
    }
    let ts = ev.ts_ns();
    if ts < *clock_ns {
        stats.backwards.fetch_add(1, Relaxed);
    } else {
        *clock_ns = ts;
    }
    context.observe(ev);
    Some(kind)
}

fn send_to_shards(routes: &[Route], senders: &[SyncSender<Msg>], stats: &RuntimeStats, kind: u16, ev: &Event) {
    let n = senders.len() as u64;
    if n == 0 {
        return;
    }
    // Agents per shard for this event: a bit per agent (at most 64 agents, 64 shards).
    let mut masks = [0u64; 64];
    for (i, r) in routes.iter().enumerate().take(64) {
        if r.interest & kind != 0 {
            let s = ((r.shard_key)(ev) % n) as usize;
            masks[s % 64] |= 1 << i;
        }
    }
    for (s, tx) in senders.iter().enumerate() {
        let m = masks[s % 64];
        if m == 0 {
            continue;
        }
        match tx.try_send(Msg::Event { agents: m, ev: *ev }) {
            Ok(()) => {
                stats.deliveries.fetch_add(u64::from(m.count_ones()), Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                stats.shard_dropped.fetch_add(1, Relaxed);
            }
        }
    }
}

/// The agent host. Its own [`Dispatcher`] holds the routes, the context, the counters and
/// the event clock; in sharded mode it also holds the shard queues.
pub struct Runtime {
    names: Vec<&'static str>,
    front: Dispatcher,
    mode: Mode,
    queue: FindingQueue,
    rx: Receiver<Finding>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime").field("agents", &self.names).finish()
    }
}

impl Runtime {
    /// A host for the agents `cfg` enables, with a fresh context, restoring learned
    /// state from `state` (a value written by [`Runtime::finish`]) when given.
    pub fn new(cfg: AgentsConfig, state: Option<&serde_json::Value>) -> std::io::Result<Self> {
        Ok(Self::with_history(cfg, state, &[])?.0)
    }

    /// As [`Runtime::new`], then a warm-up on `history` (recent events, oldest first, from
    /// the lake): every agent instance sees the events it would have seen live (same
    /// routing, same shard) and is ticked on their time, so its windows continue where the
    /// last run left them; what the agents find meanwhile is counted and let go, never
    /// reported (the last run reported it). Runs before the shard threads start.
    pub fn with_history(
        cfg: AgentsConfig,
        state: Option<&serde_json::Value>,
        history: &[Event],
    ) -> std::io::Result<(Self, WarmUp)> {
        let context = Arc::new(Context::default());
        let rc = cfg.runtime;
        let (queue, rx) = FindingQueue::bounded(rc.finding_queue);
        let names: Vec<_> = cfg.enabled.iter().map(|e| e.entry.name).collect();
        let routes: Arc<[Route]> =
            cfg.enabled.iter().map(|e| Route { interest: e.entry.interest, shard_key: e.entry.shard_key }).collect();
        let union = routes.iter().fold(0, |u, r| u | r.interest);
        let make = |enabled: &[Enabled]| -> Vec<Box<dyn DynAgent>> {
            enabled
                .iter()
                .map(|e| {
                    let mut a = (e.factory)();
                    if let Some(v) = state.and_then(|s| s.get(e.entry.name)).and_then(|v| v.as_array()) {
                        for part in v {
                            a.load(part);
                        }
                    }
                    a
                })
                .collect()
        };
        let stats = Arc::new(RuntimeStats {
            latency: names.iter().map(|_| crate::metrics::Histogram::default()).collect(),
            findings: names.iter().map(|_| AtomicU64::new(0)).collect(),
            names: names.clone(),
            ..RuntimeStats::default()
        });
        let tick_ns = rc.tick_ms.max(1) * 1_000_000;
        let mut sets: Vec<_> = (0..rc.shards.max(1)).map(|_| make(&cfg.enabled)).collect();
        let warm = warm_up(&mut sets, &routes, &context, &queue, history, tick_ns);
        let mut senders = Vec::new();
        let mode = if rc.shards == 0 {
            Mode::Inline(sets.pop().unwrap_or_default())
        } else {
            let mut handles = Vec::new();
            for (i, agents) in sets.into_iter().enumerate() {
                let (tx, rx_ev) = sync_channel::<Msg>(rc.shard_queue);
                let (cx, q, st) = (Arc::clone(&context), queue.clone(), Arc::clone(&stats));
                let handle = std::thread::Builder::new()
                    .name(format!("agents-{i}"))
                    .spawn(move || shard_loop(agents, &rx_ev, &cx, &q, &st))?;
                senders.push(tx);
                handles.push(handle);
            }
            Mode::Sharded(handles)
        };
        let front = Dispatcher {
            routes,
            union,
            senders,
            context,
            stats,
            clock_ns: warm.last_ns,
            next_tick_ns: warm.last_ns.saturating_add(tick_ns),
            tick_ns,
        };
        Ok((Self { names, front, mode, queue, rx }, warm))
    }

    /// Names of the running agents.
    pub fn agents(&self) -> &[&'static str] {
        &self.names
    }

    /// The shared context.
    pub fn context(&self) -> &Arc<Context> {
        &self.front.context
    }

    /// The host's counters.
    pub fn stats(&self) -> &Arc<RuntimeStats> {
        &self.front.stats
    }

    /// The finding queue's counters (sent, overflow).
    pub fn queue(&self) -> &FindingQueue {
        &self.queue
    }

    /// Whether any running agent wants events of `kind`.
    pub fn wants(&self, kind: u16) -> bool {
        self.front.wants(kind)
    }

    /// A dispatcher for another producer thread (sharded runtimes only). Drop every
    /// dispatcher before [`Runtime::finish`], which waits for the shards to drain.
    pub fn dispatcher(&self) -> Option<Dispatcher> {
        matches!(self.mode, Mode::Sharded(_)).then(|| self.front.clone())
    }

    /// One event: context first, then every agent that wants it; ticks when event time
    /// passes the next tick. Allocates nothing unless an agent emits a finding.
    pub fn on_event(&mut self, ev: &Event) {
        let Mode::Inline(agents) = &mut self.mode else {
            self.front.on_event(ev);
            return;
        };
        let f = &mut self.front;
        let Some(kind) = admit(&f.stats, f.union, &mut f.clock_ns, &f.context, ev) else { return };
        let mut out = Emitter::new(&self.queue, &f.context);
        let mut n = 0;
        let timed = f.stats.events.load(Relaxed).is_multiple_of(u64::from(LATENCY_SAMPLE));
        for (i, (a, r)) in agents.iter_mut().zip(f.routes.iter()).enumerate() {
            if r.interest & kind != 0 {
                timed_event(timed, f.stats.latency.get(i), || a.on_event(ev, &f.context, &mut out));
                n += 1;
            }
        }
        f.stats.deliveries.fetch_add(n, Relaxed);
        let now = f.clock_ns;
        if now >= f.next_tick_ns {
            self.tick(now);
        }
    }

    /// Ticks every agent at `now_ns` (event time; live mode also calls this from a timer).
    pub fn tick(&mut self, now_ns: u64) {
        let Mode::Inline(agents) = &mut self.mode else {
            self.front.tick(now_ns);
            return;
        };
        let f = &mut self.front;
        f.clock_ns = f.clock_ns.max(now_ns);
        f.next_tick_ns = f.clock_ns.saturating_add(f.tick_ns);
        let mut out = Emitter::new(&self.queue, &f.context);
        for a in agents.iter_mut() {
            a.on_tick(f.clock_ns, &f.context, &mut out);
        }
    }

    /// Hands every queued finding to `f`, oldest first.
    pub fn drain(&mut self, mut f: impl FnMut(Finding)) {
        while let Ok(x) = self.rx.try_recv() {
            f(x);
        }
    }

    /// Stops the shards (after a last tick at the latest event time), drains the
    /// remaining findings into `f` and returns the learned state to persist.
    pub fn finish(mut self, mut f: impl FnMut(Finding)) -> serde_json::Value {
        self.tick(self.front.clock_ns);
        // Shards stop when every sender is gone (dispatchers handed out included).
        drop(self.front);
        let agents: Vec<Vec<Box<dyn DynAgent>>> = match self.mode {
            Mode::Inline(a) => vec![a],
            Mode::Sharded(handles) => handles.into_iter().filter_map(|h| h.join().ok()).collect(),
        };
        while let Ok(x) = self.rx.try_recv() {
            f(x);
        }
        let mut state: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
        for shard in &agents {
            for a in shard {
                if let Some(v) = a.save() {
                    state.entry(a.name()).or_default().push(v);
                }
            }
        }
        serde_json::to_value(state).unwrap_or(serde_json::Value::Null)
    }
}

/// What a warm-up on recent history did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarmUp {
    /// History events given to the host.
    pub events: u64,
    /// Agent deliveries (an event wanted by three agents counts three).
    pub deliveries: u64,
    /// Findings the agents produced on history and that were let go.
    pub held_back: u64,
    /// Time of the newest history event (the clock live events continue from).
    pub last_ns: u64,
}

/// Feeds `history` to the agent instance sets (one per shard, routed as live events are)
/// through a muted emitter, ticking every `tick_ns` of event time and once at the end.
fn warm_up(
    sets: &mut [Vec<Box<dyn DynAgent>>],
    routes: &[Route],
    cx: &Context,
    queue: &FindingQueue,
    history: &[Event],
    tick_ns: u64,
) -> WarmUp {
    let mut w = WarmUp::default();
    if history.is_empty() {
        return w;
    }
    let mut out = Emitter::muted(queue, cx);
    let n = sets.len().max(1) as u64;
    let mut next_tick = 0;
    let tick = |sets: &mut [Vec<Box<dyn DynAgent>>], now: u64, out: &mut Emitter<'_>| {
        for a in sets.iter_mut().flatten() {
            a.on_tick(now, cx, out);
        }
    };
    for ev in history {
        w.events += 1;
        w.last_ns = w.last_ns.max(ev.ts_ns());
        cx.observe(ev);
        let kind = ev.kind();
        for (i, r) in routes.iter().enumerate() {
            if r.interest & kind == 0 {
                continue;
            }
            let s = ((r.shard_key)(ev) % n) as usize;
            if let Some(a) = sets.get_mut(s).and_then(|set| set.get_mut(i)) {
                a.on_event(ev, cx, &mut out);
                w.deliveries += 1;
            }
        }
        if w.last_ns >= next_tick {
            tick(sets, w.last_ns, &mut out);
            next_tick = w.last_ns.saturating_add(tick_ns);
        }
    }
    tick(sets, w.last_ns, &mut out);
    w.held_back = out.emitted();
    w
}

fn shard_loop(
    mut agents: Vec<Box<dyn DynAgent>>,
    rx: &Receiver<Msg>,
    cx: &Context,
    q: &FindingQueue,
    stats: &RuntimeStats,
) -> Vec<Box<dyn DynAgent>> {
    let mut out = Emitter::new(q, cx);
    let mut last_tick = 0;
    let mut seen: u32 = 0;
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Event { agents: mask, ev } => {
                seen = seen.wrapping_add(1);
                let timed = seen.is_multiple_of(LATENCY_SAMPLE);
                for (i, a) in agents.iter_mut().enumerate().take(64) {
                    if mask & (1 << i) != 0 {
                        timed_event(timed, stats.latency.get(i), || a.on_event(&ev, cx, &mut out));
                    }
                }
            }
            Msg::Tick(now) => {
                // Several dispatchers tick on their own clocks: keep time monotonic.
                if now < last_tick {
                    continue;
                }
                last_tick = now;
                for a in agents.iter_mut() {
                    a.on_tick(now, cx, &mut out);
                }
            }
        }
    }
    agents
}

/// Reads a state file written by [`save_state_file`]; a missing file is no state, a
/// damaged one is an error naming the file.
pub fn load_state_file(path: &std::path::Path) -> Result<Option<serde_json::Value>, String> {
    match std::fs::read(path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Writes learned state atomically (temporary file, then rename).
pub fn save_state_file(path: &std::path::Path, state: &serde_json::Value) -> std::io::Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, serde_json::to_vec(state).map_err(std::io::Error::other)?)?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::config::AgentsConfig;

    fn all_streams(n: usize) -> Vec<Event> {
        crate::agents::registry::STEADY_STREAMS.iter().flat_map(|(_, f)| f(n)).collect()
    }

    #[test]
    fn time_going_backwards_is_counted_and_harmless_for_every_agent() {
        let mut rt = Runtime::new(AgentsConfig::defaults(), None).expect("inline");
        let mut evs = all_streams(512);
        // Newest first: every event after the first goes back in time.
        evs.sort_by_key(|e| std::cmp::Reverse(e.ts_ns()));
        for ev in &evs {
            rt.on_event(ev);
        }
        rt.tick(0);
        assert!(rt.stats().backwards.load(Relaxed) > 1000);
        let mut n = 0;
        let state = rt.finish(|_| n += 1);
        assert!(state.is_object());
    }

    const S: u64 = 1_000_000_000;

    /// A SYN from `src` answered by RST on `port` of 10.0.0.1, ended at `t`.
    fn probe(src: &str, port: u16, t: u64) -> Event {
        use crate::agents::event::{FlowSummary, tcp};
        Event::FlowEnd(FlowSummary {
            ts_ns: t,
            flow_id: t,
            client: src.parse().expect("ip"),
            server: "10.0.0.1".parse().expect("ip"),
            client_port: 40_000 + port,
            server_port: port,
            proto: crate::agents::event::ip_proto::TCP,
            start_ns: t - 1_000_000,
            pkts_to_server: 1,
            pkts_to_client: 1,
            bytes_to_server: 60,
            bytes_to_client: 54,
            flags_to_server: tcp::SYN,
            flags_to_client: tcp::RST | tcp::ACK,
            established: false,
            app: "",
        })
    }

    fn scan_config(shards: usize) -> AgentsConfig {
        let mut cfg = AgentsConfig::defaults();
        cfg.retain(&["port_scan".to_owned()]).expect("port_scan exists");
        cfg.runtime.shards = shards;
        cfg
    }

    /// Findings of a runtime warmed up on `history`, then fed `live`: (held back, reported).
    fn run_with(shards: usize, history: &[Event], live: &[Event]) -> (u64, Vec<Finding>) {
        let (mut rt, warm) = Runtime::with_history(scan_config(shards), None, history).expect("runtime");
        assert_eq!(warm.events, history.len() as u64);
        let mut found = Vec::new();
        rt.drain(|f| found.push(f));
        assert!(found.is_empty(), "nothing found on history is reported: {found:?}");
        for ev in live {
            rt.on_event(ev);
        }
        rt.finish(|f| found.push(f));
        (warm.held_back, found)
    }

    #[test]
    fn a_scan_split_by_a_restart_is_found_with_recent_history_and_not_without() {
        const T: u64 = 1_796_670_000 * S;
        // Three closed ports before the restart, three after: five make a scan.
        let before: Vec<Event> = (0..3).map(|i| probe("10.0.0.66", 1000 + i, T + u64::from(i) * S)).collect();
        let after: Vec<Event> = (3..6).map(|i| probe("10.0.0.66", 1000 + i, T + 30 * S + u64::from(i) * S)).collect();
        for shards in [0, 3] {
            let (held, found) = run_with(shards, &before, &after);
            assert_eq!(held, 0, "three probes are no scan yet");
            assert!(
                found
                    .iter()
                    .any(|f| f.agent == "port_scan" && f.entities.src.is_some_and(|a| a.to_string() == "10.0.0.66")),
                "shards {shards}: the scan continues across the restart: {found:?}"
            );
            let (_, alone) = run_with(shards, &[], &after);
            assert!(alone.is_empty(), "shards {shards}: the second half alone is no scan: {alone:?}");
        }
    }

    #[test]
    fn a_scan_found_in_history_is_held_back_and_not_reported_again() {
        const T: u64 = 1_796_670_000 * S;
        let scan: Vec<Event> = (0..12).map(|i| probe("10.0.0.77", 2000 + i, T + u64::from(i) * S / 10)).collect();
        // The scanner goes on after the restart, inside the agent's cool-down and in the
        // same confidence band (a higher band would be news, and reported).
        let more: Vec<Event> = (12..13).map(|i| probe("10.0.0.77", 2000 + i, T + 10 * S + u64::from(i) * S)).collect();
        for shards in [0, 2] {
            let (held, found) = run_with(shards, &scan, &more);
            assert!(held >= 1, "shards {shards}: the scan was found during the warm-up");
            assert!(found.is_empty(), "shards {shards}: and not reported again: {found:?}");
        }
    }

    #[test]
    fn sharded_and_inline_runtimes_see_the_same_events() {
        let evs = all_streams(256);
        let mut inline = Runtime::new(AgentsConfig::defaults(), None).expect("inline");
        let mut cfg = AgentsConfig::defaults();
        cfg.runtime.shards = 3;
        let mut sharded = Runtime::new(cfg, None).expect("sharded");
        let mut d = sharded.dispatcher().expect("sharded runtimes hand out dispatchers");
        for (i, ev) in evs.iter().enumerate() {
            inline.on_event(ev);
            // Half the events come through a second producer.
            if i % 2 == 0 { sharded.on_event(ev) } else { d.on_event(ev) }
        }
        drop(d);
        let delivered = sharded.stats().deliveries.load(Relaxed);
        assert_eq!(sharded.stats().shard_dropped.load(Relaxed), 0);
        assert_eq!(delivered, inline.stats().deliveries.load(Relaxed));
        let (mut a, mut b) = (0, 0);
        inline.finish(|_| a += 1);
        sharded.finish(|_| b += 1);
        assert_eq!(a, b, "the same findings inline and sharded");
    }
}
