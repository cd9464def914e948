//! Engine tests: hand-built rule sets checked against Suricata 7 semantics.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use super::super::ir::*;
use super::super::test_alloc::thread_allocs;
use super::threshold::ThresholdTable;
use super::*;

const S: u64 = 1_000_000_000;

pub(super) fn sig(sid: u32) -> Signature {
    Signature {
        sid,
        rev: 1,
        msg: format!("rule {sid}"),
        ..Signature::new(Action::Alert, Transport::Tcp, String::new(), String::new())
    }
}

pub(super) fn content(p: &str) -> Content {
    Content {
        pattern: p.as_bytes().to_vec(),
        negated: false,
        nocase: false,
        offset: None,
        depth: None,
        distance: None,
        within: None,
        startswith: false,
        endswith: false,
        fast_pattern: false,
        fast_pattern_only: false,
        fast_pattern_chop: None,
    }
}

pub(super) fn with(mut s: Signature, buffer: Buffer, contents: Vec<Content>) -> Signature {
    s.buffers.push(BufferMatch {
        buffer,
        dotprefix: false,
        elements: contents.into_iter().map(Element::Content).collect(),
    });
    if buffer.app().is_some() {
        s.app = buffer.app();
    }
    s
}

pub(super) fn payload_rule(sid: u32, pat: &str) -> Signature {
    with(sig(sid), Buffer::Payload, vec![content(pat)])
}

pub(super) fn ip(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

pub(super) fn pkt(payload: &[u8]) -> PacketView<'_> {
    PacketView {
        ts_ns: 0,
        src: ip(10, 0, 0, 1),
        dst: ip(192, 168, 1, 2),
        sport: 40000,
        dport: 80,
        ip_proto: 6,
        ttl: 64,
        tcp: Some(TcpView { flags: 0x18, seq: 1, ack: 1, window: 512 }),
        icmp: None,
        payload,
        to_server: true,
        established: true,
        app: None,
        app_ready: true,
        flow_bytes: [100, 100],
        has_flow: true,
    }
}

pub(super) fn build(sigs: Vec<Signature>) -> Ruleset {
    let (rs, report) = Ruleset::build(sigs, 8);
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    rs
}

/// Sids alerted for one packet.
pub(super) fn run(rs: &Ruleset, ctx: &mut DetectCtx, flow: &mut FlowDetect, p: &PacketView<'_>) -> Vec<u32> {
    let mut v = Vec::new();
    rs.detect_packet(ctx, flow, p, &mut |a| v.push(rs.signature(a.sig).sid));
    v
}

pub(super) fn once(rs: &Ruleset, p: &PacketView<'_>) -> Vec<u32> {
    run(rs, &mut DetectCtx::new(rs), &mut FlowDetect::default(), p)
}

#[test]
fn prefilter_is_case_insensitive_and_verification_checks_case() {
    let mut nc = content("XyZ");
    nc.nocase = true;
    let rs = build(vec![payload_rule(1, "AbC"), with(sig(2), Buffer::Payload, vec![nc])]);
    assert_eq!(rs.prefilter_stats().no_fast_pattern, 0);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    // Wrong case: the prefilter reports sid 1, the verification rejects it.
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"--abc--")), Vec::<u32>::new());
    assert_eq!(ctx.stats.prefilter_candidates, 1);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"--AbC--")), vec![1]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"--xyz--")), vec![2]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"AbC xYz")), vec![1, 2]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"nothing")), Vec::<u32>::new());
}

#[test]
fn overlapping_patterns_are_all_found() {
    let rs = build(vec![payload_rule(1, "abcd"), payload_rule(2, "bc"), payload_rule(3, "cde")]);
    assert_eq!(once(&rs, &pkt(b"xabcdex")), vec![1, 2, 3]);
}

