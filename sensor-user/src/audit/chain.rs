//! The record format: SHA-256, HMAC-SHA256 (RFC 2104, written by hand over `sha2`), hex, the
//! byte-exact encoding of one record line, parsing it back, and the head file.
//!
//! A line is
//! `{"seq":N,"ts":"..","prev":"<64 hex>","kind":"..",<body fields>,"hash":"<64 hex>"[,"mac":"<64 hex>"]}`.
//! `hash` is SHA-256 over the bytes before `,"hash":` (the *prefix*) and `mac` is
//! HMAC-SHA256(key, prefix || hash hex). Parsing finds both by position from the end of the
//! line, never by searching, so a nested body value spelling `,"hash":"` cannot move them.

use std::fmt::Write as _;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::AuditError;

/// `prev` of the first record.
pub(crate) const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// Kind of the record `AuditWriter::open` appends after moving a torn line aside.
pub(crate) const RECOVERY_KIND: &str = "recovery";
/// Header and trailer names a body may not use.
const RESERVED: [&str; 6] = ["seq", "ts", "prev", "kind", "hash", "mac"];
/// Length of a SHA-256 in hex.
const HEX_LEN: usize = 64;
/// SHA-256 block size, for HMAC.
const BLOCK: usize = 64;
const HASH_OPEN: &[u8] = b",\"hash\":\"";
const MAC_OPEN: &[u8] = b"\",\"mac\":\"";
const CLOSE: &[u8] = b"\"}";

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Decodes hex (either case); `None` on an odd length or a non-hex character.
pub(crate) fn decode_hex(text: &[u8]) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.chunks_exact(2).map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?)).collect()
}

/// Whether `text` is exactly 64 lowercase hex characters (what the writer produces).
pub(crate) fn is_hex64(text: &[u8]) -> bool {
    text.len() == HEX_LEN && text.iter().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
}

/// Hex SHA-256 of `bytes`.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// HMAC-SHA256 (RFC 2104) of the concatenation of `parts` under `key`.
pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut block = [0u8; BLOCK];
    if key.len() > BLOCK {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

/// Hex MAC of a record: HMAC-SHA256(key, prefix || hash hex).
pub(crate) fn record_mac(key: &[u8], prefix: &[u8], hash: &str) -> String {
    hex(&hmac_sha256(key, &[prefix, hash.as_bytes()]))
}

/// Equality whose time does not depend on where the inputs first differ.
pub(crate) fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The header fields of a record about to be written.
pub(crate) struct Header<'a> {
    pub(crate) seq: u64,
    pub(crate) ts: &'a str,
    pub(crate) prev: &'a str,
    pub(crate) kind: &'a str,
}

/// A record line ready to write.
#[derive(Debug)]
pub(crate) struct Encoded {
    /// The whole line, '\n'-terminated.
    pub(crate) line: String,
    pub(crate) hash: String,
    pub(crate) mac: Option<String>,
}

/// Serializes one JSON value, naming `field` on failure.
fn json(field: &str, value: &impl Serialize) -> Result<String, AuditError> {
    serde_json::to_string(value).map_err(|source| AuditError::Encode { field: field.to_owned(), source })
}

/// Builds the full line for `header` and `body` (fields in the map's iteration order), with a
/// `mac` when `key` is given. Rejects reserved body field names.
pub(crate) fn encode(
    header: &Header<'_>,
    body: &Map<String, Value>,
    key: Option<&[u8]>,
) -> Result<Encoded, AuditError> {
    if let Some(field) = body.keys().find(|k| RESERVED.contains(&k.as_str())) {
        return Err(AuditError::ReservedField { field: field.clone() });
    }
    let mut line = format!(
        "{{\"seq\":{},\"ts\":{},\"prev\":{},\"kind\":{}",
        header.seq,
        json("ts", &header.ts)?,
        json("prev", &header.prev)?,
        json("kind", &header.kind)?
    );
    for (name, value) in body {
        line.push(',');
        line.push_str(&json(name, name)?);
        line.push(':');
        line.push_str(&json(name, value)?);
    }
    let hash = sha256_hex(line.as_bytes());
    let mac = key.map(|key| record_mac(key, line.as_bytes(), &hash));
    line.push_str(",\"hash\":\"");
    line.push_str(&hash);
    line.push('"');
    if let Some(mac) = &mac {
        line.push_str(",\"mac\":\"");
        line.push_str(mac);
        line.push('"');
    }
    line.push_str("}\n");
    Ok(Encoded { line, hash, mac })
}

