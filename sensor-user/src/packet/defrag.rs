//! IPv4 and IPv6 fragment reassembly with bounded memory and a capture-time timeout.
//!
//! Datagrams are keyed by (family, source, destination, protocol for IPv4, identification,
//! VLAN). Overlap policy: **first wins**: bytes already received are kept, a later fragment
//! only fills holes; overlapping bytes that differ are counted as `defrag.overlap` (an
//! evasion signal) but do not stop reassembly. Limits: a datagram may not exceed 65535 bytes
//! (`defrag.too_large`, the datagram is dropped); at most `max_datagrams` pending datagrams and
//! `max_bytes` buffered bytes (`defrag.memcap`, the fragment is dropped); a datagram not
//! completed within `timeout_ns` of its first fragment is dropped (`defrag.timeout`).

use std::collections::HashMap;

use super::decode::{DecodeError, Packet};

/// Reassembly limits.
#[derive(Clone, Copy, Debug)]
pub struct DefragConfig {
    /// Drop a datagram this long (capture time) after its first fragment.
    pub timeout_ns: u64,
    /// Most bytes buffered across all pending datagrams.
    pub max_bytes: usize,
    /// Most pending datagrams.
    pub max_datagrams: usize,
    /// Most fragments accepted for one datagram.
    pub max_fragments: u16,
}

