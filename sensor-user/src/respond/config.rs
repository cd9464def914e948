//! The governance config: one TOML file (`sensor run --policy FILE`, the embedded
//! [`default_toml`] when absent) holding the asset inventory, the decision policy's parameters,
//! the authority matrix and its limits, the allowlists, the TTL ladder and approval expiry.
//!
//! This file owns the validated types, the error and the default text. The serde layout lives
//! in `raw`, the checks that turn it into a [`GovernanceConfig`] in `validate`. An invalid file
//! is refused as a whole with `FILE:LINE: KEY: REASON`; on reload the caller keeps the
//! previous valid config.

mod authority;
mod context;
mod raw;
#[cfg(test)]
mod tests;
mod validate;

use std::{collections::BTreeMap, net::IpAddr, path::Path, time::Duration};

pub use authority::{Action, Authority, AuthorityMatrix, UnknownName};

use super::inventory::Inventory;
use crate::block::Cidr;

/// The origin recorded for the embedded default.
pub const DEFAULT_ORIGIN: &str = "<default>";

/// Errors from loading a governance config.
#[derive(Debug, thiserror::Error)]
pub enum GovConfigError {
    /// The file could not be read.
    #[error("cannot read governance config {path}")]
    Read {
        /// The path given.
        path: String,
        /// The error from reading it.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value is out of range or
    /// contradicts another. One variant for every syntax and semantic error.
    #[error("{file}:{line}: {key}: {reason}")]
    Invalid {
        /// The file (its path, or `<default>`).
        file: String,
        /// 1-based line of the offending key or value.
        line: usize,
        /// Dotted key, e.g. `limits.ttl_min` or `asset[db1].criticality`.
        key: String,
        /// What is wrong and what is allowed.
        reason: String,
    },
}

/// The validated governance config; what the rest of the sensor uses.
#[derive(Clone, Debug, PartialEq)]
pub struct GovernanceConfig {
    /// `version` from the file, else `sha256:` + the first 12 hex digits of the file's bytes.
    pub version: String,
    /// The file path, or `<default>`.
    pub origin: String,
    /// `[policy]`.
    pub policy: PolicyParams,
    /// `[correlation]`.
    pub correlation: CorrelationParams,
    /// `[defaults]`: for addresses not in the inventory.
    pub defaults: AssetDefaults,
    /// The `[[asset]]` entries.
    pub inventory: Inventory,
    /// `[authority.CLASS]` tables.
    pub authority: AuthorityMatrix,
    /// `[limits]`.
    pub limits: Limits,
    /// `[allowlist]`.
    pub allowlist: Allowlist,
}

/// The decision policy's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct PolicyParams {
    /// Contain alone when cost of inaction > this x cost of action (> 0).
    pub autonomous_ratio: f64,
    /// Otherwise escalate when confidence > this (0-1) ...
    pub escalate_confidence: f64,
    /// ... or the asset's criticality > this (0-10); else monitor.
    pub escalate_criticality: u8,
    /// Event loss share (ring/capture) above which nothing is autonomous (0-1).
    pub max_loss_share: f64,
    /// The window over which the loss share is measured.
    pub loss_window: Duration,
    /// Incidents below this confidence are only monitored (0-1).
    pub min_confidence: f64,
}

/// The correlator's parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct CorrelationParams {
    /// Findings further apart than this start a new incident.
    pub window: Duration,
    /// How much each additional kill-chain stage raises confidence (0-1).
    pub stage_boost: f64,
    /// Per-agent weight (0-1) applied to its findings' confidence; absent agents weigh 1.
    pub calibration: BTreeMap<String, f64>,
}

/// What an address outside the inventory is assumed to be.
#[derive(Clone, Debug, PartialEq)]
pub struct AssetDefaults {
    /// 0-10.
    pub criticality: u8,
    /// Cost of a compromise, any unit (>= 0).
    pub impact: f64,
    /// Cost of containing by mistake (>= 0).
    pub false_positive_cost: f64,
    /// Authority-matrix row.
    pub class: String,
}

