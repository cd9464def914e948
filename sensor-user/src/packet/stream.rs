//! TCP stream reassembly for one direction: in-order delivery of payload bytes to the
//! application layer, up to a depth, with retransmissions, overlaps, out-of-order segments
//! and gaps handled.
//!
//! Policy: bytes are delivered once, in sequence order. A segment that starts before the next
//! expected byte is trimmed (retransmission; the first copy wins). A segment beyond it waits
//! in a bounded out-of-order buffer (first copy wins on overlaps there too); when that buffer
//! exceeds [`OOO_LIMIT`] bytes, or the flow ends, the hole before the earliest waiting
//! segment is declared a gap and delivery resumes after it. In-order segments are handed
//! over without copying. Beyond the depth nothing is buffered or delivered.

use std::collections::BTreeMap;

/// Most bytes held out of order per direction before the hole is declared a gap.
pub const OOO_LIMIT: usize = 256 * 1024;
/// Segments more than this far ahead of the next expected byte are ignored as bogus.
const MAX_AHEAD: u32 = 16 << 20;

/// What reassembly hands to the application layer.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// Next bytes of the stream.
    Data(&'a [u8]),
    /// This many bytes are missing before the next `Data`.
    Gap(u64),
}

/// Counters of one direction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StreamStats {
    /// Segments (or parts) that repeated bytes already delivered or buffered.
    pub retransmitted: u64,
    /// Segments that arrived ahead of the next expected byte.
    pub out_of_order: u64,
    /// Overlapping bytes that differed from the first copy (an evasion signal).
    pub overlap_diff: u64,
    /// Gaps declared.
    pub gaps: u64,
    /// Bytes skipped as gaps.
    pub gap_bytes: u64,
    /// The depth was reached.
    pub depth_reached: bool,
}

/// Reassembly state of one TCP direction.
#[derive(Debug, Default)]
pub struct Stream {
    /// Sequence number of the next byte to deliver, once known.
    next: Option<u32>,
    /// Stream bytes delivered or skipped so far.
    offset: u64,
    /// Out-of-order segments by stream offset.
    ooo: BTreeMap<u64, Vec<u8>>,
    ooo_bytes: usize,
    /// Counters.
    pub stats: StreamStats,
}

