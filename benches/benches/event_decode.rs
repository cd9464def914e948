//! Decoding ring-buffer records: the per-event cost on the reader thread.

use criterion::{Criterion, Throughput, black_box, criterion_group, criterion_main};
use sensor_user::event::decode;

fn event_decode(c: &mut Criterion) {
    let mut g = c.benchmark_group("event_decode");
    g.throughput(Throughput::Elements(1));
    let flow = benches::flow_record();
    g.bench_function("flow_start", |b| b.iter(|| decode(black_box(&flow)).is_ok()));
    let sample = benches::sample_record();
    g.bench_function("payload_sample", |b| b.iter(|| decode(black_box(&sample)).is_ok()));
    g.finish();
}

criterion_group!(benches, event_decode);
criterion_main!(benches);
