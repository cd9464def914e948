//! Tier 4: the sensor attached to a veth pair across two network namespaces the test
//! creates, real sockets from the peer, real processes for the tracepoints. Everything is
//! removed on drop, including on failure.

use std::{
    io::{Read, Write},
    net::{TcpListener, TcpStream, UdpSocket},
    process::Command,
    time::{Duration, Instant},
};

use serde_json::Value;
use tests::{ADDR_A, ADDR_B, NetPair, PinDir, SensorProcess, privileged, sensor_cli, status};

const WAIT: Duration = Duration::from_secs(10);

fn s(v: &Value, k: &str) -> String {
    v[k].as_str().map(str::to_owned).unwrap_or_else(|| v[k].to_string())
}

/// A TCP server in `ns` on ADDR_A:port answering "pong:<what it read>" to each connection.
fn echo_server(ns: &str, port: u16) -> std::sync::mpsc::Receiver<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    NetPair::spawn_in_ns(ns, move || {
        let l = TcpListener::bind((ADDR_A, port)).expect("bind");
        let _ = ready_tx.send(());
        for mut c in l.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf).unwrap_or(0);
            let _ = c.write_all(&[b"pong:", &buf[..n]].concat());
        }
    });
    ready_rx
}

fn tcp_exchange(ns: &str, port: u16, msg: &'static [u8]) -> Result<(u16, Vec<u8>), String> {
    NetPair::in_ns(ns, move || {
        let addr = format!("{ADDR_A}:{port}").parse().expect("addr");
        let mut c = TcpStream::connect_timeout(&addr, Duration::from_millis(700)).map_err(|e| e.to_string())?;
        c.set_read_timeout(Some(Duration::from_secs(2))).map_err(|e| e.to_string())?;
        let local = c.local_addr().map_err(|e| e.to_string())?.port();
        c.write_all(msg).map_err(|e| e.to_string())?;
        let mut out = Vec::new();
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).map_err(|e| e.to_string())?;
        out.extend_from_slice(&buf[..n]);
        Ok((local, out))
    })
}

fn udp_send(ns: &str, port: u16, msg: &'static [u8]) -> u16 {
    NetPair::in_ns(ns, move || {
        let u = UdpSocket::bind((ADDR_B, 0)).expect("udp bind");
        u.send_to(msg, (ADDR_A, port)).expect("udp send");
        u.local_addr().expect("local").port()
    })
}

#[test]
fn udp_and_tcp_from_the_peer_give_flow_starts_and_payload_samples_with_the_right_bytes() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let sensor = SensorProcess::start(Some(&net.ns_a), &pins.path, &["--iface", &net.if_a, "--no-tracepoints"]);
    assert!(sensor.stderr().contains("sensor_tc_egress"), "{}", sensor.stderr());

    let udp_port = udp_send(&net.ns_b, 9999, b"hello-udp");
    let ready = echo_server(&net.ns_a, 8080);
    ready.recv().expect("server up");
    let (tcp_port, reply) = tcp_exchange(&net.ns_b, 8080, b"hello-tcp").expect("tcp works");
    assert_eq!(reply, b"pong:hello-tcp");

    let udp_start = sensor
        .wait_for(WAIT, |v| v["event_type"] == "flow_start" && v["proto"] == "UDP" && v["dest_port"] == 9999)
        .expect("UDP flow start");
    assert_eq!((s(&udp_start, "src_ip"), s(&udp_start, "dest_ip")), (ADDR_B.to_owned(), ADDR_A.to_owned()));
    assert_eq!(udp_start["src_port"], udp_port);
    assert_eq!(udp_start["hook"], "xdp_ingress");
    let udp_sample = sensor
        .wait_for(WAIT, |v| v["event_type"] == "payload_sample" && v["dest_port"] == 9999)
        .expect("UDP payload sample");
    assert_eq!(udp_sample["payload_printable"], "hello-udp");

    let tcp_start = sensor
        .wait_for(WAIT, |v| v["event_type"] == "flow_start" && v["proto"] == "TCP" && v["dest_port"] == 8080)
        .expect("TCP flow start");
    assert_eq!(tcp_start["src_port"], tcp_port);
    assert_eq!(s(&tcp_start, "src_ip"), ADDR_B);
    let to_server = sensor
        .wait_for(WAIT, |v| {
            v["event_type"] == "payload_sample" && v["dest_port"] == 8080 && v["direction"] == "to_server"
        })
        .expect("TCP sample to server");
    assert_eq!(to_server["payload_printable"], "hello-tcp");
    let to_client = sensor
        .wait_for(WAIT, |v| {
            v["event_type"] == "payload_sample" && v["dest_port"] == 8080 && v["direction"] == "to_client"
        })
        .expect("TCP sample to client, seen by TC egress");
    assert_eq!(to_client["payload_printable"], "pong:hello-tcp");
    assert_eq!(to_client["hook"], "tc_egress");
    assert_eq!(to_client["src_port"], tcp_port, "samples carry the key in initiator order");
}

