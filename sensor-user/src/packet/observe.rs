//! What the pipeline tells the micro-agents: each packet, each finished flow, each DNS
//! message (and its A/AAAA answers, into the shared context), each TLS SNI and HTTP host,
//! converted into [`crate::agents::event::Event`]s. Findings the agents raise come back as
//! eve `anomaly` records. Nothing here allocates for packets of known flows.

use sensor_common::flow::tcp_flags;

use super::{
    Direction,
    app::dns::{DnsData, DnsMessage},
    eve::{EveWriter, FlowCtx, ip},
    flow::{Flow, TcpState},
};
use crate::agents::{
    event::{DnsEvent, Event, FlowSummary, NameEvent, PacketMeta, Text, kind},
    runtime::Runtime,
};

/// The agents the pipeline feeds, and the findings written so far.
#[derive(Debug)]
pub struct Observer {
    runtime: Runtime,
    findings_seen: u64,
    print: bool,
    /// Findings written to eve.
    pub findings: u64,
}

/// One finding as a line for a terminal.
pub fn finding_line(f: &crate::agents::finding::Finding) -> String {
    format!("finding {} {} confidence {:.2} {}: {}", f.agent, f.kind, f.confidence, f.severity.name(), f.reason)
}

impl Observer {
    /// Feeds `runtime`.
    pub fn new(runtime: Runtime) -> Self {
        Self { runtime, findings_seen: 0, print: false, findings: 0 }
    }

    /// Also prints each finding as one line on stderr (live mode).
    pub fn printing(mut self, print: bool) -> Self {
        self.print = print;
        self
    }

    /// The runtime (counters, context).
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// Writes queued findings to `eve` (cheap when there are none).
    pub fn flush(&mut self, eve: &mut EveWriter) {
        let sent = self.runtime.queue().stats().sent.load(std::sync::atomic::Ordering::Relaxed);
        if sent == self.findings_seen {
            return;
        }
        self.findings_seen = sent;
        let mut n = 0;
        let print = self.print;
        let st = std::sync::Arc::clone(self.runtime.stats());
        self.runtime.drain(|f| {
            if print {
                eprintln!("{}", finding_line(&f));
            }
            st.count_finding(f.agent);
            eve.finding(&f);
            n += 1;
        });
        self.findings += n;
    }

    /// Ends the run: last tick, remaining findings to `eve`; returns the state to persist.
    pub fn finish(self, eve: &mut EveWriter) -> (serde_json::Value, u64) {
        let mut n = self.findings;
        let print = self.print;
        let st = std::sync::Arc::clone(self.runtime.stats());
        let state = self.runtime.finish(|f| {
            if print {
                eprintln!("{}", finding_line(&f));
            }
            st.count_finding(f.agent);
            eve.finding(&f);
            n += 1;
        });
        (state, n)
    }

    /// One packet of `flow` travelling in `dir`.
    #[inline]
    pub fn packet(&mut self, flow: &Flow, dir: Direction, new_flow: bool, ts_ns: u64, wire_len: u32, flags: u8) {
        if !self.runtime.wants(kind::PACKET) {
            return;
        }
        let k = &flow.key;
        let (client, server) = (ip(&k.saddr, k.family), ip(&k.daddr, k.family));
        let to_server = dir == Direction::ToServer;
        let (src, dst, sport, dport) =
            if to_server { (client, server, k.sport, k.dport) } else { (server, client, k.dport, k.sport) };
        self.runtime.on_event(&Event::Packet(PacketMeta {
            ts_ns,
            flow_id: flow.id,
            src,
            dst,
            sport,
            dport,
            proto: k.proto,
            tcp_flags: flags,
            icmp_type: flow.icmp[dir.index()].map(|(t, _)| t),
            wire_len,
            payload_len: 0,
            to_server,
            new_flow,
        }));
    }

