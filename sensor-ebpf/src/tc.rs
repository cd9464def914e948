//! TC egress: the same flow accounting for packets leaving the interface. Never drops.

use aya_ebpf::{
    bindings::TC_ACT_OK,
    helpers::{bpf_ktime_get_ns, generated::bpf_skb_load_bytes},
    macros::classifier,
    programs::TcContext,
};
use sensor_common::{counters::Counter, event::hook};

use crate::{
    counters::bump,
    flow::{Hook, LoadBytes, account},
    maps::{config, scratch},
    parse::{parse_l3, parse_l4},
};

struct SkbLoader<'a>(&'a TcContext);

impl LoadBytes for SkbLoader<'_> {
    #[inline(always)]
    fn load(&self, off: u32, dst: *mut u8, len: u32) -> i64 {
        // SAFETY: `dst` has room for `len` bytes (checked by the caller against SAMPLE_MAX);
        // the helper checks `off + len` against the skb.
        unsafe { bpf_skb_load_bytes(self.0.skb.skb.cast(), off, dst.cast(), len) }
    }
}

/// TC egress entry point.
#[classifier]
pub fn sensor_tc_egress(ctx: TcContext) -> i32 {
    bump(Counter::TcPackets);
    let (start, end) = (ctx.data(), ctx.data_end());
    let Some(s) = scratch() else { return TC_ACT_OK };
    match parse_l3(start, end, &mut s.pkt).and_then(|()| parse_l4(start, end, ctx.len() as usize, &mut s.pkt)) {
        Ok(()) => {}
        Err(Counter::NonIp) => return TC_ACT_OK,
        Err(_) => {
            bump(Counter::TcParseErrors);
            return TC_ACT_OK;
        }
    }
    let cfg = config();
    // SAFETY: helper without arguments.
    let now = unsafe { bpf_ktime_get_ns() };
    // SAFETY: reading the ifindex from the skb context is a plain field load.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    account(s, Hook { id: hook::TC_EGRESS, ifindex }, now, cfg.sample_bytes, cfg.sample_packets, &SkbLoader(&ctx));
    TC_ACT_OK
}
