//! Flow keys and per-flow state shared by XDP ingress and TC egress.
//!
//! The `FLOWS` map is keyed by the *canonical* key (lower endpoint first) so that both
//! directions of a conversation, seen by two different hooks, update one entry. The entry
//! remembers which side initiated the flow; events carry the key in initiator order.

/// IP protocol numbers the parser understands.
pub mod proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// Address family tags in [`FlowKey::family`].
pub mod family {
    /// IPv4: the address is in the first 4 bytes, the rest is zero.
    pub const V4: u8 = 4;
    /// IPv6.
    pub const V6: u8 = 6;
}

/// TCP flag bits as they appear in the header's flags byte.
pub mod tcp_flags {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
}

/// A 5-tuple plus VLAN. For ICMP/ICMPv6 echo both ports hold the echo identifier (so request
/// and reply are one flow); for other ICMP types they hold type and code; for non-first
/// fragments both ports are 0.
///
/// Aligned to 8 so that copies and comparisons compile to word moves in the kernel
/// programs instead of out-of-line byte loops.
#[repr(C, align(8))]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Source address (IPv4 in the first 4 bytes).
    pub saddr: [u8; 16],
    /// Destination address.
    pub daddr: [u8; 16],
    /// Source port, host byte order.
    pub sport: u16,
    /// Destination port, host byte order.
    pub dport: u16,
    /// Outer VLAN id (0 when untagged).
    pub vlan: u16,
    /// IP protocol number.
    pub proto: u8,
    /// [`family::V4`] or [`family::V6`].
    pub family: u8,
}
const _: () = assert!(core::mem::size_of::<FlowKey>() == 40);

impl FlowKey {
    /// The same flow seen from the other side.
    #[inline(always)]
    pub const fn reversed(&self) -> Self {
        Self {
            saddr: self.daddr,
            daddr: self.saddr,
            sport: self.dport,
            dport: self.sport,
            vlan: self.vlan,
            proto: self.proto,
            family: self.family,
        }
    }

    /// Whether the source endpoint sorts after the destination endpoint, i.e. whether the
    /// canonical key is the reversed one. Returns the packet's side: 0 or 1.
    #[inline(always)]
    pub fn side(&self) -> u8 {
        endpoint_side(addr_words(&self.saddr), addr_words(&self.daddr), self.sport, self.dport)
    }

    /// The canonical key (lower endpoint first) and the side this key's source is on.
    #[inline(always)]
    pub fn canonical(&self) -> (Self, u8) {
        let side = self.side();
        if side == 0 { (*self, 0) } else { (self.reversed(), 1) }
    }
}

/// An address field as two native-endian 8-byte words (the kernel loads them as words).
#[inline(always)]
pub fn addr_words(a: &[u8; 16]) -> [u64; 2] {
    let mut w = [0u8; 8];
    let mut v = [0u64; 2];
    let mut i = 0;
    while i < 2 {
        w.copy_from_slice(&a[i * 8..i * 8 + 8]);
        v[i] = u64::from_ne_bytes(w);
        i += 1;
    }
    v
}

/// The canonical order of two endpoints: lexicographic on the address bytes, then on the
/// port. Returns 1 when the source endpoint sorts after the destination (the canonical key
/// is then the reversed one), else 0. Shared by user space and the kernel programs, which
/// pass address words they loaded directly.
#[inline(always)]
pub fn endpoint_side(sa: [u64; 2], da: [u64; 2], sport: u16, dport: u16) -> u8 {
    // from_be of a native-endian word read from bytes orders like the bytes themselves.
    let gt = if sa[0] != da[0] {
        u64::from_be(sa[0]) > u64::from_be(da[0])
    } else if sa[1] != da[1] {
        u64::from_be(sa[1]) > u64::from_be(da[1])
    } else {
        sport > dport
    };
    gt as u8
}

/// Value of the `FLOWS` LRU hash.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowState {
    /// Monotonic ns of the first packet.
    pub first_ns: u64,
    /// Monotonic ns of the latest packet.
    pub last_ns: u64,
    /// Packets by direction: `[from initiator, to initiator]`.
    pub packets: [u64; 2],
    /// Bytes (L3 length) by direction.
    pub bytes: [u64; 2],
    /// Union of TCP flags seen in either direction.
    pub tcp_flags: u8,
    /// 1 once a FIN or RST ended the flow (the end event was written).
    pub closed: u8,
    /// Canonical side of the initiator (see [`FlowKey::side`]).
    pub init_side: u8,
    /// Payload samples already sent per direction.
    pub samples: [u8; 2],
    /// Explicit padding.
    pub _pad: [u8; 3],
}
const _: () = assert!(core::mem::size_of::<FlowState>() == 56);

/// Direction of a packet relative to the flow's initiator: 0 = to server, 1 = to client.
#[inline(always)]
pub const fn direction(packet_side: u8, init_side: u8) -> u8 {
    (packet_side ^ init_side) & 1
}

/// Whether a packet with these TCP flags ends a flow (FIN or RST).
#[inline(always)]
pub const fn ends_flow(flags: u8) -> bool {
    flags & (tcp_flags::FIN | tcp_flags::RST) != 0
}

/// Whether a packet with these TCP flags opens a new connection (SYN without ACK), which
/// restarts a closed flow entry that the 5-tuple is being reused for.
#[inline(always)]
pub const fn opens_flow(flags: u8) -> bool {
    flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: [u8; 4], sp: u16, d: [u8; 4], dp: u16) -> FlowKey {
        let mut k = FlowKey { sport: sp, dport: dp, proto: proto::TCP, family: family::V4, ..Default::default() };
        k.saddr[..4].copy_from_slice(&s);
        k.daddr[..4].copy_from_slice(&d);
        k
    }

    #[test]
    fn both_directions_share_one_canonical_key() {
        let fwd = key([10, 0, 0, 2], 40000, [10, 0, 0, 1], 80);
        let (ca, sa) = fwd.canonical();
        let (cb, sb) = fwd.reversed().canonical();
        assert_eq!(ca, cb);
        assert_ne!(sa, sb);
    }

    #[test]
    fn equal_addresses_order_by_port() {
        let k = key([127, 0, 0, 1], 9, [127, 0, 0, 1], 8);
        assert_eq!(k.side(), 1);
        assert_eq!(k.reversed().side(), 0);
    }

    #[test]
    fn direction_is_relative_to_initiator() {
        let client = key([10, 0, 0, 2], 40000, [10, 0, 0, 1], 80);
        let init = client.side();
        assert_eq!(direction(client.side(), init), 0);
        assert_eq!(direction(client.reversed().side(), init), 1);
    }

    #[test]
    fn fin_and_rst_end_flows_syn_opens() {
        assert!(ends_flow(tcp_flags::FIN | tcp_flags::ACK));
        assert!(ends_flow(tcp_flags::RST));
        assert!(!ends_flow(tcp_flags::SYN));
        assert!(opens_flow(tcp_flags::SYN));
        assert!(!opens_flow(tcp_flags::SYN | tcp_flags::ACK));
    }
}
