//! Tier 3: BPF_PROG_TEST_RUN of `sensor_xdp` with crafted frames (no attach, no side
//! effects on any interface): verdicts, counters, block-list semantics and ring events.

use aya::{
    Ebpf, EbpfLoader,
    maps::{Array, MapData, RingBuf},
    programs::{TestRun, TestRunOptions, Xdp},
};
use sensor_common::{block::BlockEntry, config::SensorConfig, counters::Counter, event::EventKind, maps, programs};
use sensor_user::{
    block::{BlockMaps, Cidr},
    event::{Event, decode},
    kernel::{CounterSnapshot, read_counters},
    sys::monotonic_ns,
};
use tests::{PinDir, frames::Frame, object_path, privileged};

const XDP_DROP: u32 = 1;
const XDP_PASS: u32 = 2;

struct Harness {
    ebpf: Ebpf,
    blocks: BlockMaps,
    ring: RingBuf<MapData>,
    _pins: PinDir,
}

impl Harness {
    fn new() -> Self {
        let pins = PinDir::new();
        std::fs::create_dir_all(&pins.path).expect("pin dir");
        let mut ebpf =
            EbpfLoader::new().default_map_pin_directory(&pins.path).load_file(object_path()).expect("object loads");
        let cfg = SensorConfig { sample_bytes: 64, sample_packets: 2, ..Default::default() };
        let mut arr: Array<&mut MapData, SensorConfig> =
            Array::try_from(ebpf.map_mut(maps::CONFIG).expect("CONFIG")).expect("array");
        arr.set(0, cfg, 0).expect("config written");
        let prog: &mut Xdp = ebpf.program_mut(programs::XDP_INGRESS).expect("program").try_into().expect("xdp");
        prog.load().expect("verifier accepts sensor_xdp");
        let blocks = BlockMaps::from_ebpf(&mut ebpf).expect("block maps");
        let ring = RingBuf::try_from(ebpf.take_map(maps::NET_EVENTS).expect("ring")).expect("ringbuf");
        Harness { ebpf, blocks, ring, _pins: pins }
    }

    fn run(&mut self, frame: &[u8]) -> u32 {
        let prog: &mut Xdp = self.ebpf.program_mut(programs::XDP_INGRESS).expect("program").try_into().expect("xdp");
        let mut out = vec![0u8; frame.len() + 256];
        let opts = TestRunOptions { data_in: Some(frame), data_out: Some(&mut out), ..TestRunOptions::new() };
        prog.test_run(opts).expect("test_run").return_value
    }

    fn counters(&self) -> CounterSnapshot {
        read_counters(self.ebpf.map(maps::COUNTERS).expect("counters")).expect("read")
    }

    fn events(&mut self) -> Vec<Event> {
        let mut v = Vec::new();
        while let Some(item) = self.ring.next() {
            v.push(decode(&item).expect("kernel events decode"));
        }
        v
    }
}

/// Truncation points of a frame and the parse-error counter each must bump.
type Cuts = &'static [(usize, Counter)];

const A: [u8; 4] = [10, 9, 0, 5];
const B: [u8; 4] = [10, 9, 1, 1];

fn v6(last: u8) -> [u8; 16] {
    let mut a = [0u8; 16];
    a[0] = 0xfd;
    a[15] = last;
    a
}

