//! The process agent's hot path allocates nothing in the steady state: proven with a
//! counting global allocator over its own steady stream (after warm-up).

use std::alloc::{GlobalAlloc, Layout, System};

use sensor_user::agents::{
    agent::{Agent, Emitter},
    context::Context,
    finding::FindingQueue,
    process::{ProcessAgent, ProcessConfig, steady_events},
};

struct Counting;

thread_local! {
    static TRACKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static COUNT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

// SAFETY: forwards to the system allocator, only counting calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if TRACKED.with(|t| t.get()) {
            COUNT.with(|c| c.set(c.get() + 1));
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
fn the_process_agent_allocates_nothing_in_the_steady_state() {
    let n = 5000;
    let evs = steady_events(2 * n);
    let cx = Context::default();
    let (q, rx) = FindingQueue::bounded(1024);
    let mut a = ProcessAgent::new(&ProcessConfig::default());
    let mut out = Emitter::new(&q, &cx);
    for ev in &evs[..n] {
        cx.observe(ev);
        a.on_event(ev, &cx, &mut out);
    }
    let warm = out.emitted();
    TRACKED.with(|t| t.set(true));
    for ev in &evs[n..] {
        cx.observe(ev);
        a.on_event(ev, &cx, &mut out);
    }
    TRACKED.with(|t| t.set(false));
    let allocs = COUNT.with(|c| c.get());
    assert_eq!(out.emitted(), warm, "no findings in the steady state");
    assert_eq!(allocs, 0, "on_event allocated {allocs} times");
    drop(rx);
}
