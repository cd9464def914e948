//! Knobs user space writes into the one-slot `CONFIG` array before attaching.

/// Byte offsets inside kernel structs, resolved by user space from the kernel's BTF
/// (`/sys/kernel/btf/vmlinux`) because the programs are built without CO-RE relocations.
/// An offset of 0 means "not resolved": the field it feeds is reported as 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskOffsets {
    /// `task_struct.real_parent` (pointer).
    pub real_parent: u32,
    /// `task_struct.tgid` (pid_t).
    pub tgid: u32,
    /// `task_struct.mm` (pointer).
    pub mm: u32,
    /// `task_struct.exit_code` (int).
    pub exit_code: u32,
    /// `mm_struct.arg_start` (unsigned long).
    pub arg_start: u32,
    /// `mm_struct.arg_end` (unsigned long).
    pub arg_end: u32,
}
const _: () = assert!(core::mem::size_of::<TaskOffsets>() == 24);

/// The value of `CONFIG[0]`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SensorConfig {
    /// Bytes of L4 payload copied per sample (N), at most [`crate::event::SAMPLE_MAX`].
    pub sample_bytes: u32,
    /// Payload-carrying packets sampled per direction of each flow (K); 0 disables samples.
    pub sample_packets: u32,
    /// The sensor's own tgid: its bpf() calls are not reported.
    pub sensor_tgid: u32,
    /// Non-zero while some host is isolated: the XDP program then also looks up packets'
    /// destinations in the block lists ([`crate::block::BLOCK_MODE_ISOLATE`]).
    pub isolating: u32,
    /// Struct offsets for ppid, exit code and argv.
    pub task: TaskOffsets,
}
const _: () = assert!(core::mem::size_of::<SensorConfig>() == 40);
