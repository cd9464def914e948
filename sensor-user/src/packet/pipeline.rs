//! The pipeline: decoded packets -> IP reassembly -> flow table -> TCP reassembly ->
//! application-layer parsers -> eve records, on capture time. Replay feeds it frames from
//! files; live mode feeds it the kernel's payload samples and flow ends. One instance is
//! single-threaded and deterministic: the same packets in the same order give the same
//! records.

use sensor_common::flow::{FlowKey, proto, tcp_flags};

use super::{
    Direction,
    app::{AppConfig, AppEvent, AppProto, AppSink},
    decode::{self, DecodeError, LinkType, Packet},
    defrag::{Defrag, DefragConfig},
    eve::{EveWriter, FlowCtx, RecordType},
    flow::{EndReason, Expired, Flow, FlowConfig, FlowTable},
    observe::Observer,
    stream::Chunk,
};
use crate::rules::detector::{AlertOut, FlowFacts, SigFlow, SignatureAgent};

/// Capture time between two timeout sweeps.
const TICK_NS: u64 = 1_000_000_000;

/// Everything the pipeline can be tuned with.
#[derive(Clone, Copy, Debug, Default)]
pub struct PipelineConfig {
    /// Flow table and stream depth.
    pub flow: FlowConfig,
    /// IP reassembly.
    pub defrag: DefragConfig,
    /// App-layer parsers.
    pub app: AppConfig,
}

/// Counters of one run.
#[derive(Clone, Debug, Default)]
pub struct PipelineStats {
    /// Frames given to the pipeline.
    pub packets: u64,
    /// Their captured bytes.
    pub bytes: u64,
    /// Packets that decoded to IPv4 / IPv6.
    pub ipv4: u64,
    /// IPv6 packets.
    pub ipv6: u64,
    /// TCP / UDP / ICMP(v6) / other-protocol packets.
    pub tcp: u64,
    /// UDP packets.
    pub udp: u64,
    /// ICMP and ICMPv6 packets.
    pub icmp: u64,
    /// Packets of other IP protocols.
    pub other: u64,
    /// Packets found inside a tunnel.
    pub tunneled: u64,
    /// Frames without IP (ARP, STP, ...).
    pub non_ip: u64,
    /// IP fragments seen and datagrams reassembled.
    pub fragments: u64,
    /// Datagrams reassembled.
    pub reassembled: u64,
    /// Decode errors and anomalies by [`DecodeError`] kind.
    pub errors: [u64; DecodeError::COUNT],
    /// TCP segments ahead of the stream, gaps declared, retransmissions.
    pub stream_out_of_order: u64,
    /// Gaps declared.
    pub stream_gaps: u64,
    /// Retransmitted segments.
    pub stream_retransmitted: u64,
    /// Overlaps that differed from the first copy.
    pub stream_overlap_diff: u64,
    /// Flows per detected app protocol, indexed by `AppProto as usize`.
    pub app_flows: [u64; AppProto::ALL.len()],
    /// First and last capture timestamps.
    pub first_ns: u64,
    /// Last capture timestamp.
    pub last_ns: u64,
}

impl PipelineStats {
    /// Total decode errors (not counting frames without IP).
    pub fn error_total(&self) -> u64 {
        DecodeError::ALL.iter().filter(|e| **e != DecodeError::NonIp).map(|e| self.errors[e.index()]).sum()
    }
}

/// Flow table, parsers and output: everything after IP reassembly.
#[derive(Debug)]
struct Engine {
    flows: FlowTable,
    app: AppConfig,
    eve: EveWriter,
    stats: PipelineStats,
    agents: Option<Observer>,
    sigs: Option<SignatureAgent>,
}

/// The packet pipeline.
#[derive(Debug)]
pub struct Pipeline {
    defrag: Defrag,
    engine: Engine,
    agent_outcome: Option<(serde_json::Value, u64)>,
    now_ns: u64,
    next_tick_ns: u64,
}

impl Pipeline {
    /// A pipeline writing records to `eve`.
    pub fn new(cfg: PipelineConfig, eve: EveWriter) -> Self {
        Self {
            defrag: Defrag::new(cfg.defrag),
            engine: Engine {
                flows: FlowTable::new(cfg.flow),
                app: cfg.app,
                eve,
                stats: PipelineStats::default(),
                agents: None,
                sigs: None,
            },
            now_ns: 0,
            next_tick_ns: 0,
            agent_outcome: None,
        }
    }

    /// Feeds the micro-agents of `observer` from now on; their findings become eve records.
    pub fn with_agents(mut self, observer: Observer) -> Self {
        self.engine.agents = Some(observer);
        self
    }

