//! The per-packet and per-transaction loops: collect candidates (always-lists + prefilter hits,
//! deduplicated with per-rule epoch stamps, sorted into rule order), verify each (header,
//! flowbit conditions, buffers), then run the match actions (flowbits, thresholds, rate
//! filters, suppressions, then the action: pass, drop / reject, alert), in the action order the
//! rules were sorted by. Nothing here allocates except a flow's lazily created state.
//!
//! Verdicts follow Suricata 7 (detect-engine-alert.c): a drop alerts and marks the packet
//! dropped, and for a flow-scoped rule the whole flow (its later packets are not inspected);
//! a pass ends the packet's inspection without an alert and, for a flow-scoped rule on a
//! packet not already dropped, the flow's. The first flow verdict wins.

use super::super::inspect::Scratch;
use super::super::ir::{Action, Buffer, SuppressTrack};
use super::build::app_index;
use super::state::{DetectStats, FlowDetect, push_cand};
use super::threshold::ThresholdTable;
use super::{Alert, DetectCtx, PacketView, Rule, Ruleset, SigId, TxBuffers, TxView, flowbits, header};

/// Where a rule's buffers come from.
enum Src<'a> {
    /// A packet: only the payload (absent when empty).
    Packet(&'a [u8]),
    /// A transaction side.
    Tx(&'a dyn TxBuffers),
}

impl Src<'_> {
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]> {
        match self {
            Src::Packet(p) => (b == Buffer::Payload && idx == 0 && !p.is_empty()).then_some(*p),
            Src::Tx(t) => t.get(b, idx),
        }
    }
}

/// Do all of the rule's buffers match? A buffer matches when some instance of it does
/// (multi-buffers); an absent buffer never matches.
fn buffers_match(rule: &Rule, src: &Src<'_>, vars: &mut [u64], scratch: &mut Scratch, dot: &mut Vec<u8>) -> bool {
    let n = usize::from(rule.sig.vars).min(vars.len());
    let vars = &mut vars[..n];
    vars.fill(0);
    if let Some((cmp, raw)) = rule.sig.urilen {
        let b = if raw { Buffer::HttpUriRaw } else { Buffer::HttpUri };
        if !src.get(b, 0).is_some_and(|u| cmp.test(u.len() as u64)) {
            return false;
        }
    }
    for (bm, cb) in rule.sig.buffers.iter().zip(&rule.bufs) {
        let mut idx = 0;
        let mut ok = false;
        while let Some(buf) = src.get(bm.buffer, idx) {
            let buf = if bm.dotprefix { dotted(dot, buf) } else { buf };
            if cb.inspect(buf, vars, scratch) {
                ok = true;
                break;
            }
            idx += 1;
        }
        if !ok {
            return false;
        }
    }
    true
}

/// `"." + buf` in the reused `dot` vector.
fn dotted<'d>(dot: &'d mut Vec<u8>, buf: &[u8]) -> &'d [u8] {
    dot.clear();
    dot.push(b'.');
    dot.extend_from_slice(buf);
    dot
}

/// Buffers that rules may inspect through the `dotprefix` transform (host names).
fn dot_named(b: Buffer) -> bool {
    matches!(b, Buffer::DnsQuery | Buffer::TlsSni | Buffer::HttpHost | Buffer::HttpHostRaw)
}

/// Per-call mutable pieces of the worker context, split so candidates can be iterated while
/// the rest is used.
struct Run<'c> {
    stats: &'c mut DetectStats,
    vars: &'c mut [u64],
    scratch: &'c mut Scratch,
    thresholds: &'c mut ThresholdTable,
    dot: &'c mut Vec<u8>,
    /// A drop verdict was given to this packet / tx side.
    dropped: bool,
}

/// Does a `suppress` entry cover this match?
fn suppressed(list: &[SuppressTrack], p: &PacketView<'_>) -> bool {
    list.iter().any(|t| match t {
        SuppressTrack::All => true,
        SuppressTrack::BySrc(set) => header::addr_ok(set, p.src),
        SuppressTrack::ByDst(set) => header::addr_ok(set, p.dst),
        SuppressTrack::ByEither(set) => header::addr_ok(set, p.src) || header::addr_ok(set, p.dst),
    })
}

impl Ruleset {
    /// Rule conditions: header, flowbit checks, buffers.
    fn verify(
        &self,
        rule: &Rule,
        p: &PacketView<'_>,
        src: &Src<'_>,
        in_tx: bool,
        flow: &FlowDetect,
        run: &mut Run<'_>,
    ) -> bool {
        run.stats.rules_verified += 1;
        header::header_ok(&rule.sig, p, in_tx)
            && (!rule.fb_checks || flowbits::check(&rule.sig.flowbits, p.has_flow.then_some(&flow.bits[..])))
            && buffers_match(rule, src, run.vars, run.scratch, run.dot)
    }

