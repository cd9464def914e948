//! Everything that talks to the kernel through aya: preflight checks, loading the object,
//! attaching programs, pinning maps, reading ring buffers and counters.

pub mod btf;
pub mod counters;
pub mod integrity;
pub mod loader;
pub mod preflight;
pub mod ring;

pub use counters::{CounterSnapshot, read_counters};
pub use loader::{AttachReport, LoadError, Sensor, SensorOptions, XdpModeChoice};
pub use ring::{ReaderStats, RingReader};

/// Default directory for pinned maps.
pub const DEFAULT_PIN_DIR: &str = "/sys/fs/bpf/sensor";
/// Sub-directory of the pin directory for maps that live only while a sensor runs.
pub const RUN_SUBDIR: &str = "run";

/// Environment variable naming the kernel object.
pub const OBJECT_ENV: &str = "SENSOR_BPF_OBJECT";

/// Where the kernel object is looked for when `--object` is not given: `$SENSOR_BPF_OBJECT`,
/// then `sensor-ebpf.o` next to the executable or in `../bpf/` from it (where
/// `cargo xtask build-ebpf` puts it), then the workspace's `target/bpf/`.
pub fn default_object_path() -> std::path::PathBuf {
    use std::path::PathBuf;
    if let Some(p) = std::env::var_os(OBJECT_ENV) {
        return PathBuf::from(p);
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            candidates.push(dir.join("sensor-ebpf.o"));
            candidates.push(dir.join("../bpf/sensor-ebpf.o"));
            candidates.push(dir.join("../../bpf/sensor-ebpf.o"));
        }
    }
    let workspace = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/bpf/sensor-ebpf.o"));
    candidates.push(workspace.clone());
    candidates.into_iter().find(|p| p.is_file()).unwrap_or(workspace)
}
