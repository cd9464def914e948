//! Ring-buffer readers: one dedicated thread per ring, waiting with poll(2) on the ring's fd,
//! decoding each record in place and handing it to a sink. Decoding failures are counted by
//! reason; nothing on this path allocates or logs.

use std::{
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    thread::JoinHandle,
    time::Duration,
};

use aya::maps::{MapData, RingBuf};

use crate::{
    event::{Event, decode},
    sys,
};

/// Receives decoded events on the reader thread.
pub trait EventSink: Send + 'static {
    /// Called for every decoded event.
    fn on_event(&mut self, ev: &Event);
    /// Called after each drained batch (flush buffered output here).
    fn on_batch_end(&mut self) {}
    /// Called on every wake-up of the reader, at least every 50 ms, events or not.
    fn on_idle(&mut self) {}
}

/// Counters of one reader, shared with whoever reports them.
#[derive(Debug, Default)]
pub struct ReaderStats {
    /// Records decoded.
    pub events: AtomicU64,
    /// Records that failed to decode, by [`crate::event::DecodeError::index`].
    pub decode_errors: [AtomicU64; 4],
}

impl ReaderStats {
    /// Total decode failures.
    pub fn decode_error_total(&self) -> u64 {
        self.decode_errors.iter().map(|c| c.load(Relaxed)).sum()
    }
}

/// Drains every record currently in `ring` into `sink`; returns how many were read.
pub fn drain<S: EventSink + ?Sized>(ring: &mut RingBuf<MapData>, sink: &mut S, stats: &ReaderStats) -> u64 {
    let mut n = 0;
    while let Some(item) = ring.next() {
        match decode(&item) {
            Ok(ev) => {
                stats.events.fetch_add(1, Relaxed);
                sink.on_event(&ev);
            }
            Err(e) => {
                stats.decode_errors[e.index()].fetch_add(1, Relaxed);
            }
        }
        n += 1;
    }
    n
}

/// A running reader thread.
pub struct RingReader<S> {
    handle: JoinHandle<S>,
    /// Its counters.
    pub stats: Arc<ReaderStats>,
}

impl<S: EventSink> RingReader<S> {
    /// Starts a thread named `name` reading `ring` until `stop` is set; the ring is drained
    /// once more after `stop` so no submitted event is lost on shutdown.
    pub fn spawn(name: &str, mut ring: RingBuf<MapData>, stop: Arc<AtomicBool>, mut sink: S) -> std::io::Result<Self> {
        let stats = Arc::new(ReaderStats::default());
        let st = Arc::clone(&stats);
        let handle = std::thread::Builder::new().name(name.to_owned()).spawn(move || {
            let fd = ring.as_raw_fd();
            loop {
                if drain(&mut ring, &mut sink, &st) > 0 {
                    sink.on_batch_end();
                }
                sink.on_idle();
                if stop.load(Relaxed) {
                    drain(&mut ring, &mut sink, &st);
                    sink.on_batch_end();
                    return sink;
                }
                // Errors from poll other than EINTR mean the fd is gone: stop.
                if sys::wait_readable(fd, Duration::from_millis(50)).is_err() {
                    return sink;
                }
            }
        })?;
        Ok(Self { handle, stats })
    }

    /// Waits for the thread (after `stop` was set) and returns its sink.
    pub fn join(self) -> Option<S> {
        self.handle.join().ok()
    }
}
