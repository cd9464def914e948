//! The lake's writer thread: takes finished batches from the producers' sinks and commits
//! each as one Parquet file, atomically (written as `.part-*.tmp`, synced, then renamed), so
//! a crash or a full disk never leaves a torn file among the committed ones.
//!
//! When a commit fails (disk full, read-only file system, permissions) writes pause: the
//! batches are held (up to `max_pending_rows`, oldest dropped and counted beyond that),
//! `sensor_lake_paused` reads 1, one log line says why, and the writer retries every
//! `retry`. Detection and containment never wait for the lake.

use std::{
    collections::VecDeque,
    fs::File,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::Ordering::Relaxed,
        mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use arrow::record_batch::RecordBatch;
use parquet::{arrow::ArrowWriter, basic::Compression, file::properties::WriterProperties};

use super::{
    LakeConfig, LakeError, maintain,
    path::partition,
    schema::Table,
    sink::{LakeSink, Msg},
    stats::LakeStats,
};

/// A finished batch on its way to a file.
pub struct Batch {
    /// Its table.
    pub table: Table,
    /// The UTC hour its first row was buffered in (its partition).
    pub hour_ns: u64,
    /// The rows.
    pub rows: RecordBatch,
    /// When its first row was buffered (for the lag gauge).
    pub born: Instant,
}

/// An open lake: the writer thread and the handle producers get sinks from.
pub struct Lake {
    tx: Option<SyncSender<Msg>>,
    handle: Option<JoinHandle<()>>,
    stats: Arc<LakeStats>,
    cfg: Arc<LakeConfig>,
}

impl std::fmt::Debug for Lake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lake").field("root", &self.cfg.root).finish_non_exhaustive()
    }
}

impl Lake {
    /// Opens (creating) the lake at `cfg.root`, recovers what a crash left (temporary files,
    /// an interrupted compaction) and starts the writer thread.
    ///
    /// # Errors
    /// When the thread cannot be started. A root that cannot be created or written does
    /// not fail: the writer starts paused and says why.
    pub fn open(cfg: LakeConfig) -> Result<Self, LakeError> {
        if let Err(e) = std::fs::create_dir_all(&cfg.root) {
            eprintln!("lake: cannot create {}: {e}; writes stay paused until it can be written", cfg.root.display());
        } else {
            maintain::recover(&cfg.root);
        }
        let cfg = Arc::new(cfg);
        let stats = Arc::new(LakeStats::default());
        let (tx, rx) = sync_channel(cfg.queue_batches.max(1));
        let (c, s) = (Arc::clone(&cfg), Arc::clone(&stats));
        let handle = std::thread::Builder::new()
            .name("lake-writer".into())
            .spawn(move || Writer::new(c, s).serve(&rx))
            .map_err(|source| LakeError::Thread { source })?;
        Ok(Self { tx: Some(tx), handle: Some(handle), stats, cfg })
    }

    /// A producer's sink (one per thread that writes rows).
    pub fn sink(&self) -> LakeSink {
        LakeSink::new(self.tx.clone(), Arc::clone(&self.cfg), Arc::clone(&self.stats))
    }

    /// The counters.
    pub fn stats(&self) -> &Arc<LakeStats> {
        &self.stats
    }

    /// The configuration.
    pub fn config(&self) -> &LakeConfig {
        &self.cfg
    }

    /// Waits until every batch queued so far has been committed or held after an error.
    pub fn sync(&self) {
        let (ack, done) = sync_channel(1);
        if let Some(tx) = &self.tx {
            if tx.send(Msg::Sync(ack)).is_ok() {
                let _ = done.recv();
            }
        }
    }

