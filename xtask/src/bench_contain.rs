//! `cargo xtask bench contain`: detect-to-block latency, live on a veth pair. The sensor
//! (release build) runs with the port_scan agent and a policy that contains any scan; 250
//! source addresses in the peer namespace each complete a scan condition and then probe
//! until the XDP block stops answering (benches/scripts/contain_latency.py). Reports p50,
//! p99 and max over the trials, and the probe round trip (the resolution).

use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};

use crate::util::{Teardown, apt_install, cargo, ip, quantile, root, which};

const NS_IN: &str = "sensor-bench-in";
const NS_OUT: &str = "sensor-bench-out";
const IF_IN: &str = "bench-in";
const IF_OUT: &str = "bench-out";
const ADDR_IN: &str = "10.88.0.1";
const PIN_DIR: &str = "/sys/fs/bpf/sensor-bench-contain";
const STATE_DIR: &str = "/run/sensor-bench-contain";
const TRIALS: usize = 250;

/// Contains any scan at once (also the fleet benchmark's policy).
pub(crate) const POLICY: &str = r#"version = "bench-contain"
[policy]
min_confidence = 0.0
[defaults]
impact = 100.0
false_positive_cost = 1.0
[limits]
max_active_blocks = 100000
max_new_blocks_per_minute = 100000
ttl_ladder = ["10m"]
"#;

/// Runs the benchmark; returns the markdown section.
pub fn run(object: &std::path::Path) -> Result<String> {
    apt_install(&["iproute2", "util-linux"])?;
    if which("python3").is_none() {
        apt_install(&["python3"])?;
    }
    crate::util::run(cargo().args(["build", "--release", "--bin", "sensor"]))?;
    let mut guard = Teardown::new(&[NS_IN, NS_OUT], &[PIN_DIR, STATE_DIR]);
    guard.all();
    let sources: Vec<String> = (0..TRIALS).map(|i| format!("10.88.{}.{}", 1 + i / 200, 10 + i % 200)).collect();
    crate::util::veth_pair((NS_IN, IF_IN, &format!("{ADDR_IN}/16")), (NS_OUT, IF_OUT, &format!("{}/16", sources[0])))?;
    for s in &sources[1..] {
        ip(&["-n", NS_OUT, "addr", "add", &format!("{s}/16"), "dev", IF_OUT])?;
    }
    std::fs::create_dir_all(STATE_DIR)?;
    let policy = format!("{STATE_DIR}/policy.toml");
    std::fs::write(&policy, POLICY)?;
    let mut child = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{NS_IN}"))
        .arg("--")
        .arg(root().join("target/release/sensor"))
        .args(["--pin-dir", PIN_DIR, "--state-dir", STATE_DIR, "run", "--iface", IF_IN, "--no-tracepoints"])
        .args(["--agents", "port_scan", "--policy", &policy, "--object"])
        .arg(object)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the sensor")?;
    let rx = crate::util::stderr_lines(&mut child)?;
    guard.children.push(child);
    crate::util::wait_line(&rx, |l| l.contains("sensor running"), "the sensor did not start")?;
    let out = Command::new("nsenter")
        .arg(format!("--net=/run/netns/{NS_OUT}"))
        .args(["--", "python3"])
        .arg(root().join("benches/scripts/contain_latency.py"))
        .args([ADDR_IN, &sources.join(",")])
        .output()
        .context("running the probe script")?;
    if !out.status.success() {
        bail!("probe script: {}", String::from_utf8_lossy(&out.stderr));
    }
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut lat: Vec<f64> = Vec::new();
    let mut rtt: Vec<f64> = Vec::new();
    let mut failed = 0;
    // A dependency-free read of the script's JSON: "latency_s": X and "rtt_s": Y per trial.
    for trial in text.split('}') {
        let num = |key: &str| -> Option<f64> {
            let i = trial.find(key)? + key.len();
            let rest = trial[i..].trim_start_matches([':', ' ']);
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim().parse().ok()
        };
        if !trial.contains("\"src\"") {
            continue;
        }
        match num("\"latency_s\"") {
            Some(v) => lat.push(v * 1e3),
            None => failed += 1,
        }
        if let Some(v) = num("\"rtt_s\"") {
            rtt.push(v * 1e3);
        }
    }
    drop(guard);
    if lat.is_empty() {
        bail!("no trial saw a block: {text}");
    }
    lat.sort_by(f64::total_cmp);
    rtt.sort_by(f64::total_cmp);
    let cpu = crate::util::cpu_model();
    Ok(format!(
        "## Detect-to-block latency (live, veth pair)\n\n\
         `cargo xtask bench contain`: {TRIALS} scanner addresses each complete a port-scan condition (the fifth refused \
         connection) and then probe until a probe goes unanswered for 5 ms; the latency is from the fifth refusal to the \
         sending of that first dropped probe. Sensor: release build, `--agents port_scan`, policy containing any scan, \
         audit log on with fdatasync. Machine: {cpu}, {} CPUs.\n\n\
         | trials blocked | p50 | p99 | max | probe round trip (resolution) |\n|---:|---:|---:|---:|---:|\n\
         | {}/{TRIALS} | {:.2} ms | {:.2} ms | {:.2} ms | {:.3} ms |\n\n\
         Targets: p50 <= 1 ms, p99 <= 10 ms. {failed} trial(s) saw no block within 2 s.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        lat.len(),
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
        lat[lat.len() - 1],
        if rtt.is_empty() { 0.0 } else { quantile(&rtt, 0.5) },
    ))
}
