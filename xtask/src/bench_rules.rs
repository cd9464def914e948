//! `cargo xtask bench rules`: the signature engine against Suricata 7 with the whole ET Open
//! rule set on the capture built by `../shared/data/make-bench-pcap.sh`, side by side in one
//! run (DESIGN.md §8, issue P5).
//!
//! Both run pinned to one core (`taskset -c 1`) with the same rules, variables (Suricata's
//! defaults) and app-layer protocols (the four the sensor parses; Suricata refuses the rules of
//! the others, as the sensor skips them). Processing time is CPU time (user + system, all
//! threads, from `/usr/bin/time`), which the virtual machine's steal does not inflate; rule
//! loading is excluded by subtracting each tool's median CPU time on a one-packet capture, and
//! the rule-load time reported is that run's wall time. Median of 5 runs; peak memory from
//! `/usr/bin/time`. Alert agreement is measured by
//! `benches/scripts/sig_agreement.py`: (sid, flow 5-tuple) pairs, precision and recall of the
//! sensor's alerts against Suricata's.
//!
//! The sensor runs twice, once per prefilter matcher (`--mpm hs`, Hyperscan, its default; and
//! `--mpm ac`, the aho-corasick crate), so the two are measured side by side on the same input.

use std::{path::Path, process::Command};

use anyhow::{Context, Result};

use crate::{
    bench_replay::{SURICATA_YAML, capinfos, ensure_suricata, median, pinned, reset, timed_cpu},
    util::{self, cargo, root},
};

const RUNS: usize = 5;

struct Measured {
    /// Wall seconds on the one-packet capture (rule loading).
    load_s: f64,
    /// CPU seconds on the one-packet capture.
    load_cpu_s: f64,
    /// CPU seconds on the whole capture.
    cpu_s: f64,
    peak_kib: u64,
    alerts: usize,
}

/// Runs the comparison and returns the markdown section.
pub fn run() -> Result<String> {
    util::apt_install(&["tshark", "time", "python3"])?;
    util::ensure_sensor_libs()?;
    ensure_suricata()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let pcap = bench_dir.join("bench.pcap");
    if !pcap.exists() {
        util::run(Command::new("bash").arg(root().join("../shared/data/make-bench-pcap.sh")).arg(&pcap))?;
    }
    let tiny = bench_dir.join("one-packet.pcap");
    util::run(Command::new("editcap").args(["-r"]).arg(&pcap).arg(&tiny).arg("1"))?;
    util::run(cargo().args(["build", "--release", "-p", "sensor-user", "--bin", "sensor"]))?;
    let sensor = root().join("target/release/sensor");
    let et = root().join("../shared/data/rules/et-open").canonicalize().context("../shared/data/rules/et-open")?;
    let cfg = bench_dir.join("suricata-rules.yaml");
    let yaml = suricata_yaml(&et);
    if !yaml.contains("*.rules") || !yaml.contains("- alert:") {
        anyhow::bail!("the replay benchmark's suricata.yaml changed shape: update bench_rules::suricata_yaml");
    }
    std::fs::write(&cfg, yaml)?;
    let (packets, bytes) = capinfos(&pcap)?;
    let sensor_cmd = |mpm: &'static str| {
        let (sensor, et) = (sensor.clone(), et.clone());
        move |input: &Path, out: &Path| {
            let mut c = pinned();
            c.arg(&sensor)
                .args(["replay", "--no-agents", "--no-govern", "--quiet", "--no-progress", "--mpm", mpm, "--rules"])
                .arg(&et)
                .arg("--eve")
                .arg(out.join("eve.json"))
                .arg(input);
            c
        }
    };
    let suricata_cmd = |input: &Path, out: &Path| {
        let mut c = pinned();
        c.args(["suricata", "-c"])
            .arg(&cfg)
            .args(["-k", "none", "--runmode", "single", "-l"])
            .arg(out)
            .arg("-r")
            .arg(input);
        c
    };
    eprintln!("bench rules: {packets} packets, {bytes} bytes, ET Open; {RUNS} runs each, pinned to CPU 1");
    let ours = measure("sensor-rules", &bench_dir, &pcap, &tiny, &sensor_cmd("hs"))?;
    let ac = measure("sensor-rules-ac", &bench_dir, &pcap, &tiny, &sensor_cmd("ac"))?;
    let theirs = measure("suricata-rules", &bench_dir, &pcap, &tiny, &suricata_cmd)?;
    let agreement = util::output(
        Command::new("python3")
            .arg(root().join("benches/scripts/sig_agreement.py"))
            .arg(bench_dir.join("out-sensor-rules/eve.json"))
            .arg(bench_dir.join("out-suricata-rules/eve.json")),
    )
    .context("benches/scripts/sig_agreement.py failed")?;
    let check = util::output(Command::new(&sensor).args(["rules", "check"]).arg(&et)).unwrap_or_default();
    let version = util::output(Command::new("suricata").arg("-V")).unwrap_or_default();
    let runs = Runs { ours: &ours, ac: &ac, theirs: &theirs };
    Ok(report(packets, bytes, &runs, agreement.trim(), check.lines().next().unwrap_or(""), version.trim()))
}

