//! The lake end to end: a replay's lake read by DuckDB and pyarrow (the analysts' tools)
//! with the same counts as eve.json; `sensor query` in its three formats with a corrupt
//! file skipped and reported; and, live in a test namespace, /metrics checked by promtool,
//! the lake filled while the sensor runs, and a full then read-only lake directory that
//! pauses writes while detection goes on and loses nothing already written; and a slow
//! scan cut in two by a restart, found because the agents warm up on the lake's recent
//! history, while a scan reported before the restart is not reported again.

use std::{
    collections::BTreeMap,
    io::Write,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::Value;
use tests::{ADDR_A, NetPair, PinDir, SensorProcess, TempDir, privileged, replay::data_dir, sensor_bin, sensor_cli};

/// The Python with duckdb and pyarrow (`cargo xtask test` makes it); None skips the test
/// unless the privileged tier is required.
fn lake_python() -> Option<PathBuf> {
    let py = std::env::var_os("SENSOR_LAKE_PYTHON").map(PathBuf::from);
    match py.filter(|p| p.is_file()) {
        Some(p) => Some(p),
        None if std::env::var("SENSOR_REQUIRE_PRIVILEGED").is_ok_and(|v| v == "1") => {
            panic!("SENSOR_LAKE_PYTHON (a python with duckdb and pyarrow) is required")
        }
        None => {
            eprintln!("skipped: no SENSOR_LAKE_PYTHON; `cargo xtask test` installs duckdb and pyarrow");
            None
        }
    }
}

fn replay_into(lake: &Path, eve: &Path, inputs: &[PathBuf], extra: &[&str]) {
    let mut args: Vec<String> = vec!["replay".into()];
    args.extend(inputs.iter().map(|p| p.to_string_lossy().into_owned()));
    for a in ["--no-progress", "--quiet", "--eve"] {
        args.push(a.into());
    }
    args.push(eve.to_string_lossy().into_owned());
    args.push("--lake".into());
    args.push(lake.to_string_lossy().into_owned());
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let (ok, _, err) = sensor_cli(&refs);
    assert!(ok, "replay failed: {err}");
}

fn eve_counts(eve: &Path) -> BTreeMap<String, u64> {
    let text = std::fs::read_to_string(eve).expect("eve");
    let mut m = BTreeMap::new();
    for l in text.lines() {
        let v: Value = serde_json::from_str(l).expect("eve line");
        let t = v["event_type"].as_str().unwrap_or("").to_owned();
        let key = if t == "anomaly" && v["anomaly"]["type"] == "finding" { "finding".to_owned() } else { t };
        *m.entry(key).or_default() += 1;
    }
    m
}

#[test]
fn a_replayed_lake_is_read_by_duckdb_and_pyarrow_with_the_eve_counts() {
    let (Some(py), Some(data)) = (lake_python(), data_dir()) else { return };
    if !sensor_bin().is_file() {
        eprintln!("skipped: no sensor binary");
        return;
    }
    let dir = TempDir::new("lake-duckdb-");
    let (lake, eve) = (dir.0.join("lake"), dir.0.join("eve.json"));
    let pcaps = data.join("pcaps");
    let inputs = [pcaps.join("scans"), pcaps.join("c2-and-tunnels"), pcaps.join("normal")];
    replay_into(&lake, &eve, &inputs, &[]);
    let want = eve_counts(&eve);
    assert!(want.get("flow").copied().unwrap_or(0) > 100, "{want:?}");
    assert!(want.get("finding").copied().unwrap_or(0) > 0, "{want:?}");
    let script = r#"
import json, sys, glob
import duckdb, pyarrow.parquet as pq, pyarrow.dataset as ds
root = sys.argv[1]
out = {}
for t in ["flows", "dns", "http", "tls", "findings", "incidents"]:
    files = glob.glob(f"{root}/table={t}/**/*.parquet", recursive=True)
    if not files:
        out[t] = {"duckdb": 0, "pyarrow": 0}
        continue
    n = duckdb.sql(f"SELECT count(*) FROM read_parquet('{root}/table={t}/**/*.parquet', hive_partitioning = true)").fetchall()[0][0]
    d = ds.dataset(f"{root}/table={t}", format="parquet", partitioning="hive")
    schema = {f.name: str(f.type) for f in pq.read_schema(files[0])}
    parts = duckdb.sql(f"SELECT DISTINCT date, hour FROM read_parquet('{root}/table={t}/**/*.parquet', hive_partitioning = true) LIMIT 1").fetchall()
    out[t] = {"duckdb": n, "pyarrow": d.count_rows(), "schema": schema, "partition": [str(x) for x in parts[0]]}
print(json.dumps(out))
"#;
    let o = Command::new(&py).args(["-c", script]).arg(&lake).output().expect("python runs");
    assert!(o.status.success(), "python failed: {}", String::from_utf8_lossy(&o.stderr));
    let got: Value = serde_json::from_slice(&o.stdout).expect("json");
    for (table, eve_type) in
        [("flows", "flow"), ("dns", "dns"), ("http", "http"), ("tls", "tls"), ("findings", "finding")]
    {
        let n = want.get(eve_type).copied().unwrap_or(0);
        assert_eq!(got[table]["duckdb"], n, "{table}: DuckDB rows vs eve {eve_type} records");
        assert_eq!(got[table]["pyarrow"], n, "{table}: pyarrow rows vs eve {eve_type} records");
    }
    assert!(got["incidents"]["duckdb"].as_u64().unwrap_or(0) > 0, "{got}");
    let flows = &got["flows"]["schema"];
    assert_eq!(flows["ts"], "timestamp[ns, tz=UTC]", "{flows}");
    assert_eq!(flows["flow_id"], "int64");
    assert_eq!(flows["src_ip"], "string");
    assert_eq!(flows["alerted"], "bool");
    assert_eq!(got["findings"]["schema"]["confidence"], "double");
    // The Hive partition keys come back as columns.
    assert_eq!(got["flows"]["partition"].as_array().map(Vec::len), Some(2), "{got}");
}

#[test]
fn sensor_query_answers_as_table_json_and_csv_and_skips_a_corrupt_file() {
    let Some(data) = data_dir() else { return };
    if !sensor_bin().is_file() {
        eprintln!("skipped: no sensor binary");
        return;
    }
    let dir = TempDir::new("lake-query-");
    let (lake, eve) = (dir.0.join("lake"), dir.0.join("eve.json"));
    replay_into(&lake, &eve, &[data.join("pcaps/scans")], &[]);
    let flows = eve_counts(&eve).get("flow").copied().unwrap_or(0);
    let l = lake.to_string_lossy().into_owned();
    let (ok, out, err) = sensor_cli(&["query", "--lake", &l, "--json", "SELECT count(*) AS n FROM flows"]);
    assert!(ok, "{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON row");
    assert_eq!(v["n"], flows);
    let (ok, out, _) = sensor_cli(&[
        "query",
        "--lake",
        &l,
        "--csv",
        "SELECT src_ip, count(DISTINCT dest_port) AS ports FROM flows GROUP BY src_ip ORDER BY ports DESC LIMIT 1",
    ]);
    assert!(ok);
    let mut lines = out.lines();
    assert_eq!(lines.next(), Some("src_ip,ports"));
    let top: Vec<&str> = lines.next().expect("a row").split(',').collect();
    assert!(top[1].parse::<u64>().expect("count") >= 100, "the scanner probed many ports: {out}");
    let (ok, out, err) = sensor_cli(&["query", "--lake", &l, "SELECT agent, kind FROM findings LIMIT 1"]);
    assert!(ok, "{err}");
    assert!(out.starts_with("+--") && out.contains("| agent"), "{out}");
    assert!(err.contains("row(s) from"), "{err}");

    // A damaged file among the flows: skipped, named, and the rest still answers.
    let part = std::fs::read_dir(lake.join("table=flows")).expect("flows").flatten().next().expect("a date").path();
    let hour = std::fs::read_dir(&part).expect("date").flatten().next().expect("an hour").path();
    std::fs::write(hour.join("part-0000000000000-1-999999.parquet"), b"PAR1\0\0torn").expect("write");
    let (ok, out, err) = sensor_cli(&["query", "--lake", &l, "--json", "SELECT count(*) AS n FROM flows"]);
    assert!(ok, "{err}");
    assert!(err.contains("skipped unreadable file") && err.contains("part-0000000000000-1-999999.parquet"), "{err}");
    let v: Value = serde_json::from_str(out.trim()).expect("one JSON row");
    assert_eq!(v["n"], flows);
    // A query error is an error with DataFusion's reason, not an empty answer.
    let (ok, _, err) = sensor_cli(&["query", "--lake", &l, "SELECT nope FROM flows"]);
    assert!(!ok);
    assert!(err.contains("query failed"), "{err}");
}

fn metrics_addr(sensor: &SensorProcess) -> String {
    let err = sensor.stderr();
    let line =
        err.lines().find(|l| l.starts_with("metrics: http://")).unwrap_or_else(|| panic!("no metrics line: {err}"));
    line.trim_start_matches("metrics: http://").trim_end_matches("/metrics").to_owned()
}

fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(name) && l[name.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
}

fn wait(pred: impl Fn() -> bool, what: &str, log: impl Fn() -> String) {
    tests::wait_until(what, Duration::from_secs(20), pred, log);
}

fn ping(net: &NetPair, n: u32) {
    let st = NetPair::command(&net.ns_b, "ping")
        .args(["-c", &n.to_string(), "-i", "0.01", "-W", "1", ADDR_A])
        .stdout(Stdio::null())
        .status()
        .expect("ping");
    assert!(st.success(), "ping through the veth pair");
}

#[test]
fn live_metrics_pass_promtool_and_the_lake_fills_while_running() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let dir = TempDir::new("lake-live-");
    let lake = dir.0.join("lake");
    let l = lake.to_string_lossy().into_owned();
    let mut sensor = SensorProcess::start(
        Some(&net.ns_a),
        &pins.path,
        &["--iface", &net.if_a, "--no-egress", "--metrics", "127.0.0.1:0", "--lake", &l, "--lake-flush", "1"],
    );
    ping(&net, 5);
    let marker = dir.0.join("lake-marker-exec");
    std::fs::copy("/bin/true", &marker).expect("copy");
    assert!(Command::new(&marker).status().expect("exec").success());
    // The process ring's rows are committed within the flush interval.
    wait(
        || {
            let (_, out, _) = sensor_cli(&[
                "query",
                "--lake",
                &l,
                "--csv",
                "SELECT count(*) FROM process WHERE filename LIKE '%lake-marker-exec'",
            ]);
            out.lines().nth(1).is_some_and(|n| n.trim() != "0")
        },
        "the marker exec in the lake's process table",
        || sensor.stderr(),
    );
    let resp = tests::scrape_metrics(&net.ns_a, metrics_addr(&sensor));
    let (head, body) = resp.split_once("\r\n\r\n").expect("HTTP response");
    assert!(head.starts_with("HTTP/1.1 200 OK") && head.contains("text/plain; version=0.0.4"), "{head}");
    let mut promtool = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (Debian package prometheus) runs");
    promtool.stdin.take().expect("stdin").write_all(body.as_bytes()).expect("feed promtool");
    let out = promtool.wait_with_output().expect("promtool");
    assert!(
        out.status.success(),
        "promtool check metrics: {}{}\n{body}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for family in [
        "sensor_ring_events_total{ring=\"net\"}",
        "sensor_ring_lost_events_total{kind=\"sample\",cpu=\"0\"}",
        "sensor_xdp_packets_total{verdict=\"pass\"}",
        "sensor_xdp_drops_total{reason=\"manual\"}",
        "sensor_flow_table_flows",
        "sensor_agent_latency_seconds_bucket{agent=\"port_scan\",le=\"+Inf\"}",
        "sensor_findings_total{agent=\"port_scan\"}",
        "sensor_incidents",
        "sensor_blocks_active",
        "sensor_approvals_pending",
        "sensor_lake_write_lag_seconds",
    ] {
        assert!(body.contains(family), "{family} missing from /metrics:\n{body}");
    }
    assert!(metric(body, "sensor_xdp_packets_total{verdict=\"pass\"}").unwrap_or(0.0) >= 5.0, "{body}");
    assert!(metric(body, "sensor_lake_rows_written_total").unwrap_or(0.0) > 0.0, "{body}");
    assert_eq!(metric(body, "sensor_lake_paused"), Some(0.0));
    assert!(sensor.stop(Duration::from_secs(20)), "clean exit: {}", sensor.stderr());
    // At exit the flows and the agents' baselines are committed too.
    let (ok, out, err) =
        sensor_cli(&["query", "--lake", &l, "--csv", "SELECT count(*) FROM flows WHERE proto = 'ICMP'"]);
    assert!(ok, "{err}");
    assert_ne!(out.lines().nth(1), Some("0"), "the ping's flow: {out}");
    let (_, out, _) = sensor_cli(&["query", "--lake", &l, "--csv", "SELECT count(*) FROM baselines"]);
    assert_eq!(out.lines().nth(1), Some("1"), "baselines saved at exit: {out}");
}

