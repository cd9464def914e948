//! DNS decoding checked against tshark on real captures (tests/fixtures/dns_udp.tsv, see gen_dns.py).
//!
//! Sources: nDPI iodine tunnel and dnscat exfiltration, StopDDoS RRSIG amplification (IP fragments
//! reassembled by tshark), Zeek EDNS/ECS, mDNS and Wikipedia captures, mDNS SRV records from
//! Wikipedia and nDPI Telegram captures, and the UDP DNS messages of the suricata-verify tests
//! dns-z-bit, dns-udp-z-flag-fp, datasets-04-http-dns, bug-5162 and bug-5197.
//!
//! How tshark 4.0 files things differently from this parser, and how the test maps them:
//! - root name: `<Root>` (ours: empty); invalid UTF-8 label bytes: U+FFFD (ours: raw bytes);
//! - mDNS: class without the cache-flush / unicast-response bit (ours: kept, masked here);
//! - OPT: no `dns.resp.class` / `dns.resp.ttl` (ours: payload size and EDNS flags, skipped here);
//! - NSEC / NSEC3: the type bitmap's types are listed under `dns.resp.type` after the record's own
//!   type (rebuilt here from the raw rdata we keep);
//! - SRV: the owner name is split into `dns.srv.service`, `dns.srv.proto`, `dns.srv.name` and left
//!   out of `dns.resp.name` (rejoined here).
#![allow(clippy::indexing_slicing, clippy::arithmetic_side_effects)]

mod common;

use common::{Table, hex, num, split_list, tshark_name};
use sensor_user::packet::app::dns::{DnsData, DnsMessage, DnsRecord, parse_message};

const FIXTURE: &str = include_str!("fixtures/dns_udp.tsv");

fn records(m: &DnsMessage) -> Vec<&DnsRecord> {
    m.answers.iter().chain(&m.authorities).chain(&m.additional).collect()
}

fn names_of(m: &DnsMessage, rrtype: u16) -> Vec<String> {
    records(m)
        .into_iter()
        .filter(|r| r.rrtype == rrtype)
        .filter_map(|r| match &r.data {
            DnsData::Name(n) => Some(tshark_name(n)),
            _ => None,
        })
        .collect()
}

/// The values tshark lists under `dns.resp.type` for one record: its type, then for NSEC (47) and
/// NSEC3 (50) every type of the rdata's type bitmap (read from the raw rdata we keep).
fn tshark_types(r: &DnsRecord) -> Vec<String> {
    let mut out = vec![r.rrtype.to_string()];
    let DnsData::Other(raw) = &r.data else { return out };
    let bitmap_at = match r.rrtype {
        47 => {
            // Next domain name: labels up to a zero byte, or up to a pointer (mDNS compresses it).
            let mut at = 0;
            while raw[at] != 0 && raw[at] & 0xc0 == 0 {
                at += 1 + usize::from(raw[at]);
            }
            Some(at + if raw[at] == 0 { 1 } else { 2 })
        }
        50 => {
            let salt = usize::from(raw[4]);
            let hash = usize::from(raw[5 + salt]);
            Some(6 + salt + hash)
        }
        _ => None,
    };
    let Some(mut at) = bitmap_at else { return out };
    while at + 2 <= raw.len() {
        let (window, len) = (usize::from(raw[at]), usize::from(raw[at + 1]));
        for (i, byte) in raw[at + 2..at + 2 + len].iter().enumerate() {
            for bit in 0..8 {
                if byte & (0x80 >> bit) != 0 {
                    out.push((window * 256 + i * 8 + bit).to_string());
                }
            }
        }
        at += 2 + len;
    }
    out
}

/// Compares one list; records a mismatch message, returns the number of values compared.
fn cmp(errs: &mut Vec<String>, what: &str, ours: Vec<String>, theirs: Vec<String>) -> usize {
    if ours != theirs {
        errs.push(format!("{what}: ours {ours:?} tshark {theirs:?}"));
    }
    theirs.len()
}

