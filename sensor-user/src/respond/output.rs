//! What the governor's decisions and incidents become outside the process: rows of the
//! lake's `incidents` and `decisions` tables and OCSF Detection Findings. The decision
//! thread drains the governor after each batch of findings and each tick, so one row per
//! changed incident per batch, and one per decision state.

use std::{collections::BTreeSet, io::Write};

use super::governor::Governor;
use crate::{
    agents::finding::Finding,
    fleet::{FleetHandle, FleetMessage, IncidentBrief},
    lake::{LakeSink, ocsf},
};

/// The governor's outputs.
pub struct GovOutput {
    lake: Option<LakeSink>,
    ocsf: Option<Box<dyn Write + Send>>,
    host: String,
    announced: BTreeSet<u64>,
    fleet: Option<FleetHandle>,
    /// OCSF lines that could not be written.
    pub ocsf_errors: u64,
}

impl std::fmt::Debug for GovOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GovOutput").field("host", &self.host).finish_non_exhaustive()
    }
}

impl GovOutput {
    /// Rows into `lake`, OCSF lines into `ocsf` (either may be None).
    pub fn new(lake: Option<LakeSink>, ocsf: Option<Box<dyn Write + Send>>, host: String) -> Self {
        Self { lake, ocsf, host, announced: BTreeSet::new(), fleet: None, ocsf_errors: 0 }
    }

    /// Also publishes findings, incidents and decisions to the fleet.
    pub fn with_fleet(mut self, fleet: FleetHandle) -> Self {
        self.fleet = Some(fleet);
        self
    }

    /// A finding on its way to the governor (published to the fleet; offers received from
    /// the fleet are not published again).
    pub fn finding(&mut self, f: &Finding, now_ns: u64) {
        let Some(fl) = &self.fleet else { return };
        if f.agent == "fleet" {
            return;
        }
        let (site, host) = fl.identity();
        fl.publish(&FleetMessage::Finding {
            site: site.to_owned(),
            host: host.to_owned(),
            ts_ns: now_ns,
            agent: f.agent.to_owned(),
            finding_kind: f.kind.to_owned(),
            confidence: f.confidence,
            src: f.entities.src,
            dst: f.entities.dst,
            reason: f.reason.clone(),
        });
    }

    /// Writes what changed in `g` since the last call. `wall` says whether rows carry the
    /// wall-clock time `now_ns` (live) or their own event time (replay).
    pub fn drain(&mut self, g: &mut Governor, now_ns: u64, wall: bool) {
        let decisions = std::mem::take(&mut g.outbox);
        let mut touched = std::mem::take(&mut g.touched);
        for d in &decisions {
            touched.insert(d.incident);
            if let Some(l) = self.lake.as_mut() {
                l.decision(d, if wall { now_ns } else { d.at_ns }, "local");
            }
            if let Some(fl) = &self.fleet {
                let (site, host) = fl.identity();
                fl.publish(&FleetMessage::Decision {
                    site: site.to_owned(),
                    host: host.to_owned(),
                    ts_ns: now_ns,
                    decision: d.clone(),
                    incident: g.incident(d.incident).map(IncidentBrief::of),
                });
            }
        }
        for id in touched {
            let Some(i) = g.incident(id) else { continue };
            let ts = if wall { now_ns } else { i.last_ns };
            if let Some(l) = self.lake.as_mut() {
                l.incident(i, ts);
            }
            if let Some(fl) = &self.fleet {
                let (site, host) = fl.identity();
                fl.publish(&FleetMessage::Incident {
                    site: site.to_owned(),
                    host: host.to_owned(),
                    ts_ns: now_ns,
                    incident: IncidentBrief::of(i),
                });
            }
            if let Some(out) = self.ocsf.as_mut() {
                let created = self.announced.insert(id);
                if ocsf::write_line(out, &ocsf::detection_finding(i, ts, created, &self.host)).is_err() {
                    self.ocsf_errors += 1;
                }
            }
        }
        if let Some(l) = self.lake.as_mut() {
            l.tick();
        }
        if let Some(out) = self.ocsf.as_mut() {
            if out.flush().is_err() {
                self.ocsf_errors += 1;
            }
        }
    }

    /// Hands over every buffered row.
    pub fn finish(&mut self) {
        if let Some(l) = self.lake.as_mut() {
            l.flush();
        }
        if let Some(out) = self.ocsf.as_mut() {
            let _ = out.flush();
        }
    }
}