/// A small tmpfs mounted for one test, unmounted on drop.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn new(dir: &Path, size: &str) -> Self {
        std::fs::create_dir_all(dir).expect("mount point");
        let st = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(dir).status();
        assert!(st.is_ok_and(|s| s.success()), "mount tmpfs");
        Self(dir.to_owned())
    }

    /// Remounts with `opt`; a read-only remount is refused (busy) while a file is open for
    /// writing, e.g. during one of the sensor's commits, so it is tried again for a while.
    fn remount(&self, opt: &str) {
        let t0 = Instant::now();
        loop {
            let out = Command::new("mount").args(["-o", &format!("remount,{opt}")]).arg(&self.0).output();
            match out {
                Ok(o) if o.status.success() => return,
                Ok(_) if t0.elapsed() < Duration::from_secs(10) => {
                    std::thread::sleep(Duration::from_millis(50));
                }
                o => panic!("remount {opt}: {o:?}"),
            }
        }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_then_read_only_lake_pauses_writes_while_detection_goes_on() {
    if !privileged(true) {
        return;
    }
    let net = NetPair::new();
    let pins = PinDir::new();
    let dir = TempDir::new("lake-full-");
    let fs = Tmpfs::new(&dir.0.join("mnt"), "8m");
    let lake = fs.0.join("lake");
    let l = lake.to_string_lossy().into_owned();
    let sensor = SensorProcess::start(
        Some(&net.ns_a),
        &pins.path,
        &["--iface", &net.if_a, "--no-egress", "--metrics", "127.0.0.1:0", "--lake", &l, "--lake-flush", "0.5"],
    );
    let addr = metrics_addr(&sensor);
    let scrape_body = |ns: &str| tests::scrape_metrics(ns, addr.clone());
    let exec = |name: &str| {
        let p = dir.0.join(name);
        std::fs::copy("/bin/true", &p).expect("copy");
        assert!(Command::new(&p).status().expect("exec").success());
    };
    exec("before-full");
    wait(
        || metric(&scrape_body(&net.ns_a), "sensor_lake_rows_written_total").unwrap_or(0.0) > 0.0,
        "first commit",
        || sensor.stderr(),
    );
    let (_, before, _) = sensor_cli(&["query", "--lake", &l, "--csv", "SELECT count(*) FROM process"]);

    // Disk full: a filler takes the rest of the tmpfs.
    let filler = fs.0.join("filler");
    let _ = Command::new("dd")
        .args(["if=/dev/zero", "bs=1M", "count=16"])
        .arg(format!("of={}", filler.display()))
        .stderr(Stdio::null())
        .status();
    exec("during-full");
    wait(|| sensor.stderr().contains("lake: writes paused"), "the pause line", || sensor.stderr());
    let body = scrape_body(&net.ns_a);
    assert_eq!(metric(&body, "sensor_lake_paused"), Some(1.0), "{body}");
    assert!(metric(&body, "sensor_lake_write_errors_total").unwrap_or(0.0) >= 1.0);
    // Detection goes on: the sensor still reports new process events.
    exec("still-seen");
    assert!(
        sensor
            .wait_for(Duration::from_secs(10), |v| v["filename"].as_str().is_some_and(|f| f.ends_with("still-seen")))
            .is_some(),
        "events keep flowing while the lake is full"
    );
    // What was committed before is intact.
    let (ok, same, err) = sensor_cli(&["query", "--lake", &l, "--csv", "SELECT count(*) FROM process"]);
    assert!(ok && !err.contains("skipped"), "{err}");
    assert!(
        same.lines().nth(1).and_then(|n| n.parse::<u64>().ok()) >= before.lines().nth(1).and_then(|n| n.parse().ok())
    );
    std::fs::remove_file(&filler).expect("free the disk");
    wait(|| sensor.stderr().contains("lake: writes resumed"), "the resume line", || sensor.stderr());

    // Read-only: the same pause and resume.
    let resumed = sensor.stderr().matches("lake: writes resumed").count();
    fs.remount("ro");
    exec("during-ro");
    wait(
        || metric(&scrape_body(&net.ns_a), "sensor_lake_paused") == Some(1.0),
        "a pause on the read-only lake",
        || sensor.stderr(),
    );
    fs.remount("rw");
    wait(|| sensor.stderr().matches("lake: writes resumed").count() > resumed, "the second resume", || sensor.stderr());
    wait(
        || {
            let (_, out, _) = sensor_cli(&[
                "query",
                "--lake",
                &l,
                "--csv",
                "SELECT count(*) FROM process WHERE filename LIKE '%during-%'",
            ]);
            out.lines().nth(1) == Some("2")
        },
        "the rows held during both pauses, committed",
        || sensor.stderr(),
    );
    let body = scrape_body(&net.ns_a);
    assert_eq!(metric(&body, "sensor_lake_rows_dropped_total"), Some(0.0), "nothing lost: {body}");
}

/// Connection attempts from `src` (an address of the peer namespace) to `ports` of the
/// sensor side, all closed: each is a SYN answered by RST.
fn probe_ports(net: &NetPair, src: &str, ports: std::ops::Range<u16>) {
    let script = "import socket,sys\nsrc,dst,lo,hi=sys.argv[1],sys.argv[2],int(sys.argv[3]),int(sys.argv[4])\nfor p in range(lo,hi):\n    s=socket.socket()\n    s.bind((src,0))\n    s.settimeout(0.2)\n    try:\n        s.connect((dst,p))\n    except Exception:\n        pass\n    s.close()\n";
    let st = NetPair::command(&net.ns_b, "python3")
        .args([&["-c", script, src, ADDR_A][..], &[&ports.start.to_string(), &ports.end.to_string()]].concat())
        .status()
        .expect("python3");
    assert!(st.success(), "probe script failed");
}

fn scan_lines(sensor: &SensorProcess, src: &str) -> usize {
    let needle = format!("{src} probed");
    sensor.stderr().lines().filter(|l| l.starts_with("finding port_scan") && l.contains(&needle)).count()
}

#[test]
fn a_slow_scan_cut_by_a_restart_is_found_from_the_lakes_recent_history() {
    if !privileged(true) {
        return;
    }
    const LOUD: &str = "10.201.0.2";
    const SLOW: &str = "10.201.0.5";
    let net = NetPair::new();
    let st = Command::new("ip")
        .args(["-n", &net.ns_b, "addr", "add", &format!("{SLOW}/24"), "dev", &net.if_b])
        .status()
        .expect("ip");
    assert!(st.success());
    let pins = PinDir::new();
    let dir = TempDir::new("lake-history-");
    let l = dir.0.join("lake").to_string_lossy().into_owned();
    let args = [
        "--iface",
        &net.if_a,
        "--no-tracepoints",
        "--agents",
        "port_scan",
        "--no-govern",
        "--metrics",
        "off",
        "--lake",
        &l,
        "--lake-flush",
        "1",
    ];
    let mut first = SensorProcess::start(Some(&net.ns_a), &pins.path, &args);
    // Before the restart: a loud scan (reported now) and three probes of a slow one (not
    // yet a scan: five distinct ports make one).
    probe_ports(&net, LOUD, 3000..3012);
    probe_ports(&net, SLOW, 4000..4003);
    wait(|| scan_lines(&first, LOUD) > 0, "the loud scan's finding", || first.stderr());
    let slow_flows = format!("SELECT count(*) FROM flows WHERE src_ip = '{SLOW}' AND tcp_flags_tc IS NOT NULL");
    wait(
        || {
            let (_, out, _) = sensor_cli(&["query", "--lake", &l, "--csv", &slow_flows]);
            out.lines().nth(1).and_then(|n| n.trim().parse::<u64>().ok()).is_some_and(|n| n >= 3)
        },
        "the slow scan's three flows in the lake",
        || first.stderr(),
    );
    assert_eq!(scan_lines(&first, SLOW), 0, "three probes are no scan: {}", first.stderr());
    assert!(first.stop(Duration::from_secs(20)), "clean exit: {}", first.stderr());

    let second = SensorProcess::start(Some(&net.ns_a), &pins.path, &args);
    let warm = second
        .stderr()
        .lines()
        .find(|l| l.starts_with("agents: warmed up on"))
        .map(str::to_owned)
        .unwrap_or_else(|| panic!("no warm-up line: {}", second.stderr()));
    // "... N findings held back": the loud scan, found again on its history, stays quiet.
    let held: u64 = warm
        .split(';')
        .next_back()
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("held-back count in {warm:?}"));
    eprintln!("{warm}");
    assert!(held >= 1, "{warm}");
    assert!(warm.contains(" flows,") && !warm.contains("on 0 events"), "{warm}");
    probe_ports(&net, SLOW, 4003..4006);
    wait(|| scan_lines(&second, SLOW) > 0, "the slow scan's finding after the restart", || second.stderr());
    let line = second.stderr().lines().find(|l| l.contains(&format!("{SLOW} probed"))).map(str::to_owned);
    // Three probes after the restart, at least five counted: both halves.
    let ports = line
        .as_deref()
        .and_then(|l| l.split(" distinct ports").next()?.rsplit(' ').next()?.parse::<u32>().ok())
        .unwrap_or_else(|| panic!("distinct ports in {line:?}"));
    assert!(ports >= 5, "both halves counted: {line:?}");
    assert_eq!(scan_lines(&second, LOUD), 0, "the loud scan is not reported twice: {}", second.stderr());
}