    /// Runs the signature engine of `agent` on every packet and transaction from now on.
    pub fn with_signatures(mut self, agent: SignatureAgent) -> Self {
        self.engine.sigs = Some(agent);
        self
    }

    /// The signature agent, if any.
    pub fn signatures(&self) -> Option<&SignatureAgent> {
        self.engine.sigs.as_ref()
    }

    /// A batch boundary (live mode calls this after each batch of events): a reloaded rule
    /// set is swapped in here.
    pub fn between_batches(&mut self) {
        if let Some(s) = self.engine.sigs.as_mut() {
            s.between_batches();
        }
    }

    /// The agents fed by this pipeline, if any.
    pub fn agents(&self) -> Option<&Observer> {
        self.engine.agents.as_ref()
    }

    /// The agents, mutably (live mode feeds them process events and timer ticks).
    pub fn agents_mut(&mut self) -> Option<&mut Observer> {
        self.engine.agents.as_mut()
    }

    /// Writes queued agent findings (live mode calls this when idle).
    pub fn flush_findings(&mut self) {
        if let Some(a) = self.engine.agents.as_mut() {
            a.flush(&mut self.engine.eve);
        }
        if let Some(l) = self.engine.eve.lake() {
            l.tick();
        }
    }

    /// After [`Pipeline::finish`]: the agents' learned state to persist and the number of
    /// findings written (None without agents).
    pub fn agent_outcome(&self) -> Option<&(serde_json::Value, u64)> {
        self.agent_outcome.as_ref()
    }

    /// Counters so far.
    pub fn stats(&self) -> &PipelineStats {
        &self.engine.stats
    }

    /// The flow table.
    pub fn flows(&self) -> &FlowTable {
        &self.engine.flows
    }

    /// The eve writer (record counts).
    pub fn eve(&self) -> &EveWriter {
        &self.engine.eve
    }

    /// One captured frame.
    pub fn frame(&mut self, link: LinkType, ts_ns: u64, frame: &[u8]) {
        let st = &mut self.engine.stats;
        st.packets += 1;
        st.bytes += frame.len() as u64;
        if st.first_ns == 0 {
            st.first_ns = ts_ns;
        }
        st.last_ns = st.last_ns.max(ts_ns);
        self.advance(ts_ns);
        match decode::decode(link, ts_ns, frame) {
            Ok(p) => self.decoded(p),
            Err(e) => self.engine.error(ts_ns, e),
        }
    }

    /// A decoded packet (replay after `decode`, or live mode building one from a kernel sample).
    pub fn decoded(&mut self, mut p: Packet<'_>) {
        if !self.engine.flows.config().vlan_tracking {
            p.key.vlan = 0;
        }
        self.decoded_inner(p);
        if let Some(a) = self.engine.agents.as_mut() {
            a.flush(&mut self.engine.eve);
        }
    }

    fn decoded_inner(&mut self, p: Packet<'_>) {
        if p.fragment.is_none() {
            self.engine.packet(&p);
            return;
        }
        self.engine.stats.fragments += 1;
        match self.defrag.add(&p) {
            Ok(Some(datagram)) => {
                self.engine.stats.reassembled += 1;
                let mut q = Packet { ts_ns: p.ts_ns, wire_len: p.wire_len, ..Packet::default() };
                q.key.vlan = p.key.vlan;
                q.vlans = p.vlans;
                q.tunnel_depth = p.tunnel_depth;
                match decode::decode_ip(datagram, &mut q) {
                    Ok(()) if q.fragment.is_none() => self.engine.packet(&q),
                    Ok(()) => self.engine.error(p.ts_ns, DecodeError::TunnelTooDeep),
                    Err(e) => self.engine.error(p.ts_ns, e),
                }
            }
            Ok(None) => self.engine.count_l3(&p),
            Err(e) => {
                self.engine.error(p.ts_ns, e);
                self.engine.count_l3(&p);
            }
        }
    }

    /// Moves capture time forward to `ts_ns` and runs timeouts once per second of it.
    pub fn advance(&mut self, ts_ns: u64) {
        if ts_ns <= self.now_ns {
            return;
        }
        self.now_ns = ts_ns;
        if ts_ns < self.next_tick_ns {
            return;
        }
        self.next_tick_ns = ts_ns + TICK_NS;
        self.between_batches();
        let dropped = self.defrag.expire(ts_ns);
        self.engine.stats.errors[DecodeError::FragTimeout.index()] += dropped;
        self.engine.expire(ts_ns);
        if let Some(a) = self.engine.agents.as_mut() {
            a.flush(&mut self.engine.eve);
        }
    }

