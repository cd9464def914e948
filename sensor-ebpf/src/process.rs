//! sched_process_exec and sched_process_exit.

use aya_ebpf::{
    EbpfContext,
    helpers::{
        bpf_ktime_get_ns,
        generated::{bpf_probe_read_kernel_str, bpf_probe_read_user},
    },
    macros::tracepoint,
    programs::TracePointContext,
};
use sensor_common::{
    counters::Counter,
    event::{ARGV_LEN, EventHeader, EventKind, ExecEvent, ExitEvent, PATH_LEN},
};

use crate::{
    counters::bump,
    maps::{PROC_EVENTS, config},
    proc_info::{current, field, task},
};

/// `sched/sched_process_exec`: `__data_loc char[] filename` at offset 8.
#[tracepoint(category = "sched", name = "sched_process_exec")]
pub fn sensor_exec(ctx: TracePointContext) -> u32 {
    let cfg = config();
    let Some(mut entry) = PROC_EVENTS.reserve::<ExecEvent>(0) else {
        bump(Counter::RingFailProc);
        return 0;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` is a reserved ring-buffer record of `size_of::<ExecEvent>()` bytes, owned
    // by this program until submit; fields are written in place (too big for the stack).
    unsafe {
        (*p).header = EventHeader::new::<ExecEvent>(EventKind::Exec, bpf_ktime_get_ns());
        (*p).proc = current(&cfg.task);
        (*p)._pad = 0;
    }
    // SAFETY: reading the tracepoint record's data_loc word through the probe-read helper.
    let loc: u32 = unsafe { ctx.read_at::<u32>(8) }.unwrap_or(0);
    let src = (ctx.as_ptr() as usize + (loc & 0xffff) as usize) as *const u8;
    // SAFETY: `filename` has PATH_LEN bytes; the helper bounds the copy and NUL-terminates.
    let n = unsafe {
        bpf_probe_read_kernel_str(core::ptr::addr_of_mut!((*p).filename).cast(), PATH_LEN as u32, src.cast())
    };
    let filename_len = if n > 0 { (n - 1) as u16 } else { 0 };
    let argv_len = read_argv(&cfg.task, p);
    // SAFETY: as above, the record is ours until submit.
    unsafe {
        (*p).filename_len = filename_len;
        (*p).argv_len = argv_len;
    }
    entry.submit(0);
    bump(Counter::ProcEvents);
    0
}

/// Copies the first bytes of the new image's argument vector (`mm->arg_start..arg_end`).
#[inline(always)]
fn read_argv(o: &sensor_common::config::TaskOffsets, p: *mut ExecEvent) -> u16 {
    let Some(mm) = field::<*const u8>(task(), o.mm) else { return 0 };
    let start = field::<u64>(mm, o.arg_start).unwrap_or(0);
    let end = field::<u64>(mm, o.arg_end).unwrap_or(0);
    if start == 0 {
        return 0;
    }
    if end <= start {
        return 0;
    }
    let mut len = end - start;
    if len > ARGV_LEN as u64 {
        len = ARGV_LEN as u64;
    }
    // Written so the verifier sees 1 <= len <= ARGV_LEN (a power of two); len >= 1 here.
    let len = (core::hint::black_box((len as u32) - 1) & (ARGV_LEN as u32 - 1)) + 1;
    // SAFETY: `argv` has ARGV_LEN bytes and `len` <= ARGV_LEN; the helper validates `start`.
    let rc = unsafe { bpf_probe_read_user(core::ptr::addr_of_mut!((*p).argv).cast(), len, start as *const _) };
    if rc == 0 { len as u16 } else { 0 }
}

/// `sched/sched_process_exit`, reported for thread-group leaders only.
#[tracepoint(category = "sched", name = "sched_process_exit")]
pub fn sensor_exit(_ctx: TracePointContext) -> u32 {
    let cfg = config();
    let info = current(&cfg.task);
    if info.pid != info.tgid {
        return 0;
    }
    let Some(mut entry) = PROC_EVENTS.reserve::<ExitEvent>(0) else {
        bump(Counter::RingFailProc);
        return 0;
    };
    entry.write(ExitEvent {
        // SAFETY: helper without arguments.
        header: EventHeader::new::<ExitEvent>(EventKind::Exit, unsafe { bpf_ktime_get_ns() }),
        proc: info,
        exit_code: field::<i32>(task(), cfg.task.exit_code).unwrap_or(0),
        _pad: 0,
    });
    entry.submit(0);
    bump(Counter::ProcEvents);
    0
}
