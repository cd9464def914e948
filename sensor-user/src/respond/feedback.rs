//! Analyst feedback: true/false-positive labels per agent (and per signature, as
//! `sid:N`) and per agent + entity, turned into the weights the correlator applies, and
//! suppressions (entity + agent or sid, with an expiry). Persisted with the governor state.
//!
//! An agent's precision is the mean of a Beta(9, 1) prior updated by its labels (a new
//! agent is trusted at 0.9); its weight is precision / 0.9, at most 1. Each net false
//! positive on one entity halves that agent's weight for that entity (floor 0.05).

use std::collections::BTreeMap;

use crate::correlate::correlator::{Weigh, Weight};

const PRIOR_TP: f64 = 9.0;
const PRIOR_FP: f64 = 1.0;
const PRIOR_MEAN: f64 = PRIOR_TP / (PRIOR_TP + PRIOR_FP);

/// Label counts.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Labels {
    /// True positives.
    pub tp: u32,
    /// False positives.
    pub fp: u32,
}

/// A suppression: findings of `agent` about `entity` are ignored until `until_ns`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Suppression {
    /// Agent name or `sid:N`.
    pub agent: String,
    /// Entity (address, executable, user or host).
    pub entity: String,
    /// Wall-clock expiry, ns since the epoch.
    pub until_ns: u64,
    /// Who added it, and why.
    pub note: String,
}

/// The feedback store.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Feedback {
    /// Per agent.
    pub agents: BTreeMap<String, Labels>,
    /// Per agent, then entity.
    pub entities: BTreeMap<String, BTreeMap<String, Labels>>,
    /// Active suppressions.
    pub suppressions: Vec<Suppression>,
    /// Calibration weights from the config (not persisted: the config is the source).
    #[serde(skip)]
    pub calibration: BTreeMap<String, f64>,
}

impl Feedback {
    /// Records a label for `agent` about `entity`.
    pub fn label(&mut self, agent: &str, entity: &str, true_positive: bool) {
        let bump = |l: &mut Labels| {
            if true_positive {
                l.tp += 1;
            } else {
                l.fp += 1;
            }
        };
        bump(self.agents.entry(agent.to_owned()).or_default());
        if !entity.is_empty() {
            bump(self.entities.entry(agent.to_owned()).or_default().entry(entity.to_owned()).or_default());
        }
    }

    /// Adds a suppression.
    pub fn suppress(&mut self, s: Suppression) {
        self.suppressions.retain(|x| !(x.agent == s.agent && x.entity == s.entity));
        self.suppressions.push(s);
    }

    /// The suppression covering `agent` about `entity` at `now_ns`, if any.
    pub fn suppressed(&self, agent: &str, entity: &str, now_ns: u64) -> Option<&Suppression> {
        self.suppressions.iter().find(|s| s.agent == agent && s.entity == entity && now_ns < s.until_ns)
    }

    /// Drops expired suppressions; returns how many.
    pub fn expire(&mut self, now_ns: u64) -> usize {
        let n = self.suppressions.len();
        self.suppressions.retain(|s| now_ns < s.until_ns);
        n - self.suppressions.len()
    }

    /// The agent's precision estimate.
    pub fn precision(&self, agent: &str) -> f64 {
        let l = self.agents.get(agent).copied().unwrap_or_default();
        (f64::from(l.tp) + PRIOR_TP) / (f64::from(l.tp + l.fp) + PRIOR_TP + PRIOR_FP)
    }
}

impl Weigh for Feedback {
    fn weigh(&self, agent: &str, entity: &str) -> Weight {
        let cal = self.calibration.get(agent).copied().unwrap_or(1.0).clamp(0.0, 1.0);
        let l = self.agents.get(agent).copied().unwrap_or_default();
        let precision = self.precision(agent);
        let prec_w = (precision / PRIOR_MEAN).min(1.0);
        let e = self.entities.get(agent).and_then(|m| m.get(entity)).copied().unwrap_or_default();
        let net_fp = e.fp.saturating_sub(e.tp);
        let ent_w = 0.5f64.powi(net_fp.min(30) as i32).max(0.05);
        let mut note = format!("calibration {cal:.2}");
        if l.tp + l.fp > 0 {
            note.push_str(&format!(
                ", precision {precision:.2} from {} true / {} false positive(s) (x{prec_w:.2})",
                l.tp, l.fp
            ));
        }
        if net_fp > 0 {
            note.push_str(&format!(", {net_fp} false positive(s) on {entity} (x{ent_w:.2})"));
        }
        Weight { factor: cal * prec_w * ent_w, note }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_agent_has_full_weight() {
        let f = Feedback::default();
        assert!((f.weigh("port_scan", "10.0.0.2").factor - 1.0).abs() < 1e-9);
    }

    #[test]
    fn a_false_positive_lowers_the_agent_and_more_so_the_entity_and_says_so() {
        let mut f = Feedback::default();
        f.label("port_scan", "10.0.0.2", false);
        let same = f.weigh("port_scan", "10.0.0.2");
        let other = f.weigh("port_scan", "10.0.0.3");
        assert!(other.factor < 1.0 && other.factor > 0.85, "{other:?}");
        assert!(same.factor < other.factor * 0.6, "{same:?} vs {other:?}");
        assert!(same.note.contains("1 false positive(s) on 10.0.0.2"), "{}", same.note);
        // A true positive on the same entity cancels the entity penalty.
        f.label("port_scan", "10.0.0.2", true);
        assert!((f.weigh("port_scan", "10.0.0.2").factor - f.weigh("port_scan", "10.0.0.3").factor).abs() < 1e-9);
    }

    #[test]
    fn calibration_scales_and_suppressions_expire() {
        let mut f = Feedback::default();
        f.calibration.insert("beacon".into(), 0.5);
        assert!((f.weigh("beacon", "x").factor - 0.5).abs() < 1e-9);
        f.suppress(Suppression { agent: "beacon".into(), entity: "x".into(), until_ns: 100, note: String::new() });
        assert!(f.suppressed("beacon", "x", 99).is_some());
        assert!(f.suppressed("beacon", "x", 100).is_none());
        assert!(f.suppressed("flood", "x", 0).is_none());
        assert_eq!(f.expire(100), 1);
    }
}
