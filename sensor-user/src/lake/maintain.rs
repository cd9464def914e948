//! Lake housekeeping, run by the writer thread (periodically and at exit) and by `sensor
//! lake maintain`: crash recovery, compaction of small files and retention.
//!
//! Compaction merges the small files of one partition into one file. It is crash-safe
//! through a journal (`_compaction.json` in the partition, created exclusively, so two
//! compactors never merge the same files): the journal names the output and the inputs;
//! the output is committed by rename before any input is removed. On start, a journal
//! whose output exists finishes (its inputs are removed); one whose output does not is
//! discarded, leaving the inputs as they were. Either way no row is lost or doubled.
//!
//! Retention removes whole files: partitions older than `max_age`, then the oldest files
//! while the lake is over `max_bytes`.

use std::{
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    time::Duration,
};

use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use super::{
    path::{HOUR_NS, data_files, read_dirs},
    schema::Table,
    writer::{file_name, write_parquet},
};

/// Compaction and retention settings.
#[derive(Clone, Debug)]
pub struct Maintenance {
    /// Files smaller than this are compacted.
    pub small_bytes: u64,
    /// A partition is compacted once it has this many small files.
    pub min_files: usize,
    /// Partitions older than this are removed (None: kept).
    pub max_age: Option<Duration>,
    /// The oldest files are removed while the lake is larger (None: no bound).
    pub max_bytes: Option<u64>,
}

impl Default for Maintenance {
    fn default() -> Self {
        Self { small_bytes: 16 << 20, min_files: 4, max_age: None, max_bytes: None }
    }
}

/// What a maintenance pass did.
#[derive(Debug, Default)]
pub struct MaintenanceReport {
    /// Partitions compacted.
    pub compacted_partitions: u64,
    /// Files merged away.
    pub compacted_inputs: u64,
    /// Files removed by retention.
    pub expired: u64,
    /// Bytes removed by retention.
    pub expired_bytes: u64,
    /// Files that could not be read (left in place).
    pub unreadable: Vec<PathBuf>,
    /// What failed, in words.
    pub errors: Vec<String>,
}

const JOURNAL: &str = "_compaction.json";

#[derive(Serialize, Deserialize)]
struct Journal {
    output: String,
    inputs: Vec<String>,
}

/// Removes temporary files a crash left and finishes or discards interrupted compactions.
pub fn recover(root: &Path) {
    for t in Table::ALL {
        for date in read_dirs(&root.join(format!("table={}", t.name()))) {
            for dir in read_dirs(&date) {
                let Ok(rd) = std::fs::read_dir(&dir) else { continue };
                for e in rd.flatten() {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    if name.starts_with(".part-") && name.ends_with(".tmp") {
                        let _ = std::fs::remove_file(e.path());
                    }
                }
                let jp = dir.join(JOURNAL);
                if let Ok(text) = std::fs::read(&jp) {
                    if let Ok(j) = serde_json::from_slice::<Journal>(&text) {
                        if dir.join(&j.output).exists() {
                            for i in &j.inputs {
                                let _ = std::fs::remove_file(dir.join(i));
                            }
                        }
                    }
                    let _ = std::fs::remove_file(&jp);
                }
            }
        }
    }
}

/// One pass: compaction, then retention at wall-clock time now.
pub fn run(root: &Path, m: &Maintenance) -> MaintenanceReport {
    let mut r = MaintenanceReport::default();
    for t in Table::ALL {
        compact_table(root, t, m, &mut r);
    }
    retain(root, m, crate::respond::wall_ns(), &mut r);
    r
}

fn compact_table(root: &Path, t: Table, m: &Maintenance, r: &mut MaintenanceReport) {
    let files = data_files(root, t);
    let mut i = 0;
    while i < files.len() {
        let hour = files[i].1;
        let part: Vec<&PathBuf> = files[i..].iter().take_while(|(_, h)| *h == hour).map(|(p, _)| p).collect();
        i += part.len();
        let small: Vec<&PathBuf> =
            part.into_iter().filter(|p| std::fs::metadata(p).is_ok_and(|md| md.len() < m.small_bytes)).collect();
        if small.len() >= m.min_files.max(2) {
            compact_partition(t, &small, r);
        }
    }
}

