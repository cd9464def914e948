//! Suricata's threshold.config (`threshold-file`): `threshold` / `event_filter`, `suppress` and
//! `rate_filter` entries, parsed with file:line errors and applied to the loaded rules by
//! (gen_id, sig_id). `sig_id 0` means every rule (of `gen_id`, or of all gids with `gen_id 0`).
//!
//! As in Suricata, a `threshold` / `event_filter` / `rate_filter` entry for one rule replaces the
//! rule's own `threshold` / `detection_filter`; a global one (`sig_id 0`) only applies to
//! rules without either.

use super::super::ir::{Action, RateFilter, Signature, SuppressTrack, Threshold, ThresholdKind, Track};
use super::error::SyntaxError;
use super::vars::RuleVars;

/// What one entry does.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Directive {
    Threshold(Threshold),
    Suppress(SuppressTrack),
    Rate(RateFilter),
}

/// One parsed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    gid: u32,
    sid: u32,
    what: Directive,
}

/// The parsed entries of a threshold.config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ThresholdConfig {
    entries: Vec<Entry>,
}

fn bad(detail: impl Into<String>) -> SyntaxError {
    SyntaxError::BadThresholdEntry { detail: detail.into() }
}

/// One `key value` field.
fn field(part: &str) -> Result<(&str, &str), SyntaxError> {
    let part = part.trim();
    if part.is_empty() {
        return Err(bad("empty field"));
    }
    let (k, v) = part.split_once(char::is_whitespace).ok_or_else(|| bad(format!("{part:?} has no value")))?;
    Ok((k.trim(), v.trim()))
}

/// `key value` pairs of one entry (`gen_id 1, sig_id 2, ...`); values may be `[lists, ...]`.
fn fields(rest: &str) -> Result<Vec<(&str, &str)>, SyntaxError> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, b) in rest.bytes().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => depth -= 1,
            b',' if depth == 0 => {
                out.push(field(&rest[start..i])?);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(field(&rest[start..])?);
    Ok(out)
}

fn num(fields: &[(&str, &str)], key: &str) -> Result<u32, SyntaxError> {
    let v = fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v).ok_or_else(|| bad(format!("missing {key}")))?;
    v.parse().map_err(|_| bad(format!("{key} {v:?} is not a number")))
}

fn text<'a>(fields: &[(&'a str, &'a str)], key: &str) -> Option<&'a str> {
    fields.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
}

fn track(v: &str) -> Result<Track, SyntaxError> {
    Ok(match v {
        "by_src" => Track::BySrc,
        "by_dst" => Track::ByDst,
        "by_rule" => Track::ByRule,
        "by_both" => Track::ByBoth,
        "by_flow" => Track::ByFlow,
        other => return Err(bad(format!("unknown track {other:?}"))),
    })
}

fn check_keys(fields: &[(&str, &str)], allowed: &[&str]) -> Result<(), SyntaxError> {
    match fields.iter().find(|(k, _)| !allowed.contains(k)) {
        Some((k, _)) => Err(bad(format!("unexpected field {k:?}"))),
        None => Ok(()),
    }
}