/// One inventory entry.
#[derive(Clone, Debug, PartialEq)]
pub struct Asset {
    /// Its name, unique in the file.
    pub name: String,
    /// The addresses, CIDRs and host names that are this asset.
    pub matches: Vec<AssetMatch>,
    /// 0-10.
    pub criticality: u8,
    /// Cost of a compromise (>= 0).
    pub impact: f64,
    /// Cost of containing by mistake (>= 0).
    pub false_positive_cost: f64,
    /// Who to tell; may be empty.
    pub owner: String,
    /// Every action on it is forbidden, whatever the matrix says.
    pub protected: bool,
    /// Authority-matrix row.
    pub class: String,
    /// Line of its `[[asset]]` header in the file.
    pub line: usize,
}

/// How an asset is recognised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AssetMatch {
    /// An address (as a /32 or /128) or a prefix.
    Net(Cidr),
    /// A host name, lower-cased, trailing dot removed.
    Host(String),
}

/// Limits on what the sensor may do on its own.
#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Most blocks in force at once.
    pub max_active_blocks: usize,
    /// Most new blocks per minute.
    pub max_new_blocks_per_minute: u32,
    /// Shortest block TTL.
    pub ttl_min: Duration,
    /// Longest block TTL.
    pub ttl_max: Duration,
    /// Block TTL for the 1st, 2nd, ... offence; the last step repeats.
    pub ttl_ladder: Vec<Duration>,
    /// How long a proposal waits for approval before it lapses.
    pub approval_expiry: Duration,
}

impl Limits {
    /// The block TTL for the `n`-th offence (1-based; 0 counts as 1): `ttl_ladder[min(n, len) - 1]`
    /// clamped to `[ttl_min, ttl_max]`; `ttl_min` if the ladder is empty.
    pub fn ttl_for_offence(&self, n: u32) -> Duration {
        let i = (n.max(1) as usize).min(self.ttl_ladder.len()).saturating_sub(1);
        let step = self.ttl_ladder.get(i).copied().unwrap_or(self.ttl_min);
        // max then min rather than clamp: clamp panics if a hand-built Limits has min > max.
        step.max(self.ttl_min).min(self.ttl_max)
    }
}

/// Addresses the sensor never blocks.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowlist {
    /// Gateways, DNS resolvers...: never blocked, whatever the matrix says.
    pub never_block: Vec<Cidr>,
    /// Kept reachable when a host is isolated; never blocked either.
    pub management: Vec<Cidr>,
}

impl Allowlist {
    /// The allowlisted prefix (`never_block` first, then `management`) holding `ip`, if any.
    /// IPv4-mapped IPv6 addresses are looked up as IPv4.
    pub fn protects(&self, ip: IpAddr) -> Option<Cidr> {
        let ip = ip.to_canonical();
        self.entries().find(|c| c.contains(ip))
    }

    /// An allowlisted prefix that `c` contains or lies inside, if any: blocking `c` would
    /// block (part of) it.
    pub fn overlaps(&self, c: &Cidr) -> Option<Cidr> {
        self.entries()
            .find(|a| (a.prefix <= c.prefix && a.contains(c.addr)) || (c.prefix <= a.prefix && c.contains(a.addr)))
    }

    fn entries(&self) -> impl Iterator<Item = Cidr> + '_ {
        self.never_block.iter().chain(&self.management).copied()
    }
}

impl GovernanceConfig {
    /// Reads and validates the file at `path`.
    ///
    /// # Errors
    /// `Read` if the file cannot be read (or is not UTF-8); `Invalid` with the line otherwise.
    pub fn load(path: &Path) -> Result<Self, GovConfigError> {
        let origin = path.display().to_string();
        let text =
            std::fs::read_to_string(path).map_err(|source| GovConfigError::Read { path: origin.clone(), source })?;
        Self::parse(&text, &origin)
    }

