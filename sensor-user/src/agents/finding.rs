//! What an agent reports: a [`Finding`] with its confidence, severity, ATT&CK technique,
//! the entities involved, the evidence and one sentence a person can read. Findings leave
//! the agents through a [`FindingQueue`]: bounded, preallocated, never blocking; what does
//! not fit is counted.

use std::{
    net::IpAddr,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicU64, Ordering::Relaxed},
        mpsc::{Receiver, SyncSender, TrySendError, sync_channel},
    },
};

/// How bad it would be if the finding is true.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth a look.
    Low,
    /// Likely malicious activity.
    Medium,
    /// Active attack.
    High,
    /// Compromise or sensor tampering.
    Critical,
}

impl Severity {
    /// The lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Low => "low",
            Self::Medium => "medium",
            Self::High => "high",
            Self::Critical => "critical",
        }
    }

    /// Suricata-style severity number (1 = most severe).
    pub const fn number(self) -> u8 {
        match self {
            Self::Critical => 1,
            Self::High => 1,
            Self::Medium => 2,
            Self::Low => 3,
        }
    }
}

/// Who and what a finding is about. Unknown fields stay `None`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Entities {
    /// The acting address (scanner, attacker, beaconing host).
    pub src: Option<IpAddr>,
    /// The address acted on (victim, destination).
    pub dst: Option<IpAddr>,
    /// Destination port, when one port matters.
    pub port: Option<u16>,
    /// Host name or domain involved.
    pub host: Option<String>,
    /// Process id.
    pub pid: Option<u32>,
    /// Parent process id.
    pub ppid: Option<u32>,
    /// User (name or uid).
    pub user: Option<String>,
    /// Executable path.
    pub exe: Option<String>,
}

/// Why an agent believes it: the numbers behind the finding.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Evidence {
    /// Flows or events that contributed (a bounded sample).
    pub flow_ids: Vec<u64>,
    /// The measured value (count, rate, ratio...).
    pub observed: f64,
    /// The threshold it crossed.
    pub threshold: f64,
    /// Name of the measure ("distinct_ports", "syn_rate", ...).
    pub measure: &'static str,
    /// Window the measure covers, seconds.
    pub window_s: f64,
    /// Events counted.
    pub count: u64,
}

/// One detection by one agent.
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// Agent name (registry name).
    pub agent: &'static str,
    /// What was found, snake_case ("syn_scan", "udp_flood", "reverse_shell", ...).
    pub kind: &'static str,
    /// Time of the event that completed the finding.
    pub ts_ns: u64,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// Severity.
    pub severity: Severity,
    /// MITRE ATT&CK technique id ("T1046").
    pub technique: &'static str,
    /// Entities involved.
    pub entities: Entities,
    /// Evidence.
    pub evidence: Evidence,
    /// One sentence a person can read.
    pub reason: String,
}

impl Finding {
    /// A finding with `confidence` clamped to [0, 1].
    #[allow(clippy::too_many_arguments, reason = "every field is required; a builder would hide which")]
    pub fn new(
        agent: &'static str,
        kind: &'static str,
        ts_ns: u64,
        confidence: f32,
        severity: Severity,
        technique: &'static str,
        entities: Entities,
        evidence: Evidence,
        reason: String,
    ) -> Self {
        let confidence = if confidence.is_nan() { 0.0 } else { confidence.clamp(0.0, 1.0) };
        Self { agent, kind, ts_ns, confidence, severity, technique, entities, evidence, reason }
    }
}

/// Counters of a finding queue.
#[derive(Debug, Default)]
pub struct QueueStats {
    /// Findings accepted.
    pub sent: AtomicU64,
    /// Findings dropped because the queue was full.
    pub overflow: AtomicU64,
    /// Copies for the tap dropped because the tap was full.
    pub tap_overflow: AtomicU64,
}

/// The sending side of the bounded finding queue; cloned into every shard. A tap (the
/// governor's queue) can be set once: every accepted finding is also copied to it, from the
/// thread that raised it, so containment does not wait for the eve writer.
#[derive(Clone, Debug)]
pub struct FindingQueue {
    tx: SyncSender<Finding>,
    stats: Arc<QueueStats>,
    tap: Arc<OnceLock<SyncSender<Finding>>>,
}

impl FindingQueue {
    /// A queue holding at most `capacity` findings, and its receiving end.
    pub fn bounded(capacity: usize) -> (Self, Receiver<Finding>) {
        let (tx, rx) = sync_channel(capacity.max(1));
        (Self { tx, stats: Arc::new(QueueStats::default()), tap: Arc::new(OnceLock::new()) }, rx)
    }

    /// Sets the tap (once; later calls are ignored and return false).
    pub fn set_tap(&self, tap: SyncSender<Finding>) -> bool {
        self.tap.set(tap).is_ok()
    }

    /// Queues `f`; when the queue is full it is dropped and counted.
    pub fn push(&self, f: Finding) {
        if let Some(tap) = self.tap.get() {
            if tap.try_send(f.clone()).is_err() {
                self.stats.tap_overflow.fetch_add(1, Relaxed);
            }
        }
        match self.tx.try_send(f) {
            Ok(()) => {
                self.stats.sent.fetch_add(1, Relaxed);
            }
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.stats.overflow.fetch_add(1, Relaxed);
            }
        }
    }

    /// The queue's counters.
    pub fn stats(&self) -> &Arc<QueueStats> {
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(n: u64) -> Finding {
        Finding::new("t", "k", n, 2.0, Severity::Low, "T0000", Entities::default(), Evidence::default(), String::new())
    }

    #[test]
    fn confidence_is_clamped_to_the_unit_interval() {
        assert_eq!(f(0).confidence, 1.0);
        let nan = Finding::new(
            "t",
            "k",
            0,
            f32::NAN,
            Severity::Low,
            "",
            Entities::default(),
            Evidence::default(),
            String::new(),
        );
        assert_eq!(nan.confidence, 0.0);
    }

    #[test]
    fn a_full_queue_drops_and_counts_instead_of_blocking() {
        let (q, rx) = FindingQueue::bounded(2);
        for i in 0..5 {
            q.push(f(i));
        }
        assert_eq!(q.stats().sent.load(Relaxed), 2);
        assert_eq!(q.stats().overflow.load(Relaxed), 3);
        let got: Vec<u64> = rx.try_iter().map(|f| f.ts_ns).collect();
        assert_eq!(got, vec![0, 1]);
    }
}
