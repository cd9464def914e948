//! `sensor query`, `sensor lake ...`, and the lake and OCSF outputs of `run` and `replay`.

use std::{
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::{Context, Result, bail};
use sensor_user::{
    block::parse_ttl,
    lake::{
        Lake, LakeConfig, Maintenance,
        history::{self, History},
        maintain,
        query::{self, Format},
        schema,
    },
};

use crate::cli::{LakeArgs, LakeCmd};

/// A size: bytes, or with K, M, G, T (powers of 1024).
pub fn parse_size(s: &str) -> Result<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => {
            let m = match c.to_ascii_uppercase() {
                'K' => 1u64 << 10,
                'M' => 1 << 20,
                'G' => 1 << 30,
                'T' => 1 << 40,
                _ => bail!("size {s:?}: unknown unit {c:?} (use K, M, G or T)"),
            };
            (&s[..i], m)
        }
        _ => (s, 1),
    };
    let n: f64 = num.trim().parse().with_context(|| format!("size {s:?} is not a number with K/M/G/T"))?;
    if !n.is_finite() || n < 0.0 {
        bail!("size {s:?} must be positive");
    }
    Ok((n * mult as f64) as u64)
}

fn age(s: &str) -> Result<Option<Duration>> {
    parse_ttl(s).with_context(|| format!("age {s:?}"))
}

/// The lake directory to read: `--lake`, else STATE_DIR/lake.
pub fn dir(lake: Option<&Path>, state_dir: &Path) -> PathBuf {
    lake.map_or_else(|| state_dir.join("lake"), Path::to_path_buf)
}

/// Opens the lake the arguments ask for: `run` writes STATE_DIR/lake by default, `replay`
/// only with --lake.
pub fn open(args: &LakeArgs, state_dir: Option<&Path>) -> Result<Option<Lake>> {
    let (root, live) = match (&args.lake, state_dir) {
        _ if args.no_lake => return Ok(None),
        (Some(p), s) => (p.clone(), s.is_some()),
        (None, Some(s)) => (s.join("lake"), true),
        (None, None) => return Ok(None),
    };
    let mut cfg = if live { LakeConfig::live(root) } else { LakeConfig::replay(root) };
    if let Some(a) = &args.lake_max_age {
        cfg.maintenance.max_age = age(a)?;
    }
    if let Some(secs) = args.lake_flush {
        if !(secs.is_finite() && secs > 0.0) {
            bail!("--lake-flush must be a positive number of seconds");
        }
        cfg.flush_interval = Duration::from_secs_f64(secs);
    }
    if let Some(s) = &args.lake_max_size {
        cfg.maintenance.max_bytes = Some(parse_size(s)?);
    }
    let lake = Lake::open(cfg).context("opening the lake")?;
    eprintln!("lake: writing {}", lake.config().root.display());
    Ok(Some(lake))
}

/// The recent history the agents warm up on (`--agent-history`), read from `lake` up to
/// now; None when turned off.
pub fn history(lake: &Lake, since: &str) -> Result<Option<History>> {
    let Some(span) = parse_ttl(since).with_context(|| format!("--agent-history {since:?}"))? else {
        return Ok(None);
    };
    let now = sensor_user::respond::wall_ns();
    let from = now.saturating_sub(u64::try_from(span.as_nanos()).unwrap_or(u64::MAX));
    let cfg = lake.config();
    let h = history::load(&cfg.root, &cfg.host, from, history::DEFAULT_MAX_EVENTS);
    for s in &h.skipped {
        eprintln!("warning: lake: unreadable file skipped for the agents' history: {s}");
    }
    Ok(Some(h))
}

/// An OCSF output file, when asked for.
pub fn ocsf_out(args: &LakeArgs) -> Result<Option<Box<dyn Write + Send>>> {
    match &args.ocsf {
        Some(p) => {
            let f = std::fs::File::create(p).with_context(|| format!("cannot create OCSF output {}", p.display()))?;
            Ok(Some(Box::new(std::io::BufWriter::new(f))))
        }
        None => Ok(None),
    }
}

/// `sensor query`.
pub fn query_cmd(sql: &str, lake: Option<&Path>, state_dir: &Path, json: bool, csv: bool) -> Result<()> {
    let root = dir(lake, state_dir);
    let r = query::run(&root, sql)?;
    for (p, why) in &r.skipped {
        eprintln!("warning: skipped unreadable file {}: {why}", p.display());
    }
    let format = if json {
        Format::Json
    } else if csv {
        Format::Csv
    } else {
        Format::Table
    };
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    query::write(&mut out, &r, format)?;
    out.flush()?;
    if format == Format::Table {
        eprintln!(
            "{} row(s) from {} file(s) in {:.3}s{}",
            r.rows(),
            r.files,
            r.elapsed.as_secs_f64(),
            if r.skipped.is_empty() {
                String::new()
            } else {
                format!("; {} unreadable file(s) skipped", r.skipped.len())
            }
        );
    }
    Ok(())
}

/// `sensor lake ...`.
pub fn command(what: &LakeCmd, state_dir: &Path) -> Result<()> {
    match what {
        LakeCmd::Schema => print!("{}", schema::markdown()),
        LakeCmd::Maintain { lake, max_age, max_size } => {
            let root = dir(lake.as_deref(), state_dir);
            if !root.is_dir() {
                bail!("no lake at {}", root.display());
            }
            maintain::recover(&root);
            let m = Maintenance {
                max_age: max_age.as_deref().map(age).transpose()?.flatten(),
                max_bytes: max_size.as_deref().map(parse_size).transpose()?,
                ..Maintenance::default()
            };
            let r = maintain::run(&root, &m);
            println!(
                "compacted {} partition(s) ({} files merged); retention removed {} file(s), {} bytes",
                r.compacted_partitions, r.compacted_inputs, r.expired, r.expired_bytes
            );
            for p in &r.unreadable {
                println!("unreadable (left in place): {}", p.display());
            }
            for e in &r.errors {
                eprintln!("error: {e}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::parse_size;

    #[test]
    fn sizes_take_binary_units() {
        assert_eq!(parse_size("10G").expect("10G"), 10 << 30);
        assert_eq!(parse_size("512").expect("512"), 512);
        assert_eq!(parse_size("1.5k").expect("1.5k"), 1536);
        assert!(parse_size("3X").is_err());
        assert!(parse_size("lots").is_err());
    }
}
