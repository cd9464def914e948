//! Map names, shared by the kernel object (the statics' names) and user space (lookups and
//! pin paths). A rename on one side without the other fails the ELF check test.

/// IPv4 source block list: LPM trie `Key<[u8; 4]>` -> [`crate::block::BlockEntry`]. Pinned by name.
pub const BLOCK_V4: &str = "BLOCK_V4";
/// IPv6 source block list: LPM trie `Key<[u8; 16]>` -> [`crate::block::BlockEntry`]. Pinned by name.
pub const BLOCK_V6: &str = "BLOCK_V6";
/// Per-CPU counters indexed by [`crate::counters::Counter`].
pub const COUNTERS: &str = "COUNTERS";
/// Flow state: LRU hash [`crate::flow::FlowKey`] (canonical order) -> [`crate::flow::FlowState`].
pub const FLOWS: &str = "FLOWS";
/// One-slot array holding [`crate::config::SensorConfig`], written by user space before attach.
pub const CONFIG: &str = "CONFIG";
/// LPM trie of watched path prefixes for openat: `Key<[u8; PATH_KEY_LEN]>` -> `u32` (tag).
pub const WATCHED_PATHS: &str = "WATCHED_PATHS";
/// Ring buffer of network events (flow start/end, payload samples).
pub const NET_EVENTS: &str = "NET_EVENTS";
/// Ring buffer of process and syscall events.
pub const PROC_EVENTS: &str = "PROC_EVENTS";
/// accept()/accept4() arguments kept between syscall entry and exit, keyed by pid_tgid.
pub const ACCEPT_ARGS: &str = "ACCEPT_ARGS";

/// Maps pinned by name under the pin directory so that blocks survive a restart.
pub const PERSISTENT: [&str; 2] = [BLOCK_V4, BLOCK_V6];

/// Bytes of path compared against watched prefixes (the LPM key data length).
pub const PATH_KEY_LEN: usize = 64;
/// Maximum number of block entries per address family.
pub const BLOCK_MAX_ENTRIES: u32 = 65_536;
/// Default number of flows tracked in the kernel before the LRU evicts.
pub const FLOWS_MAX_ENTRIES: u32 = 65_536;
/// Maximum number of watched path prefixes.
pub const WATCHED_PATHS_MAX: u32 = 64;
/// Default size in bytes of the network event ring (a power of two, a multiple of the page size).
pub const NET_RING_BYTES: u32 = 8 << 20;
/// Default size in bytes of the process event ring.
pub const PROC_RING_BYTES: u32 = 4 << 20;
