//! The one place with `unsafe` in user space: reading plain-old-data structs out of byte
//! slices, and the few libc calls the sensor makes directly (process control and socket
//! credentials in `proc_ctl`).

use std::{ffi::CString, io, time::Duration};

pub mod bpf_query;
pub mod caps;
pub mod netlink_xdp;
mod proc_ctl;
pub use proc_ctl::{peer_cred, pidfd_open, pidfd_send_signal, umask};

/// Copies a `T` out of the front of `bytes`, or `None` if `bytes` is too short.
///
/// `T: aya::Pod` guarantees every bit pattern is a valid `T` (integers and byte arrays only),
/// so an unaligned copy of enough bytes always yields a valid value: no transmute of tags.
pub fn read_pod<T: aya::Pod>(bytes: &[u8]) -> Option<T> {
    if bytes.len() < std::mem::size_of::<T>() {
        return None;
    }
    // SAFETY: the length check above guarantees `size_of::<T>()` readable bytes; `read_unaligned`
    // has no alignment requirement; `T: Pod` makes any bit pattern a valid value.
    Some(unsafe { std::ptr::read_unaligned(bytes.as_ptr().cast::<T>()) })
}

/// The bytes of a plain-old-data value (for writing records in tests and benches).
pub fn pod_bytes<T: aya::Pod>(v: &T) -> &[u8] {
    // SAFETY: `v` is a live reference to `size_of::<T>()` bytes; `T: Pod` has no
    // uninitialised padding (padding is explicit fields), so every byte is initialised.
    unsafe { std::slice::from_raw_parts((v as *const T).cast::<u8>(), std::mem::size_of::<T>()) }
}

/// CLOCK_MONOTONIC in nanoseconds: the clock of `bpf_ktime_get_ns` and of block expiries.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_MONOTONIC is always supported.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// The effective user id.
pub fn euid() -> u32 {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() }
}

/// The interface index of `name`, or `None` if no such interface exists in this namespace.
pub fn if_index(name: &str) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: `c` is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    (idx != 0).then_some(idx)
}

/// Waits until `fd` is readable or `timeout` passes. Returns whether it is readable.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout: Duration) -> io::Result<bool> {
    let mut pfd = libc::pollfd { fd, events: libc::POLLIN, revents: 0 };
    let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
    // SAFETY: `pfd` is one valid pollfd and the count passed is 1.
    let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
    match rc {
        n if n > 0 => Ok(true),
        0 => Ok(false),
        _ => {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted { Ok(false) } else { Err(e) }
        }
    }
}

/// The filesystem magic of the mount holding `path`, or `None` if it cannot be statted.
pub fn fs_magic(path: &str) -> Option<i64> {
    let c = CString::new(path).ok()?;
    // SAFETY: statfs is plain data; zeroed is a valid initial value.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is NUL-terminated and `st` is writable.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    (rc == 0).then_some(st.f_type as i64)
}

/// Mounts a pseudo filesystem (`bpf` or `tracefs`) at `target`.
pub fn mount_pseudo(fstype: &str, target: &str) -> io::Result<()> {
    let src = CString::new(fstype).map_err(io::Error::other)?;
    let tgt = CString::new(target).map_err(io::Error::other)?;
    // SAFETY: all pointers are valid NUL-terminated strings; data is null (no options).
    let rc = unsafe { libc::mount(src.as_ptr(), tgt.as_ptr(), src.as_ptr(), 0, std::ptr::null()) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Filesystem magic numbers (from linux/magic.h).
pub mod magic {
    /// bpffs.
    pub const BPF_FS: i64 = 0xcafe_4a11;
    /// tracefs.
    pub const TRACEFS: i64 = 0x7472_6163;
}

/// Number of possible CPUs (the length of per-CPU map values).
pub fn possible_cpus() -> usize {
    aya::util::nr_cpus().unwrap_or(1)
}

/// Moves the calling thread into the network namespace at `path` (e.g. `/run/netns/NAME`).
/// Only this thread changes namespace; tests run a dedicated thread per namespace.
pub fn enter_netns(path: &std::path::Path) -> io::Result<()> {
    let f = std::fs::File::open(path)?;
    use std::os::fd::AsRawFd;
    // SAFETY: `f` is an open namespace file descriptor for the duration of the call.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Sends `signal` to `pid`.
pub fn kill(pid: u32, signal: i32) -> io::Result<()> {
    // SAFETY: kill has no memory preconditions.
    let rc = unsafe { libc::kill(pid as libc::pid_t, signal) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_pod_refuses_short_input() {
        assert_eq!(read_pod::<u64>(&[1, 2, 3]), None);
        assert_eq!(read_pod::<u32>(&[1, 0, 0, 0, 9]), Some(1));
    }

    #[test]
    fn monotonic_clock_advances() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(b >= a && a > 0);
    }

    #[test]
    fn loopback_has_an_index_and_nonsense_does_not() {
        assert!(if_index("lo").is_some());
        assert_eq!(if_index("no-such-if0"), None);
    }
}
