//! Fixed-size summaries for the network agents: a [`LinearCounter`] (distinct-count
//! sketch, a bitmap of `64 * W` bits), a [`TopOne`] (the majority candidate of a stream,
//! Boyer-Moore / Misra-Gries with one counter) and a [`BoundedTable`] (a key -> value table
//! allocated once, that evicts its least recently touched entry instead of growing). The
//! first two are plain `Copy` arrays; nothing here allocates after construction. Also a
//! [`PortSet`] bitmap and address classifiers ([`is_unicast`], [`is_internal`]).
//!
//! # Linear counting error
//!
//! A value sets one of `m = 64 * W` bits chosen by its hash; with `z` bits still zero the
//! estimate is `n^ = -m * ln(z / m)` (Whang, Vander-Zanden and Taylor, 1990). For a load
//! `t = n / m` the standard error of `n^ / n` is `sqrt(m * (e^t - t - 1)) / n`:
//!
//! | bits `m` | n = m/8 | n = m/2 | n = m  | n = 2m | n = 4m |
//! |----------|---------|---------|--------|--------|--------|
//! | 256      | 4.5 %   | 4.8 %   | 5.3 %  | 6.5 %  | 11 %   |
//! | 512      | 3.2 %   | 3.4 %   | 3.7 %  | 4.6 %  | 7.8 %  |
//!
//! For small counts the absolute error is what matters: about `n / sqrt(2m)`, so up to a
//! dozen values in 256 bits are counted exactly or off by one. Once every bit is set the
//! sketch is saturated: [`LinearCounter::estimate`] returns `m * ln(m)` (about 1420 for 256
//! bits, 3194 for 512), a floor on the true count, and [`LinearCounter::saturated`] says so.

use std::net::IpAddr;

/// A distinct-count sketch over `64 * W` bits. See the module docs for its error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinearCounter<const W: usize> {
    bits: [u64; W],
    zeros: u32,
}

impl<const W: usize> Default for LinearCounter<W> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const W: usize> LinearCounter<W> {
    /// Bits in the bitmap.
    pub const BITS: u32 = 64 * W as u32;

    /// An empty sketch.
    pub const fn new() -> Self {
        Self { bits: [0; W], zeros: 64 * W as u32 }
    }

    /// Adds the value whose 64-bit hash is `hash` (use a well-mixed hash: `addr_key`,
    /// `int_key`). Returns whether the sketch changed (the value was probably new).
    pub fn insert(&mut self, hash: u64) -> bool {
        // Fold the high bits in so that weakly mixed low bits still spread.
        let h = hash ^ (hash >> 29) ^ (hash >> 47);
        let bit = (h % u64::from(Self::BITS)) as usize;
        let (w, b) = (bit / 64, 1u64 << (bit % 64));
        if self.bits[w] & b != 0 {
            return false;
        }
        self.bits[w] |= b;
        self.zeros -= 1;
        true
    }

    /// Estimated number of distinct values inserted.
    pub fn estimate(&self) -> f64 {
        let m = f64::from(Self::BITS);
        let z = f64::from(self.zeros.max(1));
        (m * (m / z).ln()).max(0.0)
    }

    /// [`LinearCounter::estimate`] rounded to an integer.
    pub fn count(&self) -> u32 {
        self.estimate().round() as u32
    }

    /// Whether every bit is set (the estimate is then a floor).
    pub fn saturated(&self) -> bool {
        self.zeros == 0
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

/// The likely most frequent item of a stream in one slot (Boyer-Moore majority vote): if an
/// item makes up more than half of the stream it is the candidate; `count` is a lower bound
/// on its lead over the rest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TopOne<T: Copy + PartialEq> {
    item: Option<T>,
    count: u32,
}

impl<T: Copy + PartialEq> Default for TopOne<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Copy + PartialEq> TopOne<T> {
    /// Nothing seen.
    pub const fn new() -> Self {
        Self { item: None, count: 0 }
    }

    /// Counts one occurrence of `x`.
    pub fn add(&mut self, x: T) {
        match self.item {
            Some(c) if c == x => self.count = self.count.saturating_add(1),
            _ if self.count == 0 => {
                self.item = Some(x);
                self.count = 1;
            }
            _ => self.count -= 1,
        }
    }

    /// The candidate (None before any item).
    pub fn get(&self) -> Option<T> {
        self.item
    }

    /// The candidate's lead (0 = no item dominates).
    pub fn lead(&self) -> u32 {
        self.count
    }

    /// Forgets everything.
    pub fn clear(&mut self) {
        *self = Self::new();
    }
}

/// Slots searched from a key's home slot; the least recently touched of them is evicted
/// when all are taken.
const WAYS: usize = 8;

struct Slot<K, V> {
    hash: u64,
    stamp: u64,
    key: K,
    val: V,
}

/// A fixed-capacity key -> value table: open addressing over a slot array allocated in
/// [`BoundedTable::new`], a key lives in one of 8 slots from its home; inserting into
/// a full neighbourhood evicts the entry with the oldest stamp (counted). It never grows,
/// so memory is `capacity * size_of::<(K, V)>()` plus a few words per slot.
pub struct BoundedTable<K, V> {
    slots: Box<[Option<Slot<K, V>>]>,
    mask: usize,
    len: usize,
    evicted: u64,
}

impl<K, V> std::fmt::Debug for BoundedTable<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BoundedTable").field("len", &self.len).field("capacity", &self.slots.len()).finish()
    }
}

