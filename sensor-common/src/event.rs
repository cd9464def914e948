//! Events written to the ring buffers. Every event starts with [`EventHeader`]; user space
//! reads the header, decodes `kind` with `TryFrom`, checks `size` against the record length,
//! then copies the fixed-size struct out of the ring.

/// Version written in every header; bumped on any layout change.
pub const ABI_VERSION: u16 = 1;
/// Largest payload sample (N) the kernel copies.
pub const SAMPLE_MAX: usize = 1024;
/// Bytes of path kept in exec and open events.
pub const PATH_LEN: usize = 256;
/// Bytes of the argument vector kept in exec events (NUL-separated).
pub const ARGV_LEN: usize = 256;
/// Length of a task's `comm`.
pub const COMM_LEN: usize = 16;

/// Common header of every event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EventHeader {
    /// An [`EventKind`] tag.
    pub kind: u16,
    /// [`ABI_VERSION`] of the writer.
    pub version: u16,
    /// Size in bytes of the whole event struct.
    pub size: u32,
    /// CLOCK_MONOTONIC time in ns (`bpf_ktime_get_ns`).
    pub ts_ns: u64,
}
const _: () = assert!(core::mem::size_of::<EventHeader>() == 16);

impl EventHeader {
    /// A header for an event of type `T`.
    #[inline(always)]
    pub const fn new<T>(kind: EventKind, ts_ns: u64) -> Self {
        Self { kind: kind as u16, version: ABI_VERSION, size: core::mem::size_of::<T>() as u32, ts_ns }
    }
}

/// What an event is. The discriminant is the wire tag.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// [`FlowEvent`]: first packet of a flow.
    FlowStart = 1,
    /// [`FlowEvent`]: FIN or RST seen.
    FlowEnd = 2,
    /// [`PayloadSample`].
    PayloadSample = 3,
    /// [`ExecEvent`].
    Exec = 4,
    /// [`ExitEvent`].
    Exit = 5,
    /// [`SockEvent`]: connect() attempt.
    Connect = 6,
    /// [`SockEvent`]: accepted connection.
    Accept = 7,
    /// [`OpenEvent`]: openat() of a watched path.
    Open = 8,
    /// [`SyscallEvent`]: set*id family.
    SetId = 9,
    /// [`SyscallEvent`]: ptrace.
    Ptrace = 10,
    /// [`SyscallEvent`]: init_module/finit_module.
    ModuleLoad = 11,
    /// [`SyscallEvent`]: bpf() by another process.
    BpfCall = 12,
}

/// A tag that is not an [`EventKind`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnknownKind(pub u16);

impl TryFrom<u16> for EventKind {
    type Error = UnknownKind;
    fn try_from(v: u16) -> Result<Self, UnknownKind> {
        Ok(match v {
            1 => Self::FlowStart,
            2 => Self::FlowEnd,
            3 => Self::PayloadSample,
            4 => Self::Exec,
            5 => Self::Exit,
            6 => Self::Connect,
            7 => Self::Accept,
            8 => Self::Open,
            9 => Self::SetId,
            10 => Self::Ptrace,
            11 => Self::ModuleLoad,
            12 => Self::BpfCall,
            other => return Err(UnknownKind(other)),
        })
    }
}

/// Which hook saw a packet.
pub mod hook {
    /// XDP ingress.
    pub const XDP_INGRESS: u8 = 0;
    /// TC egress.
    pub const TC_EGRESS: u8 = 1;
}

/// Flow start or end.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowEvent {
    /// Header (kind FlowStart or FlowEnd).
    pub header: EventHeader,
    /// The key in initiator order (source = initiator).
    pub key: crate::flow::FlowKey,
    /// Interface index of the hook.
    pub ifindex: u32,
    /// [`hook`] that wrote the event.
    pub hook: u8,
    /// Union of TCP flags seen.
    pub tcp_flags: u8,
    /// Explicit padding.
    pub _pad: [u8; 2],
    /// Packets by direction (to server, to client).
    pub packets: [u64; 2],
    /// Bytes by direction.
    pub bytes: [u64; 2],
    /// First packet, monotonic ns.
    pub first_ns: u64,
    /// Latest packet, monotonic ns.
    pub last_ns: u64,
}
const _: () = assert!(core::mem::size_of::<FlowEvent>() == 112);

