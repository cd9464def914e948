//! [`Ruleset::build`]: compiles every rule's buffers, orders the rules like Suricata's
//! SCSigOrderSignatures (action, flowbits setters before readers, priority, sid), chooses each
//! rule's fast pattern and builds the per-group prefilters and always-inspect lists.

use super::super::inspect::{CompiledBuffer, fold};
use super::super::ir::{AppLayer, Buffer, Content, Element, Signature};
use super::prefilter::{Mpm, PrefilterBuilder};
use super::{
    BufferPrefilterStats, BuildOptions, BuildReport, Group, PrefilterStats, Rule, Ruleset, TxDir, flowbits, header,
};

const PACKET_GROUP_NAMES: [&str; 4] = ["tcp", "udp", "icmp", "other"];
const TX_GROUP_NAMES: [&str; 8] = [
    "http-toserver",
    "http-toclient",
    "tls-toserver",
    "tls-toclient",
    "dns-toserver",
    "dns-toclient",
    "ssh-toserver",
    "ssh-toclient",
];

/// Index of an app layer in the tx groups.
pub(crate) fn app_index(a: AppLayer) -> usize {
    match a {
        AppLayer::Http => 0,
        AppLayer::Tls => 1,
        AppLayer::Dns => 2,
        AppLayer::Ssh => 3,
    }
}

/// Which side of a transaction produces a buffer: Some(true) request only, Some(false)
/// response only, None either (direction-specific buffers).
fn buffer_side(b: Buffer) -> Option<bool> {
    use Buffer::*;
    match b {
        HttpUri | HttpUriRaw | HttpMethod | HttpRequestLine | HttpHost | HttpHostRaw | HttpUserAgent | HttpAccept
        | HttpAcceptEnc | HttpAcceptLang | HttpReferer | HttpRequestBody | DnsQuery | TlsSni | Ja3Hash | Ja3String
        | Ja4Hash => Some(true),
        HttpStatCode | HttpStatMsg | HttpResponseLine | HttpLocation | HttpServer | HttpResponseBody
        | TlsCertSubject | TlsCertIssuer | TlsCertSerial | TlsCerts | Ja3sHash | Ja3sString => Some(false),
        _ => None,
    }
}

/// The side an app rule is inspected on: `flow:` direction if given, else to-client as soon as
/// a response buffer is used, else to-server if a request buffer is used, else both.
fn tx_dir(s: &Signature) -> TxDir {
    match s.flow.to_server {
        Some(true) => return TxDir::ToServer,
        Some(false) => return TxDir::ToClient,
        None => {}
    }
    let sides = || s.buffers.iter().filter_map(|b| buffer_side(b.buffer));
    if sides().any(|x| !x) {
        TxDir::ToClient
    } else if sides().any(|x| x) || s.urilen.is_some() {
        TxDir::ToServer
    } else {
        TxDir::Both
    }
}

/// Options that make a rule a packet rule in Suricata's typing (flow direction and state,
/// packet header fields, sizes).
fn packet_keywords(s: &Signature) -> bool {
    s.flow != Default::default()
        || s.dsize.is_some()
        || s.urilen.is_some()
        || s.itype.is_some()
        || s.icode.is_some()
        || s.icmp_id.is_some()
        || s.icmp_seq.is_some()
        || s.ip_proto.is_some()
        || s.ttl.is_some()
        || s.tcp_flags.is_some()
        || s.tcp_seq.is_some()
        || s.tcp_ack.is_some()
        || s.tcp_window.is_some()
        || s.stream_size.is_some()
}

/// Does a `drop` / `pass` of this rule apply to the whole flow (Suricata's action scope)? For
/// IP-only rules (addresses, ports and protocol only), app-layer protocol rules without
/// packet options, and transaction rules; not for packet and payload rules.
fn flow_scoped(s: &Signature, is_app: bool) -> bool {
    is_app || (s.buffers.is_empty() && !packet_keywords(s) && !flowbits::reads(&s.flowbits))
}

/// The rule's fast pattern: (buffer, folded bytes). The explicit `fast_pattern` content, else
/// the longest non-negated content, app buffers preferred over the payload. None when there is
/// no usable (non-negated, non-empty) content.
fn fast_pattern(s: &Signature) -> Option<(Buffer, Vec<u8>)> {
    let contents = || {
        s.buffers.iter().flat_map(|b| {
            b.elements.iter().filter_map(move |e| match e {
                Element::Content(c) => Some((b.buffer, c)),
                _ => None,
            })
        })
    };
    let chosen: Option<(Buffer, &Content)> = match contents().find(|(_, c)| c.fast_pattern) {
        Some((b, c)) => (!c.negated).then_some((b, c)),
        None => {
            let mut best: Option<(Buffer, &Content)> = None;
            for (b, c) in contents().filter(|(_, c)| !c.negated && !c.pattern.is_empty()) {
                let better = best.is_none_or(|(bb, bc)| {
                    (b != Buffer::Payload, c.pattern.len()) > (bb != Buffer::Payload, bc.pattern.len())
                });
                if better {
                    best = Some((b, c));
                }
            }
            best
        }
    };
    let (b, c) = chosen?;
    let bytes = match c.fast_pattern_chop {
        Some((off, len)) => {
            let start = usize::from(off).min(c.pattern.len());
            let end = start.saturating_add(usize::from(len)).min(c.pattern.len());
            c.pattern.get(start..end).unwrap_or(&[])
        }
        None => &c.pattern[..],
    };
    (!bytes.is_empty()).then(|| (b, fold(bytes)))
}

/// Per-group builders while collecting.
#[derive(Default)]
struct GroupBuilder {
    buffers: Vec<(Buffer, PrefilterBuilder)>,
    always: Vec<u32>,
}

