//! `cargo xtask demo`: two network namespaces joined by a veth pair, the sensor on the inner
//! end, real traffic from the other side, the events it sees, a block of the sender with the
//! drops it causes, an unblock, and cleanup (also on failure).

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    build, toolchain,
    util::{self, apt_install, cargo, is_root, root, which},
};

const NS_SENSOR: &str = "sensor-demo-in";
const NS_PEER: &str = "sensor-demo-out";
const IF_SENSOR: &str = "demo-in";
const IF_PEER: &str = "demo-out";
const ADDR_SENSOR: &str = "10.77.0.1";
const ADDR_PEER: &str = "10.77.0.2";
const PIN_DIR: &str = "/sys/fs/bpf/sensor-demo";

/// Removes everything the demo creates; runs at start (stale state) and on drop.
struct Cleanup {
    children: Vec<Child>,
}

impl Cleanup {
    fn all(&mut self) {
        for c in &mut self.children {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
        for ns in [NS_SENSOR, NS_PEER] {
            let _ = Command::new("ip").args(["netns", "delete", ns]).stderr(Stdio::null()).status();
        }
        let _ = std::fs::remove_dir_all(PIN_DIR);
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        self.all();
    }
}

fn sh(args: &[&str]) -> Result<()> {
    let st = Command::new(args[0]).args(&args[1..]).status().with_context(|| format!("running {args:?}"))?;
    if !st.success() {
        bail!("{args:?} failed");
    }
    Ok(())
}

fn in_ns(ns: &str) -> Command {
    let mut c = Command::new("nsenter");
    c.arg(format!("--net=/run/netns/{ns}")).arg("--");
    c
}

fn step(title: &str) {
    println!("\n\x1b[1m== {title}\x1b[0m");
}

fn show(events: &Arc<Mutex<Vec<String>>>, filter: &str) {
    let ev = events.lock().map(|e| e.clone()).unwrap_or_default();
    for line in ev.iter().filter(|l| l.contains(filter)) {
        let v: serde_like::Fields = serde_like::parse(line);
        println!("  {v}");
    }
}

fn sensor(args: &[&str]) -> Result<String> {
    let bin = root().join("target/debug/sensor");
    let out = Command::new(bin).arg("--pin-dir").arg(PIN_DIR).args(args).output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("sensor {args:?}: {text}");
    }
    Ok(text)
}

fn ping(count: &str) -> String {
    let out = in_ns(NS_PEER).args(["ping", "-c", count, "-i", "0.2", "-W", "1", ADDR_SENSOR]).output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("packets transmitted"))
            .collect::<Vec<_>>()
            .join("")
    })
    .unwrap_or_default()
}

