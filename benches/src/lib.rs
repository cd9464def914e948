//! Benchmarks. `benches/` holds criterion benches of user-space hot paths; the
//! `bench-driver` binary runs the kernel-side measurements (XDP live frames against bare
//! XDP_PASS/XDP_DROP programs, ring-buffer decode rate) and writes `docs/BENCHMARKS.md`.

use sensor_common::{
    event::{EventHeader, EventKind, FlowEvent, PayloadSample, SAMPLE_MAX},
    flow::FlowKey,
};

/// A flow-start record as the kernel writes it.
pub fn flow_record() -> Vec<u8> {
    let ev = FlowEvent {
        header: EventHeader::new::<FlowEvent>(EventKind::FlowStart, 1),
        key: FlowKey { sport: 40000, dport: 443, proto: 6, family: 4, ..Default::default() },
        ..Default::default()
    };
    sensor_user::sys::pod_bytes(&ev).to_vec()
}

/// A payload-sample record with 256 bytes of payload.
pub fn sample_record() -> Vec<u8> {
    let ev = PayloadSample {
        header: EventHeader::new::<PayloadSample>(EventKind::PayloadSample, 1),
        key: FlowKey { sport: 40000, dport: 80, proto: 6, family: 4, ..Default::default() },
        ifindex: 2,
        hook: 0,
        direction: 0,
        index: 0,
        tcp_flags: 0x18,
        tcp_seq: 1,
        payload_len: 256,
        len: 256,
        _pad: [0; 6],
        data: [b'A'; SAMPLE_MAX],
    };
    sensor_user::sys::pod_bytes(&ev).to_vec()
}
