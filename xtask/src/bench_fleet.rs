//! `cargo xtask bench fleet`: fleet propagation time, live. Two gateways (release sensors,
//! each on its own veth pair facing an attacker namespace) join a NATS JetStream server
//! (Debian's nats-server) in a hub namespace. For each of 100 attacker addresses: a prober
//! in gateway 2's attacker namespace sends connection attempts from that address to one
//! closed port of gateway 2 (answered by RSTs, and never a scan by itself) while the same
//! address scans gateway 1; gateway 1 blocks it and publishes the decision, gateway 2
//! decides on the offer and writes its XDP map. The time is from gateway 1's decision (its
//! audit record's `at_ns`) to the sending of the first probe gateway 2 dropped.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    time::Duration,
};

use anyhow::{Context, Result, bail};

use crate::{
    bench_contain::POLICY,
    util::{Teardown, apt_install, cargo, ip, quantile, root},
};

const NS: [&str; 5] = ["sensor-bf-hub", "sensor-bf-gw1", "sensor-bf-att1", "sensor-bf-gw2", "sensor-bf-att2"];
const PIN_DIRS: [&str; 2] = ["/sys/fs/bpf/sensor-bench-fleet1", "/sys/fs/bpf/sensor-bench-fleet2"];
const STATE: [&str; 3] = ["/run/sensor-bench-fleet1", "/run/sensor-bench-fleet2", "/run/sensor-bench-fleet-js"];
/// Everything the teardown removes.
const DIRS: [&str; 5] = [PIN_DIRS[0], PIN_DIRS[1], STATE[0], STATE[1], STATE[2]];
const GW_ADDR: &str = "10.89.0.1";
const TRIALS: usize = 100;

const PROBE: &str = r#"
import errno, select, socket, sys, time
dst, src = sys.argv[1], sys.argv[2]
deadline = time.time() + 10
print("ready", flush=True)
while time.time() < deadline:
    s = socket.socket(); s.bind((src, 0)); s.setblocking(False)
    sent = time.time()
    try:
        s.connect((dst, 9))
    except BlockingIOError:
        pass
    _, w, _ = select.select([], [s], [], 0.005)
    refused = bool(w) and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
    s.close()
    if not refused:
        print(f"dropped {sent:.6f}", flush=True)
        sys.exit(0)
    time.sleep(0.0005)
print("none", flush=True)
"#;

const SCAN: &str = "import socket,sys\nfor p in range(2000,2010):\n    s=socket.socket()\n    s.bind((sys.argv[2],0))\n    s.settimeout(0.2)\n    try:\n        s.connect((sys.argv[1],p))\n    except Exception:\n        pass\n    s.close()\n";