#[test]
fn well_formed_frames_of_every_supported_shape_pass_and_parse() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    let mut vlan = Frame::udp4(A, B, 5000, 53, b"q");
    vlan.vlans = vec![42];
    let mut qinq = Frame::udp4(A, B, 5001, 53, b"q");
    qinq.vlans = vec![100, 200];
    let mut opts = Frame::tcp4(A, B, 5002, 80, 0x02, b"");
    opts.ip_options = vec![1, 1, 1, 0];
    let mut ext = Frame::ip6(v6(1), v6(2), 6, 5003, 443, b"x");
    ext.v6_ext = vec![0, 60];
    let icmp = Frame { proto: 1, sport: 8, dport: 0, ..Frame::udp4(A, B, 0, 0, b"ping") };
    let icmp6 = Frame::ip6(v6(1), v6(2), 58, 128, 0, b"ping6");
    let frames = [
        Frame::tcp4(A, B, 4000, 80, 0x02, b""),
        Frame::udp4(A, B, 4001, 53, b"dns"),
        vlan,
        qinq,
        opts,
        ext,
        icmp,
        icmp6,
    ];
    for f in &frames {
        assert_eq!(h.run(&f.bytes()), XDP_PASS, "{f:?}");
    }
    let c = h.counters();
    assert_eq!(c.get(Counter::XdpPassed), frames.len() as u64);
    for bad in [
        Counter::ParseEth,
        Counter::ParseVlan,
        Counter::ParseIpv4,
        Counter::ParseIpv6,
        Counter::ParseIpv6Ext,
        Counter::ParseL4,
    ] {
        assert_eq!(c.get(bad), 0, "{bad:?}");
    }
    let starts: Vec<_> =
        h.events().into_iter().filter_map(|e| if let Event::FlowStart(f) = e { Some(f) } else { None }).collect();
    assert_eq!(starts.len(), frames.len(), "one flow start per distinct flow");
    let vlan_flow = starts.iter().find(|f| f.key.sport == 5000).expect("vlan flow");
    assert_eq!(vlan_flow.key.vlan, 42);
    let qinq_flow = starts.iter().find(|f| f.key.sport == 5001).expect("qinq flow");
    assert_eq!(qinq_flow.key.vlan, 100, "outer tag is the flow's VLAN");
    let echo = starts.iter().find(|f| f.key.proto == 1).expect("ICMP echo flow");
    assert_eq!((echo.key.sport, echo.key.dport), (1, 1), "echo flows are keyed by identifier");
    let ext_flow = starts.iter().find(|f| f.key.sport == 5003).expect("v6 ext flow");
    assert_eq!((ext_flow.key.proto, ext_flow.key.dport, ext_flow.key.family), (6, 443, 6));
}

#[test]
fn frames_truncated_at_every_header_boundary_pass_and_count_the_right_error() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    let cases: Vec<(Vec<u8>, Cuts)> = vec![
        // eth 14 | ip 20 | tcp 20
        // (BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header, so ParseEth is
        // only reachable from a driver.)
        (Frame::tcp4(A, B, 1, 2, 0x10, b"").bytes(), &[(33, Counter::ParseIpv4), (53, Counter::ParseL4)]),
        // eth 14 | vlan 4 | ip 20 | udp 8
        (
            {
                let mut f = Frame::udp4(A, B, 1, 2, b"");
                f.vlans = vec![7];
                f.bytes()
            },
            &[(15, Counter::ParseVlan), (37, Counter::ParseIpv4), (45, Counter::ParseL4)],
        ),
        // eth 14 | ipv6 40 | hop-by-hop 8 | tcp 20
        (
            {
                let mut f = Frame::ip6(v6(1), v6(2), 6, 1, 2, b"");
                f.v6_ext = vec![0];
                f.bytes()
            },
            &[(53, Counter::ParseIpv6), (55, Counter::ParseIpv6Ext), (81, Counter::ParseL4)],
        ),
    ];
    for (frame, cuts) in cases {
        for &(len, counter) in cuts {
            let before = h.counters().get(counter);
            assert_eq!(h.run(&frame[..len]), XDP_PASS, "truncated to {len}");
            assert_eq!(h.counters().get(counter), before + 1, "{counter:?} at {len} bytes");
        }
        // Every other length too: never a drop, never a crash.
        for len in 14..frame.len() {
            assert_eq!(h.run(&frame[..len]), XDP_PASS, "truncated to {len}");
        }
    }
    let arp = [vec![0xff; 12], vec![0x08, 0x06], vec![0; 28]].concat();
    assert_eq!(h.run(&arp), XDP_PASS);
    assert!(h.counters().get(Counter::NonIp) >= 1);
}

#[test]
fn icmp_echo_request_and_reply_are_one_flow() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    let req = Frame { proto: 1, sport: 8, dport: 0, ..Frame::udp4(A, B, 0, 0, b"ping") };
    let rep = Frame { proto: 1, sport: 0, dport: 0, ..Frame::udp4(B, A, 0, 0, b"ping") };
    assert_eq!(h.run(&req.bytes()), XDP_PASS);
    assert_eq!(h.run(&rep.bytes()), XDP_PASS);
    let starts = h.events().into_iter().filter(|e| matches!(e, Event::FlowStart(_))).count();
    assert_eq!(starts, 1);
}

