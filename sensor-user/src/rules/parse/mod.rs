//! Suricata 7 rule parser: rule text -> [`Signature`], plus file loading with a report of what
//! was skipped (valid but unsupported here) and what was malformed.
//!
//! Entry points: [`parse_rule`] for one rule, [`load`] / [`load_str`] for files.

mod buffers;
mod bytes;
mod classify;
mod content;
mod error;
mod header;
mod lexer;
mod load;
mod numeric;
mod options;
mod pcre;
mod threshold_config;
mod vars;

#[cfg(test)]
mod tests;

use std::collections::HashMap;

pub use classify::Classifications;
pub use error::{RuleIssue, SkipReason, SyntaxError, VarError};
pub use load::{LoadReport, load, load_str};
pub use threshold_config::ThresholdConfig;
pub use vars::RuleVars;

use super::ir::Signature;

/// Everything a rule's meaning depends on besides its text.
#[derive(Clone, Debug)]
pub struct RuleConfig {
    /// Address and port groups.
    pub vars: RuleVars,
    /// classification.config.
    pub classes: Classifications,
    /// The prefilter's multi-pattern matcher.
    pub mpm: super::engine::Mpm,
    /// Suricata's `action-order`: the order in which rule actions are applied.
    pub action_order: super::ir::ActionOrder,
    /// A threshold.config (`threshold-file`) applied to the loaded rules.
    pub threshold_file: Option<std::path::PathBuf>,
}

impl RuleConfig {
    /// Suricata's default vars and ET Open's classification.config.
    pub fn suricata_default() -> Self {
        RuleConfig {
            vars: RuleVars::suricata_default(),
            classes: Classifications::suricata_default(),
            mpm: super::engine::Mpm::default(),
            action_order: super::ir::ActionOrder::default(),
            threshold_file: None,
        }
    }
}

/// Flowbit names interned to dense indices (shared by all rules of a load).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FlowbitNames {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl FlowbitNames {
    /// The index of `name`, adding it if new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), i);
        i
    }

    /// The index of `name`, if interned.
    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    /// All names, by index.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Number of names (the engine's flowbit count).
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No names?
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// Parses one rule (`origin` = `file:line`, kept in the signature). Flowbit names are interned
/// in `names`. A rule the engine cannot honour exactly is a [`RuleIssue::Skip`]; a malformed one
/// is a [`RuleIssue::Error`].
pub fn parse_rule(
    text: &str,
    origin: &str,
    cfg: &RuleConfig,
    names: &mut FlowbitNames,
) -> Result<Signature, RuleIssue> {
    let text = text.trim();
    let (head, body) = lexer::split_rule(text)?;
    let header = header::compile(&head, &cfg.vars)?;
    options::build(text, origin, header, body, cfg, names)
}

/// Best-effort `sid` of a rule that failed to parse (0 if none can be found).
pub(crate) fn sid_of(text: &str) -> u32 {
    let Some(open) = text.find('(') else { return 0 };
    for opt in lexer::Options::new(&text[open + 1..]) {
        match opt {
            Ok(o) if o.keyword == "sid" => return o.value.and_then(|v| v.trim().parse().ok()).unwrap_or(0),
            Ok(_) => {}
            Err(_) => return 0,
        }
    }
    0
}
