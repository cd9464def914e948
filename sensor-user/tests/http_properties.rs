//! Behaviour tests on hand-made streams plus robustness on mutated real
//! streams: chunked + gzip, pipelining, interim/no-body responses, bare LF,
//! close-delimited bodies, bombs, header limits, tunnels, gaps, garbage.
#[path = "http_common/mod.rs"]
mod common;

use std::io::Write;

use common::{contains, load, run_with};
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder};
use sensor_user::packet::Direction::{self, ToClient, ToServer};
use sensor_user::packet::app::http::{
    HttpAnomaly, HttpConfig, HttpState, HttpTx, looks_like_http_request, looks_like_http_response,
};

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = GzEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("write");
    e.finish().expect("gzip")
}

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = DeflateEncoder::new(Vec::new(), Compression::default());
    e.write_all(data).expect("write");
    e.finish().expect("deflate")
}

fn chunked(body: &[u8], size: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for c in body.chunks(size) {
        out.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
        out.extend_from_slice(c);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    out
}

/// Feeds (direction, bytes) pairs in `step`-byte pieces, then closes.
fn exchange(cfg: HttpConfig, parts: &[(Direction, &[u8])], step: usize) -> (Vec<HttpTx>, usize) {
    let mut st = HttpState::new(cfg);
    let mut out = Vec::new();
    for (dir, data) in parts {
        for piece in data.chunks(step.max(1)) {
            st.feed(*dir, piece, &mut out);
        }
    }
    let before_close = out.len();
    st.close(&mut out);
    (out, before_close)
}

fn all_steps(parts: &[(Direction, &[u8])]) -> Vec<HttpTx> {
    let (whole, _) = exchange(HttpConfig::default(), parts, usize::MAX);
    for step in [1, 2, 3, 5, 13] {
        let (split, _) = exchange(HttpConfig::default(), parts, step);
        assert_eq!(whole, split, "step {step}");
    }
    whole
}

#[test]
fn chunked_gzip_response_is_decoded() {
    let page = b"<html>".repeat(500);
    let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n\r\n".to_vec();
    let wire = gzip(&page);
    resp.extend_from_slice(&chunked(&wire, 37));
    let txs = all_steps(&[(ToServer, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"), (ToClient, &resp)]);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].response_body, page);
    assert_eq!(txs[0].response_body_len, wire.len() as u64);
    assert!(txs[0].anomalies.is_empty());
}

#[test]
fn chunked_deflate_request_body_is_decoded() {
    let form = b"user=admin&pass=' or 1=1 --".to_vec();
    let mut req =
        b"POST /login HTTP/1.1\r\nHost: a\r\nContent-Encoding: deflate\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    req.extend_from_slice(&chunked(&deflate(&form), 4));
    let txs = all_steps(&[(ToServer, &req), (ToClient, b"HTTP/1.1 204 No Content\r\n\r\n")]);
    assert_eq!(txs[0].request_body, form);
    assert_eq!(txs[0].status, Some(204));
}

#[test]
fn pipelined_requests_pair_in_order() {
    let reqs = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n\
POST /c HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\nabc\
GET /d HTTP/1.1\r\nHost: x\r\n\r\nGET /e HTTP/1.1\r\nHost: x\r\n\r\n";
    let resps = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nA\
HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n\
HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nC\
HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n\
HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nE";
    let txs = all_steps(&[(ToServer, reqs), (ToClient, resps)]);
    let got: Vec<(String, Option<u16>, Vec<u8>)> =
        txs.iter().map(|t| (common::s(&t.uri), t.status, t.response_body.clone())).collect();
    let want = [("/a", 200, &b"A"[..]), ("/b", 200, b""), ("/c", 201, b"C"), ("/d", 304, b""), ("/e", 404, b"E")];
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!((g.0.as_str(), g.1, g.2.as_slice()), (w.0, Some(w.1), w.2));
    }
    assert_eq!(txs[2].request_body, b"abc");
    assert!(txs.iter().all(|t| t.anomalies.is_empty()));
}

#[test]
fn transactions_are_emitted_when_complete() {
    let mut st = HttpState::new(HttpConfig::default());
    let mut out = Vec::new();
    st.feed(ToServer, b"GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", &mut out);
    assert!(out.is_empty());
    st.feed(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", &mut out);
    assert_eq!(out.len(), 1);
    st.feed(ToClient, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\no", &mut out);
    assert_eq!(out.len(), 1);
    st.close(&mut out);
    assert_eq!(out.len(), 2);
    assert_eq!(out[1].response_body, b"o");
}

#[test]
fn bare_lf_and_folding() {
    let req = b"GET /x?q=1 HTTP/1.1\nHost: Example.COM:8080\nUser-Agent: a\n  b\nCookie: c=1\nX-Dup: 1\nx-dup: 2\n\n";
    let resp = b"HTTP/1.1 302 Found\nLocation: /y\nContent-Length: 0\n\n";
    let txs = all_steps(&[(ToServer, req), (ToClient, resp)]);
    let t = &txs[0];
    assert_eq!(t.host.as_deref(), Some(&b"example.com"[..]));
    assert_eq!(t.host_raw.as_deref(), Some(&b"Example.COM:8080"[..]));
    assert_eq!(t.user_agent.as_deref(), Some(&b"a b"[..]));
    assert_eq!(t.cookie.as_deref(), Some(&b"c=1"[..]));
    let dups: Vec<&[u8]> =
        t.request_headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case(b"x-dup")).map(|(_, v)| v.as_slice()).collect();
    assert_eq!(dups, [b"1", b"2"]);
    assert_eq!(t.request_headers[4].0, b"x-dup");
    assert_eq!((t.status, t.location.as_deref()), (Some(302), Some(&b"/y"[..])));
}

#[test]
fn http10_close_delimited_body() {
    let parts: [(Direction, &[u8]); 3] = [
        (ToServer, b"GET /old HTTP/1.0\r\n\r\n"),
        (ToClient, b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nline one\n"),
        (ToClient, b"line two\n"),
    ];
    let (txs, before_close) = exchange(HttpConfig::default(), &parts, usize::MAX);
    assert_eq!(before_close, 0, "only close() ends the body");
    assert_eq!(txs[0].response_body, b"line one\nline two\n");
    assert_eq!(txs[0].response_content_type.as_deref(), Some(&b"text/plain"[..]));
    assert_eq!(txs[0].response_body_len, 18);
}

#[test]
fn http09_request() {
    let txs = all_steps(&[(ToServer, b"GET /x\r\n"), (ToClient, b"<html>raw</html>")]);
    assert_eq!(txs[0].protocol, b"");
    assert_eq!(txs[0].uri, b"/x");
    assert!(txs[0].request_headers.is_empty());
    assert_eq!(txs[0].response_body, b"<html>raw</html>");
    assert!(txs[0].anomalies.is_empty());
}

#[test]
fn gzip_bomb_stays_within_body_limit() {
    let zeros = vec![0u8; 32 << 20];
    let bomb = gzip(&zeros);
    assert!(bomb.len() < 64 << 10);
    let mut resp =
        format!("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: {}\r\n\r\n", bomb.len()).into_bytes();
    resp.extend_from_slice(&bomb);
    let cfg = HttpConfig { body_limit: 4096, ..HttpConfig::default() };
    let (txs, _) = exchange(cfg, &[(ToServer, b"GET / HTTP/1.1\r\n\r\n"), (ToClient, &resp)], 1500);
    let t = &txs[0];
    assert_eq!(t.response_body.len(), 4096);
    assert!(t.response_body.capacity() <= 2 * 4096, "no growth past the limit");
    assert_eq!(t.response_body_len, bomb.len() as u64);
    assert!(t.anomalies.contains(&HttpAnomaly::BodyTruncated));
    // A plain body is cut the same way.
    let mut resp = b"HTTP/1.1 200 OK\r\nContent-Length: 10000\r\n\r\n".to_vec();
    resp.extend(std::iter::repeat_n(b'x', 10000));
    let (txs, _) = exchange(cfg, &[(ToServer, b"GET / HTTP/1.1\r\n\r\n"), (ToClient, &resp)], 999);
    assert_eq!((txs[0].response_body.len(), txs[0].response_body_len), (4096, 10000));
}

#[test]
fn invalid_gzip_is_flagged_and_kept_raw() {
    let resp = b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 11\r\n\r\nhello world";
    let txs = all_steps(&[(ToServer, b"GET / HTTP/1.1\r\n\r\n"), (ToClient, resp)]);
    assert_eq!(txs[0].response_body, b"hello world");
    assert!(txs[0].anomalies.contains(&HttpAnomaly::GzipError));
}

#[test]
fn header_block_is_bounded() {
    let cfg = HttpConfig { max_header_bytes: 256, ..HttpConfig::default() };
    let mut req = b"GET /big HTTP/1.1\r\nHost: h\r\n".to_vec();
    for i in 0..100 {
        req.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(50)).as_bytes());
    }
    req.extend_from_slice(b"Content-Length: 2\r\n\r\nhiGET /next HTTP/1.1\r\n\r\n");
    let huge_line = vec![b'a'; 1 << 20];
    let parts: [(Direction, &[u8]); 4] =
        [(ToServer, &req), (ToServer, b"GET /"), (ToServer, &huge_line), (ToServer, b" HTTP/1.1\r\n\r\n")];
    let (txs, _) = exchange(cfg, &parts, 4096);
    for step in [1, 7, 100_000] {
        assert_eq!(exchange(cfg, &parts, step).0, txs, "step {step}");
    }
    assert_eq!(txs[0].uri, b"/big");
    assert!(txs[0].anomalies.contains(&HttpAnomaly::HeaderTooLong));
    let kept: usize = txs[0].request_headers.iter().map(|(n, v)| n.len() + v.len()).sum();
    assert!(kept <= 256);
    // The Content-Length header was beyond the limit: no body, so "hi" is
    // junk before the next request line.
    assert_eq!(txs[1].method, b"hiGET");
    assert!(txs[2].anomalies.contains(&HttpAnomaly::HeaderTooLong));
    assert!(txs[2].request_line.len() <= 256);
}

#[test]
fn connect_tunnel_is_not_parsed() {
    let tls = [0x16u8, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03];
    let txs = all_steps(&[
        (ToServer, b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"),
        (ToServer, &tls),
        (ToClient, b"HTTP/1.1 200 Connection established\r\n\r\n"),
        (ToClient, &tls),
        (ToServer, b"GET /not-http HTTP/1.1\r\n\r\n"),
    ]);
    assert_eq!(txs.len(), 1);
    assert_eq!(txs[0].host.as_deref(), Some(&b"example.com"[..]));
    assert_eq!(txs[0].status, Some(200));
    // A refused upgrade: the held bytes are parsed as the next request.
    let txs = all_steps(&[
        (ToServer, b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n\r\nGET /after HTTP/1.1\r\n\r\n"),
        (ToClient, b"HTTP/1.1 400 Bad\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"),
    ]);
    let uris: Vec<&[u8]> = txs.iter().map(|t| t.uri.as_slice()).collect();
    assert_eq!(uris, [&b"/ws"[..], b"/after"]);
    assert_eq!(txs[1].status, Some(200));
}

#[test]
fn request_gap_keeps_pairing() {
    let mut st = HttpState::new(HttpConfig::default());
    let mut out = Vec::new();
    st.feed(ToServer, b"GET /1 HTTP/1.1\r\n\r\n", &mut out);
    st.gap(ToServer, 20); // all of "GET /2 HTTP/1.1\r\n\r\n"
    st.feed(ToServer, b"GET /3 HTTP/1.1\r\n\r\n", &mut out);
    for body in ["one", "two", "three"] {
        let r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
        st.feed(ToClient, r.as_bytes(), &mut out);
    }
    st.close(&mut out);
    let got: Vec<(&[u8], &[u8])> = out.iter().map(|t| (t.uri.as_slice(), t.response_body.as_slice())).collect();
    assert_eq!(got, [(&b"/1"[..], &b"one"[..]), (b"", b"two"), (b"/3", b"three")]);
    assert_eq!(out[1].anomalies, [HttpAnomaly::Gap]);
}

#[test]
fn detection_helpers() {
    assert!(looks_like_http_request(b"GET / HTTP/1.1\r\n"));
    assert!(looks_like_http_request(b"PROPFIND /x HTTP/1.1"));
    assert!(!looks_like_http_request(b"GET"));
    assert!(!looks_like_http_request(b"GETX / HTTP/1.1"));
    assert!(!looks_like_http_request(b"\x16\x03\x01"));
    assert!(looks_like_http_response(b"HTTP/1.1 200 OK"));
    assert!(!looks_like_http_response(b"HTTP/2 200"));
    assert!(!looks_like_http_response(b"SSH-2.0"));
}

#[test]
fn pending_transactions_are_bounded() {
    let mut st = HttpState::new(HttpConfig::default());
    let mut out = Vec::new();
    for _ in 0..1000 {
        st.feed(ToServer, b"GET / HTTP/1.1\r\n\r\n", &mut out);
    }
    assert!(out.len() >= 1000 - sensor_user::packet::app::http::MAX_PENDING_TXS);
    st.close(&mut out);
    assert_eq!(out.len(), 1000);
}

/// xorshift64* — deterministic pseudo-random numbers for mutation.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const INTERESTING: &[u8] = b"\r\n\t :;0fF\x00\x0b\xff1HTTP/";

#[test]
fn garbage_never_panics() {
    let cfg = HttpConfig { body_limit: 2048, max_header_bytes: 512 };
    let mut corpus = load("suricata-verify-http.stream");
    corpus.extend(load("http-evader.stream.gz").into_iter().step_by(4));
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut runs = 0;
    for conn in &corpus {
        // Every prefix of each stream, cut at a random point.
        for _ in 0..4 {
            let mut c = conn.clone();
            let keep = rng.below(c.events.len() + 1);
            c.events.truncate(keep);
            if let Some(common::Ev::Data(_, d)) = c.events.last_mut() {
                let n = rng.below(d.len() + 1);
                d.truncate(n);
            }
            check_bounds(&run_with(&c, cfg, 1 + rng.below(40)), cfg);
            runs += 1;
        }
        // Byte mutations, insertions, deletions and random gaps.
        for _ in 0..12 {
            let mut c = conn.clone();
            for ev in &mut c.events {
                if let common::Ev::Data(_, d) = ev {
                    for _ in 0..1 + rng.below(6) {
                        if d.is_empty() {
                            break;
                        }
                        let at = rng.below(d.len());
                        match rng.below(4) {
                            0 => d[at] = rng.next() as u8,
                            1 => d[at] = INTERESTING[rng.below(INTERESTING.len())],
                            2 => d.insert(at, INTERESTING[rng.below(INTERESTING.len())]),
                            _ => {
                                d.remove(at);
                            }
                        }
                    }
                }
            }
            if rng.below(3) == 0 && !c.events.is_empty() {
                let at = rng.below(c.events.len());
                let dir = if rng.below(2) == 0 { ToServer } else { ToClient };
                c.events.insert(at, common::Ev::Gap(dir, 1 + rng.below(300) as u64));
            }
            check_bounds(&run_with(&c, cfg, 1 + rng.below(64)), cfg);
            runs += 1;
        }
    }
    // Pure noise, and HTTP-looking noise.
    for _ in 0..200 {
        let mut st = HttpState::new(cfg);
        let mut out = Vec::new();
        for _ in 0..20 {
            let n = rng.below(200);
            let data: Vec<u8> = (0..n)
                .map(|_| if rng.below(3) == 0 { INTERESTING[rng.below(INTERESTING.len())] } else { rng.next() as u8 })
                .collect();
            let dir = if rng.below(2) == 0 { ToServer } else { ToClient };
            if rng.below(10) == 0 {
                st.gap(dir, rng.below(1000) as u64);
            }
            st.feed(dir, &data, &mut out);
        }
        st.close(&mut out);
        check_bounds(&out, cfg);
        runs += 1;
    }
    assert!(runs > 1000);
}

fn check_bounds(txs: &[HttpTx], cfg: HttpConfig) {
    for t in txs {
        assert!(t.request_body.len() <= cfg.body_limit);
        assert!(t.response_body.len() <= cfg.body_limit);
        assert!(t.request_line.len() <= cfg.max_header_bytes + 1);
        let hdr: usize = t.request_headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(hdr <= cfg.max_header_bytes);
        let hdr: usize = t.response_headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(hdr <= cfg.max_header_bytes);
        assert!(t.anomalies.len() <= 8);
        let _ = contains(&t.uri, b"/");
    }
}