#[test]
fn header_addresses_ports_negation_bidirectional() {
    let mut a = payload_rule(1, "x");
    a.src.allow.push((ip(10, 0, 0, 0), 8));
    a.src.deny.push((ip(10, 0, 0, 5), 32));
    a.dport.allow.push((80, 80));
    let mut b = payload_rule(2, "x");
    b.src.allow.push((ip(192, 168, 1, 2), 32));
    b.sport.allow.push((80, 80));
    b.bidirectional = true;
    let mut c = payload_rule(3, "x");
    c.dport.deny.push((1, 1024));
    let rs = build(vec![a, b, c]);
    let mut p = pkt(b"x");
    assert_eq!(once(&rs, &p), vec![1, 2]);
    p.src = ip(10, 0, 0, 5);
    assert_eq!(once(&rs, &p), vec![2]);
    p.dport = 8080;
    assert_eq!(once(&rs, &p), vec![3]);
    // Reverse direction: only the bidirectional rule's swapped orientation applies.
    let mut r = pkt(b"x");
    std::mem::swap(&mut r.src, &mut r.dst);
    std::mem::swap(&mut r.sport, &mut r.dport);
    assert_eq!(once(&rs, &r), vec![2, 3]);
    // UDP packet: tcp rules do not apply.
    r.ip_proto = 17;
    assert_eq!(once(&rs, &r), Vec::<u32>::new());
}

#[test]
fn transport_any_and_icmp() {
    let mut any = payload_rule(1, "ping");
    any.transport = Transport::Any;
    any.dport.allow.push((80, 80)); // ports are ignored for non TCP/UDP packets
    let mut icmp = payload_rule(2, "ping");
    icmp.transport = Transport::Icmp;
    icmp.itype = Some(NumCmp::Eq(8));
    let rs = build(vec![any, icmp]);
    let mut p = pkt(b"ping");
    p.ip_proto = 58;
    p.tcp = None;
    p.icmp = Some(IcmpView { icmp_type: 8, code: 0, id: 1, seq: 1 });
    assert_eq!(once(&rs, &p), vec![1, 2]);
    p.icmp = Some(IcmpView { icmp_type: 0, code: 0, id: 1, seq: 1 });
    assert_eq!(once(&rs, &p), vec![1]);
}

#[test]
fn flow_dsize_flags_and_app() {
    let mut ts = payload_rule(1, "q");
    ts.flow = FlowOpts { established: Some(true), to_server: Some(true), ..FlowOpts::default() };
    let mut tc = payload_rule(2, "q");
    tc.flow.to_server = Some(false);
    let mut ds = payload_rule(3, "q");
    ds.dsize = Some(NumCmp::Lt(3));
    let mut fl = payload_rule(4, "q");
    fl.tcp_flags = Some(TcpFlagsTest { flags: 0x18, ignore: 0, modifier: 0 });
    let mut ap = payload_rule(5, "q");
    ap.app = Some(AppLayer::Http);
    let mut st = payload_rule(6, "q");
    st.flow.stateless = true;
    let rs = build(vec![ts, tc, ds, fl, ap, st]);
    let mut p = pkt(b"q");
    assert_eq!(once(&rs, &p), vec![1, 3, 4, 6]);
    p.app = Some(AppLayer::Http);
    p.tcp = Some(TcpView { flags: 0x10, ..TcpView::default() });
    p.payload = b"qqqq";
    assert_eq!(once(&rs, &p), vec![1, 5, 6]);
    p.to_server = false;
    assert_eq!(once(&rs, &p), vec![2, 5, 6]);
    // No flow: direction/established rules cannot match.
    p.has_flow = false;
    assert_eq!(once(&rs, &p), vec![5, 6]);
}

#[test]
fn tcp_flags_modifiers() {
    use super::header::tcp_flags_ok;
    let t = |flags, ignore, modifier| TcpFlagsTest { flags, ignore, modifier };
    const SYN: u8 = 0x02;
    const ACK: u8 = 0x10;
    assert!(tcp_flags_ok(&t(SYN, 0, 0), SYN));
    assert!(!tcp_flags_ok(&t(SYN, 0, 0), SYN | ACK));
    assert!(tcp_flags_ok(&t(SYN, 0xC0, 0), SYN | 0x80)); // CWR ignored
    assert!(tcp_flags_ok(&t(SYN, 0, b'+'), SYN | ACK));
    assert!(tcp_flags_ok(&t(SYN | ACK, 0, b'*'), ACK));
    assert!(tcp_flags_ok(&t(SYN, 0, b'!'), ACK));
    assert!(!tcp_flags_ok(&t(SYN, 0, b'!'), SYN | ACK));
    assert!(tcp_flags_ok(&t(0, 0, 0), 0));
    assert!(!tcp_flags_ok(&t(0, 0, 0), ACK));
}

fn fb(mut s: Signature, ops: Vec<FlowbitOp>) -> Signature {
    s.flowbits = ops;
    s
}

