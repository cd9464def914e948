//! The decision rule. By default: cost_of_inaction = confidence x impact; cost_of_action =
//! (1 - confidence) x false_positive_cost; contain autonomously when cost_of_inaction >
//! ratio x cost_of_action, else escalate when confidence > escalate_confidence or the
//! asset's criticality > escalate_criticality, else monitor. Loss-aware: when the share of
//! events lost in the loss window exceeds `max_loss_share`, containment becomes an
//! escalation, because the sensor may not have seen what it would act on.

use super::{
    config::PolicyParams,
    decision::{Scores, Verdict},
};

/// What the rule is given.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Inputs {
    /// Incident confidence.
    pub confidence: f64,
    /// Impact of a compromise.
    pub impact: f64,
    /// Cost of a false-positive action.
    pub false_positive_cost: f64,
    /// Criticality of the asset acted on.
    pub criticality: u8,
    /// Share of events lost recently.
    pub loss_share: f64,
}

/// Applies the rule; appends the reasoning in words to `why`.
pub fn decide(p: &PolicyParams, i: &Inputs, why: &mut Vec<String>) -> (Verdict, Scores) {
    let c = i.confidence.clamp(0.0, 1.0);
    let inaction = c * i.impact;
    let action = (1.0 - c) * i.false_positive_cost;
    let scores = Scores {
        confidence: c,
        impact: i.impact,
        false_positive_cost: i.false_positive_cost,
        criticality: i.criticality,
        cost_of_inaction: inaction,
        cost_of_action: action,
        loss_share: i.loss_share,
    };
    let contain = inaction > p.autonomous_ratio * action;
    let verdict = if contain {
        why.push(format!(
            "cost of inaction {c:.2} x {:.1} = {inaction:.1} exceeds {:.1} x cost of action (1 - {c:.2}) x {:.1} = {action:.1}: contain",
            i.impact, p.autonomous_ratio, i.false_positive_cost
        ));
        if i.loss_share > p.max_loss_share {
            why.push(format!(
                "but {:.1}% of events were lost in the last {}s (limit {:.1}%): the sensor may not have seen everything, so a person decides",
                i.loss_share * 100.0,
                p.loss_window.as_secs(),
                p.max_loss_share * 100.0
            ));
            Verdict::Escalate
        } else {
            Verdict::Contain
        }
    } else {
        why.push(format!(
            "cost of inaction {c:.2} x {:.1} = {inaction:.1} does not exceed {:.1} x cost of action (1 - {c:.2}) x {:.1} = {action:.1}",
            i.impact, p.autonomous_ratio, i.false_positive_cost
        ));
        if c > p.escalate_confidence {
            why.push(format!("confidence {c:.2} > {:.2}: escalate for review", p.escalate_confidence));
            Verdict::Escalate
        } else if i.criticality > p.escalate_criticality {
            why.push(format!("asset criticality {} > {}: escalate for review", i.criticality, p.escalate_criticality));
            Verdict::Escalate
        } else {
            why.push(format!(
                "confidence {c:.2} <= {:.2} and criticality {} <= {}: monitor",
                p.escalate_confidence, i.criticality, p.escalate_criticality
            ));
            Verdict::Monitor
        }
    };
    (verdict, scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::config::GovernanceConfig;

    fn params() -> PolicyParams {
        GovernanceConfig::default_config().policy
    }

    fn run(confidence: f64, impact: f64, fp: f64, criticality: u8, loss: f64) -> (Verdict, Vec<String>) {
        let mut why = Vec::new();
        let i = Inputs { confidence, impact, false_positive_cost: fp, criticality, loss_share: loss };
        let (v, s) = decide(&params(), &i, &mut why);
        assert!((s.cost_of_inaction - confidence * impact).abs() < 1e-9);
        assert!((s.cost_of_action - (1.0 - confidence) * fp).abs() < 1e-9);
        (v, why)
    }

    #[test]
    fn the_default_rule_contains_when_inaction_costs_more_than_twice_action() {
        // 0.9 x 50 = 45 > 2 x 0.1 x 10 = 2.
        assert_eq!(run(0.9, 50.0, 10.0, 3, 0.0).0, Verdict::Contain);
        // 0.5 x 50 = 25 vs 2 x 0.5 x 30 = 30: not contained; 0.5 <= 0.85, criticality 3: monitor.
        assert_eq!(run(0.5, 50.0, 30.0, 3, 0.0).0, Verdict::Monitor);
    }

    #[test]
    fn high_confidence_or_criticality_escalates_what_is_not_contained() {
        // 0.9 x 10 = 9 vs 2 x 0.1 x 60 = 12: not contained, confidence > 0.85.
        assert_eq!(run(0.9, 10.0, 60.0, 3, 0.0).0, Verdict::Escalate);
        let (v, why) = run(0.5, 50.0, 30.0, 9, 0.0);
        assert_eq!(v, Verdict::Escalate);
        assert!(why.iter().any(|w| w.contains("criticality 9 > 8")), "{why:?}");
    }

    #[test]
    fn loss_above_the_limit_turns_containment_into_escalation_and_says_why() {
        let (v, why) = run(0.99, 100.0, 1.0, 3, 0.2);
        assert_eq!(v, Verdict::Escalate);
        assert!(why.iter().any(|w| w.contains("20.0% of events were lost")), "{why:?}");
        assert_eq!(run(0.99, 100.0, 1.0, 3, 0.001).0, Verdict::Contain);
    }
}
