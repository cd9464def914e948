//! Crafted Ethernet frames: IPv4/IPv6, VLAN/QinQ, IPv6 extension headers, fragments, TCP,
//! UDP, ICMP. Checksums are not computed (XDP does not verify them).

/// Builder for one frame.
#[derive(Clone, Debug)]
pub struct Frame {
    /// VLAN ids, outermost first (0x88a8 for the outer tag when there are two).
    pub vlans: Vec<u16>,
    /// IPv6 instead of IPv4.
    pub v6: bool,
    /// Source address (last octet varies in tests).
    pub src: [u8; 16],
    /// Destination address.
    pub dst: [u8; 16],
    /// IP protocol.
    pub proto: u8,
    /// Source port (or ICMP type).
    pub sport: u16,
    /// Destination port (or ICMP code).
    pub dport: u16,
    /// TCP flags.
    pub tcp_flags: u8,
    /// TCP sequence number.
    pub seq: u32,
    /// L4 payload.
    pub payload: Vec<u8>,
    /// IPv6 extension headers to insert: next-header values (0 = hop-by-hop, 60 = dest opts, 44 = fragment).
    pub v6_ext: Vec<u8>,
    /// IPv4: (more-fragments, offset in 8-byte units). IPv6 uses a 44 ext header.
    pub frag: Option<(bool, u16)>,
    /// IPv4 options bytes (multiple of 4).
    pub ip_options: Vec<u8>,
}

impl Frame {
    /// A TCP frame 10.0.0.<src_last> -> 10.0.0.1:80.
    pub fn tcp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, flags: u8, payload: &[u8]) -> Self {
        let mut s = [0u8; 16];
        let mut d = [0u8; 16];
        s[..4].copy_from_slice(&src);
        d[..4].copy_from_slice(&dst);
        Frame {
            vlans: Vec::new(),
            v6: false,
            src: s,
            dst: d,
            proto: 6,
            sport,
            dport,
            tcp_flags: flags,
            seq: 1000,
            payload: payload.to_vec(),
            v6_ext: Vec::new(),
            frag: None,
            ip_options: Vec::new(),
        }
    }

    /// A UDP frame.
    pub fn udp4(src: [u8; 4], dst: [u8; 4], sport: u16, dport: u16, payload: &[u8]) -> Self {
        Frame { proto: 17, tcp_flags: 0, ..Self::tcp4(src, dst, sport, dport, 0, payload) }
    }

    /// An IPv6 frame with the given protocol.
    pub fn ip6(src: [u8; 16], dst: [u8; 16], proto: u8, sport: u16, dport: u16, payload: &[u8]) -> Self {
        Frame { v6: true, src, dst, proto, ..Self::tcp4([0; 4], [0; 4], sport, dport, 0x02, payload) }
    }

    fn l4(&self) -> Vec<u8> {
        let mut l4 = Vec::new();
        match self.proto {
            6 => {
                l4.extend_from_slice(&self.sport.to_be_bytes());
                l4.extend_from_slice(&self.dport.to_be_bytes());
                l4.extend_from_slice(&self.seq.to_be_bytes());
                l4.extend_from_slice(&0u32.to_be_bytes());
                l4.push(5 << 4);
                l4.push(self.tcp_flags);
                l4.extend_from_slice(&[0xff, 0xff, 0, 0, 0, 0]);
            }
            17 => {
                l4.extend_from_slice(&self.sport.to_be_bytes());
                l4.extend_from_slice(&self.dport.to_be_bytes());
                l4.extend_from_slice(&((8 + self.payload.len()) as u16).to_be_bytes());
                l4.extend_from_slice(&[0, 0]);
            }
            1 | 58 => {
                l4.push(self.sport as u8);
                l4.push(self.dport as u8);
                l4.extend_from_slice(&[0, 0, 0, 1, 0, 1]);
            }
            _ => {}
        }
        l4.extend_from_slice(&self.payload);
        l4
    }

    /// The frame bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut f = vec![0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2];
        for (i, v) in self.vlans.iter().enumerate() {
            let tpid: u16 = if self.vlans.len() > 1 && i == 0 { 0x88a8 } else { 0x8100 };
            f.extend_from_slice(&tpid.to_be_bytes());
            f.extend_from_slice(&v.to_be_bytes());
        }
        let l4 = if matches!(self.frag, Some((_, off)) if off != 0) { self.payload.clone() } else { self.l4() };
        if self.v6 {
            f.extend_from_slice(&0x86ddu16.to_be_bytes());
            let mut ext = Vec::new();
            let chain: Vec<u8> = self.v6_ext.iter().copied().chain(std::iter::once(self.proto)).collect();
            for w in chain.windows(2) {
                let (kind, next) = (w[0], w[1]);
                if kind == 44 {
                    let (mf, off) = self.frag.unwrap_or((false, 0));
                    ext.extend_from_slice(&[next, 0]);
                    ext.extend_from_slice(&((off << 3) | mf as u16).to_be_bytes());
                    ext.extend_from_slice(&[0, 0, 0, 7]);
                } else {
                    ext.extend_from_slice(&[next, 0, 1, 4, 0, 0, 0, 0]);
                }
            }
            let first = *chain.first().unwrap_or(&self.proto);
            f.extend_from_slice(&[0x60, 0, 0, 0]);
            f.extend_from_slice(&((ext.len() + l4.len()) as u16).to_be_bytes());
            f.push(first);
            f.push(64);
            f.extend_from_slice(&self.src);
            f.extend_from_slice(&self.dst);
            f.extend_from_slice(&ext);
        } else {
            f.extend_from_slice(&0x0800u16.to_be_bytes());
            let ihl = 5 + self.ip_options.len() / 4;
            let tot = ihl * 4 + l4.len();
            let (mf, off) = self.frag.unwrap_or((false, 0));
            let frag = ((mf as u16) << 13) | off;
            f.push(0x40 | ihl as u8);
            f.push(0);
            f.extend_from_slice(&(tot as u16).to_be_bytes());
            f.extend_from_slice(&[0x12, 0x34]);
            f.extend_from_slice(&frag.to_be_bytes());
            f.extend_from_slice(&[64, self.proto, 0, 0]);
            f.extend_from_slice(&self.src[..4]);
            f.extend_from_slice(&self.dst[..4]);
            f.extend_from_slice(&self.ip_options);
        }
        f.extend_from_slice(&l4);
        f
    }
}
