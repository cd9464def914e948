//! The file as written: serde structs that mirror the TOML layout, refuse unknown keys and
//! keep the position of every value that validation checks, so errors can name the line.
//! Every key is optional here; `validate` fills in the built-in defaults.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// An optional value with its position.
pub(super) type Opt<T> = Option<Spanned<T>>;

/// A list of strings, each with its position.
pub(super) type List = Spanned<Vec<Spanned<String>>>;

/// `[authority.CLASS] action = "authority"`, keys and values with positions.
/// (toml cannot give the position of a table that holds only tables, nor of its keys: the
/// class tables carry the positions instead.)
pub(super) type RawAuthority = BTreeMap<String, Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>;

/// The whole file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawFile {
    pub(super) version: Opt<String>,
    pub(super) policy: Opt<RawPolicy>,
    pub(super) correlation: Option<RawCorrelation>,
    pub(super) defaults: Opt<RawDefaults>,
    #[serde(default)]
    pub(super) asset: Vec<Spanned<RawAsset>>,
    pub(super) authority: Option<RawAuthority>,
    pub(super) limits: Opt<RawLimits>,
    pub(super) allowlist: Opt<RawAllowlist>,
}

/// `[policy]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPolicy {
    pub(super) autonomous_ratio: Opt<f64>,
    pub(super) escalate_confidence: Opt<f64>,
    pub(super) escalate_criticality: Opt<i64>,
    pub(super) max_loss_share: Opt<f64>,
    pub(super) loss_window: Opt<String>,
    pub(super) min_confidence: Opt<f64>,
}

/// `[correlation]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCorrelation {
    pub(super) window: Opt<String>,
    pub(super) stage_boost: Opt<f64>,
    #[serde(default)]
    pub(super) calibration: BTreeMap<String, Spanned<f64>>,
}

/// `[defaults]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDefaults {
    pub(super) criticality: Opt<i64>,
    pub(super) impact: Opt<f64>,
    pub(super) false_positive_cost: Opt<f64>,
    pub(super) class: Opt<String>,
}

/// One `[[asset]]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAsset {
    pub(super) name: Spanned<String>,
    #[serde(rename = "match")]
    pub(super) matches: List,
    pub(super) criticality: Opt<i64>,
    pub(super) impact: Opt<f64>,
    pub(super) false_positive_cost: Opt<f64>,
    pub(super) owner: Opt<String>,
    pub(super) protected: Opt<bool>,
    pub(super) class: Opt<String>,
}

/// `[limits]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawLimits {
    pub(super) max_active_blocks: Opt<i64>,
    pub(super) max_new_blocks_per_minute: Opt<i64>,
    pub(super) ttl_min: Opt<String>,
    pub(super) ttl_max: Opt<String>,
    pub(super) ttl_ladder: Option<List>,
    pub(super) approval_expiry: Opt<String>,
}

/// `[allowlist]`.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAllowlist {
    pub(super) never_block: Option<List>,
    pub(super) management: Option<List>,
}