/// Runs the demo.
pub fn run() -> Result<()> {
    if !is_root() {
        bail!("the demo creates network namespaces and loads BPF programs: run `sudo -E cargo xtask demo`");
    }
    apt_install(&["iproute2", "util-linux", "iputils-ping"])?;
    if which("python3").is_none() {
        apt_install(&["python3"])?;
    }
    util::ensure_kernel_mounts()?;
    let tc = toolchain::ensure()?;
    let object = build::ebpf(&tc)?;
    crate::util::run(cargo().args(["build", "--bin", "sensor"]))?;

    let mut cleanup = Cleanup { children: Vec::new() };
    cleanup.all();
    step("1. Two namespaces and a veth pair");
    sh(&["ip", "netns", "add", NS_SENSOR])?;
    sh(&["ip", "netns", "add", NS_PEER])?;
    sh(&["ip", "-n", NS_SENSOR, "link", "add", IF_SENSOR, "type", "veth", "peer", "name", IF_PEER, "netns", NS_PEER])?;
    sh(&["ip", "-n", NS_SENSOR, "addr", "add", &format!("{ADDR_SENSOR}/24"), "dev", IF_SENSOR])?;
    sh(&["ip", "-n", NS_PEER, "addr", "add", &format!("{ADDR_PEER}/24"), "dev", IF_PEER])?;
    for (ns, i) in [(NS_SENSOR, IF_SENSOR), (NS_PEER, IF_PEER)] {
        sh(&["ip", "-n", ns, "link", "set", i, "up"])?;
        sh(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
    }
    println!("  {NS_SENSOR}/{IF_SENSOR} {ADDR_SENSOR}  <-- veth -->  {NS_PEER}/{IF_PEER} {ADDR_PEER}");

    step("2. The sensor on the inner end (XDP ingress, TC egress, tracepoints)");
    let mut child = in_ns(NS_SENSOR)
        .arg(root().join("target/debug/sensor"))
        .args(["--pin-dir", PIN_DIR, "run", "--iface", IF_SENSOR, "--print-events", "--object"])
        .arg(&object)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the sensor")?;
    let events = Arc::new(Mutex::new(Vec::new()));
    let (out, err) = (child.stdout.take(), child.stderr.take());
    cleanup.children.push(child);
    let ev = Arc::clone(&events);
    std::thread::spawn(move || {
        if let Some(out) = out {
            for l in BufReader::new(out).lines().map_while(Result::ok) {
                if let Ok(mut e) = ev.lock() {
                    e.push(l);
                }
            }
        }
    });
    let started = Arc::new(Mutex::new(false));
    let st = Arc::clone(&started);
    std::thread::spawn(move || {
        if let Some(err) = err {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                println!("  [sensor] {l}");
                if l.contains("sensor running") {
                    if let Ok(mut s) = st.lock() {
                        *s = true;
                    }
                }
            }
        }
    });
    let t0 = Instant::now();
    while !started.lock().map(|s| *s).unwrap_or(false) {
        if t0.elapsed() > Duration::from_secs(30) {
            bail!("the sensor did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    step("3. Real traffic from the peer: ping, a UDP datagram, an HTTP request");
    let server = in_ns(NS_SENSOR)
        .args(["python3", "-m", "http.server", "8080", "--bind", ADDR_SENSOR])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting python3 -m http.server")?;
    cleanup.children.push(server);
    std::thread::sleep(Duration::from_millis(800));
    println!("  ping: {}", ping("3"));
    in_ns(NS_PEER)
        .args(["bash", "-c", &format!("echo 'hello from the peer' > /dev/udp/{ADDR_SENSOR}/5353")])
        .status()?;
    let http = in_ns(NS_PEER)
        .args(["bash", "-c", &format!("exec 3<>/dev/tcp/{ADDR_SENSOR}/8080; printf 'GET / HTTP/1.0\\r\\nHost: demo\\r\\n\\r\\n' >&3; head -n 1 <&3")])
        .output()?;
    println!("  http: {}", String::from_utf8_lossy(&http.stdout).trim());
    std::thread::sleep(Duration::from_millis(500));

    step("4. What the sensor saw (flow starts and payload samples from the veth)");
    show(&events, ADDR_PEER);
    let execs = events.lock().map(|e| e.iter().filter(|l| l.contains("\"exec\"")).count()).unwrap_or(0);
    println!("  ... and {execs} exec events machine-wide from the tracepoints (python3, bash, ping among them)");

    step(&format!("5. sensor block {ADDR_PEER} --ttl 10m"));
    print!("  {}", sensor(&["block", ADDR_PEER, "--ttl", "10m", "--reason", "demo: peer contained"])?);
    println!("  ping: {}", ping("3"));
    print!("{}", sensor(&["blocks"])?.lines().map(|l| format!("  {l}\n")).collect::<String>());
    let status = sensor(&["status"])?;
    for l in status
        .lines()
        .filter(|l| l.starts_with("xdp_") || l.starts_with("drop_blocked_v4") || l.starts_with("drop_reason_manual"))
    {
        println!("  {l}");
    }

    step(&format!("6. sensor unblock {ADDR_PEER}"));
    print!("  {}", sensor(&["unblock", ADDR_PEER])?);
    println!("  ping: {}", ping("2"));

    step("7. Stop the sensor and clean up");
    cleanup.all();
    println!("  namespaces, veth pair and pins removed; the sensor detached on SIGTERM");
    Ok(())
}

/// A small JSON-line summariser for the demo output (avoids a serde dependency in xtask).
mod serde_like {
    use std::fmt;

    pub struct Fields(String);

    fn field<'a>(line: &'a str, key: &str) -> Option<&'a str> {
        let k = format!("\"{key}\":");
        let i = line.find(&k)? + k.len();
        let rest = &line[i..];
        if let Some(r) = rest.strip_prefix('"') {
            r.find('"').map(|j| &r[..j])
        } else {
            rest.find([',', '}']).map(|j| &rest[..j])
        }
    }

    pub fn parse(line: &str) -> Fields {
        let f = |k| field(line, k).unwrap_or("-");
        let mut s = format!(
            "{:<15} {} {}:{} -> {}:{}",
            f("event_type"),
            f("proto"),
            f("src_ip"),
            f("src_port"),
            f("dest_ip"),
            f("dest_port")
        );
        if line.contains("payload_printable") {
            let p: String = f("payload_printable").chars().take(48).collect();
            s.push_str(&format!(" [{}] {:?}", f("direction"), p));
        }
        Fields(s)
    }

    impl fmt::Display for Fields {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.0)
        }
    }
}