    /// Validates `text`; `origin` names it in errors and in [`GovernanceConfig::origin`].
    ///
    /// # Errors
    /// `Invalid` with the line, key and reason of the first problem found.
    pub fn parse(text: &str, origin: &str) -> Result<Self, GovConfigError> {
        validate::build(text, origin)
    }

    /// The embedded default ([`default_toml`]).
    pub fn default_config() -> Self {
        // The embedded text is a constant, not input; a unit test proves it parses.
        Self::parse(DEFAULT_TOML, DEFAULT_ORIGIN).expect("the embedded default governance config is valid")
    }
}

/// The embedded default config: a commented, valid file that documents every key.
pub fn default_toml() -> &'static str {
    DEFAULT_TOML
}

const DEFAULT_TOML: &str = r#"# Sensor governance config: asset inventory, decision policy, authority matrix, limits.
# Load with `sensor run --policy FILE`; this built-in copy applies when none is given.
# Every key is optional: a key left out takes the value shown here. An invalid file is
# refused at start and on reload (the sensor then keeps the previous valid config).
# Durations: 30s, 10m, 1h, 7d ("0" and "never" are not allowed).

# version = "site-policy-7"   # optional; recorded in every audit record. When absent the
#                             # version is "sha256:" + first 12 hex chars of the file bytes.

[policy]
autonomous_ratio = 2.0      # contain alone when cost_of_inaction > ratio x cost_of_action (> 0)
escalate_confidence = 0.85  # else escalate when confidence > this (0-1) ...
escalate_criticality = 8    # ... or the asset's criticality > this (0-10); else monitor
max_loss_share = 0.01       # event loss share (ring/capture) above which nothing is autonomous (0-1)
loss_window = "60s"
min_confidence = 0.5        # incidents below this are only monitored, no decision record (0-1)

[correlation]
window = "30m"              # findings further apart than this start a new incident
stage_boost = 0.2           # how much each additional kill-chain stage raises confidence (0-1)
[correlation.calibration]   # per-agent weight in [0, 1] applied to its findings' confidence
# port_scan = 1.0

[defaults]                  # for addresses not in the inventory
criticality = 3             # 0-10
impact = 50.0               # cost of a compromise, any unit (>= 0)
false_positive_cost = 10.0  # cost of containing by mistake (>= 0)
class = "standard"          # authority-matrix row; needs an [authority.standard] table

# Zero or more assets. An address, CIDR or host name may belong to one asset only; for an
# address the longest matching prefix wins.
# [[asset]]
# name = "db1"
# match = ["10.0.0.5", "10.0.1.0/24", "db1.example.com"]  # addresses, CIDRs, host names
# criticality = 9             # default: defaults.criticality
# impact = 100.0              # default: defaults.impact
# false_positive_cost = 60.0  # default: defaults.false_positive_cost
# owner = "data team"
# protected = false           # true: every action on it is forbidden, whatever the matrix says
# class = "critical"          # default: defaults.class

# One table per asset class: action = "autonomous" | "approval" | "forbidden".
# Actions: block (source address/CIDR in XDP), kill (process), isolate (host: drop all but
# management addresses). An action left out of a table needs approval. A file with any
# [authority.*] table replaces these built-in tables entirely.
[authority.standard]
block = "autonomous"
kill = "approval"
isolate = "approval"

[authority.critical]
block = "approval"
kill = "approval"
isolate = "forbidden"

[limits]
max_active_blocks = 1000    # 0 only if no class has block = "autonomous"
max_new_blocks_per_minute = 30
ttl_min = "1m"
ttl_max = "7d"
ttl_ladder = ["10m", "1h", "24h", "7d"]   # block TTL for the 1st, 2nd, 3rd, 4th+ offence;
                                          # increasing, each within [ttl_min, ttl_max]
approval_expiry = "15m"

[allowlist]                 # addresses or CIDRs; 0.0.0.0/0 and ::/0 are refused
never_block = []            # gateway, DNS resolvers...: never blocked, whatever the matrix says
management = []             # kept reachable when a host is isolated; never blocked either
"#;
