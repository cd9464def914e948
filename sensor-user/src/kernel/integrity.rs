//! Self-protection on the kernel side: every interface the XDP and TC egress programs were
//! attached to still runs them. A program detached behind the sensor's back
//! (`BPF_LINK_DETACH` on its link, or another program put in its place) is found by asking
//! the kernel which programs each interface runs (`ip -j link show` for XDP,
//! `BPF_PROG_QUERY` for tcx egress) and re-attached; the caller audits it. (The tracepoints
//! are perf-event links, which `BPF_LINK_DETACH` cannot detach.)

use std::process::Command;

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

/// The id of the XDP program `iface` runs, read from `ip -j link show dev IFACE` in this
/// process's network namespace; `Err` when it cannot be asked.
pub fn attached_xdp_id(iface: &str) -> Result<Option<u32>, String> {
    let out = Command::new("ip")
        .args(["-j", "link", "show", "dev", iface])
        .output()
        .map_err(|e| format!("cannot run ip(8): {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).trim().to_owned());
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("ip -j: {e}"))?;
    Ok(v.get(0)
        .and_then(|l| l.get("xdp"))
        .and_then(|x| x.get("prog").and_then(|p| p.get("id")).and_then(serde_json::Value::as_u64))
        .and_then(|id| u32::try_from(id).ok()))
}

impl Sensor {
    /// Checks every XDP and tcx attachment and re-attaches a program where it is gone.
    /// Returns one entry per interface and program found missing (none when all is well,
    /// or when the kernel cannot be asked).
    pub fn check_programs(&mut self) -> Vec<ProgramRepair> {
        let ifaces: Vec<String> =
            self.attached.iter().filter(|r| r.program == programs::XDP_INGRESS).map(|r| r.target.clone()).collect();
        let Some(expected) = self.ebpf_mut().program(programs::XDP_INGRESS).and_then(|p| p.info().ok()).map(|i| i.id())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for iface in ifaces {
            let Ok(found) = attached_xdp_id(&iface) else { continue };
            if found == Some(expected) {
                continue;
            }
            let mode = self.xdp_mode;
            let outcome = attach_xdp(self.ebpf_mut(), &iface, mode).map(|r| r.mode);
            out.push(ProgramRepair { program: programs::XDP_INGRESS, iface, found, expected, outcome });
        }
        out.extend(self.check_tc());
        out
    }

    /// The same for the TC egress program (tcx attachments only).
    fn check_tc(&mut self) -> Vec<ProgramRepair> {
        let ifaces: Vec<String> =
            self.attached.iter().filter(|r| r.program == programs::TC_EGRESS).map(|r| r.target.clone()).collect();
        let Some(expected) = self.ebpf_mut().program(programs::TC_EGRESS).and_then(|p| p.info().ok()).map(|i| i.id())
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for iface in ifaces {
            let Some(ifindex) = crate::sys::if_index(&iface) else { continue };
            let Ok(ids) = crate::sys::bpf_query::tcx_prog_ids(ifindex, true) else { continue };
            if ids.contains(&expected) {
                continue;
            }
            let outcome = attach_tc(self.ebpf_mut(), &iface).map(|r| r.mode);
            out.push(ProgramRepair {
                program: programs::TC_EGRESS,
                iface,
                found: ids.first().copied(),
                expected,
                outcome,
            });
        }
        out
    }
}
