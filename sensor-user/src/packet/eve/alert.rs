//! Signature alerts as eve `alert` records with Suricata's fields: the packet's (or the
//! transaction side's) 5-tuple, `flow_id`, `tx_id`, `app_proto`, `direction` and the `alert`
//! object (`action`, `gid`, `signature_id`, `rev`, `signature`, `category`, `severity`,
//! `metadata` grouped by key as Suricata writes it).

use std::net::IpAddr;

use super::{EveWriter, RecordType, proto_name};
use crate::rules::ir::Signature;

/// Where and when a signature matched.
#[derive(Clone, Copy, Debug)]
pub struct AlertCtx {
    /// Capture time.
    pub ts_ns: u64,
    /// The flow, when the packet belongs to one.
    pub flow_id: Option<u64>,
    /// Source address as in the alerting packet / transaction side.
    pub src: IpAddr,
    /// Source port (0 for protocols without ports).
    pub sport: u16,
    /// Destination address.
    pub dst: IpAddr,
    /// Destination port.
    pub dport: u16,
    /// IP protocol number.
    pub proto: u8,
    /// The flow's app-layer protocol, if detected.
    pub app_proto: Option<&'static str>,
    /// Direction within the flow (Some(true) = to server).
    pub to_server: Option<bool>,
    /// The transaction, for app-layer matches.
    pub tx_id: Option<u64>,
    /// The packet was dropped by this alert's action (inline / simulated IPS): eve
    /// `alert.action` is `blocked` rather than `allowed`.
    pub blocked: bool,
}

impl EveWriter {
    /// One alert of `sig`.
    pub fn alert(&mut self, a: &AlertCtx, sig: &Signature) {
        if let Some(l) = self.lake() {
            l.alert(a, sig);
        }
        self.record(RecordType::Alert, a.ts_ns, |j| {
            if let Some(id) = a.flow_id {
                j.u64("flow_id", id);
            }
            j.fmt("src_ip", format_args!("{}", a.src));
            let ported = matches!(a.proto, 6 | 17 | 132);
            if ported {
                j.u64("src_port", u64::from(a.sport));
            }
            j.fmt("dest_ip", format_args!("{}", a.dst));
            if ported {
                j.u64("dest_port", u64::from(a.dport));
            }
            match proto_name(a.proto) {
                "" => j.u64("proto", u64::from(a.proto)),
                name => j.str("proto", name),
            };
            if let Some(ts) = a.to_server {
                j.str("direction", if ts { "to_server" } else { "to_client" });
            }
            if let Some(tx) = a.tx_id {
                j.u64("tx_id", tx);
            }
            j.obj("alert", |o| {
                o.str("action", if a.blocked { "blocked" } else { "allowed" })
                    .u64("gid", u64::from(sig.gid))
                    .u64("signature_id", u64::from(sig.sid))
                    .u64("rev", u64::from(sig.rev))
                    .str("signature", &sig.msg)
                    .str("category", sig.category.as_deref().unwrap_or(""))
                    .u64("severity", u64::from(sig.priority));
                if !sig.metadata.is_empty() {
                    o.obj("metadata", |m| {
                        // Suricata groups values by key, keys in first-seen order.
                        for (i, (k, _)) in sig.metadata.iter().enumerate() {
                            if sig.metadata[..i].iter().any(|(k2, _)| k2 == k) {
                                continue;
                            }
                            let vals = sig.metadata.iter().filter(|(k2, _)| k2 == k).map(|(_, v)| v.as_bytes());
                            m.str_arr(k, vals);
                        }
                    });
                }
            });
            if let Some(app) = a.app_proto {
                j.str("app_proto", app);
            }
        });
    }
}