#[test]
fn sensor_block_drops_the_peer_at_once_and_unblock_restores_it() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let pin = pins.path.to_string_lossy().into_owned();
    let _sensor = SensorProcess::start(Some(&net.ns_a), &pins.path, &["--iface", &net.if_a, "--no-tracepoints"]);
    echo_server(&net.ns_a, 8081).recv().expect("server up");
    tcp_exchange(&net.ns_b, 8081, b"before").expect("reachable before the block");

    let before = status(&pins.path)["drop_blocked_v4"].as_u64().expect("counter");
    let (ok, out, err) = sensor_cli(&["--pin-dir", &pin, "block", ADDR_B, "--ttl", "5m", "--reason", "live test"]);
    assert!(ok, "block failed: {err}");
    assert!(out.contains("blocked 10.201.0.2/32"), "{out}");
    let blocked_at = Instant::now();
    // The very next packet from the peer is dropped: the map write is synchronous.
    udp_send(&net.ns_b, 9, b"after-block");
    let first_drop = loop {
        if status(&pins.path)["drop_blocked_v4"].as_u64().expect("counter") > before {
            break blocked_at.elapsed();
        }
        assert!(blocked_at.elapsed() < Duration::from_secs(5), "no drop counted after block");
    };
    eprintln!("first drop counted {first_drop:?} after `sensor block` returned");
    assert!(tcp_exchange(&net.ns_b, 8081, b"during").is_err(), "no reply while blocked");

    let (ok, out, _) = sensor_cli(&["--pin-dir", &pin, "blocks"]);
    assert!(ok && out.contains("10.201.0.2/32") && out.contains("live test"), "{out}");

    let (ok, _, err) = sensor_cli(&["--pin-dir", &pin, "unblock", ADDR_B]);
    assert!(ok, "unblock failed: {err}");
    let (_, reply) = tcp_exchange(&net.ns_b, 8081, b"after").expect("reachable after unblock");
    assert_eq!(reply, b"pong:after");
    let (ok, _, err) = sensor_cli(&["--pin-dir", &pin, "unblock", ADDR_B]);
    assert!(!ok && err.contains("was not blocked"), "{err}");
}

