//! Syscall tracepoints: connect, accept, openat of watched paths, set*id, ptrace, module
//! loads and bpf() by other processes.
//!
//! Layout of a `syscalls/sys_enter_*` record (and of `raw_syscalls/sys_enter`): 8 bytes of
//! common header, the syscall number at offset 8, then six 8-byte arguments from offset 16.
//! `sys_exit_*` records hold the return value at offset 16.

use aya_ebpf::{
    helpers::{bpf_get_current_pid_tgid, bpf_ktime_get_ns, bpf_probe_read_user, generated::bpf_probe_read_user_str},
    macros::tracepoint,
    maps::lpm_trie::Key,
    programs::TracePointContext,
};
use sensor_common::{
    counters::Counter,
    event::{EventHeader, EventKind, OpenEvent, PATH_LEN, SockEvent, SyscallEvent},
    maps::PATH_KEY_LEN,
};

use crate::{
    counters::bump,
    maps::{ACCEPT_ARGS, PROC_EVENTS, WATCHED_PATHS, config},
    proc_info::current,
};

const AF_INET: u16 = 2;
const AF_INET6: u16 = 10;
/// x86_64 syscall numbers of init_module and finit_module.
const NR_INIT_MODULE: u64 = 175;
const NR_FINIT_MODULE: u64 = 313;

#[inline(always)]
fn arg(ctx: &TracePointContext, n: usize) -> u64 {
    // SAFETY: probe-read of the tracepoint record at a fixed argument offset.
    unsafe { ctx.read_at::<u64>(16 + 8 * n) }.unwrap_or(0)
}

#[inline(always)]
fn syscall_nr(ctx: &TracePointContext) -> u64 {
    // SAFETY: probe-read of the tracepoint record's syscall number.
    unsafe { ctx.read_at::<u64>(8) }.unwrap_or(u64::MAX) & 0xffff_ffff
}

#[inline(always)]
fn now() -> u64 {
    // SAFETY: helper without arguments.
    unsafe { bpf_ktime_get_ns() }
}

/// Reads a user `sockaddr` into (family, port, address).
#[inline(always)]
fn read_sockaddr(ptr: u64) -> (u16, u16, [u8; 16]) {
    let mut addr = [0u8; 16];
    if ptr == 0 {
        return (0, 0, addr);
    }
    // SAFETY: bpf_probe_read_user validates user pointers; faults return an error.
    let head = unsafe { bpf_probe_read_user(ptr as *const [u8; 4]) }.unwrap_or([0; 4]);
    let family = u16::from_ne_bytes([head[0], head[1]]);
    let port = u16::from_be_bytes([head[2], head[3]]);
    match family {
        AF_INET => {
            // SAFETY: as above; sin_addr follows sin_port.
            if let Ok(a) = unsafe { bpf_probe_read_user((ptr + 4) as *const [u8; 4]) } {
                addr[..4].copy_from_slice(&a);
            }
        }
        AF_INET6 => {
            // SAFETY: as above; sin6_addr is at offset 8 after sin6_flowinfo.
            if let Ok(a) = unsafe { bpf_probe_read_user((ptr + 8) as *const [u8; 16]) } {
                addr = a;
            }
        }
        _ => {}
    }
    (family, port, addr)
}

#[inline(always)]
fn emit_sock(kind: EventKind, fd: i32, family: u16, port: u16, addr: [u8; 16]) {
    let cfg = config();
    let Some(mut entry) = PROC_EVENTS.reserve::<SockEvent>(0) else {
        bump(Counter::RingFailProc);
        return;
    };
    entry.write(SockEvent {
        header: EventHeader::new::<SockEvent>(kind, now()),
        proc: current(&cfg.task),
        family,
        port,
        fd,
        addr,
    });
    entry.submit(0);
    bump(Counter::ProcEvents);
}

/// `syscalls/sys_enter_connect(fd, uservaddr, addrlen)`: IPv4 and IPv6 attempts.
#[tracepoint(category = "syscalls", name = "sys_enter_connect")]
pub fn sensor_connect(ctx: TracePointContext) -> u32 {
    let (family, port, addr) = read_sockaddr(arg(&ctx, 1));
    if family == AF_INET || family == AF_INET6 {
        emit_sock(EventKind::Connect, arg(&ctx, 0) as i32, family, port, addr);
    }
    0
}

/// `syscalls/sys_enter_accept{,4}(fd, upeer_sockaddr, upeer_addrlen, ...)`.
#[tracepoint(category = "syscalls", name = "sys_enter_accept4")]
pub fn sensor_accept_enter(ctx: TracePointContext) -> u32 {
    let _ = ACCEPT_ARGS.insert(&bpf_get_current_pid_tgid(), &arg(&ctx, 1), 0);
    0
}

