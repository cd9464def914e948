//! Runtime state: per-worker [`DetectCtx`] (reused buffers, inspection scratch, threshold
//! tables, counters) and per-flow [`FlowDetect`] (flowbits, pass / drop verdicts, tx alert
//! memory).

use super::super::inspect::Scratch;
use super::Ruleset;
use super::hyperscan::HsScratch;
use super::threshold::{DEFAULT_THRESHOLD_CAPACITY, FlowThresholds, ThresholdTable};

/// Detection counters of one worker.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DetectStats {
    /// Packets given to `detect_packet`.
    pub packets: u64,
    /// Transaction sides given to `detect_tx`.
    pub txs: u64,
    /// Candidate rules from prefilters and always-lists (after dedup).
    pub prefilter_candidates: u64,
    /// Candidates fully verified (header, flowbits, buffers).
    pub rules_verified: u64,
    /// Alerts emitted.
    pub alerts: u64,
    /// Matches not alerted because of `threshold` / `detection_filter`.
    pub threshold_suppressed: u64,
    /// Live threshold entries evicted because the table was full.
    pub threshold_evictions: u64,
    /// Prefilter scans that failed (Hyperscan scratch missing): those buffers went unscanned.
    pub prefilter_errors: u64,
    /// Packets and transaction sides given a drop verdict by a `drop` / `reject` rule (or a
    /// `rate_filter`'s new action).
    pub dropped: u64,
    /// Packets and transaction sides not inspected because a rule dropped their flow.
    pub flow_dropped: u64,
}

/// Per-worker detection context, sized from the ruleset once and reused for every packet.
/// Threshold state lives here: one flow's packets must always go to the same worker.
pub struct DetectCtx {
    /// Counters.
    pub stats: DetectStats,
    pub(crate) stamps: Vec<u32>,
    pub(crate) epoch: u32,
    pub(crate) cands: Vec<u32>,
    pub(crate) vars: Vec<u64>,
    pub(crate) scratch: Scratch,
    pub(crate) thresholds: ThresholdTable,
    /// `"." + buffer` for the `dotprefix` transform (reused).
    pub(crate) dot: Vec<u8>,
    /// Hyperscan scratch, fitted to every Hyperscan prefilter of the rule set.
    pub(crate) hs: HsScratch,
}

impl std::fmt::Debug for DetectCtx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectCtx").field("stats", &self.stats).finish()
    }
}

impl DetectCtx {
    /// A context for `rs` with the default threshold table bound.
    pub fn new(rs: &Ruleset) -> Self {
        Self::with_threshold_capacity(rs, DEFAULT_THRESHOLD_CAPACITY)
    }

    /// A context whose threshold table holds at most `cap` entries (preallocated only when the
    /// ruleset uses thresholds).
    pub fn with_threshold_capacity(rs: &Ruleset, cap: usize) -> Self {
        let n = rs.rules.len();
        let mut hs = HsScratch::default();
        for g in rs.packet_groups.iter().chain(rs.tx_groups.iter()) {
            for pf in &g.prefilters {
                // A scratch that cannot grow (out of memory) shows as `prefilter_errors`.
                pf.fit(&mut hs);
            }
        }
        DetectCtx {
            hs,
            stats: DetectStats::default(),
            dot: Vec::with_capacity(1024),
            stamps: vec![0; n],
            epoch: 0,
            cands: Vec::with_capacity(n),
            vars: vec![0; rs.max_vars.max(1)],
            scratch: Scratch::new(rs.max_captures),
            thresholds: ThresholdTable::new(if rs.has_thresholds { cap } else { 0 }),
        }
    }

    /// Starts a new candidate list.
    pub(crate) fn begin(&mut self) {
        self.cands.clear();
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            self.stamps.fill(0);
            self.epoch = 1;
        }
    }
}

/// Adds `rule` to `cands` unless already there this round.
pub(crate) fn push_cand(stamps: &mut [u32], cands: &mut Vec<u32>, epoch: u32, rule: u32) {
    if let Some(s) = stamps.get_mut(rule as usize)
        && *s != epoch
    {
        *s = epoch;
        cands.push(rule);
    }
}

/// How many recent transactions per side a flow remembers alerts for.
const TX_MEMORY: u64 = 64;

/// Per-flow detection state. `Default` allocates nothing.
#[derive(Debug, Default)]
pub struct FlowDetect {
    /// Flowbit words (empty until the first set).
    pub(crate) bits: Vec<u64>,
    /// A flow-scoped `pass` rule matched: nothing more is inspected on this flow.
    pub(crate) pass: bool,
    /// A flow-scoped `drop` / `reject` rule matched: the rest of the flow is dropped, not
    /// inspected.
    pub(crate) drop: bool,
    /// (tx id, side 0/1, rule) that already matched.
    pub(crate) tx_seen: Vec<(u64, u8, u32)>,
    pub(crate) thresholds: FlowThresholds,
}

impl FlowDetect {
    /// Did a flow-scoped `pass` rule match on this flow?
    pub fn passed(&self) -> bool {
        self.pass
    }

    /// Did a flow-scoped `drop` / `reject` rule match on this flow?
    pub fn dropped(&self) -> bool {
        self.drop
    }

    /// Passes the flow (an exception policy's `pass-flow`) unless a verdict is already set.
    pub fn pass_flow(&mut self) {
        if !self.drop {
            self.pass = true;
        }
    }

    /// Drops the flow (an exception policy's `drop-flow`) unless a verdict is already set.
    pub fn drop_flow(&mut self) {
        if !self.pass {
            self.drop = true;
        }
    }

    /// Forgets the alert memory of a finished transaction (optional: memory of transactions
    /// more than 64 ids older than the newest is dropped anyway).
    pub fn tx_done(&mut self, tx_id: u64) {
        self.tx_seen.retain(|&(t, _, _)| t != tx_id);
    }

    /// Is flowbit `idx` set?
    pub fn flowbit(&self, idx: u32) -> bool {
        self.bits.get((idx / 64) as usize).is_some_and(|w| w & (1u64 << (idx % 64)) != 0)
    }

    pub(crate) fn tx_matched(&self, tx_id: u64, side: u8, rule: u32) -> bool {
        self.tx_seen.contains(&(tx_id, side, rule))
    }

    pub(crate) fn remember_tx(&mut self, tx_id: u64, side: u8, rule: u32) {
        let floor = tx_id.saturating_sub(TX_MEMORY);
        if self.tx_seen.first().is_some_and(|&(t, _, _)| t < floor) {
            self.tx_seen.retain(|&(t, _, _)| t >= floor);
        }
        self.tx_seen.push((tx_id, side, rule));
    }
}
