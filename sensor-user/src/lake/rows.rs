//! What each record becomes as a lake row: the mapping from the pipeline's, the kernel's,
//! the agents' and the governor's types to the columns of [`super::schema`], in order.

use std::net::IpAddr;

use sensor_common::flow::{FlowKey, proto};

use super::{Row, Table, sink::LakeSink};
use crate::{
    agents::{
        event::{AuthEvent, AuthOutcome},
        finding::Finding,
    },
    correlate::{incident::Incident, stage::Stage},
    event::Event,
    packet::{
        Direction,
        app::{
            AppProto,
            dns::{DnsData, DnsMessage, rcode_name, rrtype_name},
            http::HttpTx,
            tls::TlsInfo,
        },
        eve::{AlertCtx, FlowCtx, ip, proto_name, tls_version_name},
        flow::{EndReason, Flow},
    },
    respond::decision::Decision,
    rules::ir::Signature,
};

fn proto_col(r: &mut Row<'_>, p: u8) {
    match proto_name(p) {
        "" => r.fmt(format_args!("{p}")),
        name => r.str(name),
    };
}

fn tuple(r: &mut Row<'_>, key: &FlowKey, dir: Direction) {
    let k = if dir == Direction::ToServer { *key } else { key.reversed() };
    let ported = matches!(k.proto, proto::TCP | proto::UDP | 132);
    r.fmt(format_args!("{}", ip(&k.saddr, k.family)));
    r.opt_u64(ported.then_some(u64::from(k.sport)));
    r.fmt(format_args!("{}", ip(&k.daddr, k.family)));
    r.opt_u64(ported.then_some(u64::from(k.dport)));
    proto_col(r, k.proto);
}

fn opt_ip(r: &mut Row<'_>, a: Option<IpAddr>) {
    match a {
        Some(a) => r.fmt(format_args!("{a}")),
        None => r.null(),
    };
}

/// A NUL-terminated kernel string as text, borrowed when it is valid UTF-8 (no allocation
/// per event in the common case).
fn text(bytes: &[u8], len: usize) -> std::borrow::Cow<'_, str> {
    let b = &bytes[..len.min(bytes.len())];
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end])
}

fn proc_cols(r: &mut Row<'_>, p: &sensor_common::event::ProcInfo) {
    r.u64(u64::from(p.tgid))
        .u64(u64::from(p.pid))
        .u64(u64::from(p.ppid))
        .u64(u64::from(p.uid))
        .u64(u64::from(p.gid))
        .u64(p.cgroup_id)
        .str(&text(&p.comm, p.comm.len()));
}

impl LakeSink {
    /// A `flows` row.
    pub fn flow(&mut self, flow: &Flow, reason: EndReason) {
        let ctx = FlowCtx::of(flow);
        self.row(Table::Flows, flow.last_ns, |r| {
            r.u64(flow.id);
            r.str(&crate::packet::eve::community_id(&flow.key, ctx.icmp));
            tuple(r, &flow.key, Direction::ToServer);
            r.opt_str((!matches!(flow.app.proto, AppProto::Unknown)).then(|| flow.app.proto.name()));
            r.ts(flow.first_ns)
                .u64(flow.pkts[0])
                .u64(flow.pkts[1])
                .u64(flow.bytes[0])
                .u64(flow.bytes[1])
                .str(flow.state.name())
                .str(reason.name())
                .bool(flow.alerted);
            if flow.key.proto == proto::TCP {
                r.fmt(format_args!("{:02x}", flow.tcp_flags[0] | flow.tcp_flags[1]));
            } else {
                r.null();
            }
            r.opt_u64(flow.icmp[0].map(|(t, _)| u64::from(t)));
            r.opt_u64(flow.icmp[0].map(|(_, c)| u64::from(c)));
            if flow.key.proto == proto::TCP {
                r.fmt(format_args!("{:02x}", flow.tcp_flags[0]));
                r.fmt(format_args!("{:02x}", flow.tcp_flags[1]));
            } else {
                r.null().null();
            }
        });
    }

    /// An `http` row.
    pub fn http(&mut self, ts_ns: u64, ctx: &FlowCtx, tx: &HttpTx) {
        self.row(Table::Http, ts_ns, |r| {
            r.u64(ctx.id);
            tuple(r, &ctx.key, Direction::ToServer);
            r.opt_bytes(tx.host.as_deref())
                .bytes(&tx.uri_raw)
                .bytes(&tx.method)
                .opt_bytes((!tx.protocol.is_empty()).then_some(&tx.protocol[..]))
                .opt_u64(tx.status.map(u64::from))
                .opt_bytes(tx.user_agent.as_deref())
                .opt_bytes(tx.response_content_type.as_deref())
                .opt_bytes(tx.referer.as_deref())
                .u64(tx.response_body_len);
        });
    }

