//! Real captures as oracles: tshark's HTTP dissection of four nDPI captures
//! (`tests/fixtures/*.tshark`, written by `tools/extract_fixture.py`) and the
//! expectations of suricata-verify's `http-*` tests (eve fields and rule
//! matches from their test.yaml / test.rules).
#[path = "http_common/mod.rs"]
mod common;

use common::{Conn, contains, load, run, s};
use sensor_user::packet::app::http::{HttpAnomaly, HttpTx};

const NDPI: [&str; 4] = ["ndpi-exe_download", "ndpi-trickbot", "ndpi-sql_injection", "ndpi-WebattackSQLinj"];

fn tshark_rows(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/fixtures/http/{name}.tshark", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .expect("tshark fixture")
        .lines()
        .map(|l| l.split('\t').map(String::from).collect())
        .collect()
}

fn fnv1a64(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

fn cl(headers: &[(Vec<u8>, Vec<u8>)]) -> Option<u64> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(b"content-length")).and_then(|(_, v)| s(v).trim().parse().ok())
}

/// Compares method/uri/Host/User-Agent of every request and the status and
/// Content-Length of every response with tshark, stream by stream, and the
/// complete decoded bodies with the objects tshark exports. Returns
/// (requests, responses, bodies) checked.
fn check_tshark(name: &str, all_bodies_complete: bool) -> (usize, usize, usize) {
    let rows = tshark_rows(name);
    let mut objs: Vec<(usize, u64)> = rows
        .iter()
        .filter(|r| r[0] == "OBJ")
        .map(|r| (r[1].parse().expect("len"), u64::from_str_radix(&r[2], 16).expect("hex")))
        .collect();
    objs.sort_unstable();
    let mut bodies = Vec::new();
    let (mut nreq, mut nres) = (0, 0);
    for conn in load(&format!("{name}.stream")) {
        let txs = run(&conn);
        let id = conn.name.as_str();
        let rows_of =
            |kind: &str| -> Vec<&Vec<String>> { rows.iter().filter(|r| r[0] == kind && r[1] == id).collect() };
        let want_req = rows_of("REQ");
        let got_req: Vec<&HttpTx> = txs.iter().filter(|t| !t.method.is_empty()).collect();
        assert_eq!(got_req.len(), want_req.len(), "{name}/{id}: requests");
        for (t, w) in got_req.iter().zip(&want_req) {
            assert_eq!(s(&t.method), w[2], "{name}/{id} method");
            assert_eq!(s(&t.uri_raw), w[3], "{name}/{id} uri");
            assert_eq!(s(t.host_raw.as_deref().unwrap_or_default()), w[4], "{name}/{id} host");
            let want_ua = w.get(5).map_or("", String::as_str);
            assert_eq!(s(t.user_agent.as_deref().unwrap_or_default()), want_ua, "{name}/{id}");
            assert_eq!(t.host.as_deref(), Some(w[4].split(':').next().unwrap_or("").as_bytes()));
            nreq += 1;
        }
        let want_res = rows_of("RES");
        let got_res: Vec<&HttpTx> = txs.iter().filter(|t| t.status.is_some()).collect();
        assert_eq!(got_res.len(), want_res.len(), "{name}/{id}: responses");
        for (t, w) in got_res.iter().zip(&want_res) {
            assert_eq!(t.status.map(|c| c.to_string()).as_deref(), Some(w[2].as_str()));
            assert_eq!(cl(&t.response_headers).map(|c| c.to_string()).as_deref(), w.get(3).map(String::as_str));
            nres += 1;
        }
        for t in &txs {
            if cl(&t.request_headers).is_some_and(|n| n > 0 && n == t.request_body_len) {
                bodies.push((t.request_body.len(), fnv1a64(&t.request_body)));
            }
            if cl(&t.response_headers).is_some_and(|n| n == t.response_body_len) {
                bodies.push((t.response_body.len(), fnv1a64(&t.response_body)));
            }
        }
    }
    bodies.sort_unstable();
    if all_bodies_complete {
        assert_eq!(bodies, objs, "{name}: decoded bodies vs tshark export");
    } else {
        let mut left = objs.clone();
        for b in &bodies {
            let i = left.iter().position(|o| o == b);
            assert!(i.is_some(), "{name}: body {b:?} not among tshark's {objs:?}");
            if let Some(i) = i {
                left.remove(i);
            }
        }
    }
    (nreq, nres, bodies.len())
}

