//! MISP JSON exports: one event (`{"Event": {...}}`), a list of events, a REST search
//! result (`{"response": [{"Event": ...}]}`) or an attribute search
//! (`{"response": {"Attribute": [...]}}`); a plain JSON array of indicator strings is
//! accepted too. Attributes of objects are read like the event's own.
//!
//! Types used: `ip-dst`, `ip-src`, `ip-dst|port`, `ip-src|port`, `domain`, `hostname`,
//! `hostname|port`, `domain|ip`, `url` (its host), `md5`, `sha1`, `sha256`,
//! `filename|md5|sha1|sha256`, `malware-sample`; other types are counted as unsupported.
//! Attributes with `to_ids` false (context, not detection material) and deleted ones are
//! skipped unless the feed sets `to_ids_only = false`. The event's `threat_level_id` sets
//! the severity (1 high, 2 medium, 3 low), a C2 comment raises it to high, and an ATT&CK
//! technique in the event's or attribute's tags or galaxies is used as the technique.
//!
//! JSON values carry no position, so a bad attribute's line is found by searching the file
//! for its value (only for the bad lines kept in the report).

use serde_json::Value;

use super::{
    FeedConfig,
    indicators::{HashKind, technique_id},
    load::{FeedError, Row, Sink, says_c2},
    parse::Want,
};
use crate::agents::finding::Severity;

/// What an event gives its attributes.
#[derive(Clone, Debug, Default)]
struct EventCtx {
    info: Option<String>,
    severity: Option<Severity>,
    technique: Option<&'static str>,
}

struct Walker<'r> {
    raw: &'r [u8],
    cursor: usize,
    to_ids_only: bool,
    not_ids: u64,
    deleted: u64,
    attributes: u64,
}

/// Loads a MISP export.
pub(super) fn load(fc: &FeedConfig, bytes: &[u8], sink: &mut Sink<'_>) {
    let v: Value = match serde_json::from_slice(bytes) {
        Ok(v) => v,
        Err(e) => {
            let msg = e.to_string();
            let message = msg.rsplit_once(" at line ").map_or(msg.as_str(), |(m, _)| m).to_owned();
            sink.report.failed =
                Some(FeedError::Json { path: fc.path.clone(), line: e.line(), column: e.column(), message });
            return;
        }
    };
    let mut w = Walker { raw: bytes, cursor: 0, to_ids_only: fc.to_ids_only, not_ids: 0, deleted: 0, attributes: 0 };
    if let Err(reason) = w.root(&v, sink) {
        sink.report.failed = Some(FeedError::NotMisp { path: fc.path.clone(), reason });
        return;
    }
    if w.not_ids > 0 {
        sink.report.notes.push(format!(
            "{} of {} attributes skipped: to_ids is false (set to_ids_only = false to load them)",
            w.not_ids, w.attributes
        ));
    }
    if w.deleted > 0 {
        sink.report.notes.push(format!("{} deleted attributes skipped", w.deleted));
    }
}

fn truthy(v: Option<&Value>, absent: bool) -> bool {
    match v {
        None | Some(Value::Null) => absent,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::String(s)) => !matches!(s.trim().to_ascii_lowercase().as_str(), "" | "0" | "false" | "no"),
        Some(_) => absent,
    }
}

fn array(v: Option<&Value>) -> &[Value] {
    match v {
        Some(Value::Array(a)) => a,
        _ => &[],
    }
}

/// The first ATT&CK technique in `v`'s `Tag` names or `Galaxy` clusters.
fn technique_of(v: &Value) -> Option<&'static str> {
    let tags = array(v.get("Tag")).iter().filter_map(|t| t.get("name")?.as_str());
    let galaxies = array(v.get("Galaxy")).iter().flat_map(|g| array(g.get("GalaxyCluster")));
    let cluster_names = galaxies.clone().filter_map(|c| c.get("tag_name")?.as_str());
    let external =
        galaxies.flat_map(|c| array(c.get("meta").and_then(|m| m.get("external_id")))).filter_map(Value::as_str);
    tags.chain(cluster_names)
        .filter(|n| {
            let l = n.to_ascii_lowercase();
            l.contains("attack-pattern") || l.contains("mitre")
        })
        .chain(external)
        .find_map(technique_id)
}

