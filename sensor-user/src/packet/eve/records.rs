//! The record bodies: flow, http, dns, tls, ssh and anomaly, with Suricata's field names.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use sensor_common::flow::{FlowKey, family, proto, tcp_flags};

use super::{EveWriter, Json, RecordType, community_id};
use crate::packet::{
    Direction,
    app::{
        AppProto,
        dns::{DnsData, DnsMessage, rcode_name, rrtype_name},
        http::HttpTx,
        ssh::SshBanner,
        tls::TlsInfo,
    },
    flow::{EndReason, Flow},
};

/// What app-layer records need to know about their flow.
#[derive(Clone, Copy, Debug)]
pub struct FlowCtx {
    /// Flow id.
    pub id: u64,
    /// Key in client-to-server order.
    pub key: FlowKey,
    /// ICMP type/code of the first packet.
    pub icmp: Option<(u8, u8)>,
}

impl FlowCtx {
    /// The context of `flow`.
    pub fn of(flow: &Flow) -> Self {
        Self { id: flow.id, key: flow.key, icmp: flow.icmp[0].or(flow.icmp[1]) }
    }
}

/// An address field of `family` as an [`IpAddr`].
pub fn ip(bytes: &[u8; 16], fam: u8) -> IpAddr {
    if fam == family::V4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    }
}

/// Suricata's `proto` string.
pub fn proto_name(p: u8) -> &'static str {
    match p {
        proto::TCP => "TCP",
        proto::UDP => "UDP",
        proto::ICMP => "ICMP",
        proto::ICMPV6 => "IPv6-ICMP",
        47 => "GRE",
        50 => "ESP",
        51 => "AH",
        132 => "SCTP",
        _ => "",
    }
}

fn tuple(j: &mut Json<'_>, key: &FlowKey, dir: Direction) {
    let k = if dir == Direction::ToServer { *key } else { key.reversed() };
    j.fmt("src_ip", format_args!("{}", ip(&k.saddr, k.family)));
    let ported = matches!(k.proto, proto::TCP | proto::UDP | 132);
    if ported {
        j.u64("src_port", u64::from(k.sport));
    }
    j.fmt("dest_ip", format_args!("{}", ip(&k.daddr, k.family)));
    if ported {
        j.u64("dest_port", u64::from(k.dport));
    }
    match proto_name(k.proto) {
        "" => j.u64("proto", u64::from(k.proto)),
        name => j.str("proto", name),
    };
    if k.vlan != 0 {
        j.fmt("vlan", format_args!("{}", k.vlan));
    }
}

impl EveWriter {
    fn header(j: &mut Json<'_>, ctx: &FlowCtx, dir: Direction) {
        j.u64("flow_id", ctx.id);
        tuple(j, &ctx.key, dir);
    }

    /// A `flow` record for `flow`, ending (or logged at an active timeout) for `reason`.
    pub fn flow(&mut self, flow: &Flow, reason: EndReason) {
        if let Some(l) = self.lake() {
            l.flow(flow, reason);
        }
        if !self.wants(RecordType::Flow) {
            return;
        }
        let ctx = FlowCtx::of(flow);
        let cid = community_id(&flow.key, ctx.icmp);
        self.record(RecordType::Flow, flow.last_ns, |j| {
            Self::header(j, &ctx, Direction::ToServer);
            if let Some((t, c)) = flow.icmp[0] {
                j.u64("icmp_type", u64::from(t)).u64("icmp_code", u64::from(c));
            }
            if let Some((t, c)) = flow.icmp[1] {
                j.u64("response_icmp_type", u64::from(t)).u64("response_icmp_code", u64::from(c));
            }
            if !matches!(flow.app.proto, AppProto::Unknown) {
                j.str("app_proto", flow.app.proto.name());
            }
            j.obj("flow", |o| {
                o.u64("pkts_toserver", flow.pkts[0])
                    .u64("pkts_toclient", flow.pkts[1])
                    .u64("bytes_toserver", flow.bytes[0])
                    .u64("bytes_toclient", flow.bytes[1]);
                o.key_timestamp("start", flow.first_ns);
                o.key_timestamp("end", flow.last_ns);
                o.u64("age", (flow.last_ns.saturating_sub(flow.first_ns)) / 1_000_000_000)
                    .str("state", flow.state.name())
                    .str("reason", reason.name())
                    .bool("alerted", flow.alerted);
            });
            j.str("community_id", &cid);
            if flow.key.proto == proto::TCP {
                let all = flow.tcp_flags[0] | flow.tcp_flags[1];
                j.obj("tcp", |t| {
                    t.fmt("tcp_flags", format_args!("{all:02x}"))
                        .fmt("tcp_flags_ts", format_args!("{:02x}", flow.tcp_flags[0]))
                        .fmt("tcp_flags_tc", format_args!("{:02x}", flow.tcp_flags[1]));
                    for (bit, name) in [
                        (tcp_flags::SYN, "syn"),
                        (tcp_flags::FIN, "fin"),
                        (tcp_flags::RST, "rst"),
                        (tcp_flags::PSH, "psh"),
                        (tcp_flags::ACK, "ack"),
                    ] {
                        if all & bit != 0 {
                            t.bool(name, true);
                        }
                    }
                    t.str("state", flow.tcp.name());
                });
            }
        });
    }

