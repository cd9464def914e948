//! A producer's side of the lake: one buffer per table, owned by the thread that writes the
//! rows (no lock). A buffer rolls over into a batch for the writer when it reaches
//! `batch_rows` or `batch_bytes`, or at a tick `flush_interval` after its first row;
//! `flush` (and drop) hands over the rest. A batch's partition is the UTC hour in which its
//! first row was buffered (storage time): the `ts` column keeps each row's event time, so a
//! replay of an old capture is neither scattered over thousands of tiny partitions nor
//! removed at once by age retention.
//!
//! Live sensors never wait for the lake: a full writer queue drops the batch and counts
//! its rows. Replay waits instead (`backpressure`), so an offline lake is complete.

use std::{
    sync::{
        Arc,
        mpsc::{SyncSender, TrySendError},
    },
    time::Instant,
};

use super::{
    LakeConfig,
    batch::{Row, TableBuffer},
    path::hour_of,
    schema::Table,
    stats::LakeStats,
    writer::Batch,
};

/// What producers send the writer.
pub enum Msg {
    /// Rows to commit.
    Batch(Batch),
    /// Answer once everything before this message was handled.
    Sync(SyncSender<()>),
}

struct Open {
    buf: TableBuffer,
    hour: u64,
    born: Instant,
}

/// A producer's buffers; see the module docs.
pub struct LakeSink {
    tx: Option<SyncSender<Msg>>,
    cfg: Arc<LakeConfig>,
    stats: Arc<LakeStats>,
    open: Vec<Option<Open>>,
}

impl std::fmt::Debug for LakeSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LakeSink").finish_non_exhaustive()
    }
}

impl LakeSink {
    pub(super) fn new(tx: Option<SyncSender<Msg>>, cfg: Arc<LakeConfig>, stats: Arc<LakeStats>) -> Self {
        Self { tx, cfg, stats, open: (0..Table::ALL.len()).map(|_| None).collect() }
    }

    /// Appends a row to `table` at event time `ts_ns`: `ts` and `host` are filled here,
    /// `fill` sets the table's other columns in order.
    pub fn row(&mut self, table: Table, ts_ns: u64, fill: impl FnOnce(&mut Row<'_>)) {
        let slot = table as usize;
        let rows = self.cfg.batch_rows;
        let o = self.open[slot].get_or_insert_with(|| Open {
            buf: TableBuffer::new(table, rows.min(4096)),
            hour: 0,
            born: Instant::now(),
        });
        if o.buf.rows() == 0 {
            // One clock read per batch, not per row.
            o.hour = hour_of(crate::respond::wall_ns());
            o.born = Instant::now();
        }
        let host = &self.cfg.host;
        o.buf.row(|r| {
            r.ts(ts_ns).str(host);
            fill(r);
        });
        if o.buf.rows() >= self.cfg.batch_rows || o.buf.bytes() >= self.cfg.batch_bytes {
            self.ship(table);
        }
    }

    /// Hands over buffers whose first row is older than the flush interval.
    pub fn tick(&mut self) {
        for t in Table::ALL {
            if self.open[t as usize]
                .as_ref()
                .is_some_and(|o| o.buf.rows() > 0 && o.born.elapsed() >= self.cfg.flush_interval)
            {
                self.ship(t);
            }
        }
    }

    /// Hands over every buffered row.
    pub fn flush(&mut self) {
        for t in Table::ALL {
            self.ship(t);
        }
    }

    fn ship(&mut self, table: Table) {
        let Some(o) = self.open[table as usize].as_mut() else { return };
        if o.buf.rows() == 0 {
            return;
        }
        let rows = o.buf.finish();
        let n = rows.num_rows() as u64;
        let msg = Msg::Batch(Batch { table, hour_ns: o.hour, rows, born: o.born });
        let Some(tx) = &self.tx else {
            LakeStats::add(&self.stats.rows_dropped, n);
            return;
        };
        let lost = if self.cfg.backpressure {
            tx.send(msg).is_err()
        } else {
            match tx.try_send(msg) {
                Ok(()) => false,
                Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => true,
            }
        };
        if lost {
            LakeStats::add(&self.stats.rows_dropped, n);
        }
    }
}

impl Drop for LakeSink {
    fn drop(&mut self) {
        self.flush();
    }
}