#[test]
fn fragments_are_accounted_without_ports_and_first_fragments_keep_them() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    let mut first = Frame::udp4(A, B, 7000, 7001, &[1; 32]);
    first.frag = Some((true, 0));
    let mut later = Frame::udp4(A, B, 7000, 7001, &[2; 32]);
    later.frag = Some((false, 5));
    let mut later6 = Frame::ip6(v6(3), v6(4), 17, 7000, 7001, &[3; 16]);
    later6.v6_ext = vec![44];
    later6.frag = Some((false, 3));
    for f in [&first, &later, &later6] {
        assert_eq!(h.run(&f.bytes()), XDP_PASS);
    }
    assert_eq!(h.counters().get(Counter::Fragments), 2);
    let starts: Vec<_> =
        h.events().into_iter().filter_map(|e| if let Event::FlowStart(f) = e { Some(f) } else { None }).collect();
    assert!(starts.iter().any(|f| f.key.sport == 7000 && f.key.dport == 7001 && f.key.family == 4));
    assert!(
        starts.iter().any(|f| f.key.sport == 0 && f.key.dport == 0 && f.key.family == 4),
        "later fragment: 3-tuple flow"
    );
    assert!(starts.iter().any(|f| f.key.sport == 0 && f.key.family == 6), "IPv6 later fragment");
}

#[test]
fn watch_entries_count_their_packets_and_let_them_pass() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    h.blocks.watch("10.7.0.0/16".parse::<Cidr>().expect("cidr"), None, 3).expect("watch");
    assert_eq!(h.run(&Frame::tcp4([10, 7, 1, 1], B, 1, 80, 0x02, b"").bytes()), XDP_PASS, "watched source passes");
    assert_eq!(h.run(&Frame::tcp4([10, 7, 1, 2], B, 1, 80, 0x02, b"").bytes()), XDP_PASS);
    assert_eq!(h.run(&Frame::tcp4([10, 6, 1, 2], B, 1, 80, 0x02, b"").bytes()), XDP_PASS);
    let c = h.counters();
    assert_eq!(c.get(Counter::WatchHits), 2, "two packets from the watched /16");
    assert_eq!(c.get(Counter::XdpDropped), 0);
    assert!(c.get(Counter::FlowsStarted) >= 3, "watched packets are still accounted as flows");
}

#[test]
fn an_isolated_host_loses_all_traffic_but_management_both_ways() {
    if !privileged(false) {
        return;
    }
    use sensor_common::block::{BLOCK_MODE_ALLOW, BLOCK_MODE_ISOLATE, BlockReason};
    let mut h = Harness::new();
    let (host, mgmt, other) = ([10, 5, 0, 9], [10, 5, 0, 100], [10, 5, 0, 7]);
    h.blocks
        .write_mode("10.5.0.9".parse().expect("cidr"), None, BlockReason::Isolation as u16, BLOCK_MODE_ISOLATE)
        .expect("isolate");
    h.blocks.write_mode("10.5.0.100".parse().expect("cidr"), None, 0, BLOCK_MODE_ALLOW).expect("allow");
    // Until the flag is set only the host's own packets are looked up.
    assert_eq!(h.run(&Frame::tcp4(host, other, 1, 80, 0x02, b"").bytes()), XDP_DROP, "from the host");
    assert_eq!(h.run(&Frame::tcp4(other, host, 1, 80, 0x02, b"").bytes()), XDP_PASS, "flag off: to the host passes");
    h.blocks.set_isolating(true).expect("flag");
    assert_eq!(h.run(&Frame::tcp4(other, host, 1, 80, 0x02, b"").bytes()), XDP_DROP, "to the host");
    assert_eq!(h.run(&Frame::tcp4(mgmt, host, 1, 22, 0x02, b"").bytes()), XDP_PASS, "management reaches it");
    assert_eq!(h.run(&Frame::tcp4(host, mgmt, 22, 1, 0x12, b"").bytes()), XDP_PASS, "and hears back");
    assert_eq!(h.run(&Frame::tcp4(other, B, 1, 80, 0x02, b"").bytes()), XDP_PASS, "others are untouched");
    let c = h.counters();
    assert_eq!(c.get(Counter::XdpDropped), 2);
    h.blocks.set_isolating(false).expect("flag off");
    assert_eq!(h.run(&Frame::tcp4(other, host, 1, 80, 0x02, b"").bytes()), XDP_PASS, "flag off again");
}

