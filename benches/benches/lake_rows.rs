//! Cost per lake row on the producer's side (criterion): appending a `log` row and a
//! `findings`-sized row to a sink, batches handed to a real writer thread committing
//! Parquet files in a temporary directory. The writer runs on another core; this is what
//! the packet or governor thread pays per record with the lake on.

use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use sensor_user::lake::{Lake, LakeConfig, Table};

fn rows(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("lake-bench-{}", std::process::id()));
    let cfg = LakeConfig { flush_interval: Duration::from_secs(3600), ..LakeConfig::replay(dir.clone()) };
    let Ok(lake) = Lake::open(cfg) else { return };
    let mut sink = lake.sink();
    let mut g = c.benchmark_group("lake_row");
    let mut i = 0u64;
    let ts = 1_796_670_000_000_000_000u64;
    g.bench_function("log", |b| {
        b.iter(|| {
            i += 1;
            sink.row(Table::Log, ts + i, |r| {
                r.str("sshd").str("failure").str("root").str("10.0.0.1");
            });
        })
    });
    g.bench_function("findings", |b| {
        b.iter(|| {
            i += 1;
            sink.row(Table::Findings, ts + i, |r| {
                r.str("port_scan").str("syn_scan").f64(0.52).str("medium").str("T1046");
                r.str("10.201.0.2").str("10.201.0.1").u64(22).null().null().null();
                r.str("distinct_ports").f64(10.0).f64(10.0).u64(10);
                r.str("10.201.0.2 probed 10 distinct ports on 10.201.0.1 in 0 s (SYN 10)");
            });
        })
    });
    g.finish();
    drop(sink);
    lake.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, rows);
criterion_main!(benches);
