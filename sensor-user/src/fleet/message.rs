//! What travels on the fleet's subjects: JSON messages with the sender's site and host, and
//! the offer a receiving sensor takes from another sensor's applied block.

use std::{
    collections::BTreeSet,
    net::IpAddr,
    sync::{Mutex, OnceLock},
};

use serde::{Deserialize, Serialize};

use crate::{
    agents::finding::{Entities, Evidence, Finding, Severity},
    block::Cidr,
    correlate::incident::Incident,
    respond::decision::{Decision, Outcome, Target},
};

/// The incident behind a published decision, in brief.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct IncidentBrief {
    /// Incident id on the sender.
    pub id: u64,
    /// Combined confidence.
    pub confidence: f64,
    /// Severity.
    pub severity: Severity,
    /// ATT&CK techniques.
    pub techniques: Vec<String>,
    /// One line.
    pub summary: String,
    /// Whether the incident came only from fleet offers (such decisions are not offered
    /// again, so offers never echo around the fleet).
    pub fleet_origin: bool,
}

impl IncidentBrief {
    /// The brief of `i`.
    pub fn of(i: &Incident) -> Self {
        Self {
            id: i.id,
            confidence: i.confidence,
            severity: i.severity,
            techniques: i.techniques.iter().cloned().collect(),
            summary: i.summary(),
            fleet_origin: !i.agents.is_empty() && i.agents.keys().all(|a| a == "fleet"),
        }
    }
}

/// One message on a fleet subject.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(clippy::large_enum_variant, reason = "built once per message on the control path, then serialised")]
pub enum FleetMessage {
    /// A finding (for the fleet's record; not acted on by others).
    Finding {
        /// Sender's site.
        site: String,
        /// Sender's id.
        host: String,
        /// Wall time, ns.
        ts_ns: u64,
        /// Agent.
        agent: String,
        /// What it saw.
        finding_kind: String,
        /// Confidence.
        confidence: f32,
        /// Adversary address.
        src: Option<IpAddr>,
        /// Target address.
        dst: Option<IpAddr>,
        /// In words.
        reason: String,
    },
    /// An incident's state.
    Incident {
        /// Sender's site.
        site: String,
        /// Sender's id.
        host: String,
        /// Wall time, ns.
        ts_ns: u64,
        /// The incident.
        incident: IncidentBrief,
    },
    /// A decision's state; an applied block is an offer to the other sensors.
    Decision {
        /// Sender's site.
        site: String,
        /// Sender's id.
        host: String,
        /// Wall time, ns.
        ts_ns: u64,
        /// The decision.
        decision: Decision,
        /// Its incident.
        incident: Option<IncidentBrief>,
    },
}

impl FleetMessage {
    /// The sender's id.
    pub fn host(&self) -> &str {
        match self {
            Self::Finding { host, .. } | Self::Incident { host, .. } | Self::Decision { host, .. } => host,
        }
    }

    /// The message id the server deduplicates on.
    pub fn msg_id(&self) -> String {
        match self {
            Self::Finding { site, host, ts_ns, agent, .. } => format!("{site}.{host}.f.{agent}.{ts_ns}"),
            Self::Incident { site, host, ts_ns, incident } => format!("{site}.{host}.i.{}.{ts_ns}", incident.id),
            Self::Decision { site, host, decision, .. } => {
                format!("{site}.{host}.d.{}.{}", decision.id, decision.outcome.name())
            }
        }
    }

    /// The offer this message makes to other sensors: an applied block of a local (not
    /// fleet-relayed) incident.
    pub fn offer(&self) -> Option<FleetOffer> {
        let Self::Decision { site, host, ts_ns, decision, incident } = self else { return None };
        let Target::Block { cidr } = decision.target else { return None };
        if decision.outcome != Outcome::Applied || incident.as_ref().is_some_and(|i| i.fleet_origin) {
            return None;
        }
        let inc = incident.as_ref();
        Some(FleetOffer {
            site: site.clone(),
            host: host.clone(),
            decision_id: decision.id,
            decided_ns: decision.at_ns,
            sent_ns: *ts_ns,
            cidr,
            confidence: inc.map_or(decision.scores.confidence, |i| i.confidence),
            severity: inc.map_or(Severity::High, |i| i.severity),
            technique: inc.and_then(|i| i.techniques.first().cloned()).unwrap_or_default(),
            summary: inc.map(|i| i.summary.clone()).unwrap_or_default(),
            reasoning: decision.reasoning.clone(),
        })
    }
}

/// A block another sensor applied, offered to this one.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FleetOffer {
    /// The sender's site.
    pub site: String,
    /// The sender.
    pub host: String,
    /// The sender's decision id.
    pub decision_id: u64,
    /// When the sender decided (wall ns).
    pub decided_ns: u64,
    /// When it published (wall ns).
    pub sent_ns: u64,
    /// What it blocked.
    pub cidr: Cidr,
    /// Its incident's confidence.
    pub confidence: f64,
    /// Its incident's severity.
    pub severity: Severity,
    /// The main ATT&CK technique.
    pub technique: String,
    /// Its incident in one line.
    pub summary: String,
    /// Why it blocked.
    pub reasoning: Vec<String>,
}

impl FleetOffer {
    /// The finding this offer becomes on the receiving sensor: agent `fleet`, about the
    /// blocked address, at wall time `now_ns`.
    pub fn finding(&self, now_ns: u64) -> Finding {
        let entities = Entities { src: Some(self.cidr.addr), ..Entities::default() };
        let evidence = Evidence { measure: "fleet_block", count: 1, ..Evidence::default() };
        Finding::new(
            "fleet",
            "fleet_block",
            now_ns,
            self.confidence as f32,
            self.severity,
            intern_technique(&self.technique),
            entities,
            evidence,
            format!(
                "sensor {} (site {}) blocked {} after: {}",
                self.host,
                self.site,
                self.cidr,
                if self.summary.is_empty() { "an incident" } else { &self.summary }
            ),
        )
    }
}

/// A technique id as a `&'static str` (findings carry static names): ids seen before are
/// shared; at most 512 distinct ids are kept, others read as "".
pub fn intern_technique(t: &str) -> &'static str {
    static SEEN: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let valid = !t.is_empty() && t.len() <= 16 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'.');
    if !valid {
        return "";
    }
    let Ok(mut set) = SEEN.get_or_init(|| Mutex::new(BTreeSet::new())).lock() else { return "" };
    if let Some(s) = set.get(t) {
        return s;
    }
    if set.len() >= 512 {
        return "";
    }
    let s: &'static str = Box::leak(t.to_owned().into_boxed_str());
    set.insert(s);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn techniques_are_interned_once_and_junk_is_refused() {
        let a = intern_technique("T1046");
        let b = intern_technique(&String::from("T1046"));
        assert!(std::ptr::eq(a, b));
        assert_eq!(intern_technique("T1046; rm -rf"), "");
        assert_eq!(intern_technique(""), "");
    }
}
