//! Blocks that are never written, whoever asks: every address (a prefix of length 0),
//! loopback, unspecified and multicast addresses, and anything overlapping the allowlist
//! (gateway, resolvers, management addresses).

use std::net::IpAddr;

use super::config::Allowlist;
use crate::block::Cidr;

/// Why blocking `cidr` is refused, or `None` when it may be blocked.
pub fn refuse_block(cidr: &Cidr, allow: &Allowlist) -> Option<String> {
    if cidr.prefix == 0 {
        return Some(format!("{cidr} would block every address"));
    }
    let a = cidr.addr;
    let special = match a {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => v6.is_loopback() || v6.is_unspecified() || v6.is_multicast(),
    };
    let loopback_net = Cidr { addr: IpAddr::from([127, 0, 0, 0]), prefix: 8 };
    if special || (cidr.prefix <= 8 && loopback_net.contains(a)) || cidr.contains(IpAddr::from([127, 0, 0, 1])) {
        return Some(format!("{cidr} is a loopback, unspecified or multicast address"));
    }
    allow
        .overlaps(cidr)
        .map(|c| format!("{cidr} overlaps the allowlist entry {c}: allowlisted addresses are never blocked"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::config::GovernanceConfig;

    fn allow() -> Allowlist {
        let text = "[allowlist]\nnever_block = [\"10.0.0.1\", \"10.0.0.53\"]\nmanagement = [\"10.0.9.0/24\"]\n";
        GovernanceConfig::parse(text, "t.toml").expect("config").allowlist
    }

    #[test]
    fn every_address_loopback_and_allowlisted_prefixes_are_refused_with_a_reason() {
        let a = allow();
        for (c, word) in [
            ("0.0.0.0/0", "every address"),
            ("::/0", "every address"),
            ("127.0.0.1", "loopback"),
            ("::1", "loopback"),
            ("0.0.0.0", "unspecified"),
            ("10.0.0.53", "allowlist"),
            ("10.0.0.0/24", "allowlist"),
            ("10.0.9.7", "allowlist"),
        ] {
            let cidr: Cidr = c.parse().expect("cidr");
            let r = refuse_block(&cidr, &a).unwrap_or_else(|| panic!("{c} accepted"));
            assert!(r.contains(word), "{c}: {r}");
        }
    }

    #[test]
    fn ordinary_addresses_may_be_blocked() {
        for c in ["10.0.0.2", "203.0.113.0/24", "2001:db8::7"] {
            assert_eq!(refuse_block(&c.parse().expect("cidr"), &allow()), None, "{c}");
        }
    }
}
