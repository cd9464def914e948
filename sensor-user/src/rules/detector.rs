//! The signature micro-agent inside the packet pipeline: runs the shared [`Ruleset`] on each
//! packet and each app-layer transaction side, writes eve `alert` records and hands each
//! alert to the correlator as a finding. A new rule set (reload) arrives on a channel and is
//! swapped in between batches; flows keep running, and their flowbits from the old set are
//! dropped (bit numbers are per set).
//!
//! Verdicts: `drop` / `reject` matches are reported as `blocked` when the agent simulates an
//! inline sensor (`ips`), `allowed` otherwise; a dropped or passed flow is not inspected any
//! more in either mode. TCP flows picked up midstream get the midstream exception policy, and
//! without midstream pick-up they get no app layer (Suricata keeps no session for them).

use std::sync::{
    Arc,
    mpsc::{Receiver, Sender, channel},
};

use sensor_common::flow::{FlowKey, proto, tcp_flags};

use super::{
    buffers::{DnsBuffers, HttpBuffers, SshBuffers, TlsBuffers, TxScratch},
    engine::{Alert, DetectCtx, FlowDetect, IcmpView, PacketView, Ruleset, TcpView, TxBuffers, TxView},
    finding::alert_finding,
    ir::AppLayer,
    policy::{ExceptionPolicy, PolicyEffect},
};
use crate::{
    agents::finding::FindingQueue,
    packet::{
        Direction,
        app::{AppEvent, AppProto},
        decode::Packet,
        eve::{AlertCtx, EveWriter, FlowCtx, ip},
        flow::{Flow, FlowState},
    },
};

/// Per-flow signature state (lives in the flow).
#[derive(Default)]
pub struct SigFlow {
    detect: FlowDetect,
    generation: u32,
    txs: u64,
    /// The direction of the packet on which the flow's app protocol was first seen.
    app_dir: Option<Direction>,
    /// A packet went the other way since (passive TCP: the app layer has the data).
    app_acked: bool,
    /// A rule alerted on this flow.
    pub alerted: bool,
}

impl SigFlow {
    /// Passive TCP: is the app protocol visible to app-layer-only rules on this packet? It is
    /// from the first packet in the other direction after the one that revealed it.
    fn app_ready(&mut self, known: bool, dir: Direction) -> bool {
        if !known {
            return false;
        }
        match self.app_dir {
            None => {
                self.app_dir = Some(dir);
                false
            }
            Some(d) => {
                self.app_acked |= d != dir;
                self.app_acked
            }
        }
    }
}

impl std::fmt::Debug for SigFlow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigFlow").field("txs", &self.txs).field("alerted", &self.alerted).finish_non_exhaustive()
    }
}

/// Counters of the signature agent.
#[derive(Clone, Copy, Debug, Default)]
pub struct SigStats {
    /// Alerts raised (eve records written).
    pub alerts: u64,
    /// Rule sets swapped in.
    pub reloads: u64,
    /// Packets inspected.
    pub packets: u64,
    /// Transaction sides inspected.
    pub txs: u64,
}

/// The flow-level facts detection needs besides the packet.
#[derive(Clone, Copy, Debug)]
pub struct FlowFacts {
    /// The flow id.
    pub flow_id: u64,
    /// Client-to-server key.
    pub key: FlowKey,
    /// Established (TCP handshake completed or midstream data both ways; UDP: traffic both
    /// ways).
    pub established: bool,
    /// Not TCP, or TCP with both SYNs seen.
    pub handshake: bool,
    /// The flow's app protocol.
    pub app: AppProto,
    /// Bytes so far each way.
    pub bytes: [u64; 2],
    /// TCP picked up midstream: no SYN from the client was seen (a pick-up on the SYN-ACK
    /// counts, unless the agent allows one-sided sessions).
    pub midstream: bool,
    /// The server's SYN-ACK was seen.
    pub synack: bool,
}

impl FlowFacts {
    /// The facts of `flow` now. A TCP flow is established for detection once its handshake
    /// completed (Suricata's default, `stream.midstream: false`); a flow picked up midstream
    /// only when the agent runs with midstream pick-up.
    pub fn of(flow: &Flow) -> Self {
        let handshake = flow.tcp_flags[0] & tcp_flags::SYN != 0 && flow.tcp_flags[1] & tcp_flags::SYN != 0;
        Self {
            flow_id: flow.id,
            key: flow.key,
            established: flow.state != FlowState::New,
            handshake: flow.key.proto != proto::TCP || handshake,
            app: flow.app.proto,
            bytes: flow.bytes,
            midstream: flow.key.proto == proto::TCP && flow.tcp_flags[0] & tcp_flags::SYN == 0,
            synack: flow.tcp_flags[1] & tcp_flags::SYN != 0,
        }
    }
}

