//! `cargo xtask bench`: the kernel-side benchmarks (bench-driver) and the criterion benches,
//! written to docs/BENCHMARKS.md.

use anyhow::{Result, bail};

use crate::{
    bench_replay, build, toolchain,
    util::{self, cargo, is_root, output, root},
};

const REPLAY_HEADING: &str = "## Replay: sensor vs Suricata";

/// Runs the benchmark driver (release build) and appends the criterion results and the
/// replay comparison; `bench replay` runs only the latter and replaces its section.
const CONTAIN_HEADING: &str = "## Detect-to-block latency";
/// Heading of the signature-engine section `bench rules` replaces.
const RULES_HEADING: &str = "## Signatures: sensor vs Suricata";
/// Heading of the lake section `bench lake` replaces.
const LAKE_HEADING: &str = "## Lake: write cost and query latency";
/// Heading of the fleet section `bench fleet` replaces.
const FLEET_HEADING: &str = "## Fleet propagation";

/// `md` with the section starting at `heading` (up to the next `## `) replaced by
/// `section`, or with `section` appended.
fn replace_section(md: &str, heading: &str, section: &str) -> String {
    let kept = match md.find(heading) {
        Some(at) => {
            let rest = &md[at + heading.len()..];
            let end = rest.find("\n## ").map_or(md.len(), |e| at + heading.len() + e + 1);
            format!("{}{}", &md[..at], &md[end..])
        }
        None => md.to_owned(),
    };
    format!("{}\n\n{section}", kept.trim_end())
}

pub fn run(extra: &[String]) -> Result<()> {
    let doc = root().join("docs/BENCHMARKS.md");
    let one = match extra.first().map(String::as_str) {
        Some("replay") => Some((REPLAY_HEADING, None)),
        Some("rules") => Some((RULES_HEADING, None)),
        Some("lake") => Some((LAKE_HEADING, None)),
        Some("fleet") => Some((FLEET_HEADING, Some("fleet"))),
        Some("contain") => Some((CONTAIN_HEADING, Some("containment"))),
        _ => None,
    };
    if let Some((heading, live)) = one {
        // The live benchmarks load the kernel object and create network namespaces.
        let object = match live {
            Some(what) => {
                if !is_root() {
                    bail!(
                        "the {what} benchmark creates network namespaces: run `sudo -E cargo xtask bench {}`",
                        extra[0]
                    );
                }
                util::ensure_kernel_mounts()?;
                Some(build::ebpf(&toolchain::ensure()?)?)
            }
            None => None,
        };
        let section = match (extra[0].as_str(), object.as_deref()) {
            ("replay", _) => bench_replay::run()?,
            ("rules", _) => crate::bench_rules::run()?,
            ("lake", _) => crate::bench_lake::run()?,
            ("fleet", Some(o)) => crate::bench_fleet::run(o)?,
            (_, Some(o)) => crate::bench_contain::run(o)?,
            (other, None) => bail!("unknown benchmark {other}"),
        };
        let md = std::fs::read_to_string(&doc).unwrap_or_default();
        std::fs::write(&doc, replace_section(&md, heading, &section))?;
        eprintln!("{section}\nwrote {}", doc.display());
        return Ok(());
    }
    if !is_root() {
        bail!("the benchmarks load BPF programs and create network namespaces: run `sudo -E cargo xtask bench`");
    }
    util::ensure_kernel_mounts()?;
    let tc = toolchain::ensure()?;
    let object = build::ebpf(&tc)?;
    util::run(
        cargo()
            .args(["run", "--release", "-p", "benches", "--bin", "bench-driver", "--"])
            .arg("--out")
            .arg(&doc)
            .args(extra)
            .env("SENSOR_BPF_OBJECT", &object),
    )?;
    let crit = output(cargo().args(["bench", "-p", "benches", "--", "--noplot"]))
        .unwrap_or_else(|| "criterion run failed\n".into());
    let lines: Vec<&str> = crit
        .lines()
        .filter(|l| {
            l.contains("time:")
                || l.contains("thrpt:")
                || l.starts_with("event_decode")
                || l.starts_with("packet_pipeline")
        })
        .collect();
    let mut md = std::fs::read_to_string(&doc)?;
    md.push_str("\n## User space: criterion (`cargo bench -p benches`)\n\n```\n");
    md.push_str(&lines.join("\n"));
    md.push_str("\n```\n");
    md.push('\n');
    md.push_str(&bench_replay::run()?);
    md.push('\n');
    md.push_str(&crate::bench_rules::run()?);
    md.push('\n');
    md.push_str(&crate::bench_lake::run()?);
    md.push('\n');
    md.push_str(&crate::bench_fleet::run(&object)?);
    std::fs::write(&doc, md)?;
    eprintln!("wrote {}", doc.display());
    Ok(())
}
