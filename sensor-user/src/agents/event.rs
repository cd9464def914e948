//! The normalised events every agent sees: packets, finished flows, DNS messages, TLS/HTTP
//! names, process and syscall events from the kernel, and authentication outcomes from logs.
//! Events are owned `Copy` values with fixed-size inline text, so they can be handed to a
//! shard thread without allocating.

use std::net::IpAddr;

/// Bytes of text kept inline (paths, DNS names, user names).
pub const TEXT_MAX: usize = 256;

/// A short byte string stored inline.
#[derive(Clone, Copy)]
pub struct Text {
    len: u16,
    buf: [u8; TEXT_MAX],
}

impl Default for Text {
    fn default() -> Self {
        Self { len: 0, buf: [0; TEXT_MAX] }
    }
}

impl Text {
    /// `bytes`, cut at [`TEXT_MAX`]; `truncated` says whether anything was cut.
    pub fn new(bytes: &[u8]) -> Self {
        let mut t = Self::default();
        let n = bytes.len().min(TEXT_MAX);
        t.buf[..n].copy_from_slice(&bytes[..n]);
        t.len = n as u16;
        t
    }

    /// The bytes held.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }

    /// Lossy text for findings and logs.
    pub fn lossy(&self) -> String {
        String::from_utf8_lossy(self.as_bytes()).into_owned()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl std::fmt::Debug for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl PartialEq<&str> for Text {
    fn eq(&self, other: &&str) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

/// IP protocol numbers agents look at.
pub mod ip_proto {
    /// ICMP.
    pub const ICMP: u8 = 1;
    /// TCP.
    pub const TCP: u8 = 6;
    /// UDP.
    pub const UDP: u8 = 17;
    /// ICMPv6.
    pub const ICMPV6: u8 = 58;
}

/// TCP flag bits.
pub mod tcp {
    /// FIN.
    pub const FIN: u8 = 0x01;
    /// SYN.
    pub const SYN: u8 = 0x02;
    /// RST.
    pub const RST: u8 = 0x04;
    /// PSH.
    pub const PSH: u8 = 0x08;
    /// ACK.
    pub const ACK: u8 = 0x10;
    /// URG.
    pub const URG: u8 = 0x20;
}

/// One packet as the flow table saw it.
#[derive(Clone, Copy, Debug)]
pub struct PacketMeta {
    /// Capture (replay) or wall-clock (live) time, ns.
    pub ts_ns: u64,
    /// The flow's id (as in eve `flow_id`).
    pub flow_id: u64,
    /// Sender of this packet.
    pub src: IpAddr,
    /// Receiver of this packet.
    pub dst: IpAddr,
    /// Sender port (0 without ports).
    pub sport: u16,
    /// Receiver port.
    pub dport: u16,
    /// IP protocol.
    pub proto: u8,
    /// TCP flags of this packet (0 for other protocols).
    pub tcp_flags: u8,
    /// ICMP type, when ICMP.
    pub icmp_type: Option<u8>,
    /// Bytes on the wire.
    pub wire_len: u32,
    /// L4 payload bytes.
    pub payload_len: u32,
    /// Whether the sender is the flow's client.
    pub to_server: bool,
    /// Whether this packet created the flow.
    pub new_flow: bool,
}

/// A flow that ended (or was logged at its active timeout).
#[derive(Clone, Copy, Debug)]
pub struct FlowSummary {
    /// Time of the flow's last packet.
    pub ts_ns: u64,
    /// The flow's id.
    pub flow_id: u64,
    /// Initiator.
    pub client: IpAddr,
    /// Responder.
    pub server: IpAddr,
    /// Initiator port.
    pub client_port: u16,
    /// Responder port.
    pub server_port: u16,
    /// IP protocol.
    pub proto: u8,
    /// First packet time.
    pub start_ns: u64,
    /// Packets client -> server.
    pub pkts_to_server: u64,
    /// Packets server -> client.
    pub pkts_to_client: u64,
    /// Bytes client -> server.
    pub bytes_to_server: u64,
    /// Bytes server -> client.
    pub bytes_to_client: u64,
    /// Union of TCP flags sent by the client.
    pub flags_to_server: u8,
    /// Union of TCP flags sent by the server.
    pub flags_to_client: u8,
    /// Whether the TCP handshake completed.
    pub established: bool,
    /// Detected application protocol name ("http", "tls", "ssh", "" when unknown).
    pub app: &'static str,
}

/// One DNS message.
#[derive(Clone, Copy, Debug)]
pub struct DnsEvent {
    /// Time.
    pub ts_ns: u64,
    /// The flow's id.
    pub flow_id: u64,
    /// Query sender (the resolver's client).
    pub client: IpAddr,
    /// Resolver.
    pub server: IpAddr,
    /// Whether this is a response.
    pub response: bool,
    /// First question's name (wire labels joined with dots, raw bytes).
    pub qname: Text,
    /// First question's type.
    pub qtype: u16,
    /// Response code.
    pub rcode: u8,
    /// Answer records.
    pub answers: u16,
    /// Message size in bytes.
    pub size: u32,
}

/// A server name seen in TLS SNI or an HTTP Host header.
#[derive(Clone, Copy, Debug)]
pub struct NameEvent {
    /// Time.
    pub ts_ns: u64,
    /// The flow's id.
    pub flow_id: u64,
    /// Client.
    pub client: IpAddr,
    /// Server.
    pub server: IpAddr,
    /// "tls" or "http".
    pub source: &'static str,
    /// The name.
    pub name: Text,
}

/// Who did it: the process behind a process or syscall event.
#[derive(Clone, Copy, Debug, Default)]
pub struct Proc {
    /// Process id.
    pub pid: u32,
    /// Parent process id (0 when unknown).
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// cgroup v2 id.
    pub cgroup_id: u64,
    /// Task name.
    pub comm: [u8; 16],
}

impl Proc {
    /// `comm` up to its NUL.
    pub fn comm(&self) -> &[u8] {
        let n = self.comm.iter().position(|b| *b == 0).unwrap_or(self.comm.len());
        &self.comm[..n]
    }
}

/// A process executed a new image.
#[derive(Clone, Copy, Debug)]
pub struct ExecInfo {
    /// Time.
    pub ts_ns: u64,
    /// The process after exec.
    pub proc: Proc,
    /// Executable path.
    pub filename: Text,
    /// Argument vector head, NUL-separated.
    pub argv: Text,
}

/// connect() or accept() of a socket.
#[derive(Clone, Copy, Debug)]
pub struct SockInfo {
    /// Time.
    pub ts_ns: u64,
    /// The calling process.
    pub proc: Proc,
    /// Remote address (None for AF_UNIX or unknown).
    pub remote: Option<IpAddr>,
    /// Remote port.
    pub port: u16,
    /// Whether this was accept() (else connect()).
    pub accept: bool,
}

/// openat() of a watched path.
#[derive(Clone, Copy, Debug)]
pub struct OpenInfo {
    /// Time.
    pub ts_ns: u64,
    /// The calling process.
    pub proc: Proc,
    /// open flags.
    pub flags: i32,
    /// Path.
    pub filename: Text,
}

/// Which security-relevant syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SyscallKind {
    /// setuid/setgid family.
    SetId,
    /// ptrace.
    Ptrace,
    /// init_module/finit_module.
    ModuleLoad,
    /// bpf() by a process other than the sensor.
    Bpf,
}

/// A security-relevant syscall.
#[derive(Clone, Copy, Debug)]
pub struct SyscallInfo {
    /// Time.
    pub ts_ns: u64,
    /// The calling process.
    pub proc: Proc,
    /// Which syscall.
    pub kind: SyscallKind,
    /// Syscall number.
    pub nr: u32,
    /// First four arguments.
    pub args: [u64; 4],
}

/// Outcome of an authentication attempt read from a log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthOutcome {
    /// Wrong password, invalid user, PAM failure.
    Failure,
    /// Accepted.
    Success,
}

/// An authentication attempt from an auth log line.
#[derive(Clone, Copy, Debug)]
pub struct AuthEvent {
    /// Time the line was read (live) or stamped (files).
    pub ts_ns: u64,
    /// Outcome.
    pub outcome: AuthOutcome,
    /// Remote address, when the line names one.
    pub source: Option<IpAddr>,
    /// User name tried.
    pub user: Text,
    /// Service ("sshd", "pam", ...).
    pub service: &'static str,
}

/// Every event an agent can receive.
#[derive(Clone, Copy, Debug)]
#[allow(clippy::large_enum_variant, reason = "events are copied into preallocated queues, never boxed")]
pub enum Event {
    /// A packet.
    Packet(PacketMeta),
    /// A flow ended.
    FlowEnd(FlowSummary),
    /// A DNS message.
    Dns(DnsEvent),
    /// A TLS SNI or HTTP host.
    Name(NameEvent),
    /// A process exec.
    Exec(ExecInfo),
    /// A process exit.
    Exit {
        /// Time.
        ts_ns: u64,
        /// The process.
        proc: Proc,
    },
    /// connect()/accept().
    Sock(SockInfo),
    /// openat() of a watched path.
    Open(OpenInfo),
    /// A security-relevant syscall.
    Syscall(SyscallInfo),
    /// An authentication attempt from a log.
    Auth(AuthEvent),
}

/// Bit per event kind, for agents' interest masks.
pub mod kind {
    /// Packets.
    pub const PACKET: u16 = 1 << 0;
    /// Flow ends.
    pub const FLOW_END: u16 = 1 << 1;
    /// DNS.
    pub const DNS: u16 = 1 << 2;
    /// TLS/HTTP names.
    pub const NAME: u16 = 1 << 3;
    /// Exec.
    pub const EXEC: u16 = 1 << 4;
    /// Exit.
    pub const EXIT: u16 = 1 << 5;
    /// connect/accept.
    pub const SOCK: u16 = 1 << 6;
    /// openat.
    pub const OPEN: u16 = 1 << 7;
    /// set*id, ptrace, module load, bpf.
    pub const SYSCALL: u16 = 1 << 8;
    /// Auth log lines.
    pub const AUTH: u16 = 1 << 9;
    /// Every process-side kind.
    pub const PROCESS: u16 = EXEC | EXIT | SOCK | OPEN | SYSCALL;
}

impl Event {
    /// The event's time.
    pub fn ts_ns(&self) -> u64 {
        match self {
            Self::Packet(p) => p.ts_ns,
            Self::FlowEnd(f) => f.ts_ns,
            Self::Dns(d) => d.ts_ns,
            Self::Name(n) => n.ts_ns,
            Self::Exec(e) => e.ts_ns,
            Self::Exit { ts_ns, .. } => *ts_ns,
            Self::Sock(s) => s.ts_ns,
            Self::Open(o) => o.ts_ns,
            Self::Syscall(s) => s.ts_ns,
            Self::Auth(a) => a.ts_ns,
        }
    }

