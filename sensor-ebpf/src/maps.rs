//! Every map of the object. The statics' names are the names in `sensor_common::maps`.

use aya_ebpf::{
    macros::map,
    maps::{Array, HashMap, LpmTrie, LruHashMap, PerCpuArray, RingBuf},
};
use sensor_common::{
    block::BlockEntry,
    config::SensorConfig,
    counters::COUNTER_SLOTS,
    flow::{FlowKey, FlowState},
    maps::{BLOCK_MAX_ENTRIES, FLOWS_MAX_ENTRIES, NET_RING_BYTES, PATH_KEY_LEN, PROC_RING_BYTES, WATCHED_PATHS_MAX},
};

/// IPv4 source block list (pinned by name: survives restarts).
#[map]
pub static BLOCK_V4: LpmTrie<[u8; 4], BlockEntry> = LpmTrie::pinned(BLOCK_MAX_ENTRIES, 0);

/// IPv6 source block list (pinned by name).
#[map]
pub static BLOCK_V6: LpmTrie<[u8; 16], BlockEntry> = LpmTrie::pinned(BLOCK_MAX_ENTRIES, 0);

/// Per-CPU counters, indexed by `sensor_common::counters::Counter`.
#[map]
pub static COUNTERS: PerCpuArray<u64> = PerCpuArray::with_max_entries(COUNTER_SLOTS, 0);

/// Flow state keyed by canonical flow key.
#[map]
pub static FLOWS: LruHashMap<FlowKey, FlowState> = LruHashMap::with_max_entries(FLOWS_MAX_ENTRIES, 0);

/// Run-time configuration, one slot.
#[map]
pub static CONFIG: Array<SensorConfig> = Array::with_max_entries(1, 0);

/// Watched path prefixes for openat.
#[map]
pub static WATCHED_PATHS: LpmTrie<[u8; PATH_KEY_LEN], u32> = LpmTrie::with_max_entries(WATCHED_PATHS_MAX, 0);

/// accept()/accept4() sockaddr pointer between entry and exit, keyed by pid_tgid.
#[map]
pub static ACCEPT_ARGS: HashMap<u64, u64> = HashMap::with_max_entries(4096, 0);

/// Network events.
#[map]
pub static NET_EVENTS: RingBuf = RingBuf::with_byte_size(NET_RING_BYTES, 0);

/// Process and syscall events.
#[map]
pub static PROC_EVENTS: RingBuf = RingBuf::with_byte_size(PROC_RING_BYTES, 0);

/// Per-CPU working memory for the packet programs (keeps the BPF stack small).
#[map]
pub static SCRATCH: PerCpuArray<Scratch> = PerCpuArray::with_max_entries(1, 0);

/// What the packet programs keep in [`SCRATCH`].
#[derive(Clone, Copy, Default)]
pub struct Scratch {
    /// The packet being parsed.
    pub pkt: crate::parse::Packet,
    /// Its canonical flow key.
    pub ckey: FlowKey,
    /// A fresh flow entry to insert.
    pub fresh: FlowState,
}

/// This CPU's scratch memory.
#[inline(always)]
pub fn scratch() -> Option<&'static mut Scratch> {
    let p = SCRATCH.get_ptr_mut(0)?;
    // SAFETY: the per-CPU slot is valid for the program's run and used by one program at a
    // time on this CPU (XDP and TC do not nest on one CPU's scratch within one run).
    Some(unsafe { &mut *p })
}

/// The current configuration (all zero until user space writes it).
#[inline(always)]
pub fn config() -> SensorConfig {
    match CONFIG.get(0) {
        Some(c) => *c,
        None => SensorConfig::default(),
    }
}
