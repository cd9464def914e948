//! Why a rule was not loaded: a skip (valid rule the engine cannot honour exactly) or a syntax error.

use thiserror::Error;

/// The outcome of a rule that did not produce a [`Signature`](super::super::ir::Signature).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum RuleIssue {
    /// The rule is (probably) valid but uses something the engine does not implement.
    #[error("skipped: {0}")]
    Skip(SkipReason),
    /// The rule is malformed (Suricata would refuse it too).
    #[error("error: {0}")]
    Error(SyntaxError),
}

impl From<SyntaxError> for RuleIssue {
    fn from(e: SyntaxError) -> Self {
        RuleIssue::Error(e)
    }
}

impl From<SkipReason> for RuleIssue {
    fn from(s: SkipReason) -> Self {
        RuleIssue::Skip(s)
    }
}

/// Why a rule is skipped: the engine cannot honour it exactly, so it is reported, never half-applied.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SkipReason {
    /// A rule keyword this engine does not implement (or that Suricata does not know either).
    #[error("unknown keyword: {keyword}")]
    UnknownKeyword {
        /// The keyword.
        keyword: String,
    },
    /// A header protocol without an app-layer parser here (smtp, ftp, smb, ...).
    #[error("unsupported protocol: {protocol}")]
    UnsupportedProtocol {
        /// The protocol as written.
        protocol: String,
    },
    /// A known keyword used with an option this engine does not implement.
    #[error("unsupported option: {keyword} {detail}")]
    UnsupportedOption {
        /// The keyword.
        keyword: String,
        /// What is unsupported.
        detail: String,
    },
    /// Keywords that are each supported but not together (e.g. DNS rule with HTTP buffers).
    #[error("unsupported combination: {detail}")]
    UnsupportedCombination {
        /// What conflicts.
        detail: String,
    },
    /// Rule disabled (reserved; never produced by the parser).
    #[error("disabled")]
    Disabled,
}

impl SkipReason {
    /// A short grouping label, e.g. `unknown keyword: xbits` or `unsupported protocol: smtp`.
    pub fn label(&self) -> String {
        match self {
            SkipReason::UnsupportedOption { keyword, .. } => format!("unsupported option: {keyword}"),
            other => other.to_string(),
        }
    }
}

/// A malformed rule.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum SyntaxError {
    /// A quoted value has no closing quote.
    #[error("unterminated quote")]
    UnterminatedQuote,
    /// Bad `|..|` hex in a content.
    #[error("bad hex in content: {detail}")]
    BadHex {
        /// What is wrong.
        detail: String,
    },
    /// `$NAME` is not defined.
    #[error("unknown variable ${name}")]
    UnknownVariable {
        /// The variable name (without `$`).
        name: String,
    },
    /// The header (action, protocol, addresses, ports, direction) is malformed.
    #[error("bad header: {detail}")]
    BadHeader {
        /// What is wrong.
        detail: String,
    },
    /// An option's value is malformed or used where it is not allowed.
    #[error("bad option {keyword}: {detail}")]
    BadOption {
        /// The keyword.
        keyword: String,
        /// What is wrong.
        detail: String,
    },
    /// No `sid`.
    #[error("missing sid")]
    MissingSid,
    /// A value out of range (e.g. `depth` > 65535 or shorter than its content).
    #[error("absurd value for {keyword}: {value}")]
    AbsurdValue {
        /// The keyword.
        keyword: String,
        /// The value as written, with the reason.
        value: String,
    },
    /// A `pcre` that is not `/.../flags` or has an unknown flag.
    #[error("bad pcre: {detail}")]
    BadPcre {
        /// What is wrong.
        detail: String,
    },
    /// `classtype` not in classification.config.
    #[error("unknown classtype {name}")]
    UnknownClasstype {
        /// The class name.
        name: String,
    },
    /// A threshold.config line that is not a valid `threshold`, `event_filter`, `suppress` or
    /// `rate_filter` entry.
    #[error("bad threshold.config entry: {detail}")]
    BadThresholdEntry {
        /// What is wrong.
        detail: String,
    },
    /// A second rule with the same gid:sid (the first one stays loaded).
    #[error("duplicate sid {sid} (first defined at {first})")]
    DuplicateSid {
        /// The sid.
        sid: u32,
        /// `file:line` of the rule that was kept.
        first: String,
    },
}

/// An invalid variable definition ([`RuleVars::set_address`](super::RuleVars::set_address) and
/// [`RuleVars::set_port`](super::RuleVars::set_port)).
#[derive(Clone, Debug, PartialEq, Eq, Error)]
#[error("variable {name}: {source}")]
pub struct VarError {
    /// The variable being defined.
    pub name: String,
    /// Why its expression is invalid.
    pub source: SyntaxError,
}

/// Shorthand for a [`SyntaxError::BadOption`].
pub(crate) fn bad(keyword: &str, detail: impl Into<String>) -> SyntaxError {
    SyntaxError::BadOption { keyword: keyword.to_string(), detail: detail.into() }
}

/// Shorthand for a [`SyntaxError::AbsurdValue`].
pub(crate) fn absurd(keyword: &str, value: impl Into<String>) -> SyntaxError {
    SyntaxError::AbsurdValue { keyword: keyword.to_string(), value: value.into() }
}

/// Shorthand for a [`SkipReason::UnsupportedOption`].
pub(crate) fn unsupported(keyword: &str, detail: impl Into<String>) -> SkipReason {
    SkipReason::UnsupportedOption { keyword: keyword.to_string(), detail: detail.into() }
}