    /// Actions of a matched rule. Returns false when inspection of this packet / tx must stop
    /// (a pass).
    #[allow(clippy::too_many_arguments)]
    fn on_match(
        &self,
        rid: u32,
        rule: &Rule,
        p: &PacketView<'_>,
        flow: &mut FlowDetect,
        run: &mut Run<'_>,
        tx_id: Option<u64>,
        out: &mut dyn FnMut(&Alert),
    ) -> bool {
        let sig = &rule.sig;
        if p.has_flow && !sig.flowbits.is_empty() {
            flowbits::apply(&sig.flowbits, &mut flow.bits, self.flowbit_words);
        }
        for (which, td) in [(1u8, sig.detection_filter), (0u8, sig.threshold)] {
            let Some(td) = td else { continue };
            let ok = if td.track == super::super::ir::Track::ByFlow {
                p.has_flow && flow.thresholds.allow(rid, which, &td, p.ts_ns)
            } else {
                run.thresholds.allow(rid, which, &td, p.ts_ns, p.src, p.dst)
            };
            if !ok {
                run.stats.threshold_suppressed += 1;
                return true;
            }
        }
        let mut action = sig.action;
        if let Some(rf) = &sig.rate_filter
            && run.thresholds.rate(rid, rf, p.ts_ns, p.src, p.dst)
        {
            action = rf.new_action;
        }
        match action {
            Action::Pass => {
                if rule.flow_scope && p.has_flow && !run.dropped && !flow.drop {
                    flow.pass = true;
                }
                return false;
            }
            Action::Drop | Action::Reject => {
                if !run.dropped {
                    run.dropped = true;
                    run.stats.dropped += 1;
                }
                if rule.flow_scope && p.has_flow && !flow.pass {
                    flow.drop = true;
                }
            }
            Action::Alert => {}
        }
        if sig.noalert {
            return true;
        }
        // A suppressed rule still acts (drops); only its alert goes.
        if !sig.suppress.is_empty() && suppressed(&sig.suppress, p) {
            run.stats.threshold_suppressed += 1;
            return true;
        }
        run.stats.alerts += 1;
        out(&Alert { sig: SigId(rid), tx_id, action });
        true
    }

    /// Packet rules (rules with no app-layer buffers) against one packet. Calls `out` for each
    /// alert, in Suricata's order. Applies flowbits / thresholds / pass. Allocation-free.
    pub fn detect_packet(
        &self,
        ctx: &mut DetectCtx,
        flow: &mut FlowDetect,
        p: &PacketView<'_>,
        out: &mut dyn FnMut(&Alert),
    ) {
        ctx.stats.packets += 1;
        if p.has_flow && (flow.pass || flow.drop) {
            ctx.stats.flow_dropped += u64::from(flow.drop);
            return;
        }
        ctx.begin();
        let DetectCtx { stats, stamps, epoch, cands, vars, scratch, thresholds, dot, hs } = ctx;
        let epoch = *epoch;
        let Some(g) = self.packet_groups.get(header::group_of(p.ip_proto)) else { return };
        for &r in &g.always {
            push_cand(stamps, cands, epoch, r);
        }
        if !p.payload.is_empty() {
            for pf in g.prefilters.iter().filter(|pf| pf.buffer == Buffer::Payload) {
                if !pf.scan(p.payload, hs, &mut |r| push_cand(stamps, cands, epoch, r)) {
                    stats.prefilter_errors += 1;
                }
            }
        }
        cands.sort_unstable();
        stats.prefilter_candidates += cands.len() as u64;
        let mut run = Run { stats, vars, scratch, thresholds, dot, dropped: false };
        let src = Src::Packet(p.payload);
        for &rid in cands.iter() {
            let Some(rule) = self.rules.get(rid as usize) else { continue };
            if self.verify(rule, p, &src, false, flow, &mut run)
                && !self.on_match(rid, rule, p, flow, &mut run, None, out)
            {
                break;
            }
        }
        run.stats.threshold_evictions = run.thresholds.evictions;
    }

    /// App-layer rules (rules with at least one app buffer) against one transaction side.
    /// A rule alerts at most once per (flow, tx_id, direction). Allocation-free (except the
    /// flow's lazily created state).
    pub fn detect_tx(&self, ctx: &mut DetectCtx, flow: &mut FlowDetect, tx: &TxView<'_>, out: &mut dyn FnMut(&Alert)) {
        ctx.stats.txs += 1;
        if flow.pass || flow.drop {
            ctx.stats.flow_dropped += u64::from(flow.drop);
            return;
        }
        // A transaction always belongs to a flow.
        let mut h = tx.header;
        h.has_flow = true;
        let side = u8::from(!h.to_server);
        let Some(g) = self.tx_groups.get(app_index(tx.app) * 2 + usize::from(side)) else { return };
        ctx.begin();
        let DetectCtx { stats, stamps, epoch, cands, vars, scratch, thresholds, dot, hs } = ctx;
        let epoch = *epoch;
        for &r in &g.always {
            push_cand(stamps, cands, epoch, r);
        }
        for pf in &g.prefilters {
            let mut idx = 0;
            while let Some(buf) = tx.bufs.get(pf.buffer, idx) {
                // Names are scanned with the `dotprefix` dot in front: a superset of the
                // matches of the plain name, so both kinds of rule are found.
                let buf = if dot_named(pf.buffer) { dotted(dot, buf) } else { buf };
                if !pf.scan(buf, hs, &mut |r| push_cand(stamps, cands, epoch, r)) {
                    stats.prefilter_errors += 1;
                }
                idx += 1;
            }
        }
        cands.sort_unstable();
        stats.prefilter_candidates += cands.len() as u64;
        let mut run = Run { stats, vars, scratch, thresholds, dot, dropped: false };
        let src = Src::Tx(tx.bufs);
        for &rid in cands.iter() {
            let Some(rule) = self.rules.get(rid as usize) else { continue };
            if flow.tx_matched(tx.tx_id, side, rid) || rule.sig.app.is_some_and(|a| a != tx.app) {
                continue;
            }
            if self.verify(rule, &h, &src, true, flow, &mut run) {
                flow.remember_tx(tx.tx_id, side, rid);
                if !self.on_match(rid, rule, &h, flow, &mut run, Some(tx.tx_id), out) {
                    break;
                }
            }
        }
        run.stats.threshold_evictions = run.thresholds.evictions;
    }
}
