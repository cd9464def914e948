//! XDP ingress: parse, drop sources in the block lists (unless expired) and traffic of
//! isolated hosts (but for management addresses), account flows.

use aya_ebpf::{
    bindings::xdp_action,
    helpers::{bpf_ktime_get_ns, generated::bpf_xdp_load_bytes},
    macros::xdp,
    maps::lpm_trie::Key,
    programs::XdpContext,
};
use sensor_common::{
    block::{BLOCK_MODE_ALLOW, BLOCK_MODE_ISOLATE, BLOCK_MODE_WATCH, BlockEntry, block_applies},
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
    let mut src_allowed = false;
    if let Some(entry) = lookup(&s.pkt, &s.pkt.key.saddr) {
        // Permanent entries apply without reading the clock.
        // SAFETY: helper without arguments.
        if entry.expires_ns == 0 || block_applies(entry.expires_ns, unsafe { bpf_ktime_get_ns() }) {
            match entry.mode {
                BLOCK_MODE_WATCH => {
                    bump(Counter::WatchHits);
                    return pass_and_account(ctx, s);
                }
                BLOCK_MODE_ALLOW => src_allowed = true,
                BLOCK_MODE_ISOLATE => {
                    if !allowed(&s.pkt, &s.pkt.key.daddr) {
                        return drop(&s.pkt, entry.reason);
                    }
                }
                _ => return drop(&s.pkt, entry.reason),
            }
        } else {
            bump(Counter::BlockExpired);
        }
    }
    if !src_allowed && config().isolating != 0 {
        if let Some(entry) = lookup(&s.pkt, &s.pkt.key.daddr) {
            // SAFETY: helper without arguments.
            if entry.mode == BLOCK_MODE_ISOLATE && block_applies(entry.expires_ns, unsafe { bpf_ktime_get_ns() }) {
                return drop(&s.pkt, entry.reason);
            }
        }
    }
    pass_and_account(ctx, s)
}

/// Counts a drop by family and reason.
#[inline(always)]
fn drop(p: &Packet, reason: u16) -> u32 {
    bump(if p.key.family == family::V4 { Counter::DropBlockedV4 } else { Counter::DropBlockedV6 });
    bump_slot(drop_reason_slot(reason));
    xdp_action::XDP_DROP
}

/// Whether `addr` holds a live allow (management) entry.
#[inline(always)]
fn allowed(p: &Packet, addr: &[u8; 16]) -> bool {
    match lookup(p, addr) {
        // SAFETY: helper without arguments.
        Some(e) => e.mode == BLOCK_MODE_ALLOW && block_applies(e.expires_ns, unsafe { bpf_ktime_get_ns() }),
        None => false,
    }
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

/// The block-list entry covering `addr` (the packet's source or destination), expired or not.
#[inline(always)]
fn lookup(p: &Packet, addr: &[u8; 16]) -> Option<BlockEntry> {
    if p.key.family == family::V4 {
        let a = [addr[0], addr[1], addr[2], addr[3]];
        BLOCK_V4.get(Key::new(32, a)).copied()
    } else {
        BLOCK_V6.get(Key::new(128, *addr)).copied()
    }
}
