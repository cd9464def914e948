//! Fixed-capacity state of the process agent: a set-associative table keyed by pid (what
//! this instance saw a process do: its last outbound connect, whether its image is a shell,
//! whether it accepted connections) and the learned table of parent/child executable pairs.
//! Both are allocated once; a full set or probe window evicts its oldest or least used entry
//! (counted), so memory is fixed by the config.

use std::net::IpAddr;

use crate::agents::event::{bytes_key, int_key};

use super::names::ShellMode;

/// Ways per set of a [`PidTable`].
const WAYS: usize = 4;

/// What one instance remembers about one process.
#[derive(Clone, Copy, Debug, Default)]
pub struct PidState {
    /// Time of the last outbound connect to an IP address (any destination), 0 = none.
    pub any_connect_ns: u64,
    /// Time of the last connect that counts as reverse-shell evidence, 0 = none.
    pub connect_ns: u64,
    /// Its destination.
    pub connect_addr: Option<IpAddr>,
    /// Its destination port.
    pub connect_port: u16,
    /// Time the current image (a shell) was executed, 0 when the image is not a shell.
    pub shell_ns: u64,
    /// How that shell was asked to run.
    pub shell_mode: Option<ShellMode>,
    /// The process accepted a connection from an IP address.
    pub accepted_ip: bool,
    /// The process accepted a connection (any family).
    pub accepted: bool,
    /// Time of the last reverse-shell finding about a connect by this process, 0 = none.
    pub reported_ns: u64,
    /// Its confidence.
    pub reported_conf: f32,
}

/// What one instance remembers about the children of one parent: the latest interactive
/// shell started under it and the latest connect made by one of its children, to find a
/// shell and a connector started side by side (`cat f | sh -i | nc host port > f`).
#[derive(Clone, Copy, Debug, Default)]
pub struct ChildrenState {
    /// Time of the latest `-i` shell exec among the children, 0 = none.
    pub shell_ns: u64,
    /// Its pid.
    pub shell_pid: u32,
    /// Time of the latest reverse-shell-evidence connect by a child, 0 = none.
    pub connect_ns: u64,
    /// The connecting child.
    pub connect_pid: u32,
    /// Its destination.
    pub connect_addr: Option<IpAddr>,
    /// Its destination port.
    pub connect_port: u16,
}

/// A set-associative table from pid to `V`, evicting the least recently touched entry of a
/// full set.
#[derive(Debug)]
pub struct PidTable<V> {
    keys: Box<[u32]>,
    used: Box<[bool]>,
    touched: Box<[u64]>,
    vals: Box<[V]>,
    sets_mask: usize,
    len: usize,
    /// Live entries overwritten to make room.
    pub evicted: u64,
}

impl<V: Copy + Default> PidTable<V> {
    /// A table of at least `capacity` entries.
    pub fn new(capacity: usize) -> Self {
        let sets = capacity.div_ceil(WAYS).max(1).next_power_of_two();
        let n = sets * WAYS;
        Self {
            keys: vec![0; n].into(),
            used: vec![false; n].into(),
            touched: vec![0; n].into(),
            vals: vec![V::default(); n].into(),
            sets_mask: sets - 1,
            len: 0,
            evicted: 0,
        }
    }

    fn base(&self, pid: u32) -> usize {
        ((int_key(u64::from(pid)) as usize) & self.sets_mask) * WAYS
    }

    fn find(&self, pid: u32) -> Option<usize> {
        let b = self.base(pid);
        (b..b + WAYS).find(|&i| self.used[i] && self.keys[i] == pid)
    }

    /// The entry of `pid`.
    pub fn get(&self, pid: u32) -> Option<&V> {
        self.find(pid).map(|i| &self.vals[i])
    }

    /// The entry of `pid`, created (evicting the set's least recently touched) if absent.
    pub fn entry(&mut self, pid: u32, now_ns: u64) -> &mut V {
        let i = match self.find(pid) {
            Some(i) => i,
            None => {
                let b = self.base(pid);
                let i = match (b..b + WAYS).find(|&i| !self.used[i]) {
                    Some(i) => {
                        self.len += 1;
                        i
                    }
                    None => {
                        self.evicted += 1;
                        (b..b + WAYS).min_by_key(|&i| self.touched[i]).unwrap_or(b)
                    }
                };
                self.keys[i] = pid;
                self.used[i] = true;
                self.vals[i] = V::default();
                i
            }
        };
        self.touched[i] = self.touched[i].max(now_ns);
        &mut self.vals[i]
    }

    /// Forgets `pid`.
    pub fn remove(&mut self, pid: u32) {
        if let Some(i) = self.find(pid) {
            self.used[i] = false;
            self.touched[i] = 0;
            self.len -= 1;
        }
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Entries the table can hold.
    pub fn capacity(&self) -> usize {
        self.keys.len()
    }
}

/// Bytes of an executable name kept in the pair table.
pub const PAIR_NAME: usize = 32;

/// A short name held inline.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ShortName {
    len: u8,
    buf: [u8; PAIR_NAME],
}

impl ShortName {
    /// `b`, cut at [`PAIR_NAME`] bytes.
    pub fn new(b: &[u8]) -> Self {
        let mut s = Self::default();
        let n = b.len().min(PAIR_NAME);
        s.buf[..n].copy_from_slice(&b[..n]);
        s.len = n as u8;
        s
    }

