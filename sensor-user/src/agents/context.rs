//! The context every agent reads: the process tree with ancestry, address -> recent
//! findings, address -> DNS name from answers, and host -> traffic baselines. The runtime
//! feeds it from all events before the agents see them; tables are fixed-size
//! [`SeqTable`]s, so memory is bounded and readers never take a lock.

use std::net::{IpAddr, Ipv6Addr};

use super::{
    event::{Event, ExecInfo, Proc, addr_key, int_key},
    seqtable::{SeqTable, pack_bytes, unpack_bytes},
};

/// Words of a process entry.
const PROC_WORDS: usize = 15;
/// Bytes of executable path kept per process.
pub const EXE_KEEP: usize = 64;
/// Bytes of DNS name kept per address.
pub const NAME_KEEP: usize = 64;
/// Deepest ancestry walk.
pub const MAX_ANCESTRY: usize = 16;

/// Process flags kept in the tree.
pub mod proc_flag {
    /// The process accepted a connection (a network-facing service).
    pub const ACCEPTED: u64 = 1 << 0;
    /// The process exited.
    pub const EXITED: u64 = 1 << 1;
    /// Seeded from /proc at start rather than seen executing.
    pub const SEEDED: u64 = 1 << 2;
    /// The process made an outbound connect() to an IP address.
    pub const CONNECTED: u64 = 1 << 3;
}

/// A process in the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcNode {
    /// Process id.
    pub pid: u32,
    /// Parent id.
    pub ppid: u32,
    /// Real uid.
    pub uid: u32,
    /// Real gid.
    pub gid: u32,
    /// Time of the exec (or seeding).
    pub exec_ns: u64,
    /// [`proc_flag`] bits.
    pub flags: u64,
    /// Time of the last outbound connect (0 = none).
    pub connect_ns: u64,
    /// Task name.
    pub comm: [u8; 16],
    exe_len: u8,
    exe: [u8; EXE_KEEP],
}

impl Default for ProcNode {
    fn default() -> Self {
        Self {
            pid: 0,
            ppid: 0,
            uid: 0,
            gid: 0,
            exec_ns: 0,
            flags: 0,
            connect_ns: 0,
            comm: [0; 16],
            exe_len: 0,
            exe: [0; EXE_KEEP],
        }
    }
}

impl ProcNode {
    /// A node for `proc` executing `exe` at `ts_ns`.
    pub fn new(proc: &Proc, exe: &[u8], ts_ns: u64) -> Self {
        let mut n = Self {
            pid: proc.pid,
            ppid: proc.ppid,
            uid: proc.uid,
            gid: proc.gid,
            exec_ns: ts_ns,
            comm: proc.comm,
            ..Self::default()
        };
        n.set_exe(exe);
        n
    }

    /// Replaces the executable path. Paths longer than [`EXE_KEEP`] bytes keep their last
    /// bytes: the file name matters more than the leading directories.
    pub fn set_exe(&mut self, exe: &[u8]) {
        let tail = &exe[exe.len().saturating_sub(EXE_KEEP)..];
        self.exe = [0; EXE_KEEP];
        self.exe[..tail.len()].copy_from_slice(tail);
        self.exe_len = tail.len() as u8;
    }

    /// The executable path (its last [`EXE_KEEP`] bytes when longer).
    pub fn exe(&self) -> &[u8] {
        &self.exe[..usize::from(self.exe_len)]
    }

    /// The last path component of the executable, or `comm` when no path is known.
    pub fn exe_name(&self) -> &[u8] {
        let e = self.exe();
        if e.is_empty() {
            let n = self.comm.iter().position(|b| *b == 0).unwrap_or(16);
            return &self.comm[..n];
        }
        e.rsplit(|b| *b == b'/').next().unwrap_or(e)
    }

