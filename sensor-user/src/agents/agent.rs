//! The [`Agent`] trait every micro-agent implements, the [`Emitter`] it reports through,
//! and the object-safe [`DynAgent`] the runtime drives.
//!
//! An agent owns its state (`&mut self`, one owner thread per instance), aggregates on one
//! key ([`Agent::shard_key`]) so that all events with the same key reach the same
//! instance, allocates nothing in [`Agent::on_event`] for events that do not produce a
//! finding, and closes its windows in [`Agent::on_tick`].

use serde::{Serialize, de::DeserializeOwned};

use super::{
    context::Context,
    event::Event,
    finding::{Finding, FindingQueue},
};

/// A micro-agent.
pub trait Agent: Send + 'static {
    /// Registry and config-section name (`port_scan`).
    const NAME: &'static str;
    /// Whether the agent runs when the config does not mention it.
    const DEFAULT_ENABLED: bool = true;
    /// [`super::event::kind`] bits of the events it wants.
    const INTEREST: u16;
    /// Its config section, with documented defaults.
    type Config: Default + Clone + Serialize + DeserializeOwned + Send + Sync + 'static;

    /// A fresh instance.
    fn new(cfg: &Self::Config) -> Self
    where
        Self: Sized;

    /// The key the agent aggregates on (source address, destination address, pid...);
    /// events with equal keys always reach the same instance.
    fn shard_key(ev: &Event) -> u64;

    /// One event. Must not allocate unless it emits a finding.
    fn on_event(&mut self, ev: &Event, cx: &Context, out: &mut Emitter<'_>);

    /// Time passed to `now_ns` (event time): close windows, age state.
    fn on_tick(&mut self, _now_ns: u64, _cx: &Context, _out: &mut Emitter<'_>) {}

    /// Learned state to persist across restarts.
    fn save(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores learned state saved by [`Agent::save`] (possibly by several instances).
    fn load(&mut self, _state: &serde_json::Value) {}
}

/// Where an agent's findings go: the bounded queue, and the context's address -> findings
/// table.
#[derive(Debug)]
pub struct Emitter<'a> {
    queue: &'a FindingQueue,
    cx: &'a Context,
    emitted: u64,
    muted: bool,
}

impl<'a> Emitter<'a> {
    /// An emitter into `queue`, remembering findings in `cx`.
    pub fn new(queue: &'a FindingQueue, cx: &'a Context) -> Self {
        Self { queue, cx, emitted: 0, muted: false }
    }

    /// An emitter that counts findings and lets them go (the warm-up on recent history:
    /// the agents' state moves on, nothing is reported twice).
    pub fn muted(queue: &'a FindingQueue, cx: &'a Context) -> Self {
        Self { muted: true, ..Self::new(queue, cx) }
    }

    /// Reports a finding.
    pub fn emit(&mut self, f: Finding) {
        if self.muted {
            self.emitted += 1;
            return;
        }
        if let Some(a) = f.entities.src.as_ref().or(f.entities.dst.as_ref()) {
            self.cx.record_finding(a, f.confidence, f.ts_ns);
        }
        self.emitted += 1;
        self.queue.push(f);
    }

    /// Findings emitted through this emitter.
    pub fn emitted(&self) -> u64 {
        self.emitted
    }
}

/// The object-safe face of an [`Agent`].
pub trait DynAgent: Send {
    /// Registry name.
    fn name(&self) -> &'static str;
    /// See [`Agent::on_event`].
    fn on_event(&mut self, ev: &Event, cx: &Context, out: &mut Emitter<'_>);
    /// See [`Agent::on_tick`].
    fn on_tick(&mut self, now_ns: u64, cx: &Context, out: &mut Emitter<'_>);
    /// See [`Agent::save`].
    fn save(&self) -> Option<serde_json::Value>;
    /// See [`Agent::load`].
    fn load(&mut self, state: &serde_json::Value);
}

impl<A: Agent> DynAgent for A {
    fn name(&self) -> &'static str {
        A::NAME
    }
    fn on_event(&mut self, ev: &Event, cx: &Context, out: &mut Emitter<'_>) {
        Agent::on_event(self, ev, cx, out);
    }
    fn on_tick(&mut self, now_ns: u64, cx: &Context, out: &mut Emitter<'_>) {
        Agent::on_tick(self, now_ns, cx, out);
    }
    fn save(&self) -> Option<serde_json::Value> {
        Agent::save(self)
    }
    fn load(&mut self, state: &serde_json::Value) {
        Agent::load(self, state);
    }
}

/// Suppresses repeated findings about the same key within a hold-off period, in a fixed
/// table (bounded memory, no allocation). Agents use it so a flood yields one finding per
/// victim per period, not one per packet.
#[derive(Debug)]
pub struct Cooldown {
    slots: Box<[(u64, u64)]>,
    hold_ns: u64,
}

impl Cooldown {
    /// A table of `slots` keys, holding each for `hold_s` seconds.
    pub fn new(slots: usize, hold_s: f64) -> Self {
        Self { slots: vec![(0, 0); slots.max(1).next_power_of_two()].into(), hold_ns: secs_ns(hold_s) }
    }

    /// Whether a finding about `key` may be emitted at `now_ns`; if so, the hold starts.
    pub fn allow(&mut self, key: u64, now_ns: u64) -> bool {
        let i = (key as usize) & (self.slots.len() - 1);
        let (k, until) = self.slots[i];
        if k == key && now_ns < until {
            return false;
        }
        self.slots[i] = (key, now_ns.saturating_add(self.hold_ns));
        true
    }
}

/// Seconds to nanoseconds (saturating; negative and NaN give 0).
pub fn secs_ns(s: f64) -> u64 {
    if s.is_nan() || s <= 0.0 { 0 } else { (s * 1e9).min(u64::MAX as f64) as u64 }
}

/// Nanoseconds to seconds.
pub fn ns_secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cooldown_holds_a_key_then_releases_it() {
        let mut c = Cooldown::new(16, 10.0);
        assert!(c.allow(5, 0));
        assert!(!c.allow(5, 9_000_000_000));
        assert!(c.allow(6, 9_000_000_000));
        assert!(c.allow(5, 10_000_000_000));
    }
}
