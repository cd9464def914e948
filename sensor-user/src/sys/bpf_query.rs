//! `BPF_PROG_QUERY` for tcx attachments: which programs an interface runs on TC ingress or
//! egress, by id. aya's own query also opens each program by id, which needs
//! CAP_SYS_ADMIN; the sensor has dropped it, and the ids are all the self-check needs.

use std::io;

const BPF_PROG_QUERY: libc::c_long = 16;
const BPF_TCX_INGRESS: u32 = 46;
const BPF_TCX_EGRESS: u32 = 47;

/// The `query` member of `union bpf_attr` (kernel 6.6 layout).
#[repr(C)]
#[derive(Default)]
struct Query {
    target_ifindex: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
    _pad: u32,
    prog_attach_flags: u64,
    link_ids: u64,
    link_attach_flags: u64,
    revision: u64,
}

/// Ids of the programs attached to `ifindex` on tcx egress (or ingress), first to last.
/// `EINVAL` on kernels without tcx.
pub fn tcx_prog_ids(ifindex: u32, egress: bool) -> io::Result<Vec<u32>> {
    let mut ids = [0u32; 64];
    let mut q = Query {
        target_ifindex: ifindex,
        attach_type: if egress { BPF_TCX_EGRESS } else { BPF_TCX_INGRESS },
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..Query::default()
    };
    // SAFETY: BPF_PROG_QUERY reads `q` (a live, zero-padded `bpf_attr.query` of the size
    // passed) and writes at most `prog_cnt` u32s to `prog_ids`, which points at `ids`
    // (64 entries, live for the call), then updates `prog_cnt` and `revision` in `q`.
    let rc = unsafe {
        libc::syscall(libc::SYS_bpf, BPF_PROG_QUERY, std::ptr::from_mut(&mut q), std::mem::size_of::<Query>() as u32)
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    let n = (q.prog_cnt as usize).min(ids.len());
    Ok(ids[..n].to_vec())
}
