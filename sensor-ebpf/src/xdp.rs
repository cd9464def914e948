//! XDP ingress: parse, drop sources in the block lists (unless expired), account flows.

use aya_ebpf::{
    bindings::xdp_action,
    helpers::{bpf_ktime_get_ns, generated::bpf_xdp_load_bytes},
    macros::xdp,
    maps::lpm_trie::Key,
    programs::XdpContext,
};
use sensor_common::{
    block::{BLOCK_MODE_WATCH, BlockEntry, block_applies},
    counters::{Counter, drop_reason_slot},
    event::hook,
    flow::family,
};

use crate::{
    counters::{bump, bump_slot},
    flow::{Hook, LoadBytes, account},
    maps::{BLOCK_V4, BLOCK_V6, config, scratch},
    parse::{Packet, parse_l3, parse_l4},
};

struct XdpLoader<'a>(&'a XdpContext);

impl LoadBytes for XdpLoader<'_> {
    #[inline(always)]
    fn load(&self, off: u32, dst: *mut u8, len: u32) -> i64 {
        // SAFETY: `dst` has room for `len` bytes (checked by the caller against SAMPLE_MAX);
        // the helper checks `off + len` against the frame.
        unsafe { bpf_xdp_load_bytes(self.0.ctx, off, dst.cast(), len) }
    }
}

/// XDP entry point.
#[xdp]
pub fn sensor_xdp(ctx: XdpContext) -> u32 {
    let action = try_sensor_xdp(&ctx);
    // Drops are counted by family and reason on the drop path; the total is derived in
    // user space, which keeps one counter update off the drop path.
    if action == xdp_action::XDP_PASS {
        bump(Counter::XdpPassed);
    }
    action
}

#[inline(always)]
fn try_sensor_xdp(ctx: &XdpContext) -> u32 {
    let (start, end) = (ctx.data(), ctx.data_end());
    let Some(s) = scratch() else { return xdp_action::XDP_PASS };
    if let Err(counter) = parse_l3(start, end, &mut s.pkt) {
        bump(counter);
        return xdp_action::XDP_PASS;
    }
    if let Some(entry) = blocked(&s.pkt) {
        // Permanent entries drop without reading the clock.
        // SAFETY: helper without arguments.
        if entry.expires_ns == 0 || block_applies(entry.expires_ns, unsafe { bpf_ktime_get_ns() }) {
            if entry.mode == BLOCK_MODE_WATCH {
                bump(Counter::WatchHits);
                return pass_and_account(ctx, s);
            }
            bump(if s.pkt.key.family == family::V4 { Counter::DropBlockedV4 } else { Counter::DropBlockedV6 });
            bump_slot(drop_reason_slot(entry.reason));
            return xdp_action::XDP_DROP;
        }
        bump(Counter::BlockExpired);
    }
    pass_and_account(ctx, s)
}

/// The pass path: flow accounting and samples.
#[inline(always)]
fn pass_and_account(ctx: &XdpContext, s: &mut crate::maps::Scratch) -> u32 {
    let (start, end) = (ctx.data(), ctx.data_end());
    if s.pkt.later_fragment != 0 {
        bump(Counter::Fragments);
    }
    // SAFETY: helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    if let Err(counter) = parse_l4(start, end, end - start, &mut s.pkt) {
        bump(counter);
        return xdp_action::XDP_PASS;
    }
    let cfg = config();
    // SAFETY: reading the ingress ifindex from the context is a plain field load.
    let ifindex = unsafe { (*ctx.ctx).ingress_ifindex };
    account(s, Hook { id: hook::XDP_INGRESS, ifindex }, now, cfg.sample_bytes, cfg.sample_packets, &XdpLoader(ctx));
    xdp_action::XDP_PASS
}

/// The block entry for the packet's source, if any (expired or not).
#[inline(always)]
fn blocked(p: &Packet) -> Option<BlockEntry> {
    if p.key.family == family::V4 {
        let a = [p.key.saddr[0], p.key.saddr[1], p.key.saddr[2], p.key.saddr[3]];
        BLOCK_V4.get(Key::new(32, a)).copied()
    } else {
        BLOCK_V6.get(Key::new(128, p.key.saddr)).copied()
    }
}
