//! The sensor's kernel programs: XDP ingress, TC egress and tracepoints, writing flow,
//! payload-sample, process and syscall events to ring buffers.
//!
//! Built by `cargo xtask build-ebpf` for `bpfel-unknown-none`; user space loads the object
//! at run time. Nothing here panics or allocates; every failure is a counter.
#![no_std]
#![no_main]

mod baseline;
mod counters;
mod flow;
mod maps;
mod parse;
mod proc_info;
mod process;
mod ptr;
mod syscalls;
mod tc;
mod xdp;

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // SAFETY: the verifier rejects any program that could reach a panic, so this is never
    // executed; the handler exists only because `no_std` binaries must have one.
    unsafe { core::hint::unreachable_unchecked() }
}

/// License section: GPL is required for the ring buffer and probe-read helpers.
#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