#[test]
fn a_blocked_prefix_drops_outside_addresses_pass_and_expired_entries_pass() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    h.blocks.insert("10.9.0.0/24".parse::<Cidr>().expect("cidr"), None, 1).expect("insert");
    let expired = BlockEntry { expires_ns: monotonic_ns() - 1, created_ns: 1, reason: 2, mode: 0, _pad: [0; 5] };
    h.blocks.insert_entry("10.8.0.0/16".parse().expect("cidr"), expired).expect("insert expired");
    h.blocks.insert("fd00::5/128".parse().expect("cidr"), Some(std::time::Duration::from_secs(600)), 3).expect("v6");

    assert_eq!(h.run(&Frame::tcp4([10, 9, 0, 77], B, 1, 80, 0x02, b"").bytes()), XDP_DROP, "inside the /24");
    assert_eq!(h.run(&Frame::tcp4([10, 9, 1, 77], B, 1, 80, 0x02, b"").bytes()), XDP_PASS, "outside the /24");
    assert_eq!(h.run(&Frame::tcp4([10, 8, 3, 3], B, 1, 80, 0x02, b"").bytes()), XDP_PASS, "expired entry");
    assert_eq!(h.run(&Frame::ip6(v6(5), v6(9), 17, 1, 2, b"").bytes()), XDP_DROP, "blocked v6 host");
    assert_eq!(h.run(&Frame::ip6(v6(6), v6(9), 17, 1, 2, b"").bytes()), XDP_PASS, "other v6 host");
    // Truncated L4 from a blocked source still drops: the block needs only L3.
    let f = Frame::tcp4([10, 9, 0, 1], B, 1, 80, 0x02, b"").bytes();
    assert_eq!(h.run(&f[..40]), XDP_DROP);

    let c = h.counters();
    assert_eq!(c.get(Counter::DropBlockedV4), 2);
    assert_eq!(c.get(Counter::DropBlockedV6), 1);
    assert_eq!(c.get(Counter::XdpDropped), 3);
    assert_eq!(c.get(Counter::BlockExpired), 1);
    assert_eq!(c.slots[sensor_common::counters::drop_reason_slot(1) as usize], 2, "drops by reason: manual");
    assert_eq!(c.slots[sensor_common::counters::drop_reason_slot(3) as usize], 1, "drops by reason: threat intel");
    // Dropped packets create no flow.
    assert!(h.events().iter().all(|e| !matches!(e, Event::FlowStart(f) if f.key.saddr[..3] == [10, 9, 0])));
}

#[test]
fn flows_emit_start_samples_of_the_first_k_packets_and_end_on_fin() {
    if !privileged(false) {
        return;
    }
    let mut h = Harness::new();
    let client = |flags, p: &[u8]| Frame::tcp4(A, B, 41000, 80, flags, p).bytes();
    let server = |flags, p: &[u8]| Frame::tcp4(B, A, 80, 41000, flags, p).bytes();
    let long: Vec<u8> = (0..200u8).collect();
    for f in [
        client(0x02, b""),
        server(0x12, b""),
        client(0x18, b"GET / HTTP/1.1\r\n"),
        server(0x18, &long),
        client(0x18, b"second"),
        client(0x18, b"third"),
        client(0x11, b""),
    ] {
        assert_eq!(h.run(&f), XDP_PASS);
    }
    let events = h.events();
    let kinds: Vec<EventKind> = events.iter().map(|e| EventKind::try_from(e.header().kind).expect("kind")).collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == EventKind::FlowStart).count(),
        1,
        "one flow for both directions: {kinds:?}"
    );
    let samples: Vec<_> =
        events.iter().filter_map(|e| if let Event::PayloadSample(s) = e { Some(*s) } else { None }).collect();
    assert_eq!(samples.len(), 3, "K=2 to the server, 1 to the client");
    assert_eq!(&samples[0].data[..samples[0].len as usize], b"GET / HTTP/1.1\r\n");
    assert_eq!((samples[0].direction, samples[0].key.sport, samples[0].key.dport), (0, 41000, 80));
    assert_eq!(samples[1].direction, 1);
    assert_eq!(samples[1].len, 64, "N = 64 bytes");
    assert_eq!(samples[1].payload_len, 200);
    assert_eq!(&samples[1].data[..64], &long[..64]);
    assert_eq!(&samples[2].data[..6], b"second");
    let end =
        events.iter().find_map(|e| if let Event::FlowEnd(f) = e { Some(*f) } else { None }).expect("flow end on FIN");
    assert_eq!((end.key.sport, end.key.dport), (41000, 80), "initiator order");
    assert_eq!(end.packets, [5, 2]);
}
