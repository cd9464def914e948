//! The lake: events (flows, dns, http, tls, process, connect, open, syscalls, logs),
//! findings, alerts, incidents, decisions and the agents' baselines as Parquet files in
//! Hive-style partitions (`table=NAME/date=YYYY-MM-DD/hour=HH/part-*.parquet`), readable
//! by DataFusion (`sensor query`), DuckDB, pyarrow, Spark or Trino.
//!
//! Producers (the packet pipeline, the ring readers, the log reader, the governor) each own
//! a [`LakeSink`] and append rows without a lock; full batches go to one writer thread
//! ([`Lake`]) that commits each as a file atomically. docs/LAKE.md describes the tables
//! (generated from [`schema`]), the commit protocol, retention and compaction.

pub mod baselines;
mod batch;
pub mod history;
pub mod maintain;
pub mod ocsf;
pub mod path;
#[cfg(feature = "sql")]
pub mod query;
pub mod rows;
pub mod schema;
mod sink;
pub mod stats;
mod writer;

use std::{path::PathBuf, time::Duration};

pub use batch::{Row, TableBuffer};
pub use maintain::Maintenance;
pub use schema::Table;
pub use sink::LakeSink;
pub use stats::LakeStats;
pub use writer::{Lake, write_parquet};

/// How the lake is written.
#[derive(Clone, Debug)]
pub struct LakeConfig {
    /// The lake's root directory.
    pub root: PathBuf,
    /// The `host` column of every row.
    pub host: String,
    /// A table's buffer becomes a file at this many rows...
    pub batch_rows: usize,
    /// ... or this many bytes ...
    pub batch_bytes: usize,
    /// ... or at the first tick this long after its first row.
    pub flush_interval: Duration,
    /// Batches queued for the writer.
    pub queue_batches: usize,
    /// Producers wait when the queue is full (replay) instead of dropping (live).
    pub backpressure: bool,
    /// Rows held while writes are paused before the oldest are dropped.
    pub max_pending_rows: u64,
    /// How often a paused writer retries.
    pub retry: Duration,
    /// Compaction and retention.
    pub maintenance: Maintenance,
    /// How often the writer runs maintenance (None: only at exit, if `maintain_at_exit`).
    pub maintain_every: Option<Duration>,
    /// Run maintenance when the writer ends.
    pub maintain_at_exit: bool,
}

impl LakeConfig {
    /// Defaults for a live sensor writing to `root`.
    pub fn live(root: PathBuf) -> Self {
        Self {
            root,
            host: host_name(),
            batch_rows: 65_536,
            batch_bytes: 32 << 20,
            flush_interval: Duration::from_secs(10),
            queue_batches: 64,
            backpressure: false,
            max_pending_rows: 2_000_000,
            retry: Duration::from_secs(2),
            maintenance: Maintenance {
                max_age: Some(Duration::from_secs(30 * 86_400)),
                max_bytes: Some(10 << 30),
                ..Maintenance::default()
            },
            maintain_every: Some(Duration::from_secs(600)),
            maintain_at_exit: true,
        }
    }

    /// Defaults for a replay writing to `root`: larger batches, waiting instead of
    /// dropping, no retention unless asked (old captures are old on purpose).
    pub fn replay(root: PathBuf) -> Self {
        Self {
            backpressure: true,
            batch_rows: 131_072,
            flush_interval: Duration::from_secs(3600),
            maintenance: Maintenance::default(),
            maintain_every: None,
            ..Self::live(root)
        }
    }
}

/// This machine's host name (from the kernel), or "localhost".
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// Errors of the lake.
#[derive(Debug, thiserror::Error)]
pub enum LakeError {
    /// A file or directory could not be written or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Parquet encoding or decoding failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: parquet::errors::ParquetError,
    },
    /// The writer thread could not be started.
    #[error("cannot start the lake writer thread")]
    Thread {
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

#[cfg(all(test, feature = "sql"))]
mod tests;
