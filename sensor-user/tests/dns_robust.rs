//! DNS decoder edge cases: compression loops, limits, truncation with partial results, and
//! prefixes / mutations of the real fixture messages (no panic, consistent strict and lenient results).
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{Table, hex};
use sensor_user::packet::Direction;
use sensor_user::packet::app::dns::{
    DnsData, DnsError, DnsSection, DnsTcpState, MAX_RECORDS_PER_SECTION, looks_like_dns, looks_like_dns_tcp,
    parse_message, parse_message_lenient, rcode_name,
};

const FIXTURE: &str = include_str!("fixtures/dns_udp.tsv");

fn real_messages() -> Vec<Vec<u8>> {
    let t = Table::parse(FIXTURE);
    t.rows.iter().map(|r| hex(t.cell(r, "udp.payload"))).collect()
}

/// Header with the given flags and counts.
fn header(flags: u16, counts: [u16; 4]) -> Vec<u8> {
    let mut h = vec![0xab, 0xcd];
    h.extend(flags.to_be_bytes());
    for c in counts {
        h.extend(c.to_be_bytes());
    }
    h
}

/// Minimal xorshift generator, so failures replay.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn pointer_loops_are_detected() {
    // Question name is a pointer to itself.
    let mut m = header(0x0100, [1, 0, 0, 0]);
    m.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse_message(&m), Err(DnsError::PointerLoop { offset: 12 }));
    let (partial, err) = parse_message_lenient(&m);
    assert_eq!(partial.map(|p| p.queries.len()), Some(0));
    assert_eq!(err, Some(DnsError::PointerLoop { offset: 12 }));

    // Two pointers pointing at each other.
    let mut m = header(0x0100, [1, 0, 0, 0]);
    m.extend([0xc0, 14, 0xc0, 12, 0, 1, 0, 1]);
    assert!(matches!(parse_message(&m), Err(DnsError::PointerLoop { .. })));

    // A label then a pointer back to it: the jump cap (64) comes before the length cap (255).
    let mut m = header(0x0100, [1, 0, 0, 0]);
    m.extend([1, b'a', 0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse_message(&m), Err(DnsError::PointerLoop { offset: 14 }));
    // A longer label reaches the length cap first.
    let mut m = header(0x0100, [1, 0, 0, 0]);
    m.push(20);
    m.extend([b'a'; 20]);
    m.extend([0xc0, 12, 0, 1, 0, 1]);
    assert_eq!(parse_message(&m), Err(DnsError::NameTooLong { offset: 12 }));
}

#[test]
fn pointer_chains_up_to_64_jumps_are_followed() {
    for (chain, ok) in [(63usize, true), (64, false)] {
        // One answer whose owner is a pointer to a chain of `chain` pointers (each to the next)
        // ending at the name "x": 1 + chain jumps in all. Forward pointers are accepted.
        let mut m = header(0x8180, [0, 1, 0, 0]);
        let chain_at = 12 + 2 + 10 + 4;
        m.extend((0xc000 | chain_at as u16).to_be_bytes());
        m.extend([0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]);
        assert_eq!(m.len(), chain_at);
        for i in 1..=chain {
            m.extend((0xc000 | (chain_at + 2 * i) as u16).to_be_bytes());
        }
        m.extend([1, b'x', 0]);
        match parse_message(&m) {
            Ok(p) if ok => assert_eq!(p.answers[0].name, b"x"),
            Err(DnsError::PointerLoop { offset }) if !ok => assert_eq!(offset, chain_at + 2 * (chain - 1)),
            other => panic!("{chain}: {other:?}"),
        }
    }
}

