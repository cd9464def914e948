//! The console over real TCP (and TLS): a governor with a dry-run actuator behind it, a
//! scan from a critical asset waiting for approval, and requests from a signed-in browser,
//! a script with a token, a stranger, a wrong token and a cross-site page.

use std::{
    io::{Read, Write},
    net::TcpStream,
    path::PathBuf,
    sync::{Arc, Mutex},
    time::Duration,
};

use serde_json::Value;

use super::{Backend, ConsoleConfig, ConsoleError, ConsoleServer, Users};
use crate::{
    agents::finding::{Entities, Evidence, Finding, Severity},
    api::handler::{GovernorApi, SharedGovernor},
    audit::AuditWriter,
    respond::{
        actuator::DryRun,
        config::GovernanceConfig,
        governor::{GovState, Governor},
        runner::{Clock, DecisionThread},
    },
};

const TOKEN: &str = "alice-token-0123456789";
const POLICY: &str = r#"
version = "console-test"
[limits]
ttl_min = "1s"
ttl_ladder = ["10m"]
approval_expiry = "15m"
[[asset]]
name = "buildsrv"
match = ["10.9.0.3"]
criticality = 9
impact = 100.0
false_positive_cost = 40.0
class = "critical"
"#;

struct Fixture {
    server: ConsoleServer,
    gov: SharedGovernor,
    dir: PathBuf,
    host: String,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sensor-console-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let audit_path = dir.join("audit.jsonl");
        let (audit, _) = AuditWriter::open(&audit_path, None, false).expect("audit");
        let cfg = GovernanceConfig::parse(POLICY, "test.toml").expect("policy");
        let gov = Governor::new(cfg, Box::new(DryRun::default()), Some(audit), GovState::default());
        let changes = Arc::clone(&gov.changes);
        let gov: SharedGovernor = Arc::new(Mutex::new(gov));
        let backend = Backend {
            governor: Some(Arc::new(GovernorApi::new(Arc::clone(&gov), None))),
            changes,
            audit: Some((audit_path, None)),
            health: Some(Arc::new(|| "# HELP x\nsensor_ring_events_total{ring=\"net\"} 7\n".to_owned())),
            history: None,
        };
        let users = Users::parse(&format!("alice {TOKEN}\n")).expect("users");
        let server = ConsoleServer::start(
            ConsoleConfig { addr: "127.0.0.1:0".into(), remote: false, tls: None, users },
            backend,
        )
        .expect("start");
        let host = server.addr().to_string();
        Self { server, gov, dir, host }
    }

    /// Sends `method path` with `headers` and `body`; returns (status, head, JSON body).
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> (u16, String, Value) {
        let mut c = TcpStream::connect(self.server.addr()).expect("connect");
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n", self.host, body.len());
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        c.write_all(req.as_bytes()).expect("send");
        let mut out = String::new();
        c.read_to_string(&mut out).expect("read");
        parse(&out)
    }

    fn origin(&self) -> String {
        format!("http://{}", self.host)
    }

    /// Signs in as alice: (cookie header, CSRF token).
    fn login(&self) -> (String, String) {
        let origin = self.origin();
        let (st, head, body) = self.send(
            "POST",
            "/api/login",
            &[("Origin", &origin)],
            &format!(r#"{{"user":"alice","token":"{TOKEN}"}}"#),
        );
        assert_eq!(st, 200, "{body}");
        let cookie = head.lines().find_map(|l| l.strip_prefix("Set-Cookie: ")).expect("a session cookie").to_owned();
        assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
        let pair = cookie.split(';').next().expect("pair").to_owned();
        (pair, body["csrf"].as_str().expect("csrf").to_owned())
    }

    /// A scan from the critical asset: one approval waits.
    fn pending_approval(&self) -> u64 {
        let mut g = self.gov.lock().expect("gov");
        g.on_finding(&scan_from("10.9.0.3"), crate::respond::wall_ns());
        g.approvals().next().expect("an approval").id
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A confident port scan from `src` against 10.9.0.1.
fn scan_from(src: &str) -> Finding {
    Finding::new(
        "port_scan",
        "syn_scan",
        1,
        0.95,
        Severity::High,
        "T1046",
        Entities { src: src.parse().ok(), dst: "10.9.0.1".parse().ok(), ..Entities::default() },
        Evidence::default(),
        "scan".into(),
    )
}

fn parse(resp: &str) -> (u16, String, Value) {
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((resp, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_owned(), serde_json::from_str(body).unwrap_or(Value::Null))
}

#[test]
fn nothing_is_served_without_authentication_or_with_a_wrong_token_or_session() {
    let fx = Fixture::new("unauth");
    for path in
        ["/api/incidents", "/api/approvals", "/api/blocks", "/api/audit", "/api/health", "/api/events", "/api/session"]
    {
        assert_eq!(fx.send("GET", path, &[], "").0, 401, "{path} without credentials");
        assert_eq!(fx.send("GET", path, &[("Authorization", "Bearer wrong-token-0123456789")], "").0, 401, "{path}");
        assert_eq!(fx.send("GET", path, &[("Cookie", "sensor_session=forged")], "").0, 401, "{path}");
    }
    let origin = fx.origin();
    let (st, _, body) =
        fx.send("POST", "/api/login", &[("Origin", &origin)], r#"{"user":"alice","token":"wrong-token-0123456789"}"#);
    assert_eq!(st, 401, "{body}");
    assert_eq!(fx.send("POST", "/api/blocks", &[], r#"{"cidr":"10.1.1.1/32","ttl":"1m"}"#).0, 401);
    assert_eq!(fx.gov.lock().expect("gov").blocks().count(), 0, "nothing was blocked");
    // The page itself holds no data and is served to anyone (it asks for sign-in).
    let (st, head, _) = fx.send("GET", "/", &[], "");
    assert_eq!(st, 200);
    assert!(head.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"), "{head}");
}

#[test]
fn cross_site_requests_are_refused_even_with_a_valid_session_or_token() {
    let fx = Fixture::new("csrf");
    let id = fx.pending_approval();
    let (cookie, csrf) = fx.login();
    let path = format!("/api/approvals/{id}/approve");
    let origin = fx.origin();
    let bearer = format!("Bearer {TOKEN}");
    let refused: [&[(&str, &str)]; 5] = [
        // A form or fetch from another site carries its own Origin.
        &[("Cookie", &cookie), ("Origin", "http://evil.example"), ("X-CSRF-Token", &csrf)],
        // Same origin but no CSRF token (a cookie alone proves nothing).
        &[("Cookie", &cookie), ("Origin", &origin)],
        &[("Cookie", &cookie), ("Origin", &origin), ("X-CSRF-Token", "0000")],
        &[("Cookie", &cookie), ("Sec-Fetch-Site", "cross-site"), ("X-CSRF-Token", &csrf)],
        &[("Authorization", &bearer), ("Origin", "http://evil.example")],
    ];
    for h in refused {
        let (st, _, body) = fx.send("POST", &path, h, "");
        assert_eq!(st, 403, "{h:?}: {body}");
    }
    let (st, _, _) = fx.send(
        "POST",
        "/api/login",
        &[("Origin", "http://evil.example")],
        &format!(r#"{{"user":"alice","token":"{TOKEN}"}}"#),
    );
    assert_eq!(st, 403, "login CSRF");
    assert_eq!(fx.gov.lock().expect("gov").approvals().count(), 1, "still waiting");
    // DNS rebinding: a page whose name resolves to 127.0.0.1 sends its own Host.
    let mut c = TcpStream::connect(fx.server.addr()).expect("connect");
    c.write_all(
        format!(
            "GET /api/incidents HTTP/1.1\r\nHost: evil.example:{}\r\nAuthorization: {bearer}\r\n\r\n",
            fx.server.addr().port()
        )
        .as_bytes(),
    )
    .expect("send");
    let mut out = String::new();
    c.read_to_string(&mut out).expect("read");
    assert_eq!(parse(&out).0, 421, "{out}");
}

#[test]
fn a_signed_in_analyst_approves_by_session_and_the_audit_log_names_them() {
    let fx = Fixture::new("approve");
    let id = fx.pending_approval();
    let (cookie, csrf) = fx.login();
    let origin = fx.origin();
    let (st, _, who) = fx.send("GET", "/api/session", &[("Cookie", &cookie)], "");
    assert_eq!((st, who["user"].as_str()), (200, Some("alice")));
    let (st, _, body) = fx.send(
        "POST",
        &format!("/api/approvals/{id}/approve"),
        &[("Cookie", &cookie), ("Origin", &origin), ("X-CSRF-Token", &csrf), ("Sec-Fetch-Site", "same-origin")],
        "",
    );
    assert_eq!(st, 200, "{body}");
    assert_eq!(body["decision"]["approver"], "alice (console session from 127.0.0.1)");
    let (_, _, blocks) = fx.send("GET", "/api/blocks", &[("Cookie", &cookie)], "");
    assert_eq!(blocks["blocks"][0]["cidr"], "10.9.0.3/32", "{blocks}");
    let (st, _, audit) = fx.send("GET", "/api/audit?limit=50", &[("Cookie", &cookie)], "");
    assert_eq!(st, 200);
    assert_eq!(audit["verify"]["ok"], true, "{audit}");
    let text = audit["records"].to_string();
    assert!(text.contains("alice (console session from 127.0.0.1)"), "{text}");
    // A script with the token: feedback and a manual block, no CSRF token needed.
    let bearer = format!("Bearer {TOKEN}");
    let inc = blocks["blocks"][0]["incident"].as_u64().expect("incident");
    let (st, _, body) = fx.send(
        "POST",
        &format!("/api/incidents/{inc}/feedback"),
        &[("Authorization", &bearer)],
        r#"{"label":"true-positive","note":"confirmed"}"#,
    );
    assert_eq!(st, 200, "{body}");
    let (st, _, body) =
        fx.send("POST", "/api/blocks/unblock", &[("Authorization", &bearer)], r#"{"cidr":"10.9.0.3/32"}"#);
    assert_eq!((st, body["was_blocked"].as_bool()), (200, Some(true)), "{body}");
    let (st, _, body) = fx.send("POST", "/api/blocks", &[("Authorization", &bearer)], r#"{"cidr":"not an address"}"#);
    assert_eq!(st, 400, "{body}");
    let (st, _, h) = fx.send("GET", "/api/health", &[("Authorization", &bearer)], "");
    assert_eq!((st, h["samples"][0]["labels"]["ring"].as_str()), (200, Some("net")), "{h}");
}

#[test]
fn the_event_stream_announces_a_new_incident_as_soon_as_the_governor_has_it() {
    let fx = Fixture::new("events");
    let (tap, thread) = DecisionThread::spawn(Arc::clone(&fx.gov), Clock::Wall, None).expect("decision thread");
    let mut c = TcpStream::connect(fx.server.addr()).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
    c.write_all(
        format!("GET /api/events HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\r\n", fx.host).as_bytes(),
    )
    .expect("send");
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    while !seen.contains("data: {\"seq\":0}") {
        let n = c.read(&mut buf).expect("hello");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    assert!(seen.contains("Content-Type: text/event-stream"), "{seen}");
    tap.send(scan_from("10.9.0.7")).expect("tap");
    while !seen.contains("data: {\"seq\":1}") {
        let n = c.read(&mut buf).expect("a change event within 5 s");
        assert!(n > 0, "stream closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let inc = fx.gov.lock().expect("gov").incidents().next().map(|i| i.opened_ns).expect("incident");
    assert!(inc > 0, "the incident records when the governor opened it");
    drop(tap);
    thread.join();
}

#[test]
fn a_non_loopback_address_needs_consent_and_bad_tls_files_are_named() {
    let backend = || Backend { governor: None, changes: Arc::default(), audit: None, health: None, history: None };
    let users = Users::parse(&format!("alice {TOKEN}")).expect("users");
    let cfg = ConsoleConfig { addr: "0.0.0.0:0".into(), remote: false, tls: None, users: users.clone() };
    assert!(matches!(ConsoleServer::start(cfg, backend()), Err(ConsoleError::NotLoopback(_))));
    let cfg = ConsoleConfig { addr: "nonsense".into(), remote: false, tls: None, users: users.clone() };
    assert!(matches!(ConsoleServer::start(cfg, backend()), Err(ConsoleError::Addr(_))));
    let missing = PathBuf::from("/nonexistent/cert.pem");
    let cfg = ConsoleConfig { addr: "127.0.0.1:0".into(), remote: false, tls: Some((missing.clone(), missing)), users };
    let e = ConsoleServer::start(cfg, backend()).expect_err("no cert").to_string();
    assert!(e.contains("/nonexistent/cert.pem"), "{e}");
}

#[test]
fn https_serves_the_api_with_a_given_certificate() {
    let dir = std::env::temp_dir().join(format!("sensor-console-tls-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let st = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1"])
        .args(["-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl (Debian package openssl) makes the test certificate");
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let users = Users::parse(&format!("alice {TOKEN}")).expect("users");
    let backend = Backend { governor: None, changes: Arc::default(), audit: None, health: None, history: None };
    let cfg = ConsoleConfig { addr: "127.0.0.1:0".into(), remote: false, tls: Some((cert.clone(), key)), users };
    let server = ConsoleServer::start(cfg, backend).expect("https console");
    assert!(server.url().starts_with("https://127.0.0.1:"));
    let out = std::process::Command::new("curl")
        .args(["-s", "--cacert"])
        .arg(&cert)
        .args(["-H", &format!("Authorization: Bearer {TOKEN}"), &format!("{}api/session", server.url())])
        .output()
        .expect("curl");
    let body: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    assert_eq!(body["user"], "alice", "{}", String::from_utf8_lossy(&out.stderr));
    let plain = std::process::Command::new("curl")
        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", &format!("http://{}/api/session", server.addr())])
        .output()
        .expect("curl");
    assert_ne!(String::from_utf8_lossy(&plain.stdout), "200", "no plain HTTP on an HTTPS console");
    let _ = std::fs::remove_dir_all(&dir);
}