impl<K: Copy + Eq, V> BoundedTable<K, V> {
    /// A table of `capacity` slots, rounded up to a power of two (at least 8).
    pub fn new(capacity: usize) -> Self {
        let n = capacity.clamp(WAYS, 1 << 26).next_power_of_two();
        Self { slots: (0..n).map(|_| None).collect(), mask: n - 1, len: 0, evicted: 0 }
    }

    /// Slots (the most entries the table holds).
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no entry is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries evicted to make room so far.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    fn home(&self, hash: u64) -> usize {
        ((hash ^ (hash >> 32)) as usize) & self.mask
    }

    fn find(&self, hash: u64, key: &K) -> Option<usize> {
        let home = self.home(hash);
        (0..WAYS)
            .map(|i| (home + i) & self.mask)
            .find(|&i| matches!(&self.slots[i], Some(s) if s.hash == hash && s.key == *key))
    }

    /// The value of `key` (`hash` is its 64-bit hash).
    pub fn get(&self, hash: u64, key: &K) -> Option<&V> {
        let i = self.find(hash, key)?;
        self.slots[i].as_ref().map(|s| &s.val)
    }

    /// The value of `key`, mutably, without touching its stamp.
    pub fn get_mut(&mut self, hash: u64, key: &K) -> Option<&mut V> {
        let i = self.find(hash, key)?;
        self.slots[i].as_mut().map(|s| &mut s.val)
    }

    /// The value of `key`, inserted with `init()` when absent (evicting the stalest entry of
    /// the neighbourhood when it is full); its stamp becomes `stamp` (never moves back).
    /// The flag says whether it was inserted.
    pub fn get_or_insert_with(&mut self, hash: u64, key: K, stamp: u64, init: impl FnOnce() -> V) -> (&mut V, bool) {
        let (i, inserted) = match self.find(hash, &key) {
            Some(i) => (i, false),
            None => {
                let home = self.home(hash);
                let mut victim = home;
                let mut oldest = u64::MAX;
                for w in 0..WAYS {
                    let i = (home + w) & self.mask;
                    match &self.slots[i] {
                        None => {
                            victim = i;
                            break;
                        }
                        Some(s) if s.stamp < oldest => {
                            victim = i;
                            oldest = s.stamp;
                        }
                        Some(_) => {}
                    }
                }
                if self.slots[victim].take().is_some() {
                    self.evicted += 1;
                } else {
                    self.len += 1;
                }
                (victim, true)
            }
        };
        let s = self.slots[i].get_or_insert_with(|| Slot { hash, stamp, key, val: init() });
        s.stamp = s.stamp.max(stamp);
        (&mut s.val, inserted)
    }

    /// Removes `key`, returning its value.
    pub fn remove(&mut self, hash: u64, key: &K) -> Option<V> {
        let i = self.find(hash, key)?;
        let s = self.slots[i].take()?;
        self.len -= 1;
        Some(s.val)
    }

    /// Every entry (slot order).
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.slots.iter().filter_map(|s| s.as_ref().map(|s| (&s.key, &s.val)))
    }

    /// Every entry, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.slots.iter_mut().filter_map(|s| s.as_mut().map(|s| (&s.key, &mut s.val)))
    }

    /// Keeps the entries for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        for slot in self.slots.iter_mut() {
            if let Some(s) = slot
                && !keep(&s.key, &mut s.val)
            {
                *slot = None;
                self.len -= 1;
            }
        }
    }
}

/// A set of ports as a 65536-bit bitmap (8 KiB, allocated once): O(1) membership for
/// configured port lists.
#[derive(Clone)]
pub struct PortSet {
    bits: Box<[u64]>,
}

impl std::fmt::Debug for PortSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortSet").field("len", &self.bits.iter().map(|w| w.count_ones()).sum::<u32>()).finish()
    }
}

impl PortSet {
    /// The set of `ports`.
    pub fn new(ports: &[u16]) -> Self {
        let mut bits = vec![0u64; 1024].into_boxed_slice();
        for &p in ports {
            bits[usize::from(p) / 64] |= 1 << (p % 64);
        }
        Self { bits }
    }

    /// Whether `port` is in the set.
    pub fn contains(&self, port: u16) -> bool {
        self.bits[usize::from(port) / 64] & (1 << (port % 64)) != 0
    }
}

/// Whether `a` can be the address of one host: not multicast, broadcast, unspecified or
/// loopback... (loopback is kept: local tools scan it too). IPv4 addresses ending in .255
/// are treated as subnet broadcasts.
pub fn is_unicast(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => !(v.is_multicast() || v.is_broadcast() || v.is_unspecified() || v.octets()[3] == 255),
        IpAddr::V6(v) => !(v.is_multicast() || v.is_unspecified()),
    }
}