/// The running signature agent of one pipeline.
pub struct SignatureAgent {
    rules: Arc<Ruleset>,
    generation: u32,
    ctx: DetectCtx,
    scratch: TxScratch,
    swap_rx: Receiver<Arc<Ruleset>>,
    swap_tx: Sender<Arc<Ruleset>>,
    /// Treat TCP flows picked up without a handshake as established (Suricata's
    /// `stream.midstream: true`); off by default, as in Suricata. Without it such flows get no
    /// app layer.
    pub midstream: bool,
    /// Pick up TCP sessions from their SYN-ACK (Suricata's `stream.async-oneside`, for
    /// captures that see one direction): such flows get their app layer without `midstream`.
    pub async_oneside: bool,
    /// What to do with TCP flows picked up midstream (`stream.midstream-policy`).
    pub midstream_policy: ExceptionPolicy,
    /// Simulate an inline sensor: drop verdicts are reported as `blocked`, drop exception
    /// policies act, and the app layer is visible to rules at once.
    pub ips: bool,
    /// Counters.
    pub stats: SigStats,
}

impl std::fmt::Debug for SignatureAgent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignatureAgent").field("rules", &self.rules.len()).field("stats", &self.stats).finish()
    }
}

/// The app layer of a detected protocol.
pub fn app_layer(p: AppProto) -> Option<AppLayer> {
    match p {
        AppProto::Http => Some(AppLayer::Http),
        AppProto::Tls => Some(AppLayer::Tls),
        AppProto::Dns => Some(AppLayer::Dns),
        AppProto::Ssh => Some(AppLayer::Ssh),
        _ => None,
    }
}

/// Where alerts go: eve and, when agents run, the finding queue.
pub struct AlertOut<'a> {
    /// eve writer.
    pub eve: &'a mut EveWriter,
    /// The agents' finding queue.
    pub queue: Option<&'a FindingQueue>,
}

impl SignatureAgent {
    /// An agent running `rules`.
    pub fn new(rules: Arc<Ruleset>) -> Self {
        let ctx = DetectCtx::new(&rules);
        let (swap_tx, swap_rx) = channel();
        Self {
            rules,
            generation: 0,
            ctx,
            scratch: TxScratch::default(),
            swap_rx,
            swap_tx,
            midstream: false,
            async_oneside: false,
            midstream_policy: ExceptionPolicy::Ignore,
            ips: false,
            stats: SigStats::default(),
        }
    }

    /// A sender for new rule sets (SIGHUP / `sensor rules reload`): each is swapped in at the
    /// next batch boundary.
    pub fn reloader(&self) -> Sender<Arc<Ruleset>> {
        self.swap_tx.clone()
    }

    /// The rule set in use.
    pub fn rules(&self) -> &Arc<Ruleset> {
        &self.rules
    }

    /// Detection counters of the rule set in use.
    pub fn detect_stats(&self) -> &super::engine::DetectStats {
        &self.ctx.stats
    }

    /// A midstream flow Suricata would keep no session for: no app layer for its rules.
    fn app_layer_off(&self, facts: &FlowFacts) -> bool {
        facts.midstream && !self.midstream && !(self.async_oneside && facts.synack)
    }

    fn established(&self, facts: &FlowFacts) -> bool {
        facts.established && (facts.handshake || self.midstream)
    }

    /// Between batches: swaps in the newest rule set sent, if any; returns whether it did.
    pub fn between_batches(&mut self) -> bool {
        let mut newest = None;
        while let Ok(rs) = self.swap_rx.try_recv() {
            newest = Some(rs);
        }
        let Some(rs) = newest else { return false };
        // The counters run on across rule sets.
        let counters = self.ctx.stats;
        self.ctx = DetectCtx::new(&rs);
        self.ctx.stats = counters;
        self.rules = rs;
        self.generation = self.generation.wrapping_add(1);
        self.stats.reloads += 1;
        true
    }