/// Parses one non-comment line.
fn parse_line(line: &str, vars: &RuleVars) -> Result<Entry, SyntaxError> {
    let (kind, rest) = line.split_once(char::is_whitespace).ok_or_else(|| bad("no fields"))?;
    let f = fields(rest)?;
    let gid = num(&f, "gen_id")?;
    let sid = num(&f, "sig_id")?;
    let what = match kind {
        "threshold" | "event_filter" => {
            check_keys(&f, &["gen_id", "sig_id", "type", "track", "count", "seconds"])?;
            let kind = match text(&f, "type").ok_or_else(|| bad("missing type"))? {
                "limit" => ThresholdKind::Limit,
                "threshold" => ThresholdKind::Threshold,
                "both" => ThresholdKind::Both,
                other => return Err(bad(format!("unknown type {other:?}"))),
            };
            let track = track(text(&f, "track").ok_or_else(|| bad("missing track"))?)?;
            Directive::Threshold(Threshold { kind, track, count: num(&f, "count")?, seconds: num(&f, "seconds")? })
        }
        "suppress" => {
            check_keys(&f, &["gen_id", "sig_id", "track", "ip"])?;
            match (text(&f, "track"), text(&f, "ip")) {
                (None, None) => Directive::Suppress(SuppressTrack::All),
                (Some(t), Some(ip)) => {
                    let set = vars.address_set(ip).map_err(|e| bad(format!("ip {ip}: {e}")))?;
                    Directive::Suppress(match t {
                        "by_src" => SuppressTrack::BySrc(set),
                        "by_dst" => SuppressTrack::ByDst(set),
                        "by_either" => SuppressTrack::ByEither(set),
                        other => return Err(bad(format!("suppress cannot track {other:?}"))),
                    })
                }
                _ => return Err(bad("suppress needs both track and ip, or neither")),
            }
        }
        "rate_filter" => {
            check_keys(&f, &["gen_id", "sig_id", "track", "count", "seconds", "new_action", "timeout"])?;
            let track = track(text(&f, "track").ok_or_else(|| bad("missing track"))?)?;
            if track == Track::ByFlow {
                return Err(bad("rate_filter cannot track by_flow"));
            }
            let new_action = match text(&f, "new_action").ok_or_else(|| bad("missing new_action"))? {
                "alert" => Action::Alert,
                "drop" => Action::Drop,
                "pass" => Action::Pass,
                "reject" | "rejectsrc" | "rejectdst" | "rejectboth" => Action::Reject,
                other => return Err(bad(format!("unknown new_action {other:?}"))),
            };
            Directive::Rate(RateFilter {
                track,
                count: num(&f, "count")?,
                seconds: num(&f, "seconds")?,
                new_action,
                timeout: num(&f, "timeout")?,
            })
        }
        other => return Err(bad(format!("unknown entry type {other:?}"))),
    };
    Ok(Entry { gid, sid, what })
}

