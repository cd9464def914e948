//! Network layer: IPv4 (options, fragments, total-length trim) and IPv6 (extension-header
//! walk, fragment header), then [`super::l4`]. Also the IP-in-IP entry for tunnels.

use sensor_common::flow::family;

use super::{DecodeError, Fragment, MAX_IPV6_EXT_HEADERS, Packet, be16, be32, l4::decode_l4};

/// Decodes an IP datagram (version from the first nibble) into `p`.
pub fn decode_ip<'a>(b: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    match b.first().map(|v| v >> 4) {
        Some(4) => decode_ipv4(b, p),
        Some(6) => decode_ipv6(b, p),
        Some(_) => Err(DecodeError::Ipv4Version),
        None => Err(DecodeError::Ipv4Truncated),
    }
}

fn decode_ipv4<'a>(b: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    if b.len() < 20 {
        return Err(DecodeError::Ipv4Truncated);
    }
    if b[0] >> 4 != 4 {
        return Err(DecodeError::Ipv4Version);
    }
    let ihl = usize::from(b[0] & 0x0F) * 4;
    if ihl < 20 || ihl > b.len() {
        return Err(DecodeError::Ipv4HeaderLen);
    }
    let total = usize::from(be16(b, 2).unwrap_or(0));
    // Zero appears in captures taken before TCP segmentation offload; use what was captured.
    let total = if total == 0 { b.len() } else { total };
    if total < ihl {
        return Err(DecodeError::Ipv4TotalLen);
    }
    if total > b.len() {
        p.truncated = true;
    }
    let dgram = &b[..total.min(b.len())];
    p.l3 = dgram;
    p.key.family = family::V4;
    p.key.saddr = [0; 16];
    p.key.daddr = [0; 16];
    p.key.saddr[..4].copy_from_slice(&b[12..16]);
    p.key.daddr[..4].copy_from_slice(&b[16..20]);
    p.key.proto = b[9];
    p.key.sport = 0;
    p.key.dport = 0;
    p.ttl = b[8];
    let frag = be16(b, 6).unwrap_or(0);
    let more = frag & 0x2000 != 0;
    let offset = u32::from(frag & 0x1FFF) * 8;
    if more || offset != 0 {
        p.fragment = Some(Fragment {
            id: u32::from(be16(b, 4).unwrap_or(0)),
            offset,
            more,
            data_start: ihl as u16,
            next_header_at: 9,
            unfrag_len: ihl as u16,
        });
        return Ok(());
    }
    p.fragment = None;
    decode_l4(b[9], &dgram[ihl..], p)
}

fn decode_ipv6<'a>(b: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    if b.len() < 40 {
        return Err(DecodeError::Ipv6Truncated);
    }
    if b[0] >> 4 != 6 {
        return Err(DecodeError::Ipv6Version);
    }
    let plen = usize::from(be16(b, 4).unwrap_or(0));
    // A zero payload length means a jumbogram (or offload): use what was captured.
    let total = if plen == 0 { b.len() } else { 40 + plen };
    if total > b.len() {
        p.truncated = true;
    }
    let dgram = &b[..total.min(b.len())];
    p.l3 = dgram;
    p.key.family = family::V6;
    p.key.saddr.copy_from_slice(&b[8..24]);
    p.key.daddr.copy_from_slice(&b[24..40]);
    p.key.sport = 0;
    p.key.dport = 0;
    p.ttl = b[7];
    let mut next = b[6];
    let mut next_at = 6usize;
    let mut at = 40usize;
    for _ in 0..=MAX_IPV6_EXT_HEADERS {
        match next {
            // Hop-by-hop, routing, destination options, mobility, HIP, shim6.
            0 | 43 | 60 | 135 | 139 | 140 => {
                let len = usize::from(*dgram.get(at + 1).ok_or(DecodeError::Ipv6ExtTruncated)?);
                let hdr = (len + 1) * 8;
                if at + hdr > dgram.len() {
                    return Err(DecodeError::Ipv6ExtTruncated);
                }
                next_at = at;
                next = dgram[at];
                at += hdr;
            }
            // Authentication header: length in 4-byte units minus 2.
            51 => {
                let len = usize::from(*dgram.get(at + 1).ok_or(DecodeError::Ipv6ExtTruncated)?);
                let hdr = (len + 2) * 4;
                if at + hdr > dgram.len() {
                    return Err(DecodeError::Ipv6ExtTruncated);
                }
                next_at = at;
                next = dgram[at];
                at += hdr;
            }
            44 => {
                let off_flags = be16(dgram, at + 2).ok_or(DecodeError::Ipv6ExtTruncated)?;
                let id = be32(dgram, at + 4).ok_or(DecodeError::Ipv6ExtTruncated)?;
                let offset = u32::from(off_flags >> 3) * 8;
                let more = off_flags & 1 != 0;
                let inner_next = dgram[at];
                if offset == 0 && !more {
                    // Atomic fragment (RFC 6946): not a fragment at all.
                    next_at = at;
                    next = inner_next;
                    at += 8;
                    continue;
                }
                p.key.proto = inner_next;
                p.fragment = Some(Fragment {
                    id,
                    offset,
                    more,
                    data_start: (at + 8) as u16,
                    next_header_at: next_at as u16,
                    unfrag_len: at as u16,
                });
                return Ok(());
            }
            _ => {
                p.key.proto = next;
                p.fragment = None;
                return decode_l4(next, &dgram[at..], p);
            }
        }
    }
    Err(DecodeError::Ipv6ExtTooMany)
}