    /// One packet of a flow (`sf` its state), sent in `dir`.
    pub fn packet(
        &mut self,
        sf: &mut SigFlow,
        facts: &FlowFacts,
        p: &Packet<'_>,
        dir: Direction,
        out: &mut AlertOut<'_>,
    ) {
        self.stats.packets += 1;
        if facts.midstream {
            let detect = flow_state(self.generation, sf);
            match self.midstream_policy.effect(self.ips, self.midstream) {
                PolicyEffect::Inspect => {}
                PolicyEffect::PassFlow => detect.pass_flow(),
                PolicyEffect::DropFlow => detect.drop_flow(),
                PolicyEffect::SkipPacket => return,
                PolicyEffect::DropPacket => {
                    self.ctx.stats.dropped += 1;
                    return;
                }
            }
        }
        let app = if self.app_layer_off(facts) { None } else { app_layer(facts.app) };
        let app_ready = self.ips || facts.key.proto != proto::TCP || sf.app_ready(app.is_some(), dir);
        let view = PacketView {
            ts_ns: p.ts_ns,
            src: ip(&p.key.saddr, p.key.family),
            dst: ip(&p.key.daddr, p.key.family),
            sport: ports_of(p.key.proto, p.key.sport),
            dport: ports_of(p.key.proto, p.key.dport),
            ip_proto: p.key.proto,
            ttl: p.ttl,
            tcp: p.tcp.map(|t| TcpView { flags: t.flags, seq: t.seq, ack: t.ack, window: t.window }),
            icmp: p.icmp.map(|(t, c)| IcmpView { icmp_type: t, code: c, id: p.key.sport, seq: 0 }),
            payload: p.payload,
            to_server: dir == Direction::ToServer,
            established: self.established(facts),
            app,
            app_ready,
            flow_bytes: facts.bytes,
            has_flow: true,
        };
        let detect = flow_state(self.generation, sf);
        let ips = self.ips;
        let rules = &self.rules;
        let mut alerted = false;
        let app_name = app_name(facts.app);
        rules.detect_packet(&mut self.ctx, detect, &view, &mut |a: &Alert| {
            alerted = true;
            let sig = rules.signature(a.sig);
            let actx = AlertCtx {
                ts_ns: view.ts_ns,
                flow_id: Some(facts.flow_id),
                src: view.src,
                sport: view.sport,
                dst: view.dst,
                dport: view.dport,
                proto: view.ip_proto,
                app_proto: app_name,
                to_server: Some(view.to_server),
                tx_id: None,
                blocked: ips && a.action.drops(),
            };
            emit(out, &actx, sig, None);
        });
        if alerted {
            sf.alerted = true;
        }
    }

