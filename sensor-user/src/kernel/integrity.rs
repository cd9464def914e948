//! Self-protection on the kernel side: every interface the XDP program was attached to
//! still runs it. A program detached behind the sensor's back (`BPF_LINK_DETACH` on its
//! link, or another program put in its place) is found by asking the kernel which program
//! each interface runs (`ip -j link show`, netlink) and re-attached; the caller audits it.

use std::process::Command;

use sensor_common::programs;

use super::loader::{LoadError, Sensor, attach_xdp};

/// An interface found without the sensor's XDP program, and what re-attaching gave.
#[derive(Debug)]
pub struct XdpRepair {
    /// The interface.
    pub iface: String,
    /// The program the interface ran instead (None: no XDP program at all).
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
    /// Checks every XDP attachment and re-attaches the program where it is gone. Returns
    /// one entry per interface found without it (none when all is well, or when the
    /// kernel cannot be asked).
    pub fn check_xdp(&mut self) -> Vec<XdpRepair> {
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
            out.push(XdpRepair { iface, found, expected, outcome });
        }
        out
    }
}
