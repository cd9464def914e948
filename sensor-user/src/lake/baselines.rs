//! The agents' learned state in the lake (table `baselines`): saved as one row at
//! shutdown, read back at start (the newest row of this host), so the baselines live with
//! the rest of the sensor's history instead of in a separate state file.

use std::path::Path;

use arrow::array::{Array, AsArray};

use super::{Lake, Table, maintain::read_file, path::data_files};

/// Saves `state` (the runtime's JSON) as a `baselines` row at wall time `now_ns`.
pub fn save(lake: &Lake, state: &serde_json::Value, now_ns: u64) {
    let mut sink = lake.sink();
    let text = state.to_string();
    sink.row(Table::Baselines, now_ns, |r| {
        r.str(&text);
    });
}

/// The newest saved state of `host` in the lake at `root`, with its time; unreadable
/// files are skipped (and named in the returned list).
pub fn load(root: &Path, host: &str) -> (Option<(u64, serde_json::Value)>, Vec<String>) {
    let mut best: Option<(i64, String)> = None;
    let mut skipped = Vec::new();
    for (path, _) in data_files(root, Table::Baselines) {
        let batches = match read_file(&path) {
            Ok(b) => b,
            Err(e) => {
                skipped.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        for b in batches {
            let (Some(ts), Some(h), Some(st)) = (
                b.column_by_name("ts").and_then(|c| c.as_primitive_opt::<arrow::datatypes::TimestampNanosecondType>()),
                b.column_by_name("host").and_then(|c| c.as_string_opt::<i32>()),
                b.column_by_name("state").and_then(|c| c.as_string_opt::<i32>()),
            ) else {
                continue;
            };
            for i in 0..b.num_rows() {
                if ts.is_null(i) || h.is_null(i) || st.is_null(i) || h.value(i) != host {
                    continue;
                }
                if best.as_ref().is_none_or(|(t, _)| ts.value(i) >= *t) {
                    best = Some((ts.value(i), st.value(i).to_owned()));
                }
            }
        }
    }
    let state = best.and_then(|(t, s)| serde_json::from_str(&s).ok().map(|v| (t.max(0) as u64, v)));
    (state, skipped)
}
