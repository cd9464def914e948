//! Indices of the per-CPU `COUNTERS` array. User space sums the CPUs.

/// A counter slot. The discriminant is the array index.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Frames XDP passed.
    XdpPassed = 0,
    /// Frames XDP dropped (all reasons): not written by the kernel, derived by user space as
    /// `DropBlockedV4 + DropBlockedV6` to keep an update off the drop path.
    XdpDropped = 1,
    /// Dropped because the IPv4 source is in `BLOCK_V4`.
    DropBlockedV4 = 2,
    /// Dropped because the IPv6 source is in `BLOCK_V6`.
    DropBlockedV6 = 3,
    /// Frames whose source matched an expired block entry and therefore passed.
    BlockExpired = 4,
    /// Frame shorter than an Ethernet header.
    ParseEth = 5,
    /// Truncated 802.1Q/802.1ad tag, or more tags than the parser walks.
    ParseVlan = 6,
    /// Truncated or invalid IPv4 header.
    ParseIpv4 = 7,
    /// Truncated IPv6 header.
    ParseIpv6 = 8,
    /// Truncated IPv6 extension header, or a chain longer than the bounded walk.
    ParseIpv6Ext = 9,
    /// Truncated TCP/UDP/ICMP header.
    ParseL4 = 10,
    /// Frames that are not IP (ARP, LLDP, ...): passed, not parsed further.
    NonIp = 11,
    /// Non-first IP fragments (no L4 header; accounted to the 3-tuple flow).
    Fragments = 12,
    /// `bpf_ringbuf_reserve` failed for a flow event.
    RingFailFlow = 13,
    /// `bpf_ringbuf_reserve` failed for a payload sample.
    RingFailSample = 14,
    /// `bpf_ringbuf_reserve` failed for a process/syscall event.
    RingFailProc = 15,
    /// Flow start events written.
    FlowsStarted = 16,
    /// Flow end events written.
    FlowsEnded = 17,
    /// Payload samples written.
    Samples = 18,
    /// Packets seen by TC egress.
    TcPackets = 19,
    /// Process/syscall events written.
    ProcEvents = 20,
    /// TC egress packets that failed to parse.
    TcParseErrors = 21,
    /// Flow-state inserts that failed (map full and not evictable).
    FlowInsertFail = 22,
    /// Frames whose source matched a watch-mode entry (counted, passed).
    WatchHits = 23,
    /// Drops for block reason code 0; code `r` is at `DropReasonBase + r`.
    DropReasonBase = 32,
}

/// Number of slots in the `COUNTERS` array.
pub const COUNTER_SLOTS: u32 = 48;

/// Every named counter with its display name, in index order (the reason range excluded).
pub const NAMED: [(Counter, &str); 24] = [
    (Counter::XdpPassed, "xdp_passed"),
    (Counter::XdpDropped, "xdp_dropped"),
    (Counter::DropBlockedV4, "drop_blocked_v4"),
    (Counter::DropBlockedV6, "drop_blocked_v6"),
    (Counter::BlockExpired, "block_expired_pass"),
    (Counter::ParseEth, "parse_error_eth"),
    (Counter::ParseVlan, "parse_error_vlan"),
    (Counter::ParseIpv4, "parse_error_ipv4"),
    (Counter::ParseIpv6, "parse_error_ipv6"),
    (Counter::ParseIpv6Ext, "parse_error_ipv6_ext"),
    (Counter::ParseL4, "parse_error_l4"),
    (Counter::NonIp, "non_ip"),
    (Counter::Fragments, "fragments"),
    (Counter::RingFailFlow, "ring_fail_flow"),
    (Counter::RingFailSample, "ring_fail_sample"),
    (Counter::RingFailProc, "ring_fail_proc"),
    (Counter::FlowsStarted, "flows_started"),
    (Counter::FlowsEnded, "flows_ended"),
    (Counter::Samples, "payload_samples"),
    (Counter::TcPackets, "tc_packets"),
    (Counter::ProcEvents, "proc_events"),
    (Counter::TcParseErrors, "tc_parse_errors"),
    (Counter::FlowInsertFail, "flow_insert_fail"),
    (Counter::WatchHits, "watch_hits"),
];

const _: () = assert!(Counter::DropReasonBase as u32 + crate::block::BLOCK_REASONS as u32 <= COUNTER_SLOTS);

/// The counter slot for drops with block reason `reason` (clamped to the last code).
#[inline(always)]
pub const fn drop_reason_slot(reason: u16) -> u32 {
    let r = if reason >= crate::block::BLOCK_REASONS { crate::block::BLOCK_REASONS - 1 } else { reason };
    Counter::DropReasonBase as u32 + r as u32
}