#[test]
fn flowbits_set_then_isset_across_packets_with_noalert() {
    let mut setter = fb(payload_rule(1, "login"), vec![FlowbitOp::Set(3)]);
    setter.noalert = true;
    let checker = fb(payload_rule(2, "secret"), vec![FlowbitOp::IsSet(vec![3], false)]);
    let rs = build(vec![setter, checker]);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"secret")), Vec::<u32>::new());
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"login")), Vec::<u32>::new());
    assert!(flow.flowbit(3));
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"secret")), vec![2]);
    // Another flow has its own bits; a packet without flow has none.
    assert_eq!(run(&rs, &mut ctx, &mut FlowDetect::default(), &pkt(b"secret")), Vec::<u32>::new());
    let mut nf = pkt(b"login secret");
    nf.has_flow = false;
    let mut f2 = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut f2, &nf), Vec::<u32>::new());
    assert!(!f2.flowbit(3));
}

#[test]
fn flowbits_setter_ordered_before_checker_in_one_packet() {
    // Loaded checker first, but Suricata orders setters before readers.
    let checker = fb(payload_rule(1, "b"), vec![FlowbitOp::IsSet(vec![0], false)]);
    let setter = fb(payload_rule(2, "a"), vec![FlowbitOp::Set(0)]);
    let rs = build(vec![checker, setter]);
    assert_eq!(rs.signature(SigId(0)).sid, 2);
    assert_eq!(once(&rs, &pkt(b"ab")), vec![2, 1]);
}

#[test]
fn signature_order_action_flowbits_priority_sid() {
    let mut pass = payload_rule(9, "z");
    pass.action = Action::Pass;
    let mut drop = payload_rule(8, "z");
    drop.action = Action::Drop;
    let mut hi = payload_rule(7, "z");
    hi.priority = 1;
    let read = fb(payload_rule(3, "z"), vec![FlowbitOp::IsNotSet(vec![1], false)]);
    let both = fb(payload_rule(4, "z"), vec![FlowbitOp::IsSet(vec![1], false), FlowbitOp::Set(2)]);
    let set = fb(payload_rule(5, "z"), vec![FlowbitOp::Set(1)]);
    let rs = build(vec![payload_rule(2, "z"), payload_rule(1, "z"), hi, read, both, set, drop, pass]);
    let order: Vec<u32> = (0..rs.len() as u32).map(|i| rs.signature(SigId(i)).sid).collect();
    assert_eq!(order, vec![9, 8, 5, 4, 3, 7, 1, 2]);
}

#[test]
fn isnotset_and_toggle_and_and_or() {
    let first = fb(payload_rule(1, "t"), vec![FlowbitOp::IsNotSet(vec![0], false), FlowbitOp::Toggle(0)]);
    let rs = build(vec![first]);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"t")), vec![1]);
    assert!(flow.flowbit(0));
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"t")), Vec::<u32>::new());

    let setter = fb(payload_rule(1, "s"), vec![FlowbitOp::Set(1)]);
    let toggler = fb(payload_rule(2, "x"), vec![FlowbitOp::Toggle(1)]);
    let all = fb(payload_rule(3, "c"), vec![FlowbitOp::IsSet(vec![1, 2], true)]);
    let any = fb(payload_rule(4, "c"), vec![FlowbitOp::IsSet(vec![1, 2], false)]);
    let unset = fb(payload_rule(5, "u"), vec![FlowbitOp::Unset(1)]);
    let rs = build(vec![setter, toggler, all, any, unset]);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"s")), vec![1]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"c")), vec![4]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"x")), vec![2]); // toggles bit 1 off
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"c")), Vec::<u32>::new());
    run(&rs, &mut ctx, &mut flow, &pkt(b"x"));
    assert!(flow.flowbit(1));
    run(&rs, &mut ctx, &mut flow, &pkt(b"u"));
    assert!(!flow.flowbit(1));
}

fn thresholded(kind: ThresholdKind, count: u32) -> Ruleset {
    let mut s = payload_rule(1, "hit");
    let td = Threshold { kind, track: Track::BySrc, count, seconds: 60 };
    if kind == ThresholdKind::DetectionFilter {
        s.detection_filter = Some(td);
    } else {
        s.threshold = Some(td);
    }
    build(vec![s])
}