fn link(a: (&str, &str, &str), b: (&str, &str, &str)) -> Result<()> {
    ip(&["-n", a.0, "link", "add", a.1, "type", "veth", "peer", "name", b.1, "netns", b.0])?;
    for (ns, ifc, addr) in [a, b] {
        ip(&["-n", ns, "addr", "add", addr, "dev", ifc])?;
        ip(&["-n", ns, "link", "set", ifc, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    Ok(())
}

fn in_ns(ns: &str, program: &str) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{ns}")).arg("--").arg(program);
    c
}

/// The `at_ns` of the applied block of `cidr` in an audit log.
fn decided_at(audit: &str, cidr: &str) -> Option<u64> {
    audit
        .lines()
        .filter(|l| l.contains(&format!("\"cidr\":\"{cidr}\"")) && l.contains("\"outcome\":\"applied\""))
        .find_map(|l| {
            let i = l.find("\"at_ns\":")? + 8;
            let rest = &l[i..];
            rest[..rest.find([',', '}'])?].trim().parse().ok()
        })
}

/// Runs the benchmark; returns the markdown section.
pub fn run(object: &std::path::Path) -> Result<String> {
    apt_install(&["iproute2", "util-linux", "python3", "nats-server"])?;
    crate::util::run(cargo().args(["build", "--release", "-p", "sensor-user", "--bin", "sensor"]))?;
    let mut guard = Teardown::new(&NS, &DIRS);
    guard.all();
    let [hub, gw1, att1, gw2, att2] = NS;
    for ns in NS {
        ip(&["netns", "add", ns])?;
    }
    let sources: Vec<String> = (0..TRIALS).map(|i| format!("10.89.1.{}", 10 + i)).collect();
    for (gw, att, n) in [(gw1, att1, 1), (gw2, att2, 2)] {
        link(
            (gw, &format!("bf-gw{n}"), &format!("{GW_ADDR}/16")),
            (att, &format!("bf-att{n}"), &format!("{}/16", sources[0])),
        )?;
        for s in &sources[1..] {
            ip(&["-n", att, "addr", "add", &format!("{s}/16"), "dev", &format!("bf-att{n}")])?;
        }
        link(
            (hub, &format!("bf-hub{n}"), &format!("10.90.{n}.254/24")),
            (gw, &format!("bf-fl{n}"), &format!("10.90.{n}.1/24")),
        )?;
    }
    for d in STATE {
        std::fs::create_dir_all(d)?;
    }
    let server = in_ns(hub, "nats-server")
        .args(["-js", "-a", "0.0.0.0", "-p", "4222", "-sd", STATE[2]])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting nats-server")?;
    guard.children.push(server);
    std::thread::sleep(Duration::from_millis(500));
    let mut readers = Vec::new();
    for (i, gw) in [gw1, gw2].into_iter().enumerate() {
        let n = i + 1;
        let policy = format!("{}/policy.toml", STATE[i]);
        std::fs::write(&policy, POLICY)?;
        let mut child = in_ns(gw, &root().join("target/release/sensor").to_string_lossy())
            .args(["--pin-dir", PIN_DIRS[i], "--state-dir", STATE[i], "run", "--iface", &format!("bf-gw{n}")])
            .args(["--no-tracepoints", "--no-lake", "--metrics", "off", "--agents", "port_scan", "--policy", &policy])
            .args([
                "--fleet",
                &format!("nats://10.90.{n}.254:4222"),
                "--site",
                "bench",
                "--fleet-id",
                &format!("gw{n}"),
            ])
            .arg("--object")
            .arg(object)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting a sensor")?;
        readers.push(crate::util::stderr_lines(&mut child)?);
        guard.children.push(child);
    }
    for rx in &readers {
        crate::util::wait_line(rx, |l| l.starts_with("fleet: connected"), "a sensor did not join the fleet")?;
    }
    let mut lat = Vec::new();
    let mut missed = 0;
    for src in &sources {
        let mut probe =
            in_ns(att2, "python3").args(["-c", PROBE, GW_ADDR, src]).stdout(Stdio::piped()).spawn().context("probe")?;
        let mut lines = BufReader::new(probe.stdout.take().context("probe stdout")?).lines();
        if lines.next().and_then(Result::ok).is_none_or(|l| l != "ready") {
            bail!("the probe did not start");
        }
        let st = in_ns(att1, "python3").args(["-c", SCAN, GW_ADDR, src]).status()?;
        if !st.success() {
            bail!("scan from {src} failed");
        }
        let result = lines.next().and_then(Result::ok).unwrap_or_default();
        let _ = probe.wait();
        let audit = std::fs::read_to_string(format!("{}/audit.jsonl", STATE[0])).unwrap_or_default();
        match (
            result.strip_prefix("dropped ").and_then(|t| t.parse::<f64>().ok()),
            decided_at(&audit, &format!("{src}/32")),
        ) {
            (Some(dropped), Some(at)) => lat.push((dropped - at as f64 / 1e9) * 1e3),
            _ => missed += 1,
        }
    }
    drop(guard);
    if lat.is_empty() {
        bail!("no trial propagated");
    }
    lat.sort_by(f64::total_cmp);
    let cpu = crate::util::cpu_model();
    Ok(format!(
        "## Fleet propagation (live, NATS JetStream)\n\n\
         `cargo xtask bench fleet`: two gateways (release sensors, `--agents port_scan`, a policy containing any scan) \
         joined through nats-server 2.9 (JetStream, file store) in a hub namespace; {TRIALS} attacker addresses each scan \
         gateway 1 while probing gateway 2 (one closed port, a probe every ~0.5 ms, 5 ms to answer). Time from gateway \
         1's decision (audit `at_ns`) to the sending of the first probe gateway 2 dropped: publish, JetStream, gateway 2's \
         pull (200 ms long poll), its governance, its audit record (fdatasync) and the XDP map write. Machine: {cpu}.\n\n\
         | trials | p50 | p99 | max |\n|---:|---:|---:|---:|\n| {}/{TRIALS} | {:.1} ms | {:.1} ms | {:.1} ms |\n\n\
         {missed} trial(s) saw no drop within 10 s.\n",
        lat.len(),
        quantile(&lat, 0.5),
        quantile(&lat, 0.99),
        lat[lat.len() - 1],
    ))
}