    /// The kernel reported the end of the flow `key` (initiator order) with its counters
    /// (index 0 from the initiator): the flow takes them and is finished (reason `kernel`).
    pub fn kernel_flow_end(
        &mut self,
        key: &FlowKey,
        packets: [u64; 2],
        bytes: [u64; 2],
        first_ns: u64,
        last_ns: u64,
        flags: u8,
    ) {
        let (canonical, side) = key.canonical();
        let mut flow = match self.engine.flows.take(&canonical) {
            Some(f) => f,
            // A flow without payload samples (a scan probe, an empty connection).
            None => self.engine.flows.detached(*key, side, first_ns),
        };
        // The kernel's key order decides the direction of its counters.
        let same = flow.key == *key;
        flow.pkts = if same { packets } else { [packets[1], packets[0]] };
        flow.bytes = if same { bytes } else { [bytes[1], bytes[0]] };
        flow.first_ns = flow.first_ns.min(first_ns);
        flow.last_ns = flow.last_ns.max(last_ns);
        if key.proto == proto::TCP {
            flow.tcp_flags[0] |= flags;
            if flags & (tcp_flags::FIN | tcp_flags::RST) != 0 {
                flow.state = super::flow::FlowState::Closed;
                flow.tcp = super::flow::TcpState::Closed;
            }
        }
        self.engine.end_flow(flow, EndReason::Kernel);
    }

    /// End of input: every flow is finished (reason `shutdown`), the agents stop (their last
    /// findings written), a stats record is written and output flushed.
    pub fn finish(&mut self) -> std::io::Result<()> {
        for flow in self.engine.flows.drain() {
            self.engine.end_flow(flow, EndReason::Shutdown);
        }
        self.engine.stats.errors[DecodeError::FragTimeout.index()] += self.defrag.pending() as u64;
        if let Some(obs) = self.engine.agents.take() {
            self.agent_outcome = Some(obs.finish(&mut self.engine.eve));
        }
        self.engine.write_stats(self.now_ns, self.defrag.stats.reassembled);
        self.engine.eve.flush()
    }
}

struct FlowOut<'a> {
    eve: &'a mut EveWriter,
    ctx: FlowCtx,
    agents: Option<&'a mut Observer>,
    sig: Option<(&'a mut SignatureAgent, &'a mut SigFlow, FlowFacts)>,
}

impl AppSink for FlowOut<'_> {
    fn app_event(&mut self, ts_ns: u64, event: AppEvent<'_>) {
        if let Some((agent, sf, facts)) = self.sig.as_mut() {
            let queue = self.agents.as_deref().map(|o| o.runtime().queue());
            agent.app_event(sf, facts, &self.ctx, ts_ns, &event, &mut AlertOut { eve: self.eve, queue });
        }
        if let Some(obs) = self.agents.as_deref_mut() {
            match event {
                AppEvent::Dns(dir, msg) => obs.dns(ts_ns, &self.ctx, dir, msg),
                AppEvent::Tls(info) => obs.name(ts_ns, &self.ctx, "tls", info.sni.as_deref().unwrap_or("").as_bytes()),
                AppEvent::Http(tx) => obs.name(ts_ns, &self.ctx, "http", tx.host.as_deref().unwrap_or(b"")),
                _ => {}
            }
        }
        match event {
            AppEvent::Http(tx) => self.eve.http(ts_ns, &self.ctx, tx),
            AppEvent::Dns(dir, msg) => self.eve.dns(ts_ns, &self.ctx, dir, msg),
            AppEvent::Tls(info) => self.eve.tls(ts_ns, &self.ctx, info),
            AppEvent::Ssh(c, s) => self.eve.ssh(ts_ns, &self.ctx, c, s),
            AppEvent::Anomaly(app, ev) => self.eve.app_anomaly(ts_ns, &self.ctx, app, ev),
        }
    }
}

impl Engine {
    fn error(&mut self, ts_ns: u64, e: DecodeError) {
        self.stats.errors[e.index()] += 1;
        match e {
            DecodeError::NonIp => self.stats.non_ip += 1,
            // Resource limits, not packet anomalies: counted in stats and the summary only.
            DecodeError::FragMemcap | DecodeError::FragTimeout => {}
            _ => self.eve.decode_anomaly(ts_ns, e.name()),
        }
    }

    /// Counts the network layer of a packet (also of a fragment not yet reassembled).
    fn count_l3(&mut self, p: &Packet<'_>) {
        let st = &mut self.stats;
        if p.key.family == sensor_common::flow::family::V4 {
            st.ipv4 += 1;
        } else {
            st.ipv6 += 1;
        }
        if p.tunnel_depth > 0 {
            st.tunneled += 1;
        }
    }

