//! Tier 4, the analyst console in a real browser: the sensor runs on one end of a veth pair
//! with a lake already holding 10,000 past incidents, and headless Chromium (Debian's, driven
//! by playwright-core: tests/console-e2e/e2e.mjs) signs in to its console. Then the peer
//! scans from a critical asset and from five ordinary addresses, and events carrying
//! markup arrive: a program named like an HTML tag run from /tmp, a DNS query for a
//! domain made of markup, an HTTP request whose Host header is a script tag. The browser
//! must see the incident appear without a reload, approve the waiting block by a click,
//! find the block on the blocks page, mark the incident a true positive by a click, find
//! the approval under the analyst's name on the audit page, show every hostile string as text with nothing of it executed, draw the
//! health charts and page through the lake's history. Screenshots go to
//! target/console-e2e/. The test also asks the live console, without a browser, for data
//! with no credentials, a wrong token and a cross-site request, and is refused each time.
//! It prints the incident-to-page latency (p50) and the memory the console cost.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use sensor_user::{
    agents::finding::Severity,
    correlate::incident::Incident,
    lake::{Lake, LakeConfig},
};
use serde_json::Value;
use tests::{ADDR_A, NetPair, PinDir, SensorProcess, TempDir, privileged, unique};

const USER: &str = "analyst";
const TOKEN: &str = "e2e-console-token-0123456789abcdef";
const CRITICAL: &str = "10.201.0.3";
const ORDINARY: [&str; 5] = ["10.201.0.11", "10.201.0.12", "10.201.0.13", "10.201.0.14", "10.201.0.15"];
/// Addresses of the sensor side each ordinary scanner scans, one each: findings about
/// different attackers and targets are separate incidents.
const TARGETS: [&str; 5] = ["10.201.0.21", "10.201.0.22", "10.201.0.23", "10.201.0.24", "10.201.0.25"];
const PAST_INCIDENTS: u64 = 10_000;
const PROCESS_NAME: &str = "<img src=x onerror=window.__xss=1>";
/// No dot inside the label: a name is shown as dotted text, so the domain would start after it.
const DNS_DOMAIN: &str = "<img src=x onerror=alert(2)>.com";
const HTTP_HOST: &str = "<script>window.__xss=3</script>";

const POLICY: &str = r#"
version = "console-e2e"
[limits]
ttl_min = "1s"
ttl_ladder = ["10m"]
approval_expiry = "10m"
[[asset]]
name = "buildsrv"
match = ["10.201.0.3"]
criticality = 9
impact = 100.0
false_positive_cost = 40.0
class = "critical"
"#;

const RULES: &str = "alert http any any -> any any (msg:\"console e2e: markup in the Host header\"; flow:to_server; \
http.host; content:\"<script>\"; sid:9100001; rev:1;)\n";

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("console-e2e")
}

fn shots_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/console-e2e")
}

/// 10,000 incidents of the past ten hours, written through the lake's own writer.
fn fill_lake(root: &Path) {
    let lake = Lake::open(LakeConfig::live(root.to_owned())).expect("lake");
    let mut sink = lake.sink();
    let now = sensor_user::respond::wall_ns();
    for i in 0..PAST_INCIDENTS {
        let ts = now - (PAST_INCIDENTS - i) * 3_600_000_000;
        let mut inc = Incident::new(1_000_000 + i, ts, if i % 7 == 0 { Severity::High } else { Severity::Medium });
        inc.adversaries.insert(format!("10.{}.{}.{}", 50 + i / 65536, (i / 256) % 256, i % 256).parse().expect("ip"));
        inc.techniques.insert("T1046".into());
        inc.confidence = 0.5 + (i % 50) as f64 / 100.0;
        inc.findings_total = 1 + i % 20;
        sink.incident(&inc, ts);
    }
    sink.flush();
    drop(sink);
    lake.finish();
}

