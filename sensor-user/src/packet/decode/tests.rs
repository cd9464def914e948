//! Decoder unit tests on hand-built frames.

use sensor_common::flow::{family, proto};

use super::*;

fn ipv4(proto_nr: u8, l4: &[u8]) -> Vec<u8> {
    let mut h = vec![0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, proto_nr, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2];
    h[2..4].copy_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
    h.extend_from_slice(l4);
    h
}

fn tcp(sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut t = vec![0; 20];
    t[0..2].copy_from_slice(&sport.to_be_bytes());
    t[2..4].copy_from_slice(&dport.to_be_bytes());
    t[4..8].copy_from_slice(&1000u32.to_be_bytes());
    t[12] = 5 << 4;
    t[13] = flags;
    t.extend_from_slice(payload);
    t
}

fn udp(sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut u = vec![0; 8];
    u[0..2].copy_from_slice(&sport.to_be_bytes());
    u[2..4].copy_from_slice(&dport.to_be_bytes());
    u[4..6].copy_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
    u.extend_from_slice(payload);
    u
}

fn eth(ethertype: u16, vlans: &[u16], l3: &[u8]) -> Vec<u8> {
    let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
    for v in vlans {
        f.extend_from_slice(&0x8100u16.to_be_bytes());
        f.extend_from_slice(&v.to_be_bytes());
    }
    f.extend_from_slice(&ethertype.to_be_bytes());
    f.extend_from_slice(l3);
    f
}

#[test]
fn ethernet_qinq_ipv4_tcp_decodes_ports_flags_and_payload() {
    let f = eth(0x0800, &[100, 200], &ipv4(proto::TCP, &tcp(40000, 80, 0x18, b"GET /")));
    let p = decode(LinkType::Ethernet, 5, &f).expect("decodes");
    assert_eq!(p.vlans, [100, 200]);
    assert_eq!(p.key.vlan, 100);
    assert_eq!((p.key.family, p.key.proto, p.key.sport, p.key.dport), (family::V4, proto::TCP, 40000, 80));
    assert_eq!(&p.key.saddr[..4], &[10, 0, 0, 1]);
    assert_eq!(p.tcp.map(|t| (t.seq, t.flags)), Some((1000, 0x18)));
    assert_eq!(p.payload, b"GET /");
}

#[test]
fn ethernet_padding_is_trimmed_by_the_ip_total_length() {
    let mut f = eth(0x0800, &[], &ipv4(proto::UDP, &udp(1, 2, b"x")));
    f.extend_from_slice(&[0; 10]);
    let p = decode(LinkType::Ethernet, 0, &f).expect("decodes");
    assert_eq!(p.payload, b"x");
}

