//! `sensor run --metrics ADDR`: what a scrape of /metrics reads, gathered from the parts
//! of the running sensor (ring readers, pinned kernel counters, the packet pipeline's
//! gauges, the agents, the governor, the lake). docs/METRICS.md lists the families.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering::Relaxed},
    },
};

use sensor_common::{
    block::{BLOCK_REASONS, BlockReason},
    counters::{Counter, drop_reason_slot},
};
use sensor_user::{
    agents::runtime::RuntimeStats,
    api::handler::SharedGovernor,
    fleet::FleetStats,
    kernel::{counters::read_pinned_counters, ring::ReaderStats},
    lake::LakeStats,
    metrics::Exposition,
};

/// Gauges the packet thread updates when idle (the flow table lives on that thread).
#[derive(Debug, Default)]
pub struct PipelineGauges {
    /// Flows in the user-space flow table.
    pub flows_active: AtomicU64,
    /// Flows created.
    pub flows_created: AtomicU64,
    /// Flows evicted because the table was full.
    pub flows_evicted: AtomicU64,
    /// Flows ended by timeout.
    pub flows_timed_out: AtomicU64,
    /// Packets of ended flows, as the kernel counted them.
    pub flow_packets: AtomicU64,
    /// Bytes of ended flows, as the kernel counted them.
    pub flow_bytes: AtomicU64,
}