    /// An `http` record.
    pub fn http(&mut self, ts_ns: u64, ctx: &FlowCtx, tx: &HttpTx) {
        if let Some(l) = self.lake() {
            l.http(ts_ns, ctx, tx);
        }
        self.record(RecordType::Http, ts_ns, |j| {
            Self::header(j, ctx, Direction::ToServer);
            j.obj("http", |h| {
                h.opt_bytes("hostname", tx.host.as_deref());
                h.bytes("url", &tx.uri_raw);
                h.opt_bytes("http_user_agent", tx.user_agent.as_deref());
                h.opt_bytes("http_content_type", tx.response_content_type.as_deref());
                h.opt_bytes("http_refer", tx.referer.as_deref());
                h.bytes("http_method", &tx.method);
                if !tx.protocol.is_empty() {
                    h.bytes("protocol", &tx.protocol);
                }
                if let Some(s) = tx.status {
                    h.u64("status", u64::from(s));
                }
                h.opt_bytes("redirect", tx.location.as_deref());
                h.u64("length", tx.response_body_len);
            });
        });
    }

    /// A `dns` record per question of a query, or one answer record for a response.
    pub fn dns(&mut self, ts_ns: u64, ctx: &FlowCtx, dir: Direction, msg: &DnsMessage) {
        if let Some(l) = self.lake() {
            l.dns(ts_ns, ctx, dir, msg);
        }
        if !msg.response {
            for q in &msg.queries {
                self.record(RecordType::Dns, ts_ns, |j| {
                    Self::header(j, ctx, dir);
                    j.obj("dns", |d| {
                        d.str("type", "query")
                            .u64("id", u64::from(msg.id))
                            .bytes("rrname", &q.name)
                            .str("rrtype", &rrtype_name(q.rrtype))
                            .u64("opcode", u64::from(msg.opcode));
                    });
                });
            }
            return;
        }
        self.record(RecordType::Dns, ts_ns, |j| {
            Self::header(j, ctx, dir);
            j.obj("dns", |d| {
                d.u64("version", 2)
                    .str("type", "answer")
                    .u64("id", u64::from(msg.id))
                    .fmt("flags", format_args!("{:x}", msg.flags))
                    .bool("qr", true);
                for (bit, name) in [(0x0400u16, "aa"), (0x0200, "tc"), (0x0100, "rd"), (0x0080, "ra")] {
                    if msg.flags & bit != 0 {
                        d.bool(name, true);
                    }
                }
                d.u64("opcode", u64::from(msg.opcode));
                if let Some(q) = msg.queries.first() {
                    d.bytes("rrname", &q.name).str("rrtype", &rrtype_name(q.rrtype));
                }
                d.str("rcode", &rcode_name(msg.rcode));
                if !msg.answers.is_empty() {
                    d.arr("answers", &msg.answers, |a, r| {
                        a.bytes("rrname", &r.name).str("rrtype", &rrtype_name(r.rrtype)).u64("ttl", u64::from(r.ttl));
                        match &r.data {
                            DnsData::A(v4) => {
                                a.fmt("rdata", format_args!("{v4}"));
                            }
                            DnsData::Aaaa(v6) => {
                                a.fmt("rdata", format_args!("{v6}"));
                            }
                            DnsData::Name(n) => {
                                a.bytes("rdata", n);
                            }
                            DnsData::Mx { exchange, .. } => {
                                a.bytes("rdata", exchange);
                            }
                            DnsData::Srv { target, .. } => {
                                a.bytes("rdata", target);
                            }
                            DnsData::Txt(parts) => {
                                a.bytes("rdata", &parts.concat());
                            }
                            DnsData::Soa { mname, .. } => {
                                a.bytes("rdata", mname);
                            }
                            DnsData::Other(_) => {}
                        }
                    });
                }
            });
        });
    }

