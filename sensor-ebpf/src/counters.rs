//! Per-CPU counter increments.

use sensor_common::counters::Counter;

use crate::maps::COUNTERS;

/// Adds one to `counter` on this CPU.
#[inline(always)]
pub fn bump(counter: Counter) {
    bump_slot(counter as u32);
}

/// Adds one to the raw slot `slot` on this CPU.
#[inline(always)]
pub fn bump_slot(slot: u32) {
    if let Some(p) = COUNTERS.get_ptr_mut(slot) {
        // SAFETY: the pointer is a valid per-CPU slot returned by the map; only this CPU
        // writes it while this program runs (preemption is disabled in BPF programs).
        unsafe { *p += 1 };
    }
}