/// Which of the matches at the given times (seconds) alert.
fn alerting(rs: &Ruleset, times: &[u64]) -> Vec<usize> {
    let mut ctx = DetectCtx::new(rs);
    let mut out = Vec::new();
    for (i, &t) in times.iter().enumerate() {
        let mut p = pkt(b"hit");
        p.ts_ns = t * S;
        if !run(rs, &mut ctx, &mut FlowDetect::default(), &p).is_empty() {
            out.push(i + 1);
        }
    }
    out
}

#[test]
fn threshold_limit_threshold_both_detection_filter() {
    let ten: Vec<u64> = (0..10).collect();
    assert_eq!(alerting(&thresholded(ThresholdKind::Limit, 3), &ten), vec![1, 2, 3]);
    assert_eq!(alerting(&thresholded(ThresholdKind::Threshold, 3), &ten), vec![3, 6, 9]);
    assert_eq!(alerting(&thresholded(ThresholdKind::Both, 3), &ten), vec![3]);
    assert_eq!(alerting(&thresholded(ThresholdKind::DetectionFilter, 3), &ten), vec![4, 5, 6, 7, 8, 9, 10]);
    // Windows restart after `seconds` (inclusive bound, as Suricata's SCTIME_CMP_LTE).
    let t = [0, 1, 2, 60, 61, 62, 63];
    assert_eq!(alerting(&thresholded(ThresholdKind::Limit, 2), &t), vec![1, 2, 5, 6]);
    assert_eq!(alerting(&thresholded(ThresholdKind::Both, 2), &t), vec![2, 6]);
    assert_eq!(alerting(&thresholded(ThresholdKind::DetectionFilter, 2), &t), vec![3, 4, 7]);
    assert_eq!(
        alerting(&thresholded(ThresholdKind::Threshold, 1), &ten),
        ten.iter().map(|&i| i as usize + 1).collect::<Vec<_>>()
    );
}

#[test]
fn threshold_tracks_by_source_and_counts_suppressed() {
    let rs = thresholded(ThresholdKind::Limit, 1);
    let mut ctx = DetectCtx::new(&rs);
    let mut n = 0;
    for i in 0..6u8 {
        let mut p = pkt(b"hit");
        p.src = ip(10, 0, 0, i % 2);
        n += run(&rs, &mut ctx, &mut FlowDetect::default(), &p).len();
    }
    assert_eq!(n, 2);
    assert_eq!(ctx.stats.threshold_suppressed, 4);
    assert_eq!(ctx.stats.alerts, 2);
}

#[test]
fn threshold_table_is_bounded() {
    let td = Threshold { kind: ThresholdKind::Limit, track: Track::BySrc, count: 1, seconds: 60 };
    let mut t = ThresholdTable::new(64);
    for i in 0..1000u32 {
        t.allow(0, 0, &td, 0, IpAddr::V4(Ipv4Addr::from(i)), ip(1, 1, 1, 1));
        assert!(t.len() <= 64);
    }
    assert!(t.evictions > 0);
    // Expired entries are swept before live ones are evicted.
    let before = t.evictions;
    for i in 0..100u32 {
        t.allow(0, 0, &td, 1000 * S, IpAddr::V4(Ipv4Addr::from(5000 + i)), ip(1, 1, 1, 1));
    }
    assert!(t.evictions - before < 100);
}

#[test]
fn a_payload_pass_rule_passes_only_its_packet() {
    let mut pass = payload_rule(10, "ok");
    pass.action = Action::Pass;
    let rs = build(vec![payload_rule(1, "ok"), payload_rule(2, "bad"), pass]);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"bad")), vec![2]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"ok bad")), Vec::<u32>::new());
    assert!(!flow.passed(), "a packet rule's pass does not reach the flow");
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"bad")), vec![2]);
}

pub(super) struct Bufs(pub(super) Vec<(Buffer, Vec<&'static [u8]>)>);

impl TxBuffers for Bufs {
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]> {
        self.0.iter().find(|(x, _)| *x == b).and_then(|(_, v)| v.get(idx).copied())
    }
}

pub(super) fn tx<'a>(bufs: &'a Bufs, tx_id: u64, to_server: bool) -> TxView<'a> {
    let mut header = pkt(b"");
    header.to_server = to_server;
    TxView { header, app: AppLayer::Http, tx_id, bufs }
}

