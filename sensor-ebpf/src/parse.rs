//! Bounded packet parsing shared by XDP ingress and TC egress: Ethernet, up to two VLAN tags
//! (802.1Q / 802.1ad), IPv4 with options and fragments, IPv6 with a bounded extension-header
//! walk, then TCP, UDP, ICMP and ICMPv6 headers. Every read is checked against `data_end`.

use sensor_common::{
    counters::Counter,
    flow::{FlowKey, family, proto},
};

use crate::ptr::{ptr_at, put, read_at};

const ETH_HLEN: usize = 14;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_IPV6: u16 = 0x86DD;
const ETH_P_8021Q: u16 = 0x8100;
const ETH_P_8021AD: u16 = 0x88A8;
/// VLAN tags walked before giving up (QinQ = 2).
const MAX_VLAN_TAGS: usize = 2;
/// IPv6 extension headers walked before giving up.
const MAX_IPV6_EXT: usize = 6;
/// Mask bounding the L4 offset for the verifier.
const MAX_L4_OFF: u32 = 0x3fff;

/// A parsed packet, filled in place (it lives in per-CPU scratch memory, not on the stack).
#[derive(Clone, Copy, Default)]
pub struct Packet {
    /// 5-tuple + VLAN in packet order (ports 0 until [`parse_l4`]).
    pub key: FlowKey,
    /// Offset of the L4 header from the start of the frame.
    pub l4_off: u32,
    /// End of the IP datagram (offset), from its length field.
    pub ip_end: u32,
    /// L3 length in bytes (IP total length).
    pub l3_len: u32,
    /// Offset of the L4 payload from the start of the frame.
    pub payload_off: u32,
    /// L4 payload length (bytes present in this frame).
    pub payload_len: u32,
    /// TCP sequence number (0 otherwise).
    pub tcp_seq: u32,
    /// TCP flags (0 otherwise).
    pub tcp_flags: u8,
    /// 1 for a non-first fragment (no L4 header in this frame).
    pub later_fragment: u8,
}

/// Why a frame was not parsed to the end: the counter to bump.
pub type ParseError = Counter;

/// Writes addresses and the non-port fields of `k` as five 8-byte stores (the key is
/// 8-byte aligned), instead of struct assignments that LLVM lowers to out-of-line
/// memset/memmove byte loops on BPF.
#[inline(always)]
pub fn set_key(k: &mut FlowKey, saddr: [u64; 2], daddr: [u64; 2], ports: (u16, u16), vlan: u16, proto: u8, family: u8) {
    let w = k as *mut FlowKey as *mut u64;
    let tail =
        ports.0 as u64 | (ports.1 as u64) << 16 | (vlan as u64) << 32 | (proto as u64) << 48 | (family as u64) << 56;
    // SAFETY: FlowKey is repr(C, align(8)) and 40 bytes: saddr (0..16), daddr (16..32), then
    // sport, dport, vlan, proto, family in the fifth little-endian word (layout locked by the
    // size assertion and the host test `key_words_match_the_field_layout`).
    unsafe {
        w.write(saddr[0]);
        w.add(1).write(saddr[1]);
        w.add(2).write(daddr[0]);
        w.add(3).write(daddr[1]);
        w.add(4).write(tail);
    }
}

/// Copies `src` into `dst`, swapping the endpoints when `reverse`, as word stores.
#[inline(always)]
pub fn copy_key(dst: &mut FlowKey, src: &FlowKey, reverse: bool) {
    let (sa, da) = (addr_words(&src.saddr), addr_words(&src.daddr));
    if reverse {
        set_key(dst, da, sa, (src.dport, src.sport), src.vlan, src.proto, src.family);
    } else {
        set_key(dst, sa, da, (src.sport, src.dport), src.vlan, src.proto, src.family);
    }
}

/// The two 8-byte words of an address field of an aligned [`FlowKey`].
#[inline(always)]
pub fn addr_words(a: &[u8; 16]) -> [u64; 2] {
    let w = a.as_ptr() as *const u64;
    // SAFETY: `a` is a field of an 8-byte aligned FlowKey at offset 0 or 16.
    unsafe { [w.read(), w.add(1).read()] }
}