impl GroupBuilder {
    fn add(&mut self, fp: Option<&(Buffer, Vec<u8>)>, rule: u32) {
        match fp {
            Some((b, pat)) => {
                let i = match self.buffers.iter().position(|(x, _)| x == b) {
                    Some(i) => i,
                    None => {
                        self.buffers.push((*b, PrefilterBuilder::default()));
                        self.buffers.len() - 1
                    }
                };
                self.buffers[i].1.add(pat, rule);
            }
            None => self.always.push(rule),
        }
    }

    fn finish(self, name: &'static str, mpm: Mpm, stats: &mut PrefilterStats) -> Group {
        let mut g = Group { prefilters: Vec::new(), always: self.always };
        g.always.sort_unstable();
        for (b, pb) in self.buffers {
            // Both matchers refuse only absurd sizes; should they, the rules are moved to the
            // always list rather than lost.
            let rules: Vec<u32> = pb.rule_ids();
            match pb.build(b, mpm) {
                Ok(pf) => {
                    stats.buffers.push(BufferPrefilterStats {
                        group: name,
                        buffer: b,
                        patterns: pf.patterns(),
                        rules: pf.rule_count(),
                        mpm: pf.mpm(),
                        bytes: pf.matcher_bytes(),
                        fallback: pf.fallback().map(str::to_owned),
                    });
                    g.prefilters.push(pf);
                }
                Err(_) => {
                    g.always.extend(rules);
                    g.always.sort_unstable();
                    g.always.dedup();
                }
            }
        }
        g
    }
}

impl Ruleset {
    /// Builds the groups and prefilters with the default matcher ([`Mpm::Hyperscan`]).
    pub fn build(sigs: Vec<Signature>, flowbit_count: usize) -> (Ruleset, BuildReport) {
        Self::build_with(sigs, flowbit_count, Mpm::default())
    }

    /// Builds the groups and prefilters with `opts` (a [`Mpm`] alone keeps the default action
    /// order). Rules whose buffers fail to compile are returned in `BuildReport.failed` with
    /// (index into `sigs`, error) and are left out.
    pub fn build_with(
        sigs: Vec<Signature>,
        flowbit_count: usize,
        opts: impl Into<BuildOptions>,
    ) -> (Ruleset, BuildReport) {
        let BuildOptions { mpm, action_order } = opts.into();
        let mut report = BuildReport::default();
        let mut rules: Vec<Rule> = Vec::with_capacity(sigs.len());
        for (i, sig) in sigs.into_iter().enumerate() {
            let compiled: Result<Vec<CompiledBuffer>, _> = sig.buffers.iter().map(CompiledBuffer::new).collect();
            match compiled {
                Ok(bufs) => {
                    let is_app = sig.urilen.is_some() || sig.buffers.iter().any(|b| b.buffer != Buffer::Payload);
                    let fb_checks = flowbits::reads(&sig.flowbits);
                    let tx_dir = tx_dir(&sig);
                    let flow_scope = flow_scoped(&sig, is_app);
                    rules.push(Rule { sig, bufs, is_app, tx_dir, fb_checks, flow_scope });
                }
                Err(e) => report.failed.push((i, e)),
            }
        }
        // Suricata's order; the sort is stable so equal sids keep load order.
        rules.sort_by_key(|r| {
            let action = action_order.rank(r.sig.action);
            (action, flowbits::order_class(&r.sig.flowbits), r.sig.priority, r.sig.sid, r.sig.gid)
        });

        let mut stats = PrefilterStats::default();
        let mut packet: [GroupBuilder; 4] = Default::default();
        let mut tx: [GroupBuilder; 8] = Default::default();
        for (id, r) in rules.iter().enumerate() {
            let id = id as u32;
            let fp = fast_pattern(&r.sig);
            if fp.is_none() {
                stats.no_fast_pattern += 1;
            }
            if r.is_app {
                stats.app_rules += 1;
                let apps: &[AppLayer] = match r.sig.app {
                    Some(ref a) => std::slice::from_ref(a),
                    None => &[AppLayer::Http, AppLayer::Tls, AppLayer::Dns, AppLayer::Ssh],
                };
                for &a in apps {
                    let base = app_index(a) * 2;
                    if r.tx_dir != TxDir::ToClient {
                        tx[base].add(fp.as_ref(), id);
                    }
                    if r.tx_dir != TxDir::ToServer {
                        tx[base + 1].add(fp.as_ref(), id);
                    }
                }
            } else {
                stats.packet_rules += 1;
                for (g, gb) in packet.iter_mut().enumerate() {
                    if header::transport_in_group(r.sig.transport, g) {
                        gb.add(fp.as_ref(), id);
                    }
                }
            }
        }
        let mut pi = 0;
        let packet_groups = packet.map(|gb| {
            let g = gb.finish(PACKET_GROUP_NAMES[pi], mpm, &mut stats);
            pi += 1;
            g
        });
        let mut ti = 0;
        let tx_groups = tx.map(|gb| {
            let g = gb.finish(TX_GROUP_NAMES[ti], mpm, &mut stats);
            ti += 1;
            g
        });
        let max_vars = rules.iter().map(|r| usize::from(r.sig.vars)).max().unwrap_or(0);
        let max_captures =
            rules.iter().flat_map(|r| r.bufs.iter().map(CompiledBuffer::max_captures)).max().unwrap_or(0);
        let has_thresholds = rules
            .iter()
            .any(|r| r.sig.threshold.is_some() || r.sig.detection_filter.is_some() || r.sig.rate_filter.is_some());
        let rs = Ruleset {
            rules,
            flowbit_words: flowbit_count.div_ceil(64),
            packet_groups,
            tx_groups,
            max_vars,
            max_captures,
            has_thresholds,
            stats,
        };
        (rs, report)
    }
}
