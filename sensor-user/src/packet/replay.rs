//! Offline replay: expands the inputs (directories in name order), reads each capture through
//! the [`Pipeline`], shows progress on a terminal, and reports per-file errors with the byte
//! offset while keeping every packet read before the damage.

use std::{
    io::{IsTerminal, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use super::{
    capture::{CaptureError, CaptureReader},
    pipeline::Pipeline,
};

/// Extensions taken from directories (explicitly named files are always read).
const CAPTURE_EXTENSIONS: &[&str] = &["pcap", "pcapng", "cap", "dmp", "gz", "ntar"];
/// Packets between two progress updates.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Errors before replay starts.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// An input could not be listed.
    #[error("cannot read input {path}")]
    Input {
        /// The input.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No capture was found.
    #[error("no capture files in {0}")]
    Empty(String),
}

/// What happened to one input file.
#[derive(Debug)]
pub struct FileReport {
    /// The file.
    pub path: PathBuf,
    /// Packets read from it.
    pub packets: u64,
    /// Why reading stopped early, if it did (packets before it were processed).
    pub error: Option<CaptureError>,
}

/// The outcome of a replay.
#[derive(Debug, Default)]
pub struct ReplayReport {
    /// One entry per file, in the order read.
    pub files: Vec<FileReport>,
    /// Wall time spent reading and processing.
    pub elapsed: Duration,
}

impl ReplayReport {
    /// Files that stopped on an error.
    pub fn failed(&self) -> impl Iterator<Item = &FileReport> {
        self.files.iter().filter(|f| f.error.is_some())
    }
}

/// Expands files and directories (recursively, entries in name order) into capture files.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, ReplayError> {
    let mut out = Vec::new();
    for input in inputs {
        let meta = std::fs::metadata(input).map_err(|source| ReplayError::Input { path: input.clone(), source })?;
        if meta.is_dir() {
            walk(input, &mut out)?;
        } else {
            out.push(input.clone());
        }
    }
    if out.is_empty() {
        let names: Vec<String> = inputs.iter().map(|p| p.display().to_string()).collect();
        return Err(ReplayError::Empty(names.join(", ")));
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ReplayError> {
    let rd = std::fs::read_dir(dir).map_err(|source| ReplayError::Input { path: dir.to_path_buf(), source })?;
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            walk(&p, out)?;
        } else if p.extension().and_then(|e| e.to_str()).is_some_and(|e| CAPTURE_EXTENSIONS.contains(&e)) {
            out.push(p);
        }
    }
    Ok(())
}

/// Replays `files` in order through `pipeline` (without finishing it). Progress goes to
/// stderr when `progress` is set and stderr is a terminal.
pub fn replay_files(pipeline: &mut Pipeline, files: &[PathBuf], progress: bool) -> ReplayReport {
    let started = Instant::now();
    let sizes: Vec<u64> = files.iter().map(|f| std::fs::metadata(f).map_or(0, |m| m.len())).collect();
    let total_bytes: u64 = sizes.iter().sum();
    let mut bar = Progress::new(progress && std::io::stderr().is_terminal(), total_bytes);
    let mut report = ReplayReport::default();
    let mut done_bytes = 0u64;
    for (path, size) in files.iter().zip(&sizes) {
        let mut file = FileReport { path: path.clone(), packets: 0, error: None };
        match CaptureReader::open(path) {
            Ok(mut reader) => loop {
                match reader.next_packet() {
                    Ok(Some(pkt)) => {
                        pipeline.frame(pkt.link, pkt.ts_ns, pkt.data);
                        file.packets += 1;
                        if file.packets.is_multiple_of(PROGRESS_EVERY) {
                            bar.update(done_bytes + reader.file_offset(), pipeline.stats().packets);
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        file.error = Some(e);
                        break;
                    }
                }
            },
            Err(e) => file.error = Some(e),
        }
        done_bytes += size;
        bar.update(done_bytes, pipeline.stats().packets);
        report.files.push(file);
    }
    bar.finish();
    report.elapsed = started.elapsed();
    report
}

/// A one-line progress bar on stderr.
struct Progress {
    on: bool,
    total: u64,
    started: Instant,
    drawn: bool,
}

impl Progress {
    fn new(on: bool, total: u64) -> Self {
        Self { on, total: total.max(1), started: Instant::now(), drawn: false }
    }

    fn update(&mut self, done: u64, packets: u64) {
        if !self.on {
            return;
        }
        let frac = (done as f64 / self.total as f64).min(1.0);
        let width = 30;
        let filled = (frac * width as f64) as usize;
        let secs = self.started.elapsed().as_secs_f64().max(1e-9);
        let mut err = std::io::stderr().lock();
        let _ = write!(
            err,
            "\r[{}{}] {:5.1}% {} packets {:.0} packets/s",
            "=".repeat(filled),
            " ".repeat(width - filled),
            frac * 100.0,
            packets,
            packets as f64 / secs
        );
        let _ = err.flush();
        self.drawn = true;
    }

    fn finish(&mut self) {
        if self.drawn {
            let _ = writeln!(std::io::stderr());
        }
    }
}