    /// A `tls` record.
    pub fn tls(&mut self, ts_ns: u64, ctx: &FlowCtx, info: &TlsInfo) {
        if let Some(l) = self.lake() {
            l.tls(ts_ns, ctx, info);
        }
        self.record(RecordType::Tls, ts_ns, |j| {
            Self::header(j, ctx, Direction::ToServer);
            j.obj("tls", |t| {
                if let Some(c) = &info.cert {
                    t.str("subject", &c.subject)
                        .str("issuerdn", &c.issuer)
                        .str("serial", &c.serial)
                        .str("fingerprint", &c.fingerprint);
                }
                if let Some(sni) = &info.sni {
                    t.str("sni", sni);
                }
                t.str("version", tls_version_name(info.version.unwrap_or(info.client_version)));
                if let Some(c) = &info.cert {
                    t.str("notbefore", &c.not_before).str("notafter", &c.not_after);
                }
                if let (Some(h), Some(s)) = (&info.ja3_hash, &info.ja3_string) {
                    t.obj("ja3", |o| {
                        o.str("hash", h).str("string", s);
                    });
                }
                if let (Some(h), Some(s)) = (&info.ja3s_hash, &info.ja3s_string) {
                    t.obj("ja3s", |o| {
                        o.str("hash", h).str("string", s);
                    });
                }
                if let Some(ja4) = &info.ja4 {
                    t.str("ja4", ja4);
                }
            });
        });
    }

    /// An `ssh` record.
    pub fn ssh(&mut self, ts_ns: u64, ctx: &FlowCtx, client: Option<&SshBanner>, server: Option<&SshBanner>) {
        self.record(RecordType::Ssh, ts_ns, |j| {
            Self::header(j, ctx, Direction::ToServer);
            j.obj("ssh", |s| {
                for (name, banner) in [("client", client), ("server", server)] {
                    if let Some(b) = banner {
                        s.obj(name, |o| {
                            o.str("proto_version", &b.proto_version).str("software_version", &b.software_version);
                        });
                    }
                }
            });
        });
    }

    /// An application-layer `anomaly` record.
    pub fn app_anomaly(&mut self, ts_ns: u64, ctx: &FlowCtx, app: &str, event: &str) {
        self.record(RecordType::Anomaly, ts_ns, |j| {
            Self::header(j, ctx, Direction::ToServer);
            j.obj("anomaly", |a| {
                a.str("app_proto", app).str("type", "applayer").str("event", event).str("layer", "proto_parser");
            });
        });
    }

    /// A decoder `anomaly` record (no flow: the packet did not decode far enough).
    pub fn decode_anomaly(&mut self, ts_ns: u64, event: &str) {
        self.record(RecordType::Anomaly, ts_ns, |j| {
            j.obj("anomaly", |a| {
                a.str("type", "decode").str("event", event);
            });
        });
    }
}

/// Suricata's names for TLS versions.
pub fn tls_version_name(v: u16) -> &'static str {
    match v {
        0x0002 => "SSLv2",
        0x0300 => "SSLv3",
        0x0301 => "TLSv1",
        0x0302 => "TLS 1.1",
        0x0303 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => "UNDETERMINED",
    }
}
