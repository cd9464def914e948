//! Packet decoding shared by replay and live mode: link layer (Ethernet, VLAN/QinQ, Linux
//! cooked SLL/SLL2, raw IP, BSD loopback), IPv4 and IPv6 (extension headers, fragments),
//! tunnels (VXLAN, GRE, IP-in-IP) and TCP/UDP/ICMP headers into one borrowed [`Packet`].
//!
//! Decoding never allocates and never panics: every read is bounds-checked and a malformed
//! header is a [`DecodeError`] whose kind is counted by the caller. Tunnels are decoded to the
//! innermost IP packet (at most [`MAX_TUNNEL_DEPTH`] levels); the flow is the inner one.

mod l2;
mod l3;
mod l4;

use sensor_common::flow::FlowKey;

pub use l2::decode_link;
pub use l3::decode_ip;

/// How many encapsulations (VXLAN, GRE, IP-in-IP) are followed before giving up.
pub const MAX_TUNNEL_DEPTH: u8 = 3;
/// How many IPv6 extension headers are walked before giving up.
pub const MAX_IPV6_EXT_HEADERS: usize = 8;

/// The link-layer framing of a captured frame (LINKTYPE_* values).
pub use super::capture::LinkType;

/// A fragment of an IP datagram, to be reassembled before L4 decoding.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fragment {
    /// IP identification (IPv4: 16 bits; IPv6: 32 bits).
    pub id: u32,
    /// Offset of this fragment's data in the datagram, in bytes.
    pub offset: u32,
    /// More fragments follow.
    pub more: bool,
    /// Offset of the fragmentable part within `Packet::l3` (after the IPv4 header or the
    /// IPv6 unfragmentable headers and the fragment header).
    pub data_start: u16,
    /// Offset within `Packet::l3` of the next-header byte the reassembled datagram must carry
    /// (IPv6: the byte that pointed at the fragment header; IPv4: unused).
    pub next_header_at: u16,
    /// Length of the unfragmentable part kept in the reassembled datagram (IPv6 fixed header
    /// plus the extension headers before the fragment header; IPv4 header length).
    pub unfrag_len: u16,
}

/// TCP header fields.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpHeader {
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Flags byte (FIN 0x01 ... CWR 0x80).
    pub flags: u8,
    /// Window.
    pub window: u16,
    /// Header length in bytes.
    pub header_len: u8,
}

/// One decoded packet; slices borrow the frame (or a reassembled datagram).
#[derive(Clone, Copy, Debug, Default)]
pub struct Packet<'a> {
    /// Capture (or kernel) timestamp, nanoseconds since the epoch.
    pub ts_ns: u64,
    /// Bytes of the frame as captured (for byte counters).
    pub wire_len: u32,
    /// The flow key in packet order (source first): addresses, ports (ICMP echo id or
    /// type/code), protocol, family and outer VLAN.
    pub key: FlowKey,
    /// VLAN ids, outer first (0 = none).
    pub vlans: [u16; 2],
    /// TCP header when `key.proto` is TCP and it decoded.
    pub tcp: Option<TcpHeader>,
    /// ICMP type and code when the protocol is ICMP/ICMPv6.
    pub icmp: Option<(u8, u8)>,
    /// IP time-to-live / hop limit.
    pub ttl: u8,
    /// Set when this is an IP fragment: L4 fields are not decoded until reassembly.
    pub fragment: Option<Fragment>,
    /// The innermost IP datagram (header included), trimmed to its total length.
    pub l3: &'a [u8],
    /// L4 payload (after the TCP/UDP/ICMP header).
    pub payload: &'a [u8],
    /// Encapsulation levels crossed to reach the inner packet.
    pub tunnel_depth: u8,
    /// The datagram was cut short by the capture's snap length.
    pub truncated: bool,
}

