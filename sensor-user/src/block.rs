//! The XDP block lists: CIDR and TTL parsing, and insert/remove/list/sweep on the
//! `BLOCK_V4`/`BLOCK_V6` LPM tries, whether they belong to this process's loaded object or
//! are opened from the pins of a running sensor.

use std::{
    fmt,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
    str::FromStr,
    time::Duration,
};

use aya::maps::{Array, LpmTrie, Map, MapData, MapError, lpm_trie::Key};
use sensor_common::{block::BlockEntry, config::SensorConfig, maps};

use crate::sys::monotonic_ns;

/// Errors from block-list operations.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The argument is not an address or CIDR.
    #[error("invalid address or CIDR {input:?}: {reason} (examples: 10.0.0.7, 10.0.0.0/24, 2001:db8::/32)")]
    InvalidCidr {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The TTL is not a duration.
    #[error("invalid TTL {input:?}: {reason} (examples: 30s, 10m, 1h, 7d, or 0 for no expiry)")]
    InvalidTtl {
        /// What was given.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No pinned block map: no sensor has been started.
    #[error("no pinned block map at {path}: start the sensor first (`sensor run --iface IF`), or pass --pin-dir")]
    NotRunning {
        /// The pin path tried.
        path: PathBuf,
        /// The error from opening it.
        #[source]
        source: MapError,
    },
    /// The object has no block map of that name.
    #[error("the kernel object has no map {name}")]
    MissingMap {
        /// The map name.
        name: &'static str,
    },
    /// A map operation failed.
    #[error("{op} on {map} failed")]
    Map {
        /// What was attempted.
        op: &'static str,
        /// The map.
        map: &'static str,
        /// The kernel's answer.
        #[source]
        source: MapError,
    },
}

/// An IPv4 or IPv6 prefix, host bits cleared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cidr {
    /// Network address.
    pub addr: IpAddr,
    /// Prefix length in bits.
    pub prefix: u8,
}

impl Cidr {
    /// Whether `ip` lies inside this prefix.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => mask4(a, self.prefix) == n,
            (IpAddr::V6(n), IpAddr::V6(a)) => mask6(a, self.prefix) == n,
            _ => false,
        }
    }
}

fn mask4(a: Ipv4Addr, prefix: u8) -> Ipv4Addr {
    let m = if prefix == 0 { 0 } else { u32::MAX << (32 - prefix as u32) };
    Ipv4Addr::from(u32::from(a) & m)
}

fn mask6(a: Ipv6Addr, prefix: u8) -> Ipv6Addr {
    let m = if prefix == 0 { 0 } else { u128::MAX << (128 - prefix as u32) };
    Ipv6Addr::from(u128::from(a) & m)
}

