//! HTTP-evader corpus (suricata-verify `http-evader-*`, 321 captures): for
//! every case Suricata's expected result is that the decoded response body
//! (`file_data`) contains the EICAR test string despite the chunking,
//! header and compression trickery. The cases below are known to fail here.
#[path = "http_common/mod.rs"]
mod common;

use common::{contains, load, run};

/// Cases not handled: LZMA content coding (no LZMA decoder allowed), and a
/// `LF CR CR LF CR LF` header terminator that libhtp-rs reads as one
/// deformed end of line.
const KNOWN_FAILURES: &[&str] = &["http-evader-116-lzma:0", "http-evader-415:0"];

const EICAR: &[u8] = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE";

#[test]
fn evader_bodies_contain_eicar() {
    let conns = load("http-evader.stream.gz");
    assert_eq!(conns.len(), 321);
    let mut fails = Vec::new();
    for c in &conns {
        let txs = run(c);
        assert!(!txs.is_empty(), "{}: no transaction", c.name);
        assert_eq!(txs[0].method, b"GET", "{}", c.name);
        assert_eq!(txs[0].host.as_deref(), Some(&b"evader.example.com"[..]), "{}", c.name);
        if !txs.iter().any(|t| contains(&t.response_body, EICAR)) {
            fails.push(c.name.as_str());
        }
    }
    assert_eq!(fails, KNOWN_FAILURES, "{} of {} fail", fails.len(), conns.len());
}

#[test]
fn evader_byte_by_byte_matches_whole() {
    // Every case fed one byte at a time gives exactly the same transactions.
    for c in load("http-evader.stream.gz") {
        let whole = run(&c);
        let bytes = common::run_with(&c, Default::default(), 1);
        assert_eq!(whole, bytes, "{}", c.name);
    }
}
