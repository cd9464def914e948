//! DNS over TCP: 2-byte big-endian length framing per direction with bounded buffering.

use super::{DnsError, DnsMessage, looks_like_dns_tcp, parse_message};
use crate::packet::Direction;

/// Buffer capacity kept between frames; a larger buffer is freed once its frame is done.
const KEEP_CAPACITY: usize = 4096;

/// Framing state of one direction.
#[derive(Debug, Default)]
struct DirState {
    /// Start of an incomplete frame; shorter than the largest frame (65535 + 2).
    buf: Vec<u8>,
    /// Set after a gap: frame boundaries are unknown until a chunk starts like a DNS frame.
    lost: bool,
}

/// DNS over TCP framing (2-byte big-endian length prefix) per direction with bounded buffering
/// (max 65535 + 2 per direction).
///
/// Complete frames are decoded straight from the fed chunk; only the start of an unfinished frame
/// is copied. After a gap, chunks are dropped until one starts with a plausible frame.
#[derive(Debug, Default)]
pub struct DnsTcpState {
    to_server: DirState,
    to_client: DirState,
}

impl DnsTcpState {
    /// Fresh state for a new flow.
    pub fn new() -> Self {
        Self::default()
    }

    fn dir(&mut self, dir: Direction) -> &mut DirState {
        match dir {
            Direction::ToServer => &mut self.to_server,
            Direction::ToClient => &mut self.to_client,
        }
    }

    /// Feeds in-order stream bytes of one direction; every completed frame appends one result to `out`.
    pub fn feed(&mut self, dir: Direction, data: &[u8], out: &mut Vec<Result<DnsMessage, DnsError>>) {
        let st = self.dir(dir);
        if st.lost {
            if !looks_like_dns_tcp(data) {
                return;
            }
            st.lost = false;
        }
        let mut data = data;
        while !data.is_empty() {
            if st.buf.is_empty() {
                data = whole_frames(data, out);
                st.buf.extend_from_slice(data);
                return;
            }
            let missing = frame_len(&st.buf).unwrap_or(2).saturating_sub(st.buf.len());
            let (head, rest) = data.split_at(missing.min(data.len()));
            st.buf.extend_from_slice(head);
            data = rest;
            if frame_len(&st.buf) == Some(st.buf.len()) {
                out.push(parse_message(st.buf.get(2..).unwrap_or_default()));
                st.buf.clear();
                if st.buf.capacity() > KEEP_CAPACITY {
                    st.buf = Vec::new();
                }
            }
        }
    }

    /// Bytes of an unfinished frame held for `dir` (never more than 65535 + 1).
    pub fn buffered(&self, dir: Direction) -> usize {
        match dir {
            Direction::ToServer => self.to_server.buf.len(),
            Direction::ToClient => self.to_client.buf.len(),
        }
    }

    /// Stream bytes of `dir` were lost: drops the unfinished frame and waits for a plausible frame start.
    pub fn gap(&mut self, dir: Direction) {
        let st = self.dir(dir);
        st.buf = Vec::new();
        st.lost = true;
    }
}

/// Total length of the frame starting `buf`, once its length prefix is there.
fn frame_len(buf: &[u8]) -> Option<usize> {
    buf.first_chunk::<2>().map(|len| usize::from(u16::from_be_bytes(*len)).saturating_add(2))
}

/// Decodes the complete frames at the start of `data`; returns the unfinished rest.
fn whole_frames<'a>(mut data: &'a [u8], out: &mut Vec<Result<DnsMessage, DnsError>>) -> &'a [u8] {
    while let Some((len, rest)) = data.split_first_chunk::<2>() {
        let Some((msg, next)) = rest.split_at_checked(usize::from(u16::from_be_bytes(*len))) else {
            break;
        };
        out.push(parse_message(msg));
        data = next;
    }
    data
}
