//! `cargo xtask bench replay`: the sensor's offline replay against Suricata 7 on the capture
//! built by `../shared/data/make-bench-pcap.sh`, side by side in one run (DESIGN.md §8).
//!
//! Both run pinned to one core (`taskset -c 1`), with no rules, writing eve records of the
//! same types (flow, http, dns, tls, ssh, anomaly, stats). Start-up is excluded by
//! subtracting each tool's median time on a one-packet capture. Median of 5 runs; peak memory
//! from `/usr/bin/time`.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, Result, bail};

use crate::util::{self, cargo, root, which};

const RUNS: usize = 5;
const EVE_TYPES: &[&str] = &["flow", "http", "dns", "tls", "ssh", "anomaly", "stats"];

/// One tool's measurements.
struct Measured {
    startup_s: f64,
    median_s: f64,
    peak_kib: u64,
    records: Vec<(String, usize)>,
}

/// Runs the comparison and returns the markdown section.
pub fn run() -> Result<String> {
    util::apt_install(&["tshark", "time"])?;
    util::ensure_sensor_libs()?;
    ensure_suricata()?;
    let bench_dir = root().join("target/bench");
    std::fs::create_dir_all(&bench_dir)?;
    let pcap = bench_dir.join("bench.pcap");
    if !pcap.exists() {
        let script = root().join("../shared/data/make-bench-pcap.sh");
        util::run(Command::new("bash").arg(&script).arg(&pcap))?;
    }
    let tiny = bench_dir.join("one-packet.pcap");
    util::run(Command::new("editcap").args(["-r"]).arg(&pcap).arg(&tiny).arg("1"))?;
    util::run(cargo().args(["build", "--release", "-p", "sensor-user", "--bin", "sensor"]))?;
    let sensor = root().join("target/release/sensor");
    let cfg = bench_dir.join("suricata.yaml");
    std::fs::write(&cfg, SURICATA_YAML)?;
    let (packets, bytes) = capinfos(&pcap)?;

    let sensor_cmd_with = |agents: bool, input: &Path, out: &Path| {
        let mut c = pinned();
        c.arg(&sensor).arg("replay");
        if !agents {
            c.arg("--no-agents");
        }
        c.arg("--quiet").arg("--no-progress").arg("--eve").arg(out.join("eve.json")).arg(input);
        c
    };
    let sensor_cmd = |input: &Path, out: &Path| sensor_cmd_with(true, input, out);
    let bare_cmd = |input: &Path, out: &Path| sensor_cmd_with(false, input, out);
    let suricata_cmd = |input: &Path, out: &Path| {
        let mut c = pinned();
        c.args(["suricata", "-c"])
            .arg(&cfg)
            .args(["-k", "none", "--runmode", "single", "-S", "/dev/null", "-l"])
            .arg(out)
            .arg("-r")
            .arg(input);
        c
    };
    eprintln!("bench: {packets} packets, {bytes} bytes; {RUNS} runs each, pinned to CPU 1");
    let ours = measure("sensor", &bench_dir, &pcap, &tiny, &sensor_cmd)?;
    let bare = measure("sensor-no-agents", &bench_dir, &pcap, &tiny, &bare_cmd)?;
    let theirs = measure("suricata", &bench_dir, &pcap, &tiny, &suricata_cmd)?;
    let version = util::output(Command::new("suricata").arg("-V")).unwrap_or_default();
    Ok(report(packets, bytes, &ours, &bare, &theirs, version.trim()))
}

pub(crate) fn pinned() -> Command {
    let mut c = Command::new("/usr/bin/time");
    c.args(["-f", "%e %M %U %S", "taskset", "-c", "1"]);
    c
}

fn measure(
    name: &str,
    dir: &Path,
    pcap: &Path,
    tiny: &Path,
    cmd: &dyn Fn(&Path, &Path) -> Command,
) -> Result<Measured> {
    let out = dir.join(format!("out-{name}"));
    let mut startup = Vec::new();
    let mut full = Vec::new();
    let mut peak = 0;
    for _ in 0..RUNS {
        reset(&out)?;
        startup.push(timed(&mut cmd(tiny, &out))?.0);
        reset(&out)?;
        let (secs, kib) = timed(&mut cmd(pcap, &out))?;
        full.push(secs);
        peak = peak.max(kib);
        eprintln!("  {name}: {secs:.3} s, peak {kib} KiB");
    }
    let eve = std::fs::read_to_string(out.join("eve.json")).with_context(|| format!("{name} wrote no eve.json"))?;
    let records =
        EVE_TYPES.iter().map(|t| (t.to_string(), eve.matches(&format!("\"event_type\":\"{t}\"")).count())).collect();
    Ok(Measured { startup_s: median(&mut startup), median_s: median(&mut full), peak_kib: peak, records })
}

