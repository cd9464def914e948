//! A bounded, lock-free key -> value table for the shared context. Values are `W` words
//! held in atomics; each slot is a sequence lock: a writer claims the slot by moving its
//! sequence from even to odd with one compare-and-swap (and gives up, counted, if another
//! writer holds it), readers copy the words and retry when the sequence moved. Readers
//! never wait on writers and nothing allocates after construction. A full neighbourhood
//! evicts its least recently written slot, so memory is fixed.

use std::sync::atomic::{AtomicU64, Ordering, fence};

/// Slots probed from a key's home slot.
const PROBE: usize = 4;
/// Read attempts per slot before a reader gives up on a slot under constant rewriting.
const READ_TRIES: usize = 8;

struct Slot<const W: usize> {
    seq: AtomicU64,
    key: AtomicU64,
    stamp: AtomicU64,
    words: [AtomicU64; W],
}

impl<const W: usize> Slot<W> {
    fn new() -> Self {
        Self {
            seq: AtomicU64::new(0),
            key: AtomicU64::new(0),
            stamp: AtomicU64::new(0),
            words: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }

    /// A consistent copy of (key, stamp, words), or None when writers kept it busy.
    fn read(&self) -> Option<(u64, u64, [u64; W])> {
        for _ in 0..READ_TRIES {
            let s1 = self.seq.load(Ordering::Acquire);
            if s1 & 1 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let key = self.key.load(Ordering::Relaxed);
            let stamp = self.stamp.load(Ordering::Relaxed);
            let words = std::array::from_fn(|i| self.words[i].load(Ordering::Relaxed));
            fence(Ordering::Acquire);
            if self.seq.load(Ordering::Relaxed) == s1 {
                return Some((key, stamp, words));
            }
        }
        None
    }
}

/// Counters of a table.
#[derive(Debug, Default)]
pub struct TableStats {
    /// Writes that found the slot held by another writer and were skipped.
    pub contended: AtomicU64,
    /// Live entries overwritten to make room.
    pub evicted: AtomicU64,
}

/// The table. Key 0 is reserved for empty slots (callers map it away).
pub struct SeqTable<const W: usize> {
    slots: Box<[Slot<W>]>,
    mask: usize,
    /// Counters.
    pub stats: TableStats,
}

impl<const W: usize> std::fmt::Debug for SeqTable<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SeqTable").field("slots", &self.slots.len()).field("words", &W).finish()
    }
}

fn nonzero(key: u64) -> u64 {
    if key == 0 { 1 } else { key }
}

impl<const W: usize> SeqTable<W> {
    /// A table of at least `capacity` slots (rounded up to a power of two).
    pub fn new(capacity: usize) -> Self {
        let n = capacity.max(PROBE).next_power_of_two();
        Self { slots: (0..n).map(|_| Slot::new()).collect(), mask: n - 1, stats: TableStats::default() }
    }

    /// Number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    fn home(&self, key: u64) -> usize {
        // Keys are hashes already; fold the high bits in for small tables.
        ((key ^ (key >> 32)) as usize) & self.mask
    }

    /// The words stored for `key`, if present.
    pub fn get(&self, key: u64) -> Option<[u64; W]> {
        let key = nonzero(key);
        let home = self.home(key);
        for i in 0..PROBE {
            let slot = &self.slots[(home + i) & self.mask];
            if slot.key.load(Ordering::Relaxed) != key {
                continue;
            }
            if let Some((k, _, words)) = slot.read()
                && k == key
            {
                return Some(words);
            }
        }
        None
    }

    /// Writes `update(previous)` for `key` with recency `stamp`. Returns false when the
    /// slot was held by another writer (the update is skipped and counted).
    pub fn upsert(&self, key: u64, stamp: u64, update: impl FnOnce(Option<[u64; W]>) -> [u64; W]) -> bool {
        let key = nonzero(key);
        let home = self.home(key);
        let mut target = None;
        let mut oldest = (u64::MAX, home);
        for i in 0..PROBE {
            let idx = (home + i) & self.mask;
            let slot = &self.slots[idx];
            let k = slot.key.load(Ordering::Relaxed);
            if k == key {
                target = Some(idx);
                break;
            }
            if k == 0 && target.is_none() {
                target = Some(idx);
            }
            let st = slot.stamp.load(Ordering::Relaxed);
            if st < oldest.0 {
                oldest = (st, idx);
            }
        }
        let idx = target.unwrap_or(oldest.1);
        let slot = &self.slots[idx];
        let s = slot.seq.load(Ordering::Relaxed);
        if s & 1 == 1 || slot.seq.compare_exchange(s, s + 1, Ordering::Acquire, Ordering::Relaxed).is_err() {
            self.stats.contended.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        fence(Ordering::Release);
        let old_key = slot.key.load(Ordering::Relaxed);
        let previous = (old_key == key).then(|| std::array::from_fn(|i| slot.words[i].load(Ordering::Relaxed)));
        if old_key != key && old_key != 0 {
            self.stats.evicted.fetch_add(1, Ordering::Relaxed);
        }
        let words = update(previous);
        slot.key.store(key, Ordering::Relaxed);
        slot.stamp.store(stamp, Ordering::Relaxed);
        for (dst, w) in slot.words.iter().zip(words) {
            dst.store(w, Ordering::Relaxed);
        }
        slot.seq.store(s + 2, Ordering::Release);
        true
    }

    /// Entries currently held (a scan; for reports and state files, not the hot path).
    pub fn entries(&self) -> Vec<(u64, [u64; W])> {
        self.slots.iter().filter_map(|s| s.read()).filter(|(k, _, _)| *k != 0).map(|(k, _, w)| (k, w)).collect()
    }
}

