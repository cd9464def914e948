//! Agent findings as eve `anomaly` records (`anomaly.type` = "finding"), with the finding's
//! agent, kind, confidence, severity, ATT&CK technique, entities, evidence and reason.

use super::{EveWriter, Json, RecordType};
use crate::agents::finding::Finding;

impl EveWriter {
    /// One finding.
    pub fn finding(&mut self, f: &Finding) {
        if let Some(l) = self.lake() {
            l.finding(f);
        }
        self.record(RecordType::Anomaly, f.ts_ns, |j| {
            let e = &f.entities;
            if let Some(src) = e.src {
                j.fmt("src_ip", format_args!("{src}"));
            }
            if let Some(dst) = e.dst {
                j.fmt("dest_ip", format_args!("{dst}"));
            }
            if let Some(p) = e.port {
                j.u64("dest_port", u64::from(p));
            }
            j.obj("anomaly", |a| {
                a.str("type", "finding")
                    .str("event", f.kind)
                    .str("agent", f.agent)
                    .f64("confidence", f64::from(f.confidence))
                    .str("severity", f.severity.name())
                    .str("technique", f.technique)
                    .str("reason", &f.reason);
                a.obj("entities", |o| entities(o, f));
                a.obj("evidence", |o| {
                    let ev = &f.evidence;
                    o.str("measure", ev.measure)
                        .f64("observed", ev.observed)
                        .f64("threshold", ev.threshold)
                        .f64("window_s", ev.window_s)
                        .u64("count", ev.count);
                    if !ev.flow_ids.is_empty() {
                        o.u64_arr("flow_ids", ev.flow_ids.iter().copied());
                    }
                });
            });
        });
    }
}

fn entities(o: &mut Json<'_>, f: &Finding) {
    let e = &f.entities;
    if let Some(a) = e.src {
        o.fmt("src", format_args!("{a}"));
    }
    if let Some(a) = e.dst {
        o.fmt("dst", format_args!("{a}"));
    }
    if let Some(p) = e.port {
        o.u64("port", u64::from(p));
    }
    if let Some(h) = &e.host {
        o.str("host", h);
    }
    if let Some(p) = e.pid {
        o.u64("pid", u64::from(p));
    }
    if let Some(p) = e.ppid {
        o.u64("ppid", u64::from(p));
    }
    if let Some(u) = &e.user {
        o.str("user", u);
    }
    if let Some(x) = &e.exe {
        o.str("exe", x);
    }
}