fn measure(
    name: &str,
    dir: &Path,
    pcap: &Path,
    tiny: &Path,
    cmd: &dyn Fn(&Path, &Path) -> Command,
) -> Result<Measured> {
    let out = dir.join(format!("out-{name}"));
    let (mut load, mut load_cpu, mut full, mut peak) = (Vec::new(), Vec::new(), Vec::new(), 0);
    for _ in 0..RUNS {
        reset(&out)?;
        let t = timed_cpu(&mut cmd(tiny, &out))?;
        load.push(t.wall_s);
        load_cpu.push(t.cpu_s);
        reset(&out)?;
        let t = timed_cpu(&mut cmd(pcap, &out))?;
        full.push(t.cpu_s);
        peak = peak.max(t.peak_kib);
        eprintln!(
            "  {name}: {:.3} s wall, {:.3} s CPU ({:.3} s CPU loading), peak {} KiB",
            t.wall_s,
            t.cpu_s,
            load_cpu.last().copied().unwrap_or(0.0),
            t.peak_kib
        );
    }
    let eve = std::fs::read_to_string(out.join("eve.json")).with_context(|| format!("{name} wrote no eve.json"))?;
    let alerts = eve.matches("\"event_type\":\"alert\"").count();
    Ok(Measured {
        load_s: median(&mut load),
        load_cpu_s: median(&mut load_cpu),
        cpu_s: median(&mut full),
        peak_kib: peak,
        alerts,
    })
}

/// The three measured configurations.
struct Runs<'a> {
    ours: &'a Measured,
    ac: &'a Measured,
    theirs: &'a Measured,
}

