//! Detection engine: takes the compiled rules and decides, per packet and per app-layer
//! transaction, which rules alert, with Suricata 7's semantics for headers, flow options,
//! flowbits, thresholds and `pass`.
//!
//! [`Ruleset`] is built once ([`Ruleset::build`], `build.rs`: ordering, grouping, prefilters)
//! and shared read-only by the workers. Each worker owns a [`DetectCtx`] (candidate lists, dedup
//! stamps, byte_extract slots, inspection scratch, threshold tables) and each flow a
//! [`FlowDetect`] (flowbits, pass flag, per-tx alert memory). The per-packet / per-tx loops
//! (`detect.rs`) allocate nothing once warmed up.

mod build;
mod detect;
mod flowbits;
mod header;
mod hyperscan;
mod prefilter;
mod state;
mod threshold;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod verdict_tests;

use std::net::IpAddr;

use super::inspect::{CompiledBuffer, InspectError};
use super::ir::{Action, ActionOrder, AppLayer, Buffer, Signature};

pub use prefilter::Mpm;
pub use state::{DetectCtx, DetectStats, FlowDetect};
pub use threshold::DEFAULT_THRESHOLD_CAPACITY;

/// A rule's position in the [`Ruleset`] (Suricata's internal order: lower ids are inspected and
/// reported first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SigId(pub u32);

/// One alert raised by [`Ruleset::detect_packet`] or [`Ruleset::detect_tx`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alert {
    /// The rule.
    pub sig: SigId,
    /// The transaction, for app-layer rules.
    pub tx_id: Option<u64>,
    /// The action taken: the rule's, or a `rate_filter`'s new action.
    pub action: Action,
}

/// How a rule set is built: the prefilters' matcher and the action order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BuildOptions {
    /// The prefilters' multi-pattern matcher.
    pub mpm: Mpm,
    /// Suricata's `action-order`.
    pub action_order: ActionOrder,
}

impl From<Mpm> for BuildOptions {
    fn from(mpm: Mpm) -> Self {
        BuildOptions { mpm, ..BuildOptions::default() }
    }
}

/// TCP header fields the rules test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpView {
    /// Flags byte (FIN=0x01 ... CWR=0x80).
    pub flags: u8,
    /// Sequence number.
    pub seq: u32,
    /// Acknowledgement number.
    pub ack: u32,
    /// Window (unscaled).
    pub window: u16,
}

/// ICMP / ICMPv6 header fields the rules test.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IcmpView {
    /// Type.
    pub icmp_type: u8,
    /// Code.
    pub code: u8,
    /// Identifier (echo messages; 0 otherwise).
    pub id: u16,
    /// Sequence number (echo messages; 0 otherwise).
    pub seq: u16,
}

/// What the engine needs to know about one packet.
#[derive(Clone, Copy, Debug)]
pub struct PacketView<'a> {
    /// Capture time, nanoseconds (threshold windows use it).
    pub ts_ns: u64,
    /// Source address as on the wire.
    pub src: IpAddr,
    /// Destination address as on the wire.
    pub dst: IpAddr,
    /// Source port (0 when not TCP/UDP).
    pub sport: u16,
    /// Destination port (0 when not TCP/UDP).
    pub dport: u16,
    /// IP protocol number (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).
    pub ip_proto: u8,
    /// IP TTL / hop limit.
    pub ttl: u8,
    /// TCP header, for TCP packets.
    pub tcp: Option<TcpView>,
    /// ICMP header, for ICMP/ICMPv6 packets.
    pub icmp: Option<IcmpView>,
    /// Payload (UDP/ICMP/IP payload, or the in-order TCP data).
    pub payload: &'a [u8],
    /// Direction within the flow: client -> server.
    pub to_server: bool,
    /// TCP: handshake seen (or picked up midstream with data both ways); UDP: packets seen both ways.
    pub established: bool,
    /// The flow's detected app protocol, if known.
    pub app: Option<AppLayer>,
    /// Rules on the app protocol alone (no buffers, e.g. `alert http any any -> any any`) see
    /// `app` yet: inline at once; passively on TCP once the peer acknowledged the data that
    /// revealed it (Suricata hands TCP data to the app layer when it is acknowledged).
    pub app_ready: bool,
    /// Bytes so far `[to_server, to_client]` (`stream_size`).
    pub flow_bytes: [u64; 2],
    /// False for packets not tracked in a flow (stateless).
    pub has_flow: bool,
}

