//! The rule header: action, protocol (-> transport + app layer), addresses, ports, direction.

use super::super::ir::{Action, AddrSet, AppLayer, PortSet, Transport};
use super::error::{RuleIssue, SkipReason, SyntaxError};
use super::lexer::Header;
use super::vars::RuleVars;

/// The compiled header.
#[derive(Debug, Clone)]
pub(crate) struct CompiledHeader {
    pub action: Action,
    pub transport: Transport,
    pub app: Option<AppLayer>,
    pub pkt_only: bool,
    pub src: AddrSet,
    pub sport: PortSet,
    pub dst: AddrSet,
    pub dport: PortSet,
    pub bidirectional: bool,
}

fn bad_header(detail: impl Into<String>) -> SyntaxError {
    SyntaxError::BadHeader { detail: detail.into() }
}

/// Protocols Suricata knows but this engine has no app-layer parser for (skipped, not errors).
const KNOWN_UNSUPPORTED: &[&str] = &[
    "smtp",
    "ftp",
    "ftp-data",
    "smb",
    "dcerpc",
    "dhcp",
    "krb5",
    "nfs",
    "snmp",
    "sip",
    "http2",
    "quic",
    "imap",
    "tftp",
    "ikev2",
    "ike",
    "rfb",
    "mqtt",
    "modbus",
    "dnp3",
    "enip",
    "ntp",
    "rdp",
    "pgsql",
    "telnet",
    "bittorrent-dht",
    "websocket",
    "ldap",
    "pop3",
    "sctp",
    "template",
    "ipv4",
    "ipv6",
    "udp-pkt",
    "doh2",
    "mdns",
    "cip",
    "ssl-any",
];

/// Compiles the header fields.
pub(crate) fn compile(h: &Header<'_>, vars: &RuleVars) -> Result<CompiledHeader, RuleIssue> {
    let action = match h.action {
        "alert" => Action::Alert,
        "drop" => Action::Drop,
        "pass" => Action::Pass,
        "reject" | "rejectsrc" | "rejectdst" | "rejectboth" => Action::Reject,
        other => return Err(bad_header(format!("unknown action '{other}'")).into()),
    };
    let proto = h.proto.to_ascii_lowercase();
    let (transport, app, pkt_only) = match proto.as_str() {
        "ip" | "pkthdr" => (Transport::Any, None, false),
        "tcp" | "tcp-stream" => (Transport::Tcp, None, false),
        "tcp-pkt" => (Transport::Tcp, None, true),
        "udp" => (Transport::Udp, None, false),
        "icmp" | "icmpv4" | "icmpv6" => (Transport::Icmp, None, false),
        "http" | "http1" => (Transport::Tcp, Some(AppLayer::Http), false),
        "tls" | "ssl" => (Transport::Tcp, Some(AppLayer::Tls), false),
        "ssh" => (Transport::Tcp, Some(AppLayer::Ssh), false),
        "dns" => (Transport::Any, Some(AppLayer::Dns), false),
        p if KNOWN_UNSUPPORTED.contains(&p) || p.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') => {
            return Err(SkipReason::UnsupportedProtocol { protocol: p.to_string() }.into());
        }
        p => return Err(bad_header(format!("invalid protocol '{p}'")).into()),
    };
    let bidirectional = match h.dir {
        "->" => false,
        "<>" => true,
        d => return Err(bad_header(format!("invalid direction '{d}'")).into()),
    };
    Ok(CompiledHeader {
        action,
        transport,
        app,
        pkt_only,
        src: vars.address_set(h.src)?,
        sport: vars.port_set(h.sport)?,
        dst: vars.address_set(h.dst)?,
        dport: vars.port_set(h.dport)?,
        bidirectional,
    })
}