/// One record parsed from a line (without its '\n'). The hash and MAC are not checked here.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    /// The hashed bytes: everything before `,"hash":`.
    pub(crate) prefix: &'a [u8],
    pub(crate) hash: &'a str,
    pub(crate) mac: Option<&'a str>,
    pub(crate) seq: u64,
    pub(crate) prev: String,
    pub(crate) kind: String,
}

impl<'a> Record<'a> {
    /// Parses a line; the error is a phrase saying why it is not a record.
    pub(crate) fn parse(line: &'a [u8]) -> Result<Self, String> {
        let text = std::str::from_utf8(line).map_err(|e| format!("it is not UTF-8 ({e})"))?;
        let (prefix, hash, mac) = split_trailer(line)
            .ok_or_else(|| "it does not end with a \"hash\" field (and an optional \"mac\")".to_owned())?;
        if !prefix.starts_with(b"{\"seq\":") {
            return Err("it does not start with {\"seq\":".to_owned());
        }
        let map: Map<String, Value> =
            serde_json::from_str(text).map_err(|e| format!("it is not a JSON object ({e})"))?;
        let seq = map.get("seq").and_then(Value::as_u64).ok_or("its seq is not a non-negative integer")?;
        map.get("ts").and_then(Value::as_str).ok_or("its ts is not a string")?;
        let prev = map
            .get("prev")
            .and_then(Value::as_str)
            .filter(|p| is_hex64(p.as_bytes()))
            .ok_or("its prev is not 64 hex characters")?;
        let kind = map.get("kind").and_then(Value::as_str).ok_or("its kind is not a string")?;
        Ok(Self { prefix, hash, mac, seq, prev: prev.to_owned(), kind: kind.to_owned() })
    }

    /// Whether the stored hash is the SHA-256 of the prefix.
    pub(crate) fn hash_ok(&self) -> bool {
        ct_eq(sha256_hex(self.prefix).as_bytes(), self.hash.as_bytes())
    }

    /// Whether the record carries a MAC that verifies under `key`.
    pub(crate) fn mac_ok(&self, key: &[u8]) -> bool {
        self.mac.is_some_and(|mac| ct_eq(record_mac(key, self.prefix, self.hash).as_bytes(), mac.as_bytes()))
    }
}

/// Splits `<prefix>,"hash":"<hex>"[,"mac":"<hex>"]}` from the end.
fn split_trailer(line: &[u8]) -> Option<(&[u8], &str, Option<&str>)> {
    let inner = line.strip_suffix(CLOSE)?;
    let (rest, mac) = match split_hex_tail(inner, MAC_OPEN) {
        Some((rest, mac)) => (rest, Some(mac)),
        None => (inner, None),
    };
    let (prefix, hash) = split_hex_tail(rest, HASH_OPEN)?;
    Some((prefix, hash, mac))
}

/// Splits `<rest><open><64 hex>` into `rest` and the hex.
fn split_hex_tail<'a>(text: &'a [u8], open: &[u8]) -> Option<(&'a [u8], &'a str)> {
    let cut = text.len().checked_sub(HEX_LEN)?;
    let (head, tail) = text.split_at(cut);
    if !is_hex64(tail) {
        return None;
    }
    Some((head.strip_suffix(open)?, std::str::from_utf8(tail).ok()?))
}

/// The head file: the last record's seq, hash and (keyed logs) MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Head {
    pub(crate) seq: u64,
    pub(crate) hash: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) mac: Option<String>,
}

/// What is found at `<log>.head`.
#[derive(Debug)]
pub(crate) enum HeadState {
    Missing,
    Invalid(serde_json::Error),
    Present(Head),
}

/// `path` with `suffix` appended to its file name (`audit.log` + `.head`).
pub(crate) fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The head file of the log at `log`.
pub(crate) fn head_path(log: &Path) -> PathBuf {
    sibling(log, ".head")
}

