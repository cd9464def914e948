//! DNS over TCP framing on real streams (tests/fixtures/dns_tcp_*.tsv, see gen_tcp.py): results
//! checked against tshark and against the suricata-verify expectations, under every chunking.
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{Table, hex, num, tshark_name};
use sensor_user::packet::Direction;
use sensor_user::packet::app::dns::{
    DnsData, DnsError, DnsMessage, DnsTcpState, parse_message, rcode_name, rrtype_name,
};

const SEGMENTS: &str = include_str!("fixtures/dns_tcp_segments.tsv");
const ORACLE: &str = include_str!("fixtures/dns_tcp_oracle.tsv");

type Out = Vec<Result<DnsMessage, DnsError>>;

/// Segments of one capture's first stream, as (direction, bytes).
fn stream(source: &str) -> Vec<(Direction, Vec<u8>)> {
    let t = Table::parse(SEGMENTS);
    t.rows
        .iter()
        .filter(|r| t.cell(r, "source") == source && t.cell(r, "stream") == "0")
        .map(|r| {
            let dir = if t.cell(r, "dir") == "C" { Direction::ToServer } else { Direction::ToClient };
            (dir, hex(t.cell(r, "hex")))
        })
        .collect()
}

/// Feeds the segments cut into pieces of at most `piece` bytes (0: whole segments); returns (to-server, to-client) results.
fn run(segs: &[(Direction, Vec<u8>)], piece: usize) -> (Out, Out) {
    let mut st = DnsTcpState::new();
    let (mut c, mut s) = (Vec::new(), Vec::new());
    for (dir, bytes) in segs {
        let out = if *dir == Direction::ToServer { &mut c } else { &mut s };
        let size = if piece == 0 { bytes.len().max(1) } else { piece };
        for chunk in bytes.chunks(size) {
            st.feed(*dir, chunk, out);
            assert!(st.buffered(*dir) <= 65536);
        }
    }
    (c, s)
}