pub(super) fn run_tx(
    rs: &Ruleset,
    ctx: &mut DetectCtx,
    flow: &mut FlowDetect,
    t: &TxView<'_>,
) -> Vec<(u32, Option<u64>)> {
    let mut v = Vec::new();
    rs.detect_tx(ctx, flow, t, &mut |a| v.push((rs.signature(a.sig).sid, a.tx_id)));
    v
}

#[test]
fn tx_rules_alert_once_per_tx_and_side() {
    let uri = with(sig(1), Buffer::HttpUri, vec![content("/admin")]);
    let stat = with(sig(2), Buffer::HttpStatCode, vec![content("200")]);
    let hdr = with(sig(3), Buffer::HttpHeader, vec![content("X-Evil")]);
    let pkt_rule = payload_rule(4, "/admin");
    let rs = build(vec![uri, stat, hdr, pkt_rule]);
    let st = rs.prefilter_stats();
    assert_eq!((st.packet_rules, st.app_rules), (1, 3));
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    let req = Bufs(vec![(Buffer::HttpUri, vec![b"/admin"]), (Buffer::HttpHeader, vec![b"X-Evil: 1\r\n"])]);
    assert_eq!(run_tx(&rs, &mut ctx, &mut flow, &tx(&req, 0, true)), vec![(1, Some(0)), (3, Some(0))]);
    assert_eq!(run_tx(&rs, &mut ctx, &mut flow, &tx(&req, 0, true)), vec![]);
    assert_eq!(run_tx(&rs, &mut ctx, &mut flow, &tx(&req, 1, true)), vec![(1, Some(1)), (3, Some(1))]);
    // Response side: the uri rule is a request rule; the header rule may alert on this side too.
    let resp = Bufs(vec![
        (Buffer::HttpUri, vec![b"/admin"]),
        (Buffer::HttpStatCode, vec![b"200"]),
        (Buffer::HttpHeader, vec![b"X-Evil: 2\r\n"]),
    ]);
    assert_eq!(run_tx(&rs, &mut ctx, &mut flow, &tx(&resp, 0, false)), vec![(2, Some(0)), (3, Some(0))]);
    assert_eq!(run_tx(&rs, &mut ctx, &mut flow, &tx(&resp, 0, false)), vec![]);
    // Packet rules are not run on transactions, tx rules not on packets.
    assert_eq!(once(&rs, &pkt(b"GET /admin")), vec![4]);
}

#[test]
fn multi_buffer_any_instance_matches() {
    let mut s = with(sig(1), Buffer::DnsQuery, vec![content("evil.example")]);
    s.transport = Transport::Udp;
    let rs = build(vec![s]);
    let q = Bufs(vec![(Buffer::DnsQuery, vec![b"good.example", b"evil.example"])]);
    let mut t = tx(&q, 0, true);
    t.app = AppLayer::Dns;
    t.header.ip_proto = 17;
    assert_eq!(run_tx(&rs, &mut DetectCtx::new(&rs), &mut FlowDetect::default(), &t), vec![(1, Some(0))]);
}

#[test]
fn negated_only_rule_is_always_inspected() {
    let mut neg = content("forbidden");
    neg.negated = true;
    let mut fp_neg = content("also");
    fp_neg.negated = true;
    fp_neg.fast_pattern = true;
    let rs = build(vec![
        with(sig(1), Buffer::Payload, vec![neg]),
        with(sig(2), Buffer::Payload, vec![content("some"), fp_neg]),
        payload_rule(3, "x"),
    ]);
    let st = rs.prefilter_stats();
    assert_eq!(st.no_fast_pattern, 2);
    assert_eq!(rs.packet_groups[0].always, vec![0, 1]);
    assert_eq!(once(&rs, &pkt(b"hello some")), vec![1, 2]);
    assert_eq!(once(&rs, &pkt(b"forbidden also some")), Vec::<u32>::new());
    // An empty payload runs no payload inspection.
    assert_eq!(once(&rs, &pkt(b"")), Vec::<u32>::new());
}

