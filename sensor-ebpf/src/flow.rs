//! Flow accounting shared by XDP ingress and TC egress: the `FLOWS` LRU entry per
//! conversation, flow start and end events, and payload samples of the first K
//! payload-carrying packets per direction.

use aya_ebpf::bindings::BPF_NOEXIST;
use sensor_common::{
    counters::Counter,
    event::{EventHeader, EventKind, FlowEvent, PayloadSample, SAMPLE_MAX},
    flow::{FlowKey, FlowState, direction, endpoint_side, ends_flow, opens_flow, proto},
};

use crate::{
    counters::bump,
    maps::{FLOWS, NET_EVENTS, Scratch},
    parse::Packet,
    parse::{addr_words, copy_key},
    ptr::put,
};

/// Copies packet bytes into memory the program owns (ring buffer space).
pub trait LoadBytes {
    /// Copies `len` bytes at frame offset `off` to `dst`; returns 0 on success.
    fn load(&self, off: u32, dst: *mut u8, len: u32) -> i64;
}

/// Where the packet was seen.
#[derive(Clone, Copy)]
pub struct Hook {
    /// `sensor_common::event::hook` value.
    pub id: u8,
    /// Interface index.
    pub ifindex: u32,
}

/// Accounts `pkt` to its flow and writes the events it triggers.
#[inline(always)]
pub fn account<L: LoadBytes>(s: &mut Scratch, hook: Hook, now: u64, cfg_bytes: u32, cfg_packets: u32, loader: &L) {
    let k = &s.pkt.key;
    let side = endpoint_side(addr_words(&k.saddr), addr_words(&k.daddr), k.sport, k.dport);
    copy_key(&mut s.ckey, &s.pkt.key, side != 0);
    let pkt = &s.pkt;
    let state = match FLOWS.get_ptr_mut(&s.ckey) {
        Some(st) => st,
        None => {
            init_state(&mut s.fresh, now, side);
            // Another CPU may insert it first: then the lookup below finds its entry.
            if FLOWS.insert(&s.ckey, &s.fresh, BPF_NOEXIST as u64).is_ok() {
                emit_flow(EventKind::FlowStart, &pkt.key, false, &s.fresh, hook);
            }
            match FLOWS.get_ptr_mut(&s.ckey) {
                Some(st) => st,
                None => {
                    bump(Counter::FlowInsertFail);
                    return;
                }
            }
        }
    };
    // SAFETY: `state` points into the LRU map value, valid for this program run; concurrent
    // updates from other CPUs may race on the counters, which are statistics.
    let st = unsafe { &mut *state };
    let is_tcp = pkt.key.proto == proto::TCP;
    if is_tcp && st.closed != 0 && opens_flow(pkt.tcp_flags) {
        // The 5-tuple is reused for a new connection.
        init_state(st, now, side);
        emit_flow(EventKind::FlowStart, &pkt.key, false, st, hook);
    }
    let dir = direction(side, st.init_side) as usize;
    st.last_ns = now;
    st.packets[dir] += 1;
    st.bytes[dir] += pkt.l3_len as u64;
    st.tcp_flags |= pkt.tcp_flags;
    if is_tcp && st.closed == 0 && ends_flow(pkt.tcp_flags) {
        st.closed = 1;
        emit_flow(EventKind::FlowEnd, &pkt.key, dir != 0, st, hook);
    }
    if pkt.payload_len != 0 && pkt.later_fragment == 0 && (st.samples[dir] as u32) < cfg_packets {
        let index = st.samples[dir];
        st.samples[dir] = index + 1;
        emit_sample(pkt, hook, dir as u8, index, now, cfg_bytes, loader);
    }
}

/// A fresh flow entry, written field by field (no memset on the packet path).
#[inline(always)]
fn init_state(st: &mut FlowState, now: u64, side: u8) {
    put(&mut st.first_ns, now);
    put(&mut st.last_ns, now);
    put(&mut st.packets[0], 0);
    put(&mut st.packets[1], 0);
    put(&mut st.bytes[0], 0);
    put(&mut st.bytes[1], 0);
    // tcp_flags, closed, init_side, samples[2], _pad[3] as one word.
    let w = core::ptr::addr_of_mut!(st.tcp_flags) as *mut u64;
    // SAFETY: the last 8 bytes of the 8-aligned 56-byte FlowState are these u8 fields
    // (offset 48); init_side is the third byte.
    put(w, (side as u64) << 16);
}