    fn pack(&self) -> [u64; PROC_WORDS] {
        let mut w = [0u64; PROC_WORDS];
        w[0] = u64::from(self.pid) | u64::from(self.ppid) << 32;
        w[1] = u64::from(self.uid) | u64::from(self.gid) << 32;
        w[2] = self.exec_ns;
        w[3] = self.flags | u64::from(self.exe_len) << 56;
        w[4] = self.connect_ns;
        let c: [u64; 2] = pack_bytes(&self.comm);
        w[5..7].copy_from_slice(&c);
        let e: [u64; 8] = pack_bytes(self.exe());
        w[7..15].copy_from_slice(&e);
        w
    }

    fn unpack(w: &[u64; PROC_WORDS]) -> Self {
        let mut n = Self {
            pid: w[0] as u32,
            ppid: (w[0] >> 32) as u32,
            uid: w[1] as u32,
            gid: (w[1] >> 32) as u32,
            exec_ns: w[2],
            flags: w[3] & ((1 << 56) - 1),
            connect_ns: w[4],
            ..Self::default()
        };
        unpack_bytes(&w[5..7], 16, &mut n.comm);
        n.exe_len = unpack_bytes(&w[7..15], (w[3] >> 56) as usize, &mut n.exe) as u8;
        n
    }
}

/// What the context remembers of findings about one address.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FindingMark {
    /// Findings naming the address.
    pub count: u32,
    /// Highest confidence among them.
    pub max_confidence: f32,
    /// Time of the latest.
    pub last_ns: u64,
}

/// Traffic baseline of one host, published by the volume agent.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HostBaseline {
    /// Smoothed egress bytes per window.
    pub egress: f64,
    /// Smoothed ingress bytes per window.
    pub ingress: f64,
    /// Windows observed.
    pub windows: u64,
}

fn addr_words(a: &IpAddr) -> [u64; 2] {
    let v6 = match a {
        IpAddr::V4(v) => v.to_ipv6_mapped(),
        IpAddr::V6(v) => *v,
    };
    let b = u128::from(v6);
    [(b >> 64) as u64, b as u64]
}

fn words_addr(w0: u64, w1: u64) -> IpAddr {
    let v6 = Ipv6Addr::from(u128::from(w0) << 64 | u128::from(w1));
    match v6.to_ipv4_mapped() {
        Some(v4) => IpAddr::V4(v4),
        None => IpAddr::V6(v6),
    }
}

/// Sizes of the context tables.
#[derive(Clone, Copy, Debug)]
pub struct ContextSizes {
    /// Processes.
    pub procs: usize,
    /// Addresses with names.
    pub names: usize,
    /// Addresses with findings.
    pub findings: usize,
    /// Hosts with baselines.
    pub baselines: usize,
}

impl Default for ContextSizes {
    fn default() -> Self {
        Self { procs: 32_768, names: 65_536, findings: 16_384, baselines: 16_384 }
    }
}

/// The shared context.
#[derive(Debug)]
pub struct Context {
    procs: SeqTable<PROC_WORDS>,
    names: SeqTable<11>,
    findings: SeqTable<4>,
    baselines: SeqTable<5>,
}

impl Default for Context {
    fn default() -> Self {
        Self::new(ContextSizes::default())
    }
}

impl Context {
    /// An empty context with the given table sizes.
    pub fn new(s: ContextSizes) -> Self {
        Self {
            procs: SeqTable::new(s.procs),
            names: SeqTable::new(s.names),
            findings: SeqTable::new(s.findings),
            baselines: SeqTable::new(s.baselines),
        }
    }

    /// Feeds one event (process tree updates); called by the runtime before dispatch.
    pub fn observe(&self, ev: &Event) {
        match ev {
            Event::Exec(e) => self.record_exec(e),
            Event::Exit { ts_ns, proc } => {
                self.update_proc(proc, *ts_ns, |n| n.flags |= proc_flag::EXITED);
            }
            Event::Sock(s) if s.accept => self.update_proc(&s.proc, s.ts_ns, |n| n.flags |= proc_flag::ACCEPTED),
            Event::Sock(s) if s.remote.is_some() => self.update_proc(&s.proc, s.ts_ns, |n| {
                n.flags |= proc_flag::CONNECTED;
                n.connect_ns = s.ts_ns;
            }),
            _ => {}
        }
    }