#[test]
fn truncated_answers_still_yield_queries() {
    let mut checked = 0;
    for full in real_messages() {
        let whole = parse_message(&full).expect("fixture parses");
        for cut in 0..full.len() {
            let prefix = &full[..cut];
            let strict = parse_message(prefix);
            let (partial, err) = parse_message_lenient(prefix);
            assert!(strict.is_err(), "prefix {cut} of {} parsed", full.len());
            assert_eq!(strict.err(), err);
            if cut < 12 {
                assert!(partial.is_none());
                continue;
            }
            let p = partial.expect("header parsed");
            assert_eq!((p.id, p.flags), (whole.id, whole.flags));
            // Whatever parsed is a prefix of the full parse.
            assert!(whole.queries.starts_with(&p.queries));
            assert!(whole.answers.starts_with(&p.answers));
            assert!(whole.authorities.starts_with(&p.authorities));
            assert!(whole.additional.starts_with(&p.additional));
            if !p.answers.is_empty() || !p.authorities.is_empty() || !p.additional.is_empty() {
                assert_eq!(p.queries, whole.queries);
            }
            checked += 1;
        }
        // Cut right after the question section: queries complete, first answer truncated.
        if !whole.answers.is_empty() {
            let (partial, err) = parse_message_lenient(&full[..answer_start(&full)]);
            assert_eq!(partial.expect("header").queries, whole.queries);
            assert!(matches!(err, Some(DnsError::Truncated { .. })));
        }
    }
    assert!(checked > 10_000);
}

/// Offset of the answer section of a message whose questions are uncompressed.
fn answer_start(m: &[u8]) -> usize {
    let qd = u16::from_be_bytes([m[4], m[5]]);
    let mut at = 12;
    for _ in 0..qd {
        while m[at] != 0 && m[at] & 0xc0 == 0 {
            at += 1 + usize::from(m[at]);
        }
        at += if m[at] == 0 { 1 } else { 2 };
        at += 4;
    }
    at
}

#[test]
fn mutated_real_messages_never_panic() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut tcp = DnsTcpState::new();
    let mut out = Vec::new();
    for full in real_messages() {
        for _ in 0..150 {
            let mut m = full.clone();
            for _ in 0..=rng.below(3) {
                let i = rng.below(m.len());
                m[i] = match rng.below(4) {
                    0 => 0xc0 | (rng.next() as u8 & 0x3f),
                    1 => rng.next() as u8 & 0x3f,
                    2 => 0xff,
                    _ => rng.next() as u8,
                };
            }
            let strict = parse_message(&m);
            let (partial, err) = parse_message_lenient(&m);
            assert_eq!(strict.clone().err(), err);
            if let Ok(s) = strict {
                assert_eq!(Some(s), partial);
            }
            let _ = looks_like_dns(&m);
            let _ = looks_like_dns_tcp(&m);
            tcp.feed(Direction::ToClient, &m[..rng.below(m.len())], &mut out);
            out.clear();
        }
    }
    for len in 0..600 {
        let junk: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = parse_message_lenient(&junk);
        let _ = looks_like_dns(&junk);
        tcp.feed(Direction::ToServer, &junk, &mut out);
    }
}

#[test]
fn real_messages_are_detected_and_others_are_not() {
    for m in real_messages() {
        assert!(looks_like_dns(&m), "{m:02x?}");
    }
    for other in [
        &b"GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
        b"SSH-2.0-OpenSSH_9.6p1 Ubuntu-3ubuntu13\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
        b"",
        &[0u8; 512],
    ] {
        assert!(!looks_like_dns(other));
    }
}

#[test]
fn section_caps_keep_the_first_256_and_skip_the_rest() {
    // 300 root questions, then one answer (compressed root owner is just 0).
    let mut m = header(0x8180, [300, 1, 0, 0]);
    for _ in 0..300 {
        m.extend([0, 0, 1, 0, 1]);
    }
    m.extend([0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 192, 0, 2, 1]);
    let err = DnsError::TooManyRecords { section: DnsSection::Question, count: 300 };
    assert_eq!(parse_message(&m), Err(err.clone()));
    let (p, e) = parse_message_lenient(&m);
    let p = p.expect("partial");
    assert_eq!(e, Some(err));
    assert_eq!(p.queries.len(), MAX_RECORDS_PER_SECTION);
    assert_eq!(p.answers.len(), 1);
    assert_eq!(p.answers[0].data, DnsData::A([192, 0, 2, 1].into()));
    assert_eq!(p.answers[0].name, b"");

    // Huge counts with no data: truncated, no allocation by count.
    let m = header(0x8180, [65535, 65535, 65535, 65535]);
    assert_eq!(parse_message(&m), Err(DnsError::Truncated { offset: 12 }));
}

