//! The decision thread: takes findings from the agents' tap as soon as they are raised and
//! hands them to the shared governor; in live mode it also ticks the governor (expiry of
//! blocks and approvals) twice a second. Replay runs it on event time, so a replay's
//! decisions do not depend on how fast the machine is.

use std::{
    sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, sync_channel},
    thread::JoinHandle,
    time::{Duration, Instant},
};

use super::{output::GovOutput, wall_ns};
use crate::{agents::finding::Finding, api::handler::SharedGovernor};

/// Findings queued for the governor before new ones are dropped (counted by the queue).
pub const TAP_CAPACITY: usize = 4096;

/// Which clock the governor reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// Wall-clock time, and ticks (live mode).
    Wall,
    /// The finding's own time, no ticks (replay).
    Event,
}

/// A running decision thread.
#[derive(Debug)]
pub struct DecisionThread {
    handle: JoinHandle<()>,
}

impl DecisionThread {
    /// A tap to give the agents' finding queue, and the thread draining it into `gov`. The
    /// thread ends when every sender of the tap is gone.
    /// Incidents and decisions go to `out` (the lake, OCSF) as they change.
    pub fn spawn(
        gov: SharedGovernor,
        clock: Clock,
        out: Option<GovOutput>,
    ) -> std::io::Result<(SyncSender<Finding>, Self)> {
        let (tx, rx) = sync_channel(TAP_CAPACITY);
        let handle = std::thread::Builder::new().name("governor".into()).spawn(move || serve(&gov, &rx, clock, out))?;
        Ok((tx, Self { handle }))
    }

    /// Waits for the thread (after the tap's senders are dropped).
    pub fn join(self) {
        let _ = self.handle.join();
    }
}

fn serve(gov: &SharedGovernor, rx: &Receiver<Finding>, clock: Clock, mut out: Option<GovOutput>) {
    let tick = Duration::from_millis(500);
    let mut last_tick = Instant::now();
    let mut event_now = 0;
    loop {
        let first = match rx.recv_timeout(tick) {
            Ok(f) => Some(f),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => break,
        };
        let Ok(mut g) = gov.lock() else { return };
        for f in first.into_iter().chain(rx.try_iter()) {
            let now = if clock == Clock::Wall { wall_ns() } else { f.ts_ns };
            event_now = now;
            if let Some(o) = out.as_mut() {
                o.finding(&f, now);
            }
            g.on_finding(&f, now);
        }
        if clock == Clock::Wall && last_tick.elapsed() >= tick {
            last_tick = Instant::now();
            g.tick(wall_ns());
        }
        let changed = !g.touched.is_empty() || !g.outbox.is_empty();
        match out.as_mut() {
            Some(o) => o.drain(&mut g, if clock == Clock::Wall { wall_ns() } else { event_now }, clock == Clock::Wall),
            None => {
                g.outbox.clear();
                g.touched.clear();
            }
        }
        if changed {
            g.changes.bump();
        }
    }
    if let Ok(mut g) = gov.lock() {
        g.save();
        if let Some(o) = out.as_mut() {
            o.drain(&mut g, if clock == Clock::Wall { wall_ns() } else { event_now }, clock == Clock::Wall);
            o.finish();
        }
    }
}