macro_rules! decode_errors {
    ($($variant:ident => $name:literal, $text:literal;)*) => {
        /// Why a packet could not be decoded (counted per kind; the summary names them).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, thiserror::Error)]
        pub enum DecodeError {
            $(#[doc = $text] #[error($text)] $variant,)*
        }
        impl DecodeError {
            /// Every kind, in counter order.
            pub const ALL: &'static [DecodeError] = &[$(DecodeError::$variant,)*];
            /// Stable short name (Suricata's decoder event names where one exists).
            pub const fn name(self) -> &'static str {
                match self { $(DecodeError::$variant => $name,)* }
            }
            /// Index into a counter array of `ALL.len()` slots.
            pub const fn index(self) -> usize { self as usize }
        }
    };
}

decode_errors! {
    LinkTruncated => "link.pkt_too_small", "frame shorter than its link-layer header";
    UnsupportedLink => "link.unsupported", "link type not supported";
    NonIp => "link.non_ip", "frame carries no IP (ARP, LLDP, STP, ...)";
    VlanTruncated => "vlan.pkt_too_small", "VLAN tag cut short";
    Ipv4Truncated => "ipv4.pkt_too_small", "IPv4 header cut short";
    Ipv4Version => "ipv4.wrong_ip_version", "IPv4 header with a version other than 4";
    Ipv4HeaderLen => "ipv4.hlen_too_small", "IPv4 header length below 20 or beyond the packet";
    Ipv4TotalLen => "ipv4.iplen_smaller_than_hlen", "IPv4 total length smaller than its header";
    Ipv4TruncPkt => "ipv4.trunc_pkt", "IPv4 total length beyond the captured bytes";
    Ipv6Truncated => "ipv6.pkt_too_small", "IPv6 header cut short";
    Ipv6Version => "ipv6.wrong_ip_version", "IPv6 header with a version other than 6";
    Ipv6TruncPkt => "ipv6.trunc_pkt", "IPv6 payload length beyond the captured bytes";
    Ipv6ExtTruncated => "ipv6.exthdr_truncated", "IPv6 extension header cut short";
    Ipv6ExtTooMany => "ipv6.exthdr_too_many", "more IPv6 extension headers than the walk allows";
    TcpTruncated => "tcp.pkt_too_small", "TCP header cut short";
    TcpHeaderLen => "tcp.hlen_too_small", "TCP data offset below 20 or beyond the segment";
    UdpTruncated => "udp.pkt_too_small", "UDP header cut short";
    UdpLength => "udp.len_invalid", "UDP length field disagrees with the datagram";
    IcmpTruncated => "icmp.pkt_too_small", "ICMP header cut short";
    GreTruncated => "gre.pkt_too_small", "GRE header cut short";
    GreVersion => "gre.version_unsupported", "GRE version or flags not supported";
    VxlanTruncated => "vxlan.pkt_too_small", "VXLAN header cut short";
    TunnelTooDeep => "tunnel.too_deep", "more nested tunnels than the decoder follows";
    FragOverlap => "defrag.overlap", "IP fragments overlap with different data";
    FragTooLarge => "defrag.too_large", "reassembled datagram would exceed 65535 bytes";
    FragTimeout => "defrag.timeout", "fragments never completed before the timeout";
    FragMemcap => "defrag.memcap", "fragment memory limit reached; fragments dropped";
}

impl DecodeError {
    /// Number of kinds (counter array length).
    pub const COUNT: usize = Self::ALL.len();
}

/// Decodes one captured frame of link type `link`.
pub fn decode<'a>(link: LinkType, ts_ns: u64, frame: &'a [u8]) -> Result<Packet<'a>, DecodeError> {
    let mut p = Packet { ts_ns, wire_len: frame.len() as u32, ..Packet::default() };
    decode_link(link, frame, &mut p)?;
    Ok(p)
}

/// Reads a big-endian u16 at `at`, if present.
#[inline]
pub(crate) fn be16(b: &[u8], at: usize) -> Option<u16> {
    match b.get(at..at + 2) {
        Some(&[x, y]) => Some(u16::from_be_bytes([x, y])),
        _ => None,
    }
}

/// Reads a big-endian u32 at `at`, if present.
#[inline]
pub(crate) fn be32(b: &[u8], at: usize) -> Option<u32> {
    match b.get(at..at + 4) {
        Some(&[a, b1, c, d]) => Some(u32::from_be_bytes([a, b1, c, d])),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