#[test]
fn udp_messages_match_tshark() {
    let t = Table::parse(FIXTURE);
    let mut errs = Vec::new();
    let mut compared = 0usize;
    for row in &t.rows {
        let at = format!("{} frame {}", t.cell(row, "source"), t.cell(row, "frame.number"));
        let payload = hex(t.cell(row, "udp.payload"));
        let m = match parse_message(&payload) {
            Ok(m) => m,
            Err(e) => {
                errs.push(format!("{at}: {e}"));
                continue;
            }
        };
        let mut e = Vec::new();
        let one = |v: u64| vec![v.to_string()];
        let n = |col: &str| t.list(row, col).iter().map(|s| num(s).to_string()).collect::<Vec<_>>();
        compared += cmp(&mut e, "id", one(m.id.into()), n("dns.id"));
        compared += cmp(&mut e, "flags", one(m.flags.into()), n("dns.flags"));
        compared += cmp(&mut e, "response", one(m.response.into()), n("dns.flags.response"));
        compared += cmp(&mut e, "opcode", one(m.opcode.into()), n("dns.flags.opcode"));
        if m.response {
            compared += cmp(&mut e, "rcode", one(m.rcode.into()), n("dns.flags.rcode"));
        }
        compared += cmp(&mut e, "qdcount", one(m.queries.len() as u64), n("dns.count.queries"));
        compared += cmp(&mut e, "ancount", one(m.answers.len() as u64), n("dns.count.answers"));
        compared += cmp(&mut e, "nscount", one(m.authorities.len() as u64), n("dns.count.auth_rr"));
        compared += cmp(&mut e, "arcount", one(m.additional.len() as u64), n("dns.count.add_rr"));
        let q = &m.queries;
        compared +=
            cmp(&mut e, "qry.name", q.iter().map(|q| tshark_name(&q.name)).collect(), t.list(row, "dns.qry.name"));
        compared += cmp(&mut e, "qry.type", q.iter().map(|q| q.rrtype.to_string()).collect(), n("dns.qry.type"));
        // mDNS: tshark shows the unicast-response / cache-flush bit apart from the class; we keep it in.
        let class_mask = if t.cell(row, "source").starts_with("mdns") { 0x7fff } else { 0xffff };
        compared += cmp(
            &mut e,
            "qry.class",
            q.iter().map(|q| (q.class & class_mask).to_string()).collect(),
            n("dns.qry.class"),
        );
        let rr = records(&m);
        // tshark files SRV owner names under dns.srv.name instead of dns.resp.name.
        let owner = |srv: bool| rr.iter().filter(|r| (r.rrtype == 33) == srv).map(|r| tshark_name(&r.name)).collect();
        compared += cmp(&mut e, "resp.name", owner(false), t.list(row, "dns.resp.name"));
        // ... split as service (first label), proto (second label) and name (the rest).
        let srv_owner = t.list(row, "dns.srv.service").into_iter().zip(t.list(row, "dns.srv.proto"));
        let srv_owner = srv_owner.zip(t.list(row, "dns.srv.name")).map(|((s, p), n)| format!("{s}.{p}.{n}"));
        compared += cmp(&mut e, "srv owner", owner(true), srv_owner.collect());
        compared += cmp(&mut e, "resp.type", rr.iter().flat_map(|r| tshark_types(r)).collect(), n("dns.resp.type"));
        // tshark shows no class or TTL for OPT (41): its class is a payload size, its TTL the EDNS flags.
        let non_opt: Vec<_> = rr.iter().filter(|r| r.rrtype != 41).collect();
        compared += cmp(
            &mut e,
            "resp.class",
            non_opt.iter().map(|r| (r.class & class_mask).to_string()).collect(),
            n("dns.resp.class"),
        );
        compared += cmp(&mut e, "resp.ttl", non_opt.iter().map(|r| r.ttl.to_string()).collect(), n("dns.resp.ttl"));
        let a = rr.iter().filter_map(|r| match r.data {
            DnsData::A(ip) => Some(ip.to_string()),
            _ => None,
        });
        compared += cmp(&mut e, "a", a.collect(), t.list(row, "dns.a"));
        let aaaa = rr.iter().filter_map(|r| match r.data {
            DnsData::Aaaa(ip) => Some(ip.to_string()),
            _ => None,
        });
        compared += cmp(&mut e, "aaaa", aaaa.collect(), t.list(row, "dns.aaaa"));
        compared += cmp(&mut e, "cname", names_of(&m, 5), t.list(row, "dns.cname"));
        compared += cmp(&mut e, "ns", names_of(&m, 2), t.list(row, "dns.ns"));
        compared += cmp(&mut e, "ptr", names_of(&m, 12), t.list(row, "dns.ptr.domain_name"));
        let (mut pref, mut exch, mut txt) = (Vec::new(), Vec::new(), Vec::new());
        let (mut soa_m, mut soa_r, mut soa_s) = (Vec::new(), Vec::new(), Vec::new());
        let (mut srv_p, mut srv_w, mut srv_port, mut srv_t) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for r in &rr {
            match &r.data {
                DnsData::Mx { preference, exchange } => {
                    pref.push(preference.to_string());
                    exch.push(tshark_name(exchange));
                }
                DnsData::Txt(strings) => txt.extend(strings.iter().map(|s| String::from_utf8_lossy(s).into_owned())),
                DnsData::Soa { mname, rname, serial, .. } => {
                    soa_m.push(tshark_name(mname));
                    soa_r.push(tshark_name(rname));
                    soa_s.push(serial.to_string());
                }
                DnsData::Srv { priority, weight, port, target } => {
                    srv_p.push(priority.to_string());
                    srv_w.push(weight.to_string());
                    srv_port.push(port.to_string());
                    srv_t.push(tshark_name(target));
                }
                _ => {}
            }
        }
        compared += cmp(&mut e, "mx.preference", pref, n("dns.mx.preference"));
        compared += cmp(&mut e, "mx.mail_exchange", exch, t.list(row, "dns.mx.mail_exchange"));
        compared += cmp(&mut e, "txt", txt, t.list(row, "dns.txt"));
        compared += cmp(&mut e, "soa.mname", soa_m, t.list(row, "dns.soa.mname"));
        compared += cmp(&mut e, "soa.rname", soa_r, t.list(row, "dns.soa.rname"));
        compared += cmp(&mut e, "soa.serial", soa_s, n("dns.soa.serial_number"));
        compared += cmp(&mut e, "srv.priority", srv_p, n("dns.srv.priority"));
        compared += cmp(&mut e, "srv.weight", srv_w, n("dns.srv.weight"));
        compared += cmp(&mut e, "srv.port", srv_port, n("dns.srv.port"));
        compared += cmp(&mut e, "srv.target", srv_t, t.list(row, "dns.srv.target"));
        errs.extend(e.into_iter().map(|x| format!("{at}: {x}")));
    }
    println!("{} messages, {compared} tshark values compared", t.rows.len());
    assert!(t.rows.len() >= 150, "fixture too small: {}", t.rows.len());
    assert!(errs.is_empty(), "{} mismatches:\n{}", errs.len(), errs.join("\n"));
}

#[test]
fn split_list_unescapes() {
    assert_eq!(split_list(r"a\,b,c\\d,\t"), vec!["a,b", r"c\d", "\t"]);
}
