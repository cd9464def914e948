//! Reference programs for the benchmarks: a bare XDP_PASS and a bare XDP_DROP, run by the
//! same frame generator as `sensor_xdp` so its cost can be given as a ratio. The sensor never
//! attaches them.

use aya_ebpf::{bindings::xdp_action, macros::xdp, programs::XdpContext};

/// Passes every frame.
#[xdp]
pub fn baseline_xdp_pass(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_PASS
}

/// Drops every frame.
#[xdp]
pub fn baseline_xdp_drop(_ctx: XdpContext) -> u32 {
    xdp_action::XDP_DROP
}