    /// The bytes held.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct PairSlot {
    used: bool,
    key: u64,
    count: u32,
    last_ns: u64,
    parent: ShortName,
    child: ShortName,
}

/// Slots probed from a pair's home slot.
const PAIR_PROBE: usize = 8;

/// Counts of (parent executable, child executable) pairs in a fixed table; a full probe
/// window evicts its least used (then least recent) pair.
#[derive(Debug)]
pub struct PairTable {
    slots: Box<[PairSlot]>,
    len: usize,
    /// Pairs evicted to make room.
    pub evicted: u64,
}

/// The key of a pair (names cut as stored).
pub fn pair_key(parent: &[u8], child: &[u8]) -> u64 {
    let p = &parent[..parent.len().min(PAIR_NAME)];
    let c = &child[..child.len().min(PAIR_NAME)];
    bytes_key(p) ^ bytes_key(c).rotate_left(17).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

impl PairTable {
    /// A table of exactly `capacity` pairs (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self { slots: vec![PairSlot::default(); capacity.max(1)].into(), len: 0, evicted: 0 }
    }

    fn home(&self, key: u64) -> usize {
        ((key ^ (key >> 29)) % self.slots.len() as u64) as usize
    }

    fn probe(&self, key: u64) -> (Option<usize>, Option<usize>, usize) {
        let n = self.slots.len();
        let home = self.home(key);
        let mut empty = None;
        let mut victim: Option<usize> = None;
        for k in 0..PAIR_PROBE.min(n) {
            let i = (home + k) % n;
            let s = &self.slots[i];
            if s.used && s.key == key {
                return (Some(i), None, i);
            }
            if !s.used {
                empty = empty.or(Some(i));
                continue;
            }
            let older = victim.is_none_or(|v| (s.count, s.last_ns) < (self.slots[v].count, self.slots[v].last_ns));
            if older {
                victim = Some(i);
            }
        }
        (None, empty, victim.unwrap_or(home))
    }

    /// How often the pair was seen before.
    pub fn count(&self, parent: &[u8], child: &[u8]) -> u32 {
        match self.probe(pair_key(parent, child)) {
            (Some(i), _, _) => self.slots[i].count,
            _ => 0,
        }
    }

    /// Adds `n` sightings of the pair at `now_ns`; returns the count before.
    pub fn add(&mut self, parent: &[u8], child: &[u8], n: u32, now_ns: u64) -> u32 {
        let key = pair_key(parent, child);
        let i = match self.probe(key) {
            (Some(i), _, _) => i,
            (None, Some(e), _) => {
                self.len += 1;
                self.fill(e, key, parent, child);
                e
            }
            (None, None, v) => {
                self.evicted += 1;
                self.fill(v, key, parent, child);
                v
            }
        };
        let s = &mut self.slots[i];
        let before = s.count;
        s.count = s.count.saturating_add(n);
        s.last_ns = s.last_ns.max(now_ns);
        before
    }

    fn fill(&mut self, i: usize, key: u64, parent: &[u8], child: &[u8]) {
        self.slots[i] = PairSlot {
            used: true,
            key,
            count: 0,
            last_ns: 0,
            parent: ShortName::new(parent),
            child: ShortName::new(child),
        };
    }

    /// Pairs held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether no pair is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Every pair: (parent, child, count).
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &[u8], u32)> {
        self.slots.iter().filter(|s| s.used).map(|s| (s.parent.as_bytes(), s.child.as_bytes(), s.count))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_table_never_holds_more_than_its_capacity() {
        let mut t: PidTable<PidState> = PidTable::new(1000);
        for pid in 0..100_000u32 {
            t.entry(pid, u64::from(pid)).connect_ns = 1;
            assert!(t.len() <= t.capacity());
        }
        assert_eq!(t.len(), t.capacity());
        assert!(t.evicted > 0);
        // The latest entries are kept.
        assert!(t.get(99_999).is_some());
        t.remove(99_999);
        assert!(t.get(99_999).is_none());
    }

    #[test]
    fn the_pair_table_counts_and_evicts_the_least_used_pair() {
        let mut t = PairTable::new(4096);
        assert_eq!(t.add(b"cargo", b"rustc", 1, 1), 0);
        assert_eq!(t.add(b"cargo", b"rustc", 1, 2), 1);
        assert_eq!(t.count(b"cargo", b"rustc"), 2);
        assert_eq!(t.count(b"rustc", b"cargo"), 0);
        for i in 0..100_000u32 {
            let name = i.to_string();
            t.add(b"x", name.as_bytes(), 1, u64::from(i) + 10);
            assert!(t.len() <= 4096);
        }
        assert_eq!(t.len(), 4096);
        assert!(t.evicted > 0);
        // The pair seen twice outlived pairs seen once around it.
        assert_eq!(t.count(b"cargo", b"rustc"), 2);
    }

    #[test]
    fn a_one_slot_pair_table_still_works() {
        let mut t = PairTable::new(0);
        t.add(b"a", b"b", 1, 1);
        t.add(b"c", b"d", 1, 2);
        assert_eq!(t.len(), 1);
        assert_eq!(t.iter().count(), 1);
    }
}
