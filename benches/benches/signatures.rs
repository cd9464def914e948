//! Packet detection with the whole ET Open set (../shared/data/rules/et-open), per matcher:
//! Hyperscan (the default) and aho-corasick, on three payload kinds (an HTTP request, a
//! binary 1,400-byte segment, printable text). Throughput in bytes/s of `detect_packet`
//! (prefilter, candidates, verification); no allocation happens inside the loop (see the engine
//! tests). Skipped with a note when the rule set is not there.

use std::{
    net::{IpAddr, Ipv4Addr},
    path::PathBuf,
};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sensor_user::rules::{
    engine::{DetectCtx, FlowDetect, Mpm, PacketView, TcpView},
    parse::RuleConfig,
    set,
};

fn et_open() -> Option<PathBuf> {
    let p = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/data/rules/et-open");
    p.is_dir().then_some(p)
}

fn payloads() -> Vec<(&'static str, Vec<u8>)> {
    let http = b"GET /index.php?id=42&q=search HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: Mozilla/5.0 \
        (X11; Linux x86_64)\r\nAccept: */*\r\nCookie: session=abcdef0123456789\r\n\r\n"
        .to_vec();
    // A fixed pseudo-random segment (xorshift), like compressed or encrypted data.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let binary: Vec<u8> = (0..1400)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    let text: Vec<u8> = b"The quick brown fox jumps over the lazy dog; lorem ipsum dolor sit amet. "
        .iter()
        .copied()
        .cycle()
        .take(1400)
        .collect();
    vec![("http_request", http), ("binary_1400", binary), ("text_1400", text)]
}

fn packet(payload: &[u8]) -> PacketView<'_> {
    PacketView {
        ts_ns: 1,
        src: IpAddr::V4(Ipv4Addr::new(192, 168, 1, 10)),
        dst: IpAddr::V4(Ipv4Addr::new(93, 184, 216, 34)),
        sport: 49_152,
        dport: 80,
        ip_proto: 6,
        ttl: 64,
        tcp: Some(TcpView { flags: 0x18, seq: 1, ack: 1, window: 502 }),
        icmp: None,
        payload,
        to_server: true,
        established: true,
        app: None,
        app_ready: true,
        flow_bytes: [payload.len() as u64, 0],
        has_flow: true,
    }
}

fn detect(c: &mut Criterion) {
    let Some(dir) = et_open() else {
        eprintln!("signatures bench skipped: ../shared/data/rules/et-open not found");
        return;
    };
    let mut g = c.benchmark_group("detect_packet_et_open");
    for mpm in [Mpm::Hyperscan, Mpm::AhoCorasick] {
        let cfg = RuleConfig { mpm, ..RuleConfig::suricata_default() };
        let Ok((rules, _)) = set::load(std::slice::from_ref(&dir), &cfg) else { continue };
        let mut ctx = DetectCtx::new(&rules);
        for (name, pl) in payloads() {
            let p = packet(&pl);
            let mut flow = FlowDetect::default();
            g.throughput(Throughput::Bytes(pl.len() as u64));
            g.bench_function(format!("{}/{name}", mpm.name()), |b| {
                b.iter(|| rules.detect_packet(&mut ctx, &mut flow, std::hint::black_box(&p), &mut |_| {}))
            });
        }
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = detect
}
criterion_main!(benches);