/// Buffers of one app-layer transaction in one direction.
pub trait TxBuffers {
    /// The `idx`-th instance of buffer `b` (multi-buffers such as dns.query have several; others
    /// only idx 0), None when absent. `HttpHeader`/`FileData`/`HttpCookie`/`HttpContentType`/
    /// `HttpStart` are direction-specific: the caller's impl knows the direction. Request
    /// buffers should also be returned on the to-client side of a transaction (rules mixing
    /// request and response buffers are inspected there).
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]>;
}

/// One side of one app-layer transaction.
#[derive(Clone, Copy)]
pub struct TxView<'a> {
    /// Packet-level context (payload empty; `to_server` = the direction of this tx side).
    pub header: PacketView<'a>,
    /// The transaction's protocol.
    pub app: AppLayer,
    /// Transaction id within the flow.
    pub tx_id: u64,
    /// The buffers.
    pub bufs: &'a dyn TxBuffers,
}

/// Which side of a transaction an app-layer rule inspects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TxDir {
    /// Request side.
    ToServer,
    /// Response side.
    ToClient,
    /// Both sides (alerts at most once per side).
    Both,
}

/// A rule plus what the engine precomputed for it.
pub(crate) struct Rule {
    /// The rule.
    pub(crate) sig: Signature,
    /// Compiled buffers, parallel to `sig.buffers`.
    pub(crate) bufs: Vec<CompiledBuffer>,
    /// Inspected per transaction (has an app-layer buffer or `urilen`).
    pub(crate) is_app: bool,
    /// Transaction side (app rules only).
    pub(crate) tx_dir: TxDir,
    /// Has flowbit checks (`isset`/`isnotset`).
    pub(crate) fb_checks: bool,
    /// A `drop` or `pass` of this rule applies to the whole flow (IP-only and app-layer rules,
    /// Suricata's action scope); otherwise to the packet only.
    pub(crate) flow_scope: bool,
}

/// Rules that share a prefilter: one transport (packet rules) or app layer + side (tx rules).
#[derive(Default)]
pub(crate) struct Group {
    /// One prefilter per buffer that has fast patterns.
    pub(crate) prefilters: Vec<prefilter::Prefilter>,
    /// Rules inspected regardless of the prefilter (no usable fast pattern), sorted.
    pub(crate) always: Vec<u32>,
}

/// The compiled rule set, built once and shared read-only by all workers.
pub struct Ruleset {
    pub(crate) rules: Vec<Rule>,
    pub(crate) flowbit_words: usize,
    /// Packet groups: TCP, UDP, ICMP, other.
    pub(crate) packet_groups: [Group; 4],
    /// Tx groups: `app_index * 2 + side` (side 0 = to server, 1 = to client).
    pub(crate) tx_groups: [Group; 8],
    pub(crate) max_vars: usize,
    pub(crate) max_captures: usize,
    pub(crate) has_thresholds: bool,
    pub(crate) stats: PrefilterStats,
}

impl std::fmt::Debug for Ruleset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ruleset").field("rules", &self.rules.len()).field("stats", &self.stats).finish()
    }
}

/// Prefilter counts of one buffer within one group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferPrefilterStats {
    /// Group name (`tcp`, `udp`, `icmp`, `other`, or `<app>-toserver` / `<app>-toclient`).
    pub group: &'static str,
    /// The buffer.
    pub buffer: Buffer,
    /// Distinct (case-folded) patterns in the automaton.
    pub patterns: usize,
    /// Rules reached through it.
    pub rules: usize,
    /// The matcher built for it.
    pub mpm: Mpm,
    /// The matcher's size in bytes.
    pub bytes: usize,
    /// Why Hyperscan was refused for this buffer (it then runs on aho-corasick).
    pub fallback: Option<String>,
}

/// What the prefilters hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefilterStats {
    /// Per group and buffer.
    pub buffers: Vec<BufferPrefilterStats>,
    /// Rules without a usable fast pattern (inspected on every packet / tx of their groups).
    pub no_fast_pattern: usize,
    /// Packet rules.
    pub packet_rules: usize,
    /// App-layer (per transaction) rules.
    pub app_rules: usize,
}

/// Outcome of [`Ruleset::build`].
#[derive(Debug, Default)]
pub struct BuildReport {
    /// Rules left out: (index into the `sigs` given to `build`, why).
    pub failed: Vec<(usize, InspectError)>,
}

impl Ruleset {
    /// Rules in the set.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Is the set empty?
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The rule behind an id (ids come from this set's alerts; panics on a foreign id).
    pub fn signature(&self, id: SigId) -> &Signature {
        &self.rules[id.0 as usize].sig
    }

    /// Patterns per buffer and rules without a fast pattern.
    pub fn prefilter_stats(&self) -> PrefilterStats {
        self.stats.clone()
    }
}
