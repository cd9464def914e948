//! JSON lines for `sensor run --print-events`, with Suricata's field names where one exists
//! (`src_ip`, `dest_ip`, `src_port`, `dest_port`, `proto`, `payload`, `payload_printable`).
//! This is the output path, not the hot path: it allocates.

use std::{
    io::Write,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use sensor_common::{
    event::{ProcInfo, SockEvent, SyscallEvent, hook},
    flow::{FlowKey, family, proto},
};
use serde_json::{Map, Value, json};

use super::{Event, c_str};

/// An address from a 16-byte field and a family tag.
pub fn ip(bytes: &[u8; 16], fam: u8) -> IpAddr {
    if fam == family::V4 {
        IpAddr::V4(Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]))
    } else {
        IpAddr::V6(Ipv6Addr::from(*bytes))
    }
}

fn proto_name(p: u8) -> Value {
    match p {
        proto::TCP => "TCP".into(),
        proto::UDP => "UDP".into(),
        proto::ICMP => "ICMP".into(),
        proto::ICMPV6 => "IPv6-ICMP".into(),
        other => other.into(),
    }
}

fn hook_name(h: u8) -> &'static str {
    if h == hook::TC_EGRESS { "tc_egress" } else { "xdp_ingress" }
}

fn key_fields(m: &mut Map<String, Value>, k: &FlowKey) {
    m.insert("src_ip".into(), ip(&k.saddr, k.family).to_string().into());
    m.insert("src_port".into(), k.sport.into());
    m.insert("dest_ip".into(), ip(&k.daddr, k.family).to_string().into());
    m.insert("dest_port".into(), k.dport.into());
    m.insert("proto".into(), proto_name(k.proto));
    if k.vlan != 0 {
        m.insert("vlan".into(), json!([k.vlan]));
    }
}

fn proc_fields(m: &mut Map<String, Value>, p: &ProcInfo) {
    m.insert(
        "process".into(),
        json!({
            "pid": p.tgid, "tid": p.pid, "ppid": p.ppid, "uid": p.uid, "gid": p.gid,
            "cgroup_id": p.cgroup_id, "comm": c_str(&p.comm, p.comm.len()),
        }),
    );
}

fn sock_fields(m: &mut Map<String, Value>, s: &SockEvent) {
    let fam = match s.family {
        2 => family::V4,
        10 => family::V6,
        _ => 0,
    };
    m.insert("fd".into(), s.fd.into());
    if fam != 0 {
        m.insert("dest_ip".into(), ip(&s.addr, fam).to_string().into());
        m.insert("dest_port".into(), s.port.into());
    }
    m.insert("family".into(), s.family.into());
}

fn syscall_fields(m: &mut Map<String, Value>, s: &SyscallEvent) {
    m.insert("syscall_nr".into(), s.nr.into());
    m.insert("args".into(), json!(s.args));
}

/// Standard base64 (RFC 4648) of `data`, as Suricata writes `payload`.
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (c[0] as u32) << 16 | (*c.get(1).unwrap_or(&0) as u32) << 8 | *c.get(2).unwrap_or(&0) as u32;
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn printable(data: &[u8]) -> String {
    data.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect()
}

/// The JSON object for an event.
pub fn to_json(ev: &Event) -> Value {
    let mut m = Map::new();
    let (name, ts) = (event_type(ev), ev.header().ts_ns);
    m.insert("event_type".into(), name.into());
    m.insert("ts_ns".into(), ts.into());
    match ev {
        Event::FlowStart(f) | Event::FlowEnd(f) => {
            key_fields(&mut m, &f.key);
            m.insert("ifindex".into(), f.ifindex.into());
            m.insert("hook".into(), hook_name(f.hook).into());
            m.insert(
                "flow".into(),
                json!({
                    "pkts_toserver": f.packets[0], "pkts_toclient": f.packets[1],
                    "bytes_toserver": f.bytes[0], "bytes_toclient": f.bytes[1],
                    "first_ns": f.first_ns, "last_ns": f.last_ns, "tcp_flags": format!("{:02x}", f.tcp_flags),
                }),
            );
        }
        Event::PayloadSample(s) => {
            key_fields(&mut m, &s.key);
            let data = &s.data[..(s.len as usize).min(s.data.len())];
            m.insert("ifindex".into(), s.ifindex.into());
            m.insert("hook".into(), hook_name(s.hook).into());
            m.insert("direction".into(), if s.direction == 0 { "to_server" } else { "to_client" }.into());
            m.insert("index".into(), s.index.into());
            m.insert("payload_len".into(), s.payload_len.into());
            m.insert("payload".into(), base64(data).into());
            m.insert("payload_printable".into(), printable(data).into());
        }
        Event::Exec(e) => {
            proc_fields(&mut m, &e.proc);
            m.insert("filename".into(), c_str(&e.filename, e.filename_len as usize).into());
            let argv = &e.argv[..(e.argv_len as usize).min(e.argv.len())];
            let args: Vec<String> = argv
                .split(|&b| b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect();
            m.insert("argv".into(), json!(args));
        }
        Event::Exit(e) => {
            proc_fields(&mut m, &e.proc);
            m.insert("exit_code".into(), e.exit_code.into());
        }
        Event::Connect(s) | Event::Accept(s) => {
            proc_fields(&mut m, &s.proc);
            sock_fields(&mut m, s);
        }
        Event::Open(o) => {
            proc_fields(&mut m, &o.proc);
            m.insert("filename".into(), c_str(&o.filename, o.filename_len as usize).into());
            m.insert("flags".into(), o.flags.into());
        }
        Event::SetId(s) | Event::Ptrace(s) | Event::ModuleLoad(s) | Event::BpfCall(s) => {
            proc_fields(&mut m, &s.proc);
            syscall_fields(&mut m, s);
        }
    }
    Value::Object(m)
}

/// The `event_type` value for an event.
pub fn event_type(ev: &Event) -> &'static str {
    match ev {
        Event::FlowStart(_) => "flow_start",
        Event::FlowEnd(_) => "flow_end",
        Event::PayloadSample(_) => "payload_sample",
        Event::Exec(_) => "exec",
        Event::Exit(_) => "exit",
        Event::Connect(_) => "connect",
        Event::Accept(_) => "accept",
        Event::Open(_) => "open",
        Event::SetId(_) => "setid",
        Event::Ptrace(_) => "ptrace",
        Event::ModuleLoad(_) => "module_load",
        Event::BpfCall(_) => "bpf",
    }
}

/// Writes one JSON line.
pub fn write_json_line(out: &mut impl Write, ev: &Event) -> std::io::Result<()> {
    serde_json::to_writer(&mut *out, &to_json(ev))?;
    out.write_all(b"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (i, o) in [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foobar", "Zm9vYmFy")] {
            assert_eq!(base64(i.as_bytes()), o);
        }
    }

    #[test]
    fn printable_masks_control_bytes() {
        assert_eq!(printable(b"GET /\r\n"), "GET /..");
    }
}
