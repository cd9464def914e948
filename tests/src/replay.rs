//! Replay helpers for the conformance tests: run a capture through the library pipeline into
//! memory, and ask tshark (the oracle) for fields of the same capture.

use std::{
    io::Write,
    path::{Path, PathBuf},
    process::Command,
    sync::{Arc, Mutex},
};

use sensor_user::{
    agents::{config::AgentsConfig, runtime::Runtime},
    packet::{
        eve::{EveTypes, EveWriter},
        observe::Observer,
        pipeline::{Pipeline, PipelineConfig},
        replay::{ReplayReport, replay_files},
    },
};
use serde_json::Value;

/// The shared data directory (`../shared/data` beside the checkout), if present.
pub fn data_dir() -> Option<PathBuf> {
    let p = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"));
    p.is_dir().then_some(p)
}

/// Whether tshark is installed. With `SENSOR_REQUIRE_PRIVILEGED=1` (the full suite) its
/// absence is a failure, not a skip.
pub fn tshark_available() -> bool {
    let ok = Command::new("tshark").arg("-v").output().is_ok_and(|o| o.status.success());
    if !ok && std::env::var("SENSOR_REQUIRE_PRIVILEGED").as_deref() == Ok("1") {
        panic!("tshark is required by the full test suite (cargo xtask test installs it)");
    }
    ok
}

#[derive(Clone, Default)]
struct SharedBuf(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map_err(|_| std::io::Error::other("poisoned"))?.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The outcome of an in-memory replay.
#[derive(Debug)]
pub struct Replayed {
    /// The eve output, raw.
    pub raw: Vec<u8>,
    /// The eve records, parsed.
    pub records: Vec<Value>,
    /// The replay report (per-file errors).
    pub report: ReplayReport,
}

impl Replayed {
    /// Records of one `event_type`.
    pub fn of_type<'a>(&'a self, t: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
        self.records.iter().filter(move |r| r["event_type"] == t)
    }

    /// Agent findings (`anomaly` records whose `anomaly.type` is `finding`).
    pub fn findings(&self) -> impl Iterator<Item = &Value> + '_ {
        self.of_type("anomaly").filter(|r| r["anomaly"]["type"] == "finding")
    }
}

/// Replays `files` through a default pipeline, eve output collected in memory.
pub fn replay(files: &[PathBuf]) -> Replayed {
    replay_inner(files, None).0
}

/// Replays `files` with every default micro-agent running inline.
pub fn replay_with_agents(files: &[PathBuf]) -> Replayed {
    let rt = Runtime::new(AgentsConfig::defaults(), None).expect("inline runtime starts");
    replay_inner(files, Some(rt)).0
}

/// Replays `files` with the agents of `rt`.
pub fn replay_with_runtime(files: &[PathBuf], rt: Runtime) -> Replayed {
    replay_inner(files, Some(rt)).0
}

/// Replays `files` with the default agents starting from learned `state`; returns the
/// records and the state to persist.
pub fn replay_with_state(files: &[PathBuf], state: Option<&Value>) -> (Replayed, Value) {
    let rt = Runtime::new(AgentsConfig::defaults(), state).expect("inline runtime starts");
    let (r, s) = replay_inner(files, Some(rt));
    (r, s.unwrap_or(Value::Null))
}

fn replay_inner(files: &[PathBuf], agents: Option<Runtime>) -> (Replayed, Option<Value>) {
    let buf = SharedBuf::default();
    let mut p =
        Pipeline::new(PipelineConfig::default(), EveWriter::new(Some(Box::new(buf.clone())), EveTypes::default()));
    if let Some(rt) = agents {
        p = p.with_agents(Observer::new(rt));
    }
    let report = replay_files(&mut p, files, false);
    p.finish().expect("in-memory output cannot fail");
    let state = p.agent_outcome().map(|(s, _)| s.clone());
    drop(p);
    let raw = buf.0.lock().expect("not poisoned").clone();
    let records = raw
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| {
            serde_json::from_slice(l).unwrap_or_else(|e| panic!("invalid eve line {}: {e}", String::from_utf8_lossy(l)))
        })
        .collect();
    (Replayed { raw, records, report }, state)
}

/// `tshark -r FILE -Y FILTER -T fields -e F...`: one row per packet, repeated values of a field
/// joined by `\u{1f}`.
pub fn tshark_fields(file: &Path, filter: &str, fields: &[&str]) -> Vec<Vec<String>> {
    let mut cmd = Command::new("tshark");
    cmd.arg("-n").arg("-r").arg(file).args([
        "-Y",
        filter,
        "-T",
        "fields",
        "-E",
        "separator=\t",
        "-E",
        "occurrence=a",
        "-E",
        "aggregator=\u{1f}",
    ]);
    for f in fields {
        cmd.args(["-e", f]);
    }
    let out = cmd.output().expect("tshark runs");
    String::from_utf8_lossy(&out.stdout).lines().map(|l| l.split('\t').map(str::to_string).collect()).collect()
}

/// Every capture file under `dir` (recursively, sorted).
pub fn captures_under(dir: &Path) -> Vec<PathBuf> {
    sensor_user::packet::replay::expand_inputs(&[dir.to_path_buf()]).unwrap_or_default()
}
