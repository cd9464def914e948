//! `sensor rules check|reload` and the signature engine of `run`/`replay`: rule variables
//! from `--var`, the classification file, loading with a report, and the summary lines.

use std::{
    path::PathBuf,
    sync::{Arc, mpsc::Sender},
};

use anyhow::{Context, Result, bail};
use sensor_user::api::handler::RulesReload;
use sensor_user::rules::{
    detector::SignatureAgent,
    engine::Ruleset,
    parse::{Classifications, RuleConfig, RuleVars},
    set::{self, SetReport},
};

use crate::cli::{RuleArgs, RuleVarArgs};

/// How many skipped rules `check` lists without `--verbose`.
const SHOW_SKIPPED: usize = 10;

/// The rule configuration from the command line.
pub fn config(args: &RuleVarArgs, paths: &[PathBuf]) -> Result<RuleConfig> {
    let mut vars = RuleVars::suricata_default();
    for v in &args.vars {
        let (name, value) = v.split_once('=').with_context(|| format!("--var {v}: expected NAME=VALUE"))?;
        let (kind, name) = match name.split_once(':') {
            Some((k @ ("address" | "port"), n)) => (k, n),
            _ if name.ends_with("_PORTS") || name.ends_with("_PORT") => ("port", name),
            _ => ("address", name),
        };
        let name = name.trim().trim_start_matches('$');
        let res = if kind == "port" { vars.set_port(name, value.trim()) } else { vars.set_address(name, value.trim()) };
        res.with_context(|| format!("--var {v}"))?;
    }
    let class_file = args.classification.clone().or_else(|| {
        let first = paths.first()?;
        let dir = if first.is_dir() { first.as_path() } else { first.parent()? };
        Some(dir.join("classification.config")).filter(|p| p.is_file())
    });
    let classes = match class_file {
        Some(p) => {
            Classifications::parse(&std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))?)
        }
        None => Classifications::suricata_default(),
    };
    if let Some(tf) = &args.threshold_file
        && !tf.is_file()
    {
        bail!("threshold file {} does not exist", tf.display());
    }
    Ok(RuleConfig {
        vars,
        classes,
        mpm: args.mpm,
        action_order: args.action_order,
        threshold_file: args.threshold_file.clone(),
    })
}

/// Loads the rules of `run`/`replay`; None without `--rules`. Prints one summary line (and
/// the syntax errors) on stderr.
pub fn build(args: &RuleArgs, quiet: bool) -> Result<Option<SignatureAgent>> {
    if args.rules.is_empty() {
        return Ok(None);
    }
    let cfg = config(&args.vars, &args.rules)?;
    let (rules, report) = load(&args.rules, &cfg)?;
    if !quiet {
        eprintln!("{}", summary_line(&report));
        for e in report.errors.iter().take(SHOW_SKIPPED) {
            eprintln!("  error {}: {}", e.origin, e.reason);
        }
        for f in &report.mpm_fallbacks {
            eprintln!("  prefilter on aho-corasick, hyperscan refused {f}");
        }
    }
    let mut agent = SignatureAgent::new(rules);
    agent.midstream = args.midstream;
    agent.async_oneside = args.async_oneside;
    agent.midstream_policy = args.midstream_policy;
    agent.ips = args.simulate_ips;
    Ok(Some(agent))
}

fn load(
    paths: &[PathBuf],
    cfg: &RuleConfig,
) -> Result<(std::sync::Arc<sensor_user::rules::engine::Ruleset>, SetReport)> {
    for p in paths {
        if !p.exists() {
            bail!("rule path {} does not exist", p.display());
        }
    }
    set::load(paths, cfg).with_context(|| format!("reading rules from {}", show(paths)))
}

fn show(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

/// A reload function for SIGHUP and the control socket: rebuilds the rule set from the same
/// arguments beside the one running and sends it to the pipeline, which swaps it in between
/// batches. A set that cannot be read keeps the old one in force.
pub fn reloader(args: RuleArgs, tx: Sender<Arc<Ruleset>>) -> RulesReload {
    Box::new(move || {
        for p in &args.rules {
            sensor_user::trust::check(p, "rule file").map_err(|e| e.to_string())?;
        }
        let cfg = config(&args.vars, &args.rules).map_err(|e| format!("{e:#}"))?;
        let (rules, report) = load(&args.rules, &cfg).map_err(|e| format!("{e:#}"))?;
        tx.send(rules).map_err(|_| "the packet pipeline has stopped".to_owned())?;
        Ok(format!("reloaded: {}", summary_line(&report)))
    })
}

/// `rules: N loaded, M skipped, E errors from F files in T ms`.
pub fn summary_line(r: &SetReport) -> String {
    let thresholds = if r.threshold_entries > 0 {
        format!("; threshold file: {} entries, {} naming no loaded rule", r.threshold_entries, r.threshold_unmatched)
    } else {
        String::new()
    };
    format!(
        "rules: {} loaded, {} skipped, {} with errors, from {} file(s) in {} ms ({} fast patterns in {} KiB of {}, {} rules without one){}",
        r.loaded,
        r.skipped.len(),
        r.errors.len(),
        r.files,
        r.load_ms,
        r.prefilter_patterns,
        r.prefilter_bytes / 1024,
        if r.mpm.is_empty() { "-" } else { &r.mpm },
        r.no_fast_pattern,
        thresholds
    )
}

/// `sensor rules check`.
pub fn check(paths: &[PathBuf], vars: &RuleVarArgs, json: bool, verbose: bool) -> Result<()> {
    let cfg = config(vars, paths)?;
    let (_, r) = load(paths, &cfg)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&r)?);
    } else {
        let total = r.loaded + r.skipped.len() + r.errors.len();
        let pct = if total == 0 { 0.0 } else { 100.0 * r.loaded as f64 / total as f64 };
        println!("{} ({pct:.2}% of {total} rules)", summary_line(&r));
        for f in &r.mpm_fallbacks {
            println!("prefilter on aho-corasick, hyperscan refused {f}");
        }
        if !r.skip_summary.is_empty() {
            println!("skipped by reason:");
            for (reason, n) in &r.skip_summary {
                println!("  {n:6}  {reason}");
            }
        }
        let shown = if verbose { r.skipped.len() } else { SHOW_SKIPPED.min(r.skipped.len()) };
        for s in &r.skipped[..shown] {
            println!("skipped {} (sid {}): {}", s.origin, s.sid, s.reason);
        }
        if shown < r.skipped.len() {
            println!("... {} more skipped (--verbose lists them all)", r.skipped.len() - shown);
        }
        for e in &r.errors {
            println!("error {}: {}", e.origin, e.reason);
        }
    }
    if !r.errors.is_empty() {
        bail!("{} rule(s) with errors (the other {} loaded)", r.errors.len(), r.loaded);
    }
    Ok(())
}
