//! Content-based DNS detection for the first payload of a flow.

use super::reader::Reader;
use super::{DnsError, HEADER_LEN};

/// Most questions a plausible message carries.
const MAX_QUESTIONS: u16 = 16;
/// Smallest question: root name, type and class.
const MIN_QUESTION: usize = 5;
/// Smallest resource record: compressed or root name, fixed fields, empty rdata.
const MIN_RECORD: usize = 11;

/// Whether a UDP payload (or a DNS-over-TCP message without its length prefix) looks like DNS.
///
/// Checks: opcode 0..=5; qdcount 1..=16 for queries, 0..=16 for responses (a response without
/// questions must carry records); the counts fit the payload length; the first question name
/// (or, without questions, the first record name) parses.
pub fn looks_like_dns(payload: &[u8]) -> bool {
    check(payload, payload.len()).unwrap_or(false)
}

/// Whether the first chunk of a TCP stream looks like length-prefixed DNS.
///
/// The length prefix gives the message length for the count check; the chunk must hold at least
/// the header and the first name.
pub fn looks_like_dns_tcp(chunk: &[u8]) -> bool {
    match chunk.split_first_chunk::<2>() {
        Some((len, rest)) => {
            let msg_len = usize::from(u16::from_be_bytes(*len));
            check(rest.get(..msg_len).unwrap_or(rest), msg_len).unwrap_or(false)
        }
        None => false,
    }
}

/// `head` is the start (or all) of a message whose full length is `msg_len`.
fn check(head: &[u8], msg_len: usize) -> Result<bool, DnsError> {
    if msg_len < HEADER_LEN {
        return Ok(false);
    }
    let mut r = Reader::new(head, 0);
    r.u16()?;
    let flags = r.u16()?;
    let [qd, an, ns, ar] = [r.u16()?, r.u16()?, r.u16()?, r.u16()?];
    let response = flags & 0x8000 != 0;
    let opcode = (flags >> 11) & 0x0f;
    if opcode > 5 || qd > MAX_QUESTIONS {
        return Ok(false);
    }
    if qd == 0 && (!response || an == 0 && ns == 0) {
        return Ok(false);
    }
    let records = usize::from(an).saturating_add(usize::from(ns)).saturating_add(usize::from(ar));
    let min_len = HEADER_LEN
        .saturating_add(usize::from(qd).saturating_mul(MIN_QUESTION))
        .saturating_add(records.saturating_mul(MIN_RECORD));
    if min_len > msg_len {
        return Ok(false);
    }
    r.name()?;
    // The question's (or record's) type and class must follow the name.
    r.take(4)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";

    #[test]
    fn query_and_tcp_prefix() {
        assert!(looks_like_dns(QUERY));
        let mut tcp = u16::try_from(QUERY.len()).expect("short").to_be_bytes().to_vec();
        tcp.extend_from_slice(QUERY);
        assert!(looks_like_dns_tcp(&tcp));
        assert!(!looks_like_dns_tcp(QUERY));
    }

    #[test]
    fn rejects_non_dns() {
        assert!(!looks_like_dns(b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"));
        assert!(!looks_like_dns(b"SSH-2.0-OpenSSH_9.6\r\n"));
        assert!(!looks_like_dns(&[0u8; 40]));
        assert!(!looks_like_dns(QUERY.get(..20).expect("prefix")));
        let mut many = QUERY.to_vec();
        if let Some(b) = many.get_mut(5) {
            *b = 17;
        }
        assert!(!looks_like_dns(&many));
    }
}
