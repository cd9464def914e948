//! The lake's counters, shared by the writer thread, the producers and `/metrics`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters (monotonic unless named as a gauge).
#[derive(Debug, Default)]
pub struct LakeStats {
    /// Rows committed to Parquet files.
    pub rows_written: AtomicU64,
    /// Files committed.
    pub files_written: AtomicU64,
    /// Bytes of Parquet committed.
    pub bytes_written: AtomicU64,
    /// Rows dropped: the writer's queue was full (live mode) or the pending backlog over
    /// its bound while writes were paused.
    pub rows_dropped: AtomicU64,
    /// Failed attempts to commit a file (disk full, read-only, permissions).
    pub write_errors: AtomicU64,
    /// Gauge: 1 while writes are paused by an error.
    pub paused: AtomicU64,
    /// Gauge: rows waiting in the writer (queued or pending after an error).
    pub pending_rows: AtomicU64,
    /// Gauge: age in milliseconds of the oldest row not yet committed (0 when none).
    pub lag_ms: AtomicU64,
    /// Files merged by compaction.
    pub files_compacted: AtomicU64,
    /// Files removed by retention.
    pub files_expired: AtomicU64,
}

impl LakeStats {
    /// Adds `n` to a counter.
    pub fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Relaxed);
    }

    /// A counter's value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Relaxed)
    }
}
