//! Live mode: the kernel's flow events and payload samples go through the same pipeline as
//! replay. A payload sample becomes a [`Packet`] (key, direction, TCP sequence and flags,
//! payload) for the flow table, the stream reassembler and the app-layer parsers; a kernel
//! flow end ends the flow with the kernel's packet and byte counters, which cover every
//! packet (samples are only the first K payload packets of each direction).
//!
//! Kernel timestamps are on the monotonic clock; records carry wall-clock time, shifted by
//! the offset between the two clocks taken when the feed starts.

use sensor_common::{
    event::{FlowEvent, PayloadSample},
    flow::proto,
};

use super::{
    decode::{Packet, TcpHeader},
    pipeline::Pipeline,
};
use crate::{event::Event, sys};

/// Feeds kernel events into a pipeline.
#[derive(Debug)]
pub struct LiveFeed {
    pipeline: Pipeline,
    offset_ns: u64,
    samples: u64,
}

impl LiveFeed {
    /// A feed into `pipeline`.
    pub fn new(pipeline: Pipeline) -> Self {
        let wall =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Self { pipeline, offset_ns: wall.saturating_sub(sys::monotonic_ns()), samples: 0 }
    }

    /// The pipeline (counters, record counts).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Offset added to kernel (monotonic) times to get wall-clock times.
    pub fn offset_ns(&self) -> u64 {
        self.offset_ns
    }

    /// Writes the agents' queued findings (call when idle).
    pub fn flush_findings(&mut self) {
        self.pipeline.flush_findings();
    }

    /// Payload samples fed so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// One decoded kernel event; events that are not about flows are ignored.
    pub fn on_event(&mut self, ev: &Event) {
        match ev {
            Event::PayloadSample(s) => self.sample(s),
            Event::FlowEnd(f) => self.flow_end(f),
            Event::FlowStart(f) => {
                let ts = f.header.ts_ns + self.offset_ns;
                self.pipeline.advance(ts);
                if let Some(obs) = self.pipeline.agents_mut() {
                    use crate::agents::event::{bytes_key, int_key};
                    let k = &f.key;
                    let id = (bytes_key(&k.saddr) ^ bytes_key(&k.daddr).rotate_left(17))
                        ^ int_key(u64::from(k.sport) << 24 | u64::from(k.dport) << 8 | u64::from(k.proto));
                    let id = id & ((1 << 51) - 1);
                    obs.kernel_flow_start(&f.key, id, ts, f.tcp_flags, f.bytes[0]);
                }
            }
            _ => {}
        }
    }

    fn sample(&mut self, s: &PayloadSample) {
        let ts = s.header.ts_ns + self.offset_ns;
        self.samples += 1;
        self.pipeline.advance(ts);
        let key = if s.direction == 0 { s.key } else { s.key.reversed() };
        let len = usize::from(s.len).min(s.data.len());
        let p = Packet {
            ts_ns: ts,
            wire_len: s.payload_len,
            key,
            tcp: (key.proto == proto::TCP).then_some(TcpHeader {
                seq: s.tcp_seq,
                ack: 0,
                flags: s.tcp_flags,
                window: 0,
                header_len: 20,
            }),
            payload: &s.data[..len],
            ..Packet::default()
        };
        self.pipeline.decoded(p);
    }

    fn flow_end(&mut self, f: &FlowEvent) {
        let ts = f.header.ts_ns + self.offset_ns;
        self.pipeline.advance(ts);
        self.pipeline.kernel_flow_end(
            &f.key,
            f.packets,
            f.bytes,
            f.first_ns + self.offset_ns,
            f.last_ns + self.offset_ns,
            f.tcp_flags,
        );
    }

    /// Ends every flow and flushes the output.
    pub fn finish(&mut self) -> std::io::Result<()> {
        self.pipeline.finish()
    }
}