impl ThresholdConfig {
    /// Parses `text` (`file` names it in errors). Returns the valid entries and, for each bad
    /// line, (`file:line`, error); the other lines still count.
    pub fn parse(text: &str, file: &str, vars: &RuleVars) -> (Self, Vec<(String, SyntaxError)>) {
        let mut cfg = ThresholdConfig::default();
        let mut errors = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            match parse_line(line, vars) {
                Ok(e) => cfg.entries.push(e),
                Err(e) => errors.push((format!("{file}:{}", i + 1), e)),
            }
        }
        (cfg, errors)
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// No entries?
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Applies the entries to `sigs`; returns how many entries named no loaded rule.
    pub fn apply(&self, sigs: &mut [Signature]) -> usize {
        let mut unmatched = 0;
        for e in &self.entries {
            let global = e.sid == 0;
            let mut hit = false;
            for s in sigs
                .iter_mut()
                .filter(|s| (global && (e.gid == 0 || s.gid == e.gid)) || (s.gid == e.gid && s.sid == e.sid))
            {
                hit = true;
                let own = s.threshold.is_some() || s.detection_filter.is_some() || s.rate_filter.is_some();
                match &e.what {
                    Directive::Suppress(t) => s.suppress.push(t.clone()),
                    Directive::Threshold(t) if !(global && own) => {
                        s.threshold = Some(*t);
                        s.detection_filter = None;
                        s.rate_filter = None;
                    }
                    Directive::Rate(r) if !(global && own) => {
                        s.rate_filter = Some(*r);
                        s.threshold = None;
                        s.detection_filter = None;
                    }
                    Directive::Threshold(_) | Directive::Rate(_) => {}
                }
            }
            if !hit {
                unmatched += 1;
            }
        }
        unmatched
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::ir::Transport;

    fn rule(sid: u32) -> Signature {
        Signature { sid, ..Signature::new(Action::Alert, Transport::Tcp, String::new(), String::new()) }
    }

    fn vars() -> RuleVars {
        let mut v = RuleVars::suricata_default();
        v.set_address("SUPPRESS", "[10.0.0.0/8,!10.1.0.0/16]").unwrap();
        v
    }

    const TEXT: &str = "\
# comment
suppress gen_id 1, sig_id 1, track by_src, ip 145.254.160.237
suppress gen_id 1, sig_id 1, track by_either, ip $SUPPRESS
suppress gen_id 1, sig_id 2
rate_filter gen_id 1, sig_id 3, track by_both, count 1, seconds 60, new_action drop, timeout 1000
threshold gen_id 1, sig_id 4, type limit, track by_dst, count 2, seconds 30
event_filter gen_id 0, sig_id 0, type both, track by_src, count 5, seconds 10
";

    #[test]
    fn every_entry_kind_parses_and_applies_by_gid_and_sid() {
        let (cfg, errors) = ThresholdConfig::parse(TEXT, "threshold.config", &vars());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(cfg.len(), 6);
        let mut own = rule(5);
        own.detection_filter =
            Some(Threshold { kind: ThresholdKind::DetectionFilter, track: Track::BySrc, count: 1, seconds: 1 });
        let mut sigs = vec![rule(1), rule(2), rule(3), rule(4), own, rule(6)];
        assert_eq!(cfg.apply(&mut sigs), 0);
        assert!(matches!(&sigs[0].suppress[..], [SuppressTrack::BySrc(a), SuppressTrack::ByEither(b)]
            if a.allow.len() == 1 && b.deny.len() == 1));
        assert_eq!(sigs[1].suppress, vec![SuppressTrack::All]);
        let rf = sigs[2].rate_filter.unwrap();
        assert_eq!(
            (rf.track, rf.count, rf.seconds, rf.new_action, rf.timeout),
            (Track::ByBoth, 1, 60, Action::Drop, 1000)
        );
        assert_eq!(
            sigs[3].threshold.map(|t| (t.kind, t.track, t.count)),
            Some((ThresholdKind::Limit, Track::ByDst, 2))
        );
        // The global event_filter only reaches rules without a threshold of their own.
        assert!(sigs[4].threshold.is_none() && sigs[4].detection_filter.is_some());
        assert_eq!(sigs[5].threshold.map(|t| t.kind), Some(ThresholdKind::Both));
        assert!(sigs[2].threshold.is_none(), "the rate filter keeps its rule free of the global filter");
    }

    #[test]
    fn an_entry_for_one_rule_replaces_its_own_threshold() {
        let (cfg, _) = ThresholdConfig::parse(
            "threshold gen_id 1, sig_id 7, type threshold, track by_src, count 3, seconds 9",
            "t",
            &vars(),
        );
        let mut r = rule(7);
        r.detection_filter =
            Some(Threshold { kind: ThresholdKind::DetectionFilter, track: Track::BySrc, count: 1, seconds: 1 });
        let mut sigs = vec![r];
        cfg.apply(&mut sigs);
        assert_eq!(sigs[0].threshold.map(|t| (t.kind, t.count, t.seconds)), Some((ThresholdKind::Threshold, 3, 9)));
        assert!(sigs[0].detection_filter.is_none());
    }

    #[test]
    fn bad_lines_are_reported_with_file_and_line_and_the_rest_still_load() {
        let text = "\
suppress gen_id 1, sig_id 1, track by_src
rate_filter gen_id 1, sig_id 2, track by_flow, count 1, seconds 1, new_action drop, timeout 1
threshold gen_id 1, sig_id 3, type sometimes, track by_src, count 1, seconds 1
limit gen_id 1, sig_id 4
suppress gen_id 1, sig_id x
suppress gen_id 1, sig_id 5, track by_src, ip $NOPE
suppress gen_id 1, sig_id 6, colour red
suppress gen_id 1, sig_id 9
";
        let (cfg, errors) = ThresholdConfig::parse(text, "t.config", &vars());
        assert_eq!(cfg.len(), 1);
        let lines: Vec<&str> = errors.iter().map(|(o, _)| o.as_str()).collect();
        assert_eq!(
            lines,
            ["t.config:1", "t.config:2", "t.config:3", "t.config:4", "t.config:5", "t.config:6", "t.config:7"]
        );
        assert!(errors[5].1.to_string().contains("NOPE"), "{}", errors[5].1);
        let mut sigs = vec![rule(1)];
        assert_eq!(cfg.apply(&mut sigs), 1, "sig 9 is not loaded");
    }
}
