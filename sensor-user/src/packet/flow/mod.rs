//! Bidirectional flows: the per-flow record (counters, TCP state, direction, the stream
//! reassemblers and the application-layer state) and the bounded [`FlowTable`] that owns them.
//!
//! A flow is keyed by the canonical 5-tuple + outer VLAN (`sensor_common::flow::FlowKey`, the
//! same key the kernel programs use). The client is the sender of the first packet, except
//! that a TCP flow first seen on a SYN-ACK is turned around (its receiver is the client).
//! Timeouts run on capture time only.

mod table;
mod tcp;

use sensor_common::flow::{FlowKey, proto};

pub use table::{Expired, FlowSlot, FlowTable, TableStats};
pub use tcp::TcpState;

use super::{Direction, app::AppSlot, stream::Stream};

/// Idle timeouts (seconds) per protocol and flow state, Suricata's defaults.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    /// Before the flow has seen both directions (TCP: before the handshake completes).
    pub new_s: u64,
    /// Established.
    pub established_s: u64,
    /// After FIN from both sides or RST.
    pub closed_s: u64,
}

/// Flow-table limits and timeouts.
#[derive(Clone, Copy, Debug)]
pub struct FlowConfig {
    /// Most flows tracked at once; a new flow beyond this evicts the one closest to its
    /// timeout (counted in `TableStats::evicted`).
    pub max_flows: usize,
    /// TCP idle timeouts.
    pub tcp: Timeouts,
    /// UDP idle timeouts.
    pub udp: Timeouts,
    /// Other protocols (ICMP, GRE, ...).
    pub other: Timeouts,
    /// A flow older than this is logged (reason `active_timeout`) and its counters restart.
    pub active_timeout_s: u64,
    /// The VLAN id is part of the flow key (Suricata's `vlan.use-for-tracking`); off when the
    /// two directions of a connection are tagged differently.
    pub vlan_tracking: bool,
}

impl Default for FlowConfig {
    fn default() -> Self {
        Self {
            max_flows: 1 << 20,
            tcp: Timeouts { new_s: 60, established_s: 600, closed_s: 60 },
            udp: Timeouts { new_s: 30, established_s: 300, closed_s: 0 },
            other: Timeouts { new_s: 30, established_s: 300, closed_s: 0 },
            active_timeout_s: 3600,
            vlan_tracking: true,
        }
    }
}

impl FlowConfig {
    fn timeouts(&self, ip_proto: u8) -> &Timeouts {
        match ip_proto {
            proto::TCP => &self.tcp,
            proto::UDP => &self.udp,
            _ => &self.other,
        }
    }
}

/// Coarse flow state, as Suricata logs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum FlowState {
    /// Only one direction seen (TCP: handshake not complete).
    #[default]
    New,
    /// Both directions seen (TCP: handshake complete or midstream data both ways).
    Established,
    /// TCP FIN both ways or RST.
    Closed,
}

impl FlowState {
    /// Suricata's name.
    pub fn name(self) -> &'static str {
        match self {
            FlowState::New => "new",
            FlowState::Established => "established",
            FlowState::Closed => "closed",
        }
    }
}

/// Why a flow record is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndReason {
    /// Idle timeout in capture time.
    Timeout,
    /// Logged at the active timeout; the flow goes on.
    ActiveTimeout,
    /// Evicted because the table was full.
    Forced,
    /// End of input.
    Shutdown,
    /// The kernel reported the flow's end (live mode).
    Kernel,
}

impl EndReason {
    /// Name in the `flow.reason` field.
    pub fn name(self) -> &'static str {
        match self {
            EndReason::Timeout => "timeout",
            EndReason::ActiveTimeout => "active_timeout",
            EndReason::Forced => "forced",
            EndReason::Shutdown => "shutdown",
            EndReason::Kernel => "kernel",
        }
    }
}

/// One bidirectional flow.
#[derive(Debug)]
pub struct Flow {
    /// Deterministic id (order of creation), unique within one run.
    pub id: u64,
    /// The key in client-to-server order.
    pub key: FlowKey,
    /// Which canonical side (`FlowKey::side`) the client is.
    pub client_side: u8,
    /// First and last packet, capture time (ns).
    pub first_ns: u64,
    /// Last packet.
    pub last_ns: u64,
    /// Start of the current active-timeout period.
    pub period_ns: u64,
    /// Packets to server, to client.
    pub pkts: [u64; 2],
    /// Bytes (whole frames) to server, to client.
    pub bytes: [u64; 2],
    /// Union of TCP flags to server, to client.
    pub tcp_flags: [u8; 2],
    /// TCP connection state.
    pub tcp: TcpState,
    /// Coarse state.
    pub state: FlowState,
    /// ICMP type/code of the first packet each way.
    pub icmp: [Option<(u8, u8)>; 2],
    /// TCP reassembly per direction (boxed: only TCP flows carry it).
    pub streams: Option<Box<[Stream; 2]>>,
    /// Application-layer detection and parser state.
    pub app: AppSlot,
    /// An alert was raised on this flow.
    pub alerted: bool,
    /// Signature-engine state (flowbits, transactions inspected), created on the flow's
    /// first packet when a rule set runs.
    pub sig: Option<Box<crate::rules::detector::SigFlow>>,
}

impl Flow {
    /// A new flow whose client-to-server key is `key`.
    pub fn new(id: u64, key: FlowKey, client_side: u8, ts_ns: u64) -> Self {
        Self {
            id,
            key,
            client_side,
            first_ns: ts_ns,
            last_ns: ts_ns,
            period_ns: ts_ns,
            pkts: [0; 2],
            bytes: [0; 2],
            tcp_flags: [0; 2],
            tcp: TcpState::None,
            state: FlowState::New,
            icmp: [None; 2],
            streams: if key.proto == proto::TCP { Some(Box::default()) } else { None },
            app: AppSlot::default(),
            alerted: false,
            sig: None,
        }
    }

    /// The idle deadline (capture ns) given the current state.
    pub fn idle_deadline(&self, cfg: &FlowConfig) -> u64 {
        let t = cfg.timeouts(self.key.proto);
        let secs = match self.state {
            FlowState::New => t.new_s,
            FlowState::Established => t.established_s,
            FlowState::Closed => t.closed_s,
        };
        self.last_ns.saturating_add(secs * 1_000_000_000)
    }

    /// The active-timeout deadline.
    pub fn active_deadline(&self, cfg: &FlowConfig) -> u64 {
        self.period_ns.saturating_add(cfg.active_timeout_s * 1_000_000_000)
    }

    /// Accounts one packet in direction `dir`.
    pub fn account(&mut self, dir: Direction, ts_ns: u64, wire_len: u32, tcp_flags: Option<u8>) {
        let d = dir.index();
        self.pkts[d] += 1;
        self.bytes[d] += u64::from(wire_len);
        self.last_ns = self.last_ns.max(ts_ns);
        match tcp_flags {
            Some(f) => {
                self.tcp_flags[d] |= f;
                self.tcp = self.tcp.next(dir, f);
                self.state = match self.tcp {
                    TcpState::Closed => FlowState::Closed,
                    TcpState::Established | TcpState::FinWait | TcpState::CloseWait => FlowState::Established,
                    _ if self.pkts[0] > 0 && self.pkts[1] > 0 && self.tcp == TcpState::Midstream => {
                        FlowState::Established
                    }
                    _ => self.state,
                };
            }
            None => {
                if self.pkts[0] > 0 && self.pkts[1] > 0 {
                    self.state = FlowState::Established;
                }
            }
        }
    }
}
