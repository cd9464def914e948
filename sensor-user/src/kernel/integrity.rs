//! Self-protection on the kernel side: every interface the XDP and TC egress programs were
//! attached to still runs them. A program detached behind the sensor's back
//! (`BPF_LINK_DETACH` on its link, or another program put in its place) is found by asking
//! the kernel which programs each interface runs (rtnetlink `RTM_GETLINK` for XDP,
//! `BPF_PROG_QUERY` for tcx egress) and re-attached; the caller audits it. (The tracepoints
//! are perf-event links, which `BPF_LINK_DETACH` cannot detach.)

use sensor_common::programs;

use super::loader::{LoadError, Sensor, attach_tc, attach_xdp};

/// An interface found without one of the sensor's programs, and what re-attaching gave.
#[derive(Debug)]
pub struct ProgramRepair {
    /// The program (`sensor_xdp`, `sensor_tc_egress`).
    pub program: &'static str,
    /// The interface.
    pub iface: String,
    /// The program the interface ran instead (None: none at all).
    pub found: Option<u32>,
    /// The sensor's program.
    pub expected: u32,
    /// Re-attached (with the mode), or why not.
    pub outcome: Result<String, LoadError>,
}

/// The id of the XDP program `iface` runs, asked over rtnetlink in this process's network
/// namespace; `Err` when it cannot be asked.
pub fn attached_xdp_id(iface: &str) -> Result<Option<u32>, String> {
    let ifindex = crate::sys::if_index(iface).ok_or_else(|| format!("no interface {iface}"))?;
    crate::sys::netlink_xdp::xdp_prog_id(ifindex).map_err(|e| format!("rtnetlink: {e}"))
}

/// The ids of the programs `iface` runs on `program`'s hook (XDP through netlink, TC
/// egress through `BPF_PROG_QUERY` on tcx); `Err` when the kernel cannot be asked.
fn running_ids(program: &str, iface: &str) -> Result<Vec<u32>, String> {
    if program == programs::XDP_INGRESS {
        return attached_xdp_id(iface).map(|id| id.into_iter().collect());
    }
    let ifindex = crate::sys::if_index(iface).ok_or_else(|| format!("no interface {iface}"))?;
    crate::sys::bpf_query::tcx_prog_ids(ifindex, true).map_err(|e| e.to_string())
}

impl Sensor {
    /// Checks every XDP and tcx attachment and re-attaches a program where it is gone.
    /// Returns one entry per interface and program found missing (none when all is well,
    /// or when the kernel cannot be asked).
    pub fn check_programs(&mut self) -> Vec<ProgramRepair> {
        let hooks: Vec<(&'static str, String)> = self
            .attached
            .iter()
            .filter(|r| r.program == programs::XDP_INGRESS || r.program == programs::TC_EGRESS)
            .map(|r| (r.program, r.target.clone()))
            .collect();
        let mut out = Vec::new();
        for (program, iface) in hooks {
            let Some(expected) = self.ebpf_mut().program(program).and_then(|p| p.info().ok()).map(|i| i.id()) else {
                continue;
            };
            let Ok(running) = running_ids(program, &iface) else { continue };
            if running.contains(&expected) {
                continue;
            }
            let mode = self.xdp_mode;
            let attached = if program == programs::XDP_INGRESS {
                attach_xdp(self.ebpf_mut(), &iface, mode)
            } else {
                attach_tc(self.ebpf_mut(), &iface)
            };
            let found = running.first().copied();
            out.push(ProgramRepair { program, iface, found, expected, outcome: attached.map(|r| r.mode) });
        }
        out
    }
}