    /// Ends the writer once every sink is gone (drop them first): commits what is queued,
    /// compacts and applies retention when configured, and waits for the thread.
    pub fn finish(mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Lake {
    fn drop(&mut self) {
        self.tx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

struct Writer {
    cfg: Arc<LakeConfig>,
    stats: Arc<LakeStats>,
    pending: VecDeque<Batch>,
    pending_rows: u64,
    paused_since: Option<Instant>,
    last_try: Instant,
    last_maintain: Instant,
    seq: u64,
}

impl Writer {
    fn new(cfg: Arc<LakeConfig>, stats: Arc<LakeStats>) -> Self {
        let now = Instant::now();
        Self {
            cfg,
            stats,
            pending: VecDeque::new(),
            pending_rows: 0,
            paused_since: None,
            last_try: now,
            last_maintain: now,
            seq: 0,
        }
    }

    fn serve(mut self, rx: &Receiver<Msg>) {
        loop {
            let wait = if self.paused_since.is_some() { self.cfg.retry } else { Duration::from_millis(500) };
            let mut acks = Vec::new();
            match rx.recv_timeout(wait) {
                Ok(m) => {
                    for m in std::iter::once(m).chain(rx.try_iter()) {
                        match m {
                            Msg::Batch(b) => self.hold(b),
                            Msg::Sync(ack) => acks.push(ack),
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            let retry_due = self.last_try.elapsed() >= self.cfg.retry;
            if self.paused_since.is_none() || retry_due || !acks.is_empty() {
                self.commit_pending();
            }
            for a in acks {
                let _ = a.send(());
            }
            self.gauges();
            if let Some(every) = self.cfg.maintain_every {
                if self.paused_since.is_none() && self.last_maintain.elapsed() >= every {
                    self.last_maintain = Instant::now();
                    self.maintain();
                }
            }
        }
        self.commit_pending();
        if !self.pending.is_empty() {
            eprintln!(
                "lake: {} row(s) could not be written to {} before shutdown and are lost (counted in sensor_lake_rows_dropped_total)",
                self.pending_rows,
                self.cfg.root.display()
            );
            LakeStats::add(&self.stats.rows_dropped, self.pending_rows);
            self.pending.clear();
            self.pending_rows = 0;
        } else if self.cfg.maintain_at_exit {
            self.maintain();
        }
        self.gauges();
    }

    fn hold(&mut self, b: Batch) {
        self.pending_rows += b.rows.num_rows() as u64;
        self.pending.push_back(b);
        while self.pending_rows > self.cfg.max_pending_rows {
            let Some(old) = self.pending.pop_front() else { break };
            let n = old.rows.num_rows() as u64;
            self.pending_rows -= n;
            LakeStats::add(&self.stats.rows_dropped, n);
        }
    }

    fn commit_pending(&mut self) {
        self.last_try = Instant::now();
        while let Some(b) = self.pending.front() {
            self.seq += 1;
            match commit(&self.cfg.root, b, self.seq) {
                Ok(bytes) => {
                    let n = b.rows.num_rows() as u64;
                    self.pending_rows -= n;
                    LakeStats::add(&self.stats.rows_written, n);
                    LakeStats::add(&self.stats.files_written, 1);
                    LakeStats::add(&self.stats.bytes_written, bytes);
                    self.pending.pop_front();
                    if let Some(since) = self.paused_since.take() {
                        eprintln!(
                            "lake: writes resumed in {} after {:.0}s",
                            self.cfg.root.display(),
                            since.elapsed().as_secs_f64()
                        );
                    }
                }
                Err(e) => {
                    LakeStats::add(&self.stats.write_errors, 1);
                    if self.paused_since.is_none() {
                        self.paused_since = Some(Instant::now());
                        eprintln!(
                            "lake: writes paused: {e}; {} row(s) held (at most {}), retrying every {}s; detection and containment continue",
                            self.pending_rows,
                            self.cfg.max_pending_rows,
                            self.cfg.retry.as_secs().max(1)
                        );
                    }
                    return;
                }
            }
        }
    }

    fn gauges(&self) {
        self.stats.paused.store(u64::from(self.paused_since.is_some()), Relaxed);
        self.stats.pending_rows.store(self.pending_rows, Relaxed);
        let lag = self.pending.front().map_or(0, |b| b.born.elapsed().as_millis() as u64);
        self.stats.lag_ms.store(lag, Relaxed);
    }

    fn maintain(&mut self) {
        let r = maintain::run(&self.cfg.root, &self.cfg.maintenance);
        LakeStats::add(&self.stats.files_compacted, r.compacted_inputs);
        LakeStats::add(&self.stats.files_expired, r.expired);
        for e in &r.errors {
            eprintln!("lake: maintenance: {e}");
        }
    }
}

/// Writes `b` as one committed file; returns its size.
fn commit(root: &Path, b: &Batch, seq: u64) -> Result<u64, LakeError> {
    let dir = root.join(partition(b.table, b.hour_ns));
    std::fs::create_dir_all(&dir).map_err(|source| LakeError::Io { path: dir.clone(), source })?;
    let name = file_name("part", seq);
    let tmp = dir.join(format!(".{name}.tmp"));
    let done = dir.join(&name);
    let r = write_parquet(&tmp, std::slice::from_ref(&b.rows)).and_then(|bytes| {
        std::fs::rename(&tmp, &done).map_err(|source| LakeError::Io { path: done.clone(), source })?;
        Ok(bytes)
    });
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}

/// A committed file's name (`prefix` "part", or "part-c" for compacted files): unique
/// across processes and restarts.
pub fn file_name(prefix: &str, seq: u64) -> String {
    let ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    format!("{prefix}-{ms:013}-{}-{seq:06}.parquet", std::process::id())
}

/// Writes `batches` (one schema) to `path` as Parquet and syncs it; returns the file size.
pub fn write_parquet(path: &PathBuf, batches: &[RecordBatch]) -> Result<u64, LakeError> {
    let io = |source| LakeError::Io { path: path.clone(), source };
    let Some(first) = batches.first() else { return Ok(0) };
    let file = File::create(path).map_err(io)?;
    let props = WriterProperties::builder().set_compression(Compression::SNAPPY).build();
    let pq = |source| LakeError::Parquet { path: path.clone(), source };
    let mut w = ArrowWriter::try_new(file, first.schema(), Some(props)).map_err(pq)?;
    for b in batches {
        w.write(b).map_err(pq)?;
    }
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(io)?;
    Ok(file.metadata().map_err(io)?.len())
}
