//! Reading the per-CPU `COUNTERS` array: summed over CPUs, by name.

use aya::maps::{Map, MapData, PerCpuArray};
use sensor_common::{
    block::{BLOCK_REASONS, BlockReason},
    counters::{COUNTER_SLOTS, NAMED, drop_reason_slot},
};

/// Counter values summed over CPUs, indexed like the map.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// One value per slot.
    pub slots: Vec<u64>,
    /// Per slot, the value on each possible CPU.
    pub per_cpu: Vec<Vec<u64>>,
}

impl CounterSnapshot {
    /// The value of a named counter.
    pub fn get(&self, c: sensor_common::counters::Counter) -> u64 {
        self.slots.get(c as usize).copied().unwrap_or(0)
    }

    /// (name, value) pairs: the named counters, then drops by reason.
    pub fn named(&self) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = NAMED.iter().map(|(c, n)| ((*n).to_owned(), self.get(*c))).collect();
        for r in 0..BLOCK_REASONS {
            let name = BlockReason::try_from(r).map(|r| r.name().to_owned()).unwrap_or_else(|c| format!("code_{c}"));
            let v = self.slots.get(drop_reason_slot(r) as usize).copied().unwrap_or(0);
            out.push((format!("drop_reason_{name}"), v));
        }
        out
    }

    /// Kernel-side event losses (ring reserve failures) in total.
    pub fn ring_losses(&self) -> u64 {
        use sensor_common::counters::Counter::*;
        self.get(RingFailFlow) + self.get(RingFailSample) + self.get(RingFailProc)
    }
}

/// Errors reading counters.
#[derive(Debug, thiserror::Error)]
pub enum CounterError {
    /// The map is not a per-CPU array or could not be read.
    #[error("cannot read the COUNTERS map")]
    Map(#[source] aya::maps::MapError),
}

/// Sums every slot of a `COUNTERS` map over CPUs.
pub fn read_counters(map: &Map) -> Result<CounterSnapshot, CounterError> {
    let arr: PerCpuArray<&MapData, u64> = PerCpuArray::try_from(map).map_err(CounterError::Map)?;
    let mut slots = vec![0u64; COUNTER_SLOTS as usize];
    let mut per_cpu = Vec::with_capacity(slots.len());
    for (i, slot) in slots.iter_mut().enumerate() {
        let values = arr.get(&(i as u32), 0).map_err(CounterError::Map)?;
        *slot = values.iter().sum();
        per_cpu.push(values.iter().copied().collect());
    }
    use sensor_common::counters::Counter;
    slots[Counter::XdpDropped as usize] =
        slots[Counter::DropBlockedV4 as usize] + slots[Counter::DropBlockedV6 as usize];
    Ok(CounterSnapshot { slots, per_cpu })
}

/// Reads the counters pinned by a running sensor at `path`.
pub fn read_pinned_counters(path: &std::path::Path) -> Result<CounterSnapshot, CounterError> {
    let data = MapData::from_pin(path).map_err(CounterError::Map)?;
    read_counters(&Map::PerCpuArray(data))
}
