//! `cargo xtask bench`: the kernel-side benchmarks (bench-driver) and the criterion benches,
//! written to docs/BENCHMARKS.md.

use anyhow::{Result, bail};

use crate::{
    build, toolchain,
    util::{self, cargo, is_root, output, root},
};

/// Runs the benchmark driver (release build) and appends the criterion results.
pub fn run(extra: &[String]) -> Result<()> {
    if !is_root() {
        bail!("the benchmarks load BPF programs and create network namespaces: run `sudo -E cargo xtask bench`");
    }
    util::ensure_kernel_mounts()?;
    let tc = toolchain::ensure()?;
    let object = build::ebpf(&tc)?;
    let doc = root().join("docs/BENCHMARKS.md");
    util::run(
        cargo()
            .args(["run", "--release", "-p", "benches", "--bin", "bench-driver", "--"])
            .arg("--out")
            .arg(&doc)
            .args(extra)
            .env("SENSOR_BPF_OBJECT", &object),
    )?;
    let crit = output(cargo().args(["bench", "-p", "benches", "--bench", "event_decode", "--", "--noplot"]))
        .unwrap_or_else(|| "criterion run failed\n".into());
    let lines: Vec<&str> =
        crit.lines().filter(|l| l.contains("time:") || l.contains("thrpt:") || l.starts_with("event_decode")).collect();
    let mut md = std::fs::read_to_string(&doc)?;
    md.push_str("\n## User space: criterion (`cargo bench -p benches`)\n\n```\n");
    md.push_str(&lines.join("\n"));
    md.push_str("\n```\n");
    std::fs::write(&doc, md)?;
    eprintln!("wrote {}", doc.display());
    Ok(())
}