/// Reads every row of a Parquet file.
pub fn read_file(path: &Path) -> Result<Vec<RecordBatch>, String> {
    let f = File::open(path).map_err(|e| e.to_string())?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(f).and_then(|b| b.build()).map_err(|e| e.to_string())?;
    reader.collect::<Result<Vec<_>, _>>().map_err(|e| e.to_string())
}

fn compact_partition(t: Table, inputs: &[&PathBuf], r: &mut MaintenanceReport) {
    let Some(dir) = inputs.first().and_then(|p| p.parent()).map(Path::to_path_buf) else { return };
    let schema = t.schema();
    let mut batches = Vec::new();
    let mut used = Vec::new();
    for p in inputs {
        match read_file(p) {
            // Files of an older schema stay as they are; queries still read them.
            Ok(b) if b.iter().all(|b| b.schema().fields() == schema.fields()) => {
                batches.extend(b);
                used.push((*p).clone());
            }
            Ok(_) => {}
            Err(_) => r.unreadable.push((*p).clone()),
        }
    }
    if used.len() < 2 {
        return;
    }
    let output = file_name("part-c", 0);
    let journal = Journal {
        output: output.clone(),
        inputs: used.iter().filter_map(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).collect(),
    };
    let jp = dir.join(JOURNAL);
    let created = std::fs::OpenOptions::new().write(true).create_new(true).open(&jp).and_then(|mut f| {
        f.write_all(&serde_json::to_vec(&journal).unwrap_or_default())?;
        f.sync_all()
    });
    if let Err(e) = created {
        r.errors.push(format!("compaction of {} skipped: journal {}: {e}", dir.display(), jp.display()));
        return;
    }
    let tmp = dir.join(format!(".{output}.tmp"));
    let merged = arrow::compute::concat_batches(&schema, &batches).map_err(|e| e.to_string());
    let written = merged
        .and_then(|b| write_parquet(&tmp, &[b]).map_err(|e| e.to_string()))
        .and_then(|_| std::fs::rename(&tmp, dir.join(&output)).map_err(|e| e.to_string()));
    match written {
        Ok(()) => {
            for p in &used {
                let _ = std::fs::remove_file(p);
            }
            r.compacted_partitions += 1;
            r.compacted_inputs += used.len() as u64;
        }
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            r.errors.push(format!("compaction of {} failed: {e}", dir.display()));
        }
    }
    let _ = std::fs::remove_file(&jp);
}

fn retain(root: &Path, m: &Maintenance, now_ns: u64, r: &mut MaintenanceReport) {
    if m.max_age.is_none() && m.max_bytes.is_none() {
        return;
    }
    let mut all: Vec<(u64, PathBuf, u64)> = Table::ALL
        .iter()
        .flat_map(|t| data_files(root, *t))
        .map(|(p, h)| {
            let len = std::fs::metadata(&p).map_or(0, |md| md.len());
            (h, p, len)
        })
        .collect();
    all.sort();
    let mut total: u64 = all.iter().map(|(_, _, l)| l).sum();
    let cutoff = m.max_age.map(|a| now_ns.saturating_sub(a.as_nanos() as u64));
    for (hour, path, len) in &all {
        let too_old = cutoff.is_some_and(|c| hour + HOUR_NS <= c);
        let too_big = m.max_bytes.is_some_and(|b| total > b);
        if !too_old && !too_big {
            continue;
        }
        match std::fs::remove_file(path) {
            Ok(()) => {
                total -= len;
                r.expired += 1;
                r.expired_bytes += len;
                // Empty partition directories go too.
                let hour_dir = path.parent();
                if let Some(h) = hour_dir {
                    if std::fs::remove_dir(h).is_ok() {
                        if let Some(d) = h.parent() {
                            let _ = std::fs::remove_dir(d);
                        }
                    }
                }
            }
            Err(e) => r.errors.push(format!("retention: cannot remove {}: {e}", path.display())),
        }
    }
}