/// A DNS query whose registered domain is markup, under a long encoded label (the
/// dns_tunnel agent reports a name like that).
fn hostile_dns(net: &NetPair) {
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let (name, tld) = DNS_DOMAIN.split_once('.').expect("domain");
    for label in ["c2Vuc29yLWNvbnNvbGUtdGVzdC1leGZpbHRyYXRpb24tZGF0YQ", name, tld] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 16, 0, 1]);
    NetPair::in_ns(&net.ns_b, move || {
        let s = std::net::UdpSocket::bind("0.0.0.0:0").expect("udp");
        for _ in 0..3 {
            s.send_to(&q, (ADDR_A, 53)).expect("send");
            std::thread::sleep(Duration::from_millis(100));
        }
    });
}

/// An HTTP request whose Host header is a script tag, to a server on the sensor side.
fn hostile_http(net: &NetPair) {
    let (tx, rx) = std::sync::mpsc::channel();
    NetPair::spawn_in_ns(&net.ns_a, move || {
        let l = TcpListener::bind((ADDR_A, 8088)).expect("bind");
        let _ = tx.send(());
        if let Some(mut c) = l.incoming().map_while(Result::ok).next() {
            let mut buf = [0u8; 1024];
            let _ = c.read(&mut buf);
            let _ = c.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
        }
    });
    rx.recv().expect("server up");
    NetPair::in_ns(&net.ns_b, || {
        let mut c = TcpStream::connect((ADDR_A, 8088)).expect("connect");
        c.set_read_timeout(Some(Duration::from_secs(2))).expect("timeout");
        let req = format!("GET / HTTP/1.1\r\nHost: {HTTP_HOST}\r\nUser-Agent: <svg onload=window.__xss=4>\r\n\r\n");
        c.write_all(req.as_bytes()).expect("send");
        let mut out = Vec::new();
        let _ = c.read_to_end(&mut out);
    });
}

/// A program named `PROCESS_NAME` run from a fresh directory under /tmp.
fn hostile_process(dir: &Path) {
    let exe = dir.join(PROCESS_NAME);
    std::fs::copy("/bin/true", &exe).expect("copy /bin/true");
    assert!(Command::new(&exe).status().expect("run").success());
}

/// The status code of a raw request to the console (in the sensor's namespace).
fn status_of(ns: &str, addr: String, request: String) -> u16 {
    NetPair::in_ns(ns, move || {
        let mut c = TcpStream::connect(&addr).expect("connect to the console");
        c.write_all(request.as_bytes()).expect("request");
        let mut s = String::new();
        let _ = c.read_to_string(&mut s);
        s.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0)
    })
}

