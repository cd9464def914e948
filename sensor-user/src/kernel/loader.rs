//! Loading the kernel object and attaching it: the [`Sensor`] owns the loaded object, and
//! dropping it detaches every program (all attachments are bpf links owned by this process)
//! and removes the run-time pins. The block lists stay pinned so blocks survive restarts.

use std::{
    fs,
    path::{Path, PathBuf},
};

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, LpmTrie, MapData, RingBuf, lpm_trie::Key},
    programs::{SchedClassifier, TcAttachType, TracePoint, Xdp, XdpMode},
};
use sensor_common::{
    config::SensorConfig,
    event::SAMPLE_MAX,
    maps::{self, PATH_KEY_LEN},
    programs,
};

use super::{RUN_SUBDIR, btf::Btf, preflight};
use crate::block::BlockMaps;

/// XDP attach mode requested on the command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum XdpModeChoice {
    /// Native (driver) mode, falling back to generic (skb) mode, reported.
    #[default]
    Auto,
    /// Native only.
    Native,
    /// Generic only.
    Generic,
}

/// What to load and where to attach it.
#[derive(Clone, Debug)]
pub struct SensorOptions {
    /// The kernel object.
    pub object: PathBuf,
    /// Interfaces for XDP ingress and TC egress.
    pub ifaces: Vec<String>,
    /// XDP mode.
    pub xdp_mode: XdpModeChoice,
    /// Also attach TC egress.
    pub egress: bool,
    /// Attach the process and syscall tracepoints.
    pub tracepoints: bool,
    /// Bytes of payload per sample (N).
    pub sample_bytes: u32,
    /// Samples per direction per flow (K).
    pub sample_packets: u32,
    /// Path prefixes whose openat is reported.
    pub watch_paths: Vec<String>,
    /// Pin directory (on bpffs).
    pub pin_dir: PathBuf,
    /// Size of the network event ring, bytes (power of two, >= page size).
    pub net_ring_bytes: u32,
    /// Size of the process event ring, bytes.
    pub proc_ring_bytes: u32,
}

impl Default for SensorOptions {
    fn default() -> Self {
        Self {
            object: PathBuf::new(),
            ifaces: Vec::new(),
            xdp_mode: XdpModeChoice::Auto,
            egress: true,
            tracepoints: true,
            sample_bytes: 256,
            sample_packets: 3,
            watch_paths: vec![
                "/etc/shadow".into(),
                "/etc/gshadow".into(),
                "/etc/sudoers".into(),
                "/root/.ssh/".into(),
                "/etc/ssh/ssh_host_".into(),
            ],
            pin_dir: PathBuf::from(super::DEFAULT_PIN_DIR),
            net_ring_bytes: maps::NET_RING_BYTES,
            proc_ring_bytes: maps::PROC_RING_BYTES,
        }
    }
}

/// How a hook was attached, for the start-up report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttachReport {
    /// The program.
    pub program: &'static str,
    /// Where: an interface or `category/name`.
    pub target: String,
    /// Mode or a note (e.g. "native", "generic (native refused: ...)").
    pub mode: String,
}