#[test]
fn exec_connect_and_open_from_child_processes_are_reported() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let watched = std::env::temp_dir().join(tests::unique("sensor-watch-"));
    std::fs::create_dir_all(&watched).expect("dir");
    let secret = watched.join("secret.txt");
    std::fs::write(&secret, "s3cret").expect("write");
    let prefix = format!("{}/", watched.display());
    let sensor = SensorProcess::start(
        Some(&net.ns_a),
        &pins.path,
        &["--iface", &net.if_a, "--watch-path", &prefix, "--no-egress"],
    );

    let child = Command::new("/bin/echo").arg("marker-7f3a").output().expect("echo");
    assert!(child.status.success());
    let me = std::process::id();
    let exec = sensor
        .wait_for(WAIT, |v| {
            v["event_type"] == "exec"
                && v["process"]["ppid"] == me
                && v["argv"].as_array().is_some_and(|a| a.iter().any(|x| x == "marker-7f3a"))
        })
        .expect("exec event for /bin/echo with our pid as parent");
    assert!(s(&exec, "filename").ends_with("echo"), "{exec}");
    assert_eq!(exec["process"]["comm"], "echo");

    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let mut bash =
        Command::new("bash").arg("-c").arg(format!("exec 3<>/dev/tcp/127.0.0.1/{port}")).spawn().expect("bash");
    let bash_pid = bash.id();
    let _ = bash.wait();
    let connect = sensor
        .wait_for(WAIT, |v| v["event_type"] == "connect" && v["process"]["pid"] == bash_pid)
        .expect("connect event from the child");
    assert_eq!((s(&connect, "dest_ip"), connect["dest_port"].clone()), ("127.0.0.1".to_owned(), Value::from(port)));

    let mut cat = Command::new("cat").arg(&secret).stdout(std::process::Stdio::null()).spawn().expect("cat");
    let cat_pid = cat.id();
    let _ = cat.wait();
    let open = sensor
        .wait_for(WAIT, |v| v["event_type"] == "open" && v["process"]["pid"] == cat_pid)
        .expect("open event for the watched file");
    assert_eq!(s(&open, "filename"), secret.display().to_string());
    let _ = std::fs::remove_dir_all(&watched);

    // setpriv drops to uid/gid 65534 with setresgid/setresuid before exec'ing true.
    let mut setpriv = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "/bin/true"])
        .spawn()
        .expect("setpriv");
    let setpriv_pid = setpriv.id();
    let _ = setpriv.wait();
    let setid = sensor
        .wait_for(WAIT, |v| {
            v["event_type"] == "setid"
                && v["process"]["pid"] == setpriv_pid
                && v["args"].as_array().is_some_and(|a| a.first() == Some(&Value::from(65534)))
        })
        .expect("set*id event with the new id");
    assert_eq!(setid["process"]["ppid"], me);
}

#[test]
fn a_burst_larger_than_the_ring_is_counted_as_loss_and_the_sensor_recovers() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    // A 4 KiB process ring holds a handful of exec events, and stdout is not read, so the
    // reader stalls once the pipe is full: a slow consumer under an exec storm.
    let state = tests::TempDir::new("sensor-state-");
    let mut cmd = NetPair::command(&net.ns_a, tests::sensor_bin());
    cmd.arg("--pin-dir").arg(&pins.path).arg("--state-dir").arg(&state.0).args([
        "run",
        "--print-events",
        "--iface",
        &net.if_a,
        "--no-egress",
        "--proc-ring-bytes",
        "4096",
    ]);
    let mut sensor = SensorProcess::spawn(cmd, false);
    for _ in 0..400 {
        let _ = Command::new("/bin/true").status();
    }
    let lost = status(&pins.path)["ring_fail_proc"].as_u64().expect("counter");
    assert!(lost > 0, "an exec storm into a 4 KiB ring with a stalled reader must count losses");
    // Recovery: the reader drains once stdout is read again, and the sensor stops cleanly.
    sensor.drain_stdout();
    let seen_again = (0..40).any(|_| {
        let _ = Command::new("/bin/echo").arg("after-the-storm").status();
        sensor
            .wait_for(Duration::from_millis(250), |v| {
                v["argv"].as_array().is_some_and(|a| a.iter().any(|x| x == "after-the-storm"))
            })
            .is_some()
    });
    assert!(seen_again, "events flow again after the burst");
    assert!(sensor.stop(Duration::from_secs(10)), "clean exit after SIGTERM: {}", sensor.stderr());
    assert!(sensor.stderr().contains("lost in the kernel"), "{}", sensor.stderr());
}

