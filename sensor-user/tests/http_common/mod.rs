//! Shared helpers for the HTTP integration tests: fixture loading and replay.
#![allow(dead_code)]

use std::io::Read;
use std::path::PathBuf;

use sensor_user::packet::Direction;
use sensor_user::packet::app::http::{HttpConfig, HttpState, HttpTx};

/// One recorded stream event.
#[derive(Debug, Clone)]
pub enum Ev {
    Data(Direction, Vec<u8>),
    Gap(Direction, u64),
}

/// One TCP connection of a fixture.
#[derive(Debug, Clone)]
pub struct Conn {
    pub name: String,
    pub events: Vec<Ev>,
}

fn unhex(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let val = |c: u8| (c as char).to_digit(16).expect("hex digit") as u8;
    b.chunks(2).map(|p| val(p[0]) * 16 + val(p[1])).collect()
}

/// Parses the `.stream` format written by `tools/extract_fixture.py`.
pub fn parse_streams(text: &str) -> Vec<Conn> {
    let mut conns: Vec<Conn> = Vec::new();
    for line in text.lines() {
        let (tag, rest) = line.split_once(' ').unwrap_or((line, ""));
        let ev = match tag {
            "=" => {
                conns.push(Conn { name: rest.to_string(), events: Vec::new() });
                continue;
            }
            "C" => Ev::Data(Direction::ToServer, unhex(rest)),
            "S" => Ev::Data(Direction::ToClient, unhex(rest)),
            "CG" => Ev::Gap(Direction::ToServer, rest.parse().expect("gap len")),
            "SG" => Ev::Gap(Direction::ToClient, rest.parse().expect("gap len")),
            _ => panic!("bad fixture line {line:?}"),
        };
        conns.last_mut().expect("stream header first").events.push(ev);
    }
    conns
}

/// Loads `tests/fixtures/NAME` (gunzipped when it ends in `.gz`).
pub fn load(name: &str) -> Vec<Conn> {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "http", name].iter().collect();
    let raw = std::fs::read(&path).expect("fixture");
    let text = if name.ends_with(".gz") {
        let mut s = String::new();
        flate2::read::GzDecoder::new(&raw[..]).read_to_string(&mut s).expect("gunzip");
        s
    } else {
        String::from_utf8(raw).expect("utf8")
    };
    parse_streams(&text)
}

/// Replays a connection, feeding each data event in pieces of `step` bytes
/// (0 = whole), then closes it.
pub fn run_with(conn: &Conn, cfg: HttpConfig, step: usize) -> Vec<HttpTx> {
    let mut st = HttpState::new(cfg);
    let mut out = Vec::new();
    for ev in &conn.events {
        match ev {
            Ev::Data(dir, data) => {
                let n = if step == 0 { data.len().max(1) } else { step };
                for piece in data.chunks(n) {
                    st.feed(*dir, piece, &mut out);
                }
            }
            Ev::Gap(dir, len) => st.gap(*dir, *len),
        }
    }
    st.close(&mut out);
    out
}

/// Replays with the default configuration, whole segments.
pub fn run(conn: &Conn) -> Vec<HttpTx> {
    run_with(conn, HttpConfig::default(), 0)
}

/// Lossy text of some bytes, for messages.
pub fn s(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Does `hay` contain `needle`?
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}