    /// Records an exec: the process now runs `e.filename`. A connect made by the same
    /// process before the exec is kept (a reverse shell connects, then execs a shell).
    pub fn record_exec(&self, e: &ExecInfo) {
        let mut node = ProcNode::new(&e.proc, e.filename.as_bytes(), e.ts_ns);
        self.procs.upsert(int_key(u64::from(node.pid)), node.exec_ns, |prev| {
            if let Some(w) = prev {
                let old = ProcNode::unpack(&w);
                if old.pid == node.pid && old.flags & proc_flag::CONNECTED != 0 {
                    node.flags |= proc_flag::CONNECTED;
                    node.connect_ns = old.connect_ns;
                }
            }
            node.pack()
        });
    }

    /// Inserts or replaces a process node.
    pub fn insert_proc(&self, node: &ProcNode) {
        let w = node.pack();
        self.procs.upsert(int_key(u64::from(node.pid)), node.exec_ns, |_| w);
    }

    fn update_proc(&self, proc: &Proc, ts_ns: u64, f: impl FnOnce(&mut ProcNode)) {
        self.procs.upsert(int_key(u64::from(proc.pid)), ts_ns, |prev| {
            let mut n = match prev {
                Some(w) => ProcNode::unpack(&w),
                // A process we never saw exec: start from what the event says.
                None => ProcNode::new(proc, b"", ts_ns),
            };
            f(&mut n);
            n.pack()
        });
    }

    /// The process `pid`, if known.
    pub fn process(&self, pid: u32) -> Option<ProcNode> {
        let n = ProcNode::unpack(&self.procs.get(int_key(u64::from(pid)))?);
        (n.pid == pid).then_some(n)
    }

    /// Fills `out` with the ancestors of `pid` (parent first); returns how many.
    pub fn ancestry(&self, pid: u32, out: &mut [ProcNode; MAX_ANCESTRY]) -> usize {
        let mut n = 0;
        let mut cur = pid;
        while n < MAX_ANCESTRY {
            let Some(node) = self.process(cur) else { break };
            let parent = node.ppid;
            if parent == 0 || parent == cur {
                break;
            }
            let Some(p) = self.process(parent) else { break };
            out[n] = p;
            n += 1;
            cur = parent;
        }
        n
    }

    /// Remembers that DNS answered `name` for `addr`.
    pub fn record_dns_answer(&self, addr: &IpAddr, name: &[u8], ts_ns: u64) {
        let a = addr_words(addr);
        let k = name.len().min(NAME_KEEP);
        let nb: [u64; 8] = pack_bytes(&name[..k]);
        let mut w = [0u64; 11];
        w[0] = a[0];
        w[1] = a[1];
        w[2] = k as u64;
        w[3..11].copy_from_slice(&nb);
        self.names.upsert(addr_key(addr), ts_ns, |_| w);
    }

    /// The name DNS last answered for `addr` (cut at [`NAME_KEEP`] bytes) into `out`.
    pub fn name_of(&self, addr: &IpAddr, out: &mut [u8; NAME_KEEP]) -> Option<usize> {
        let w = self.names.get(addr_key(addr))?;
        if words_addr(w[0], w[1]) != *addr {
            return None;
        }
        Some(unpack_bytes(&w[3..11], w[2] as usize, out))
    }

    /// Remembers a finding about `addr`.
    pub fn record_finding(&self, addr: &IpAddr, confidence: f32, ts_ns: u64) {
        let a = addr_words(addr);
        self.findings.upsert(addr_key(addr), ts_ns, |prev| {
            let (count, maxc) = match prev {
                Some(w) if words_addr(w[0], w[1]) == *addr => (w[2] as u32, f32::from_bits((w[2] >> 32) as u32)),
                _ => (0, 0.0),
            };
            let maxc = maxc.max(confidence);
            [a[0], a[1], u64::from(count.saturating_add(1)) | u64::from(maxc.to_bits()) << 32, ts_ns]
        });
    }

