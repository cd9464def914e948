//! The flow table: a hash index from canonical key to a slab slot, and a deadline heap that
//! drives idle/active timeouts and picks the eviction victim when the table is full.
//!
//! Steady state (a packet of a known flow) touches the index and the slot only: no
//! allocation. The heap holds one entry per live flow; an entry whose flow was refreshed is
//! pushed again with the new deadline when it surfaces.

use std::{cmp::Reverse, collections::BinaryHeap, collections::HashMap};

use sensor_common::flow::FlowKey;

use super::{EndReason, Flow, FlowConfig};

/// Index of a flow in the table's slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FlowSlot(u32);

/// A flow reached a deadline.
#[derive(Debug)]
pub enum Expired<'a> {
    /// Idle timeout: the flow left the table.
    Ended(Flow, EndReason),
    /// Active timeout: the flow stays; log it.
    Active(&'a mut Flow),
}

/// What the table did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TableStats {
    /// Flows created.
    pub created: u64,
    /// Flows evicted because the table was full.
    pub evicted: u64,
    /// Flows ended by idle timeout.
    pub timed_out: u64,
    /// Active-timeout records written.
    pub active_logged: u64,
    /// Most flows alive at once.
    pub peak: u64,
}

/// The bounded flow table.
#[derive(Debug)]
pub struct FlowTable {
    cfg: FlowConfig,
    index: HashMap<FlowKey, u32, foldhash::fast::RandomState>,
    slots: Vec<Option<Flow>>,
    generation: Vec<u32>,
    free: Vec<u32>,
    deadlines: BinaryHeap<Reverse<(u64, u32, u32)>>,
    next_id: u64,
    /// Counters.
    pub stats: TableStats,
}

impl FlowTable {
    /// An empty table.
    pub fn new(cfg: FlowConfig) -> Self {
        Self {
            cfg,
            index: HashMap::default(),
            slots: Vec::new(),
            generation: Vec::new(),
            free: Vec::new(),
            deadlines: BinaryHeap::new(),
            next_id: 1,
            stats: TableStats::default(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &FlowConfig {
        &self.cfg
    }

    /// Flows alive.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// No flow alive.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// The slot of the flow with canonical key `canonical`.
    #[inline]
    pub fn find(&self, canonical: &FlowKey) -> Option<FlowSlot> {
        self.index.get(canonical).map(|&s| FlowSlot(s))
    }

    /// The flow in `slot`.
    #[inline]
    pub fn get_mut(&mut self, slot: FlowSlot) -> Option<&mut Flow> {
        self.slots.get_mut(slot.0 as usize).and_then(Option::as_mut)
    }

    /// Inserts a new flow for canonical key `canonical` whose client-to-server key is `key`.
    /// When the table is full the flow nearest its deadline is removed first and handed to
    /// `evicted`.
    pub fn insert(
        &mut self,
        canonical: FlowKey,
        key: FlowKey,
        client_side: u8,
        ts_ns: u64,
        evicted: &mut impl FnMut(Flow, EndReason),
    ) -> FlowSlot {
        if self.index.len() >= self.cfg.max_flows {
            if let Some(victim) = self.pop_earliest() {
                self.stats.evicted += 1;
                evicted(victim, EndReason::Forced);
            }
        }
        let flow = Flow::new(self.next_id, key, client_side, ts_ns);
        self.next_id += 1;
        let deadline = flow.idle_deadline(&self.cfg).min(flow.active_deadline(&self.cfg));
        let slot = match self.free.pop() {
            Some(s) => {
                self.slots[s as usize] = Some(flow);
                s
            }
            None => {
                self.slots.push(Some(flow));
                self.generation.push(0);
                (self.slots.len() - 1) as u32
            }
        };
        self.index.insert(canonical, slot);
        self.deadlines.push(Reverse((deadline, slot, self.generation[slot as usize])));
        self.stats.created += 1;
        self.stats.peak = self.stats.peak.max(self.index.len() as u64);
        FlowSlot(slot)
    }

    /// Ends every flow whose idle deadline passed at capture time `now_ns` (handed over as
    /// [`Expired::Ended`]) and reports flows past the active timeout in place
    /// ([`Expired::Active`]: the callee logs them and may reset their counters).
    pub fn expire(&mut self, now_ns: u64, on: &mut impl FnMut(Expired<'_>)) {
        while let Some(&Reverse((deadline, slot, generation))) = self.deadlines.peek() {
            if deadline > now_ns {
                break;
            }
            self.deadlines.pop();
            if self.generation.get(slot as usize) != Some(&generation) {
                continue;
            }
            let cfg = self.cfg;
            let Some(Some(flow)) = self.slots.get_mut(slot as usize) else { continue };
            if flow.idle_deadline(&cfg) <= now_ns {
                if let Some(flow) = self.remove(slot) {
                    self.stats.timed_out += 1;
                    on(Expired::Ended(flow, EndReason::Timeout));
                }
                continue;
            }
            if flow.active_deadline(&cfg) <= now_ns {
                on(Expired::Active(flow));
                flow.period_ns = now_ns;
                self.stats.active_logged += 1;
            }
            let next = flow.idle_deadline(&cfg).min(flow.active_deadline(&cfg));
            self.deadlines.push(Reverse((next, slot, generation)));
        }
    }

    /// A new flow that is not put in the table (it is finished at once by the caller).
    pub fn detached(&mut self, key: FlowKey, client_side: u8, ts_ns: u64) -> Flow {
        let flow = Flow::new(self.next_id, key, client_side, ts_ns);
        self.next_id += 1;
        self.stats.created += 1;
        flow
    }

    /// Removes the flow with canonical key `canonical`, if present.
    pub fn take(&mut self, canonical: &FlowKey) -> Option<Flow> {
        let slot = *self.index.get(canonical)?;
        self.remove(slot)
    }

    /// Removes every flow, in creation order (deterministic output at end of input).
    pub fn drain(&mut self) -> Vec<Flow> {
        let mut flows: Vec<Flow> = self.slots.iter_mut().filter_map(Option::take).collect();
        flows.sort_unstable_by_key(|f| f.id);
        self.index.clear();
        self.deadlines.clear();
        self.free.clear();
        self.slots.clear();
        self.generation.clear();
        flows
    }

    fn pop_earliest(&mut self) -> Option<Flow> {
        while let Some(Reverse((_, slot, generation))) = self.deadlines.pop() {
            if self.generation.get(slot as usize) == Some(&generation) {
                return self.remove(slot);
            }
        }
        None
    }

    fn remove(&mut self, slot: u32) -> Option<Flow> {
        let flow = self.slots.get_mut(slot as usize)?.take()?;
        let (canonical, _) = flow.key.canonical();
        self.index.remove(&canonical);
        self.generation[slot as usize] = self.generation[slot as usize].wrapping_add(1);
        self.free.push(slot);
        Some(flow)
    }
}
