//! Dropping capabilities once the kernel side is loaded and attached: the bounding set, the
//! permitted, effective and inheritable sets and the ambient set are cut down to what the
//! running sensor still uses, and `no_new_privs` is set so no exec can regain anything.
//!
//! Capabilities are per thread: call [`drop_to`] before any thread is spawned, and every
//! thread started afterwards inherits the reduced sets.

use std::io;

/// A capability number (`linux/capability.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cap(pub u32);

/// `CAP_KILL`: signal processes of other users (the kill action).
pub const CAP_KILL: Cap = Cap(5);
/// `CAP_SETPCAP`: needed to shrink the bounding set (dropped by doing so).
pub const CAP_SETPCAP: Cap = Cap(8);
/// `CAP_NET_ADMIN`: XDP and TC attachment (re-attaching a detached program).
pub const CAP_NET_ADMIN: Cap = Cap(12);
/// `CAP_SYS_ADMIN`.
pub const CAP_SYS_ADMIN: Cap = Cap(21);
/// `CAP_PERFMON`: perf events for tracepoint attachment.
pub const CAP_PERFMON: Cap = Cap(38);
/// `CAP_BPF`: every bpf() call (block map writes, counters, pinned maps).
pub const CAP_BPF: Cap = Cap(39);

/// What the running sensor keeps, with why (docs/THREAT_MODEL.md lists the same).
pub const KEPT: [(Cap, &str, &str); 4] = [
    (CAP_BPF, "CAP_BPF", "block map writes and expiry, counters, pinned maps, program checks"),
    (CAP_PERFMON, "CAP_PERFMON", "tracepoint perf events (re-attaching a detached program)"),
    (CAP_NET_ADMIN, "CAP_NET_ADMIN", "XDP and TC attachment (re-attaching a detached program)"),
    (CAP_KILL, "CAP_KILL", "the kill action on processes of other users"),
];

/// The bit mask of `caps`.
pub fn mask(caps: &[Cap]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << c.0))
}

/// The highest capability this kernel knows.
fn last_cap() -> u32 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(40)
}

#[repr(C)]
struct Header {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct Data {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const VERSION_3: u32 = 0x2008_0522;

/// Cuts this thread's capabilities (and so those of threads it starts later) to `keep`:
/// bounding set, ambient set, then permitted, effective and inheritable; sets
/// `no_new_privs`. Returns the mask kept.
pub fn drop_to(keep: &[Cap]) -> io::Result<u64> {
    let keep_mask = mask(keep);
    for c in 0..=last_cap() {
        if keep_mask & (1 << c) != 0 {
            continue;
        }
        // SAFETY: prctl with integer arguments only; no memory is passed.
        let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, libc::c_ulong::from(c), 0, 0, 0) };
        // EINVAL: the kernel does not know this capability; anything else is an error.
        if rc != 0 && io::Error::last_os_error().raw_os_error() != Some(libc::EINVAL) {
            return Err(io::Error::last_os_error());
        }
    }
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let mut hdr = Header { version: VERSION_3, pid: 0 };
    let lo = keep_mask as u32;
    let hi = (keep_mask >> 32) as u32;
    let data =
        [Data { effective: lo, permitted: lo, inheritable: 0 }, Data { effective: hi, permitted: hi, inheritable: 0 }];
    // SAFETY: capset reads one header and two data structs (version 3), both live and of the
    // kernel's layout (`repr(C)`, three u32 each).
    let rc = unsafe { libc::syscall(libc::SYS_capset, std::ptr::from_mut(&mut hdr), data.as_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1 as libc::c_ulong, 0, 0, 0) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(keep_mask)
}

/// This thread's effective capability mask.
pub fn effective() -> io::Result<u64> {
    let mut hdr = Header { version: VERSION_3, pid: 0 };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes two data structs (version 3) into `data`, which is live and of
    // the kernel's layout.
    let rc = unsafe { libc::syscall(libc::SYS_capget, std::ptr::from_mut(&mut hdr), data.as_mut_ptr()) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(u64::from(data[0].effective) | (u64::from(data[1].effective) << 32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_are_bit_per_capability() {
        assert_eq!(mask(&[CAP_KILL, CAP_BPF]), (1 << 5) | (1 << 39));
        assert_eq!(mask(&KEPT.map(|k| k.0)).count_ones(), 4);
    }

    #[test]
    fn a_thread_that_drops_keeps_only_what_it_asked_for() {
        // In a thread of its own: capabilities are per thread, the test runner keeps its.
        let got = std::thread::spawn(|| {
            if effective().unwrap_or(0) & (1 << CAP_SYS_ADMIN.0) == 0 {
                return None; // not root: nothing to drop
            }
            let kept = drop_to(&[CAP_KILL]).expect("drop");
            let child = std::thread::spawn(effective).join().expect("child");
            Some((kept, effective().expect("capget"), child.expect("capget")))
        })
        .join()
        .expect("thread");
        if let Some((kept, now, child)) = got {
            assert_eq!((now, child), (kept, kept), "the thread and the threads it starts keep CAP_KILL only");
        }
    }
}