fn threat_level(v: Option<&Value>) -> Option<Severity> {
    let n = match v? {
        Value::String(s) => s.trim().parse::<u64>().ok()?,
        Value::Number(n) => n.as_u64()?,
        _ => return None,
    };
    match n {
        1 => Some(Severity::High),
        2 => Some(Severity::Medium),
        3 => Some(Severity::Low),
        _ => None,
    }
}

fn nonempty(v: Option<&Value>) -> Option<&str> {
    v?.as_str().map(str::trim).filter(|s| !s.is_empty())
}

impl Walker<'_> {
    fn root(&mut self, v: &Value, sink: &mut Sink<'_>) -> Result<(), &'static str> {
        match v {
            Value::Object(o) if o.contains_key("response") => match o.get("response") {
                Some(Value::Array(items)) => {
                    for (i, it) in items.iter().enumerate() {
                        self.container(i, it, sink);
                    }
                    Ok(())
                }
                Some(r @ Value::Object(ro)) if ro.contains_key("Attribute") => {
                    self.attributes(r.get("Attribute"), &EventCtx::default(), sink);
                    Ok(())
                }
                Some(r @ Value::Object(ro)) if ro.contains_key("Event") => {
                    self.container(0, r, sink);
                    Ok(())
                }
                _ => Err("\"response\" holds neither events nor attributes"),
            },
            Value::Object(o) if o.contains_key("Event") => {
                self.container(0, v, sink);
                Ok(())
            }
            Value::Object(o) if o.contains_key("Attribute") || o.contains_key("Object") => {
                self.event(v, sink);
                Ok(())
            }
            Value::Array(items) => {
                for (i, it) in items.iter().enumerate() {
                    match it {
                        Value::String(s) => {
                            let raw = self.raw;
                            let mut cursor = self.cursor;
                            sink.add_with(s, Want::Any, &Row::default(), &mut || locate(raw, &mut cursor, s));
                            self.cursor = cursor;
                        }
                        _ => self.container(i, it, sink),
                    }
                }
                Ok(())
            }
            _ => Err("expected {\"Event\": ...}, a list of events, or {\"response\": ...}"),
        }
    }

    /// `{"Event": {...}}` or a bare event.
    fn container(&mut self, i: usize, v: &Value, sink: &mut Sink<'_>) {
        match v.get("Event") {
            Some(e @ Value::Object(_)) => self.event(e, sink),
            _ if v.get("Attribute").is_some() || v.get("Object").is_some() => self.event(v, sink),
            _ => sink.report.bad_line(None, format!("item {} is not a MISP event", i + 1), ""),
        }
    }

    fn event(&mut self, e: &Value, sink: &mut Sink<'_>) {
        let ctx = EventCtx {
            info: nonempty(e.get("info")).map(str::to_owned),
            severity: threat_level(e.get("threat_level_id")),
            technique: technique_of(e),
        };
        self.attributes(e.get("Attribute"), &ctx, sink);
        for o in array(e.get("Object")) {
            self.attributes(o.get("Attribute"), &ctx, sink);
        }
    }

    fn attributes(&mut self, list: Option<&Value>, ctx: &EventCtx, sink: &mut Sink<'_>) {
        for a in array(list) {
            self.attribute(a, ctx, sink);
        }
    }

    fn attribute(&mut self, a: &Value, ctx: &EventCtx, sink: &mut Sink<'_>) {
        self.attributes += 1;
        let (Some(ty), Some(value)) = (a.get("type").and_then(Value::as_str), a.get("value").and_then(Value::as_str))
        else {
            let what = a.get("value").and_then(Value::as_str).unwrap_or("");
            let line = if what.is_empty() { None } else { locate(self.raw, &mut self.cursor, what) };
            sink.report.bad_line(line, "attribute without a string \"type\" and \"value\"", what);
            return;
        };
        if truthy(a.get("deleted"), false) {
            self.deleted += 1;
            return;
        }
        if self.to_ids_only && !truthy(a.get("to_ids"), true) {
            self.not_ids += 1;
            return;
        }
        let comment = nonempty(a.get("comment"));
        let info = a.get("Event").and_then(|e| nonempty(e.get("info")));
        // An attribute search result carries its event's threat level inside the attribute.
        let level = a.get("Event").and_then(|e| threat_level(e.get("threat_level_id"))).or(ctx.severity);
        let row = Row {
            confidence: None,
            severity: if comment.is_some_and(says_c2) { Some(Severity::High) } else { level },
            technique: technique_of(a).or(ctx.technique),
            description: comment.or(info).or(ctx.info.as_deref()).map(str::to_owned),
        };
        let first = value.split('|').next().unwrap_or(value);
        let second = value.split_once('|').map(|(_, s)| s);
        let raw = self.raw;
        let mut cursor = self.cursor;
        let mut line_of = || locate(raw, &mut cursor, value);
        match ty {
            "ip-dst" | "ip-src" | "ip" => {
                sink.add_with(value, Want::Address, &row, &mut line_of);
            }
            "ip-dst|port" | "ip-src|port" => {
                sink.add_with(first, Want::Address, &row, &mut line_of);
            }
            "domain" | "hostname" => {
                sink.add_with(value, Want::Domain, &row, &mut line_of);
            }
            "hostname|port" => {
                sink.add_with(first, Want::Domain, &row, &mut line_of);
            }
            "domain|ip" => {
                sink.add_with(first, Want::Domain, &row, &mut line_of);
                match second {
                    Some(ip) => sink.add_with(ip, Want::Address, &row, &mut line_of),
                    None => sink.add_with("", Want::Address, &row, &mut line_of),
                };
            }
            "url" => {
                sink.add_with(value, Want::Url, &row, &mut line_of);
            }
            "md5" | "sha1" | "sha256" => {
                let k = match ty {
                    "md5" => HashKind::Md5,
                    "sha1" => HashKind::Sha1,
                    _ => HashKind::Sha256,
                };
                sink.add_with(value, Want::Hash(Some(k)), &row, &mut line_of);
            }
            "filename|md5" | "filename|sha1" | "filename|sha256" | "malware-sample" => {
                let k = match ty {
                    "filename|sha1" => HashKind::Sha1,
                    "filename|sha256" => HashKind::Sha256,
                    _ => HashKind::Md5,
                };
                sink.add_with(second.unwrap_or(""), Want::Hash(Some(k)), &row, &mut line_of);
            }
            _ => sink.report.unsupported += 1,
        }
        self.cursor = cursor;
    }
}