#[test]
fn rdata_layouts() {
    let rr = |ty: u16, rdata: &[u8]| {
        let mut m = header(0x8180, [1, 1, 0, 0]);
        m.extend(b"\x01a\x00\x00\x01\x00\x01");
        m.extend([0xc0, 12]);
        m.extend(ty.to_be_bytes());
        m.extend([0, 1, 0, 0, 0, 9]);
        m.extend(u16::try_from(rdata.len()).expect("short").to_be_bytes());
        m.extend(rdata);
        parse_message(&m).map(|p| p.answers[0].data.clone())
    };
    assert_eq!(rr(1, &[1, 2, 3, 4]), Ok(DnsData::A([1, 2, 3, 4].into())));
    assert_eq!(rr(1, &[1, 2, 3, 4, 5]), Err(DnsError::BadRdata { offset: 31, rrtype: 1 }));
    assert_eq!(rr(1, &[]), Ok(DnsData::Other(Vec::new())));
    assert_eq!(rr(5, &[0xc0, 12]), Ok(DnsData::Name(b"a".to_vec())));
    // A name running past the end of the message.
    assert_eq!(rr(5, &[1, b'b']), Err(DnsError::Truncated { offset: 33 }));
    // A name running past its rdata into the following bytes of the message.
    let mut m = header(0x8180, [0, 1, 0, 0]);
    m.extend([0, 0, 5, 0, 1, 0, 0, 0, 9, 0, 2, 1, b'b', 0]);
    assert_eq!(parse_message(&m), Err(DnsError::BadRdata { offset: 23, rrtype: 5 }));
    assert_eq!(rr(15, &[0, 10, 0xc0, 12]), Ok(DnsData::Mx { preference: 10, exchange: b"a".to_vec() }));
    assert_eq!(rr(16, b"\x02hi\x00\x03you"), Ok(DnsData::Txt(vec![b"hi".to_vec(), Vec::new(), b"you".to_vec()])));
    assert_eq!(rr(16, b"\x05hi"), Err(DnsError::BadRdata { offset: 31, rrtype: 16 }));
    assert_eq!(
        rr(33, &[0, 1, 0, 2, 0x01, 0xbb, 0xc0, 12]),
        Ok(DnsData::Srv { priority: 1, weight: 2, port: 443, target: b"a".to_vec() })
    );
    let mut soa = vec![0xc0, 12, 0];
    soa.extend((1u32..=5).flat_map(u32::to_be_bytes));
    assert_eq!(
        rr(6, &soa),
        Ok(DnsData::Soa {
            mname: b"a".to_vec(),
            rname: Vec::new(),
            serial: 1,
            refresh: 2,
            retry: 3,
            expire: 4,
            minimum: 5
        })
    );
    assert_eq!(rr(6, &soa[..soa.len() - 1]), Err(DnsError::BadRdata { offset: 31, rrtype: 6 }));
    let big = vec![7u8; 600];
    assert_eq!(rr(999, &big), Ok(DnsData::Other(vec![7u8; 256])));
    assert_eq!(rr(5, &[0x80]), Err(DnsError::BadLabelType { offset: 31 }));
    assert_eq!(rr(5, &[0xc0, 0xff]), Err(DnsError::BadPointer { offset: 31 }));
}

#[test]
fn edns_extended_rcode() {
    let mut m = header(0x8180, [0, 0, 0, 1]);
    // OPT: root owner, type 41, payload size 1232, ext-rcode 1 (=> 16 BADVERS), version 0.
    m.extend([0, 0, 41, 0x04, 0xd0, 1, 0, 0, 0, 0, 0]);
    let p = parse_message(&m).expect("opt");
    assert_eq!(p.opt().map(|o| o.class), Some(1232));
    assert_eq!(p.extended_rcode(), 16);
    assert_eq!(rcode_name(16), "BADVERS/BADSIG");
}
