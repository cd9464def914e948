//! The first SSH binary packets after the identification line, up to SSH_MSG_KEXINIT (RFC 4253 7.1).

use super::KexInit;

/// SSH_MSG_KEXINIT.
const MSG_KEXINIT: u8 = 20;
/// Largest packet (`packet_length` + 4) buffered, per RFC 4253 section 6.1.
pub(super) const MAX_PACKET: usize = 35000;

/// Total size (length field included) of the packet whose first 4 bytes are `head`, if acceptable.
pub(super) fn packet_size(head: [u8; 4]) -> Option<usize> {
    let len = usize::try_from(u32::from_be_bytes(head)).ok()?;
    let total = len.checked_add(4)?;
    // padding_length byte, message byte and at least 4 padding bytes.
    (len >= 6 && total <= MAX_PACKET).then_some(total)
}

/// The KEXINIT in a complete unencrypted binary packet (length field included); `None` for
/// another message or a KEXINIT whose fields do not parse.
pub(super) fn parse_packet(pkt: &[u8]) -> Option<KexInit> {
    payload(pkt).and_then(parse_kexinit)
}

/// The payload of a packet: after length and padding-length fields, before the padding.
fn payload(pkt: &[u8]) -> Option<&[u8]> {
    let (&pad, body) = pkt.get(4..)?.split_first()?;
    body.get(..body.len().checked_sub(usize::from(pad))?)
}

fn parse_kexinit(payload: &[u8]) -> Option<KexInit> {
    let (&msg, rest) = payload.split_first()?;
    if msg != MSG_KEXINIT {
        return None;
    }
    let (cookie, mut rest) = rest.split_first_chunk::<16>()?;
    let mut next = || -> Option<String> {
        let (len, tail) = rest.split_first_chunk::<4>()?;
        let (list, tail) = tail.split_at_checked(usize::try_from(u32::from_be_bytes(*len)).ok()?)?;
        rest = tail;
        Some(String::from_utf8_lossy(list).into_owned())
    };
    let mut k = KexInit {
        cookie: *cookie,
        kex_algorithms: next()?,
        server_host_key_algorithms: next()?,
        encryption_client_to_server: next()?,
        encryption_server_to_client: next()?,
        mac_client_to_server: next()?,
        mac_server_to_client: next()?,
        compression_client_to_server: next()?,
        compression_server_to_client: next()?,
        languages_client_to_server: next()?,
        languages_server_to_client: next()?,
        first_kex_packet_follows: false,
    };
    k.first_kex_packet_follows = rest.first().is_some_and(|&b| b != 0);
    Some(k)
}
