//! Link layer: Ethernet with 802.1Q/802.1ad tags, Linux cooked capture v1/v2, BSD loopback,
//! Cisco HDLC, raw IP. Hands the network-layer bytes to [`super::l3`].

use super::{DecodeError, LinkType, Packet, be16, l3::decode_ip};

const LINKTYPE_C_HDLC: u32 = 104;
const ETH_IPV4: u16 = 0x0800;
const ETH_IPV6: u16 = 0x86DD;
const ETH_VLAN: u16 = 0x8100;
const ETH_QINQ: u16 = 0x88A8;
const ETH_QINQ_OLD: u16 = 0x9100;

/// Decodes `frame` of link type `link` into `p` (down to L4).
pub fn decode_link<'a>(link: LinkType, frame: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    match link {
        LinkType::Ethernet => decode_ethernet(frame, p),
        LinkType::Raw => decode_raw(frame, p),
        LinkType::Ipv4 | LinkType::Ipv6 => decode_raw(frame, p),
        LinkType::Null => {
            let af = frame.get(..4).ok_or(DecodeError::LinkTruncated)?;
            // Host byte order of the capturing machine: accept either.
            let v = u32::from_le_bytes([af[0], af[1], af[2], af[3]]);
            let v = if v > 0xFFFF { v.swap_bytes() } else { v };
            decode_af(v, &frame[4..], p)
        }
        LinkType::Loop => {
            let af = frame.get(..4).ok_or(DecodeError::LinkTruncated)?;
            decode_af(u32::from_be_bytes([af[0], af[1], af[2], af[3]]), &frame[4..], p)
        }
        LinkType::LinuxSll => {
            let proto = be16(frame, 14).ok_or(DecodeError::LinkTruncated)?;
            decode_ethertype(proto, &frame[16..], p)
        }
        LinkType::LinuxSll2 => {
            let proto = be16(frame, 0).ok_or(DecodeError::LinkTruncated)?;
            let rest = frame.get(20..).ok_or(DecodeError::LinkTruncated)?;
            decode_ethertype(proto, rest, p)
        }
        // Cisco HDLC: address, control, then an Ethertype.
        LinkType::Other(LINKTYPE_C_HDLC) => {
            let proto = be16(frame, 2).ok_or(DecodeError::LinkTruncated)?;
            decode_ethertype(proto, &frame[4..], p)
        }
        LinkType::Other(_) => Err(DecodeError::UnsupportedLink),
    }
}

/// Ethernet II with any number of VLAN tags (the first two are kept).
pub fn decode_ethernet<'a>(frame: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    let mut ethertype = be16(frame, 12).ok_or(DecodeError::LinkTruncated)?;
    let mut at = 14;
    let mut tags = 0usize;
    while matches!(ethertype, ETH_VLAN | ETH_QINQ | ETH_QINQ_OLD) {
        let tci = be16(frame, at).ok_or(DecodeError::VlanTruncated)?;
        ethertype = be16(frame, at + 2).ok_or(DecodeError::VlanTruncated)?;
        if tags < p.vlans.len() {
            p.vlans[tags] = tci & 0x0FFF;
        }
        tags += 1;
        at += 4;
        if tags > 8 {
            return Err(DecodeError::VlanTruncated);
        }
    }
    if p.key.vlan == 0 {
        p.key.vlan = p.vlans[0];
    }
    decode_ethertype(ethertype, &frame[at..], p)
}

fn decode_ethertype<'a>(ethertype: u16, rest: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    match ethertype {
        ETH_IPV4 | ETH_IPV6 => decode_ip(rest, p),
        ETH_VLAN | ETH_QINQ => Err(DecodeError::VlanTruncated),
        _ => Err(DecodeError::NonIp),
    }
}

/// Raw IP: the version nibble says which.
fn decode_raw<'a>(rest: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    match rest.first().map(|b| b >> 4) {
        Some(4) | Some(6) => decode_ip(rest, p),
        Some(_) => Err(DecodeError::Ipv4Version),
        None => Err(DecodeError::LinkTruncated),
    }
}

/// BSD address families: 2 is IPv4; 24, 28 and 30 are IPv6 on the various BSDs.
fn decode_af<'a>(af: u32, rest: &'a [u8], p: &mut Packet<'a>) -> Result<(), DecodeError> {
    match af {
        2 | 24 | 28 | 30 => decode_raw(rest, p),
        _ => Err(DecodeError::NonIp),
    }
}