fn report(packets: u64, bytes: u64, runs: &Runs<'_>, agreement: &str, check: &str, version: &str) -> String {
    let row = |m: &Measured| {
        let secs = (m.cpu_s - m.load_cpu_s).max(1e-6);
        (packets as f64 / secs, bytes as f64 * 8.0 / secs / 1e9, secs)
    };
    let line = |name: &str, m: &Measured| {
        let (pps, gbps, secs) = row(m);
        format!(
            "| {name} | {pps:.0} | {gbps:.2} | {secs:.3} | {:.3} | {:.1} | {} |\n",
            m.load_s,
            m.peak_kib as f64 / 1024.0,
            m.alerts
        )
    };
    let Runs { ours, ac, theirs } = *runs;
    let ratio = |m: &Measured| {
        format!(
            "**{:.2}x** | | | **{:.2}x** | **{:.2}x** |",
            row(m).0 / row(theirs).0,
            m.load_s / theirs.load_s,
            m.peak_kib as f64 / theirs.peak_kib.max(1) as f64
        )
    };
    let cpu = util::output(Command::new("sh").args(["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]))
        .unwrap_or_default();
    format!(
        "## Signatures: sensor vs Suricata with ET Open (`cargo xtask bench rules`)\n\n\
         Capture: `make-bench-pcap.sh` output, {packets} packets, {bytes} bytes. Rules: the whole ET Open \
         set in ../shared/data/rules/et-open, Suricata's default variables. All pinned to CPU 1 \
         (`taskset -c 1`), median of {RUNS} runs. Processing s is CPU time (user + system, all threads), \
         less the median CPU time on a one-packet capture (rule loading); rule load s is the wall \
         time of that one-packet run. {version}; CPU:{cpu}\n\n\
         Sensor: {check}\n\n\
         | | packets/s | Gbit/s | processing CPU s | rule load s | peak RSS MiB | alerts |\n|---|---|---|---|---|---|---|\n\
         {}{}{}\
         | **ratio** sensor (Hyperscan) / Suricata | {} |\n\
         | ratio sensor (aho-corasick) / Suricata | {} |\n\n\
         Alert agreement (Hyperscan run), matched by (sid, flow 5-tuple): {agreement}\n",
        line("sensor replay --rules (--mpm hs, default)", ours),
        line("sensor replay --rules --mpm ac", ac),
        line("suricata --runmode single -S", theirs),
        ratio(ours),
        ratio(ac),
    )
}

/// The replay benchmark's configuration (same parsers, same eve types) plus Suricata's other
/// default variables, the ET Open directory, its classification file and alert records.
fn suricata_yaml(et: &Path) -> String {
    let et = et.display();
    SURICATA_YAML
        .replace(
            "    EXTERNAL_NET: \"!$HOME_NET\"\n",
            "    EXTERNAL_NET: \"!$HOME_NET\"\n    HTTP_SERVERS: \"$HOME_NET\"\n    SMTP_SERVERS: \"$HOME_NET\"\n    \
             SQL_SERVERS: \"$HOME_NET\"\n    DNS_SERVERS: \"$HOME_NET\"\n    TELNET_SERVERS: \"$HOME_NET\"\n    \
             AIM_SERVERS: \"$EXTERNAL_NET\"\n    DC_SERVERS: \"$HOME_NET\"\n    DNP3_SERVER: \"$HOME_NET\"\n    \
             DNP3_CLIENT: \"$HOME_NET\"\n    MODBUS_CLIENT: \"$HOME_NET\"\n    MODBUS_SERVER: \"$HOME_NET\"\n    \
             ENIP_CLIENT: \"$HOME_NET\"\n    ENIP_SERVER: \"$HOME_NET\"\n",
        )
        .replace("    SSH_PORTS: 22\n", "    ORACLE_PORTS: 1521\n    SSH_PORTS: 22\n")
        .replace(
            "default-rule-path: /dev/null\nrule-files: []\nclassification-file: /etc/suricata/classification.config",
            &format!(
                "default-rule-path: {et}\nrule-files:\n  - \"*.rules\"\nclassification-file: {et}/classification.config"
            ),
        )
        .replace("      types:\n", "      types:\n        - alert:\n            metadata: yes\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rules_config_extends_the_replay_config() {
        let y = suricata_yaml(Path::new("/et"));
        for want in [
            "HTTP_SERVERS: \"$HOME_NET\"",
            "AIM_SERVERS: \"$EXTERNAL_NET\"",
            "ORACLE_PORTS: 1521",
            "default-rule-path: /et\nrule-files:\n  - \"*.rules\"",
            "classification-file: /et/classification.config",
            "        - alert:\n            metadata: yes\n        - anomaly:",
            "smb: {enabled: no}",
        ] {
            assert!(y.contains(want), "missing {want:?}");
        }
    }
}
