//! `threshold` and `detection_filter` (detect-engine-threshold.c ThresholdHandlePacket):
//! per-worker tables keyed by rule + tracked address(es), windows in capture time, and a bounded
//! size (expired entries are swept first, then arbitrary ones are evicted and counted).
//! `track by_flow` state lives in the flow ([`FlowThresholds`]). threshold.config `rate_filter`
//! entries share the table (detect-engine-threshold.c IsThresholdReached).

use std::collections::HashMap;
use std::net::IpAddr;

use super::super::ir::{RateFilter, Threshold, ThresholdKind, Track};

/// Default bound of a worker's threshold table.
pub const DEFAULT_THRESHOLD_CAPACITY: usize = 65536;

const NS: u64 = 1_000_000_000;

/// One tracked counter: window start and matches counted in it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry {
    tv1: u64,
    count: u32,
    /// End of the window (`tv1 + seconds`), for sweeping.
    expires: u64,
    /// rate_filter: when (whole seconds of capture time) the new action was turned on; 0 = off.
    tv_timeout: u64,
}

impl Entry {
    fn new(ts: u64, td: &Threshold) -> Self {
        Entry { tv1: ts, count: 1, expires: ts.saturating_add(u64::from(td.seconds) * NS), tv_timeout: 0 }
    }
}

/// Suricata's rate_filter step for an existing entry: is the new action on for this match?
fn rate_reached(e: &mut Entry, rf: &RateFilter, ts: u64) -> bool {
    let secs = ts / NS;
    if e.tv_timeout != 0 {
        if secs.saturating_sub(e.tv_timeout) > u64::from(rf.timeout) {
            e.tv_timeout = 0;
            false
        } else {
            true
        }
    } else if ts <= e.tv1.saturating_add(u64::from(rf.seconds) * NS) {
        e.count = e.count.saturating_add(1);
        if e.count > rf.count {
            e.tv_timeout = secs.max(1);
            e.expires = e.expires.max(ts.saturating_add(u64::from(rf.timeout) * NS));
            true
        } else {
            false
        }
    } else {
        e.tv1 = ts;
        e.count = 1;
        e.expires = ts.saturating_add(u64::from(rf.seconds) * NS);
        false
    }
}

/// Suricata's decision for one match given the existing entry (`None` = first match for this
/// key). Returns (alert?, entry to store).
fn handle(td: &Threshold, ts: u64, cur: Option<Entry>) -> (bool, Option<Entry>) {
    let Some(mut e) = cur else {
        let alert = match td.kind {
            ThresholdKind::Limit => true,
            ThresholdKind::Threshold | ThresholdKind::Both => td.count == 1,
            ThresholdKind::DetectionFilter => false,
        };
        // Suricata keeps no entry for `threshold` with count 1.
        let keep = !(td.kind == ThresholdKind::Threshold && td.count == 1);
        return (alert, keep.then(|| Entry::new(ts, td)));
    };
    let within = ts <= e.tv1.saturating_add(u64::from(td.seconds) * NS);
    let alert = if within {
        e.count = e.count.saturating_add(1);
        match td.kind {
            ThresholdKind::Limit => e.count <= td.count,
            ThresholdKind::Threshold => {
                let hit = e.count >= td.count;
                if hit {
                    e.count = 0;
                }
                hit
            }
            ThresholdKind::Both => e.count == td.count,
            ThresholdKind::DetectionFilter => e.count > td.count,
        }
    } else {
        e = Entry::new(ts, td);
        match td.kind {
            ThresholdKind::Limit => true,
            ThresholdKind::Both => td.count == 1,
            ThresholdKind::Threshold | ThresholdKind::DetectionFilter => false,
        }
    };
    (alert, Some(e))
}

/// Table key: rule, which option (0 threshold, 1 detection_filter), track, addresses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Key {
    rule: u32,
    which: u8,
    track: u8,
    a: u128,
    b: u128,
}

