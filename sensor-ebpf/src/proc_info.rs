//! Who is running: pid, tgid, ppid, uid, gid, cgroup, comm of the current task, and the
//! reads through `task_struct` that need offsets resolved from BTF by user space.

use aya_ebpf::helpers::{
    bpf_get_current_cgroup_id, bpf_get_current_comm, bpf_get_current_pid_tgid, bpf_get_current_task,
    bpf_get_current_uid_gid, generated::bpf_probe_read_kernel,
};
use sensor_common::{config::TaskOffsets, event::ProcInfo};

/// The current task's identity.
#[inline(always)]
pub fn current(offsets: &TaskOffsets) -> ProcInfo {
    let pid_tgid = bpf_get_current_pid_tgid();
    let uid_gid = bpf_get_current_uid_gid();
    ProcInfo {
        pid: pid_tgid as u32,
        tgid: (pid_tgid >> 32) as u32,
        ppid: parent_tgid(offsets),
        uid: uid_gid as u32,
        gid: (uid_gid >> 32) as u32,
        _pad: 0,
        // SAFETY: helper without arguments.
        cgroup_id: unsafe { bpf_get_current_cgroup_id() },
        comm: bpf_get_current_comm().unwrap_or([0; 16]),
    }
}

/// The current `task_struct` as a byte pointer.
#[inline(always)]
pub fn task() -> *const u8 {
    // SAFETY: helper without arguments; the result is only used through probe reads.
    unsafe { bpf_get_current_task() as *const u8 }
}

/// Reads a `T` at byte offset `off` of kernel object `base`, or `None` when the offset is
/// unresolved (0) or the read faults.
#[inline(always)]
pub fn field<T: Copy>(base: *const u8, off: u32) -> Option<T> {
    if off == 0 || base.is_null() {
        return None;
    }
    // Zero-initialised (not MaybeUninit) so that no path leaves the value undefined, which
    // LLVM may otherwise turn into a read of an uninitialised register the verifier rejects.
    // SAFETY: `T` is only instantiated with integers and raw pointers, for which all-zero
    // is a valid value.
    let mut v: T = unsafe { core::mem::zeroed() };
    // SAFETY: bpf_probe_read_kernel validates the source address (a bad offset yields an
    // error, never a fault) and writes at most `size_of::<T>()` bytes into `v`.
    let rc = unsafe {
        bpf_probe_read_kernel(
            (&mut v as *mut T).cast(),
            core::mem::size_of::<T>() as u32,
            base.add(off as usize).cast(),
        )
    };
    if rc == 0 { Some(v) } else { None }
}

#[inline(always)]
fn parent_tgid(o: &TaskOffsets) -> u32 {
    let Some(parent) = field::<*const u8>(task(), o.real_parent) else { return 0 };
    field::<i32>(parent, o.tgid).unwrap_or(0) as u32
}