/// Errors starting the sensor.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A preflight check failed.
    #[error(transparent)]
    Preflight(#[from] preflight::PreflightError),
    /// A knob is out of range.
    #[error("invalid option {option}: {reason}")]
    Invalid {
        /// The option.
        option: &'static str,
        /// Why.
        reason: String,
    },
    /// The object failed to load (the verifier log is in the source chain).
    #[error("failed to load the kernel object {path}")]
    Load {
        /// The object.
        path: PathBuf,
        /// aya's error, with the verifier log when a program was rejected (boxed: it is large).
        #[source]
        source: Box<aya::EbpfError>,
    },
    /// A program is missing from the object.
    #[error("the kernel object has no program {program}: it is stale, rebuild it with `cargo xtask build-ebpf`")]
    MissingProgram {
        /// The program.
        program: &'static str,
    },
    /// A program failed to load or attach.
    #[error("failed to {op} {program} on {target}")]
    Program {
        /// "load" or "attach".
        op: &'static str,
        /// The program.
        program: &'static str,
        /// Where.
        target: String,
        /// aya's error (includes the verifier log on load; boxed: it is large).
        #[source]
        source: Box<aya::programs::ProgramError>,
    },
    /// A map is missing or of the wrong type.
    #[error("map {map} is missing or has the wrong type in the kernel object")]
    Map {
        /// The map.
        map: &'static str,
        /// aya's error.
        #[source]
        source: aya::maps::MapError,
    },
    /// Reading BTF failed.
    #[error(transparent)]
    Btf(#[from] super::btf::BtfError),
    /// Filesystem work for the pins failed.
    #[error("cannot prepare the pin directory {path}")]
    PinDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Pinning a run-time map failed.
    #[error("cannot pin {map} at {path}")]
    Pin {
        /// The map.
        map: &'static str,
        /// The pin path.
        path: PathBuf,
        /// aya's error.
        #[source]
        source: aya::pin::PinError,
    },
}

/// A loaded and attached sensor.
pub struct Sensor {
    ebpf: Ebpf,
    /// How each hook was attached.
    pub attached: Vec<AttachReport>,
    run_dir: PathBuf,
    /// Configuration written to the kernel.
    pub config: SensorConfig,
    /// The XDP mode asked for (re-attachment uses it again).
    pub(crate) xdp_mode: XdpModeChoice,
}

/// Removes pins this start created if it fails before completing.
struct PinGuard {
    created: Vec<PathBuf>,
    armed: bool,
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        if self.armed {
            for p in &self.created {
                let _ = fs::remove_file(p);
            }
        }
    }
}

impl Sensor {
    /// Checks the machine, loads the object, writes the configuration and attaches every
    /// program. On error nothing stays attached, and pins created by this call are removed.
    pub fn start(opts: &SensorOptions) -> Result<Self, LoadError> {
        preflight::check_root()?;
        preflight::check_object(&opts.object)?;
        preflight::check_interfaces(&opts.ifaces)?;
        preflight::check_btf()?;
        validate(opts)?;
        preflight::ensure_bpffs(&opts.pin_dir)?;
        if opts.tracepoints {
            preflight::ensure_tracefs()?;
        }
        let btf = Btf::from_file(preflight::VMLINUX_BTF)?;

        fs::create_dir_all(&opts.pin_dir).map_err(|source| LoadError::PinDir { path: opts.pin_dir.clone(), source })?;
        let mut guard = PinGuard {
            created: maps::PERSISTENT.iter().map(|m| opts.pin_dir.join(m)).filter(|p| !p.exists()).collect(),
            armed: true,
        };
        let mut ebpf = EbpfLoader::new()
            .default_map_pin_directory(&opts.pin_dir)
            .map_max_entries(maps::NET_EVENTS, opts.net_ring_bytes)
            .map_max_entries(maps::PROC_EVENTS, opts.proc_ring_bytes)
            .load_file(&opts.object)
            .map_err(|source| LoadError::Load { path: opts.object.clone(), source: Box::new(source) })?;

        let config = SensorConfig {
            sample_bytes: opts.sample_bytes,
            sample_packets: opts.sample_packets,
            sensor_tgid: std::process::id(),
            isolating: 0,
            task: btf.task_offsets(),
        };
        write_config(&mut ebpf, &config, &opts.watch_paths)?;

        let mut attached = Vec::new();
        for iface in &opts.ifaces {
            attached.push(attach_xdp(&mut ebpf, iface, opts.xdp_mode)?);
            if opts.egress {
                attached.push(attach_tc(&mut ebpf, iface)?);
            }
        }
        if opts.tracepoints {
            attached.extend(attach_tracepoints(&mut ebpf)?);
        }

        let run_dir = opts.pin_dir.join(RUN_SUBDIR);
        pin_runtime(&mut ebpf, &run_dir)?;
        guard.armed = false;
        Ok(Self { ebpf, attached, run_dir, config, xdp_mode: opts.xdp_mode })
    }

