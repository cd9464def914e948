//! The authority matrix: for each asset class and each containment action, whether the sensor
//! may act alone, must ask a human, or must never act.

use std::{collections::BTreeMap, fmt, str::FromStr};

/// A name that is not one of the allowed ones (an action or an authority level).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} {input:?} (allowed: {allowed})")]
pub struct UnknownName {
    /// What kind of name was expected ("action", "authority").
    pub what: &'static str,
    /// What was given.
    pub input: String,
    /// The allowed names, comma-separated.
    pub allowed: &'static str,
}

/// A containment action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// Drop the source address or CIDR in XDP.
    Block,
    /// Kill the offending process.
    Kill,
    /// Isolate the host: drop everything but the management addresses.
    Isolate,
}

impl Action {
    /// Every action, in matrix order.
    pub const ALL: [Action; 3] = [Action::Block, Action::Kill, Action::Isolate];

    /// The name used in the config file and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Action::Block => "block",
            Action::Kill => "kill",
            Action::Isolate => "isolate",
        }
    }

    fn index(self) -> usize {
        match self {
            Action::Block => 0,
            Action::Kill => 1,
            Action::Isolate => 2,
        }
    }
}

impl FromStr for Action {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Action::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| UnknownName {
            what: "action",
            input: s.to_owned(),
            allowed: "block, kill, isolate",
        })
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who decides an action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Authority {
    /// The sensor acts alone.
    Autonomous,
    /// The sensor proposes; a human approves before it acts.
    Approval,
    /// The sensor never takes this action.
    Forbidden,
}

impl Authority {
    /// Every level.
    pub const ALL: [Authority; 3] = [Authority::Autonomous, Authority::Approval, Authority::Forbidden];

    /// The name used in the config file and audit records.
    pub fn name(self) -> &'static str {
        match self {
            Authority::Autonomous => "autonomous",
            Authority::Approval => "approval",
            Authority::Forbidden => "forbidden",
        }
    }
}

impl FromStr for Authority {
    type Err = UnknownName;
    fn from_str(s: &str) -> Result<Self, UnknownName> {
        Authority::ALL.into_iter().find(|a| a.name() == s).ok_or_else(|| UnknownName {
            what: "authority",
            input: s.to_owned(),
            allowed: "autonomous, approval, forbidden",
        })
    }
}

impl fmt::Display for Authority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Asset class x action -> authority. Anything not written down needs approval.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthorityMatrix {
    rows: BTreeMap<String, [Option<Authority>; 3]>,
}

impl AuthorityMatrix {
    /// The authority for `action` on an asset of `class`; an unknown class or an action the
    /// class's table leaves out gives `Approval` (the safe default).
    pub fn get(&self, class: &str, action: Action) -> Authority {
        self.rows.get(class).and_then(|row| row[action.index()]).unwrap_or(Authority::Approval)
    }

    /// The classes that have a table, in name order.
    pub fn classes(&self) -> impl Iterator<Item = &str> {
        self.rows.keys().map(String::as_str)
    }

    /// Whether `class` has a table.
    pub fn has_class(&self, class: &str) -> bool {
        self.rows.contains_key(class)
    }

    /// Sets one cell, creating the class's table if needed.
    pub fn set(&mut self, class: &str, action: Action, authority: Authority) {
        self.rows.entry(class.to_owned()).or_default()[action.index()] = Some(authority);
    }

    /// Adds a class with an empty table (every action then needs approval).
    pub fn add_class(&mut self, class: &str) {
        self.rows.entry(class.to_owned()).or_default();
    }

    /// The first class (in name order) in which `action` is autonomous, if any.
    pub fn autonomous_class(&self, action: Action) -> Option<&str> {
        self.classes().find(|c| self.get(c, action) == Authority::Autonomous)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_list_the_allowed_ones() {
        for a in Action::ALL {
            assert_eq!(a.name().parse::<Action>().expect("action"), a);
        }
        for a in Authority::ALL {
            assert_eq!(a.name().parse::<Authority>().expect("authority"), a);
        }
        let e = "quarantine".parse::<Action>().expect_err("unknown action").to_string();
        assert!(e.contains("block, kill, isolate"), "{e}");
        let e = "auto".parse::<Authority>().expect_err("unknown authority").to_string();
        assert!(e.contains("autonomous, approval, forbidden"), "{e}");
    }

    #[test]
    fn unknown_class_or_missing_action_needs_approval() {
        let mut m = AuthorityMatrix::default();
        m.set("standard", Action::Block, Authority::Autonomous);
        assert_eq!(m.get("standard", Action::Block), Authority::Autonomous);
        assert_eq!(m.get("standard", Action::Kill), Authority::Approval);
        assert_eq!(m.get("nosuch", Action::Block), Authority::Approval);
        assert_eq!(m.autonomous_class(Action::Block), Some("standard"));
        assert_eq!(m.autonomous_class(Action::Kill), None);
    }
}
