//! The reader's hot path (decode of every record kind) allocates nothing per event: proven
//! with a counting global allocator over many records of every size class.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::{AtomicUsize, Ordering::Relaxed},
};

use sensor_common::{
    event::{EventHeader, EventKind, ExecEvent, FlowEvent, PayloadSample, SAMPLE_MAX},
    flow::FlowKey,
};
use sensor_user::{event::decode, sys::pod_bytes};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only the thread under test counts (the test harness allocates on its own threads).
    static TRACKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if TRACKED.with(|t| t.get()) {
            ALLOCS.fetch_add(1, Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn decoding_steady_state_events_allocates_nothing() {
    let flow = FlowEvent {
        header: EventHeader::new::<FlowEvent>(EventKind::FlowStart, 1),
        key: FlowKey { sport: 1, dport: 2, proto: 6, family: 4, ..Default::default() },
        ..Default::default()
    };
    let sample = PayloadSample {
        header: EventHeader::new::<PayloadSample>(EventKind::PayloadSample, 1),
        key: FlowKey::default(),
        ifindex: 1,
        hook: 0,
        direction: 0,
        index: 0,
        tcp_flags: 0,
        tcp_seq: 0,
        payload_len: 3,
        len: 3,
        _pad: [0; 6],
        data: [7; SAMPLE_MAX],
    };
    let exec = ExecEvent {
        header: EventHeader::new::<ExecEvent>(EventKind::Exec, 1),
        proc: Default::default(),
        filename_len: 4,
        argv_len: 0,
        _pad: 0,
        filename: [b'x'; 256],
        argv: [0; 256],
    };
    let records = [pod_bytes(&flow).to_vec(), pod_bytes(&sample).to_vec(), pod_bytes(&exec).to_vec()];
    let mut decoded = 0u64;
    let before = ALLOCS.load(Relaxed);
    TRACKED.with(|t| t.set(true));
    for _ in 0..10_000 {
        for r in &records {
            if decode(r).is_ok() {
                decoded += 1;
            }
        }
    }
    TRACKED.with(|t| t.set(false));
    let after = ALLOCS.load(Relaxed);
    assert_eq!(decoded, 30_000);
    assert_eq!(after - before, 0, "decode allocated");
}
