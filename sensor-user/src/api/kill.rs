//! Killing a process safely against pid reuse: open a pidfd, check the start time, then
//! signal through the pidfd. The syscalls are in `crate::sys`; this file has no `unsafe`.

use std::io;
use std::os::fd::AsFd;

/// What [`kill_process`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KillOutcome {
    /// SIGKILL was delivered to the process.
    Killed,
    /// The process no longer exists (exited and reaped); nothing was signalled.
    AlreadyGone,
    /// The pid now belongs to a different process (its start time differs); nothing was
    /// signalled.
    Reused {
        /// The start time (clock ticks since boot) of the process now holding the pid.
        found_start: u64,
    },
}

/// The start time of `pid` in clock ticks since boot (field 22 of `/proc/PID/stat`).
///
/// # Errors
///
/// `NotFound` when the process does not exist; `InvalidData` when the file cannot be parsed.
pub fn start_ticks(pid: u32) -> io::Result<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    parse_start_ticks(&stat)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, format!("unparsable /proc/{pid}/stat")))
}

/// Field 22 (`starttime`) of a `/proc/PID/stat` line. Parsing starts after the LAST `')'`
/// because field 2, `(comm)`, may itself contain spaces and parentheses.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // after_comm holds fields 3 (state) onwards, so field 22 is the 20th (index 19).
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// Kills `pid` with SIGKILL safely against pid reuse: opens a pidfd first, THEN checks that
/// the process's start time equals `expected_start` (when given), then signals through the
/// pidfd, so the signal can only reach the process that was checked.
///
/// # Errors
///
/// Errors other than "no such process" from the syscalls or `/proc` (e.g. `EPERM`).
pub fn kill_process(pid: u32, expected_start: Option<u64>) -> io::Result<KillOutcome> {
    let pidfd = match crate::sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => return Ok(KillOutcome::AlreadyGone),
        Err(e) => return Err(e),
    };
    if let Some(expected) = expected_start {
        // The pidfd pins the process we opened: if it exits and the pid is reused now, this
        // reads the newcomer's start time and we refuse, never signalling the wrong process.
        let found = match start_ticks(pid) {
            Ok(found) => found,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(KillOutcome::AlreadyGone),
            Err(e) => return Err(e),
        };
        if found != expected {
            return Ok(KillOutcome::Reused { found_start: found });
        }
    }
    match crate::sys::pidfd_send_signal(pidfd.as_fd(), libc::SIGKILL) {
        Ok(()) => Ok(KillOutcome::Killed),
        Err(e) if e.raw_os_error() == Some(libc::ESRCH) => Ok(KillOutcome::AlreadyGone),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};

    fn sleeper() -> Child {
        Command::new("sleep").arg("60").spawn().expect("spawn sleep")
    }

    #[test]
    fn start_ticks_parser_reads_field_22_after_the_last_paren() {
        let stat = "4242 (a) b (c)) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 987654 1000 50";
        assert_eq!(parse_start_ticks(stat), Some(987_654));
        let plain = "1 (systemd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 17 1 2";
        assert_eq!(parse_start_ticks(plain), Some(17));
    }

    #[test]
    fn start_ticks_parser_refuses_truncated_or_garbled_lines() {
        assert_eq!(parse_start_ticks("4242 (x) S 1 2 3"), None);
        assert_eq!(parse_start_ticks("no paren at all"), None);
        assert_eq!(parse_start_ticks("1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 notanumber"), None);
    }

    #[test]
    fn start_ticks_of_a_child_is_not_before_ours() {
        let mut child = sleeper();
        let ours = start_ticks(std::process::id()).expect("own start");
        let theirs = start_ticks(child.id()).expect("child start");
        child.kill().expect("kill");
        child.wait().expect("wait");
        assert!(theirs >= ours, "child started at {theirs}, we at {ours}");
    }

    #[test]
    fn kill_process_kills_a_child_with_sigkill() {
        let mut child = sleeper();
        let start = start_ticks(child.id()).expect("start");
        assert_eq!(kill_process(child.id(), Some(start)).expect("kill"), KillOutcome::Killed);
        let status = child.wait().expect("wait");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn kill_process_with_a_wrong_start_time_leaves_the_process_alive() {
        let mut child = sleeper();
        let start = start_ticks(child.id()).expect("start");
        let outcome = kill_process(child.id(), Some(start + 1)).expect("kill");
        assert_eq!(outcome, KillOutcome::Reused { found_start: start });
        std::thread::sleep(std::time::Duration::from_millis(50));
        assert!(child.try_wait().expect("try_wait").is_none(), "the child must still run");
        child.kill().expect("kill");
        child.wait().expect("wait");
    }

    #[test]
    fn kill_process_of_a_reaped_pid_is_already_gone() {
        let mut child = Command::new("true").spawn().expect("spawn true");
        let pid = child.id();
        child.wait().expect("wait");
        assert_eq!(kill_process(pid, None).expect("kill"), KillOutcome::AlreadyGone);
    }
}
