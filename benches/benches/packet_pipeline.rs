//! The replay/live packet path: decoding one Ethernet/IPv4/TCP frame, and the whole pipeline
//! (decode, flow lookup, TCP reassembly, app layer) for a frame of a known flow.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use sensor_user::packet::{
    capture::LinkType,
    decode::decode,
    eve::{EveTypes, EveWriter},
    pipeline::{Pipeline, PipelineConfig},
};
use tests::frames::Frame;

/// An Ethernet/IPv4/TCP frame between 10.0.0.1:40000 (client) and 10.0.0.2:80.
fn frame(to_server: bool, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (c, s) = ([10, 0, 0, 1], [10, 0, 0, 2]);
    let f = if to_server {
        Frame::tcp4(c, s, 40000, 80, flags, payload)
    } else {
        Frame::tcp4(s, c, 80, 40000, flags, payload)
    };
    Frame { seq, ..f }.bytes()
}

fn packet_pipeline(c: &mut Criterion) {
    let mut g = c.benchmark_group("packet_pipeline");
    g.throughput(Throughput::Elements(1));
    let ack = frame(true, 0x10, 1, b"");
    g.bench_function("decode_tcp_frame", |b| b.iter(|| decode(LinkType::Ethernet, 1, black_box(&ack)).is_ok()));

    let mut p = Pipeline::new(PipelineConfig::default(), EveWriter::new(None, EveTypes::default()));
    p.frame(LinkType::Ethernet, 1, &frame(true, 0x02, 100, b""));
    p.frame(LinkType::Ethernet, 2, &frame(false, 0x12, 500, b""));
    p.frame(LinkType::Ethernet, 3, &frame(true, 0x18, 101, b"\x00\x01binary-protocol"));
    let pure_ack = frame(false, 0x10, 501, b"");
    g.bench_function("known_flow_ack", |b| b.iter(|| p.frame(LinkType::Ethernet, 4, black_box(&pure_ack))));
    // In-order data segments (sequence numbers advance each iteration).
    let mut seq = 118u32;
    let mut data = frame(true, 0x18, seq, &[b'x'; 512]);
    g.bench_function("known_flow_512b_segment", |b| {
        b.iter(|| {
            data[38..42].copy_from_slice(&seq.to_be_bytes());
            seq = seq.wrapping_add(512);
            p.frame(LinkType::Ethernet, 5, black_box(&data));
        })
    });
    g.finish();
}

criterion_group!(benches, packet_pipeline);
criterion_main!(benches);