    /// The event's [`kind`] bit.
    pub fn kind(&self) -> u16 {
        match self {
            Self::Packet(_) => kind::PACKET,
            Self::FlowEnd(_) => kind::FLOW_END,
            Self::Dns(_) => kind::DNS,
            Self::Name(_) => kind::NAME,
            Self::Exec(_) => kind::EXEC,
            Self::Exit { .. } => kind::EXIT,
            Self::Sock(_) => kind::SOCK,
            Self::Open(_) => kind::OPEN,
            Self::Syscall(_) => kind::SYSCALL,
            Self::Auth(_) => kind::AUTH,
        }
    }
}

/// A stable 64-bit key for an address (for sharding and tables).
pub fn addr_key(a: &IpAddr) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x5e17_50a6).build_hasher();
    match a {
        IpAddr::V4(v) => h.write_u32(u32::from(*v)),
        IpAddr::V6(v) => h.write_u128(u128::from(*v)),
    }
    h.finish()
}

/// A stable 64-bit key for any integer (pids, ...).
pub fn int_key(v: u64) -> u64 {
    // splitmix64 finaliser: cheap and well mixed.
    let mut z = v.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A stable 64-bit key for bytes (domain names, ...).
pub fn bytes_key(b: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0x5e17_50a6).build_hasher();
    h.write(b);
    h.finish()
}
