//! Kernel process and syscall events -> agent [`Event`]s. Kernel times are monotonic; the
//! caller passes the offset to wall-clock time so that agent time matches eve records.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sensor_common::event::{ProcInfo, SockEvent, SyscallEvent};

use super::event::{Event, ExecInfo, OpenInfo, Proc, SockInfo, SyscallInfo, SyscallKind, Text};
use crate::event::Event as KernelEvent;

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;

fn proc_of(p: &ProcInfo) -> Proc {
    Proc { pid: p.tgid, ppid: p.ppid, uid: p.uid, gid: p.gid, cgroup_id: p.cgroup_id, comm: p.comm }
}

fn sock(s: &SockEvent, accept: bool, offset_ns: u64) -> Event {
    let remote = match s.family {
        AF_INET => Some(IpAddr::V4(Ipv4Addr::new(s.addr[0], s.addr[1], s.addr[2], s.addr[3]))),
        AF_INET6 => Some(IpAddr::V6(Ipv6Addr::from(s.addr))),
        _ => None,
    };
    Event::Sock(SockInfo { ts_ns: s.header.ts_ns + offset_ns, proc: proc_of(&s.proc), remote, port: s.port, accept })
}

fn syscall(s: &SyscallEvent, kind: SyscallKind, offset_ns: u64) -> Event {
    Event::Syscall(SyscallInfo {
        ts_ns: s.header.ts_ns + offset_ns,
        proc: proc_of(&s.proc),
        kind,
        nr: s.nr,
        args: s.args,
    })
}

/// The agent event for a kernel process or syscall event (None for network events, which
/// reach the agents through the packet pipeline).
pub fn from_kernel(ev: &KernelEvent, offset_ns: u64) -> Option<Event> {
    Some(match ev {
        KernelEvent::Exec(e) => {
            let f = usize::from(e.filename_len).min(e.filename.len());
            let a = usize::from(e.argv_len).min(e.argv.len());
            Event::Exec(ExecInfo {
                ts_ns: e.header.ts_ns + offset_ns,
                proc: proc_of(&e.proc),
                filename: Text::new(&e.filename[..f]),
                argv: Text::new(&e.argv[..a]),
            })
        }
        KernelEvent::Exit(e) => Event::Exit { ts_ns: e.header.ts_ns + offset_ns, proc: proc_of(&e.proc) },
        KernelEvent::Connect(s) => sock(s, false, offset_ns),
        KernelEvent::Accept(s) => sock(s, true, offset_ns),
        KernelEvent::Open(o) => {
            let f = usize::from(o.filename_len).min(o.filename.len());
            Event::Open(OpenInfo {
                ts_ns: o.header.ts_ns + offset_ns,
                proc: proc_of(&o.proc),
                flags: o.flags,
                filename: Text::new(&o.filename[..f]),
            })
        }
        KernelEvent::SetId(s) => syscall(s, SyscallKind::SetId, offset_ns),
        KernelEvent::Ptrace(s) => syscall(s, SyscallKind::Ptrace, offset_ns),
        KernelEvent::ModuleLoad(s) => syscall(s, SyscallKind::ModuleLoad, offset_ns),
        KernelEvent::BpfCall(s) => syscall(s, SyscallKind::Bpf, offset_ns),
        KernelEvent::FlowStart(_) | KernelEvent::FlowEnd(_) | KernelEvent::PayloadSample(_) => return None,
    })
}

#[cfg(test)]
mod tests {
    use sensor_common::event::{ARGV_LEN, EventHeader, EventKind, ExecEvent, PATH_LEN};

    use super::*;

    #[test]
    fn exec_events_keep_path_argv_and_the_process_id_not_the_thread_id() {
        let mut e = ExecEvent {
            header: EventHeader::new::<ExecEvent>(EventKind::Exec, 10),
            proc: ProcInfo { pid: 7, tgid: 5, ppid: 1, uid: 1000, ..ProcInfo::default() },
            filename_len: 8,
            argv_len: 3,
            _pad: 0,
            filename: [0; PATH_LEN],
            argv: [0; ARGV_LEN],
        };
        e.filename[..8].copy_from_slice(b"/tmp/x.y");
        e.argv[..3].copy_from_slice(b"x\0y");
        match from_kernel(&KernelEvent::Exec(e), 100) {
            Some(Event::Exec(x)) => {
                assert_eq!(x.ts_ns, 110);
                assert_eq!(x.proc.pid, 5);
                assert_eq!(x.filename.as_bytes(), b"/tmp/x.y");
                assert_eq!(x.argv.as_bytes(), b"x\0y");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn lengths_beyond_the_buffer_are_clamped() {
        let e = ExecEvent {
            header: EventHeader::new::<ExecEvent>(EventKind::Exec, 0),
            proc: ProcInfo::default(),
            filename_len: u16::MAX,
            argv_len: u16::MAX,
            _pad: 0,
            filename: [b'a'; PATH_LEN],
            argv: [b'b'; ARGV_LEN],
        };
        assert!(
            matches!(from_kernel(&KernelEvent::Exec(e), 0), Some(Event::Exec(x)) if x.filename.as_bytes().len() == PATH_LEN)
        );
    }

    #[test]
    fn connect_addresses_decode_by_family() {
        let mut s = SockEvent { family: AF_INET, port: 4444, ..SockEvent::default() };
        s.addr[..4].copy_from_slice(&[10, 1, 2, 3]);
        match from_kernel(&KernelEvent::Connect(s), 0) {
            Some(Event::Sock(x)) => {
                assert_eq!(x.remote, Some("10.1.2.3".parse().expect("addr")));
                assert!(!x.accept);
            }
            other => panic!("unexpected {other:?}"),
        }
        let u = SockEvent { family: 1, ..SockEvent::default() };
        assert!(
            matches!(from_kernel(&KernelEvent::Accept(u), 0), Some(Event::Sock(x)) if x.remote.is_none() && x.accept)
        );
    }
}