impl Default for DefragConfig {
    fn default() -> Self {
        Self { timeout_ns: 60_000_000_000, max_bytes: 32 << 20, max_datagrams: 65_535, max_fragments: 256 }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct DatagramKey {
    family: u8,
    proto: u8,
    vlan: u16,
    id: u32,
    src: [u8; 16],
    dst: [u8; 16],
}

#[derive(Debug, Default)]
struct Pending {
    first_ns: u64,
    /// Unfragmentable part from the offset-0 fragment (IPv4 header / IPv6 headers).
    header: Vec<u8>,
    /// Where the next-header byte sits in `header` (IPv6), and the value to put there.
    next_header: Option<(usize, u8)>,
    /// Received pieces (offset, bytes), never overlapping each other.
    pieces: Vec<(u32, Vec<u8>)>,
    /// Received byte ranges, sorted and merged.
    have: Vec<(u32, u32)>,
    total: Option<u32>,
    fragments: u16,
    /// Bytes held (pieces + header), for the memory limit.
    held: usize,
}

impl Pending {
    fn complete(&self) -> bool {
        match (self.total, self.have.as_slice()) {
            (Some(t), [(0, end)]) => *end == t && !self.header.is_empty(),
            _ => false,
        }
    }

    /// Keeps the bytes of `[start, start + len)` not yet received; returns whether bytes
    /// already received in the overlap differed from the new ones.
    fn fill(&mut self, start: u32, bytes: &[u8]) -> bool {
        let end = start + bytes.len() as u32;
        let mut differs = false;
        for (at, held) in &self.pieces {
            let (os, oe) = ((*at).max(start), (at + held.len() as u32).min(end));
            if os < oe
                && held[(os - at) as usize..(oe - at) as usize] != bytes[(os - start) as usize..(oe - start) as usize]
            {
                differs = true;
            }
        }
        let mut cursor = start;
        let mut fresh = Vec::new();
        for &(a, b) in &self.have {
            if b <= cursor || a >= end {
                continue;
            }
            if a > cursor {
                fresh.push((cursor, a));
            }
            cursor = cursor.max(b);
        }
        if cursor < end {
            fresh.push((cursor, end));
        }
        for (s, e) in fresh {
            let piece = bytes[(s - start) as usize..(e - start) as usize].to_vec();
            self.held += piece.len();
            self.pieces.push((s, piece));
        }
        self.have.push((start, end));
        self.have.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(self.have.len());
        for &(a, b) in &self.have {
            match merged.last_mut() {
                Some(last) if a <= last.1 => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        self.have = merged;
        differs
    }
}

/// Counters of what reassembly did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DefragStats {
    /// Fragments accepted.
    pub fragments: u64,
    /// Datagrams completed.
    pub reassembled: u64,
}

/// The reassembler.
#[derive(Debug)]
pub struct Defrag {
    cfg: DefragConfig,
    pending: HashMap<DatagramKey, Pending, foldhash::fast::RandomState>,
    bytes: usize,
    out: Vec<u8>,
    /// What happened so far.
    pub stats: DefragStats,
}

impl Defrag {
    /// An empty reassembler.
    pub fn new(cfg: DefragConfig) -> Self {
        Self { cfg, pending: HashMap::default(), bytes: 0, out: Vec::new(), stats: DefragStats::default() }
    }

    /// Datagrams waiting for fragments.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Adds the fragment `p` (its `fragment` must be set). Returns the reassembled datagram
    /// (IP header included, ready for [`super::decode::decode_ip`]) once complete.
    pub fn add(&mut self, p: &Packet<'_>) -> Result<Option<&[u8]>, DecodeError> {
        let Some(f) = p.fragment else { return Ok(None) };
        let key = DatagramKey {
            family: p.key.family,
            proto: if p.key.family == 4 { p.key.proto } else { 0 },
            vlan: p.key.vlan,
            id: f.id,
            src: p.key.saddr,
            dst: p.key.daddr,
        };
        let data = p.l3.get(usize::from(f.data_start)..).unwrap_or(&[]);
        let end = f.offset as usize + data.len();
        if end > 65535 {
            if let Some(old) = self.pending.remove(&key) {
                self.bytes -= old.held;
            }
            return Err(DecodeError::FragTooLarge);
        }
        if !self.pending.contains_key(&key)
            && (self.pending.len() >= self.cfg.max_datagrams || self.bytes + data.len() > self.cfg.max_bytes)
        {
            return Err(DecodeError::FragMemcap);
        }
        let entry = self.pending.entry(key).or_insert_with(|| Pending { first_ns: p.ts_ns, ..Pending::default() });
        let before = entry.held;
        if entry.fragments >= self.cfg.max_fragments || self.bytes + data.len() > self.cfg.max_bytes {
            return Err(DecodeError::FragMemcap);
        }
        entry.fragments += 1;
        self.stats.fragments += 1;
        if f.offset == 0 && entry.header.is_empty() {
            let unfrag = usize::from(f.unfrag_len);
            entry.header.extend_from_slice(p.l3.get(..unfrag).unwrap_or(&[]));
            entry.held += entry.header.len();
            if p.key.family == 6 {
                entry.next_header = Some((usize::from(f.next_header_at), p.key.proto));
            }
        }
        if !f.more {
            entry.total = Some(end as u32);
        }
        let overlap = entry.fill(f.offset, data);
        self.bytes = self.bytes + entry.held - before;
        if !entry.complete() {
            return if overlap { Err(DecodeError::FragOverlap) } else { Ok(None) };
        }
        let mut done = self.pending.remove(&key).unwrap_or_default();
        self.bytes -= done.held;
        self.stats.reassembled += 1;
        let total = done.total.unwrap_or(0) as usize;
        self.out.clear();
        self.out.extend_from_slice(&done.header);
        done.pieces.sort_unstable_by_key(|(at, _)| *at);
        for (_, piece) in &done.pieces {
            self.out.extend_from_slice(piece);
        }
        self.out.truncate(done.header.len() + total);
        let hlen = done.header.len();
        if key.family == 4 {
            let len = ((hlen + total) as u16).to_be_bytes();
            self.out[2..4].copy_from_slice(&len);
            self.out[6] = 0;
            self.out[7] = 0;
        } else if let Some((at, nh)) = done.next_header {
            let plen = ((hlen + total - 40) as u16).to_be_bytes();
            self.out[4..6].copy_from_slice(&plen);
            if let Some(b) = self.out.get_mut(at) {
                *b = nh;
            }
        }
        Ok(Some(&self.out))
    }

    /// Drops datagrams older than the timeout at capture time `now_ns`; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> u64 {
        let timeout = self.cfg.timeout_ns;
        let mut dropped = 0;
        let mut freed = 0;
        self.pending.retain(|_, d| {
            let keep = now_ns.saturating_sub(d.first_ns) < timeout;
            if !keep {
                dropped += 1;
                freed += d.held;
            }
            keep
        });
        self.bytes -= freed;
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::packet::decode::{LinkType, decode, decode_ip};

    /// An IPv4/UDP datagram split into fragments of `chunk` payload bytes.
    fn v4_fragments(payload: &[u8], chunk: usize) -> Vec<Vec<u8>> {
        let mut udp = vec![0x30, 0x39, 0x00, 0x35];
        udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        udp.chunks(chunk)
            .enumerate()
            .map(|(i, part)| {
                let off = i * chunk;
                let more = off + part.len() < udp.len();
                let mut h = vec![0x45, 0, 0, 0, 0x12, 0x34, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
                h[2..4].copy_from_slice(&((20 + part.len()) as u16).to_be_bytes());
                let ff = ((off / 8) as u16) | if more { 0x2000 } else { 0 };
                h[6..8].copy_from_slice(&ff.to_be_bytes());
                h.extend_from_slice(part);
                h
            })
            .collect()
    }

    fn feed(d: &mut Defrag, frag: &[u8]) -> Result<Option<Vec<u8>>, DecodeError> {
        let p = decode(LinkType::Raw, 1, frag).expect("fragment decodes");
        assert!(p.fragment.is_some());
        d.add(&p).map(|o| o.map(<[u8]>::to_vec))
    }

    #[test]
    fn out_of_order_fragments_reassemble_to_the_udp_payload() {
        let payload: Vec<u8> = (0..100u8).collect();
        let frags = v4_fragments(&payload, 32);
        let mut d = Defrag::new(DefragConfig::default());
        let mut done = None;
        for f in frags.iter().rev() {
            if let Some(dg) = feed(&mut d, f).expect("no error") {
                done = Some(dg);
            }
        }
        let dg = done.expect("complete");
        let mut p = Packet::default();
        decode_ip(&dg, &mut p).expect("reassembled decodes");
        assert_eq!(p.payload, &payload[..]);
        assert_eq!((p.key.sport, p.key.dport), (12345, 53));
        assert_eq!(d.pending(), 0);
        assert_eq!(d.bytes, 0);
    }

    #[test]
    fn first_fragment_wins_on_overlap_and_the_overlap_is_reported() {
        let payload = [b'A'; 48];
        let frags = v4_fragments(&payload, 24);
        let mut evil = frags[1].clone();
        // Same offset as the second fragment, different bytes.
        for b in &mut evil[20..] {
            *b = b'B';
        }
        let mut d = Defrag::new(DefragConfig::default());
        assert_eq!(feed(&mut d, &frags[1]), Ok(None));
        assert_eq!(feed(&mut d, &evil), Err(DecodeError::FragOverlap));
        let mut out = None;
        for f in [&frags[0], &frags[2]] {
            if let Ok(Some(dg)) = feed(&mut d, f) {
                out = Some(dg);
            }
        }
        let dg = out.expect("complete");
        assert!(!dg.contains(&b'B'));
    }

    #[test]
    fn incomplete_datagrams_time_out_and_free_their_memory() {
        let frags = v4_fragments(&[7; 64], 16);
        let mut d = Defrag::new(DefragConfig::default());
        assert_eq!(feed(&mut d, &frags[0]), Ok(None));
        assert_eq!(d.expire(30_000_000_000), 0);
        assert_eq!(d.expire(61_000_000_001), 1);
        assert_eq!(d.pending(), 0);
        assert_eq!(d.bytes, 0);
    }

    #[test]
    fn memory_limit_refuses_new_datagrams() {
        let cfg = DefragConfig { max_datagrams: 1, ..DefragConfig::default() };
        let mut d = Defrag::new(cfg);
        let a = v4_fragments(&[1; 64], 16);
        let mut b = v4_fragments(&[2; 64], 16);
        b[0][5] = 0x99; // another id
        assert_eq!(feed(&mut d, &a[0]), Ok(None));
        assert_eq!(feed(&mut d, &b[0]), Err(DecodeError::FragMemcap));
    }

    #[test]
    fn oversized_datagram_is_refused() {
        let mut f = v4_fragments(&[0; 64], 16)[1].clone();
        f[6..8].copy_from_slice(&(0x2000u16 | 8190).to_be_bytes());
        let mut d = Defrag::new(DefragConfig::default());
        assert_eq!(feed(&mut d, &f), Err(DecodeError::FragTooLarge));
    }
}