#[test]
fn tshark_fields_and_bodies_match() {
    let mut total = (0, 0, 0);
    for name in NDPI {
        let complete = name.contains("sql");
        let (a, b, c) = check_tshark(name, complete);
        total = (total.0 + a, total.1 + b, total.2 + c);
    }
    // 12 requests, 12 responses; 10 gzip response bodies + 1 POST body.
    assert_eq!(total, (12, 12, 11));
}

#[test]
fn ndpi_details() {
    let txs = run(&load("ndpi-WebattackSQLinj.stream")[0]);
    let t = &txs[0];
    assert_eq!(t.uri, b"/dv/vulnerabilities/sqli/?id=1'&Submit=Submit");
    assert_eq!(t.response_body_len, 141);
    assert!(t.response_body.starts_with(b"<pre>You have an error in your SQL syntax"));
    assert!(t.anomalies.is_empty());
    let t = &run(&load("ndpi-exe_download.stream")[0])[0];
    assert!(t.response_body.starts_with(b"MZ"), "PE download kept");
    let t = &run(&load("ndpi-trickbot.stream")[0])[0];
    assert_eq!(t.request_body_len, 928);
    assert!(t.request_body.starts_with(b"OK21pqJAtyyGBEo00sk="));
    assert_eq!(t.referer.as_deref(), Some(&b"http://82.118.225.196/OK21pqJAtyyGBEo00sk"[..]));
}

/// suricata-verify cases by name.
fn sv(name: &str) -> Vec<HttpTx> {
    let conns: Vec<Conn> =
        load("suricata-verify-http.stream").into_iter().filter(|c| c.name.split(':').next() == Some(name)).collect();
    assert_eq!(conns.len(), 1, "{name}");
    run(&conns[0])
}

fn header<'a>(h: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    h.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice())
}

#[test]
fn sv_ipv6_hostname() {
    // test.yaml: http.hostname "[::1]".
    let t = &sv("http-ipv6")[0];
    assert_eq!(t.host.as_deref(), Some(&b"[::1]"[..]));
    assert_eq!(t.host_raw.as_deref(), Some(&b"[::1]:8000"[..]));
    assert_eq!(t.status, Some(200));
    assert_eq!(t.response_body_len, 563);
}

#[test]
fn sv_async_srv_response_only() {
    // test.yaml: one http event with status 200; file_data has World, People.
    let txs = sv("http-async-srv");
    assert_eq!(txs.len(), 2);
    assert!(txs.iter().all(|t| t.status == Some(200) && t.anomalies.contains(&HttpAnomaly::ResponseWithoutRequest)));
    assert!(contains(&txs[0].response_body, b"World"));
    assert!(contains(&txs[1].response_body, b"People"));
}

#[test]
fn sv_post_data_decompression() {
    // sid 1: http_client_body has "name" (gzip request body); sid 2: not in
    // the response body.
    let t = &sv("http-post-data-decompression")[0];
    assert!(contains(&t.request_body.to_ascii_lowercase(), b"name"));
    assert_eq!(t.request_body_len, 45);
    assert!(!contains(&t.response_body.to_ascii_lowercase(), b"name"));
}

#[test]
fn sv_request_and_response_lines() {
    // http-request-line sid 5; the headers never end: close() still emits it.
    let t = &sv("http-request-line")[0];
    assert_eq!(t.request_line, b"GET /index.html HTTP/1.0");
    assert_eq!((t.protocol.as_slice(), t.uri.as_slice()), (&b"HTTP/1.0"[..], &b"/index.html"[..]));
    // http-response-line sid 1: response line, body missing.
    let t = &sv("http-response-line")[0];
    assert_eq!(t.response_line, b"HTTP/1.0 200 OK");
    assert_eq!(t.status, Some(200));
}

#[test]
fn sv_not09_file() {
    // Junk request: the response is still parsed as HTTP (sid 1 matches the
    // response line, sid 2 must not find it in file_data).
    let txs = sv("http-not09-file");
    let t = txs.iter().find(|t| t.status.is_some()).expect("response");
    assert_eq!(t.status, Some(400));
    assert!(t.response_line.starts_with(b"HTTP/1.1 400"));
    assert!(!contains(&t.response_body, b"HTTP/1.1 400"));
    assert!(t.anomalies.contains(&HttpAnomaly::InvalidRequestLine));
}

#[test]
fn sv_headers_of_unfinished_messages() {
    // http-close-headers: server header seen although the connection closed
    // inside the response headers.
    let t = &sv("http-close-headers")[0];
    assert_eq!(header(&t.response_headers, "server"), Some(&b"ng1nx"[..]));
    // http-chunked: HEAD request with "Transfer-Encoding: ,\tchunked,": all
    // request headers present (sids 41..46).
    let t = &sv("http-chunked")[0];
    for h in ["host", "cookie", "x-qlik-user", "user-agent", "content-length", "transfer-encoding"] {
        assert!(header(&t.request_headers, h).is_some(), "{h}");
    }
    assert_eq!(t.method, b"HEAD");
    // http-connection-toclient sid 15: Connection: close in the response.
    let t = &sv("http-connection-toclient")[0];
    assert_eq!(header(&t.response_headers, "connection"), Some(&b"close"[..]));
    assert_eq!(t.response_body_len, 108);
}

