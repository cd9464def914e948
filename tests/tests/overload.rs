//! Overload, with root and a real kernel: an exec storm and a UDP flood to a new port per
//! packet (every packet a new flow) at the generator's top rate, against a sensor with the
//! smallest rings. Memory stays bounded (RSS before and after printed), every event the
//! kernel could not hand over is counted per ring kind and CPU, the control socket answers
//! during the flood, the governor's loss share rises (the loss-aware rule's input), and
//! once the flood stops packets and execs are seen again and the sensor stops cleanly.

use std::{
    net::UdpSocket,
    process::Command,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering::Relaxed},
    },
    time::{Duration, Instant},
};

use tests::{ADDR_A, NetPair, PinDir, SensorProcess, TempDir, privileged, sensor_bin, sensor_cli};

/// The sum of every sample of metric family `name` (all label sets).
fn sum(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[test]
fn an_exec_storm_and_a_packet_flood_keep_memory_bounded_count_losses_and_recover() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let dir = TempDir::new("overload-");
    let state = dir.0.join("state");
    let lake = dir.0.join("lake");
    let mut cmd = NetPair::command(&net.ns_a, sensor_bin());
    cmd.arg("--pin-dir").arg(&pins.path).arg("--state-dir").arg(&state).args([
        "run",
        "--iface",
        &net.if_a,
        "--net-ring-bytes",
        "4096",
        "--proc-ring-bytes",
        "4096",
        "--metrics",
        "127.0.0.1:0",
        "--lake-flush",
        "1",
        "--lake",
    ]);
    cmd.arg(&lake);
    let mut sensor = SensorProcess::spawn(cmd, false);
    let err = sensor.stderr();
    let addr = err
        .lines()
        .find_map(|l| l.strip_prefix("metrics: http://"))
        .map(|l| l.trim_end_matches("/metrics").to_owned())
        .unwrap_or_else(|| panic!("no metrics line: {err}"));
    std::thread::sleep(Duration::from_secs(1));
    let rss_before = tests::rss_kib(sensor.pid());

    // The flood: one UDP datagram per destination port, as fast as one thread sends.
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));
    let (s2, n2) = (Arc::clone(&stop), Arc::clone(&sent));
    let flood = NetPair::spawn_in_ns(&net.ns_b, move || {
        let sock = UdpSocket::bind("0.0.0.0:0").expect("udp");
        let mut port: u16 = 1024;
        while !s2.load(Relaxed) {
            port = if port == u16::MAX { 1024 } else { port + 1 };
            if sock.send_to(b"flood", (ADDR_A, port)).is_ok() {
                n2.fetch_add(1, Relaxed);
            }
        }
    });
    // The exec storm: two shells running /bin/true back to back.
    let storms: Vec<_> = (0..2)
        .map(|_| {
            Command::new("sh")
                .args(["-c", "end=$(($(date +%s)+6)); while [ $(date +%s) -lt $end ]; do /bin/true; done"])
                .spawn()
                .expect("exec storm")
        })
        .collect();
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(3));
    // The control socket answers in the middle of it.
    let s = state.to_str().expect("utf8").to_owned();
    let asked = Instant::now();
    let (ok, out, err) = sensor_cli(&["--state-dir", &s, "incidents", "--json"]);
    assert!(ok, "control socket during the flood: {out}{err}");
    let answer_ms = asked.elapsed().as_millis();
    let during = tests::scrape_metrics(&net.ns_a, addr.clone());
    std::thread::sleep(Duration::from_secs(3));
    stop.store(true, Relaxed);
    flood.join().expect("flood thread");
    for mut c in storms {
        let _ = c.wait();
    }
    let flood_s = t0.elapsed().as_secs_f64();
    let pps = sent.load(Relaxed) as f64 / flood_s;

    // Counted: events the kernel could not reserve, per kind and CPU.
    let after = tests::scrape_metrics(&net.ns_a, addr.clone());
    let lost = sum(&after, "sensor_ring_lost_events_total");
    let read = sum(&after, "sensor_ring_events_total");
    assert!(lost > 0.0, "a 4 KiB ring under a flood loses events, and counts them:\n{after}");
    assert!(after.contains("sensor_ring_lost_events_total{kind=\"flow\""), "{after}");
    let share = sum(&during, "sensor_loss_share").max(sum(&after, "sensor_loss_share"));
    assert!(share > 0.0, "the governor sees the loss:\n{during}");

    // Recovered: a ping is seen by XDP, and an exec reaches the lake.
    let passed = sum(&after, "sensor_xdp_packets_total");
    let st =
        NetPair::command(&net.ns_b, "ping").args(["-c", "3", "-i", "0.2", "-W", "1", ADDR_A]).status().expect("ping");
    assert!(st.success(), "ping after the flood");
    let marker = dir.0.join("after-the-flood");
    std::fs::copy("/bin/true", &marker).expect("copy");
    let l = lake.to_str().expect("utf8").to_owned();
    let sql = "SELECT count(*) FROM process WHERE filename LIKE '%after-the-flood'";
    let t = Instant::now();
    let mut seen = false;
    while !seen && t.elapsed() < Duration::from_secs(20) {
        let _ = Command::new(&marker).status();
        std::thread::sleep(Duration::from_millis(500));
        let (_, out, _) = sensor_cli(&["query", "--lake", &l, "--csv", sql]);
        seen = out.lines().nth(1).is_some_and(|n| n.trim() != "0");
    }
    assert!(seen, "execs are seen again after the storm:\n{}", sensor.stderr());
    let later = tests::scrape_metrics(&net.ns_a, addr);
    assert!(sum(&later, "sensor_xdp_packets_total") >= passed + 3.0, "packets are seen again");

    let rss_after = tests::rss_kib(sensor.pid());
    eprintln!(
        "overload: flood {pps:.0} pps for {flood_s:.1} s; events read {read:.0}, lost {lost:.0}; loss share {share:.3}; \
         control socket answered in {answer_ms} ms; RSS {} MiB before, {} MiB after",
        rss_before / 1024,
        rss_after / 1024
    );
    // Bounded: preallocated tables, bounded queues; the flood adds flows, not unbounded state.
    assert!(rss_after < rss_before + 512 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB");
    assert!(sensor.stop(Duration::from_secs(30)), "clean exit after the flood: {}", sensor.stderr());
}