#[test]
fn streams_match_tshark_under_any_chunking() {
    let t = Table::parse(ORACLE);
    let mut checked = 0;
    for source in ["sv-task-7018", "sv-dns-incomplete", "sv-dns-truncated-rname"] {
        let segs = stream(source);
        assert!(!segs.is_empty(), "{source}: no segments");
        let whole = run(&segs, 0);
        for piece in [1, 2, 3, 7, 100, 1000] {
            assert_eq!(run(&segs, piece), whole, "{source}: pieces of {piece}");
        }
        let all_c: Vec<u8> = segs.iter().filter(|s| s.0 == Direction::ToServer).flat_map(|s| s.1.clone()).collect();
        let mut one = DnsTcpState::new();
        let mut out = Vec::new();
        one.feed(Direction::ToServer, &all_c, &mut out);
        assert_eq!(out, whole.0, "{source}: one chunk");

        for (dir, ours) in [("C", &whole.0), ("S", &whole.1)] {
            let rows: Vec<_> =
                t.rows.iter().filter(|r| t.cell(r, "source") == source && t.cell(r, "dir") == dir).collect();
            assert_eq!(ours.len(), rows.len(), "{source} {dir}: message count");
            for (m, row) in ours.iter().zip(rows) {
                let names = t.list(row, "dns.qry.name");
                if names.iter().any(|n| n == "<Name too long>") {
                    assert!(matches!(m, Err(DnsError::NameTooLong { offset: 12 })), "{source}: {m:?}");
                    checked += 1;
                    continue;
                }
                let m = m.as_ref().expect("message parses");
                assert_eq!(u64::from(m.id), num(t.cell(row, "dns.id")));
                assert_eq!(m.response, t.cell(row, "dns.flags.response") == "1");
                let ours_names: Vec<_> = m.queries.iter().map(|q| tshark_name(&q.name)).collect();
                assert_eq!(ours_names, names);
                let types: Vec<_> = m.queries.iter().map(|q| q.rrtype.to_string()).collect();
                assert_eq!(types, t.list(row, "dns.qry.type"));
                let a = m.answers.iter().filter_map(|r| match r.data {
                    DnsData::A(ip) => Some(ip.to_string()),
                    _ => None,
                });
                let a: Vec<_> = a.collect();
                assert_eq!(a, t.list(row, "dns.a"));
                let ttl: Vec<_> = m.answers.iter().map(|r| r.ttl.to_string()).collect();
                assert_eq!(ttl, t.list(row, "dns.resp.ttl"));
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 11);
}

/// suricata-verify dns/task-7018-ids-dns-stream-rule: three queries and answers on one TCP flow.
#[test]
fn suricata_verify_task_7018() {
    let (c, s) = run(&stream("sv-task-7018"), 0);
    let q: Vec<_> = c.iter().map(|m| m.as_ref().expect("query")).collect();
    let names: Vec<_> = q.iter().map(|m| String::from_utf8_lossy(&m.queries[0].name).into_owned()).collect();
    assert_eq!(names, ["suricata.io", "oisf.net", "suricata.org"]);
    assert!(q.iter().all(|m| m.id == 0 && m.opcode == 0 && rrtype_name(m.queries[0].rrtype) == "A"));
    let expected: [(&str, &[(&str, u32)]); 3] = [
        ("suricata.io", &[("35.212.0.44", 490)]),
        ("oisf.net", &[("192.0.78.190", 207), ("192.0.78.209", 207)]),
        ("suricata.org", &[("15.197.148.33", 600), ("3.33.130.190", 600)]),
    ];
    assert_eq!(s.len(), 3);
    for (m, (rrname, answers)) in s.iter().zip(expected) {
        let m = m.as_ref().expect("answer");
        assert_eq!(format!("{:x}", m.flags), "8180");
        assert!(m.response && m.rd() && m.ra() && !m.aa() && !m.tc() && !m.z());
        assert_eq!(rcode_name(m.rcode), "NOERROR");
        assert_eq!(m.queries[0].name, rrname.as_bytes());
        let got: Vec<_> = m
            .answers
            .iter()
            .map(|r| {
                assert_eq!(r.name, rrname.as_bytes());
                assert_eq!(rrtype_name(r.rrtype), "A");
                let DnsData::A(ip) = r.data else { panic!("A rdata") };
                (ip.to_string(), r.ttl)
            })
            .collect();
        let want: Vec<_> = answers.iter().map(|(ip, ttl)| (ip.to_string(), *ttl)).collect();
        assert_eq!(got, want);
    }
}

/// suricata-verify dns/v2/dns-incomplete: a query split over two segments is still decoded.
#[test]
fn suricata_verify_dns_incomplete() {
    let (c, _) = run(&stream("sv-dns-incomplete"), 0);
    let names: Vec<_> = c.iter().map(|m| m.as_ref().expect("query").queries[0].name.clone()).collect();
    assert_eq!(names, [b"google.net".to_vec(), b"google.com".to_vec()]);
    assert_eq!(names.iter().filter(|n| n.as_slice() == b"google.com").count(), 1);
}

/// suricata-verify dns/dns-truncated-rname: 1500 questions with names over 1025 bytes. Suricata logs
/// them truncated; we refuse names over 255 octets.
#[test]
fn suricata_verify_truncated_rname() {
    let (c, s) = run(&stream("sv-dns-truncated-rname"), 0);
    assert!(s.is_empty());
    assert_eq!(c, vec![Err(DnsError::NameTooLong { offset: 12 })]);
}

fn frame(msg: &[u8]) -> Vec<u8> {
    let mut f = u16::try_from(msg.len()).expect("fits").to_be_bytes().to_vec();
    f.extend_from_slice(msg);
    f
}

const QUERY: &[u8] = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x03com\x00\x00\x01\x00\x01";

#[test]
fn gap_drops_partial_frame_and_resyncs() {
    let f = frame(QUERY);
    let mut st = DnsTcpState::new();
    let mut out = Vec::new();
    st.feed(Direction::ToServer, &f[..10], &mut out);
    assert_eq!(st.buffered(Direction::ToServer), 10);
    st.gap(Direction::ToServer);
    assert_eq!(st.buffered(Direction::ToServer), 0);
    // Mid-frame bytes after the gap are dropped.
    st.feed(Direction::ToServer, &f[10..], &mut out);
    assert!(out.is_empty());
    // A chunk that starts a plausible frame resyncs.
    let two = [f.clone(), f.clone()].concat();
    st.feed(Direction::ToServer, &two, &mut out);
    assert_eq!(out.len(), 2);
    assert!(out.iter().all(Result::is_ok));
    // The other direction was never affected.
    st.feed(Direction::ToClient, &f, &mut out);
    assert_eq!(out.len(), 3);
}

#[test]
fn largest_frame_is_bounded_and_decoded() {
    // A query padded with trailing bytes to the 65535 maximum.
    let mut msg = QUERY.to_vec();
    msg.resize(65535, 0xab);
    let f = frame(&msg);
    let mut st = DnsTcpState::new();
    let mut out = Vec::new();
    for chunk in f.chunks(4096) {
        st.feed(Direction::ToClient, chunk, &mut out);
        assert!(st.buffered(Direction::ToClient) <= 65536);
    }
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().map(|m| m.queries.len()), Ok(1));
    assert_eq!(st.buffered(Direction::ToClient), 0);
}

#[test]
fn empty_and_bad_frames_are_reported_and_framing_goes_on() {
    let mut st = DnsTcpState::new();
    let mut out = Vec::new();
    let mut data = vec![0, 0];
    data.extend(frame(b"\x00\x01\x02"));
    data.extend(frame(QUERY));
    st.feed(Direction::ToServer, &data, &mut out);
    assert_eq!(out.len(), 3);
    assert_eq!(out[0], Err(DnsError::Truncated { offset: 0 }));
    assert_eq!(out[1], Err(DnsError::Truncated { offset: 0 }));
    assert_eq!(parse_message(QUERY).as_ref(), out[2].as_ref());
}
