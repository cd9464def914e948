//! What governance decided about one proposed action: the policy's verdict, the authority
//! matrix's answer, the outcome, the numbers behind it and the reasoning in words. Kept on
//! the incident, written to the audit log and shown by `sensor incidents show`.

use std::net::IpAddr;

use super::config::Action;
use crate::block::Cidr;

/// What the cost-weighted rule says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Contain without waiting for a person.
    Contain,
    /// Ask a person.
    Escalate,
    /// Watch only.
    Monitor,
}

impl Verdict {
    /// The snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Contain => "contain",
            Self::Escalate => "escalate",
            Self::Monitor => "monitor",
        }
    }
}

/// What happened to the action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Carried out.
    Applied,
    /// Waiting for a person's approval.
    Pending,
    /// The authority matrix (or a protected asset) forbids it.
    Forbidden,
    /// Refused: allowlisted target, or a limit reached.
    Refused,
    /// Only recorded.
    Monitored,
    /// Approved but carrying it out failed (the error is in the reasoning).
    Failed,
    /// A person denied it.
    Denied,
    /// Nobody answered before the approval expired.
    Expired,
    /// Undone (block expired or lifted).
    RolledBack,
}

impl Outcome {
    /// The snake_case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Applied => "applied",
            Self::Pending => "pending",
            Self::Forbidden => "forbidden",
            Self::Refused => "refused",
            Self::Monitored => "monitored",
            Self::Failed => "failed",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::RolledBack => "rolled_back",
        }
    }
}

/// The thing an action acts on.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Target {
    /// Drop packets from this prefix in XDP.
    Block {
        /// The prefix.
        cidr: Cidr,
    },
    /// Kill this process.
    Kill {
        /// Process id.
        pid: u32,
        /// Its start time in clock ticks, to refuse a reused pid (`None` unknown).
        start: Option<u64>,
        /// Executable.
        exe: String,
    },
    /// Drop everything to and from this host but management traffic.
    Isolate {
        /// The host.
        host: IpAddr,
    },
}

impl Target {
    /// The action's row in the authority matrix.
    pub fn action(&self) -> Action {
        match self {
            Self::Block { .. } => Action::Block,
            Self::Kill { .. } => Action::Kill,
            Self::Isolate { .. } => Action::Isolate,
        }
    }

    /// In words ("block 10.0.0.2/32", "kill pid 812 (/bin/sh)").
    pub fn describe(&self) -> String {
        match self {
            Self::Block { cidr } => format!("block {cidr}"),
            Self::Kill { pid, exe, .. } if exe.is_empty() => format!("kill pid {pid}"),
            Self::Kill { pid, exe, .. } => format!("kill pid {pid} ({exe})"),
            Self::Isolate { host } => format!("isolate {host}"),
        }
    }

    /// The address whose asset entry governs the action, when there is one.
    pub fn address(&self) -> Option<IpAddr> {
        match self {
            Self::Block { cidr } => Some(cidr.addr),
            Self::Isolate { host } => Some(*host),
            Self::Kill { .. } => None,
        }
    }
}

/// The numbers the rule weighed.
#[derive(Clone, Copy, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Scores {
    /// Incident confidence in [0, 1].
    pub confidence: f64,
    /// Impact of a compromise of what is attacked.
    pub impact: f64,
    /// Cost of the action if it is a false positive.
    pub false_positive_cost: f64,
    /// Criticality (0-10) of the asset the action is on.
    pub criticality: u8,
    /// confidence x impact.
    pub cost_of_inaction: f64,
    /// (1 - confidence) x false_positive_cost.
    pub cost_of_action: f64,
    /// Share of events lost in the loss window.
    pub loss_share: f64,
}

/// One governance decision.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Decision {
    /// Decision id (increasing).
    pub id: u64,
    /// The incident.
    pub incident: u64,
    /// Wall-clock time, ns since the epoch.
    pub at_ns: u64,
    /// What would be done.
    pub target: Target,
    /// The policy's verdict.
    pub verdict: Verdict,
    /// The authority matrix's answer for this action on this asset class.
    pub authority: String,
    /// The asset the action is on (name, or "" for an unlisted address) and its class.
    pub asset: String,
    /// Its class in the matrix.
    pub class: String,
    /// What happened.
    pub outcome: Outcome,
    /// The numbers.
    pub scores: Scores,
    /// Block TTL, seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ttl_s: Option<u64>,
    /// Which offence of this prefix it is (1 = first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offence: Option<u32>,
    /// Approval id, while one is involved.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<u64>,
    /// Who approved or denied (name and uid, from the control socket's peer credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// How to undo it ("unblock 10.0.0.2/32").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollback: Option<String>,
    /// When the action or the approval expires, ns since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_ns: Option<u64>,
    /// Policy version (the config's version) the decision was made under.
    pub policy_version: String,
    /// The reasoning, sentence by sentence.
    pub reasoning: Vec<String>,
}

impl Decision {
    /// One line: id, incident, action, outcome and the last sentence of the reasoning.
    pub fn line(&self) -> String {
        format!(
            "decision {} incident {}: {} -> {} ({}, authority {}){}",
            self.id,
            self.incident,
            self.target.describe(),
            self.outcome.name(),
            self.verdict.name(),
            self.authority,
            self.approver.as_deref().map(|a| format!(" by {a}")).unwrap_or_default()
        )
    }
}
