//! `cargo xtask fuzz [TARGET|all] [SECONDS]`: runs the cargo-fuzz targets of `fuzz/`
//! (libFuzzer) one after the other, each for SECONDS (default 600), starting from the
//! committed seeds (`fuzz/corpus/TARGET`, copied to `fuzz/target/corpus/TARGET` so the
//! repository's seeds stay as they are), and prints executions, coverage and crashes per
//! target. A crash is left in `fuzz/artifacts/TARGET/`: fix it, then commit the input to
//! `fuzz/regressions/TARGET/`, which the test suite replays.
//!
//! cargo-fuzz is installed from crates.io when missing. The toolchain is stable: the build
//! uses libFuzzer's coverage instrumentation without a sanitizer (`-s none`; Rust code is
//! memory-safe, and `RUSTC_BOOTSTRAP=1` lets cargo-fuzz pass its flags to stable rustc).

use std::{
    path::Path,
    process::{Command, Stdio},
};

use anyhow::{Context, Result, bail};

use crate::util;

const TARGETS: [&str; 6] =
    ["packet_decode", "capture_reader", "rule_parser", "app_layer", "log_parser", "indicator_parser"];

/// What one run gave.
struct Outcome {
    target: &'static str,
    executions: u64,
    seconds: u64,
    coverage: Option<u64>,
    features: Option<u64>,
    corpus: Option<u64>,
    crashes: Vec<String>,
}

pub fn run(args: &[String]) -> Result<()> {
    let which = args.first().map_or("all", String::as_str);
    let secs: u64 = match args.get(1) {
        Some(s) => s.parse().with_context(|| format!("SECONDS {s:?} is not a number"))?,
        None => 600,
    };
    let targets: Vec<&'static str> = match which {
        "all" => TARGETS.to_vec(),
        t => vec![
            *TARGETS.iter().find(|x| **x == t).with_context(|| format!("no fuzz target {t}; targets: {TARGETS:?}"))?,
        ],
    };
    ensure_cargo_fuzz()?;
    let fuzz = util::root().join("fuzz");
    let mut build = Command::new("cargo");
    build.current_dir(&fuzz).env("RUSTC_BOOTSTRAP", "1").args(["fuzz", "build", "-s", "none", "-O"]);
    util::run(&mut build)?;
    let mut results = Vec::new();
    for t in targets {
        results.push(run_one(&fuzz, t, secs)?);
    }
    println!("\n| target | seconds | executions | exec/s | coverage (edges) | features | corpus | crashes |");
    println!("|---|---:|---:|---:|---:|---:|---:|---|");
    let show = |v: Option<u64>| v.map_or_else(|| "?".to_owned(), |n| n.to_string());
    for r in &results {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            r.target,
            r.seconds,
            r.executions,
            r.executions / r.seconds.max(1),
            show(r.coverage),
            show(r.features),
            show(r.corpus),
            if r.crashes.is_empty() { "none".to_owned() } else { r.crashes.join(", ") }
        );
    }
    let crashed: Vec<_> = results.iter().filter(|r| !r.crashes.is_empty()).map(|r| r.target).collect();
    if !crashed.is_empty() {
        bail!("crashes in {crashed:?}: inputs in fuzz/artifacts/ (fix, then commit them to fuzz/regressions/TARGET/)");
    }
    Ok(())
}

fn ensure_cargo_fuzz() -> Result<()> {
    let ok = Command::new("cargo").args(["fuzz", "--version"]).stdout(Stdio::null()).stderr(Stdio::null()).status();
    if ok.is_ok_and(|s| s.success()) {
        return Ok(());
    }
    util::run(Command::new("cargo").args(["install", "cargo-fuzz", "--locked"]))
}

fn run_one(fuzz: &Path, target: &'static str, secs: u64) -> Result<Outcome> {
    let work = fuzz.join("target/corpus").join(target);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let seeds = fuzz.join("corpus").join(target);
    let artifacts = fuzz.join("artifacts").join(target);
    std::fs::create_dir_all(&artifacts)?;
    let before: Vec<_> = list(&artifacts);
    let mut cmd = Command::new("cargo");
    cmd.current_dir(fuzz).env("RUSTC_BOOTSTRAP", "1").args(["fuzz", "run", "-s", "none", "-O", target]);
    cmd.arg(&work).arg(&seeds).arg("--").args([
        format!("-max_total_time={secs}"),
        "-rss_limit_mb=2048".into(),
        "-timeout=10".into(),
        "-max_len=65536".into(),
        "-print_final_stats=1".into(),
        format!("-artifact_prefix={}/", artifacts.display()),
    ]);
    eprintln!("+ fuzz {target} for {secs} s");
    let out = cmd.stderr(Stdio::piped()).output().with_context(|| format!("cannot run cargo fuzz {target}"))?;
    let log = String::from_utf8_lossy(&out.stderr);
    let log_path = fuzz.join("target").join(format!("{target}.log"));
    let _ = std::fs::write(&log_path, log.as_bytes());
    let stat = |key: &str| {
        log.lines()
            .rev()
            .find_map(|l| l.strip_prefix(key))
            .and_then(|v| v.trim().trim_start_matches(':').trim().parse().ok())
    };
    // The last status line: "#N DONE cov: C ft: F corp: K/..."
    let last = log.lines().rev().find(|l| l.starts_with('#') && l.contains("cov:")).unwrap_or("");
    let after = |key: &str| {
        last.split_whitespace().skip_while(|w| *w != key).nth(1).and_then(|v| v.split('/').next()?.parse().ok())
    };
    let crashes: Vec<String> = list(&artifacts).into_iter().filter(|a| !before.contains(a)).collect();
    if !out.status.success() && crashes.is_empty() {
        bail!("cargo fuzz run {target} failed ({}); log in {}", out.status, log_path.display());
    }
    Ok(Outcome {
        target,
        executions: stat("stat::number_of_executed_units").unwrap_or(0),
        seconds: secs,
        coverage: after("cov:"),
        features: after("ft:"),
        corpus: after("corp:"),
        crashes,
    })
}

fn list(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