    /// The kernel saw the first packet of the flow `key` (initiator order) with `flags`.
    pub fn kernel_flow_start(
        &mut self,
        key: &sensor_common::flow::FlowKey,
        id: u64,
        ts_ns: u64,
        flags: u8,
        bytes: u64,
    ) {
        if !self.runtime.wants(kind::PACKET) {
            return;
        }
        self.runtime.on_event(&Event::Packet(PacketMeta {
            ts_ns,
            flow_id: id,
            src: ip(&key.saddr, key.family),
            dst: ip(&key.daddr, key.family),
            sport: key.sport,
            dport: key.dport,
            proto: key.proto,
            tcp_flags: flags,
            icmp_type: None,
            wire_len: bytes.min(u64::from(u32::MAX)) as u32,
            payload_len: 0,
            to_server: true,
            new_flow: true,
        }));
    }

    /// A flow ended.
    pub fn flow_end(&mut self, flow: &Flow) {
        if !self.runtime.wants(kind::FLOW_END) {
            return;
        }
        self.runtime.on_event(&Event::FlowEnd(flow_summary(flow)));
    }

    /// A DNS message sent in `dir` on the flow `ctx`.
    pub fn dns(&mut self, ts_ns: u64, ctx: &FlowCtx, dir: Direction, msg: &DnsMessage) {
        let k = &ctx.key;
        let (a, b) = (ip(&k.saddr, k.family), ip(&k.daddr, k.family));
        let (client, server) = if dir == Direction::ToServer { (a, b) } else { (b, a) };
        let q = msg.queries.first();
        if msg.response {
            if let Some(q) = q {
                for rr in &msg.answers {
                    match &rr.data {
                        DnsData::A(v4) => self.runtime.context().record_dns_answer(&(*v4).into(), &q.name, ts_ns),
                        DnsData::Aaaa(v6) => self.runtime.context().record_dns_answer(&(*v6).into(), &q.name, ts_ns),
                        _ => {}
                    }
                }
            }
        }
        if !self.runtime.wants(kind::DNS) {
            return;
        }
        self.runtime.on_event(&Event::Dns(DnsEvent {
            ts_ns,
            flow_id: ctx.id,
            client,
            server,
            response: msg.response,
            qname: q.map(|q| Text::new(&q.name)).unwrap_or_default(),
            qtype: q.map_or(0, |q| q.rrtype),
            rcode: msg.rcode,
            answers: msg.answers.len().min(usize::from(u16::MAX)) as u16,
            size: 0,
        }));
    }

    /// A server name (TLS SNI or HTTP Host) on the flow `ctx`.
    pub fn name(&mut self, ts_ns: u64, ctx: &FlowCtx, source: &'static str, name: &[u8]) {
        if !self.runtime.wants(kind::NAME) || name.is_empty() {
            return;
        }
        let k = &ctx.key;
        self.runtime.on_event(&Event::Name(NameEvent {
            ts_ns,
            flow_id: ctx.id,
            client: ip(&k.saddr, k.family),
            server: ip(&k.daddr, k.family),
            source,
            name: Text::new(name),
        }));
    }
}

/// What the agents get of a finished flow.
pub fn flow_summary(flow: &Flow) -> FlowSummary {
    let k = &flow.key;
    let [fs, fc] = flow.tcp_flags;
    let handshake =
        fc & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK && fs & tcp_flags::ACK != 0;
    let midstream = flow.tcp == TcpState::Midstream && flow.pkts[0] > 0 && flow.pkts[1] > 0;
    FlowSummary {
        ts_ns: flow.last_ns,
        flow_id: flow.id,
        client: ip(&k.saddr, k.family),
        server: ip(&k.daddr, k.family),
        client_port: k.sport,
        server_port: k.dport,
        proto: k.proto,
        start_ns: flow.first_ns,
        pkts_to_server: flow.pkts[0],
        pkts_to_client: flow.pkts[1],
        bytes_to_server: flow.bytes[0],
        bytes_to_client: flow.bytes[1],
        flags_to_server: fs,
        flags_to_client: fc,
        established: handshake || midstream,
        app: match flow.app.proto.name() {
            "unknown" | "failed" => "",
            n => n,
        },
    }
}
