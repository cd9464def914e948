//! Process-control and socket-credential syscalls: pidfds (open, signal), `SO_PEERCRED` and
//! the process umask. Every `unsafe` block of the control socket and of `kill_process` lives
//! here, one operation per block.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// Opens a pidfd for `pid` with `pidfd_open(2)` (`SYS_pidfd_open` through `libc::syscall`).
///
/// The descriptor refers to this very process even if `pid` is later reused, and is
/// close-on-exec.
///
/// # Errors
///
/// `ESRCH` when no such process exists (already reaped), `EINVAL` for pid 0, `ENOSYS` on
/// kernels older than 5.3.
///
/// # Minimum kernel version
///
/// 5.3.
pub fn pidfd_open(pid: u32) -> io::Result<OwnedFd> {
    let pid = libc::pid_t::try_from(pid).map_err(|_| io::Error::from_raw_os_error(libc::ESRCH))?;
    let flags: libc::c_uint = 0;
    // SAFETY: pidfd_open takes two integers and touches no user memory.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, flags) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let fd = RawFd::try_from(rc).map_err(|_| io::Error::other("pidfd_open returned an out-of-range fd"))?;
    // SAFETY: `fd` was just returned by a successful pidfd_open, is open, and is owned by
    // nobody else, so the OwnedFd becomes its only owner.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to the process behind the pidfd `fd` with `pidfd_send_signal(2)`.
///
/// # Errors
///
/// `ESRCH` when the process has already exited and been reaped, `EPERM` without the right
/// to signal it.
///
/// # Minimum kernel version
///
/// 5.1.
pub fn pidfd_send_signal(fd: BorrowedFd<'_>, signal: i32) -> io::Result<()> {
    let info: *const libc::siginfo_t = std::ptr::null();
    let flags: libc::c_uint = 0;
    // SAFETY: `fd` is a live descriptor for the duration of the call; a null siginfo is
    // allowed (the kernel then fills in a SI_USER siginfo itself) and flags must be 0.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_send_signal, fd.as_raw_fd(), signal, info, flags) };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// The credentials of the peer of the connected Unix socket `fd`, from
/// `getsockopt(SO_PEERCRED)`, as `(pid, uid, gid)` at the time the peer connected.
///
/// # Errors
///
/// `ENOTSOCK` / `ENOTCONN` when `fd` is not a connected socket.
pub fn peer_cred(fd: BorrowedFd<'_>) -> io::Result<(u32, u32, u32)> {
    let mut cred = libc::ucred { pid: 0, uid: 0, gid: 0 };
    let size = std::mem::size_of::<libc::ucred>();
    let mut len = libc::socklen_t::try_from(size).map_err(io::Error::other)?;
    let out = (&raw mut cred).cast::<libc::c_void>();
    // SAFETY: `fd` is live for the call; `out` points to a writable ucred and `len` holds its
    // exact size, so the kernel writes at most `len` bytes into it.
    let rc = unsafe { libc::getsockopt(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_PEERCRED, out, &mut len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if len as usize != size {
        return Err(io::Error::new(io::ErrorKind::InvalidData, "SO_PEERCRED returned a short ucred"));
    }
    let pid = u32::try_from(cred.pid).map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "negative peer pid"))?;
    Ok((pid, cred.uid, cred.gid))
}

/// Sets the process file-mode creation mask to `mask` (only the permission bits, 0o777, are
/// used) and returns the previous mask. The mask is process-wide: callers restore it at once.
pub fn umask(mask: u32) -> u32 {
    let mask = (mask & 0o777) as libc::mode_t;
    // SAFETY: umask takes an integer, touches no user memory and cannot fail.
    let old = unsafe { libc::umask(mask) };
    old as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn peer_cred_of_a_socketpair_is_this_process() {
        let (a, _b) = UnixStream::pair().expect("socketpair");
        let (pid, _uid, _gid) = peer_cred(a.as_fd()).expect("SO_PEERCRED");
        assert_eq!(pid, std::process::id());
    }

    #[test]
    fn peer_cred_of_a_non_socket_fails() {
        let f = std::fs::File::open("/proc/self/stat").expect("open");
        let err = peer_cred(f.as_fd()).expect_err("a file has no peer");
        assert_eq!(err.raw_os_error(), Some(libc::ENOTSOCK));
    }

    #[test]
    fn pidfd_open_of_pid_zero_is_invalid() {
        let err = pidfd_open(0).expect_err("pid 0");
        assert_eq!(err.raw_os_error(), Some(libc::EINVAL));
    }

    #[test]
    fn signal_zero_through_own_pidfd_succeeds() {
        let fd = pidfd_open(std::process::id()).expect("pidfd of self");
        pidfd_send_signal(fd.as_fd(), 0).expect("signal 0 probes liveness");
    }
}