/// Whether `a` is in private, loopback, link-local or unique-local space.
pub fn is_internal(a: &IpAddr) -> bool {
    match a {
        IpAddr::V4(v) => {
            v.is_private() || v.is_loopback() || v.is_link_local() || v.octets()[0] == 100 && v.octets()[1] & 0xc0 == 64
        }
        IpAddr::V6(v) => {
            v.is_loopback() || (v.segments()[0] & 0xfe00) == 0xfc00 || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::event::int_key;

    fn fill<const W: usize>(n: u64, seed: u64) -> LinearCounter<W> {
        let mut s = LinearCounter::<W>::new();
        for i in 0..n {
            s.insert(int_key(i.wrapping_mul(0x1_0001).wrapping_add(seed << 40)));
        }
        s
    }

    #[test]
    fn small_counts_are_exact_or_off_by_one() {
        for n in [1u64, 2, 5, 7, 10, 12] {
            for seed in 0..20 {
                let c = fill::<4>(n, seed).count();
                assert!((i64::from(c) - n as i64).abs() <= 1, "n={n} seed={seed} got {c}");
            }
        }
        for seed in 0..20 {
            let c = fill::<4>(30, seed).count();
            assert!((i64::from(c) - 30).abs() <= 4, "n=30 seed={seed} got {c}");
        }
    }

    #[test]
    fn the_error_stays_within_the_documented_bound() {
        // 512 bits: n = 1000 (t ~ 2) has a standard error of ~4.6 %; allow three of them.
        for seed in 0..10 {
            let e = fill::<8>(1000, seed).estimate();
            assert!((e - 1000.0).abs() / 1000.0 < 0.14, "seed {seed}: {e}");
        }
        // 256 bits: n = 128 (t = 0.5) has ~4.8 %.
        for seed in 0..10 {
            let e = fill::<4>(128, seed).estimate();
            assert!((e - 128.0).abs() / 128.0 < 0.15, "seed {seed}: {e}");
        }
    }

    #[test]
    fn duplicates_do_not_count_and_saturation_is_reported() {
        let mut s = LinearCounter::<1>::new();
        for _ in 0..100 {
            s.insert(int_key(42));
        }
        assert_eq!(s.count(), 1);
        let s = fill::<1>(100_000, 1);
        assert!(s.saturated());
        assert!(s.estimate() > 200.0 && s.estimate().is_finite());
        let mut s = s;
        s.clear();
        assert_eq!(s.count(), 0);
    }

    #[test]
    fn top_one_finds_a_majority_item() {
        let mut t = TopOne::new();
        for i in 0..100u16 {
            t.add(if i % 3 == 0 { i } else { 80 });
        }
        assert_eq!(t.get(), Some(80));
        assert!(t.lead() > 0);
        t.clear();
        assert_eq!(t.get(), None);
    }

    #[test]
    fn the_table_never_exceeds_its_capacity_under_1e5_keys() {
        let mut t: BoundedTable<u64, u32> = BoundedTable::new(1000);
        let cap = t.capacity();
        assert_eq!(cap, 1024);
        for k in 0..100_000u64 {
            let (v, inserted) = t.get_or_insert_with(int_key(k), k, k, || 0);
            assert!(inserted);
            *v += 1;
            assert!(t.len() <= cap);
        }
        assert!(t.len() > cap * 9 / 10, "the table fills up: {}", t.len());
        assert_eq!(t.evicted(), 100_000 - t.len() as u64);
        // The newest keys survive; the oldest were evicted.
        assert!(t.get(int_key(99_999), &99_999).is_some());
        assert!(t.get(int_key(0), &0).is_none());
    }

    #[test]
    fn the_table_finds_updates_and_removes_keys() {
        let mut t: BoundedTable<u64, u32> = BoundedTable::new(16);
        *t.get_or_insert_with(7, 7, 1, || 10).0 += 1;
        let (v, inserted) = t.get_or_insert_with(7, 7, 2, || 0);
        assert!(!inserted);
        assert_eq!(*v, 11);
        // Same hash, different key: both live.
        t.get_or_insert_with(7, 8, 3, || 5);
        assert_eq!(t.get(7, &8), Some(&5));
        assert_eq!(t.remove(7, &7), Some(11));
        assert_eq!(t.len(), 1);
        t.retain(|_, v| *v != 5);
        assert!(t.is_empty());
    }

    #[test]
    fn port_sets_and_address_classes() {
        let s = PortSet::new(&[0, 53, 65535]);
        assert!(s.contains(0) && s.contains(53) && s.contains(65535) && !s.contains(54));
        let a = |t: &str| t.parse::<IpAddr>().expect("addr");
        assert!(is_unicast(&a("10.0.0.1")) && !is_unicast(&a("224.0.0.251")) && !is_unicast(&a("10.0.0.255")));
        assert!(!is_unicast(&a("255.255.255.255")) && !is_unicast(&a("ff02::1")) && is_unicast(&a("2001:db8::1")));
        assert!(is_internal(&a("192.168.1.1")) && is_internal(&a("fd00::1")) && !is_internal(&a("8.8.8.8")));
    }
}