    /// `dns` rows: one per query name, or one for an answer message.
    pub fn dns(&mut self, ts_ns: u64, ctx: &FlowCtx, dir: Direction, msg: &DnsMessage) {
        if !msg.response {
            for q in &msg.queries {
                self.row(Table::Dns, ts_ns, |r| {
                    r.u64(ctx.id);
                    tuple(r, &ctx.key, dir);
                    r.str("query").u64(u64::from(msg.id)).bytes(&q.name).str(&rrtype_name(q.rrtype));
                });
            }
            return;
        }
        self.row(Table::Dns, ts_ns, |r| {
            r.u64(ctx.id);
            tuple(r, &ctx.key, dir);
            r.str("answer").u64(u64::from(msg.id));
            match msg.queries.first() {
                Some(q) => r.bytes(&q.name).str(&rrtype_name(q.rrtype)),
                None => r.null().null(),
            };
            r.str(&rcode_name(msg.rcode));
            r.join(msg.answers.iter().filter_map(|a| rdata(&a.data)));
            r.opt_u64(msg.answers.iter().map(|a| u64::from(a.ttl)).min());
        });
    }

    /// A `tls` row.
    pub fn tls(&mut self, ts_ns: u64, ctx: &FlowCtx, info: &TlsInfo) {
        self.row(Table::Tls, ts_ns, |r| {
            r.u64(ctx.id);
            tuple(r, &ctx.key, Direction::ToServer);
            r.opt_str(info.sni.as_deref()).str(tls_version_name(info.version.unwrap_or(info.client_version)));
            let c = info.cert.as_ref();
            r.opt_str(c.map(|c| c.subject.as_str()))
                .opt_str(c.map(|c| c.issuer.as_str()))
                .opt_str(c.map(|c| c.fingerprint.as_str()))
                .opt_str(info.ja3_hash.as_deref())
                .opt_str(info.ja3s_hash.as_deref())
                .opt_str(info.ja4.as_deref());
        });
    }

    /// An `alerts` row.
    pub fn alert(&mut self, a: &AlertCtx, sig: &Signature) {
        self.row(Table::Alerts, a.ts_ns, |r| {
            r.opt_u64(a.flow_id);
            let ported = matches!(a.proto, 6 | 17 | 132);
            r.fmt(format_args!("{}", a.src)).opt_u64(ported.then_some(u64::from(a.sport)));
            r.fmt(format_args!("{}", a.dst)).opt_u64(ported.then_some(u64::from(a.dport)));
            proto_col(r, a.proto);
            r.str(if a.blocked { "blocked" } else { "allowed" })
                .u64(u64::from(sig.gid))
                .u64(u64::from(sig.sid))
                .u64(u64::from(sig.rev))
                .str(&sig.msg)
                .opt_str(sig.category.as_deref())
                .u64(u64::from(sig.priority))
                .opt_str(a.app_proto);
        });
    }

    /// A `findings` row.
    pub fn finding(&mut self, f: &Finding) {
        self.row(Table::Findings, f.ts_ns, |r| {
            let e = &f.entities;
            r.str(f.agent).str(f.kind).f64(f64::from(f.confidence)).str(f.severity.name()).str(f.technique);
            opt_ip(r, e.src);
            opt_ip(r, e.dst);
            r.opt_u64(e.port.map(u64::from))
                .opt_u64(e.pid.map(u64::from))
                .opt_str(e.exe.as_deref())
                .opt_str(e.user.as_deref());
            let ev = &f.evidence;
            r.str(ev.measure).f64(ev.observed).f64(ev.threshold).u64(ev.count).str(&f.reason);
        });
    }

    /// An `incidents` row: the incident as it is at `now_ns`.
    pub fn incident(&mut self, i: &Incident, now_ns: u64) {
        self.row(Table::Incidents, now_ns, |r| {
            r.u64(i.id).ts(i.first_ns).ts(i.last_ns);
            r.opt_str(i.stage().map(Stage::name));
            r.join(i.stages.iter().map(Stage::name));
            r.f64(i.confidence).str(i.severity.name());
            r.join(&i.techniques).join(&i.adversaries).join(&i.targets).join(i.agents.keys());
            r.u64(i.findings_total).u64(i.decisions.len() as u64).str(&i.summary());
        });
    }

