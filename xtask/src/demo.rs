//! `cargo xtask demo`: two network namespaces joined by a veth pair, the sensor on the inner
//! end with its agents and a demo governance policy. An attacker scans the web server and
//! is blocked in XDP on the sensor's own authority; a critical build server scans too and
//! its block waits for a person, who approves it from the CLI; the one incident is shown
//! with its reasoning, and the audit chain verifies. Everything is removed at the end,
//! also on failure.

use std::{
    io::{BufRead, BufReader},
    process::{Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use anyhow::{Context, Result, bail};

use crate::{
    build, toolchain,
    util::{self, Teardown, apt_install, cargo, is_root, root, which},
};

const NS_SENSOR: &str = "sensor-demo-in";
const NS_PEER: &str = "sensor-demo-out";
const IF_SENSOR: &str = "demo-in";
const IF_PEER: &str = "demo-out";
const ADDR_SENSOR: &str = "10.77.0.1";
const ADDR_PEER: &str = "10.77.0.2";
const PIN_DIR: &str = "/sys/fs/bpf/sensor-demo";

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

fn sensor(args: &[&str]) -> Result<String> {
    let bin = root().join("target/debug/sensor");
    let out = Command::new(bin).args(["--pin-dir", PIN_DIR, "--state-dir", STATE_DIR]).args(args).output()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("sensor {args:?}: {text}");
    }
    Ok(text)
}

fn ping(src: &str, count: &str) -> String {
    let out = in_ns(NS_PEER).args(["ping", "-c", count, "-i", "0.2", "-W", "1", "-I", src, ADDR_SENSOR]).output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("packets transmitted"))
            .collect::<Vec<_>>()
            .join("")
    })
    .unwrap_or_default()
}

/// The console's port, which the demo also opens on this host's loopback.
const CONSOLE_PORT: u16 = 9465;

/// Forwards this host's 127.0.0.1:9465 to the sensor's console in its namespace and returns
/// the address to open (None when the port is taken here).
fn console_address(lines: &Arc<Mutex<Vec<String>>>) -> Option<String> {
    let printed = lines.lock().ok()?.iter().any(|l| l.starts_with("console: http"));
    if !printed {
        return None;
    }
    match crate::forward::start(NS_SENSOR, CONSOLE_PORT) {
        Ok(()) => {
            let url = format!("http://127.0.0.1:{CONSOLE_PORT}/");
            println!("  analyst console: open {url} in a browser on this host while the demo runs");
            Some(url)
        }
        Err(e) => {
            println!(
                "  analyst console: not forwarded here ({e:#}); it runs in {NS_SENSOR} at 127.0.0.1:{CONSOLE_PORT}"
            );
            None
        }
    }
}