impl Stream {
    /// Stream bytes delivered (or skipped) so far.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Takes one segment: `seq`, `syn` and `payload` from the TCP header. Delivers what
    /// became contiguous through `deliver`.
    pub fn segment(&mut self, seq: u32, syn: bool, payload: &[u8], depth: u64, deliver: &mut impl FnMut(Chunk<'_>)) {
        let (seq, payload) = if syn {
            if self.next.is_none() || self.offset == 0 {
                self.next = Some(seq.wrapping_add(1));
            }
            (seq.wrapping_add(1), payload)
        } else {
            (seq, payload)
        };
        if payload.is_empty() || self.stats.depth_reached {
            return;
        }
        let next = *self.next.get_or_insert(seq);
        let ahead = seq.wrapping_sub(next);
        if ahead > MAX_AHEAD {
            // Starts before `next` (wrapped): a retransmission, perhaps with new bytes at the end.
            let behind = next.wrapping_sub(seq);
            if behind > 1 << 31 {
                // Far ahead of anything plausible: not part of this stream.
                return;
            }
            let behind = behind as usize;
            if behind >= payload.len() {
                self.stats.retransmitted += 1;
                return;
            }
            self.stats.retransmitted += 1;
            self.deliver_in_order(&payload[behind..], depth, deliver);
        } else if ahead == 0 {
            self.deliver_in_order(payload, depth, deliver);
        } else {
            self.stats.out_of_order += 1;
            self.store(self.offset + u64::from(ahead), payload, depth);
            if self.ooo_bytes > OOO_LIMIT {
                self.skip_to_first(deliver);
                self.drain(depth, deliver);
            }
            return;
        }
        self.drain(depth, deliver);
    }

    /// End of the flow: everything still waiting is delivered, holes as gaps.
    pub fn flush(&mut self, depth: u64, deliver: &mut impl FnMut(Chunk<'_>)) {
        while !self.ooo.is_empty() && !self.stats.depth_reached {
            self.skip_to_first(deliver);
            self.drain(depth, deliver);
        }
        self.ooo.clear();
        self.ooo_bytes = 0;
    }

    fn deliver_in_order(&mut self, bytes: &[u8], depth: u64, deliver: &mut impl FnMut(Chunk<'_>)) {
        let room = depth.saturating_sub(self.offset);
        let take = (bytes.len() as u64).min(room) as usize;
        if take > 0 {
            deliver(Chunk::Data(&bytes[..take]));
        }
        self.advance(bytes.len() as u64);
        if take < bytes.len() || self.offset >= depth {
            self.stats.depth_reached = true;
            self.ooo.clear();
            self.ooo_bytes = 0;
        }
    }

    fn advance(&mut self, n: u64) {
        self.offset += n;
        if let Some(next) = self.next.as_mut() {
            *next = next.wrapping_add(n as u32);
        }
    }

    /// Keeps `payload` at stream offset `at`, trimming bytes already held (first copy wins).
    fn store(&mut self, at: u64, payload: &[u8], depth: u64) {
        let end = (at + payload.len() as u64).min(depth.max(self.offset));
        if end <= at {
            return;
        }
        let mut cursor = at;
        let mut pieces: Vec<(u64, u64)> = Vec::new();
        for (&s, held) in self.ooo.range(..end) {
            let e = s + held.len() as u64;
            if e <= cursor {
                continue;
            }
            if s > cursor {
                pieces.push((cursor, s));
            }
            let (os, oe) = (s.max(at), e.min(end));
            if os < oe {
                let new = &payload[(os - at) as usize..(oe - at) as usize];
                let old = &held[(os - s) as usize..(oe - s) as usize];
                if new != old {
                    self.stats.overlap_diff += 1;
                }
                self.stats.retransmitted += 1;
            }
            cursor = cursor.max(e);
        }
        if cursor < end {
            pieces.push((cursor, end));
        }
        for (s, e) in pieces {
            let bytes = payload[(s - at) as usize..(e - at) as usize].to_vec();
            self.ooo_bytes += bytes.len();
            self.ooo.insert(s, bytes);
        }
    }

    /// Declares the hole before the first waiting segment a gap.
    fn skip_to_first(&mut self, deliver: &mut impl FnMut(Chunk<'_>)) {
        if let Some((&first, _)) = self.ooo.first_key_value() {
            if first > self.offset {
                let gap = first - self.offset;
                deliver(Chunk::Gap(gap));
                self.stats.gaps += 1;
                self.stats.gap_bytes += gap;
                self.advance(gap);
            }
        }
    }

    /// Delivers waiting segments that became contiguous.
    fn drain(&mut self, depth: u64, deliver: &mut impl FnMut(Chunk<'_>)) {
        while let Some(entry) = self.ooo.first_entry() {
            let start = *entry.key();
            if start > self.offset {
                break;
            }
            let bytes = entry.remove();
            self.ooo_bytes -= bytes.len();
            let skip = (self.offset - start) as usize;
            if skip < bytes.len() {
                self.deliver_in_order(&bytes[skip..], depth, deliver);
            }
            if self.stats.depth_reached {
                break;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stream: &mut Stream, segs: &[(u32, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for &(seq, data) in segs {
            stream.segment(seq, false, data, 1 << 20, &mut |c| match c {
                Chunk::Data(d) => out.extend_from_slice(d),
                Chunk::Gap(n) => out.extend(std::iter::repeat_n(b'_', n as usize)),
            });
        }
        stream.flush(1 << 20, &mut |c| match c {
            Chunk::Data(d) => out.extend_from_slice(d),
            Chunk::Gap(n) => out.extend(std::iter::repeat_n(b'_', n as usize)),
        });
        out
    }

    fn syn(isn: u32) -> Stream {
        let mut s = Stream::default();
        s.segment(isn, true, &[], 1 << 20, &mut |_| {});
        s
    }

    #[test]
    fn in_order_segments_concatenate() {
        let mut s = syn(1000);
        assert_eq!(run(&mut s, &[(1001, b"GET "), (1005, b"/ HTTP/1.1")]), b"GET / HTTP/1.1");
    }

    #[test]
    fn out_of_order_segments_are_reordered() {
        let mut s = syn(u32::MAX - 2);
        // ISN near the wrap: sequence numbers wrap around zero.
        let out = run(&mut s, &[(4, b"world"), (u32::MAX - 1, b"hello ")]);
        assert_eq!(out, b"hello world");
        assert_eq!(s.stats.out_of_order, 1);
    }

    #[test]
    fn retransmission_and_partial_overlap_keep_the_first_copy() {
        let mut s = syn(0);
        let out = run(&mut s, &[(1, b"abcd"), (1, b"abcd"), (3, b"XXef")]);
        assert_eq!(out, b"abcdef");
        assert_eq!(s.stats.retransmitted, 2);
    }

    #[test]
    fn overlapping_out_of_order_data_first_copy_wins_and_is_flagged() {
        let mut s = syn(0);
        let out = run(&mut s, &[(5, b"efgh"), (3, b"cdXX"), (1, b"ab")]);
        assert_eq!(out, b"abcdefgh");
        assert_eq!(s.stats.overlap_diff, 1);
    }

    #[test]
    fn missing_bytes_become_a_gap_at_flush() {
        let mut s = syn(0);
        let out = run(&mut s, &[(1, b"ab"), (6, b"fg")]);
        assert_eq!(out, b"ab___fg");
        assert_eq!(s.stats.gaps, 1);
        assert_eq!(s.stats.gap_bytes, 3);
    }

    #[test]
    fn depth_limits_delivery() {
        let mut s = syn(0);
        let mut out = Vec::new();
        for i in 0..10u32 {
            s.segment(1 + i * 4, false, b"abcd", 10, &mut |c| {
                if let Chunk::Data(d) = c {
                    out.extend_from_slice(d)
                }
            });
        }
        assert_eq!(out, b"abcdabcdab");
        assert!(s.stats.depth_reached);
    }

    #[test]
    fn midstream_starts_at_the_first_segment_seen() {
        let mut s = Stream::default();
        assert_eq!(run(&mut s, &[(5000, b"xyz"), (5003, b"!")]), b"xyz!");
    }

    #[test]
    fn out_of_order_buffer_is_bounded() {
        let mut s = syn(0);
        let big = vec![1u8; 64 * 1024];
        let mut gaps = 0;
        for i in 0..8u32 {
            s.segment(100 + i * big.len() as u32, false, &big, 1 << 30, &mut |c| {
                if let Chunk::Gap(_) = c {
                    gaps += 1
                }
            });
        }
        assert!(s.ooo_bytes <= OOO_LIMIT);
        assert_eq!(gaps, 1);
    }
}