    /// A `decisions` row, decided locally (`origin` "local") or for a fleet peer.
    pub fn decision(&mut self, d: &Decision, now_ns: u64, origin: &str) {
        self.row(Table::Decisions, now_ns, |r| {
            r.u64(d.id)
                .u64(d.incident)
                .str(d.target.action().name())
                .str(&d.target.describe())
                .str(d.verdict.name())
                .str(d.outcome.name())
                .str(&d.authority)
                .str(&d.asset)
                .str(&d.class)
                .f64(d.scores.confidence)
                .f64(d.scores.cost_of_inaction)
                .f64(d.scores.cost_of_action)
                .f64(d.scores.loss_share)
                .opt_str(d.approver.as_deref());
            r.str(&d.reasoning.join("\n")).str(origin);
        });
    }

    /// A `log` row.
    pub fn auth(&mut self, a: &AuthEvent) {
        self.row(Table::Log, a.ts_ns, |r| {
            r.str(a.service)
                .str(match a.outcome {
                    AuthOutcome::Failure => "failure",
                    AuthOutcome::Success => "success",
                })
                .bytes(a.user.as_bytes());
            opt_ip(r, a.source);
        });
    }

    /// A row for a kernel process or syscall event (flows and samples go through the
    /// packet pipeline instead); `offset_ns` turns its monotonic time into wall time.
    pub fn kernel(&mut self, ev: &Event, offset_ns: u64) {
        let ts = ev.header().ts_ns + offset_ns;
        match ev {
            Event::Exec(e) => self.row(Table::Process, ts, |r| {
                r.str("exec");
                proc_cols(r, &e.proc);
                r.str(&text(&e.filename, e.filename_len as usize));
                let argv = &e.argv[..(e.argv_len as usize).min(e.argv.len())];
                let args = argv.split(|&b| b == 0).filter(|a| !a.is_empty()).map(String::from_utf8_lossy);
                r.join_with(" ", args);
                r.null();
            }),
            Event::Exit(e) => self.row(Table::Process, ts, |r| {
                r.str("exit");
                proc_cols(r, &e.proc);
                r.null().null().i64(i64::from(e.exit_code));
            }),
            Event::Connect(s) | Event::Accept(s) => self.row(Table::Connect, ts, |r| {
                r.str(if matches!(ev, Event::Connect(_)) { "connect" } else { "accept" });
                proc_cols(r, &s.proc);
                let fam = match s.family {
                    2 => Some(sensor_common::flow::family::V4),
                    10 => Some(sensor_common::flow::family::V6),
                    _ => None,
                };
                match fam {
                    Some(f) => {
                        r.str(if s.family == 2 { "inet" } else { "inet6" });
                        r.fmt(format_args!("{}", ip(&s.addr, f))).u64(u64::from(s.port));
                    }
                    None => {
                        r.fmt(format_args!("{}", s.family)).null().null();
                    }
                }
            }),
            Event::Open(o) => self.row(Table::Open, ts, |r| {
                proc_cols(r, &o.proc);
                r.str(&text(&o.filename, o.filename_len as usize)).i64(i64::from(o.flags));
            }),
            Event::SetId(s) | Event::Ptrace(s) | Event::ModuleLoad(s) | Event::BpfCall(s) => {
                let name = match ev {
                    Event::SetId(_) => "setid",
                    Event::Ptrace(_) => "ptrace",
                    Event::ModuleLoad(_) => "module_load",
                    _ => "bpf",
                };
                self.row(Table::Syscall, ts, |r| {
                    r.str(name);
                    proc_cols(r, &s.proc);
                    r.u64(u64::from(s.nr)).u64(s.args[0]).u64(s.args[1]);
                });
            }
            Event::FlowStart(_) | Event::FlowEnd(_) | Event::PayloadSample(_) => {}
        }
    }
}

/// One text of the answer's data, as eve.json writes `rdata`.
fn rdata(d: &DnsData) -> Option<String> {
    Some(match d {
        DnsData::A(v4) => v4.to_string(),
        DnsData::Aaaa(v6) => v6.to_string(),
        DnsData::Name(n) => String::from_utf8_lossy(n).into_owned(),
        DnsData::Mx { exchange, .. } => String::from_utf8_lossy(exchange).into_owned(),
        DnsData::Srv { target, .. } => String::from_utf8_lossy(target).into_owned(),
        DnsData::Txt(parts) => String::from_utf8_lossy(&parts.concat()).into_owned(),
        DnsData::Soa { mname, .. } => String::from_utf8_lossy(mname).into_owned(),
        DnsData::Other(_) => return None,
    })
}
