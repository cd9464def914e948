//! Program names (the Rust function names in `sensor-ebpf`, which aya uses as program names)
//! and the hooks each attaches to.

/// XDP ingress: parse, block list, flow accounting, payload samples.
pub const XDP_INGRESS: &str = "sensor_xdp";
/// TC egress (clsact/TCX): flow accounting for outbound packets.
pub const TC_EGRESS: &str = "sensor_tc_egress";
/// `sched/sched_process_exec`.
pub const PROCESS_EXEC: &str = "sensor_exec";
/// `sched/sched_process_exit`.
pub const PROCESS_EXIT: &str = "sensor_exit";
/// `syscalls/sys_enter_connect`.
pub const CONNECT: &str = "sensor_connect";
/// `syscalls/sys_enter_accept` and `sys_enter_accept4`: remember the sockaddr pointer.
pub const ACCEPT_ENTER: &str = "sensor_accept_enter";
/// `syscalls/sys_exit_accept` and `sys_exit_accept4`: read the peer address.
pub const ACCEPT_EXIT: &str = "sensor_accept_exit";
/// `syscalls/sys_enter_openat`, filtered by the watched prefixes.
pub const OPENAT: &str = "sensor_openat";
/// `syscalls/sys_enter_set{uid,gid,reuid,regid,resuid,resgid}`.
pub const SETID: &str = "sensor_setid";
/// `syscalls/sys_enter_ptrace`.
pub const PTRACE: &str = "sensor_ptrace";
/// `syscalls/sys_enter_{init,finit}_module`, or `raw_syscalls/sys_enter` filtered by number
/// on kernels built without module support (same context layout).
pub const MODULE_LOAD: &str = "sensor_module";
/// `syscalls/sys_enter_bpf`, for processes other than the sensor.
pub const BPF_CALL: &str = "sensor_bpf";

/// Tracepoint attachments: (program, category, tracepoint).
pub const TRACEPOINTS: &[(&str, &str, &str)] = &[
    (PROCESS_EXEC, "sched", "sched_process_exec"),
    (PROCESS_EXIT, "sched", "sched_process_exit"),
    (CONNECT, "syscalls", "sys_enter_connect"),
    (ACCEPT_ENTER, "syscalls", "sys_enter_accept"),
    (ACCEPT_ENTER, "syscalls", "sys_enter_accept4"),
    (ACCEPT_EXIT, "syscalls", "sys_exit_accept"),
    (ACCEPT_EXIT, "syscalls", "sys_exit_accept4"),
    (OPENAT, "syscalls", "sys_enter_openat"),
    (SETID, "syscalls", "sys_enter_setuid"),
    (SETID, "syscalls", "sys_enter_setgid"),
    (SETID, "syscalls", "sys_enter_setreuid"),
    (SETID, "syscalls", "sys_enter_setregid"),
    (SETID, "syscalls", "sys_enter_setresuid"),
    (SETID, "syscalls", "sys_enter_setresgid"),
    (PTRACE, "syscalls", "sys_enter_ptrace"),
    (BPF_CALL, "syscalls", "sys_enter_bpf"),
];

/// Module-load tracepoints; when neither exists the program goes on `raw_syscalls/sys_enter`.
pub const MODULE_TRACEPOINTS: &[(&str, &str)] =
    &[("syscalls", "sys_enter_init_module"), ("syscalls", "sys_enter_finit_module")];

/// Every program in the object, for the ELF check.
pub const ALL: [&str; 12] = [
    XDP_INGRESS,
    TC_EGRESS,
    PROCESS_EXEC,
    PROCESS_EXIT,
    CONNECT,
    ACCEPT_ENTER,
    ACCEPT_EXIT,
    OPENAT,
    SETID,
    PTRACE,
    MODULE_LOAD,
    BPF_CALL,
];

/// Benchmark reference: bare XDP_PASS (never attached by the sensor).
pub const BASELINE_XDP_PASS: &str = "baseline_xdp_pass";
/// Benchmark reference: bare XDP_DROP (never attached by the sensor).
pub const BASELINE_XDP_DROP: &str = "baseline_xdp_drop";
