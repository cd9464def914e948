//! The intel agent allocates nothing for events that produce no finding: neither for
//! traffic that matches no indicator, nor for matches held back by the cooldown.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
    net::IpAddr,
};

use sensor_user::agents::{
    agent::{Agent, Emitter},
    context::Context,
    event::{DnsEvent, Event, PacketMeta, Text},
    finding::FindingQueue,
    intel::{steady_agent, steady_events},
};

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
}

struct Counting;

fn count() {
    // `try_with`: the slot may be gone while the thread is being torn down.
    let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
}

// SAFETY: every method forwards to the system allocator with the caller's arguments,
// which satisfy the same contracts; counting touches only a const-initialised
// thread-local `Cell` (no allocation, no destructor).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded unchanged (see the impl).
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> u64 {
    ALLOCS.with(Cell::get)
}

#[test]
fn steady_state_and_held_back_matches_allocate_nothing() {
    let mut agent = steady_agent();
    let cx = Context::default();
    let (queue, rx) = FindingQueue::bounded(1024);
    let evs = steady_events(40_000);
    let (warm, steady) = evs.split_at(20_000);
    // A listed address and a listed domain, hit again and again by the same host.
    let hit = |ts_ns: u64| {
        let p = PacketMeta {
            ts_ns,
            flow_id: ts_ns,
            src: IpAddr::from([10, 1, 0, 1]),
            dst: IpAddr::from([198, 18, 0, 7]),
            sport: 40_000,
            dport: 443,
            proto: 6,
            tcp_flags: 2,
            icmp_type: None,
            wire_len: 74,
            payload_len: 0,
            to_server: true,
            new_flow: true,
        };
        let d = DnsEvent {
            ts_ns,
            flow_id: ts_ns,
            client: IpAddr::from([10, 1, 0, 1]),
            server: IpAddr::from([10, 1, 0, 254]),
            response: false,
            qname: Text::new(b"www.c2-17.bad17.example"),
            qtype: 1,
            rcode: 0,
            answers: 0,
            size: 60,
        };
        [Event::Packet(p), Event::Dns(d)]
    };
    let t0 = warm.last().map_or(0, Event::ts_ns);
    let start = allocations();
    {
        let mut out = Emitter::new(&queue, &cx);
        for ev in warm.iter().chain(&hit(t0)) {
            cx.observe(ev);
            agent.on_event(ev, &cx, &mut out);
        }
        assert_eq!(out.emitted(), 2, "the two first matches are reported");
    }
    assert!(allocations() > start, "the counter sees the findings' allocations");
    let before = allocations();
    let mut out = Emitter::new(&queue, &cx);
    for (i, ev) in steady.iter().enumerate() {
        cx.observe(ev);
        agent.on_event(ev, &cx, &mut out);
        if i % 100 == 0 {
            for h in hit(ev.ts_ns()) {
                agent.on_event(&h, &cx, &mut out);
            }
        }
    }
    let n = allocations() - before;
    assert_eq!(out.emitted(), 0);
    assert_eq!(n, 0, "{n} allocations for {} events", steady.len());
    drop(rx);
}