impl FromStr for Cidr {
    type Err = BlockError;
    fn from_str(s: &str) -> Result<Self, BlockError> {
        let bad = |reason| BlockError::InvalidCidr { input: s.to_owned(), reason };
        let (addr_s, prefix_s) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = addr_s.trim().parse().map_err(|_| bad("not an IPv4 or IPv6 address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix_s {
            None => max,
            Some(p) => p.trim().parse::<u8>().map_err(|_| bad("prefix length is not a number"))?,
        };
        if prefix > max {
            return Err(bad("prefix length is longer than the address"));
        }
        let addr = match addr {
            IpAddr::V4(a) => IpAddr::V4(mask4(a, prefix)),
            IpAddr::V6(a) => IpAddr::V6(mask6(a, prefix)),
        };
        Ok(Cidr { addr, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Parses a TTL such as `90s`, `10m`, `1h`, `7d` or a bare number of seconds; `0` or
/// `never` means no expiry (`None`).
pub fn parse_ttl(s: &str) -> Result<Option<Duration>, BlockError> {
    let bad = |reason| BlockError::InvalidTtl { input: s.to_owned(), reason };
    let t = s.trim();
    if t == "never" || t == "0" {
        return Ok(None);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    if num.is_empty() {
        return Err(bad("does not start with a number"));
    }
    let n: u64 = num.parse().map_err(|_| bad("number too large"))?;
    let mult = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(bad("unknown unit (use s, m, h or d)")),
    };
    let secs = n.checked_mul(mult).ok_or(bad("too long"))?;
    if secs == 0 {
        return Ok(None);
    }
    if secs > 365 * 86_400 {
        return Err(bad("longer than a year"));
    }
    Ok(Some(Duration::from_secs(secs)))
}

/// One entry of a block list.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Block {
    /// The blocked prefix.
    pub cidr: Cidr,
    /// The kernel value.
    pub entry: BlockEntry,
}

impl Block {
    /// Time left before expiry at monotonic `now_ns`; `None` when permanent.
    pub fn remaining(&self, now_ns: u64) -> Option<Duration> {
        (self.entry.expires_ns != 0).then(|| Duration::from_nanos(self.entry.expires_ns.saturating_sub(now_ns)))
    }
}

/// The two block-list maps (and, when taken from a loaded object, its configuration
/// slot, whose `isolating` flag turns on destination lookups for host isolation).
pub struct BlockMaps {
    v4: LpmTrie<MapData, [u8; 4], BlockEntry>,
    v6: LpmTrie<MapData, [u8; 16], BlockEntry>,
    config: Option<Array<MapData, SensorConfig>>,
}

impl BlockMaps {
    /// Opens the maps pinned under `pin_dir` by a running (or previously run) sensor.
    pub fn open_pinned(pin_dir: &Path) -> Result<Self, BlockError> {
        let open = |name: &'static str| {
            let path = pin_dir.join(name);
            MapData::from_pin(&path).map_err(|source| BlockError::NotRunning { path, source })
        };
        let v4 = LpmTrie::try_from(Map::LpmTrie(open(maps::BLOCK_V4)?)).map_err(|source| BlockError::Map {
            op: "open",
            map: maps::BLOCK_V4,
            source,
        })?;
        let v6 = LpmTrie::try_from(Map::LpmTrie(open(maps::BLOCK_V6)?)).map_err(|source| BlockError::Map {
            op: "open",
            map: maps::BLOCK_V6,
            source,
        })?;
        Ok(Self { v4, v6, config: None })
    }

    /// Takes the maps out of a loaded object.
    pub fn from_ebpf(ebpf: &mut aya::Ebpf) -> Result<Self, BlockError> {
        let take =
            |ebpf: &mut aya::Ebpf, name: &'static str| ebpf.take_map(name).ok_or(BlockError::MissingMap { name });
        let v4 = LpmTrie::try_from(take(ebpf, maps::BLOCK_V4)?).map_err(|source| BlockError::Map {
            op: "open",
            map: maps::BLOCK_V4,
            source,
        })?;
        let v6 = LpmTrie::try_from(take(ebpf, maps::BLOCK_V6)?).map_err(|source| BlockError::Map {
            op: "open",
            map: maps::BLOCK_V6,
            source,
        })?;
        let config = ebpf.take_map(maps::CONFIG).and_then(|m| Array::try_from(m).ok());
        Ok(Self { v4, v6, config })
    }

    /// Turns the kernel's destination lookups (host isolation) on or off. Maps opened from
    /// pins have no configuration slot: `MissingMap`.
    pub fn set_isolating(&mut self, on: bool) -> Result<(), BlockError> {
        let cfg = self.config.as_mut().ok_or(BlockError::MissingMap { name: maps::CONFIG })?;
        let mut v = cfg.get(&0, 0).map_err(|source| BlockError::Map { op: "read", map: maps::CONFIG, source })?;
        v.isolating = u32::from(on);
        cfg.set(0, v, 0).map_err(|source| BlockError::Map { op: "write", map: maps::CONFIG, source })
    }

    /// Writes `cidr` in `mode` (`sensor_common::block::BLOCK_MODE_*`) for `ttl`.
    pub fn write_mode(
        &mut self,
        cidr: Cidr,
        ttl: Option<Duration>,
        reason: u16,
        mode: u8,
    ) -> Result<BlockEntry, BlockError> {
        self.write(cidr, ttl, reason, mode)
    }

    /// Blocks `cidr` for `ttl` (`None` = until unblocked) with a reason code.
    pub fn insert(&mut self, cidr: Cidr, ttl: Option<Duration>, reason: u16) -> Result<BlockEntry, BlockError> {
        self.write(cidr, ttl, reason, sensor_common::block::BLOCK_MODE_DROP)
    }

    /// Watches `cidr` for `ttl`: the XDP program counts its packets (`watch_hits`) and lets
    /// them pass. Threat-intelligence mirroring in watch mode uses it.
    pub fn watch(&mut self, cidr: Cidr, ttl: Option<Duration>, reason: u16) -> Result<BlockEntry, BlockError> {
        self.write(cidr, ttl, reason, sensor_common::block::BLOCK_MODE_WATCH)
    }

    fn write(&mut self, cidr: Cidr, ttl: Option<Duration>, reason: u16, mode: u8) -> Result<BlockEntry, BlockError> {
        let now = monotonic_ns();
        let entry = BlockEntry {
            expires_ns: ttl.map_or(0, |t| now.saturating_add(t.as_nanos() as u64)),
            created_ns: now,
            reason,
            mode,
            _pad: [0; 5],
        };
        self.insert_entry(cidr, entry)?;
        Ok(entry)
    }

    /// Writes an entry as given (tests use it to write already-expired entries).
    pub fn insert_entry(&mut self, cidr: Cidr, entry: BlockEntry) -> Result<(), BlockError> {
        match cidr.addr {
            IpAddr::V4(a) => self
                .v4
                .insert(&Key::new(cidr.prefix as u32, a.octets()), entry, 0)
                .map_err(|source| BlockError::Map { op: "insert", map: maps::BLOCK_V4, source }),
            IpAddr::V6(a) => self
                .v6
                .insert(&Key::new(cidr.prefix as u32, a.octets()), entry, 0)
                .map_err(|source| BlockError::Map { op: "insert", map: maps::BLOCK_V6, source }),
        }
    }

    /// Removes `cidr`; returns whether it was present.
    pub fn remove(&mut self, cidr: Cidr) -> Result<bool, BlockError> {
        let r = match cidr.addr {
            IpAddr::V4(a) => self.v4.remove(&Key::new(cidr.prefix as u32, a.octets())),
            IpAddr::V6(a) => self.v6.remove(&Key::new(cidr.prefix as u32, a.octets())),
        };
        match r {
            Ok(()) => Ok(true),
            Err(MapError::KeyNotFound) => Ok(false),
            Err(MapError::SyscallError(e)) if e.io_error.raw_os_error() == Some(libc::ENOENT) => Ok(false),
            Err(source) => Err(BlockError::Map { op: "remove", map: maps::BLOCK_V4, source }),
        }
    }

    /// Every entry, IPv4 first.
    pub fn list(&self) -> Result<Vec<Block>, BlockError> {
        let mut out = Vec::new();
        for item in self.v4.iter() {
            let (k, entry) = item.map_err(|source| BlockError::Map { op: "iterate", map: maps::BLOCK_V4, source })?;
            out.push(Block {
                cidr: Cidr { addr: IpAddr::V4(Ipv4Addr::from(k.data())), prefix: k.prefix_len() as u8 },
                entry,
            });
        }
        for item in self.v6.iter() {
            let (k, entry) = item.map_err(|source| BlockError::Map { op: "iterate", map: maps::BLOCK_V6, source })?;
            out.push(Block {
                cidr: Cidr { addr: IpAddr::V6(Ipv6Addr::from(k.data())), prefix: k.prefix_len() as u8 },
                entry,
            });
        }
        out.sort_by_key(|b| b.cidr);
        Ok(out)
    }

    /// Removes entries expired at `now_ns`; returns their prefixes. (The kernel already
    /// lets expired entries pass; this keeps the maps from filling up.)
    pub fn sweep_expired(&mut self, now_ns: u64) -> Result<Vec<Cidr>, BlockError> {
        let expired: Vec<Cidr> = self
            .list()?
            .into_iter()
            .filter(|b| !sensor_common::block::block_applies(b.entry.expires_ns, now_ns))
            .map(|b| b.cidr)
            .collect();
        for c in &expired {
            self.remove(*c)?;
        }
        Ok(expired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_addresses_and_prefixes_and_clears_host_bits() {
        assert_eq!("10.1.2.3".parse::<Cidr>().expect("v4").to_string(), "10.1.2.3/32");
        assert_eq!("10.1.2.3/24".parse::<Cidr>().expect("v4/24").to_string(), "10.1.2.0/24");
        assert_eq!("2001:db8::1/32".parse::<Cidr>().expect("v6").to_string(), "2001:db8::/32");
        assert_eq!("0.0.0.0/0".parse::<Cidr>().expect("all").to_string(), "0.0.0.0/0");
    }

    #[test]
    fn rejects_bad_cidrs_with_the_reason() {
        for bad in ["", "10.0.0", "10.0.0.1/33", "::1/129", "10.0.0.1/x", "example.com"] {
            let e = bad.parse::<Cidr>().expect_err(bad).to_string();
            assert!(e.contains("invalid address or CIDR"), "{e}");
        }
    }

    #[test]
    fn containment_follows_the_prefix() {
        let c: Cidr = "10.9.0.0/24".parse().expect("cidr");
        assert!(c.contains("10.9.0.200".parse().expect("ip")));
        assert!(!c.contains("10.9.1.1".parse().expect("ip")));
        assert!(!c.contains("::1".parse().expect("ip")));
    }

    #[test]
    fn parses_ttls() {
        assert_eq!(parse_ttl("10m").expect("10m"), Some(Duration::from_secs(600)));
        assert_eq!(parse_ttl("90").expect("90"), Some(Duration::from_secs(90)));
        assert_eq!(parse_ttl("7d").expect("7d"), Some(Duration::from_secs(7 * 86_400)));
        assert_eq!(parse_ttl("0").expect("0"), None);
        assert_eq!(parse_ttl("never").expect("never"), None);
        for bad in ["", "m", "10x", "-5m", "999999999999999999999s", "400d"] {
            assert!(parse_ttl(bad).is_err(), "{bad}");
        }
    }
}

/// Operator notes about blocks (the free-text reason and who set the TTL), kept beside the
/// pins in a small JSON file because the kernel value only has room for a reason code.
pub mod notes {
    use std::{collections::BTreeMap, path::Path};

    /// Note for one CIDR.
    #[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
    pub struct Note {
        /// Free text given with `--reason`.
        pub reason: String,
        /// The TTL as given.
        pub ttl: String,
    }

    /// Loads the notes (an unreadable or missing file is an empty set).
    pub fn load(path: &Path) -> BTreeMap<String, Note> {
        std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or_default()
    }

    /// Saves the notes atomically (write then rename).
    pub fn save(path: &Path, notes: &BTreeMap<String, Note>) -> std::io::Result<()> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, serde_json::to_vec_pretty(notes).map_err(std::io::Error::other)?)?;
        std::fs::rename(tmp, path)
    }
}

impl serde::Serialize for Cidr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Cidr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}