#[inline(always)]
fn clear_meta(p: &mut Packet) {
    put(&mut p.payload_off, 0);
    put(&mut p.payload_len, 0);
    put(&mut p.tcp_seq, 0);
    put(&mut p.tcp_flags, 0);
}

/// Parses Ethernet, VLAN tags and the IP header.
#[inline(always)]
pub fn parse_l3(start: usize, end: usize, p: &mut Packet) -> Result<(), ParseError> {
    let mut ethertype = u16::from_be(read_at::<u16>(start, end, 12).ok_or(Counter::ParseEth)?);
    let mut off = ETH_HLEN;
    let mut vlan: u16 = 0;
    for i in 0..MAX_VLAN_TAGS {
        if ethertype != ETH_P_8021Q && ethertype != ETH_P_8021AD {
            break;
        }
        let tci = u16::from_be(read_at::<u16>(start, end, off).ok_or(Counter::ParseVlan)?);
        if i == 0 {
            vlan = tci & 0x0fff;
        }
        ethertype = u16::from_be(read_at::<u16>(start, end, off + 2).ok_or(Counter::ParseVlan)?);
        off += 4;
    }
    match ethertype {
        ETH_P_IP => parse_ipv4(start, end, off, vlan, p),
        ETH_P_IPV6 => parse_ipv6(start, end, off, vlan, p),
        ETH_P_8021Q | ETH_P_8021AD => Err(Counter::ParseVlan),
        _ => Err(Counter::NonIp),
    }
}

#[inline(always)]
fn byte(start: usize, off: usize) -> u8 {
    // SAFETY: callers checked `off` against the packet end first.
    unsafe { *((start + off) as *const u8) }
}

#[inline(always)]
fn parse_ipv4(start: usize, end: usize, off: usize, vlan: u16, p: &mut Packet) -> Result<(), ParseError> {
    // version/ihl, tos, tot_len, id, frag_off, ttl, protocol, check, saddr, daddr
    if ptr_at::<[u8; 20]>(start, end, off).is_none() {
        return Err(Counter::ParseIpv4);
    }
    let vihl = byte(start, off);
    if vihl >> 4 != 4 {
        return Err(Counter::ParseIpv4);
    }
    let ihl = ((vihl & 0x0f) as usize) * 4;
    if ihl < 20 || start + off + ihl > end {
        return Err(Counter::ParseIpv4);
    }
    let tot_len = u16::from_be_bytes([byte(start, off + 2), byte(start, off + 3)]) as usize;
    if tot_len < ihl {
        return Err(Counter::ParseIpv4);
    }
    let frag_off = u16::from_be_bytes([byte(start, off + 6), byte(start, off + 7)]) & 0x1fff;
    let saddr = read_at::<u32>(start, end, off + 12).ok_or(Counter::ParseIpv4)?;
    let daddr = read_at::<u32>(start, end, off + 16).ok_or(Counter::ParseIpv4)?;
    set_key(&mut p.key, [saddr as u64, 0], [daddr as u64, 0], (0, 0), vlan, byte(start, off + 9), family::V4);
    p.l4_off = (off + ihl) as u32;
    p.ip_end = (off + tot_len) as u32;
    p.l3_len = tot_len as u32;
    p.later_fragment = (frag_off != 0) as u8;
    clear_meta(p);
    Ok(())
}