#[test]
fn an_analyst_sees_the_scan_approves_the_block_and_hostile_strings_stay_text_in_chromium() {
    if !privileged(true) {
        return;
    }
    let e2e = e2e_dir();
    assert!(
        e2e.join("node_modules/playwright-core").is_dir() && Path::new("/usr/bin/chromium").exists(),
        "the console test needs Debian's chromium and playwright-core: `cargo xtask test` installs both \
         (apt-get install chromium; npm ci --prefix tests/console-e2e)"
    );
    let net = NetPair::new();
    let pins = PinDir::new();
    let state = TempDir::new("console-e2e-");
    let tmp = TempDir(Path::new("/tmp").join(unique("console-e2e-exe-")));
    std::fs::create_dir_all(&tmp.0).expect("tmp dir");
    net.add_addr(true, CRITICAL);
    for (a, t) in ORDINARY.iter().zip(TARGETS) {
        net.add_addr(true, a);
        net.add_addr(false, t);
    }
    let t0 = Instant::now();
    fill_lake(&state.0.join("lake"));
    eprintln!("console e2e: lake filled with {PAST_INCIDENTS} incidents in {:.1} s", t0.elapsed().as_secs_f64());
    let users = state.0.join("console-users");
    std::fs::write(&users, format!("{USER} {TOKEN}\n")).expect("users");
    std::fs::set_permissions(&users, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod");
    std::fs::write(state.0.join("policy.toml"), POLICY).expect("policy");
    std::fs::write(state.0.join("console.rules"), RULES).expect("rules");

    let mut cmd = NetPair::command(&net.ns_a, tests::sensor_bin());
    cmd.arg("--pin-dir").arg(&pins.path).arg("--state-dir").arg(&state.0).args([
        "run",
        "--iface",
        &net.if_a,
        "--agents",
        "port_scan,process,dns_tunnel",
        "--console",
        "127.0.0.1:0",
        "--console-users",
    ]);
    cmd.arg(&users).arg("--policy").arg(state.0.join("policy.toml"));
    cmd.arg("--rules").arg(state.0.join("console.rules"));
    let mut sensor = SensorProcess::spawn(cmd, false);
    let err = sensor.stderr();
    let url = err
        .lines()
        .find_map(|l| l.strip_prefix("console: ").filter(|u| u.starts_with("http")).map(str::to_owned))
        .unwrap_or_else(|| panic!("the sensor prints the console address:\n{err}"));
    let addr = url.trim_start_matches("http://").trim_end_matches('/').to_owned();

    // Without a browser: no credentials, a wrong token, a cross-site request.
    let get = |auth: &str| format!("GET /api/incidents HTTP/1.1\r\nHost: {addr}\r\n{auth}\r\n");
    assert_eq!(status_of(&net.ns_a, addr.clone(), get("")), 401, "no credentials");
    assert_eq!(status_of(&net.ns_a, addr.clone(), get("Authorization: Bearer wrong-token-0123456789\r\n")), 401);
    assert_eq!(status_of(&net.ns_a, addr.clone(), get(&format!("Authorization: Bearer {TOKEN}\r\n"))), 200);
    let forged = format!(
        "POST /api/blocks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nOrigin: http://evil.example\r\n\
         Content-Type: application/json\r\nContent-Length: 34\r\n\r\n{{\"cidr\":\"10.201.0.99/32\",\"ttl\":\"1m\"}}"
    );
    assert_eq!(status_of(&net.ns_a, addr.clone(), forged), 403, "cross-site");

    let shots = shots_dir();
    std::fs::create_dir_all(&shots).expect("screenshot dir");
    let rss_before = tests::rss_kib(sensor.pid());
    let hostile = serde_json::to_string(&[PROCESS_NAME, DNS_DOMAIN, HTTP_HOST]).expect("json");
    let mut node = NetPair::command(&net.ns_a, "node")
        .arg(e2e.join("e2e.mjs"))
        .current_dir(&e2e)
        .env("CONSOLE_URL", &url)
        .env("CONSOLE_USER", USER)
        .env("CONSOLE_TOKEN", TOKEN)
        .env("SHOTS", &shots)
        .env("APPROVE_SRC", CRITICAL)
        .env("HOSTILE", &hostile)
        .stdout(Stdio::piped())
        .spawn()
        .expect("node");
    let mut lines = BufReader::new(node.stdout.take().expect("stdout")).lines();
    let ready = lines.next().and_then(Result::ok).unwrap_or_default();
    if ready != "READY" {
        let _ = node.kill();
        panic!("the browser did not sign in: {ready}\nsensor stderr:\n{}", sensor.stderr());
    }
    net.scan(Some(CRITICAL), ADDR_A, 2000);
    for (i, (a, t)) in ORDINARY.iter().zip(TARGETS).enumerate() {
        net.scan(Some(a), t, 3000 + 100 * i as u16);
        std::thread::sleep(Duration::from_millis(300));
    }
    hostile_process(&tmp.0);
    hostile_dns(&net);
    hostile_http(&net);

    let (mut result, mut fail, mut rss_history, mut rss_done) = (Value::Null, None, 0, 0);
    for l in lines.map_while(Result::ok) {
        if l == "PHASE history" {
            rss_history = tests::rss_kib(sensor.pid());
        } else if l == "PHASE done" {
            rss_done = tests::rss_kib(sensor.pid());
        } else if let Some(r) = l.strip_prefix("RESULT ") {
            result = serde_json::from_str(r).expect("result JSON");
        } else if let Some(f) = l.strip_prefix("FAIL ") {
            fail = Some(f.to_owned());
        }
    }
    let st = node.wait().expect("node exits");
    std::fs::write(shots.join("result.json"), result.to_string()).expect("result.json");
    assert!(
        st.success() && fail.is_none(),
        "browser run failed: {fail:?}\nresult: {result}\nsensor stderr:\n{}",
        sensor.stderr()
    );

    // What the browser saw.
    assert_eq!(result["reloaded"], false, "live updates, no reload: {result}");
    assert!(result["blocks"].as_array().is_some_and(|b| b.iter().any(|c| c == &format!("{CRITICAL}/32"))), "{result}");
    assert!(result["audit_status"].as_str().is_some_and(|s| s.starts_with("Chain verifies")), "{result}");
    assert_eq!(
        result["hostile_missing"],
        serde_json::json!([]),
        "every hostile string shown as text: {result}\nsensor stderr:\n{}",
        sensor.stderr()
    );
    assert_eq!(result["injected_elements"], 0, "no element made from event data: {result}");
    assert_eq!(result["xss_ran"], false, "{result}");
    assert_eq!(result["dialogs"], serde_json::json!([]), "{result}");
    assert!(result["console_errors"].as_array().is_some_and(Vec::is_empty), "{result}");
    // The past incidents, and the live ones once the lake has flushed them.
    let total = result["history_position"].as_str().and_then(|p| p.rsplit("of ").next()?.parse::<u64>().ok());
    assert!(total.is_some_and(|t| t >= PAST_INCIDENTS), "{result}");
    for page in ["incidents", "approvals", "blocks", "audit", "hostile", "health", "history"] {
        assert!(shots.join(format!("{page}.png")).is_file(), "screenshot {page}");
    }
    assert_eq!(
        result["feedback_text"],
        format!("true_positive by {USER} (console session from 127.0.0.1): scan confirmed <b>by e2e</b>"),
        "feedback by a click, the note shown as text: {result}"
    );
    // The audit log itself names the analyst.
    let audit = std::fs::read_to_string(state.0.join("audit.jsonl")).expect("audit log");
    assert!(audit.contains(&format!("\"approver\":\"{USER} (console session from 127.0.0.1)\"")), "{audit}");

    // Latency from the governor opening an incident to the page showing it.
    let ready_ms = result["ready_ms"].as_f64().unwrap_or(0.0);
    let mut lat: Vec<f64> = result["seen"]
        .as_object()
        .map(|m| {
            m.values()
                .filter(|v| v["opened_ms"].as_f64().unwrap_or(0.0) > ready_ms)
                .filter_map(|v| Some(v["seen_ms"].as_f64()? - v["opened_ms"].as_f64()?))
                .collect()
        })
        .unwrap_or_default();
    lat.sort_by(f64::total_cmp);
    assert!(lat.len() >= 6, "incidents opened while the page was open: {result}");
    eprintln!(
        "console e2e: incident -> page latency p50 {:.0} ms (min {:.0}, max {:.0}, {} incidents); sensor RSS {} MiB before the \
         browser, {} MiB after the live pages, {} MiB after paging the lake's history ({PAST_INCIDENTS} past incidents, {}); \
         browser JS heap {:.1} MiB, {} DOM nodes",
        lat[lat.len() / 2],
        lat[0],
        lat[lat.len() - 1],
        lat.len(),
        rss_before / 1024,
        rss_history / 1024,
        rss_done / 1024,
        result["history_paged_to"].as_str().unwrap_or("?"),
        result["js_heap_used_bytes"].as_f64().unwrap_or(0.0) / 1048576.0,
        result["dom_nodes"],
    );
    assert!(sensor.stop(Duration::from_secs(10)), "sensor stops cleanly: {}", sensor.stderr());
}
