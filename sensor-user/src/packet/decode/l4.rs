//! Transport layer (TCP, UDP, ICMP, ICMPv6) and the tunnels found there: VXLAN on UDP 4789,
//! GTP-U on UDP 2152, AYIYA on UDP 5072,
//! GRE (protocol 47, version 0, with transparent Ethernet bridging and ERSPAN type II) and
//! IP-in-IP (protocols 4 and 41). A tunnel whose inner packet does not decode is kept as the
//! outer packet.

use sensor_common::flow::proto;

use super::{DecodeError, MAX_TUNNEL_DEPTH, Packet, TcpHeader, be16, be32, l2::decode_ethernet, l3::decode_ip};

const VXLAN_PORT: u16 = 4789;
const GTPU_PORT: u16 = 2152;
const AYIYA_PORT: u16 = 5072;
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;

/// Decodes the L4 header of protocol `ip_proto` at the start of `b`.
pub fn decode_l4<'a>(ip_proto: u8, b: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    p.key.proto = ip_proto;
    match ip_proto {
        proto::TCP => {
            if b.len() < 20 {
                return Err(DecodeError::TcpTruncated);
            }
            let hlen = usize::from(b[12] >> 4) * 4;
            if hlen < 20 || hlen > b.len() {
                return Err(DecodeError::TcpHeaderLen);
            }
            p.key.sport = be16(b, 0).unwrap_or(0);
            p.key.dport = be16(b, 2).unwrap_or(0);
            p.tcp = Some(TcpHeader {
                seq: be32(b, 4).unwrap_or(0),
                ack: be32(b, 8).unwrap_or(0),
                flags: b[13],
                window: be16(b, 14).unwrap_or(0),
                header_len: hlen as u8,
            });
            p.payload = &b[hlen..];
            Ok(())
        }
        proto::UDP => {
            if b.len() < 8 {
                return Err(DecodeError::UdpTruncated);
            }
            let ulen = usize::from(be16(b, 4).unwrap_or(0));
            if ulen < 8 || (ulen > b.len() && !p.truncated) {
                return Err(DecodeError::UdpLength);
            }
            p.key.sport = be16(b, 0).unwrap_or(0);
            p.key.dport = be16(b, 2).unwrap_or(0);
            p.payload = &b[8..ulen.min(b.len())];
            if p.key.dport == VXLAN_PORT && p.payload.len() >= 8 + 14 && p.payload[0] & 0x08 != 0 {
                let inner = &p.payload[8..];
                try_tunnel(p, |q| decode_ethernet(inner, q))?;
            } else if p.key.dport == GTPU_PORT || p.key.sport == GTPU_PORT {
                if let Some(inner) = gtpu_payload(p.payload) {
                    try_tunnel(p, |q| decode_ip(inner, q))?;
                }
            } else if p.key.dport == AYIYA_PORT || p.key.sport == AYIYA_PORT {
                if let Some(inner) = ayiya_payload(p.payload) {
                    try_tunnel(p, |q| decode_ip(inner, q))?;
                }
            }
            Ok(())
        }
        proto::ICMP | proto::ICMPV6 => {
            let (ty, code) = match b {
                [t, c, ..] => (*t, *c),
                _ => return Err(DecodeError::IcmpTruncated),
            };
            p.icmp = Some((ty, code));
            let echo = matches!(
                (ip_proto, ty),
                (proto::ICMP, 0 | 8 | 13 | 14 | 15 | 16 | 17 | 18) | (proto::ICMPV6, 128 | 129)
            );
            match be16(b, 4) {
                Some(id) if echo => {
                    p.key.sport = id;
                    p.key.dport = id;
                }
                _ => {
                    p.key.sport = u16::from(ty);
                    p.key.dport = u16::from(code);
                }
            }
            p.payload = b.get(8..).unwrap_or(&[]);
            Ok(())
        }
        IPPROTO_IPIP | IPPROTO_IPV6 => {
            p.payload = b;
            try_tunnel(p, |q| decode_ip(b, q))
        }
        IPPROTO_GRE => decode_gre(b, p),
        _ => {
            p.payload = b;
            Ok(())
        }
    }
}

