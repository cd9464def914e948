//! Fleet mode live: three gateways, each a sensor on its own veth pair in its own
//! namespaces, joined through a real NATS JetStream server (Debian's nats-server) running
//! in a hub namespace linked to each gateway. A scan seen by one gateway is blocked at the
//! other two by their own governance; a gateway restarted while the server is down, then
//! the server back, loses no decision.

use std::{
    net::TcpStream,
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use tests::{ADDR_A, NetPair, PinDir, SensorProcess, TempDir, privileged, sensor_cli, unique};

const POLICY: &str = r#"
version = "fleet-test"
[limits]
ttl_min = "1s"
ttl_ladder = ["10m", "1h"]
"#;

/// The hub namespace where nats-server runs, linked to each gateway by a veth pair
/// (hub side 10.202.N.254, gateway side 10.202.N.1). Removed on drop.
struct Hub {
    ns: String,
    store: TempDir,
    server: Option<Child>,
    links: u8,
    tag: String,
}

impl Hub {
    fn new() -> Self {
        let tag = unique("");
        let ns = format!("sfh{tag}");
        run("ip", &["netns", "add", &ns]);
        run("ip", &["-n", &ns, "link", "set", "lo", "up"]);
        Self { ns, store: TempDir::new("fleet-js-"), server: None, links: 0, tag }
    }

    /// Links gateway namespace `gw_ns`; returns the server's URL as that gateway sees it.
    fn link(&mut self, gw_ns: &str) -> String {
        self.links += 1;
        let n = self.links;
        let (h, g) = (format!("fh{}{n}", self.tag), format!("fg{}{n}", self.tag));
        run("ip", &["-n", &self.ns, "link", "add", &h, "type", "veth", "peer", "name", &g, "netns", gw_ns]);
        run("ip", &["-n", &self.ns, "addr", "add", &format!("10.202.{n}.254/24"), "dev", &h]);
        run("ip", &["-n", gw_ns, "addr", "add", &format!("10.202.{n}.1/24"), "dev", &g]);
        run("ip", &["-n", &self.ns, "link", "set", &h, "up"]);
        run("ip", &["-n", gw_ns, "link", "set", &g, "up"]);
        format!("nats://10.202.{n}.254:4222")
    }

    /// Starts nats-server with JetStream on its file store (kept across restarts).
    fn start_server(&mut self) {
        let child = NetPair::command(&self.ns, "nats-server")
            .args(["-js", "-a", "0.0.0.0", "-p", "4222", "-sd"])
            .arg(&self.store.0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server (Debian package nats-server) starts");
        self.server = Some(child);
        let ns = self.ns.clone();
        let t0 = Instant::now();
        while !NetPair::in_ns(&ns, || TcpStream::connect("127.0.0.1:4222").is_ok()) {
            assert!(t0.elapsed() < Duration::from_secs(10), "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn stop_server(&mut self) {
        if let Some(mut c) = self.server.take() {
            let _ = sensor_user::sys::kill(c.id(), libc::SIGTERM);
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(5) {
                if matches!(c.try_wait(), Ok(Some(_))) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        self.stop_server();
        let _ = Command::new("ip").args(["netns", "delete", &self.ns]).status();
    }
}

fn run(cmd: &str, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect("runs");
    assert!(out.status.success(), "{cmd} {args:?}: {}", String::from_utf8_lossy(&out.stderr));
}

/// One gateway: its veth pair (the attacker's side in `net.ns_b`), pins and state.
struct Gateway {
    net: NetPair,
    pins: PinDir,
    state: TempDir,
    url: String,
    id: String,
}

impl Gateway {
    fn new(hub: &mut Hub, id: &str) -> Self {
        let net = NetPair::new();
        let url = hub.link(&net.ns_a);
        let state = TempDir::new("fleet-gw-");
        std::fs::write(state.0.join("policy.toml"), POLICY).expect("policy");
        Self { net, pins: PinDir::new(), state, url, id: id.to_owned() }
    }

    fn start(&self) -> SensorProcess {
        let mut cmd = NetPair::command(&self.net.ns_a, tests::sensor_bin());
        cmd.arg("--pin-dir").arg(&self.pins.path).arg("--state-dir").arg(&self.state.0).args([
            "run",
            "--iface",
            &self.net.if_a,
            "--no-tracepoints",
            "--no-lake",
            "--metrics",
            "off",
            "--agents",
            "port_scan",
            "--fleet",
            &self.url,
            "--site",
            "lab",
            "--fleet-id",
            &self.id,
            "--agent-state",
        ]);
        cmd.arg(self.state.0.join("agents.json")).arg("--policy").arg(self.state.0.join("policy.toml"));
        SensorProcess::spawn(cmd, false)
    }

    fn outbox(&self) -> PathBuf {
        self.state.0.join("fleet-outbox.jsonl")
    }

    fn audit(&self) -> String {
        std::fs::read_to_string(self.state.0.join("audit.jsonl")).unwrap_or_default()
    }
}

fn answers(net: &NetPair) -> bool {
    NetPair::command(&net.ns_b, "ping")
        .args(["-c", "2", "-i", "0.2", "-W", "1", ADDR_A])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

fn wait_line(sensor: &SensorProcess, timeout: Duration, what: &str, pred: impl Fn(&str) -> bool) -> String {
    let t0 = Instant::now();
    while t0.elapsed() < timeout {
        if let Some(l) = sensor.stderr().lines().find(|l| pred(l)) {
            return l.to_owned();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("timed out waiting for {what}; sensor stderr:\n{}", sensor.stderr());
}

fn connected(s: &SensorProcess) {
    wait_line(s, Duration::from_secs(15), "the fleet connection", |l| l.starts_with("fleet: connected to"));
}

fn drops(pins: &Path) -> u64 {
    tests::status(pins)["drop_blocked_v4"].as_u64().unwrap_or(0)
}

fn blocked_by_fleet(gw: &Gateway, sensor: &SensorProcess) {
    wait_line(sensor, Duration::from_secs(20), "the fleet offer", |l| {
        l.contains("fleet: offer from lab.gw1: block 10.201.0.2/32")
    });
    let line =
        wait_line(sensor, Duration::from_secs(10), "the local block", |l| l.contains("block 10.201.0.2/32 -> applied"));
    assert!(line.contains("authority autonomous"), "{line}");
    let before = drops(&gw.pins.path);
    assert!(!answers(&gw.net), "{}: the attacker is dropped here too", gw.id);
    assert!(drops(&gw.pins.path) > before, "{}: XDP counted the drops", gw.id);
    let audit = gw.audit();
    assert!(audit.contains("\"fleet_offer\"") && audit.contains("\"from_host\":\"gw1\""), "{}: offer audited", gw.id);
    let st = gw.state.0.to_string_lossy().into_owned();
    let (ok, out, err) = sensor_cli(&["--state-dir", &st, "audit", "verify"]);
    assert!(ok, "{}: audit chain: {out}{err}", gw.id);
}

#[test]
fn a_scan_seen_by_one_gateway_is_blocked_at_the_other_two() {
    if !privileged(true) {
        return;
    }
    let mut hub = Hub::new();
    let gws: Vec<Gateway> = ["gw1", "gw2", "gw3"].iter().map(|id| Gateway::new(&mut hub, id)).collect();
    hub.start_server();
    let sensors: Vec<SensorProcess> = gws.iter().map(Gateway::start).collect();
    for s in &sensors {
        connected(s);
    }
    for gw in &gws[1..] {
        assert!(answers(&gw.net), "{}: the attacker is answered before any block", gw.id);
    }
    gws[0].net.scan(None, ADDR_A, 2000);
    let line = wait_line(&sensors[0], Duration::from_secs(15), "gw1's own block", |l| {
        l.contains("block 10.201.0.2/32 -> applied")
    });
    assert!(line.contains("authority autonomous"), "{line}");
    for (gw, s) in gws.iter().zip(&sensors).skip(1) {
        blocked_by_fleet(gw, s);
    }
    // The relayed decisions are not offered again: gw1 got no offer back.
    std::thread::sleep(Duration::from_millis(800));
    assert!(!sensors[0].stderr().contains("fleet: offer from"), "no echo: {}", sensors[0].stderr());
}

#[test]
fn a_gateway_restarted_while_the_server_is_down_loses_no_decision() {
    if !privileged(true) {
        return;
    }
    let mut hub = Hub::new();
    let gws: Vec<Gateway> = ["gw1", "gw2"].iter().map(|id| Gateway::new(&mut hub, id)).collect();
    hub.start_server();
    let mut first: Vec<SensorProcess> = gws.iter().map(Gateway::start).collect();
    for s in &first {
        connected(s);
    }
    hub.stop_server();
    for s in &first {
        wait_line(s, Duration::from_secs(15), "the outage line", |l| l.starts_with("fleet: NATS at"));
    }
    // gw1 still detects and blocks on its own while the server is down.
    gws[0].net.scan(None, ADDR_A, 2000);
    wait_line(&first[0], Duration::from_secs(15), "gw1's own block", |l| l.contains("block 10.201.0.2/32 -> applied"));
    assert!(!answers(&gws[0].net), "gw1 blocks without the fleet");
    let t0 = Instant::now();
    while !std::fs::read_to_string(gws[0].outbox()).is_ok_and(|t| t.contains("10.201.0.2/32")) {
        assert!(t0.elapsed() < Duration::from_secs(10), "the decision waits in gw1's outbox");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Both gateways restart while the server is still down.
    for s in &mut first {
        assert!(s.stop(Duration::from_secs(20)), "clean exit: {}", s.stderr());
    }
    drop(first);
    let second: Vec<SensorProcess> = gws.iter().map(Gateway::start).collect();
    std::thread::sleep(Duration::from_secs(1));
    assert!(answers(&gws[1].net), "gw2 has not heard of the block yet");
    hub.start_server();
    for s in &second {
        connected(s);
    }
    blocked_by_fleet(&gws[1], &second[1]);
    let t0 = Instant::now();
    while std::fs::read_to_string(gws[0].outbox()).is_ok_and(|t| !t.trim().is_empty()) {
        assert!(t0.elapsed() < Duration::from_secs(10), "gw1's outbox empties once the server acknowledged");
        std::thread::sleep(Duration::from_millis(50));
    }
}