#[test]
fn ipv6_extension_headers_are_walked_to_udp() {
    let payload = udp(5353, 53, b"q");
    let mut v6 = vec![0x60, 0, 0, 0, 0, 0, 0, 64];
    v6.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
    v6.extend_from_slice(&[0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
    // Hop-by-hop (8 bytes) -> destination options (8 bytes) -> UDP.
    let ext = [60u8, 0, 1, 4, 0, 0, 0, 0, 17, 0, 1, 4, 0, 0, 0, 0];
    v6[6] = 0;
    v6[4..6].copy_from_slice(&((ext.len() + payload.len()) as u16).to_be_bytes());
    v6.extend_from_slice(&ext);
    v6.extend_from_slice(&payload);
    let p = decode(LinkType::Raw, 0, &v6).expect("decodes");
    assert_eq!((p.key.family, p.key.proto, p.key.dport), (family::V6, proto::UDP, 53));
    assert_eq!(p.payload, b"q");
}

#[test]
fn ipv6_fragment_is_reported_not_decoded() {
    let mut v6 = vec![0x60, 0, 0, 0, 0, 16, 44, 64];
    v6.extend_from_slice(&[0; 32]);
    v6.extend_from_slice(&[17, 0, 0, 1, 0, 0, 0, 9]);
    v6.extend_from_slice(&[0; 8]);
    let p = decode(LinkType::Raw, 0, &v6).expect("decodes");
    let f = p.fragment.expect("fragment");
    assert_eq!((f.id, f.offset, f.more, f.data_start), (9, 0, true, 48));
    assert_eq!(p.key.proto, proto::UDP);
}

#[test]
fn gre_and_vxlan_tunnels_yield_the_inner_flow() {
    let inner = ipv4(proto::TCP, &tcp(1234, 443, 0x02, b""));
    let mut gre = vec![0, 0, 0x08, 0x00];
    gre.extend_from_slice(&inner);
    let f = eth(0x0800, &[], &ipv4(47, &gre));
    let p = decode(LinkType::Ethernet, 0, &f).expect("gre decodes");
    assert_eq!((p.key.proto, p.key.dport, p.tunnel_depth), (proto::TCP, 443, 1));

    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    vx.extend_from_slice(&eth(0x0800, &[], &inner));
    let f = eth(0x0800, &[], &ipv4(proto::UDP, &udp(50000, 4789, &vx)));
    let p = decode(LinkType::Ethernet, 0, &f).expect("vxlan decodes");
    assert_eq!((p.key.proto, p.key.dport, p.tunnel_depth), (proto::TCP, 443, 1));
}

#[test]
fn a_tunnel_whose_inner_packet_is_not_ip_stays_the_outer_flow() {
    let mut vx = vec![0x08, 0, 0, 0, 0, 0, 1, 0];
    vx.extend_from_slice(&eth(0x0806, &[], &[0; 28]));
    let f = eth(0x0800, &[], &ipv4(proto::UDP, &udp(50000, 4789, &vx)));
    let p = decode(LinkType::Ethernet, 0, &f).expect("decodes");
    assert_eq!((p.key.proto, p.key.dport, p.tunnel_depth), (proto::UDP, 4789, 0));
}

#[test]
fn linux_cooked_and_bsd_loopback_frames_decode() {
    let l3 = ipv4(proto::UDP, &udp(1, 53, b"z"));
    let mut sll = vec![0u8; 14];
    sll.extend_from_slice(&0x0800u16.to_be_bytes());
    sll.extend_from_slice(&l3);
    assert_eq!(decode(LinkType::LinuxSll, 0, &sll).expect("sll").key.dport, 53);
    let mut sll2 = vec![0x08, 0x00];
    sll2.extend_from_slice(&[0; 18]);
    sll2.extend_from_slice(&l3);
    assert_eq!(decode(LinkType::LinuxSll2, 0, &sll2).expect("sll2").key.dport, 53);
    let mut null = 2u32.to_le_bytes().to_vec();
    null.extend_from_slice(&l3);
    assert_eq!(decode(LinkType::Null, 0, &null).expect("null").key.dport, 53);
}

#[test]
fn malformed_headers_are_typed_errors() {
    let mut bad = ipv4(proto::TCP, &tcp(1, 2, 0, b""));
    bad[0] = 0x44;
    assert_eq!(decode(LinkType::Raw, 0, &bad).err(), Some(DecodeError::Ipv4HeaderLen));
    let short = &ipv4(proto::TCP, &tcp(1, 2, 0, b""))[..30];
    let p = decode(LinkType::Raw, 0, short);
    assert!(matches!(p, Err(DecodeError::TcpTruncated)), "{p:?}");
    assert_eq!(decode(LinkType::Ethernet, 0, &[0; 10]).err(), Some(DecodeError::LinkTruncated));
    assert_eq!(decode(LinkType::Ethernet, 0, &eth(0x0806, &[], &[0; 28])).err(), Some(DecodeError::NonIp));
    let mut tcp_bad = tcp(1, 2, 0, b"");
    tcp_bad[12] = 0xF0;
    assert_eq!(decode(LinkType::Raw, 0, &ipv4(proto::TCP, &tcp_bad)).err(), Some(DecodeError::TcpHeaderLen));
}

#[test]
fn no_input_prefix_panics() {
    let f = eth(0x0800, &[7], &ipv4(proto::TCP, &tcp(1, 2, 0x18, b"payload")));
    for link in [LinkType::Ethernet, LinkType::Raw, LinkType::LinuxSll, LinkType::LinuxSll2, LinkType::Null] {
        for n in 0..=f.len() {
            let _ = decode(link, 0, &f[..n]);
        }
    }
}

#[test]
fn icmp_echo_request_and_reply_share_a_key() {
    let mut echo = vec![8, 0, 0, 0, 0x12, 0x34, 0, 1];
    let req_pkt = ipv4(proto::ICMP, &echo);
    let req = decode(LinkType::Raw, 0, &req_pkt).expect("req");
    echo[0] = 0;
    let mut rep_pkt = ipv4(proto::ICMP, &echo);
    rep_pkt[12..16].copy_from_slice(&[10, 0, 0, 2]);
    rep_pkt[16..20].copy_from_slice(&[10, 0, 0, 1]);
    let rep = decode(LinkType::Raw, 0, &rep_pkt).expect("rep");
    assert_eq!(req.key.canonical().0, rep.key.canonical().0);
    assert_eq!(req.icmp, Some((8, 0)));
}
