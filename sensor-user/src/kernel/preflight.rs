//! Checks made before anything is loaded, so that a bad start fails with one clear error
//! naming the problem and the fix, and leaves nothing behind.

use std::path::{Path, PathBuf};

use crate::sys::{self, magic};

/// A reason the sensor cannot start.
#[derive(Debug, thiserror::Error)]
pub enum PreflightError {
    /// Not root.
    #[error(
        "the sensor must run as root (or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON); effective uid is {euid}: run it with sudo"
    )]
    NotRoot {
        /// The effective uid.
        euid: u32,
    },
    /// No such interface.
    #[error(
        "no network interface named {name:?} in this network namespace: list them with `ip link` and pass one to --iface"
    )]
    NoInterface {
        /// The name given.
        name: String,
    },
    /// The kernel object is missing.
    #[error(
        "kernel object not found at {path}: build it with `cargo xtask build-ebpf` (needs the BPF toolchain; `cargo xtask toolchain` installs it) or pass --object"
    )]
    ObjectMissing {
        /// The path tried.
        path: PathBuf,
    },
    /// No BTF.
    #[error(
        "this kernel exposes no BTF at {path}: the sensor needs a kernel built with CONFIG_DEBUG_INFO_BTF=y (any distribution kernel since 5.x has it)"
    )]
    NoBtf {
        /// The path tried.
        path: &'static str,
    },
    /// bpffs is not mounted and could not be mounted.
    #[error("cannot mount the BPF filesystem at {path}: run `mount -t bpf bpf {path}`")]
    BpfFs {
        /// The mount point.
        path: String,
        /// Why mounting failed.
        #[source]
        source: std::io::Error,
    },
    /// tracefs is not mounted and could not be mounted.
    #[error("cannot mount tracefs at {path}: run `mount -t tracefs nodev {path}`")]
    TraceFs {
        /// The mount point.
        path: &'static str,
        /// Why mounting failed.
        #[source]
        source: std::io::Error,
    },
}

/// Where the kernel's BTF lives.
pub const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";
const TRACEFS: &str = "/sys/kernel/tracing";

/// Root (or the capabilities that imply it for our purposes).
pub fn check_root() -> Result<(), PreflightError> {
    match sys::euid() {
        0 => Ok(()),
        euid => Err(PreflightError::NotRoot { euid }),
    }
}

/// Every interface exists; returns their indices.
pub fn check_interfaces(names: &[String]) -> Result<Vec<u32>, PreflightError> {
    names.iter().map(|n| sys::if_index(n).ok_or_else(|| PreflightError::NoInterface { name: n.clone() })).collect()
}

/// The object file exists.
pub fn check_object(path: &Path) -> Result<(), PreflightError> {
    if path.is_file() { Ok(()) } else { Err(PreflightError::ObjectMissing { path: path.to_owned() }) }
}

/// The kernel has BTF.
pub fn check_btf() -> Result<(), PreflightError> {
    if Path::new(VMLINUX_BTF).exists() { Ok(()) } else { Err(PreflightError::NoBtf { path: VMLINUX_BTF }) }
}

/// bpffs is mounted at the parent of `pin_dir` (mounting it if needed).
pub fn ensure_bpffs(pin_dir: &Path) -> Result<(), PreflightError> {
    let mount_point = pin_dir.parent().unwrap_or(Path::new("/sys/fs/bpf"));
    let mp = mount_point.to_string_lossy().into_owned();
    if sys::fs_magic(&mp) == Some(magic::BPF_FS) {
        return Ok(());
    }
    sys::mount_pseudo("bpf", &mp).map_err(|source| PreflightError::BpfFs { path: mp, source })
}

/// tracefs is mounted (mounting it if needed), for tracepoint attachment.
pub fn ensure_tracefs() -> Result<(), PreflightError> {
    if sys::fs_magic(TRACEFS) == Some(magic::TRACEFS) {
        return Ok(());
    }
    sys::mount_pseudo("tracefs", TRACEFS).map_err(|source| PreflightError::TraceFs { path: TRACEFS, source })
}

/// Whether a tracepoint exists on this kernel.
pub fn tracepoint_exists(category: &str, name: &str) -> bool {
    Path::new(TRACEFS).join("events").join(category).join(name).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_interface_is_named_in_the_error() {
        let e = check_interfaces(&["lo".into(), "nosuch0".into()]).expect_err("nosuch0 missing");
        assert!(e.to_string().contains("\"nosuch0\""), "{e}");
    }

    #[test]
    fn a_missing_object_names_the_fix() {
        let e = check_object(Path::new("/nonexistent/sensor-ebpf.o")).expect_err("missing");
        assert!(e.to_string().contains("cargo xtask build-ebpf"), "{e}");
    }
}