#[test]
fn fast_pattern_choice_explicit_chop_and_app_preference() {
    let mut explicit = content("short");
    explicit.fast_pattern = true;
    explicit.fast_pattern_chop = Some((1, 3));
    let s = with(sig(1), Buffer::Payload, vec![content("a-much-longer-one"), explicit]);
    let rs = build(vec![s]);
    let bs = &rs.prefilter_stats().buffers;
    assert!(bs.iter().all(|b| b.patterns == 1));
    // The prefilter uses "hor": a payload with the long content but not "hor" finds nothing.
    let mut ctx = DetectCtx::new(&rs);
    run(&rs, &mut ctx, &mut FlowDetect::default(), &pkt(b"a-much-longer-one"));
    assert_eq!(ctx.stats.prefilter_candidates, 0);

    let mixed = with(
        with(sig(2), Buffer::Payload, vec![content("long-payload-content")]),
        Buffer::HttpMethod,
        vec![content("GET")],
    );
    let rs = build(vec![mixed]);
    let st = rs.prefilter_stats();
    assert_eq!(st.buffers.len(), 1);
    assert_eq!(st.buffers[0].buffer, Buffer::HttpMethod);
}

#[test]
fn build_reports_failed_rules() {
    let mut bad = sig(2);
    bad.buffers.push(BufferMatch {
        buffer: Buffer::Payload,
        dotprefix: false,
        elements: vec![Element::Pcre(Pcre {
            source: "(".into(),
            caseless: false,
            dotall: false,
            multiline: false,
            extended: false,
            anchored: false,
            dollar_endonly: false,
            ungreedy: false,
            relative: false,
            negated: false,
        })],
    });
    let (rs, report) = Ruleset::build(vec![payload_rule(1, "a"), bad], 0);
    assert_eq!(rs.len(), 1);
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, 1);
}

fn big_ruleset(n: u32) -> Vec<Signature> {
    (0..n)
        .map(|i| {
            let mut s = payload_rule(i + 1, &format!("pattern-{:x}-{}", i.wrapping_mul(2654435761), i % 97));
            if i % 3 == 0 {
                s = with(sig(i + 1), Buffer::HttpUri, vec![content(&format!("/path/{i}.php"))]);
            }
            if i % 50 == 0 {
                s.flowbits.push(FlowbitOp::Set(i % 8));
            }
            s
        })
        .collect()
}

#[test]
fn ten_thousand_rules_build_quickly() {
    let start = Instant::now();
    let rs = build(big_ruleset(10_000));
    let took = start.elapsed();
    assert_eq!(rs.len(), 10_000);
    assert!(took.as_secs() < 30, "build took {took:?}");
    let mut p = pkt(b"xx pattern-0-0 yy");
    p.ts_ns = 1;
    assert_eq!(once(&rs, &p), Vec::<u32>::new()); // sid 1 is an http rule (i = 0)
    assert_eq!(once(&rs, &pkt(format!("a pattern-{:x}-1 b", 2654435761u32).as_bytes())), vec![2]);
}

#[test]
fn hyperscan_and_aho_corasick_prefilters_alert_alike() {
    // Short, overlapping, NUL-carrying, case-varied and shared patterns.
    let pats = ["a", "ab", "abc", "\0\0\x01", "GET /", "get /x", "bcd", "/x", "Zz\0"];
    let mk = || -> Vec<Signature> {
        let mut v: Vec<Signature> = pats
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut c = content(p);
                c.nocase = i % 2 == 0;
                with(sig(i as u32 + 1), Buffer::Payload, vec![c])
            })
            .collect();
        v.push(with(sig(100), Buffer::HttpUri, vec![content("/x")]));
        v
    };
    let (hs, _) = Ruleset::build_with(mk(), 8, Mpm::Hyperscan);
    let (ac, _) = Ruleset::build_with(mk(), 8, Mpm::AhoCorasick);
    assert!(hs.prefilter_stats().buffers.iter().all(|b| b.mpm == Mpm::Hyperscan && b.bytes > 0));
    assert!(ac.prefilter_stats().buffers.iter().all(|b| b.mpm == Mpm::AhoCorasick && b.bytes > 0));
    let payloads: [&[u8]; 8] =
        [b"", b"a", b"ABC", b"xxget /x", b"GET /x HTTP/1.0", b"\0\0\x01zZ\0", b"abcdbcd", b"no match here"];
    let (mut ch, mut ca) = (DetectCtx::new(&hs), DetectCtx::new(&ac));
    for pl in payloads {
        let got = run(&hs, &mut ch, &mut FlowDetect::default(), &pkt(pl));
        let want = run(&ac, &mut ca, &mut FlowDetect::default(), &pkt(pl));
        assert_eq!(got, want, "payload {:?}", String::from_utf8_lossy(pl));
    }
    assert_eq!(once(&hs, &pkt(b"xxGET /x")), vec![5, 8]);
    let bufs = Bufs(vec![(Buffer::HttpUri, vec![b"/a/X"])]);
    let t = tx(&bufs, 1, true);
    for rs in [&hs, &ac] {
        let mut ctx = DetectCtx::new(rs);
        assert_eq!(run_tx(rs, &mut ctx, &mut FlowDetect::default(), &t), Vec::<(u32, Option<u64>)>::new());
        let bufs = Bufs(vec![(Buffer::HttpUri, vec![b"/a/x"])]);
        assert_eq!(run_tx(rs, &mut ctx, &mut FlowDetect::default(), &tx(&bufs, 1, true)), vec![(100, Some(1))]);
        assert_eq!(ctx.stats.prefilter_errors, 0);
    }
}