fn addr_key(ip: IpAddr) -> u128 {
    match ip {
        IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

/// A worker's threshold table (by_src, by_dst, by_both, by_rule).
#[derive(Debug)]
pub(crate) struct ThresholdTable {
    map: HashMap<Key, Entry>,
    cap: usize,
    /// Live entries dropped to make room.
    pub(crate) evictions: u64,
}

impl ThresholdTable {
    /// A table bounded to `cap` entries, preallocated.
    pub(crate) fn new(cap: usize) -> Self {
        ThresholdTable { map: HashMap::with_capacity(cap), cap: cap.max(1), evictions: 0 }
    }

    /// Should rule `rule`'s match at `ts` from `src` to `dst` alert under `td`? `which`
    /// separates a rule's threshold (0) from its detection_filter (1). `Track::ByFlow` is not
    /// handled here.
    pub(crate) fn allow(&mut self, rule: u32, which: u8, td: &Threshold, ts: u64, src: IpAddr, dst: IpAddr) -> bool {
        let key = Self::key(rule, which, td.track, src, dst);
        let cur = self.map.get(&key).copied();
        let (alert, store) = handle(td, ts, cur);
        if let Some(e) = store {
            self.store(key, cur.is_none(), e, ts);
        }
        alert
    }

    /// Is rule `rule`'s `rate_filter` on for its match at `ts` from `src` to `dst` (its action
    /// is then the filter's new action)?
    pub(crate) fn rate(&mut self, rule: u32, rf: &RateFilter, ts: u64, src: IpAddr, dst: IpAddr) -> bool {
        let key = Self::key(rule, 2, rf.track, src, dst);
        match self.map.get_mut(&key) {
            Some(e) => rate_reached(e, rf, ts),
            None => {
                let td =
                    Threshold { kind: ThresholdKind::Limit, track: rf.track, count: rf.count, seconds: rf.seconds };
                self.store(key, true, Entry::new(ts, &td), ts);
                false
            }
        }
    }

    fn store(&mut self, key: Key, new: bool, e: Entry, ts: u64) {
        if new && self.map.len() >= self.cap {
            self.make_room(ts);
        }
        self.map.insert(key, e);
    }

    fn key(rule: u32, which: u8, track: Track, src: IpAddr, dst: IpAddr) -> Key {
        let (track, a, b) = match track {
            Track::BySrc => (0, addr_key(src), 0),
            Track::ByDst => (1, addr_key(dst), 0),
            Track::ByBoth => {
                let (x, y) = (addr_key(src), addr_key(dst));
                (2, x.min(y), x.max(y))
            }
            Track::ByRule | Track::ByFlow => (3, 0, 0),
        };
        Key { rule, which, track, a, b }
    }

    /// Frees at least an eighth of the table: expired entries first, then arbitrary ones.
    fn make_room(&mut self, ts: u64) {
        self.map.retain(|_, e| e.expires >= ts);
        let target = self.cap - self.cap.div_ceil(8);
        if self.map.len() > target {
            let mut excess = self.map.len() - target;
            let mut evicted = 0u64;
            self.map.retain(|_, _| {
                if excess > 0 {
                    excess -= 1;
                    evicted += 1;
                    false
                } else {
                    true
                }
            });
            self.evictions += evicted;
        }
    }

    /// Entries held.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }
}

/// `track by_flow` counters of one flow (rule, which) -> entry.
#[derive(Debug, Default)]
pub(crate) struct FlowThresholds {
    entries: Vec<(u32, u8, Entry)>,
}

impl FlowThresholds {
    /// Like [`ThresholdTable::allow`] for by_flow tracking (allocates on the flow's first
    /// thresholded match).
    pub(crate) fn allow(&mut self, rule: u32, which: u8, td: &Threshold, ts: u64) -> bool {
        let pos = self.entries.iter().position(|&(r, w, _)| r == rule && w == which);
        let cur = pos.and_then(|i| self.entries.get(i)).map(|&(_, _, e)| e);
        let (alert, store) = handle(td, ts, cur);
        match (pos, store) {
            (Some(i), Some(e)) => {
                if let Some(slot) = self.entries.get_mut(i) {
                    slot.2 = e;
                }
            }
            (None, Some(e)) => self.entries.push((rule, which, e)),
            _ => {}
        }
        alert
    }
}