/// `syscalls/sys_exit_accept{,4}`: return value is the new fd.
#[tracepoint(category = "syscalls", name = "sys_exit_accept4")]
pub fn sensor_accept_exit(ctx: TracePointContext) -> u32 {
    let id = bpf_get_current_pid_tgid();
    // SAFETY: the map value is a plain u64 copied out before removal.
    let Some(ptr) = (unsafe { ACCEPT_ARGS.get(&id) }).copied() else { return 0 };
    let _ = ACCEPT_ARGS.remove(&id);
    let ret = arg(&ctx, 0) as i64;
    if ret < 0 {
        return 0;
    }
    let (family, port, addr) = read_sockaddr(ptr);
    if family == AF_INET || family == AF_INET6 || family == 0 {
        emit_sock(EventKind::Accept, ret as i32, family, port, addr);
    }
    0
}

/// `syscalls/sys_enter_openat(dfd, filename, flags, mode)`, for watched prefixes only.
#[tracepoint(category = "syscalls", name = "sys_enter_openat")]
pub fn sensor_openat(ctx: TracePointContext) -> u32 {
    let filename = arg(&ctx, 1) as *const u8;
    let mut key: Key<[u8; PATH_KEY_LEN]> = Key::new((PATH_KEY_LEN * 8) as u32, [0u8; PATH_KEY_LEN]);
    // SAFETY: the helper copies at most PATH_KEY_LEN bytes into the key's data and validates
    // the user pointer. The key is packed, so its data is addressed by raw pointer.
    let n = unsafe {
        bpf_probe_read_user_str(core::ptr::addr_of_mut!(key.data).cast(), PATH_KEY_LEN as u32, filename.cast())
    };
    if n <= 0 || WATCHED_PATHS.get(&key).is_none() {
        return 0;
    }
    let cfg = config();
    let Some(mut entry) = PROC_EVENTS.reserve::<OpenEvent>(0) else {
        bump(Counter::RingFailProc);
        return 0;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` is a reserved record owned by this program until submit; the string
    // helper bounds the copy to PATH_LEN.
    unsafe {
        (*p).header = EventHeader::new::<OpenEvent>(EventKind::Open, now());
        (*p).proc = current(&cfg.task);
        (*p).flags = arg(&ctx, 2) as i32;
        (*p)._pad = 0;
        let m =
            bpf_probe_read_user_str(core::ptr::addr_of_mut!((*p).filename).cast(), PATH_LEN as u32, filename.cast());
        (*p).filename_len = if m > 0 { (m - 1) as u16 } else { 0 };
    }
    entry.submit(0);
    bump(Counter::ProcEvents);
    0
}

#[inline(always)]
fn emit_syscall(kind: EventKind, ctx: &TracePointContext, nr: u64) {
    let cfg = config();
    let Some(mut entry) = PROC_EVENTS.reserve::<SyscallEvent>(0) else {
        bump(Counter::RingFailProc);
        return;
    };
    entry.write(SyscallEvent {
        header: EventHeader::new::<SyscallEvent>(kind, now()),
        proc: current(&cfg.task),
        nr: nr as u32,
        _pad: 0,
        args: [arg(ctx, 0), arg(ctx, 1), arg(ctx, 2), arg(ctx, 3)],
    });
    entry.submit(0);
    bump(Counter::ProcEvents);
}

/// `syscalls/sys_enter_set{uid,gid,reuid,regid,resuid,resgid}`.
#[tracepoint(category = "syscalls", name = "sys_enter_setuid")]
pub fn sensor_setid(ctx: TracePointContext) -> u32 {
    emit_syscall(EventKind::SetId, &ctx, syscall_nr(&ctx));
    0
}

/// `syscalls/sys_enter_ptrace(request, pid, addr, data)`.
#[tracepoint(category = "syscalls", name = "sys_enter_ptrace")]
pub fn sensor_ptrace(ctx: TracePointContext) -> u32 {
    emit_syscall(EventKind::Ptrace, &ctx, syscall_nr(&ctx));
    0
}

/// `syscalls/sys_enter_{init,finit}_module`, or `raw_syscalls/sys_enter` (same layout).
#[tracepoint(category = "raw_syscalls", name = "sys_enter")]
pub fn sensor_module(ctx: TracePointContext) -> u32 {
    let nr = syscall_nr(&ctx);
    if nr == NR_INIT_MODULE || nr == NR_FINIT_MODULE {
        emit_syscall(EventKind::ModuleLoad, &ctx, nr);
    }
    0
}

/// `syscalls/sys_enter_bpf(cmd, uattr, size)` by any process but the sensor.
#[tracepoint(category = "syscalls", name = "sys_enter_bpf")]
pub fn sensor_bpf(ctx: TracePointContext) -> u32 {
    let tgid = (bpf_get_current_pid_tgid() >> 32) as u32;
    if tgid == config().sensor_tgid {
        return 0;
    }
    emit_syscall(EventKind::BpfCall, &ctx, syscall_nr(&ctx));
    0
}
