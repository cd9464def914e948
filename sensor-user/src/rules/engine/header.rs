//! Packet-level conditions of a rule: transport, addresses and ports (`<>` tries both
//! orientations), `flow:`, `app`, `dsize`, ICMP, TTL, ip_proto, TCP flags/seq/ack/window and
//! `stream_size` (Suricata's detect-flow.c, detect-tcp-flags.c, detect-dsize.c, ...).

use std::net::IpAddr;

use super::super::ir::{AddrSet, FlowOpts, NumCmp, PortSet, Signature, TcpFlagsTest, Transport};
use super::PacketView;

const PROTO_TCP: u8 = 6;
const PROTO_UDP: u8 = 17;
const PROTO_ICMP: u8 = 1;
const PROTO_ICMPV6: u8 = 58;

/// Packet group index of an IP protocol: 0 TCP, 1 UDP, 2 ICMP/ICMPv6, 3 other.
pub(crate) fn group_of(ip_proto: u8) -> usize {
    match ip_proto {
        PROTO_TCP => 0,
        PROTO_UDP => 1,
        PROTO_ICMP | PROTO_ICMPV6 => 2,
        _ => 3,
    }
}

/// Does a rule of transport `t` apply to packet group `g` (see [`group_of`])?
pub(crate) fn transport_in_group(t: Transport, g: usize) -> bool {
    match t {
        Transport::Any => true,
        Transport::Tcp => g == 0,
        Transport::Udp => g == 1,
        Transport::Icmp => g == 2,
    }
}