    /// What is known of findings about `addr`.
    pub fn findings_about(&self, addr: &IpAddr) -> Option<FindingMark> {
        let w = self.findings.get(addr_key(addr))?;
        (words_addr(w[0], w[1]) == *addr).then(|| FindingMark {
            count: w[2] as u32,
            max_confidence: f32::from_bits((w[2] >> 32) as u32),
            last_ns: w[3],
        })
    }

    /// Publishes the baseline of `host`.
    pub fn publish_baseline(&self, host: &IpAddr, b: HostBaseline, ts_ns: u64) {
        let a = addr_words(host);
        self.baselines
            .upsert(addr_key(host), ts_ns, |_| [a[0], a[1], b.egress.to_bits(), b.ingress.to_bits(), b.windows]);
    }

    /// The published baseline of `host`.
    pub fn baseline(&self, host: &IpAddr) -> Option<HostBaseline> {
        let w = self.baselines.get(addr_key(host))?;
        (words_addr(w[0], w[1]) == *host).then(|| HostBaseline {
            egress: f64::from_bits(w[2]),
            ingress: f64::from_bits(w[3]),
            windows: w[4],
        })
    }

    /// Seeds the process tree from /proc (live mode, at start), so processes started before
    /// the sensor have ancestry. Returns how many processes were read.
    pub fn seed_from_proc(&self, ts_ns: u64) -> usize {
        self.seed(&ProcSeed::read(ts_ns))
    }

    /// Seeds the process tree from a table read earlier (before capabilities were dropped:
    /// other users' `/proc/PID/exe` needs CAP_SYS_PTRACE). Returns how many processes.
    pub fn seed(&self, seed: &ProcSeed) -> usize {
        for node in &seed.0 {
            self.insert_proc(node);
        }
        seed.0.len()
    }
}

/// The process table read from /proc, to seed a [`Context`] with.
#[derive(Debug, Default)]
pub struct ProcSeed(Vec<ProcNode>);

impl ProcSeed {
    /// Reads every process of /proc, stamped `ts_ns`.
    pub fn read(ts_ns: u64) -> Self {
        let Ok(dir) = std::fs::read_dir("/proc") else { return Self::default() };
        Self(
            dir.flatten()
                .filter_map(|e| e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()))
                .filter_map(|pid| read_proc(pid, ts_ns))
                .collect(),
        )
    }
}

