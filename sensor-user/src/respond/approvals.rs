//! Actions waiting for a person: what would be done, on which incident, with the
//! confidence, reasoning and evidence, until a person approves or denies it or it expires.

use std::collections::BTreeMap;

use super::decision::{Decision, Target};

/// One pending approval.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Pending {
    /// Approval id.
    pub id: u64,
    /// The decision that asked for it.
    pub decision: Decision,
    /// Created, ns since the epoch.
    pub created_ns: u64,
    /// Expires, ns since the epoch.
    pub expires_ns: u64,
    /// The incident's findings, one line each (the latest few).
    pub evidence: Vec<String>,
}

impl Pending {
    /// What would be done.
    pub fn target(&self) -> &Target {
        &self.decision.target
    }
}

/// The queue.
#[derive(Debug, Default)]
pub struct Approvals {
    pending: BTreeMap<u64, Pending>,
    next_id: u64,
}

impl Approvals {
    /// The id the next approval gets.
    pub fn next_id(&self) -> u64 {
        self.next_id + 1
    }

    /// Queues `decision` under [`Approvals::next_id`]; returns that id.
    pub fn add(&mut self, decision: Decision, now_ns: u64, expires_ns: u64, evidence: Vec<String>) -> u64 {
        self.next_id += 1;
        let id = self.next_id;
        self.pending.insert(id, Pending { id, decision, created_ns: now_ns, expires_ns, evidence });
        id
    }

    /// Whether an approval for `target` is already waiting.
    pub fn waiting_for(&self, target: &Target) -> Option<u64> {
        self.pending.values().find(|p| p.target() == target).map(|p| p.id)
    }

    /// Takes approval `id` out of the queue (to approve or deny it).
    pub fn take(&mut self, id: u64) -> Option<Pending> {
        self.pending.remove(&id)
    }

    /// Removes and returns the approvals expired at `now_ns`.
    pub fn expire(&mut self, now_ns: u64) -> Vec<Pending> {
        let ids: Vec<u64> = self.pending.values().filter(|p| now_ns >= p.expires_ns).map(|p| p.id).collect();
        ids.into_iter().filter_map(|id| self.pending.remove(&id)).collect()
    }

    /// Every pending approval, oldest first.
    pub fn list(&self) -> impl Iterator<Item = &Pending> {
        self.pending.values()
    }

    /// How many wait.
    pub fn len(&self) -> usize {
        self.pending.len()
    }

    /// Whether none wait.
    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}