/// The 1-based line of the JSON string `value` in `raw`, searching from `cursor` first
/// (attributes are mostly visited in file order), then from the start; slashes may be
/// escaped (`\/`, as PHP writes them).
fn locate(raw: &[u8], cursor: &mut usize, value: &str) -> Option<u64> {
    let quoted = serde_json::to_string(value).ok()?;
    let escaped = quoted.replace('/', "\\/");
    let needles = [quoted.as_bytes(), escaped.as_bytes()];
    let from = (*cursor).min(raw.len());
    let pos = needles
        .iter()
        .find_map(|n| memchr::memmem::find(&raw[from..], n).map(|p| p + from))
        .or_else(|| needles.iter().find_map(|n| memchr::memmem::find(raw, n)))?;
    *cursor = pos + 1;
    Some(1 + memchr::memchr_iter(b'\n', &raw[..pos]).count() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::intel::{
        Format,
        indicators::{IndicatorSet, IndicatorSetBuilder},
        load::{FileReport, Limits, load_bytes},
    };

    fn load(text: &str) -> (IndicatorSet, FileReport) {
        let fc = FeedConfig { path: "misp.json".into(), format: Format::Auto, ..FeedConfig::default() };
        let mut b = IndicatorSetBuilder::new(1000);
        let r = load_bytes(&fc, &Limits::default(), text.as_bytes(), &mut b);
        (b.build(), r)
    }

    const EVENT: &str = r#"{"Event": {
  "info": "Operation Example",
  "threat_level_id": "1",
  "Tag": [{"name": "tlp:white"}, {"name": "misp-galaxy:mitre-attack-pattern=\"Web Protocols - T1071.001\""}],
  "Attribute": [
    {"type": "ip-dst", "value": "198.51.100.7", "to_ids": true, "comment": "C2 server"},
    {"type": "ip-dst|port", "value": "198.51.100.8|8443", "to_ids": true},
    {"type": "domain|ip", "value": "evil.example|203.0.113.9", "to_ids": true},
    {"type": "url", "value": "http://stage.example/x/y.bin", "to_ids": true},
    {"type": "filename|sha256", "value": "dropper.exe|aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "to_ids": true},
    {"type": "ip-dst", "value": "999.1.1.1", "to_ids": true},
    {"type": "email-src", "value": "bad@evil.example", "to_ids": true},
    {"type": "domain", "value": "google.com", "to_ids": false, "comment": "connectivity check"},
    {"type": "domain", "value": "gone.example", "to_ids": true, "deleted": true}
  ],
  "Object": [{"name": "domain-ip", "Attribute": [
    {"type": "hostname", "value": "cdn.evil2.example", "to_ids": "1"},
    {"type": "ip-dst", "value": "2001:db8::/200", "to_ids": true}
  ]}]
}}"#;

    #[test]
    fn an_event_loads_its_attributes_and_objects_with_event_details() {
        let (set, r) = load(EVENT);
        assert_eq!(r.format, Format::Misp);
        assert_eq!((r.loaded.addresses, r.loaded.domains, r.loaded.sha256), (3, 3, 1), "{r}");
        assert_eq!(r.unsupported, 1, "{r}");
        assert_eq!(r.bad, 2, "{r}");
        assert_eq!(r.errors[0].line, Some(11), "{r}");
        assert!(r.errors[0].reason.contains("invalid IPv4"), "{r}");
        assert_eq!(r.errors[1].line, Some(18), "{r}");
        assert!(r.notes.iter().any(|n| n.contains("to_ids")), "{r}");
        let h = set.match_addr(&"198.51.100.7".parse().expect("ip")).expect("hit");
        assert_eq!(h.meta.severity, Severity::High);
        assert_eq!(h.meta.technique, Some("T1071.001"));
        assert_eq!(h.meta.description.as_deref(), Some("C2 server"));
        let d = set.match_domain(b"www.evil.example").expect("domain");
        assert_eq!(d.meta.description.as_deref(), Some("Operation Example"));
        assert!(set.match_domain(b"google.com").is_none());
        assert!(set.match_domain(b"gone.example").is_none());
        let u = set.match_domain(b"stage.example").expect("url host");
        assert!(u.meta.confidence < 0.5);
    }

    #[test]
    fn lists_of_events_and_rest_search_results_are_read() {
        let one = r#"{"Event": {"info": "a", "Attribute": [{"type": "ip-src", "value": "192.0.2.10"}]}}"#;
        let (_, r) = load(&format!("[{one}, {one}]"));
        assert_eq!((r.loaded.addresses, r.duplicates), (1, 1), "{r}");
        let (_, r) = load(&format!("{{\"response\": [{one}]}}"));
        assert_eq!(r.loaded.addresses, 1, "{r}");
        let search = r#"{"response": {"Attribute": [
            {"type": "sha1", "value": "0123456789abcdef0123456789abcdef01234567", "Event": {"info": "x", "threat_level_id": "3"}},
            {"type": "md5", "value": "0123"}]}}"#;
        let (set, r) = load(search);
        assert_eq!((r.loaded.sha1, r.bad), (1, 1), "{r}");
        assert_eq!(r.errors[0].line, Some(3), "{r}");
        let h = set.match_hash_hex("0123456789ABCDEF0123456789abcdef01234567").expect("sha1");
        assert_eq!(h.meta.severity, Severity::Low);
        let (set, r) = load(r#"["198.51.100.1", "evil.example", 5]"#);
        assert_eq!(r.loaded.total(), 2, "{r}");
        assert_eq!(r.bad, 1);
        assert!(set.match_domain(b"evil.example").is_some());
    }

    #[test]
    fn broken_or_foreign_json_fails_the_feed_with_its_position() {
        let (_, r) = load("{\"Event\": {\"Attribute\": [\n{\"type\": \"ip-dst\", \"value\": \"192.0.2.1\"},\n");
        let shown = r.to_string();
        assert!(shown.contains("misp.json:3:") && shown.contains("broken JSON"), "{shown}");
        let (_, r) = load(r#"{"hello": "world"}"#);
        assert!(matches!(r.failed, Some(FeedError::NotMisp { .. })), "{r}");
        let (_, r) = load(r#"{"response": 5}"#);
        assert!(matches!(r.failed, Some(FeedError::NotMisp { .. })), "{r}");
        let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
        let (_, r) = load(&deep);
        assert!(r.failed.is_some(), "recursion limit, not a stack overflow");
    }
}