    fn packet(&mut self, p: &Packet<'_>) {
        self.count_l3(p);
        match p.key.proto {
            proto::TCP => self.stats.tcp += 1,
            proto::UDP => self.stats.udp += 1,
            proto::ICMP | proto::ICMPV6 => self.stats.icmp += 1,
            _ => self.stats.other += 1,
        }
        if p.truncated {
            let e = if p.key.family == 4 { DecodeError::Ipv4TruncPkt } else { DecodeError::Ipv6TruncPkt };
            self.error(p.ts_ns, e);
        }
        let (canonical, side) = p.key.canonical();
        let mut new_flow = false;
        let slot = match self.flows.find(&canonical) {
            Some(s) => s,
            None => {
                new_flow = true;
                // A TCP flow first seen on a SYN-ACK: the receiver is the client. A flow picked
                // up without a SYN from a well-known port to an ephemeral one: likewise.
                let synack = p
                    .tcp
                    .is_some_and(|t| t.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN | tcp_flags::ACK);
                let no_syn = p.tcp.is_none_or(|t| t.flags & tcp_flags::SYN == 0);
                let ported = matches!(p.key.proto, proto::TCP | proto::UDP);
                let from_service = ported && no_syn && p.key.sport < 1024 && p.key.dport >= 1024;
                let (key, client_side) =
                    if synack || from_service { (p.key.reversed(), side ^ 1) } else { (p.key, side) };
                let (eve, app, stats, obs, sigs) =
                    (&mut self.eve, &self.app, &mut self.stats, &mut self.agents, &mut self.sigs);
                self.flows.insert(canonical, key, client_side, p.ts_ns, &mut |f, r| {
                    finish_flow(eve, app, stats, obs.as_mut(), sigs.as_mut(), f, r)
                })
            }
        };
        let depth = self.app.stream_depth;
        let Some(flow) = self.flows.get_mut(slot) else { return };
        let dir = if side == flow.client_side { Direction::ToServer } else { Direction::ToClient };
        flow.account(dir, p.ts_ns, p.wire_len, p.tcp.map(|t| t.flags));
        if let Some(icmp) = p.icmp {
            flow.icmp[dir.index()].get_or_insert(icmp);
        }
        if let Some(obs) = self.agents.as_mut() {
            obs.packet(flow, dir, new_flow, p.ts_ns, p.wire_len, p.tcp.map_or(0, |t| t.flags));
        }
        let ctx = FlowCtx::of(flow);
        let facts = FlowFacts::of(flow);
        let Flow { app, streams, sig: sf, .. } = flow;
        let mut out = FlowOut {
            eve: &mut self.eve,
            ctx,
            agents: self.agents.as_mut(),
            sig: self.sigs.as_mut().map(|s| (s, sf.get_or_insert_with(Box::default).as_mut(), facts)),
        };
        let app_cfg = &self.app;
        let ts = p.ts_ns;
        match (p.tcp, streams.as_mut()) {
            (Some(t), Some(streams)) => {
                streams[dir.index()].segment(
                    t.seq,
                    t.flags & tcp_flags::SYN != 0,
                    p.payload,
                    depth,
                    &mut |c| match c {
                        Chunk::Data(d) => app.tcp_data(app_cfg, ts, dir, d, &mut out),
                        Chunk::Gap(n) => app.tcp_gap(dir, n, ts, &mut out),
                    },
                );
            }
            _ if p.key.proto == proto::UDP && !p.payload.is_empty() => app.udp_data(ts, dir, p.payload, &mut out),
            _ => {}
        }
        // Packet rules run after the app layer has seen the packet, as in Suricata.
        if let Some((agent, sf, _)) = out.sig.as_mut() {
            let facts = FlowFacts { app: app.proto, ..facts };
            let queue = out.agents.as_deref().map(|o| o.runtime().queue());
            agent.packet(sf, &facts, p, dir, &mut AlertOut { eve: out.eve, queue });
        }
    }

    fn expire(&mut self, now_ns: u64) {
        let (eve, app, stats, obs, sigs) =
            (&mut self.eve, &self.app, &mut self.stats, &mut self.agents, &mut self.sigs);
        self.flows.expire(now_ns, &mut |e| match e {
            Expired::Ended(f, r) => finish_flow(eve, app, stats, obs.as_mut(), sigs.as_mut(), f, r),
            Expired::Active(f) => {
                eve.flow(f, EndReason::ActiveTimeout);
                f.pkts = [0; 2];
                f.bytes = [0; 2];
            }
        });
    }

