//! Asset lookup: which inventory entry an address or host name belongs to, and what to assume
//! when it belongs to none. Built once per config; lookups by address do at most one hash
//! probe per distinct prefix length in the inventory.

use std::{
    collections::{BTreeMap, HashMap},
    net::IpAddr,
};

use super::config::{Asset, AssetDefaults, AssetMatch};

/// The asset inventory with its lookup indexes.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Inventory {
    assets: Vec<Asset>,
    /// (prefix length, network -> asset index), longest prefix first.
    v4: Vec<(u8, HashMap<u32, usize>)>,
    v6: Vec<(u8, HashMap<u128, usize>)>,
    hosts: HashMap<String, usize>,
}

/// What the decision policy needs to know about one address's asset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AssetView<'a> {
    /// The asset's name; `""` for an address outside the inventory.
    pub name: &'a str,
    /// 0-10.
    pub criticality: u8,
    /// Cost of a compromise.
    pub impact: f64,
    /// Cost of containing by mistake.
    pub false_positive_cost: f64,
    /// Who to tell; `""` when unknown.
    pub owner: &'a str,
    /// Every action on it is forbidden.
    pub protected: bool,
    /// Authority-matrix row.
    pub class: &'a str,
    /// Whether it is in the inventory (false: the defaults apply).
    pub known: bool,
}

impl<'a> AssetView<'a> {
    fn of(a: &'a Asset) -> Self {
        Self {
            name: &a.name,
            criticality: a.criticality,
            impact: a.impact,
            false_positive_cost: a.false_positive_cost,
            owner: &a.owner,
            protected: a.protected,
            class: &a.class,
            known: true,
        }
    }

    fn defaults(d: &'a AssetDefaults) -> Self {
        Self {
            name: "",
            criticality: d.criticality,
            impact: d.impact,
            false_positive_cost: d.false_positive_cost,
            owner: "",
            protected: false,
            class: &d.class,
            known: false,
        }
    }
}

/// A host name as the inventory stores it: lower-case, without the trailing dot.
pub fn normalize_host(name: &str) -> String {
    let n = name.trim();
    n.strip_suffix('.').unwrap_or(n).to_ascii_lowercase()
}

impl Inventory {
    /// Indexes `assets`. An address, CIDR or host name listed twice goes to the first asset
    /// (the config refuses such files, so this only matters for hand-built inventories).
    pub fn new(assets: Vec<Asset>) -> Self {
        let mut v4: BTreeMap<u8, HashMap<u32, usize>> = BTreeMap::new();
        let mut v6: BTreeMap<u8, HashMap<u128, usize>> = BTreeMap::new();
        let mut hosts = HashMap::new();
        for (i, a) in assets.iter().enumerate() {
            for m in &a.matches {
                match m {
                    AssetMatch::Net(c) => match c.addr {
                        IpAddr::V4(n) => {
                            v4.entry(c.prefix).or_default().entry(u32::from(n)).or_insert(i);
                        }
                        IpAddr::V6(n) => {
                            v6.entry(c.prefix).or_default().entry(u128::from(n)).or_insert(i);
                        }
                    },
                    AssetMatch::Host(h) => {
                        hosts.entry(normalize_host(h)).or_insert(i);
                    }
                }
            }
        }
        Self { assets, v4: v4.into_iter().rev().collect(), v6: v6.into_iter().rev().collect(), hosts }
    }

    /// The asset holding `ip`: the longest matching prefix wins; none -> defaults.
    /// IPv4-mapped IPv6 addresses are looked up as IPv4.
    pub fn lookup<'a>(&'a self, ip: IpAddr, d: &'a AssetDefaults) -> AssetView<'a> {
        self.asset_for(ip).map_or_else(|| AssetView::defaults(d), AssetView::of)
    }

    /// By host name (case-insensitive, trailing dot ignored); none -> defaults.
    pub fn lookup_host<'a>(&'a self, name: &str, d: &'a AssetDefaults) -> AssetView<'a> {
        self.hosts
            .get(&normalize_host(name))
            .and_then(|&i| self.assets.get(i))
            .map_or_else(|| AssetView::defaults(d), AssetView::of)
    }

    /// The asset holding `ip`, if any (longest prefix).
    pub fn asset_for(&self, ip: IpAddr) -> Option<&Asset> {
        let i = match ip.to_canonical() {
            IpAddr::V4(a) => {
                let a = u32::from(a);
                self.v4.iter().find_map(|(p, m)| m.get(&mask4(a, *p)).copied())
            }
            IpAddr::V6(a) => {
                let a = u128::from(a);
                self.v6.iter().find_map(|(p, m)| m.get(&mask6(a, *p)).copied())
            }
        };
        i.and_then(|i| self.assets.get(i))
    }

    /// Number of assets.
    pub fn len(&self) -> usize {
        self.assets.len()
    }

    /// Whether there are no assets.
    pub fn is_empty(&self) -> bool {
        self.assets.is_empty()
    }

    /// The assets, in file order.
    pub fn assets(&self) -> &[Asset] {
        &self.assets
    }
}

fn mask4(a: u32, prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { a & (u32::MAX << (32 - u32::from(prefix.min(32)))) }
}

fn mask6(a: u128, prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { a & (u128::MAX << (128 - u32::from(prefix.min(128)))) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::respond::config::GovernanceConfig;

    const INVENTORY: &str = r#"
[defaults]
criticality = 2
class = "standard"

[[asset]]
name = "office"
match = ["10.0.1.0/24", "2001:db8::/32"]
criticality = 4
owner = "it"

[[asset]]
name = "db1"
match = ["10.0.1.5", "DB1.Example.com."]
criticality = 9
protected = true
class = "critical"
"#;

    fn config() -> GovernanceConfig {
        GovernanceConfig::parse(INVENTORY, "inv.toml").expect("valid inventory")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn a_host_address_inside_another_assets_prefix_belongs_to_the_host_asset() {
        let c = config();
        let v = c.inventory.lookup(ip("10.0.1.5"), &c.defaults);
        assert_eq!((v.name, v.criticality, v.protected, v.class, v.known), ("db1", 9, true, "critical", true));
        let v = c.inventory.lookup(ip("10.0.1.6"), &c.defaults);
        assert_eq!((v.name, v.criticality, v.owner, v.class), ("office", 4, "it", "standard"));
        assert_eq!(c.inventory.lookup(ip("2001:db8::9"), &c.defaults).name, "office");
    }

    #[test]
    fn ipv4_mapped_ipv6_addresses_find_their_ipv4_asset() {
        let c = config();
        assert_eq!(c.inventory.lookup(ip("::ffff:10.0.1.5"), &c.defaults).name, "db1");
    }

    #[test]
    fn host_lookup_ignores_case_and_the_trailing_dot() {
        let c = config();
        assert_eq!(c.inventory.lookup_host("db1.example.COM", &c.defaults).name, "db1");
        assert_eq!(c.inventory.lookup_host("db1.example.com.", &c.defaults).name, "db1");
        assert!(!c.inventory.lookup_host("db2.example.com", &c.defaults).known);
    }

    #[test]
    fn unknown_addresses_get_the_defaults() {
        let c = config();
        let v = c.inventory.lookup(ip("192.0.2.1"), &c.defaults);
        assert_eq!(
            v,
            AssetView {
                name: "",
                criticality: 2,
                impact: 50.0,
                false_positive_cost: 10.0,
                owner: "",
                protected: false,
                class: "standard",
                known: false,
            }
        );
        assert_eq!(c.inventory.len(), 2);
    }
}
