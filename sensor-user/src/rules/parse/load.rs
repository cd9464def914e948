//! Loading rule files and directories into signatures, with a report of skipped and bad rules.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::super::ir::Signature;
use super::error::{RuleIssue, SkipReason, SyntaxError};
use super::threshold_config::ThresholdConfig;
use super::{FlowbitNames, RuleConfig, parse_rule, sid_of};

/// The result of loading rules.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Rules loaded.
    pub signatures: Vec<Signature>,
    /// Flowbit names used by `signatures` (and by rules rejected after interning).
    pub names: FlowbitNames,
    /// Rules skipped: (`file:line`, sid or 0, reason).
    pub skipped: Vec<(String, u32, SkipReason)>,
    /// Malformed rules: (`file:line`, error), including duplicate sids.
    pub errors: Vec<(String, SyntaxError)>,
    /// Rule files read.
    pub files: usize,
    /// threshold.config entries applied, and how many of them named no loaded rule.
    pub threshold_entries: (usize, usize),
    /// (gid, sid) -> index in `signatures`, for duplicate detection.
    seen: HashMap<(u32, u32), usize>,
}

impl LoadReport {
    /// Skip reasons grouped: (label such as `unknown keyword: xbits`, count), most frequent first.
    pub fn skip_summary(&self) -> Vec<(String, usize)> {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for (_, _, reason) in &self.skipped {
            *counts.entry(reason.label()).or_default() += 1;
        }
        let mut v: Vec<(String, usize)> = counts.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v
    }

    fn add(&mut self, text: &str, origin: String, cfg: &RuleConfig) {
        match parse_rule(text, &origin, cfg, &mut self.names) {
            Ok(sig) => {
                let key = (sig.gid, sig.sid);
                if let Some(&first) = self.seen.get(&key) {
                    let first = self.signatures[first].origin.clone();
                    self.errors.push((origin, SyntaxError::DuplicateSid { sid: key.1, first }));
                    return;
                }
                self.seen.insert(key, self.signatures.len());
                self.signatures.push(sig);
            }
            Err(RuleIssue::Skip(reason)) => self.skipped.push((origin, sid_of(text), reason)),
            Err(RuleIssue::Error(e)) => self.errors.push((origin, e)),
        }
    }
}

/// Parses the rules of one file's text into `report` (`file` names the origin). Lines starting
/// with `#` are comments; a trailing `\` continues a rule on the next line (origin = first line).
pub fn load_str(text: &str, file: &str, cfg: &RuleConfig, report: &mut LoadReport) {
    let mut pending = String::new();
    let mut start = 0;
    for (i, line) in text.lines().enumerate() {
        let lineno = i + 1;
        let trimmed = line.trim();
        if pending.is_empty() {
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            start = lineno;
        }
        match trimmed.strip_suffix('\\') {
            Some(part) => {
                pending.push_str(part);
                continue;
            }
            None => pending.push_str(trimmed),
        }
        report.add(&pending, format!("{file}:{start}"), cfg);
        pending.clear();
    }
    if !pending.is_empty() {
        report.add(&pending, format!("{file}:{start}"), cfg);
    }
}

fn rule_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path)? {
        let p = entry?.path();
        if p.is_file() && p.extension().is_some_and(|e| e == "rules") {
            files.push(p);
        }
    }
    files.sort();
    Ok(files)
}

/// Loads rule files; a path may be a file or a directory (its `*.rules`, in name order). The
/// configuration's threshold file, if any, is then applied (its bad lines are errors).
pub fn load(paths: &[PathBuf], cfg: &RuleConfig) -> std::io::Result<LoadReport> {
    let mut report = LoadReport::default();
    for path in paths {
        for file in rule_files(path)? {
            let text = std::fs::read_to_string(&file)?;
            report.files += 1;
            load_str(&text, &file.display().to_string(), cfg, &mut report);
        }
    }
    if let Some(file) = &cfg.threshold_file {
        let text = std::fs::read_to_string(file)?;
        let (tc, errors) = ThresholdConfig::parse(&text, &file.display().to_string(), &cfg.vars);
        report.errors.extend(errors);
        let unmatched = tc.apply(&mut report.signatures);
        report.threshold_entries = (tc.len(), unmatched);
    }
    Ok(report)
}