#[inline(always)]
fn parse_ipv6(start: usize, end: usize, off: usize, vlan: u16, p: &mut Packet) -> Result<(), ParseError> {
    if ptr_at::<[u8; 40]>(start, end, off).is_none() {
        return Err(Counter::ParseIpv6);
    }
    if byte(start, off) >> 4 != 6 {
        return Err(Counter::ParseIpv6);
    }
    let payload_len = u16::from_be_bytes([byte(start, off + 4), byte(start, off + 5)]) as usize;
    let word = |o: usize| read_at::<u64>(start, end, off + o).unwrap_or(0);
    let (saddr, daddr) = ([word(8), word(16)], [word(24), word(32)]);
    let mut next = byte(start, off + 6);
    let mut l4_off = off + 40;
    let mut later_fragment = 0u8;
    let mut done = false;
    for _ in 0..MAX_IPV6_EXT {
        match next {
            // Hop-by-hop, routing, destination options: (hdr_ext_len + 1) * 8 bytes.
            0 | 43 | 60 => {
                let h = read_at::<[u8; 2]>(start, end, l4_off).ok_or(Counter::ParseIpv6Ext)?;
                next = h[0];
                l4_off += (h[1] as usize + 1) * 8;
            }
            // Fragment header: 8 bytes, offset in the upper 13 bits of bytes 2..4.
            44 => {
                let h = read_at::<[u8; 4]>(start, end, l4_off).ok_or(Counter::ParseIpv6Ext)?;
                next = h[0];
                if u16::from_be_bytes([h[2], h[3]]) >> 3 != 0 {
                    later_fragment = 1;
                }
                l4_off += 8;
            }
            // Authentication header: (payload_len + 2) * 4 bytes.
            51 => {
                let h = read_at::<[u8; 2]>(start, end, l4_off).ok_or(Counter::ParseIpv6Ext)?;
                next = h[0];
                l4_off += (h[1] as usize + 2) * 4;
            }
            _ => {
                done = true;
                break;
            }
        }
        if later_fragment != 0 {
            done = true;
            break;
        }
    }
    if !done {
        return Err(Counter::ParseIpv6Ext);
    }
    set_key(&mut p.key, saddr, daddr, (0, 0), vlan, next, family::V6);
    p.l4_off = l4_off as u32;
    p.ip_end = (off + 40 + payload_len) as u32;
    p.l3_len = (payload_len + 40) as u32;
    p.later_fragment = later_fragment;
    clear_meta(p);
    Ok(())
}

/// Parses the transport header after [`parse_l3`]. `frame_len` is the whole frame's length,
/// which for a non-linear skb is more than the directly readable `end - start`.
#[inline(always)]
pub fn parse_l4(start: usize, end: usize, frame_len: usize, p: &mut Packet) -> Result<(), ParseError> {
    if p.later_fragment != 0 {
        return Ok(());
    }
    // The offset comes back from map memory with no known bound; masking restores one the
    // verifier accepts for packet pointers (real offsets are far below: 14 + 8 + 40 + 6 * 2048).
    let off = (p.l4_off & MAX_L4_OFF) as usize;
    let payload_off = match p.key.proto {
        proto::TCP => {
            let h = read_at::<[u8; 20]>(start, end, off).ok_or(Counter::ParseL4)?;
            p.key.sport = u16::from_be_bytes([h[0], h[1]]);
            p.key.dport = u16::from_be_bytes([h[2], h[3]]);
            p.tcp_seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            p.tcp_flags = h[13];
            let doff = ((h[12] >> 4) as usize) * 4;
            if doff < 20 {
                return Err(Counter::ParseL4);
            }
            off + doff
        }
        proto::UDP => {
            let h = read_at::<[u8; 8]>(start, end, off).ok_or(Counter::ParseL4)?;
            p.key.sport = u16::from_be_bytes([h[0], h[1]]);
            p.key.dport = u16::from_be_bytes([h[2], h[3]]);
            off + 8
        }
        proto::ICMP | proto::ICMPV6 => {
            let h = read_at::<[u8; 8]>(start, end, off).ok_or(Counter::ParseL4)?;
            let echo = if p.key.proto == proto::ICMP { h[0] == 8 || h[0] == 0 } else { h[0] == 128 || h[0] == 129 };
            if echo {
                // Echo request and reply share the identifier: one flow for both.
                let id = u16::from_be_bytes([h[4], h[5]]);
                p.key.sport = id;
                p.key.dport = id;
            } else {
                p.key.sport = h[0] as u16;
                p.key.dport = h[1] as u16;
            }
            off + 8
        }
        _ => return Ok(()),
    };
    // Payload ends at the IP datagram's end or the frame's end, whichever comes first.
    let mut payload_end = p.ip_end as usize;
    if payload_end > frame_len {
        payload_end = frame_len;
    }
    if payload_off > payload_end {
        return Err(Counter::ParseL4);
    }
    p.payload_off = payload_off as u32;
    p.payload_len = (payload_end - payload_off) as u32;
    Ok(())
}