/// Runs the demo.
pub fn run() -> Result<()> {
    if !is_root() {
        bail!("the demo creates network namespaces and loads BPF programs: run `sudo -E cargo xtask demo`");
    }
    apt_install(&["iproute2", "util-linux", "iputils-ping", "curl"])?;
    if which("python3").is_none() {
        apt_install(&["python3"])?;
    }
    util::ensure_kernel_mounts()?;
    let tc = toolchain::ensure()?;
    let object = build::ebpf(&tc)?;
    crate::util::run(cargo().args(["build", "--bin", "sensor"]))?;

    let mut cleanup = Teardown::new(&[NS_SENSOR, NS_PEER], &[PIN_DIR, STATE_DIR]);
    cleanup.all();
    step("1. Two namespaces and a veth pair");
    util::veth_pair(
        (NS_SENSOR, IF_SENSOR, &format!("{ADDR_SENSOR}/24")),
        (NS_PEER, IF_PEER, &format!("{ADDR_PEER}/24")),
    )?;
    println!("  {NS_SENSOR}/{IF_SENSOR} {ADDR_SENSOR}  <-- veth -->  {NS_PEER}/{IF_PEER} {ADDR_PEER}");

    sh(&["ip", "-n", NS_PEER, "addr", "add", &format!("{ADDR_BUILD}/24"), "dev", IF_PEER])?;
    println!("  the peer also holds {ADDR_BUILD}: the build server, a critical asset in the demo policy");
    std::fs::create_dir_all(STATE_DIR)?;
    let policy = format!("{STATE_DIR}/policy.toml");
    std::fs::write(&policy, POLICY)?;

    step("2. The sensor on the inner end (XDP ingress, TC egress, tracepoints, agents, governance)");
    let mut child = in_ns(NS_SENSOR)
        .arg(root().join("target/debug/sensor"))
        .args(["--pin-dir", PIN_DIR, "--state-dir", STATE_DIR, "run", "--iface", IF_SENSOR, "--no-tracepoints"])
        .args(["--policy", &policy, "--agent-state", &format!("{STATE_DIR}/agents.json"), "--lake-flush", "1"])
        .args(["--ocsf", &format!("{STATE_DIR}/incidents.ocsf.json"), "--object"])
        .arg(&object)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting the sensor")?;
    let err = child.stderr.take();
    cleanup.children.push(child);
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let seen = Arc::clone(&lines);
    std::thread::spawn(move || {
        if let Some(err) = err {
            for l in BufReader::new(err).lines().map_while(Result::ok) {
                println!("  [sensor] {l}");
                if let Ok(mut s) = seen.lock() {
                    s.push(l);
                }
            }
        }
    });
    wait_for(&lines, "sensor running", Duration::from_secs(30)).context("the sensor did not start")?;
    let console = console_address(&lines);

    step("3. Normal traffic from the peer: ping and an HTTP request");
    let server = in_ns(NS_SENSOR)
        .args(["python3", "-m", "http.server", "8080", "--bind", ADDR_SENSOR])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting python3 -m http.server")?;
    cleanup.children.push(server);
    std::thread::sleep(Duration::from_millis(800));
    println!("  ping from {ADDR_PEER}: {}", ping(ADDR_PEER, "3"));
    println!("  http from {ADDR_PEER}: {}", http(ADDR_PEER));

    step(&format!("4. The attacker {ADDR_PEER} scans {ADDR_SENSOR}, then tries the web server again"));
    scan(ADDR_PEER, 2000)?;
    wait_for(&lines, &format!("block {ADDR_PEER}/32 -> applied"), Duration::from_secs(15))
        .context("the sensor did not block the scanner")?;
    println!("  ping from {ADDR_PEER}: {}", ping(ADDR_PEER, "3"));
    println!("  http from {ADDR_PEER}: {}", http(ADDR_PEER));

    step(&format!("5. The build server {ADDR_BUILD}, a critical asset, scans too: blocking it needs a person"));
    scan(ADDR_BUILD, 3000)?;
    wait_for(&lines, &format!("block {ADDR_BUILD}/32 -> pending"), Duration::from_secs(15))
        .context("no approval was requested")?;
    print!("{}", indent(&sensor(&["approvals", "list"])?));
    println!("  ping from {ADDR_BUILD} while it waits: {}", ping(ADDR_BUILD, "2"));

    step("6. sensor approvals approve 1 (the approver's identity comes from the control socket)");
    print!("{}", indent(&sensor(&["approvals", "approve", "1"])?));
    println!("  ping from {ADDR_BUILD}: {}", ping(ADDR_BUILD, "2"));

    step("7. One incident: stages, confidence, findings, decisions and why");
    print!("{}", indent(&sensor(&["incidents"])?));
    print!("{}", indent(&sensor(&["incidents", "show", "1"])?));
    print!("{}", indent(&sensor(&["blocks"])?));
    let status = sensor(&["status"])?;
    for l in status.lines().filter(|l| l.starts_with("drop_blocked_v4") || l.starts_with("drop_reason_policy")) {
        println!("  {l}");
    }

    step("8. sensor audit verify: every decision in a hash chain");
    print!("{}", indent(&sensor(&["audit", "verify"])?));

    step("9. The lake (Parquet) and /metrics: what the sensor saw and decided, in SQL");
    std::thread::sleep(Duration::from_millis(2500));
    print!(
        "{}",
        indent(&sensor(&[
            "query",
            "SELECT agent, kind, count(*) AS findings, max(confidence) AS max_conf FROM findings GROUP BY agent, kind ORDER BY findings DESC",
        ])?)
    );
    print!(
        "{}",
        indent(&sensor(&["query", "SELECT decision_id, target, outcome, authority, by FROM decisions ORDER BY ts",])?)
    );
    let ocsf = std::fs::read_to_string(format!("{STATE_DIR}/incidents.ocsf.json")).unwrap_or_default();
    println!("  OCSF Detection Findings written: {} ({STATE_DIR}/incidents.ocsf.json)", ocsf.lines().count());
    let metrics = in_ns(NS_SENSOR).args(["curl", "-s", "http://127.0.0.1:9464/metrics"]).output();
    if let Ok(m) = metrics {
        for l in String::from_utf8_lossy(&m.stdout).lines().filter(|l| {
            [
                "sensor_incidents ",
                "sensor_blocks_active ",
                "sensor_approvals_pending ",
                "sensor_lake_rows_written_total ",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        }) {
            println!("  /metrics: {l}");
        }
    }

    if let Some(url) = &console {
        step("10. The analyst console");
        println!("  {url} shows the same incidents, the approval (with who approved it), the blocks, the");
        println!("  audit trail and health charts; sign in as admin with the token printed above");
        let token = std::fs::read_to_string(format!("{STATE_DIR}/console-users"))
            .ok()
            .and_then(|t| t.lines().find_map(|l| l.strip_prefix("admin ").map(str::to_owned)))
            .unwrap_or_default();
        for path in ["api/incidents", "api/blocks"] {
            let out = Command::new("curl")
                .args(["-s", "-H", &format!("Authorization: Bearer {token}"), &format!("{url}{path}")])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let items = if path.ends_with("incidents") {
                out.matches("\"first_ns\"").count()
            } else {
                out.matches("\"cidr\"").count()
            };
            println!("  GET {url}{path} (Bearer token): {} bytes of JSON, {items} item(s)", out.len());
        }
        let hold = std::env::var("DEMO_HOLD").ok().and_then(|s| s.parse::<u64>().ok()).unwrap_or(0);
        if hold > 0 {
            println!("  kept open for {hold} s (DEMO_HOLD) before the clean-up");
            std::thread::sleep(Duration::from_secs(hold));
        } else {
            println!("  (set DEMO_HOLD=600 to keep the demo and its console up for ten minutes)");
        }
    }

    step("11. Stop the sensor and clean up");
    cleanup.all();
    println!("  namespaces, veth pair, pins and state removed; the sensor detached on SIGTERM");
    Ok(())
}

const ADDR_BUILD: &str = "10.77.0.3";
const STATE_DIR: &str = "/run/sensor-demo";

/// The demo's governance policy: the web server and the build server in the inventory.
const POLICY: &str = r#"version = "demo-1"
[[asset]]
name = "web"
match = ["10.77.0.1"]
criticality = 6
impact = 80.0
false_positive_cost = 10.0
owner = "web team"
[[asset]]
name = "buildsrv"
match = ["10.77.0.3"]
criticality = 9
impact = 100.0
false_positive_cost = 60.0
owner = "platform team"
class = "critical"
[allowlist]
never_block = ["10.77.0.254"]
"#;

fn indent(text: &str) -> String {
    text.lines().map(|l| format!("  {l}\n")).collect()
}

fn wait_for(lines: &Arc<Mutex<Vec<String>>>, needle: &str, timeout: Duration) -> Result<()> {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if lines.lock().map(|l| l.iter().any(|x| x.contains(needle))).unwrap_or(false) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("timed out waiting for {needle:?}")
}

/// Connection attempts from `src` to 40 closed ports of the sensor side.
fn scan(src: &str, first_port: u16) -> Result<()> {
    let script = "import socket,sys\nsrc,dst,lo=sys.argv[1],sys.argv[2],int(sys.argv[3])\nfor p in range(lo,lo+40):\n    s=socket.socket()\n    s.bind((src,0))\n    s.settimeout(0.05)\n    try:\n        s.connect((dst,p))\n    except Exception:\n        pass\n    s.close()\n";
    let st = in_ns(NS_PEER).args(["python3", "-c", script, src, ADDR_SENSOR, &first_port.to_string()]).status()?;
    if !st.success() {
        bail!("the scan script failed");
    }
    println!("  {src} probed 40 closed ports of {ADDR_SENSOR}");
    Ok(())
}

fn http(src: &str) -> String {
    let out = in_ns(NS_PEER)
        .args(["curl", "-s", "-m", "2", "--interface", src, "-o", "/dev/null", "-w", "%{http_code}"])
        .arg(format!("http://{ADDR_SENSOR}:8080/"))
        .output();
    match out {
        Ok(o) if o.status.success() => format!("HTTP {}", String::from_utf8_lossy(&o.stdout)),
        _ => "no answer (timed out)".to_owned(),
    }
}