    /// One app-layer event of the flow described by `ctx`/`facts`.
    pub fn app_event(
        &mut self,
        sf: &mut SigFlow,
        facts: &FlowFacts,
        ctx: &FlowCtx,
        ts_ns: u64,
        event: &AppEvent<'_>,
        out: &mut AlertOut<'_>,
    ) {
        if self.app_layer_off(facts) {
            return;
        }
        match *event {
            AppEvent::Http(tx) => {
                let id = sf.txs;
                sf.txs += 1;
                // The derived buffers borrow the scratch while `self` runs the rules.
                let mut scratch = std::mem::take(&mut self.scratch);
                for to_server in [true, false] {
                    if !to_server && tx.response_line.is_empty() && tx.status.is_none() {
                        continue;
                    }
                    let bufs = HttpBuffers::new(tx, to_server, &mut scratch);
                    self.tx(sf, facts, ctx, ts_ns, AppLayer::Http, id, to_server, &bufs, tx.host.as_deref(), out);
                }
                self.scratch = scratch;
            }
            AppEvent::Dns(dir, msg) => {
                let id = sf.txs;
                sf.txs += 1;
                let host = msg.queries.first().map(|q| q.name.as_slice());
                let to_server = dir == Direction::ToServer;
                self.tx(sf, facts, ctx, ts_ns, AppLayer::Dns, id, to_server, &DnsBuffers(msg), host, out);
            }
            AppEvent::Tls(info) => {
                let id = sf.txs;
                sf.txs += 1;
                let host = info.sni.as_deref().map(str::as_bytes);
                for to_server in [true, false] {
                    let bufs = TlsBuffers { info, to_server };
                    self.tx(sf, facts, ctx, ts_ns, AppLayer::Tls, id, to_server, &bufs, host, out);
                }
            }
            AppEvent::Ssh(client, server) => {
                let id = sf.txs;
                sf.txs += 1;
                if let Some(c) = client {
                    self.tx(sf, facts, ctx, ts_ns, AppLayer::Ssh, id, true, &SshBuffers(c), None, out);
                }
                if let Some(s) = server {
                    self.tx(sf, facts, ctx, ts_ns, AppLayer::Ssh, id, false, &SshBuffers(s), None, out);
                }
            }
            AppEvent::Anomaly(..) => {}
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one transaction side and where it came from")]
    fn tx(
        &mut self,
        sf: &mut SigFlow,
        facts: &FlowFacts,
        ctx: &FlowCtx,
        ts_ns: u64,
        app: AppLayer,
        tx_id: u64,
        to_server: bool,
        bufs: &dyn TxBuffers,
        host: Option<&[u8]>,
        out: &mut AlertOut<'_>,
    ) {
        self.stats.txs += 1;
        let k = if to_server { ctx.key } else { ctx.key.reversed() };
        let header = PacketView {
            ts_ns,
            src: ip(&k.saddr, k.family),
            dst: ip(&k.daddr, k.family),
            sport: ports_of(k.proto, k.sport),
            dport: ports_of(k.proto, k.dport),
            ip_proto: k.proto,
            ttl: 0,
            tcp: None,
            icmp: None,
            payload: &[],
            to_server,
            established: self.established(facts) || k.proto == proto::UDP,
            app: Some(app),
            app_ready: true,
            flow_bytes: facts.bytes,
            has_flow: true,
        };
        let view = TxView { header, app, tx_id, bufs };
        let rules = &self.rules;
        let detect = flow_state(self.generation, sf);
        let mut alerted = false;
        let ips = self.ips;
        let app_name = app_name(facts.app).or(Some(app_name_of(app)));
        rules.detect_tx(&mut self.ctx, detect, &view, &mut |a: &Alert| {
            alerted = true;
            let sig = rules.signature(a.sig);
            let h = &view.header;
            let actx = AlertCtx {
                ts_ns,
                flow_id: Some(facts.flow_id),
                src: h.src,
                sport: h.sport,
                dst: h.dst,
                dport: h.dport,
                proto: h.ip_proto,
                app_proto: app_name,
                to_server: Some(to_server),
                tx_id: a.tx_id,
                blocked: ips && a.action.drops(),
            };
            emit(out, &actx, sig, host);
        });
        if alerted {
            sf.alerted = true;
        }
    }
}

fn emit(out: &mut AlertOut<'_>, a: &AlertCtx, sig: &super::ir::Signature, host: Option<&[u8]>) {
    out.eve.alert(a, sig);
    if let Some(q) = out.queue {
        q.push(alert_finding(sig, a.ts_ns, a.src, a.dst, a.sport, a.dport, a.flow_id, host));
    }
}

/// The flow's detection state for rule-set `generation`: flowbits of an older set are
/// dropped (bit numbers are per set).
fn flow_state(generation: u32, sf: &mut SigFlow) -> &mut FlowDetect {
    if sf.generation != generation {
        sf.detect = FlowDetect::default();
        sf.generation = generation;
    }
    &mut sf.detect
}

/// Ports of a key (ICMP keys carry type/code or echo ids there: no ports).
fn ports_of(p: u8, port: u16) -> u16 {
    if matches!(p, proto::TCP | proto::UDP) { port } else { 0 }
}

fn app_name(p: AppProto) -> Option<&'static str> {
    match p {
        AppProto::Unknown => None,
        other => Some(other.name()),
    }
}

fn app_name_of(a: AppLayer) -> &'static str {
    match a {
        AppLayer::Http => "http",
        AppLayer::Tls => "tls",
        AppLayer::Dns => "dns",
        AppLayer::Ssh => "ssh",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::parse::{self, LoadReport, RuleConfig};

    fn ruleset(text: &str) -> Arc<Ruleset> {
        let mut report = LoadReport::default();
        parse::load_str(text, "t.rules", &RuleConfig::suricata_default(), &mut report);
        assert!(report.errors.is_empty() && report.skipped.is_empty());
        let names = report.names.names().len();
        Arc::new(Ruleset::build(report.signatures, names).0)
    }

    #[test]
    fn a_reloaded_set_is_swapped_in_at_the_next_batch_boundary_only() {
        let one = r#"alert tcp any any -> any any (msg:"a"; content:"a"; sid:1;)"#;
        let two = format!("{one}\nalert tcp any any -> any any (msg:\"b\"; content:\"b\"; sid:2;)");
        let mut agent = SignatureAgent::new(ruleset(one));
        assert!(!agent.between_batches(), "nothing sent, nothing swapped");
        let tx = agent.reloader();
        tx.send(ruleset(&two)).unwrap();
        assert_eq!(agent.rules().len(), 1, "the running set stays until the boundary");
        assert!(agent.between_batches());
        assert_eq!(agent.rules().len(), 2);
        assert_eq!(agent.stats.reloads, 1);
    }

    #[test]
    fn flowbits_of_the_previous_set_are_dropped_at_a_swap() {
        let text = r#"alert tcp any any -> any any (msg:"set"; content:"a"; flowbits:set,x; flowbits:noalert; sid:1;)"#;
        let mut agent = SignatureAgent::new(ruleset(text));
        let mut sf = SigFlow::default();
        flow_state(agent.generation, &mut sf);
        assert_eq!(sf.generation, 0);
        agent.reloader().send(ruleset(text)).unwrap();
        agent.between_batches();
        flow_state(agent.generation, &mut sf);
        assert_eq!(sf.generation, 1, "the flow's state was reset for the new set");
    }
}