fn decode_gre<'a>(b: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    let flags = be16(b, 0).ok_or(DecodeError::GreTruncated)?;
    let ethertype = be16(b, 2).ok_or(DecodeError::GreTruncated)?;
    p.payload = b;
    // Version 0 only; the routing bit (0x4000) is obsolete. Anything else stays the outer flow.
    if flags & 0x0007 != 0 || flags & 0x4000 != 0 {
        return Ok(());
    }
    let mut hlen = 4;
    for bit in [0x8000u16, 0x2000, 0x1000] {
        if flags & bit != 0 {
            hlen += 4;
        }
    }
    let inner = b.get(hlen..).ok_or(DecodeError::GreTruncated)?;
    match ethertype {
        0x0800 | 0x86DD => try_tunnel(p, |q| decode_ip(inner, q)),
        0x6558 => try_tunnel(p, |q| decode_ethernet(inner, q)),
        // ERSPAN type II: an 8-byte header, then the mirrored Ethernet frame.
        0x88BE => match inner.get(8..) {
            Some(frame) => try_tunnel(p, |q| decode_ethernet(frame, q)),
            None => Err(DecodeError::GreTruncated),
        },
        _ => Ok(()),
    }
}

/// The user payload of a GTP-U G-PDU (version 1, message type 255): the inner IP packet.
fn gtpu_payload(b: &[u8]) -> Option<&[u8]> {
    let (flags, msg_type) = (*b.first()?, *b.get(1)?);
    if flags >> 5 != 1 || flags & 0x10 == 0 || msg_type != 0xFF {
        return None;
    }
    let mut at = 8;
    if flags & 0x07 != 0 {
        // Sequence number, N-PDU number, next extension header type.
        let mut next_ext = *b.get(11)?;
        at = 12;
        if flags & 0x04 != 0 {
            for _ in 0..8 {
                if next_ext == 0 {
                    break;
                }
                let units = usize::from(*b.get(at)?);
                if units == 0 {
                    return None;
                }
                next_ext = *b.get(at + units * 4 - 1)?;
                at += units * 4;
            }
        }
    }
    let inner = b.get(at..)?;
    matches!(inner.first().map(|v| v >> 4), Some(4 | 6)).then_some(inner)
}

/// The forwarded packet of an AYIYA message (opcode 1, next header IPv4 or IPv6): after the
/// 8-byte header, the identity (2^n bytes) and the signature (4m bytes).
fn ayiya_payload(b: &[u8]) -> Option<&[u8]> {
    let (id, sig, op, next) = (*b.first()?, *b.get(1)?, *b.get(2)?, *b.get(3)?);
    if op & 0x0F != 1 || !matches!(next, 4 | 41) {
        return None;
    }
    let at = 8 + (1usize << (id >> 4)) + usize::from(sig >> 4) * 4;
    let inner = b.get(at..)?;
    matches!(inner.first().map(|v| v >> 4), Some(4 | 6)).then_some(inner)
}

/// Decodes an inner packet into a copy of `p`; keeps it if it decodes, else keeps the outer.
fn try_tunnel<'a>(
    p: &mut Packet<'a>,
    inner: impl FnOnce(&mut Packet<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    if p.tunnel_depth >= MAX_TUNNEL_DEPTH {
        return Err(DecodeError::TunnelTooDeep);
    }
    let mut q = *p;
    q.tunnel_depth += 1;
    q.tcp = None;
    q.icmp = None;
    q.truncated = false;
    match inner(&mut q) {
        Ok(()) => {
            *p = q;
            Ok(())
        }
        Err(DecodeError::TunnelTooDeep) => Err(DecodeError::TunnelTooDeep),
        Err(_) => Ok(()),
    }
}
