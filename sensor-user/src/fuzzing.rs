//! The fuzz targets' bodies: every parser that reads bytes an attacker controls, driven
//! from one byte slice. `fuzz/` (cargo-fuzz, libFuzzer) calls these; the test suite replays
//! the committed corpora and every crash ever found through them (`fuzz/corpus/`,
//! `fuzz/regressions/`), so a fixed crash stays fixed without a fuzzer installed.
//!
//! Each function must return for every input (no panic, no hang, bounded memory); what
//! they compute is thrown away.

use std::io::Cursor;

use crate::packet::{
    Direction,
    app::{dns, http, socks, ssh, tls, x509},
    capture::{CaptureReader, LinkType},
    decode,
};

/// A fuzz target's body.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the names of `fuzz/fuzz_targets/*.rs`).
pub const TARGETS: [(&str, Target); 6] = [
    ("packet_decode", packet_decode),
    ("capture_reader", capture_reader),
    ("rule_parser", rule_parser),
    ("app_layer", app_layer),
    ("log_parser", log_parser),
    ("indicator_parser", indicator_parser),
];

/// The packet decoder, on the input as a frame of each link type.
pub fn packet_decode(data: &[u8]) {
    for link in [LinkType::Ethernet, LinkType::Raw, LinkType::Null, LinkType::Loop, LinkType::Ipv4, LinkType::Ipv6] {
        let _ = decode::decode(link, 0, data);
    }
}

/// The pcap / pcapng (and gzip) reader: every packet until the end or the first error.
pub fn capture_reader(data: &[u8]) {
    let Ok(mut cap) = CaptureReader::from_read("fuzz", Box::new(Cursor::new(data.to_vec()))) else { return };
    // A file this small holds at most this many records (each has a header).
    for _ in 0..=data.len() / 8 + 1 {
        match cap.next_packet() {
            Ok(Some(p)) => {
                let _ = decode::decode(p.link, p.ts_ns, p.data);
            }
            Ok(None) | Err(_) => return,
        }
    }
}

/// The Suricata rule parser, on each line.
pub fn rule_parser(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let cfg = crate::rules::parse::RuleConfig::suricata_default();
    let mut names = crate::rules::parse::FlowbitNames::default();
    for line in text.lines() {
        let _ = crate::rules::parse::parse_rule(line, "fuzz:1", &cfg, &mut names);
    }
}

/// The application-layer parsers. The first byte picks the parser; the rest is split into
/// segments at 0xff bytes, alternating direction, as a reassembled stream would deliver them.
pub fn app_layer(data: &[u8]) {
    let Some((&which, rest)) = data.split_first() else { return };
    let segments = rest.split(|b| *b == 0xff).enumerate().map(|(i, s)| {
        let dir = if i % 2 == 0 { Direction::ToServer } else { Direction::ToClient };
        (dir, s)
    });
    match which % 6 {
        0 => {
            let mut st = http::HttpState::new(http::HttpConfig::default());
            let mut out = Vec::new();
            for (dir, s) in segments {
                st.feed(dir, s, &mut out);
            }
            st.close(&mut out);
        }
        1 => {
            let _ = dns::parse_message_lenient(rest);
            let _ = dns::parse_message(rest);
        }
        2 => {
            let mut st = tls::TlsState::new();
            for (dir, s) in segments {
                let _ = st.feed(dir, s);
            }
        }
        3 => {
            let mut st = ssh::SshState::new();
            for (dir, s) in segments {
                let _ = st.feed(dir, s);
            }
        }
        4 => {
            let _ = x509::parse_certificate(rest);
        }
        _ => {
            let mut st = socks::SocksState::new(if which & 0x80 != 0 { 5 } else { 4 });
            for (dir, s) in segments {
                let _ = st.feed(dir, s);
            }
        }
    }
}

/// The auth-log line parser and the journal's JSON line parser, on each line.
pub fn log_parser(data: &[u8]) {
    for line in data.split(|b| *b == b'\n') {
        let _ = crate::logs::auth::parse_line(line);
        let _ = crate::logs::journal::parse_json_line(line);
    }
}

/// The threat-intel feed loader in each format (plain, CSV, dataset, MISP JSON).
pub fn indicator_parser(data: &[u8]) {
    use crate::agents::intel::{DatasetType, FeedConfig, Format, indicators::IndicatorSetBuilder, load};
    let formats = [
        (Format::Plain, None),
        (Format::Csv, None),
        (Format::Dataset, Some(DatasetType::Ip)),
        (Format::Dataset, Some(DatasetType::String)),
        (Format::Misp, None),
        (Format::Auto, None),
    ];
    for (format, dataset_type) in formats {
        let fc = FeedConfig { path: "fuzz.txt".into(), format, dataset_type, ..FeedConfig::default() };
        let mut b = IndicatorSetBuilder::new(10_000);
        let _ = load::load_bytes(&fc, &load::Limits::default(), data, &mut b);
        let set = b.build();
        let _ = set.mirror_entries().count();
    }
}