#[test]
fn sv_identity_and_upgrade() {
    // http-encoding-identity sid 1.
    let t = &sv("http-encoding-identity")[0];
    assert_eq!(t.response_body, b"identity content-encoding works");
    assert!(t.anomalies.is_empty());
    // http-request-header-multi sid 3: method, uri endswith /ws, UA.
    let t = &sv("http-request-header-multi")[0];
    assert_eq!((t.method.as_slice(), t.uri.as_slice()), (&b"GET"[..], &b"/s/ws"[..]));
    assert_eq!(t.user_agent.as_deref(), Some(&b"Go-http-client/1.1"[..]));
    assert_eq!(t.host.as_deref(), Some(&b"foobar.com"[..]));
}

#[test]
fn sv_absolute_uri_and_bare_lf() {
    // http-raw-header: absolute-form target; host from the authority.
    let t = &sv("http-raw-header")[0];
    assert_eq!(t.uri, b"/pptmaster/ptcuu.ini");
    assert_eq!(t.host.as_deref(), Some(&b"ppmter.720891.com"[..]));
    assert_eq!(t.response_body_len, 3204);
    // http-auth-bearer: bare-LF request and response.
    let t = &sv("http-auth-bearer")[0];
    assert_eq!(header(&t.request_headers, "authorization"), Some(&b"Bearer mF_9.B5f-4.1JqM"[..]));
    assert_eq!(t.host.as_deref(), Some(&b"www.example.com"[..]));
    assert_eq!(t.status, Some(200));
}

#[test]
fn sv_duplicate_content_length() {
    // http-multiple-cl: "Content-Length: 11" then "93": the first wins, so
    // the second request is parsed; it swallows the third (CL 98).
    let txs = sv("http-multiple-cl");
    let uris: Vec<String> = txs.iter().map(|t| s(&t.uri)).collect();
    assert_eq!(uris, ["/which.php", "/evil.php"]);
    assert_eq!(txs[0].request_body, b"bar=1&foo=2");
    assert_eq!(txs[0].status, Some(501));
}

#[test]
fn sv_gaps() {
    // http-gap-simple: 14 bytes lost inside the second response body; the
    // third transaction parses normally. (No eve oracle in suricata-verify:
    // the expectations are this parser's documented gap rules.)
    let txs = sv("http-gap-simple");
    let uris: Vec<String> = txs.iter().map(|t| s(&t.uri)).collect();
    assert_eq!(uris, ["/1", "/2", "/3"]);
    assert_eq!(txs[0].response_body, b"Hello World!");
    assert_eq!(txs[1].anomalies, [HttpAnomaly::Gap]);
    assert_eq!(txs[1].response_body_len, 70);
    assert_eq!(txs[1].response_body.len(), 56);
    assert_eq!(txs[2].response_body, b"Hello People");
    assert!(txs[2].anomalies.is_empty());
    // http-gap-beyond-body: the gap swallows the second response head; the
    // parser resyncs on the third response.
    // The first body is lost and so is the start of the second response: the
    // second request gets no response, the third pairs correctly.
    let txs = sv("http-gap-beyond-body");
    let uris: Vec<String> = txs.iter().map(|t| s(&t.uri)).collect();
    assert_eq!(uris, ["/1", "/2", "/3"]);
    assert_eq!(txs[0].anomalies, [HttpAnomaly::Gap]);
    assert_eq!((txs[0].status, txs[0].response_body_len), (Some(200), 12));
    assert_eq!((txs[1].status, &txs[1].anomalies[..]), (None, &[HttpAnomaly::Gap][..]));
    assert_eq!(txs[2].response_body, b"Hello People");
    assert!(txs[2].anomalies.is_empty());
}

#[test]
fn every_fixture_byte_by_byte_equals_whole() {
    let mut files: Vec<String> = NDPI.iter().map(|n| format!("{n}.stream")).collect();
    files.push("suricata-verify-http.stream".into());
    for f in files {
        for c in load(&f) {
            let whole = run(&c);
            for step in [1, 2, 7, 100] {
                let split = common::run_with(&c, Default::default(), step);
                assert_eq!(whole, split, "{f}/{} step {step}", c.name);
            }
        }
    }
}