    fn end_flow(&mut self, flow: Flow, reason: EndReason) {
        finish_flow(&mut self.eve, &self.app, &mut self.stats, self.agents.as_mut(), self.sigs.as_mut(), flow, reason);
    }

    fn write_stats(&mut self, ts_ns: u64, reassembled: u64) {
        let st = self.stats.clone();
        let flows = self.flows.stats;
        let detect = self.sigs.as_ref().map(|a| (*a.detect_stats(), a.stats.reloads));
        self.eve.record(RecordType::Stats, ts_ns, |j| {
            j.obj("stats", |s| {
                s.obj("decoder", |d| {
                    d.u64("pkts", st.packets)
                        .u64("bytes", st.bytes)
                        .u64("ipv4", st.ipv4)
                        .u64("ipv6", st.ipv6)
                        .u64("tcp", st.tcp)
                        .u64("udp", st.udp)
                        .u64("icmp", st.icmp)
                        .u64("other_ip", st.other)
                        .u64("tunneled", st.tunneled)
                        .u64("non_ip", st.non_ip)
                        .u64("invalid", st.error_total());
                    d.obj("event", |e| {
                        for err in DecodeError::ALL {
                            let n = st.errors[err.index()];
                            if n > 0 && *err != DecodeError::NonIp {
                                e.u64(err.name(), n);
                            }
                        }
                    });
                });
                s.obj("defrag", |d| {
                    d.u64("fragments", st.fragments).u64("reassembled", reassembled);
                });
                s.obj("flow", |f| {
                    f.u64("total", flows.created)
                        .u64("timeout", flows.timed_out)
                        .u64("evicted", flows.evicted)
                        .u64("active_timeout", flows.active_logged)
                        .u64("peak", flows.peak);
                });
                s.obj("tcp", |t| {
                    t.u64("out_of_order", st.stream_out_of_order)
                        .u64("retransmitted", st.stream_retransmitted)
                        .u64("overlap_diff", st.stream_overlap_diff)
                        .u64("gaps", st.stream_gaps);
                });
                s.obj("app_layer", |a| {
                    for proto in AppProto::ALL {
                        a.u64(proto.name(), st.app_flows[proto as usize]);
                    }
                });
                if let Some((d, reloads)) = detect {
                    s.obj("detect", |o| {
                        o.u64("alert", d.alerts)
                            .u64("packets", d.packets)
                            .u64("tx_sides", d.txs)
                            .u64("prefilter_candidates", d.prefilter_candidates)
                            .u64("rules_verified", d.rules_verified)
                            .u64("threshold_suppressed", d.threshold_suppressed)
                            .u64("threshold_evictions", d.threshold_evictions)
                            .u64("prefilter_errors", d.prefilter_errors)
                            .u64("dropped", d.dropped)
                            .u64("flow_dropped", d.flow_dropped)
                            .u64("reloads", reloads);
                    });
                }
            });
        });
    }
}

/// Flushes a flow's streams and parsers, then writes its flow record.
fn finish_flow(
    eve: &mut EveWriter,
    app: &AppConfig,
    stats: &mut PipelineStats,
    mut agents: Option<&mut Observer>,
    sigs: Option<&mut SignatureAgent>,
    mut flow: Flow,
    reason: EndReason,
) {
    let facts = FlowFacts::of(&flow);
    let mut sf = flow.sig.take();
    let sig = sigs.map(|s| (s, sf.get_or_insert_with(Box::default).as_mut(), facts));
    let mut out = FlowOut { eve, ctx: FlowCtx::of(&flow), agents: agents.as_deref_mut(), sig };
    let ts = flow.last_ns;
    let depth = app.stream_depth;
    if let Some(streams) = flow.streams.as_mut() {
        for dir in [Direction::ToServer, Direction::ToClient] {
            let s = &mut streams[dir.index()];
            let slot = &mut flow.app;
            s.flush(depth, &mut |c| match c {
                Chunk::Data(d) => slot.tcp_data(app, ts, dir, d, &mut out),
                Chunk::Gap(n) => slot.tcp_gap(dir, n, ts, &mut out),
            });
            stats.stream_out_of_order += s.stats.out_of_order;
            stats.stream_gaps += s.stats.gaps;
            stats.stream_retransmitted += s.stats.retransmitted;
            stats.stream_overlap_diff += s.stats.overlap_diff;
        }
    }
    flow.app.close(ts, &mut out);
    flow.alerted |= sf.as_ref().is_some_and(|s| s.alerted);
    flow.sig = sf;
    stats.app_flows[flow.app.proto as usize] += 1;
    if let Some(obs) = agents {
        obs.flow_end(&flow);
    }
    eve.flow(&flow, reason);
}
