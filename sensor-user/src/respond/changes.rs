//! A change counter that viewers can wait on: the decision thread and the control requests
//! ring it after they change what a viewer shows (incidents, decisions, approvals, blocks),
//! and the console's live-update streams wake on it instead of polling.

use std::{
    sync::{Condvar, Mutex},
    time::Duration,
};

/// A sequence number with a condition variable.
#[derive(Debug, Default)]
pub struct Changes {
    seq: Mutex<u64>,
    rung: Condvar,
}

impl Changes {
    /// Records one change and wakes every waiter.
    pub fn bump(&self) {
        if let Ok(mut s) = self.seq.lock() {
            *s += 1;
            self.rung.notify_all();
        }
    }

    /// The current sequence number.
    pub fn seq(&self) -> u64 {
        self.seq.lock().map_or(0, |s| *s)
    }

    /// Waits until the sequence number passes `seen` or `timeout` elapses; returns the
    /// number then (equal to `seen` on timeout).
    pub fn wait_past(&self, seen: u64, timeout: Duration) -> u64 {
        let Ok(guard) = self.seq.lock() else { return seen };
        match self.rung.wait_timeout_while(guard, timeout, |s| *s <= seen) {
            Ok((s, _)) => *s,
            Err(_) => seen,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn a_waiter_wakes_on_a_bump_and_times_out_without_one() {
        let c = Arc::new(Changes::default());
        assert_eq!(c.wait_past(0, Duration::from_millis(20)), 0, "no change: timeout");
        let c2 = Arc::clone(&c);
        let t = std::thread::spawn(move || c2.wait_past(0, Duration::from_secs(10)));
        std::thread::sleep(Duration::from_millis(50));
        c.bump();
        assert_eq!(t.join().expect("waiter"), 1);
        assert_eq!(c.seq(), 1);
        assert_eq!(c.wait_past(0, Duration::from_secs(10)), 1, "already past: immediate");
    }
}