#[test]
fn blocks_survive_a_restart_and_programs_detach_when_the_sensor_exits() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let pin = pins.path.to_string_lossy().into_owned();
    let args = ["--iface", net.if_a.as_str(), "--no-tracepoints"];
    let mut first = SensorProcess::start(Some(&net.ns_a), &pins.path, &args);
    let (ok, _, err) = sensor_cli(&["--pin-dir", &pin, "block", ADDR_B, "--ttl", "1h"]);
    assert!(ok, "{err}");
    assert!(first.stop(Duration::from_secs(10)), "clean exit: {}", first.stderr());
    let link = Command::new("ip").args(["-n", &net.ns_a, "link", "show", &net.if_a]).output().expect("ip");
    assert!(!String::from_utf8_lossy(&link.stdout).contains("prog/xdp"), "XDP still attached after exit");

    let _second = SensorProcess::start(Some(&net.ns_a), &pins.path, &args);
    echo_server(&net.ns_a, 8082).recv().expect("server up");
    assert!(tcp_exchange(&net.ns_b, 8082, b"still-blocked").is_err(), "the pinned block applies after a restart");
    assert!(status(&pins.path)["drop_blocked_v4"].as_u64().expect("counter") > 0);
    let (ok, out, _) = sensor_cli(&["--pin-dir", &pin, "blocks", "--json"]);
    assert!(ok && out.contains("10.201.0.2/32"), "{out}");
}

/// An HTTP server in `ns` on ADDR_A:port answering every request with a fixed response.
fn http_server(ns: &str, port: u16) -> std::sync::mpsc::Receiver<()> {
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    NetPair::spawn_in_ns(ns, move || {
        let l = TcpListener::bind((ADDR_A, port)).expect("bind");
        let _ = ready_tx.send(());
        for mut c in l.incoming().map_while(Result::ok) {
            let mut buf = [0u8; 512];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    ready_rx
}

#[test]
fn live_mode_parses_http_from_kernel_payload_samples_into_eve() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let eve = std::env::temp_dir().join(tests::unique("live-eve"));
    struct Remove(std::path::PathBuf);
    impl Drop for Remove {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
    let _cleanup = Remove(eve.clone());
    let eve_arg = eve.to_str().expect("utf8 path");
    let mut sensor = SensorProcess::start(
        Some(&net.ns_a),
        &pins.path,
        &["--iface", &net.if_a, "--no-tracepoints", "--eve", eve_arg],
    );
    http_server(&net.ns_a, 8081).recv().expect("server up");
    let reply = NetPair::in_ns(&net.ns_b, || {
        let mut c = TcpStream::connect((ADDR_A, 8081)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        c.write_all(b"GET /live/path?q=1 HTTP/1.1\r\nHost: Sensor.Test:8081\r\nUser-Agent: live-test\r\n\r\n")
            .expect("send");
        let mut out = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n) = c.read(&mut buf) {
            if n == 0 || out.len() > 60 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
            if out.ends_with(b"ok") {
                break;
            }
        }
        out
    });
    assert!(reply.ends_with(b"ok"), "{}", String::from_utf8_lossy(&reply));
    // The kernel reports the flow's end on FIN; give the ring a moment, then stop.
    sensor.wait_for(WAIT, |v| v["event_type"] == "flow_end" && v["dest_port"] == 8081).expect("kernel flow end");
    assert!(sensor.stop(WAIT), "sensor stops cleanly: {}", sensor.stderr());
    let text = std::fs::read_to_string(&eve).expect("eve written");
    let records: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).expect("valid eve line")).collect();
    let http = records
        .iter()
        .find(|r| r["event_type"] == "http")
        .unwrap_or_else(|| panic!("an http record in live eve: {text}\n{}", sensor.stderr()));
    assert_eq!(http["http"]["url"], "/live/path?q=1");
    assert_eq!(http["http"]["hostname"], "sensor.test");
    assert_eq!(http["http"]["http_user_agent"], "live-test");
    assert_eq!(http["http"]["status"], 200);
    assert_eq!(http["src_ip"], ADDR_B);
    let flow = records
        .iter()
        .find(|r| r["event_type"] == "flow" && r["dest_port"] == 8081)
        .expect("a flow record for the connection");
    assert_eq!(flow["app_proto"], "http");
    assert!(flow["flow"]["pkts_toserver"].as_u64().unwrap_or(0) >= 3, "kernel counters cover the handshake: {flow}");
}