pub(crate) fn reset(dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir)?;
    Ok(())
}

/// Wall seconds (measured here) and peak RSS in KiB (from /usr/bin/time's last line).
pub(crate) fn timed(cmd: &mut Command) -> Result<(f64, u64)> {
    timed_cpu(cmd).map(|t| (t.wall_s, t.peak_kib))
}

/// One timed run of a [`pinned`] command.
pub(crate) struct Timing {
    /// Wall seconds, measured here.
    pub wall_s: f64,
    /// User + system CPU seconds of the process and its threads (from /usr/bin/time): unlike
    /// wall time, not inflated when the virtual machine's CPU is taken away (steal).
    pub cpu_s: f64,
    /// Peak RSS, KiB.
    pub peak_kib: u64,
}

/// Runs a [`pinned`] command and reads its timing.
pub(crate) fn timed_cpu(cmd: &mut Command) -> Result<Timing> {
    let t = Instant::now();
    let out = cmd.output().context("running a benchmark command")?;
    let wall_s = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("benchmark command failed: {cmd:?}\n{err}");
    }
    let last: Vec<&str> = err.lines().last().unwrap_or("").split_whitespace().collect();
    let num = |i: usize| last.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    Ok(Timing { wall_s, cpu_s: num(2) + num(3), peak_kib: num(1) as u64 })
}

pub(crate) fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

pub(crate) fn capinfos(pcap: &Path) -> Result<(u64, u64)> {
    let out = util::output(Command::new("capinfos").args(["-T", "-r", "-c", "-d"]).arg(pcap)).context("capinfos")?;
    let cols: Vec<&str> = out.trim().split('\t').collect();
    let n = |i: usize| cols.get(i).and_then(|v| v.trim().parse::<u64>().ok()).unwrap_or(0);
    Ok((n(1), n(2)))
}

/// Suricata 7 from bookworm-backports, with the machine's own mirror (DESIGN.md §8).
pub(crate) fn ensure_suricata() -> Result<()> {
    if which("suricata").is_some() {
        return Ok(());
    }
    let list = PathBuf::from("/etc/apt/sources.list.d/bookworm-backports.list");
    if !list.exists() {
        std::fs::write(&list, "deb http://deb.debian.org/debian bookworm-backports main\n")?;
    }
    util::run(Command::new("apt-get").args(["update", "-q"]))?;
    util::run(
        Command::new("apt-get")
            .args(["install", "-y", "-q", "-t", "bookworm-backports", "suricata"])
            .env("DEBIAN_FRONTEND", "noninteractive"),
    )
}