/// One process from /proc/PID/{stat,status,exe}.
fn read_proc(pid: u32, ts_ns: u64) -> Option<ProcNode> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // comm is in parentheses and may contain spaces: parse after the last ')'.
    let close = stat.rfind(')')?;
    let open = stat.find('(')?;
    let comm = stat.get(open + 1..close)?.as_bytes();
    let mut fields = stat.get(close + 2..)?.split(' ');
    let _state = fields.next()?;
    let ppid: u32 = fields.next()?.parse().ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let id_of = |key: &str| {
        status.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| v.split_whitespace().next()?.parse::<u32>().ok())
    };
    let mut c = [0u8; 16];
    let k = comm.len().min(15);
    c[..k].copy_from_slice(&comm[..k]);
    let proc =
        Proc { pid, ppid, uid: id_of("Uid:").unwrap_or(0), gid: id_of("Gid:").unwrap_or(0), cgroup_id: 0, comm: c };
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    let exe = exe.as_ref().map(|p| p.as_os_str().as_encoded_bytes()).unwrap_or(b"");
    let mut node = ProcNode::new(&proc, exe, ts_ns);
    node.flags |= proc_flag::SEEDED;
    Some(node)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::event::Text;

    fn exec(pid: u32, ppid: u32, exe: &str, ts: u64) -> Event {
        let mut comm = [0u8; 16];
        let name = exe.rsplit('/').next().unwrap_or(exe).as_bytes();
        comm[..name.len().min(15)].copy_from_slice(&name[..name.len().min(15)]);
        Event::Exec(ExecInfo {
            ts_ns: ts,
            proc: Proc { pid, ppid, uid: 1000, gid: 1000, cgroup_id: 0, comm },
            filename: Text::new(exe.as_bytes()),
            argv: Text::default(),
        })
    }

    #[test]
    fn ancestry_walks_from_the_parent_up() {
        let cx = Context::default();
        cx.observe(&exec(1, 0, "/sbin/init", 1));
        cx.observe(&exec(100, 1, "/usr/sbin/nginx", 2));
        cx.observe(&exec(200, 100, "/bin/sh", 3));
        cx.observe(&exec(300, 200, "/usr/bin/id", 4));
        let mut out = [ProcNode::default(); MAX_ANCESTRY];
        let n = cx.ancestry(300, &mut out);
        let names: Vec<&[u8]> = out[..n].iter().map(|p| p.exe_name()).collect();
        assert_eq!(names, vec![&b"sh"[..], b"nginx", b"init"]);
    }

    #[test]
    fn long_paths_keep_their_file_name_and_exec_keeps_an_earlier_connect() {
        let cx = Context::default();
        let long = format!("/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/lib/rustlib/bin/{}", "rustc");
        cx.observe(&exec(10, 1, &long, 1));
        assert_eq!(cx.process(10).expect("known").exe_name(), b"rustc");
        let p = Proc { pid: 10, ..Proc::default() };
        cx.observe(&Event::Sock(crate::agents::event::SockInfo {
            ts_ns: 2,
            proc: p,
            remote: Some("10.0.0.1".parse().expect("addr")),
            port: 4444,
            accept: false,
        }));
        cx.observe(&exec(10, 1, "/bin/bash", 3));
        let n = cx.process(10).expect("known");
        assert_eq!((n.exe_name(), n.connect_ns), (&b"bash"[..], 2));
    }

    #[test]
    fn accept_and_connect_mark_the_process() {
        let cx = Context::default();
        cx.observe(&exec(100, 1, "/usr/sbin/nginx", 2));
        let p = Proc { pid: 100, ..Proc::default() };
        cx.observe(&Event::Sock(crate::agents::event::SockInfo {
            ts_ns: 5,
            proc: p,
            remote: Some("10.0.0.1".parse().expect("addr")),
            port: 40000,
            accept: true,
        }));
        let n = cx.process(100).expect("known");
        assert_ne!(n.flags & proc_flag::ACCEPTED, 0);
        assert_eq!(n.exe(), b"/usr/sbin/nginx");
    }

    #[test]
    fn dns_names_findings_and_baselines_are_kept_per_address() {
        let cx = Context::default();
        let a: IpAddr = "192.0.2.7".parse().expect("addr");
        let b: IpAddr = "2001:db8::7".parse().expect("addr");
        cx.record_dns_answer(&a, b"example.org", 1);
        let mut buf = [0u8; NAME_KEEP];
        let n = cx.name_of(&a, &mut buf).expect("name");
        assert_eq!(&buf[..n], b"example.org");
        assert!(cx.name_of(&b, &mut buf).is_none());
        cx.record_finding(&b, 0.4, 1);
        cx.record_finding(&b, 0.9, 2);
        let m = cx.findings_about(&b).expect("mark");
        assert_eq!((m.count, m.max_confidence, m.last_ns), (2, 0.9, 2));
        cx.publish_baseline(&a, HostBaseline { egress: 10.0, ingress: 5.0, windows: 3 }, 1);
        assert_eq!(cx.baseline(&a).expect("baseline").windows, 3);
    }

    #[test]
    fn seeding_from_proc_finds_this_process() {
        let cx = Context::default();
        assert!(cx.seed_from_proc(1) > 0);
        let me = cx.process(std::process::id()).expect("this process is seeded");
        assert_ne!(me.flags & proc_flag::SEEDED, 0);
        assert!(!me.exe().is_empty());
    }
}
