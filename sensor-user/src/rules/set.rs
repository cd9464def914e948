//! Loading a whole rule set: parse the files, build the engine, and report what loaded and
//! what was skipped or refused (file:line and reason), for `sensor rules check`, start-up
//! and reload.

use std::{path::PathBuf, sync::Arc, time::Instant};

use super::{
    engine::{BuildOptions, BuildReport, Ruleset},
    parse::{self, RuleConfig},
};

/// A rule that was not loaded.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Refused {
    /// `file:line`.
    pub origin: String,
    /// The rule's sid (0 when unknown).
    pub sid: u32,
    /// Why.
    pub reason: String,
}

/// What loading a rule set gave.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct SetReport {
    /// Rule files read.
    pub files: usize,
    /// Rules in the engine.
    pub loaded: usize,
    /// Rules the engine cannot honour exactly (unknown keyword, unsupported protocol or
    /// combination): reported, never half-applied.
    pub skipped: Vec<Refused>,
    /// Rules with syntax errors (bad quoting, hex, variables, duplicate sids, absurd values,
    /// a pcre that does not compile).
    pub errors: Vec<Refused>,
    /// Skip reasons with their counts, most frequent first.
    pub skip_summary: Vec<(String, usize)>,
    /// Parse and build time, milliseconds.
    pub load_ms: u64,
    /// Distinct fast patterns in the prefilters.
    pub prefilter_patterns: usize,
    /// Rules inspected on every packet or transaction of their group (no usable fast pattern).
    pub no_fast_pattern: usize,
    /// The prefilters' matcher (`hs` or `ac`; `hs` falls back to `ac` per buffer if refused).
    pub mpm: String,
    /// Bytes held by the prefilters' matchers.
    pub prefilter_bytes: usize,
    /// Prefilters that fell back to aho-corasick because libhs refused their patterns:
    /// `group/buffer: reason`.
    pub mpm_fallbacks: Vec<String>,
    /// threshold.config entries read (0 without a threshold file).
    pub threshold_entries: usize,
    /// threshold.config entries that named no loaded rule.
    pub threshold_unmatched: usize,
}

/// Loads and builds the rules in `paths` (files, or directories of `*.rules`).
pub fn load(paths: &[PathBuf], cfg: &RuleConfig) -> std::io::Result<(Arc<Ruleset>, SetReport)> {
    let start = Instant::now();
    let report = parse::load(paths, cfg)?;
    let mut out = SetReport {
        files: report.files,
        skip_summary: report.skip_summary(),
        threshold_entries: report.threshold_entries.0,
        threshold_unmatched: report.threshold_entries.1,
        ..SetReport::default()
    };
    out.skipped = report
        .skipped
        .iter()
        .map(|(origin, sid, reason)| Refused { origin: origin.clone(), sid: *sid, reason: reason.to_string() })
        .collect();
    out.errors = report
        .errors
        .iter()
        .map(|(origin, e)| Refused { origin: origin.clone(), sid: 0, reason: e.to_string() })
        .collect();
    let names = report.names.names().len();
    let sigs = report.signatures;
    let origins: Vec<(String, u32)> = sigs.iter().map(|s| (s.origin.clone(), s.sid)).collect();
    let opts = BuildOptions { mpm: cfg.mpm, action_order: cfg.action_order };
    let (rules, build): (Ruleset, BuildReport) = Ruleset::build_with(sigs, names, opts);
    for (idx, e) in &build.failed {
        let (origin, sid) = origins.get(*idx).cloned().unwrap_or_default();
        out.errors.push(Refused { origin, sid, reason: e.to_string() });
    }
    out.loaded = rules.len();
    let pf = rules.prefilter_stats();
    out.prefilter_patterns = pf.buffers.iter().map(|b| b.patterns).sum();
    out.no_fast_pattern = pf.no_fast_pattern;
    out.prefilter_bytes = pf.buffers.iter().map(|b| b.bytes).sum();
    out.mpm_fallbacks = pf
        .buffers
        .iter()
        .filter_map(|b| b.fallback.as_ref().map(|why| format!("{}/{:?}: {why}", b.group, b.buffer)))
        .collect();
    let mut mpms: Vec<&str> = pf.buffers.iter().map(|b| b.mpm.name()).collect();
    mpms.sort_unstable();
    mpms.dedup();
    out.mpm = mpms.join("+");
    out.load_ms = start.elapsed().as_millis() as u64;
    Ok((Arc::new(rules), out))
}