    /// Takes the two ring buffers (network, process) for reader threads.
    pub fn take_rings(&mut self) -> Result<(RingBuf<MapData>, RingBuf<MapData>), LoadError> {
        let mut take = |name: &'static str| {
            let map = self
                .ebpf
                .take_map(name)
                .ok_or(LoadError::Map { map: name, source: aya::maps::MapError::InvalidName { name: name.into() } })?;
            RingBuf::try_from(map).map_err(|source| LoadError::Map { map: name, source })
        };
        Ok((take(maps::NET_EVENTS)?, take(maps::PROC_EVENTS)?))
    }

    /// Takes the block lists for this process's own use (expiry sweeps).
    pub fn take_block_maps(&mut self) -> Result<BlockMaps, crate::block::BlockError> {
        BlockMaps::from_ebpf(&mut self.ebpf)
    }

    /// The counters, summed over CPUs.
    pub fn counters(&self) -> Result<super::CounterSnapshot, super::counters::CounterError> {
        match self.ebpf.map(maps::COUNTERS) {
            Some(m) => super::read_counters(m),
            None => Err(super::counters::CounterError::Map(aya::maps::MapError::InvalidName {
                name: maps::COUNTERS.into(),
            })),
        }
    }

    /// The loaded object, for tests and benches that drive programs directly.
    pub fn ebpf_mut(&mut self) -> &mut Ebpf {
        &mut self.ebpf
    }
}

impl Drop for Sensor {
    fn drop(&mut self) {
        for m in RUNTIME_PINS {
            let _ = fs::remove_file(self.run_dir.join(m));
        }
        let _ = fs::remove_dir(&self.run_dir);
    }
}

/// Maps pinned under `run/` while the sensor runs (for `sensor status`).
const RUNTIME_PINS: [&str; 2] = [maps::COUNTERS, maps::FLOWS];

fn validate(opts: &SensorOptions) -> Result<(), LoadError> {
    if opts.sample_bytes as usize > SAMPLE_MAX {
        return Err(LoadError::Invalid {
            option: "sample-bytes",
            reason: format!("{} is above the maximum {SAMPLE_MAX}", opts.sample_bytes),
        });
    }
    if opts.sample_packets > 255 {
        return Err(LoadError::Invalid { option: "sample-packets", reason: "at most 255".into() });
    }
    for (name, v) in [("net-ring-bytes", opts.net_ring_bytes), ("proc-ring-bytes", opts.proc_ring_bytes)] {
        if !v.is_power_of_two() || v < 4096 {
            return Err(LoadError::Invalid {
                option: name,
                reason: format!("{v} is not a power of two of at least 4096"),
            });
        }
    }
    for p in &opts.watch_paths {
        if p.is_empty() || p.len() > PATH_KEY_LEN {
            return Err(LoadError::Invalid {
                option: "watch-path",
                reason: format!("{p:?} must be 1 to {PATH_KEY_LEN} bytes"),
            });
        }
    }
    Ok(())
}

fn write_config(ebpf: &mut Ebpf, config: &SensorConfig, watch: &[String]) -> Result<(), LoadError> {
    let map = ebpf.map_mut(maps::CONFIG).ok_or(LoadError::Map {
        map: maps::CONFIG,
        source: aya::maps::MapError::InvalidName { name: maps::CONFIG.into() },
    })?;
    let mut arr: Array<&mut MapData, SensorConfig> =
        Array::try_from(map).map_err(|source| LoadError::Map { map: maps::CONFIG, source })?;
    arr.set(0, config, 0).map_err(|source| LoadError::Map { map: maps::CONFIG, source })?;
    let map = ebpf.map_mut(maps::WATCHED_PATHS).ok_or(LoadError::Map {
        map: maps::WATCHED_PATHS,
        source: aya::maps::MapError::InvalidName { name: maps::WATCHED_PATHS.into() },
    })?;
    let mut trie: LpmTrie<&mut MapData, [u8; PATH_KEY_LEN], u32> =
        LpmTrie::try_from(map).map_err(|source| LoadError::Map { map: maps::WATCHED_PATHS, source })?;
    for (i, p) in watch.iter().enumerate() {
        let mut data = [0u8; PATH_KEY_LEN];
        data[..p.len()].copy_from_slice(p.as_bytes());
        trie.insert(&Key::new((p.len() * 8) as u32, data), i as u32, 0)
            .map_err(|source| LoadError::Map { map: maps::WATCHED_PATHS, source })?;
    }
    Ok(())
}

/// The error for a failed `op` ("load", "attach") of `program` on `target`.
fn prog_err(
    op: &'static str,
    program: &'static str,
    target: impl Into<String>,
) -> impl FnOnce(aya::programs::ProgramError) -> LoadError {
    let target = target.into();
    move |source| LoadError::Program { op, program, target, source: Box::new(source) }
}