fn in_net(ip: IpAddr, net: IpAddr, prefix: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let p = u32::from(prefix.min(32));
            let mask = if p == 0 { 0 } else { u32::MAX << (32 - p) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let p = u32::from(prefix.min(128));
            let mask = if p == 0 { 0 } else { u128::MAX << (128 - p) };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// Is `ip` admitted by the set?
pub(crate) fn addr_ok(set: &AddrSet, ip: IpAddr) -> bool {
    (set.allow.is_empty() || set.allow.iter().any(|&(n, p)| in_net(ip, n, p)))
        && !set.deny.iter().any(|&(n, p)| in_net(ip, n, p))
}

/// Is `port` admitted by the set?
pub(crate) fn port_ok(set: &PortSet, port: u16) -> bool {
    (set.allow.is_empty() || set.allow.iter().any(|&(lo, hi)| (lo..=hi).contains(&port)))
        && !set.deny.iter().any(|&(lo, hi)| (lo..=hi).contains(&port))
}

fn transport_ok(t: Transport, ip_proto: u8) -> bool {
    match t {
        Transport::Any => true,
        Transport::Tcp => ip_proto == PROTO_TCP,
        Transport::Udp => ip_proto == PROTO_UDP,
        Transport::Icmp => ip_proto == PROTO_ICMP || ip_proto == PROTO_ICMPV6,
    }
}

/// Addresses and ports, in the rule's orientation or (with `<>`) the reverse one. Ports are
/// only checked for TCP and UDP packets.
fn endpoints_ok(s: &Signature, p: &PacketView<'_>) -> bool {
    let ports = p.ip_proto == PROTO_TCP || p.ip_proto == PROTO_UDP;
    // Ports first: cheaper and, in real rule sets, more selective than address groups.
    let one = |src: IpAddr, sport: u16, dst: IpAddr, dport: u16| {
        (!ports || (port_ok(&s.dport, dport) && port_ok(&s.sport, sport)))
            && addr_ok(&s.dst, dst)
            && addr_ok(&s.src, src)
    };
    one(p.src, p.sport, p.dst, p.dport) || (s.bidirectional && one(p.dst, p.dport, p.src, p.sport))
}

/// `flow:` (detect-flow.c FlowMatch). Direction and (not_)established need a tracked flow;
/// `stateless` matches anything; `only_stream` needs a flow (all our TCP payload is stream
/// data); `no_stream` is not enforced (deviation: it still matches).
fn flow_ok(f: &FlowOpts, p: &PacketView<'_>) -> bool {
    if f.stateless {
        return f.to_server.is_none_or(|ts| p.has_flow && ts == p.to_server);
    }
    let needs_flow = f.to_server.is_some() || f.established.is_some() || f.only_stream;
    if needs_flow && !p.has_flow {
        return false;
    }
    f.to_server.is_none_or(|ts| ts == p.to_server) && f.established.is_none_or(|e| e == p.established)
}

/// `flags:` (detect-tcp-flags.c FlagsMatch). `modifier` is 0 (exact), `b'+'`, `b'*'` or `b'!'`.
pub(crate) fn tcp_flags_ok(t: &TcpFlagsTest, pflags: u8) -> bool {
    if t.flags == 0 && pflags != 0 {
        return false;
    }
    let flags = pflags & !t.ignore;
    match t.modifier {
        b'*' => flags & t.flags != 0,
        b'+' => flags & t.flags == t.flags,
        b'!' => flags & t.flags != t.flags,
        _ => flags == t.flags,
    }
}

/// `stream_size` side: 0 server (data sent by the server), 1 client, 2 both, 3 either.
fn stream_size_ok(side: u8, cmp: NumCmp, bytes: [u64; 2]) -> bool {
    let (client, server) = (bytes[0], bytes[1]);
    match side {
        0 => cmp.test(server),
        1 => cmp.test(client),
        2 => cmp.test(server) && cmp.test(client),
        _ => cmp.test(server) || cmp.test(client),
    }
}

fn opt_cmp(c: Option<NumCmp>, x: u64) -> bool {
    c.is_none_or(|c| c.test(x))
}

/// All header conditions of `s` for packet (or tx side) `p`. `in_tx`: inspection of a
/// transaction (dsize never matches there; the app is checked by the caller).
pub(crate) fn header_ok(s: &Signature, p: &PacketView<'_>, in_tx: bool) -> bool {
    if !transport_ok(s.transport, p.ip_proto) || !flow_ok(&s.flow, p) {
        return false;
    }
    if s.tcp_flags.is_some() || s.tcp_seq.is_some() || s.tcp_ack.is_some() || s.tcp_window.is_some() {
        let Some(t) = p.tcp else { return false };
        if s.tcp_flags.is_some_and(|f| !tcp_flags_ok(&f, t.flags))
            || s.tcp_seq.is_some_and(|v| v != t.seq)
            || s.tcp_ack.is_some_and(|v| v != t.ack)
            || s.tcp_window.is_some_and(|(w, neg)| (w == t.window) == neg)
        {
            return false;
        }
    }
    if !endpoints_ok(s, p) {
        return false;
    }
    if !in_tx && s.app.is_some() && (s.app != p.app || (s.buffers.is_empty() && !p.app_ready)) {
        return false;
    }
    if let Some(d) = s.dsize
        && (in_tx || !d.test(p.payload.len() as u64))
    {
        return false;
    }
    if !opt_cmp(s.ttl, u64::from(p.ttl)) || !opt_cmp(s.ip_proto, u64::from(p.ip_proto)) {
        return false;
    }
    if s.itype.is_some() || s.icode.is_some() || s.icmp_id.is_some() || s.icmp_seq.is_some() {
        let Some(i) = p.icmp else { return false };
        if !opt_cmp(s.itype, u64::from(i.icmp_type))
            || !opt_cmp(s.icode, u64::from(i.code))
            || s.icmp_id.is_some_and(|v| v != i.id)
            || s.icmp_seq.is_some_and(|v| v != i.seq)
        {
            return false;
        }
    }
    if let Some((side, cmp)) = s.stream_size
        && (p.ip_proto != PROTO_TCP || !p.has_flow || !stream_size_ok(side, cmp, p.flow_bytes))
    {
        return false;
    }
    true
}
