//! Verdict tests: action scope (packet vs flow), flow drop, action order, threshold.config
//! rate filters and suppressions, and when app-layer-only rules see the app protocol.

use super::super::ir::*;
use super::tests::{build, ip, payload_rule, pkt, run, sig};
use super::*;

const S: u64 = 1_000_000_000;

/// An IP-only rule (addresses and protocol only): its drop / pass reaches the flow.
fn ip_only(sid: u32, action: Action) -> Signature {
    Signature { action, ..sig(sid) }
}

/// (sid, action) of the alerts for one packet.
fn verdicts(rs: &Ruleset, ctx: &mut DetectCtx, flow: &mut FlowDetect, p: &PacketView<'_>) -> Vec<(u32, Action)> {
    let mut v = Vec::new();
    rs.detect_packet(ctx, flow, p, &mut |a| v.push((rs.signature(a.sig).sid, a.action)));
    v
}

#[test]
fn an_ip_only_pass_passes_the_flow() {
    let rs = build(vec![ip_only(1, Action::Pass), payload_rule(2, "bad")]);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"bad")), Vec::<u32>::new());
    assert!(flow.passed());
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"bad")), Vec::<u32>::new());
}

#[test]
fn a_flow_scoped_drop_drops_the_rest_of_the_flow_and_a_payload_drop_only_its_packet() {
    let mut from_a = ip_only(1, Action::Drop);
    from_a.src.allow.push((ip(10, 0, 0, 1), 32));
    let mut payload_drop = payload_rule(2, "evil");
    payload_drop.action = Action::Drop;
    let rs = build(vec![from_a, payload_drop, payload_rule(3, "evil")]);

    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(
        verdicts(&rs, &mut ctx, &mut flow, &pkt(b"evil")),
        vec![(1, Action::Drop), (2, Action::Drop), (3, Action::Alert)]
    );
    assert!(flow.dropped());
    assert_eq!(verdicts(&rs, &mut ctx, &mut flow, &pkt(b"evil")), vec![], "the dropped flow is not inspected");
    assert_eq!((ctx.stats.dropped, ctx.stats.flow_dropped), (1, 1));

    let mut other = pkt(b"evil");
    other.src = ip(10, 0, 0, 2);
    let mut flow = FlowDetect::default();
    for _ in 0..2 {
        assert_eq!(verdicts(&rs, &mut ctx, &mut flow, &other), vec![(2, Action::Drop), (3, Action::Alert)]);
    }
    assert!(!flow.dropped(), "a payload rule's drop stays with its packet");
}

#[test]
fn the_action_order_decides_between_drop_and_pass() {
    let mut drop = payload_rule(2, "Hi all");
    drop.action = Action::Drop;
    let sigs = || vec![ip_only(1, Action::Pass), drop.clone(), ip_only(3, Action::Alert)];

    // Default order (pass first): the IP-only pass takes the flow before the drop is seen.
    let rs = build(sigs());
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"Hi all!")), Vec::<u32>::new());
    assert!(flow.passed());

    // drop,pass,reject,alert: every packet alerts on the drop; the pass then ends the packet
    // but cannot pass a flow whose packet was dropped.
    let order: ActionOrder = "drop,pass,reject,alert".parse().unwrap();
    let (rs, _) = Ruleset::build_with(sigs(), 8, BuildOptions { action_order: order, ..BuildOptions::default() });
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    for _ in 0..3 {
        assert_eq!(run(&rs, &mut ctx, &mut flow, &pkt(b"Hi all!")), vec![2]);
    }
    assert!(!flow.passed() && !flow.dropped());
}

#[test]
fn an_action_order_must_name_each_action_once() {
    assert!("drop,pass,alert".parse::<ActionOrder>().is_err());
    assert!("drop,drop,reject,alert".parse::<ActionOrder>().is_err());
    assert!("drop,pass,reject,log".parse::<ActionOrder>().is_err());
    assert_eq!("alert,pass,drop,reject".parse::<ActionOrder>().map(|o| o.rank(Action::Alert)), Ok(0));
}

#[test]
fn a_rate_filter_switches_the_action_per_source_until_its_timeout() {
    let mut r = ip_only(1, Action::Alert);
    r.rate_filter =
        Some(RateFilter { track: Track::BySrc, count: 1, seconds: 60, new_action: Action::Drop, timeout: 10 });
    let rs = build(vec![r]);
    let mut ctx = DetectCtx::new(&rs);
    let at = |src: u8, secs: u64| {
        let mut p = pkt(b"x");
        p.src = ip(10, 0, 0, src);
        p.ts_ns = 1_000 * S + secs * S;
        p
    };
    // Each packet on a fresh flow, so only the filter decides.
    let mut one = |p: &PacketView<'_>| verdicts(&rs, &mut ctx, &mut FlowDetect::default(), p);
    assert_eq!(one(&at(1, 0)), vec![(1, Action::Alert)]);
    assert_eq!(one(&at(2, 0)), vec![(1, Action::Alert)], "another source has its own count");
    assert_eq!(one(&at(1, 1)), vec![(1, Action::Drop)], "the second match in the window is over count 1");
    assert_eq!(one(&at(1, 5)), vec![(1, Action::Drop)], "the new action holds for the timeout");
    assert_eq!(one(&at(1, 12)), vec![(1, Action::Alert)], "and ends after it");
}

#[test]
fn a_rate_filter_to_pass_ends_the_flow_without_an_alert() {
    let mut r = Signature { app: Some(AppLayer::Http), ..sig(1) };
    r.rate_filter =
        Some(RateFilter { track: Track::ByRule, count: 1, seconds: 60, new_action: Action::Pass, timeout: 60 });
    let rs = build(vec![r]);
    let mut ctx = DetectCtx::new(&rs);
    let mut flow = FlowDetect::default();
    let mut p = pkt(b"");
    p.app = Some(AppLayer::Http);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &p), vec![1]);
    assert_eq!(run(&rs, &mut ctx, &mut flow, &p), Vec::<u32>::new());
    assert!(flow.passed());
}

#[test]
fn a_suppressed_drop_still_drops_but_raises_no_alert() {
    let mut r = payload_rule(1, "x");
    r.action = Action::Drop;
    r.suppress.push(SuppressTrack::BySrc(AddrSet { allow: vec![(ip(10, 0, 0, 0), 8)], deny: vec![] }));
    let rs = build(vec![r]);
    let mut ctx = DetectCtx::new(&rs);
    assert_eq!(run(&rs, &mut ctx, &mut FlowDetect::default(), &pkt(b"x")), Vec::<u32>::new());
    assert_eq!((ctx.stats.dropped, ctx.stats.threshold_suppressed), (1, 1));
    let mut p = pkt(b"x");
    p.src = ip(172, 16, 0, 1);
    assert_eq!(run(&rs, &mut ctx, &mut FlowDetect::default(), &p), vec![1]);
}

#[test]
fn app_layer_only_rules_wait_until_the_app_protocol_is_ready() {
    let rs = build(vec![Signature { app: Some(AppLayer::Http), ..sig(1) }]);
    let mut ctx = DetectCtx::new(&rs);
    let mut p = pkt(b"GET / HTTP/1.1\r\n");
    p.app = Some(AppLayer::Http);
    p.app_ready = false;
    assert_eq!(run(&rs, &mut ctx, &mut FlowDetect::default(), &p), Vec::<u32>::new());
    p.app_ready = true;
    assert_eq!(run(&rs, &mut ctx, &mut FlowDetect::default(), &p), vec![1]);
}