fn program<'a, T>(ebpf: &'a mut Ebpf, name: &'static str) -> Result<&'a mut T, LoadError>
where
    &'a mut T: TryFrom<&'a mut aya::programs::Program, Error = aya::programs::ProgramError>,
{
    let p = ebpf.program_mut(name).ok_or(LoadError::MissingProgram { program: name })?;
    p.try_into().map_err(prog_err("load", name, String::new()))
}

pub(crate) fn attach_xdp(ebpf: &mut Ebpf, iface: &str, mode: XdpModeChoice) -> Result<AttachReport, LoadError> {
    let name = programs::XDP_INGRESS;
    let prog: &mut Xdp = program(ebpf, name)?;
    if prog.fd().is_err() {
        prog.load().map_err(prog_err("load", name, iface))?;
    }
    let err = prog_err("attach", name, iface);
    let report = |mode: String| AttachReport { program: name, target: iface.into(), mode };
    match mode {
        XdpModeChoice::Native => prog.attach(iface, XdpMode::Driver).map(|_| report("native".into())).map_err(err),
        XdpModeChoice::Generic => prog.attach(iface, XdpMode::Skb).map(|_| report("generic".into())).map_err(err),
        XdpModeChoice::Auto => match prog.attach(iface, XdpMode::Driver) {
            Ok(_) => Ok(report("native".into())),
            Err(native) => {
                let why = native.to_string();
                prog.attach(iface, XdpMode::Skb)
                    .map(|_| report(format!("generic (native refused: {why})")))
                    .map_err(err)
            }
        },
    }
}

pub(crate) fn attach_tc(ebpf: &mut Ebpf, iface: &str) -> Result<AttachReport, LoadError> {
    let name = programs::TC_EGRESS;
    let prog: &mut SchedClassifier = program(ebpf, name)?;
    if prog.fd().is_err() {
        prog.load().map_err(prog_err("load", name, iface))?;
    }
    prog.attach(iface, TcAttachType::Egress).map_err(prog_err("attach", name, iface))?;
    Ok(AttachReport { program: name, target: iface.into(), mode: "tcx egress".into() })
}

fn attach_tracepoints(ebpf: &mut Ebpf) -> Result<Vec<AttachReport>, LoadError> {
    let mut out = Vec::new();
    let mut attach = |ebpf: &mut Ebpf, name: &'static str, cat: &str, tp: &str| -> Result<(), LoadError> {
        let prog: &mut TracePoint = program(ebpf, name)?;
        if prog.fd().is_err() {
            prog.load().map_err(prog_err("load", name, format!("{cat}/{tp}")))?;
        }
        prog.attach(cat, tp).map_err(prog_err("attach", name, format!("{cat}/{tp}")))?;
        out.push(AttachReport { program: name, target: format!("{cat}/{tp}"), mode: "tracepoint".into() });
        Ok(())
    };
    for (name, cat, tp) in programs::TRACEPOINTS {
        attach(ebpf, name, cat, tp)?;
    }
    let module_tps: Vec<_> =
        programs::MODULE_TRACEPOINTS.iter().filter(|(c, n)| preflight::tracepoint_exists(c, n)).collect();
    if module_tps.is_empty() {
        // Kernels built without module support have no *_module syscall tracepoints; the
        // syscalls still exist (returning ENOSYS), so watch them on the raw syscall entry.
        attach(ebpf, programs::MODULE_LOAD, "raw_syscalls", "sys_enter")?;
    } else {
        for (c, n) in module_tps {
            attach(ebpf, programs::MODULE_LOAD, c, n)?;
        }
    }
    Ok(out)
}

fn pin_runtime(ebpf: &mut Ebpf, run_dir: &Path) -> Result<(), LoadError> {
    fs::create_dir_all(run_dir).map_err(|source| LoadError::PinDir { path: run_dir.to_owned(), source })?;
    for name in RUNTIME_PINS {
        let path = run_dir.join(name);
        // A sensor killed without cleanup leaves stale pins: replace them.
        let _ = fs::remove_file(&path);
        let map = ebpf
            .map(name)
            .ok_or(LoadError::Map { map: name, source: aya::maps::MapError::InvalidName { name: name.into() } })?;
        map.pin(&path).map_err(|source| LoadError::Pin { map: name, path: path.clone(), source })?;
    }
    Ok(())
}