fn report(packets: u64, bytes: u64, ours: &Measured, bare: &Measured, theirs: &Measured, version: &str) -> String {
    let row = |m: &Measured| {
        let secs = (m.median_s - m.startup_s).max(1e-6);
        (packets as f64 / secs, bytes as f64 * 8.0 / secs / 1e9, secs)
    };
    let (opps, ogbps, osecs) = row(ours);
    let (spps, sgbps, ssecs) = row(theirs);
    let (bpps, bgbps, bsecs) = row(bare);
    let counts = |m: &Measured| m.records.iter().map(|(t, n)| format!("{t} {n}")).collect::<Vec<_>>().join(", ");
    let cpu = util::output(Command::new("sh").args(["-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"]))
        .unwrap_or_default();
    format!(
        "## Replay: sensor vs Suricata (`cargo xtask bench replay`)\n\n\
         Capture: `make-bench-pcap.sh` output, {packets} packets, {bytes} bytes. Both pinned to CPU 1 \
         (`taskset -c 1`), no rules, eve records flow/http/dns/tls/ssh/anomaly/stats, median of {RUNS} runs, \
         start-up (median time on a one-packet capture) subtracted. {version}; CPU:{cpu}\n\n\
         | | packets/s | Gbit/s | processing s | start-up s | peak RSS MiB |\n|---|---|---|---|---|---|\n\
         | sensor replay (all agents on) | {opps:.0} | {ogbps:.2} | {osecs:.3} | {:.3} | {:.1} |\n\
         | sensor replay --no-agents | {bpps:.0} | {bgbps:.2} | {bsecs:.3} | {:.3} | {:.1} |\n\
         | suricata --runmode single | {spps:.0} | {sgbps:.2} | {ssecs:.3} | {:.3} | {:.1} |\n\
         | **ratio** (agents on / Suricata) | **{:.2}x** | | | | |\n\n\
         Agents' cost: all agents on run at {:.1}% of the packets/s without them ({:.1}% slower).\n\n\
         Records, sensor: {}\n\nRecords, Suricata: {}\n\n\
         Record counts differ by definition, not only by quality: the sensor detects DNS by content \
         on any UDP port (mDNS, LLMNR) where Suricata probes port 53; the capture repeats its base 4 \
         times with timestamps jumping back, which the two tools cut into flows differently. The HTTP \
         difference (the sensor logs about 3x more transactions) is not analysed yet. \
         Names are checked against tshark by `tests/tests/replay_oracle.rs`.\n",
        ours.startup_s,
        ours.peak_kib as f64 / 1024.0,
        bare.startup_s,
        bare.peak_kib as f64 / 1024.0,
        theirs.startup_s,
        theirs.peak_kib as f64 / 1024.0,
        opps / spps,
        opps / bpps * 100.0,
        (1.0 - opps / bpps) * 100.0,
        counts(ours),
        counts(theirs),
    )
}

/// No rules; eve with the record types the sensor writes; only the parsers the sensor has.
pub(crate) const SURICATA_YAML: &str = r#"%YAML 1.1
---
vars:
  address-groups:
    HOME_NET: "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"
    EXTERNAL_NET: "!$HOME_NET"
  port-groups:
    HTTP_PORTS: "80"
    SHELLCODE_PORTS: "!80"
    SSH_PORTS: 22
    DNP3_PORTS: 20000
    MODBUS_PORTS: 502
    FILE_DATA_PORTS: "[$HTTP_PORTS,110,143]"
    FTP_PORTS: 21
    GENEVE_PORTS: 6081
    VXLAN_PORTS: 4789
    TEREDO_PORTS: 3544
default-rule-path: /dev/null
rule-files: []
classification-file: /etc/suricata/classification.config
reference-config-file: /etc/suricata/reference.config
outputs:
  - eve-log:
      enabled: yes
      filetype: regular
      filename: eve.json
      community-id: true
      types:
        - anomaly:
            enabled: yes
        - http:
            extended: no
        - dns
        - tls:
            extended: no
        - ssh
        - flow
        - stats:
            totals: yes
            threads: no
logging:
  default-log-level: notice
  outputs:
    - console:
        enabled: yes
app-layer:
  protocols:
    http:
      enabled: yes
    tls:
      enabled: yes
    dns:
      tcp:
        enabled: yes
      udp:
        enabled: yes
    ssh:
      enabled: yes
    smb: {enabled: no}
    ftp: {enabled: no}
    smtp: {enabled: no}
    imap: {enabled: no}
    nfs: {enabled: no}
    krb5: {enabled: no}
    ikev2: {enabled: no}
    dhcp: {enabled: no}
    snmp: {enabled: no}
    sip: {enabled: no}
    rfb: {enabled: no}
    mqtt: {enabled: no}
    rdp: {enabled: no}
    http2: {enabled: no}
    quic: {enabled: no}
    modbus: {enabled: no}
    dnp3: {enabled: no}
    enip: {enabled: no}
    ntp: {enabled: no}
    tftp: {enabled: no}
    dcerpc: {enabled: no}
    pgsql: {enabled: no}
    telnet: {enabled: no}
    bittorrent-dht: {enabled: no}
    websocket: {enabled: no}
    ldap: {enabled: no}
    pop3: {enabled: no}
    sdp: {enabled: no}
stream:
  memcap: 1gb
  reassembly:
    memcap: 2gb
    depth: 1mb
flow:
  memcap: 1gb
"#;