#[test]
fn a_pattern_set_hyperscan_refuses_runs_on_aho_corasick_and_says_why() {
    // Longer than libhs's 16,000-byte literal limit.
    let long = "x".repeat(16_001);
    let (rs, report) = Ruleset::build_with(vec![payload_rule(1, &long)], 8, Mpm::Hyperscan);
    assert!(report.failed.is_empty());
    let st = rs.prefilter_stats();
    let b = &st.buffers[0];
    assert_eq!(b.mpm, Mpm::AhoCorasick);
    let why = b.fallback.as_deref().unwrap_or_default();
    assert!(why.starts_with("hyperscan compile failed"), "{why}");
    // No rule is lost.
    assert_eq!(once(&rs, &pkt(long.as_bytes())), vec![1]);
    let (ac, _) = Ruleset::build_with(vec![payload_rule(2, "short")], 8, Mpm::AhoCorasick);
    assert_eq!(ac.prefilter_stats().buffers[0].fallback, None, "asking for aho-corasick is no fallback");
}

#[test]
fn detect_loops_do_not_allocate_after_warm_up() {
    for mpm in [Mpm::Hyperscan, Mpm::AhoCorasick] {
        loops_do_not_allocate(mpm);
    }
}

fn loops_do_not_allocate(mpm: Mpm) {
    let mut sigs = big_ruleset(2_000);
    let mut t = payload_rule(90_001, "pattern");
    t.threshold = Some(Threshold { kind: ThresholdKind::Both, track: Track::ByBoth, count: 5, seconds: 1 });
    sigs.push(t);
    sigs.push(fb(payload_rule(90_002, "pattern"), vec![FlowbitOp::Toggle(2)]));
    let mut r = payload_rule(90_003, "pattern");
    r.rate_filter =
        Some(RateFilter { track: Track::BySrc, count: 2, seconds: 1, new_action: Action::Alert, timeout: 1 });
    r.suppress.push(SuppressTrack::ByDst(AddrSet { allow: vec![(ip(192, 168, 1, 0), 24)], deny: vec![] }));
    sigs.push(r);
    let (rs, report) = Ruleset::build_with(sigs, 8, mpm);
    assert!(report.failed.is_empty());
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    let bufs = Bufs(vec![(Buffer::HttpUri, vec![b"/path/3.php"]), (Buffer::HttpHeader, vec![b"Host: x\r\n"])]);
    let payloads: [&[u8]; 3] = [b"pattern-0-0 and more pattern text", b"", b"nothing here at all"];
    let mut alerts = 0u64;
    let mut round = |ctx: &mut DetectCtx, flow: &mut FlowDetect, i: u64| {
        for pl in payloads {
            let mut p = pkt(pl);
            p.ts_ns = i * S / 10;
            p.src = ip(10, 0, 0, (i % 4) as u8);
            rs.detect_packet(ctx, flow, &p, &mut |_| alerts += 1);
        }
        let t = tx(&bufs, i % 4, true);
        rs.detect_tx(ctx, flow, &t, &mut |_| alerts += 1);
    };
    for i in 0..100 {
        round(&mut ctx, &mut flow, i);
    }
    let probe = thread_allocs();
    drop(std::hint::black_box(vec![0u8; 16]));
    assert!(thread_allocs() > probe, "the counting allocator is active");
    let before = thread_allocs();
    for i in 100..1100 {
        round(&mut ctx, &mut flow, i);
    }
    assert_eq!(thread_allocs() - before, 0, "{mpm:?}");
    assert!(alerts > 0);
    assert!(ctx.stats.threshold_suppressed > 0);
}
