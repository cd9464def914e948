//! A fixed-bucket latency histogram of atomics: `observe` is two relaxed adds and a short
//! scan, no lock and no allocation, so hot-path threads can record into a shared one.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Bucket upper bounds in nanoseconds (a last +Inf bucket follows).
pub const LATENCY_BOUNDS_NS: [u64; 12] =
    [250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000, 10_000_000];

/// A latency histogram.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; LATENCY_BOUNDS_NS.len() + 1],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Records one latency.
    pub fn observe(&self, ns: u64) {
        let i = LATENCY_BOUNDS_NS.iter().position(|b| ns <= *b).unwrap_or(LATENCY_BOUNDS_NS.len());
        self.buckets[i].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.sum_ns.fetch_add(ns, Relaxed);
    }

    /// (per-bucket counts, count, sum in ns).
    pub fn snapshot(&self) -> (Vec<u64>, u64, u64) {
        (self.buckets.iter().map(|b| b.load(Relaxed)).collect(), self.count.load(Relaxed), self.sum_ns.load(Relaxed))
    }
}