/// Reads the head of the log at `log`.
pub(crate) fn read_head(log: &Path) -> Result<HeadState, AuditError> {
    let path = head_path(log);
    match std::fs::read(&path) {
        Ok(bytes) => Ok(match serde_json::from_slice(&bytes) {
            Ok(head) => HeadState::Present(head),
            Err(e) => HeadState::Invalid(e),
        }),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(HeadState::Missing),
        Err(source) => Err(AuditError::Io { action: "read the head", path, source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn header(seq: u64) -> Header<'static> {
        Header { seq, ts: "2026-11-21T10:00:00.123Z", prev: GENESIS, kind: "block" }
    }

    #[test]
    fn hmac_matches_rfc4231_test_case_1() {
        let mac = hmac_sha256(&[0x0b; 20], &[b"Hi There"]);
        assert_eq!(hex(&mac), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    }

    #[test]
    fn hmac_matches_rfc4231_test_case_2_split_across_parts() {
        let mac = hmac_sha256(b"Jefe", &[b"what do ya want ", b"for nothing?"]);
        assert_eq!(hex(&mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn hmac_hashes_keys_longer_than_a_block_rfc4231_test_case_6() {
        let mac = hmac_sha256(&[0xaa; 131], &[b"Test Using Larger Than Block-Size Key - Hash Key First"]);
        assert_eq!(hex(&mac), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    }

    #[test]
    fn sha256_hex_matches_the_known_digest_of_abc() {
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn hex_round_trips_and_rejects_odd_or_non_hex_input() {
        assert_eq!(decode_hex(hex(&[0, 0xab, 0xff]).as_bytes()), Some(vec![0, 0xab, 0xff]));
        assert_eq!(decode_hex(b"ABcd"), Some(vec![0xab, 0xcd]));
        assert_eq!(decode_hex(b"abc"), None);
        assert_eq!(decode_hex(b"zz"), None);
    }

    #[test]
    fn encoded_line_has_the_documented_layout_and_hashes_its_prefix() {
        let body = match json!({"b": 2, "a": "x"}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let enc = encode(&header(1), &body, None).expect("encode");
        let prefix = format!(
            "{{\"seq\":1,\"ts\":\"2026-11-21T10:00:00.123Z\",\"prev\":\"{GENESIS}\",\"kind\":\"block\",\"a\":\"x\",\"b\":2"
        );
        assert_eq!(enc.line, format!("{prefix},\"hash\":\"{}\"}}\n", sha256_hex(prefix.as_bytes())));
        assert_eq!(enc.hash, sha256_hex(prefix.as_bytes()));
        assert_eq!(enc.mac, None);
    }

    #[test]
    fn keyed_line_carries_the_hmac_of_prefix_and_hash() {
        let enc = encode(&header(1), &Map::new(), Some(b"k")).expect("encode");
        let line = enc.line.trim_end_matches('\n').as_bytes();
        let rec = Record::parse(line).expect("parse");
        let expected = hex(&hmac_sha256(b"k", &[rec.prefix, enc.hash.as_bytes()]));
        assert_eq!(rec.mac, Some(expected.as_str()));
        assert!(rec.mac_ok(b"k"));
        assert!(!rec.mac_ok(b"other"));
    }

    #[test]
    fn reserved_body_fields_are_rejected() {
        for name in RESERVED {
            let mut body = Map::new();
            body.insert(name.to_owned(), json!(1));
            match encode(&header(1), &body, None) {
                Err(AuditError::ReservedField { field }) => assert_eq!(field, name),
                other => panic!("{name}: expected ReservedField, got {other:?}"),
            }
        }
    }

    #[test]
    fn parse_round_trips_and_ignores_hash_lookalikes_in_nested_bodies() {
        let body = match json!({"n": {"z": 1, "hash": "0000000000000000000000000000000000000000000000000000000000000000"}})
        {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let enc = encode(&header(7), &body, None).expect("encode");
        let rec = Record::parse(enc.line.trim_end_matches('\n').as_bytes()).expect("parse");
        assert_eq!(rec.seq, 7);
        assert_eq!(rec.kind, "block");
        assert_eq!(rec.prev, GENESIS);
        assert_eq!(rec.hash, enc.hash);
        assert!(rec.hash_ok());
    }

    #[test]
    fn parse_rejects_lines_without_a_trailer_or_header() {
        assert!(Record::parse(b"").is_err());
        assert!(Record::parse(b"{\"seq\":1}").is_err());
        let enc = encode(&header(1), &Map::new(), None).expect("encode");
        let line = enc.line.trim_end_matches('\n');
        assert!(Record::parse(line.replacen("\"seq\"", "\"sek\"", 1).as_bytes()).is_err());
        assert!(Record::parse(&line.as_bytes()[..line.len() - 1]).is_err());
    }

    #[test]
    fn edited_prefix_fails_the_hash_check() {
        let enc = encode(&header(1), &Map::new(), None).expect("encode");
        let edited = enc.line.trim_end_matches('\n').replace("block", "allow");
        let rec = Record::parse(edited.as_bytes()).expect("still a record");
        assert!(!rec.hash_ok());
    }

    #[test]
    fn ct_eq_compares_content_and_length() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
