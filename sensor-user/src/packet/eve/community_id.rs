//! Community ID v1 flow hashing (https://github.com/corelight/community-id-spec), as Suricata,
//! Zeek and most SIEMs compute it, so records can be joined across tools.

use sensor_common::flow::{FlowKey, family, proto};
use sha1::{Digest, Sha1};

/// The `1:<base64>` Community ID of a flow; `key` in client-to-server order, `icmp` the
/// type and code of its first packet for ICMP flows.
pub fn community_id(key: &FlowKey, icmp: Option<(u8, u8)>) -> String {
    let alen = if key.family == family::V4 { 4 } else { 16 };
    let (mut sa, mut da) = (&key.saddr[..alen], &key.daddr[..alen]);
    let (mut sp, mut dp) = (key.sport, key.dport);
    let mut one_way = false;
    if matches!(key.proto, proto::ICMP | proto::ICMPV6) {
        let (ty, code) = icmp.unwrap_or((0, 0));
        sp = u16::from(ty);
        match icmp_counterpart(key.proto, ty) {
            Some(other) => dp = u16::from(other),
            None => {
                dp = u16::from(code);
                one_way = true;
            }
        }
    }
    if !one_way && (sa, sp) > (da, dp) {
        std::mem::swap(&mut sa, &mut da);
        std::mem::swap(&mut sp, &mut dp);
    }
    let mut h = Sha1::new();
    h.update(0u16.to_be_bytes());
    h.update(sa);
    h.update(da);
    h.update([key.proto, 0]);
    if matches!(key.proto, proto::TCP | proto::UDP | proto::ICMP | proto::ICMPV6 | 132) {
        h.update(sp.to_be_bytes());
        h.update(dp.to_be_bytes());
    }
    let digest = h.finalize();
    let mut out = String::with_capacity(30);
    out.push_str("1:");
    base64(&digest, &mut out);
    out
}

fn icmp_counterpart(p: u8, ty: u8) -> Option<u8> {
    let pairs: &[(u8, u8)] = if p == proto::ICMP {
        &[(8, 0), (0, 8), (13, 14), (14, 13), (15, 16), (16, 15), (10, 9), (9, 10), (17, 18), (18, 17)]
    } else {
        &[
            (128, 129),
            (129, 128),
            (133, 134),
            (134, 133),
            (135, 136),
            (136, 135),
            (130, 131),
            (131, 130),
            (139, 140),
            (140, 139),
        ]
    };
    pairs.iter().find(|(a, _)| *a == ty).map(|&(_, b)| b)
}

/// Standard base64 with padding.
pub fn base64(data: &[u8], out: &mut String) {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for c in data.chunks(3) {
        let n =
            (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        out.push(char::from(A[(n >> 18) as usize & 63]));
        out.push(char::from(A[(n >> 12) as usize & 63]));
        out.push(if c.len() > 1 { char::from(A[(n >> 6) as usize & 63]) } else { '=' });
        out.push(if c.len() > 2 { char::from(A[n as usize & 63]) } else { '=' });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: [u8; 4], sp: u16, d: [u8; 4], dp: u16, p: u8) -> FlowKey {
        let mut k = FlowKey { sport: sp, dport: dp, proto: p, family: family::V4, ..FlowKey::default() };
        k.saddr[..4].copy_from_slice(&s);
        k.daddr[..4].copy_from_slice(&d);
        k
    }

    // Reference values from the community-id-spec baseline (tcp.pcap / icmp.pcap).
    #[test]
    fn tcp_flow_matches_the_spec_baseline_in_both_orders() {
        let k = v4([128, 232, 110, 120], 34855, [66, 35, 250, 204], 80, proto::TCP);
        assert_eq!(community_id(&k, None), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
        assert_eq!(community_id(&k.reversed(), None), "1:LQU9qZlK+B5F3KDmev6m5PMibrg=");
    }

    #[test]
    fn icmp_echo_request_and_reply_share_an_id() {
        let k = v4([192, 168, 0, 89], 0, [192, 168, 0, 1], 0, proto::ICMP);
        let a = community_id(&k, Some((8, 0)));
        let b = community_id(&k.reversed(), Some((0, 0)));
        assert_eq!(a, "1:X0snYXpgwiv9TZtqg64sgzUn6Dk=");
        assert_eq!(a, b);
    }

    #[test]
    fn base64_pads() {
        let mut s = String::new();
        base64(b"ab", &mut s);
        assert_eq!(s, "YWI=");
    }
}