/// The first bytes of one packet's L4 payload.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PayloadSample {
    /// Header (kind PayloadSample).
    pub header: EventHeader,
    /// The key in initiator order.
    pub key: crate::flow::FlowKey,
    /// Interface index of the hook.
    pub ifindex: u32,
    /// [`hook`] that wrote the event.
    pub hook: u8,
    /// 0 = to server (from the initiator), 1 = to client.
    pub direction: u8,
    /// Ordinal of this sample within its direction (0-based).
    pub index: u8,
    /// TCP flags of the packet.
    pub tcp_flags: u8,
    /// TCP sequence number (0 for other protocols).
    pub tcp_seq: u32,
    /// Full L4 payload length of the packet.
    pub payload_len: u32,
    /// Bytes valid in `data`.
    pub len: u16,
    /// Explicit padding.
    pub _pad: [u8; 6],
    /// Payload bytes; only `len` are meaningful.
    pub data: [u8; SAMPLE_MAX],
}
const _: () = assert!(core::mem::size_of::<PayloadSample>() == 80 + SAMPLE_MAX);

/// Who did it: the task that triggered a process or syscall event.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcInfo {
    /// Thread id (kernel pid).
    pub pid: u32,
    /// Process id (kernel tgid).
    pub tgid: u32,
    /// Parent's process id (0 when the task offsets are not resolved).
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// Task name (NUL-padded).
    pub comm: [u8; COMM_LEN],
}
const _: () = assert!(core::mem::size_of::<ProcInfo>() == 48);

/// sched_process_exec.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct ExecEvent {
    /// Header (kind Exec).
    pub header: EventHeader,
    /// The task after exec.
    pub proc: ProcInfo,
    /// Bytes valid in `filename` (without the NUL).
    pub filename_len: u16,
    /// Bytes valid in `argv`.
    pub argv_len: u16,
    /// Explicit padding.
    pub _pad: u32,
    /// Path passed to exec, as the kernel resolved it.
    pub filename: [u8; PATH_LEN],
    /// First bytes of the argument vector, NUL-separated.
    pub argv: [u8; ARGV_LEN],
}
const _: () = assert!(core::mem::size_of::<ExecEvent>() == 72 + PATH_LEN + ARGV_LEN);

/// sched_process_exit of a thread-group leader.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct ExitEvent {
    /// Header (kind Exit).
    pub header: EventHeader,
    /// The exiting task.
    pub proc: ProcInfo,
    /// `task_struct.exit_code` (wait status encoding).
    pub exit_code: i32,
    /// Explicit padding.
    pub _pad: u32,
}
const _: () = assert!(core::mem::size_of::<ExitEvent>() == 72);

/// connect() attempt or accepted connection.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SockEvent {
    /// Header (kind Connect or Accept).
    pub header: EventHeader,
    /// The calling task.
    pub proc: ProcInfo,
    /// AF_INET (2), AF_INET6 (10), AF_UNIX (1), or 0 when no address was available.
    pub family: u16,
    /// Remote port, host byte order.
    pub port: u16,
    /// Socket fd (connect) or the accepted fd (accept).
    pub fd: i32,
    /// Remote address (IPv4 in the first 4 bytes).
    pub addr: [u8; 16],
}
const _: () = assert!(core::mem::size_of::<SockEvent>() == 88);

/// openat() of a path under a watched prefix.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct OpenEvent {
    /// Header (kind Open).
    pub header: EventHeader,
    /// The calling task.
    pub proc: ProcInfo,
    /// open flags.
    pub flags: i32,
    /// Bytes valid in `filename`.
    pub filename_len: u16,
    /// Explicit padding.
    pub _pad: u16,
    /// The path as passed to openat.
    pub filename: [u8; PATH_LEN],
}
const _: () = assert!(core::mem::size_of::<OpenEvent>() == 72 + PATH_LEN);

/// A security-relevant syscall: set*id, ptrace, module load, bpf. `args` are the raw
/// syscall arguments; the kind says how to read them.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default)]
pub struct SyscallEvent {
    /// Header (kind SetId, Ptrace, ModuleLoad or BpfCall).
    pub header: EventHeader,
    /// The calling task.
    pub proc: ProcInfo,
    /// Syscall number (x86_64 numbering).
    pub nr: u32,
    /// Explicit padding.
    pub _pad: u32,
    /// The first four syscall arguments.
    pub args: [u64; 4],
}
const _: () = assert!(core::mem::size_of::<SyscallEvent>() == 104);

/// Largest event struct, for ring sizing.
pub const MAX_EVENT_SIZE: usize = core::mem::size_of::<PayloadSample>();