/// Everything a scrape reads.
pub struct Sources {
    /// The pinned COUNTERS map.
    pub counters: PathBuf,
    /// (ring name, reader counters).
    pub rings: Vec<(&'static str, Arc<ReaderStats>)>,
    /// The packet thread's gauges.
    pub pipeline: Arc<PipelineGauges>,
    /// The agents' counters.
    pub agents: Option<Arc<RuntimeStats>>,
    /// The governor.
    pub governor: Option<SharedGovernor>,
    /// The lake's counters.
    pub lake: Option<Arc<LakeStats>>,
    /// The fleet link's counters.
    pub fleet: Option<Arc<FleetStats>>,
}

/// Ring losses are counted per CPU in the kernel: (ring, counter).
const RING_LOSS: [(&str, Counter); 3] =
    [("flow", Counter::RingFailFlow), ("sample", Counter::RingFailSample), ("proc", Counter::RingFailProc)];

impl Sources {
    /// The exposition text.
    pub fn collect(&self) -> String {
        let mut e = Exposition::default();
        e.single("sensor_up", "gauge", "1 while the sensor runs.", 1.0);
        e.family("sensor_ring_events_total", "counter", "Events read from each ring buffer by user space.");
        for (name, st) in &self.rings {
            e.sample("sensor_ring_events_total", &[("ring", name)], st.events.load(Relaxed) as f64);
        }
        e.family("sensor_ring_decode_errors_total", "counter", "Ring records that did not decode.");
        for (name, st) in &self.rings {
            e.sample("sensor_ring_decode_errors_total", &[("ring", name)], st.decode_error_total() as f64);
        }
        match read_pinned_counters(&self.counters) {
            Ok(c) => {
                e.single("sensor_kernel_counters_readable", "gauge", "1 when the kernel counters could be read.", 1.0);
                e.family(
                    "sensor_ring_lost_events_total",
                    "counter",
                    "Events the kernel could not reserve in a ring buffer (ring full), per event kind and CPU.",
                );
                for (kind, counter) in RING_LOSS {
                    for (cpu, v) in c.per_cpu.get(counter as usize).into_iter().flatten().enumerate() {
                        let cpu = cpu.to_string();
                        e.sample("sensor_ring_lost_events_total", &[("kind", kind), ("cpu", &cpu)], *v as f64);
                    }
                }
                e.family("sensor_xdp_packets_total", "counter", "Frames seen by XDP ingress, by verdict.");
                e.sample("sensor_xdp_packets_total", &[("verdict", "pass")], c.get(Counter::XdpPassed) as f64);
                e.sample("sensor_xdp_packets_total", &[("verdict", "drop")], c.get(Counter::XdpDropped) as f64);
                e.single(
                    "sensor_tc_packets_total",
                    "counter",
                    "Frames seen by TC egress.",
                    c.get(Counter::TcPackets) as f64,
                );
                e.family("sensor_xdp_drops_total", "counter", "Frames dropped by XDP, by the block entry's reason.");
                for r in 0..BLOCK_REASONS {
                    let name =
                        BlockReason::try_from(r).map(|r| r.name().to_owned()).unwrap_or_else(|c| format!("code_{c}"));
                    let v = c.slots.get(drop_reason_slot(r) as usize).copied().unwrap_or(0);
                    e.sample("sensor_xdp_drops_total", &[("reason", &name)], v as f64);
                }
                e.family("sensor_parse_errors_total", "counter", "Frames the kernel parser rejected, by layer.");
                for (layer, counter) in [
                    ("eth", Counter::ParseEth),
                    ("vlan", Counter::ParseVlan),
                    ("ipv4", Counter::ParseIpv4),
                    ("ipv6", Counter::ParseIpv6),
                    ("ipv6_ext", Counter::ParseIpv6Ext),
                    ("l4", Counter::ParseL4),
                ] {
                    e.sample("sensor_parse_errors_total", &[("layer", layer)], c.get(counter) as f64);
                }
                e.single(
                    "sensor_kernel_flow_insert_failures_total",
                    "counter",
                    "Flows the kernel's flow LRU could not take.",
                    c.get(Counter::FlowInsertFail) as f64,
                );
            }
            Err(_) => {
                e.single("sensor_kernel_counters_readable", "gauge", "1 when the kernel counters could be read.", 0.0);
            }
        }
        let p = &self.pipeline;
        e.single(
            "sensor_flow_packets_total",
            "counter",
            "Packets of ended flows (kernel flow accounting).",
            p.flow_packets.load(Relaxed) as f64,
        );
        e.single(
            "sensor_flow_bytes_total",
            "counter",
            "Bytes of ended flows (kernel flow accounting).",
            p.flow_bytes.load(Relaxed) as f64,
        );
        e.single(
            "sensor_flow_table_flows",
            "gauge",
            "Flows in the user-space flow table.",
            p.flows_active.load(Relaxed) as f64,
        );
        e.single(
            "sensor_flow_table_created_total",
            "counter",
            "Flows created in the user-space flow table.",
            p.flows_created.load(Relaxed) as f64,
        );
        e.single(
            "sensor_flow_table_evictions_total",
            "counter",
            "Flows evicted because the table was full.",
            p.flows_evicted.load(Relaxed) as f64,
        );
        e.single(
            "sensor_flow_table_timeouts_total",
            "counter",
            "Flows ended by timeout.",
            p.flows_timed_out.load(Relaxed) as f64,
        );
        if let Some(st) = &self.agents {
            let names = &st.names;
            e.single(
                "sensor_agent_events_total",
                "counter",
                "Events given to the agents.",
                st.events.load(Relaxed) as f64,
            );
            e.single(
                "sensor_agent_events_dropped_total",
                "counter",
                "Events dropped because an agent shard's queue was full.",
                st.shard_dropped.load(Relaxed) as f64,
            );
            e.family(
                "sensor_agent_latency_seconds",
                "histogram",
                "Time an agent spends on one event (one event in 64 timed).",
            );
            for (name, h) in names.iter().zip(&st.latency) {
                e.histogram("sensor_agent_latency_seconds", &[("agent", name)], h);
            }
            e.family("sensor_findings_total", "counter", "Findings written, by agent.");
            for (name, c) in names.iter().zip(&st.findings) {
                e.sample("sensor_findings_total", &[("agent", name)], c.load(Relaxed) as f64);
            }
            e.sample("sensor_findings_total", &[("agent", "signature")], st.findings_other.load(Relaxed) as f64);
        }
        if let Some(g) = &self.governor {
            if let Ok(g) = g.lock() {
                e.single(
                    "sensor_incidents",
                    "gauge",
                    "Incidents held by the correlator.",
                    g.incidents().count() as f64,
                );
                e.single("sensor_decisions_total", "counter", "Governance decisions made.", g.stats.decisions as f64);
                e.single(
                    "sensor_actions_applied_total",
                    "counter",
                    "Containment actions carried out.",
                    g.stats.applied as f64,
                );
                e.single("sensor_blocks_active", "gauge", "Blocks in force (XDP).", g.blocks().count() as f64);
                e.single(
                    "sensor_approvals_pending",
                    "gauge",
                    "Actions waiting for a person's approval.",
                    g.approvals().count() as f64,
                );
                e.single(
                    "sensor_loss_share",
                    "gauge",
                    "Share of events lost over the policy's loss window.",
                    g.loss_share(),
                );
            }
        }
        if let Some(l) = &self.lake {
            let g = |c: &AtomicU64| c.load(Relaxed) as f64;
            e.single("sensor_lake_rows_written_total", "counter", "Rows committed to the lake.", g(&l.rows_written));
            e.single("sensor_lake_files_written_total", "counter", "Parquet files committed.", g(&l.files_written));
            e.single("sensor_lake_bytes_written_total", "counter", "Parquet bytes committed.", g(&l.bytes_written));
            e.single(
                "sensor_lake_rows_dropped_total",
                "counter",
                "Rows the lake could not keep (queue full, or backlog over its bound while paused).",
                g(&l.rows_dropped),
            );
            e.single(
                "sensor_lake_write_errors_total",
                "counter",
                "Failed commits (disk full, read-only, permissions).",
                g(&l.write_errors),
            );
            e.single("sensor_lake_paused", "gauge", "1 while lake writes are paused by an error.", g(&l.paused));
            e.single("sensor_lake_pending_rows", "gauge", "Rows waiting for a commit.", g(&l.pending_rows));
            e.single(
                "sensor_lake_write_lag_seconds",
                "gauge",
                "Age of the oldest row not yet committed.",
                g(&l.lag_ms) / 1000.0,
            );
        }
        if let Some(f) = &self.fleet {
            let g = |c: &AtomicU64| c.load(Relaxed) as f64;
            e.single(
                "sensor_fleet_connected",
                "gauge",
                "1 while connected to the fleet's NATS JetStream server.",
                g(&f.connected),
            );
            e.single(
                "sensor_fleet_published_total",
                "counter",
                "Messages the fleet's server acknowledged.",
                g(&f.published),
            );
            e.single(
                "sensor_fleet_publish_errors_total",
                "counter",
                "Publish attempts that failed (retried).",
                g(&f.publish_errors),
            );
            e.single(
                "sensor_fleet_waiting",
                "gauge",
                "Messages waiting to be published (decisions in the file outbox).",
                g(&f.waiting),
            );
            e.single(
                "sensor_fleet_dropped_total",
                "counter",
                "Findings and incidents not published (too many waited).",
                g(&f.dropped),
            );
            e.single("sensor_fleet_received_total", "counter", "Messages received from other sensors.", g(&f.received));
            e.single(
                "sensor_fleet_offers_total",
                "counter",
                "Blocks offered by other sensors, handed to the governor.",
                g(&f.offers),
            );
        }
        e.finish()
    }
}