/// Packs bytes into words (little-endian), cutting at `8 * N` bytes; the length goes in
/// the first byte's place of nothing: callers store it separately.
pub fn pack_bytes<const N: usize>(b: &[u8]) -> [u64; N] {
    let mut out = [0u64; N];
    for (i, chunk) in b.chunks(8).take(N).enumerate() {
        let mut w = [0u8; 8];
        w[..chunk.len()].copy_from_slice(chunk);
        out[i] = u64::from_le_bytes(w);
    }
    out
}

/// The inverse of [`pack_bytes`]: `len` bytes out of `words`.
pub fn unpack_bytes(words: &[u64], len: usize, out: &mut [u8]) -> usize {
    let n = len.min(words.len() * 8).min(out.len());
    for (chunk, w) in out[..n].chunks_mut(8).zip(words) {
        chunk.copy_from_slice(&w.to_le_bytes()[..chunk.len()]);
    }
    n
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn values_written_are_read_back_and_updated_in_place() {
        let t = SeqTable::<2>::new(16);
        assert!(t.get(7).is_none());
        assert!(t.upsert(7, 1, |_| [1, 2]));
        assert_eq!(t.get(7), Some([1, 2]));
        assert!(t.upsert(7, 2, |prev| {
            let p = prev.expect("present");
            [p[0] + 10, p[1]]
        }));
        assert_eq!(t.get(7), Some([11, 2]));
    }

    #[test]
    fn a_full_neighbourhood_evicts_the_least_recent_entry() {
        let t = SeqTable::<1>::new(4);
        for k in 1..=4u64 {
            // All keys share a home in a 4-slot table once masked; stamps rise with k.
            t.upsert(k << 40, k, |_| [k]);
        }
        t.upsert(9 << 40, 10, |_| [9]);
        assert_eq!(t.get(9 << 40), Some([9]));
        assert!(t.get(1 << 40).is_none(), "the oldest entry made room");
        assert_eq!(t.stats.evicted.load(Ordering::Relaxed), 1);
        assert_eq!(t.entries().len(), 4);
    }

    #[test]
    fn byte_packing_round_trips_and_cuts_at_capacity() {
        let w: [u64; 2] = pack_bytes(b"/usr/bin/bash");
        let mut out = [0u8; 16];
        let n = unpack_bytes(&w, 13, &mut out);
        assert_eq!(&out[..n], b"/usr/bin/bash");
        let w: [u64; 1] = pack_bytes(b"0123456789");
        let n = unpack_bytes(&w, 10, &mut out);
        assert_eq!(&out[..n], b"01234567");
    }

    #[test]
    fn readers_never_see_a_torn_value_while_writers_race() {
        let t = Arc::new(SeqTable::<4>::new(8));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let writers: Vec<_> = (0..2)
            .map(|w| {
                let (t, stop) = (Arc::clone(&t), Arc::clone(&stop));
                std::thread::spawn(move || {
                    let mut i = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        i += 1;
                        let v = i * 2 + w;
                        t.upsert(42, i, |_| [v, v, v, v]);
                        // Leave readers a window on a busy 2-core machine.
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        let mut seen = 0;
        let t0 = std::time::Instant::now();
        while seen < 100_000 && t0.elapsed() < std::time::Duration::from_secs(10) {
            if let Some(w) = t.get(42) {
                assert!(w.iter().all(|x| *x == w[0]), "torn read {w:?}");
                seen += 1;
            }
        }
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().expect("writer");
        }
        assert!(seen > 0);
    }
}
