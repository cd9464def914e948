//! The reader's hot path (decode of every record kind) allocates nothing per event: proven
//! with a counting global allocator over many records of every size class.

use std::{
    alloc::{GlobalAlloc, Layout, System},
    sync::atomic::Ordering::Relaxed,
};

use sensor_common::{
    event::{EventHeader, EventKind, ExecEvent, FlowEvent, PayloadSample, SAMPLE_MAX},
    flow::FlowKey,
};
use sensor_user::{event::decode, sys::pod_bytes};

struct Counting;

thread_local! {
    /// Only the thread under test counts (the test harness allocates on its own threads, and
    /// tests run in parallel), so the count is per thread too.
    static TRACKED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    static COUNT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Allocations made by this thread while tracked.
struct Allocs;
impl Allocs {
    fn load(&self, _: std::sync::atomic::Ordering) -> usize {
        COUNT.with(|c| c.get())
    }
}
static ALLOCS: Allocs = Allocs;

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

/// An Ethernet/IPv4/TCP frame from 10.0.0.1:40000 to 10.0.0.2:80 (or back) with `flags`,
/// sequence number `seq` and `payload`.
fn tcp_frame(to_server: bool, flags: u8, seq: u32, payload: &[u8]) -> Vec<u8> {
    let (src, dst, sp, dp) = if to_server {
        ([10, 0, 0, 1], [10, 0, 0, 2], 40000u16, 80u16)
    } else {
        ([10, 0, 0, 2], [10, 0, 0, 1], 80, 40000)
    };
    let mut f = vec![0u8; 12];
    f.extend_from_slice(&[0x08, 0x00]);
    let total = (20 + 20 + payload.len()) as u16;
    f.extend_from_slice(&[0x45, 0]);
    f.extend_from_slice(&total.to_be_bytes());
    f.extend_from_slice(&[0, 1, 0x40, 0, 64, 6, 0, 0]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&seq.to_be_bytes());
    f.extend_from_slice(&[0, 0, 0, 0, 0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

#[test]
fn packets_of_a_known_flow_allocate_nothing_in_the_pipeline() {
    use sensor_user::packet::{
        capture::LinkType,
        eve::{EveTypes, EveWriter},
        pipeline::{Pipeline, PipelineConfig},
    };
    let mut p = Pipeline::new(PipelineConfig::default(), EveWriter::new(None, EveTypes::default()));
    // Handshake and an undetectable first payload: the flow exists and detection has ended.
    p.frame(LinkType::Ethernet, 1_000, &tcp_frame(true, 0x02, 100, b""));
    p.frame(LinkType::Ethernet, 2_000, &tcp_frame(false, 0x12, 500, b""));
    p.frame(LinkType::Ethernet, 3_000, &tcp_frame(true, 0x10, 101, b""));
    p.frame(LinkType::Ethernet, 4_000, &tcp_frame(true, 0x18, 101, b"\x00\x01binary-protocol"));
    // Steady state: acknowledgements and in-order payload segments both ways.
    let frames: Vec<Vec<u8>> = (0..1000u32)
        .map(|i| tcp_frame(i % 2 == 0, 0x18, if i % 2 == 0 { 118 } else { 501 } + (i / 2) * 8, b"8 bytes!"))
        .collect();
    let before = ALLOCS.load(Relaxed);
    TRACKED.with(|t| t.set(true));
    for (i, f) in frames.iter().enumerate() {
        p.frame(LinkType::Ethernet, 5_000 + i as u64, f);
    }
    TRACKED.with(|t| t.set(false));
    assert_eq!(ALLOCS.load(Relaxed) - before, 0, "the packet path allocated");
    assert_eq!(p.stats().packets, 1004);
    assert_eq!(p.flows().len(), 1);
}

#[test]
fn packets_of_a_known_flow_allocate_nothing_with_every_agent_on() {
    use sensor_user::{
        agents::{config::AgentsConfig, runtime::Runtime},
        packet::{
            capture::LinkType,
            eve::{EveTypes, EveWriter},
            observe::Observer,
            pipeline::{Pipeline, PipelineConfig},
        },
    };
    let rt = Runtime::new(AgentsConfig::defaults(), None).expect("inline runtime");
    let mut p = Pipeline::new(PipelineConfig::default(), EveWriter::new(None, EveTypes::default()))
        .with_agents(Observer::new(rt));
    p.frame(LinkType::Ethernet, 1_000, &tcp_frame(true, 0x02, 100, b""));
    p.frame(LinkType::Ethernet, 2_000, &tcp_frame(false, 0x12, 500, b""));
    p.frame(LinkType::Ethernet, 3_000, &tcp_frame(true, 0x10, 101, b""));
    p.frame(LinkType::Ethernet, 4_000, &tcp_frame(true, 0x18, 101, b"\x00\x01binary-protocol"));
    let frames: Vec<Vec<u8>> = (0..2000u32)
        .map(|i| tcp_frame(i % 2 == 0, 0x18, if i % 2 == 0 { 118 } else { 501 } + (i / 2) * 8, b"8 bytes!"))
        .collect();
    // Warm-up over several agent ticks (1 s of capture time each), then measure.
    for (i, f) in frames[..1000].iter().enumerate() {
        p.frame(LinkType::Ethernet, 5_000 + i as u64 * 5_000_000, f);
    }
    let before = ALLOCS.load(Relaxed);
    TRACKED.with(|t| t.set(true));
    for (i, f) in frames[1000..].iter().enumerate() {
        p.frame(LinkType::Ethernet, 5_000_000_000 + i as u64 * 5_000_000, f);
    }
    TRACKED.with(|t| t.set(false));
    assert_eq!(ALLOCS.load(Relaxed) - before, 0, "the packet path with agents allocated");
    let agents = p.agents().expect("agents on");
    assert!(agents.runtime().stats().deliveries.load(Relaxed) >= 2000, "the agents saw the packets");
}

#[test]
fn every_agent_in_its_steady_state_allocates_nothing_per_event() {
    use sensor_user::agents::{agent::Emitter, context::Context, finding::FindingQueue, registry};
    let cx = Context::default();
    let (q, rx) = FindingQueue::bounded(1 << 16);
    for (name, events) in registry::STEADY_STREAMS {
        let entry = registry::find(name).expect("registered");
        let mut agent = (entry.build)(None).expect("defaults build")();
        let evs = events(4096);
        let mut out = Emitter::new(&q, &cx);
        for ev in &evs {
            cx.observe(ev);
            agent.on_event(ev, &cx, &mut out);
        }
        let warm_findings = out.emitted();
        let before = ALLOCS.load(Relaxed);
        TRACKED.with(|t| t.set(true));
        for ev in &evs {
            cx.observe(ev);
            agent.on_event(ev, &cx, &mut out);
        }
        TRACKED.with(|t| t.set(false));
        assert_eq!(out.emitted(), warm_findings, "{name}: the steady state raised findings");
        assert_eq!(ALLOCS.load(Relaxed) - before, 0, "{name}: on_event allocated in the steady state");
        while rx.try_recv().is_ok() {}
    }
}