#[inline(always)]
fn emit_flow(kind: EventKind, key: &FlowKey, reverse: bool, st: &FlowState, hook: Hook) {
    let Some(mut entry) = NET_EVENTS.reserve::<FlowEvent>(0) else {
        bump(Counter::RingFailFlow);
        return;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` is a reserved ring-buffer record of `size_of::<FlowEvent>()` bytes owned
    // by this program until submit; fields are written in place to keep the stack small.
    unsafe {
        (*p).header = EventHeader::new::<FlowEvent>(kind, st.last_ns);
        copy_key(&mut (*p).key, key, reverse);
        put(&mut (*p).ifindex, hook.ifindex);
        put(&mut (*p).hook, hook.id);
        put(&mut (*p).tcp_flags, st.tcp_flags);
        put(&mut (*p)._pad, [0; 2]);
        put(&mut (*p).packets[0], st.packets[0]);
        put(&mut (*p).packets[1], st.packets[1]);
        put(&mut (*p).bytes[0], st.bytes[0]);
        put(&mut (*p).bytes[1], st.bytes[1]);
        put(&mut (*p).first_ns, st.first_ns);
        put(&mut (*p).last_ns, st.last_ns);
    }
    entry.submit(0);
    bump(if kind as u16 == EventKind::FlowStart as u16 { Counter::FlowsStarted } else { Counter::FlowsEnded });
}

#[inline(always)]
fn emit_sample<L: LoadBytes>(pkt: &Packet, hook: Hook, dir: u8, index: u8, now: u64, cfg_bytes: u32, loader: &L) {
    let mut len = pkt.payload_len;
    if len > cfg_bytes {
        len = cfg_bytes;
    }
    if len > SAMPLE_MAX as u32 {
        len = SAMPLE_MAX as u32;
    }
    if len == 0 {
        return;
    }
    // Written so the verifier sees 1 <= len <= SAMPLE_MAX (a power of two).
    let len = (core::hint::black_box(len - 1) & (SAMPLE_MAX as u32 - 1)) + 1;
    let Some(mut entry) = NET_EVENTS.reserve::<PayloadSample>(0) else {
        bump(Counter::RingFailSample);
        return;
    };
    let p = entry.as_mut_ptr();
    // SAFETY: `p` points to a reserved ring-buffer record of `size_of::<PayloadSample>()`
    // bytes owned by this program until submit/discard; fields are written in place because
    // the struct is larger than the BPF stack.
    unsafe {
        (*p).header = EventHeader::new::<PayloadSample>(EventKind::PayloadSample, now);
        copy_key(&mut (*p).key, &pkt.key, dir != 0);
        put(&mut (*p).ifindex, hook.ifindex);
        put(&mut (*p).hook, hook.id);
        put(&mut (*p).direction, dir);
        put(&mut (*p).index, index);
        put(&mut (*p).tcp_flags, pkt.tcp_flags);
        put(&mut (*p).tcp_seq, pkt.tcp_seq);
        put(&mut (*p).payload_len, pkt.payload_len);
        put(&mut (*p).len, len as u16);
        // _pad is at offset 74: a 2-byte and a 4-byte aligned store.
        let pad = core::ptr::addr_of_mut!((*p)._pad) as *mut u8;
        put(pad as *mut u16, 0);
        put(pad.add(2) as *mut u32, 0);
    }
    // SAFETY: `data` is inside the reserved record and `len` <= SAMPLE_MAX.
    let dst = unsafe { core::ptr::addr_of_mut!((*p).data) } as *mut u8;
    if loader.load(pkt.payload_off, dst, len) != 0 {
        entry.discard(0);
        bump(Counter::RingFailSample);
        return;
    }
    entry.submit(0);
    bump(Counter::Samples);
}
