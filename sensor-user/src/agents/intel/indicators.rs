//! The immutable indicator set the intel agent matches against: addresses and CIDRs in
//! one hash table per prefix length present (longest first, so the most specific listing
//! wins), domains in a hash table of lower-case names matched by walking the parent
//! suffixes of the queried name, and md5/sha1/sha256 digests in tables of fixed-size byte
//! arrays. Built once by [`IndicatorSetBuilder`], then shared read-only (`Arc`); every
//! lookup works on the stack and allocates nothing.
//!
//! Every indicator points at a [`Meta`] (feed, confidence, severity, technique,
//! description) in a deduplicated table, so a feed of a million rows with one description
//! costs one `Meta`.

use std::{
    collections::BTreeMap,
    hash::Hash,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    sync::{Mutex, PoisonError},
};

use foldhash::{HashMap, HashMapExt};

use crate::agents::finding::Severity;

/// Longest domain name kept (RFC 1035 text form).
pub const DOMAIN_MAX: usize = 253;

/// How a feed's address indicators are mirrored into the kernel's XDP block lists (the
/// agent never writes maps; the lead's respond layer reads [`IndicatorSet::mirror_entries`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mirror {
    /// Not mirrored: findings only.
    #[default]
    Off,
    /// Mirrored in count-only (watch) mode.
    Watch,
    /// Mirrored as drop entries.
    Block,
}

impl Mirror {
    /// The lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Off => "off",
            Self::Watch => "watch",
            Self::Block => "block",
        }
    }
}

/// Which digest a hash indicator is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HashKind {
    /// 16-byte MD5.
    Md5,
    /// 20-byte SHA-1.
    Sha1,
    /// 32-byte SHA-256.
    Sha256,
}

impl HashKind {
    /// The lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Md5 => "md5",
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
        }
    }

    /// Digest length in bytes.
    pub const fn digest_len(self) -> usize {
        match self {
            Self::Md5 => 16,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

/// One parsed indicator value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Indicator {
    /// An address (`prefix` = 32 or 128) or a network, host bits cleared.
    Net {
        /// Network address (IPv4-mapped IPv6 is stored as IPv4).
        addr: IpAddr,
        /// Prefix length.
        prefix: u8,
    },
    /// A domain name, lower case, no trailing dot; matches itself and every subdomain.
    Domain(String),
    /// MD5 digest.
    Md5([u8; 16]),
    /// SHA-1 digest.
    Sha1([u8; 20]),
    /// SHA-256 digest.
    Sha256([u8; 32]),
}

impl Indicator {
    /// The report category of this indicator.
    pub fn category(&self) -> Category {
        match self {
            Self::Net { addr: IpAddr::V4(_), prefix: 32 } | Self::Net { addr: IpAddr::V6(_), prefix: 128 } => {
                Category::Address
            }
            Self::Net { .. } => Category::Cidr,
            Self::Domain(_) => Category::Domain,
            Self::Md5(_) => Category::Md5,
            Self::Sha1(_) => Category::Sha1,
            Self::Sha256(_) => Category::Sha256,
        }
    }
}

/// Indicator categories counted in load reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Single addresses.
    Address,
    /// Networks.
    Cidr,
    /// Domains.
    Domain,
    /// MD5 digests.
    Md5,
    /// SHA-1 digests.
    Sha1,
    /// SHA-256 digests.
    Sha256,
}

/// Indicators per category.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Single addresses.
    pub addresses: u64,
    /// Networks.
    pub cidrs: u64,
    /// Domains.
    pub domains: u64,
    /// MD5 digests.
    pub md5: u64,
    /// SHA-1 digests.
    pub sha1: u64,
    /// SHA-256 digests.
    pub sha256: u64,
}

impl Counts {
    /// Adds one indicator of category `c`.
    pub fn add(&mut self, c: Category) {
        let n = match c {
            Category::Address => &mut self.addresses,
            Category::Cidr => &mut self.cidrs,
            Category::Domain => &mut self.domains,
            Category::Md5 => &mut self.md5,
            Category::Sha1 => &mut self.sha1,
            Category::Sha256 => &mut self.sha256,
        };
        *n += 1;
    }

    /// All categories together.
    pub fn total(&self) -> u64 {
        self.addresses + self.cidrs + self.domains + self.md5 + self.sha1 + self.sha256
    }

    /// Adds `o` to `self`.
    pub fn merge(&mut self, o: &Self) {
        self.addresses += o.addresses;
        self.cidrs += o.cidrs;
        self.domains += o.domains;
        self.md5 += o.md5;
        self.sha1 += o.sha1;
        self.sha256 += o.sha256;
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (addresses {}, cidrs {}, domains {}, md5 {}, sha1 {}, sha256 {})",
            self.total(),
            self.addresses,
            self.cidrs,
            self.domains,
            self.md5,
            self.sha1,
            self.sha256
        )
    }
}

/// What is known about one or more indicators: where they come from and how much to trust
/// them.
#[derive(Clone, Debug, PartialEq)]
pub struct Meta {
    /// Index of the feed in [`IndicatorSet::feeds`].
    pub feed: u16,
    /// Confidence of a match, in [0, 1].
    pub confidence: f32,
    /// Severity of a match.
    pub severity: Severity,
    /// ATT&CK technique given by the feed row (None = the agent's default for the kind).
    pub technique: Option<&'static str>,
    /// Short description from the feed row (malware family, comment), at most
    /// [`DESCRIPTION_MAX`] bytes.
    pub description: Option<Box<str>>,
}

/// Longest description kept per indicator, bytes.
pub const DESCRIPTION_MAX: usize = 160;

#[derive(Debug, PartialEq, Eq, Hash)]
struct MetaKey {
    feed: u16,
    confidence: u32,
    severity: u8,
    technique: Option<&'static str>,
    description: Option<Box<str>>,
}

impl MetaKey {
    fn of(m: &Meta) -> Self {
        Self {
            feed: m.feed,
            confidence: m.confidence.to_bits(),
            severity: m.severity as u8,
            technique: m.technique,
            description: m.description.clone(),
        }
    }
}

/// A feed as the set knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedInfo {
    /// The name shown in findings.
    pub name: String,
    /// Whether its address indicators are mirrored into the block lists.
    pub mirror: Mirror,
}

/// Value of every table: the indicator's meta and its strongest mirror mode (an indicator
/// listed by several feeds is mirrored as the strictest of them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Entry {
    meta: u32,
    mirror: Mirror,
}

/// The immutable, shareable indicator set.
#[derive(Debug, Default)]
pub struct IndicatorSet {
    feeds: Vec<FeedInfo>,
    metas: Vec<Meta>,
    /// (prefix, network -> entry), longest prefix first.
    v4: Vec<(u8, HashMap<u32, Entry>)>,
    v6: Vec<(u8, HashMap<u128, Entry>)>,
    domains: HashMap<Box<[u8]>, Entry>,
    md5: HashMap<[u8; 16], Entry>,
    sha1: HashMap<[u8; 20], Entry>,
    sha256: HashMap<[u8; 32], Entry>,
    counts: Counts,
}

/// An address or CIDR that matched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AddrHit<'a> {
    /// The listed network (the address itself for single-address indicators).
    pub network: IpAddr,
    /// Its prefix length.
    pub prefix: u8,
    /// What the feed says about it.
    pub meta: &'a Meta,
    /// The feed.
    pub feed: &'a FeedInfo,
}

impl AddrHit<'_> {
    /// Whether the indicator is a single address rather than a network.
    pub fn is_single(&self) -> bool {
        self.prefix == full_prefix(&self.network)
    }

    /// "address 198.51.100.7" or "CIDR 198.51.100.0/24", for reasons.
    pub fn describe(&self) -> String {
        if self.is_single() {
            format!("address {}", self.network)
        } else {
            format!("CIDR {}/{}", self.network, self.prefix)
        }
    }
}

/// A domain that matched (the queried name or one of its parents).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DomainHit<'a> {
    /// The listed domain.
    pub domain: &'a str,
    /// What the feed says about it.
    pub meta: &'a Meta,
    /// The feed.
    pub feed: &'a FeedInfo,
}

/// A digest that matched.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HashHit<'a> {
    /// Which digest.
    pub kind: HashKind,
    /// What the feed says about it.
    pub meta: &'a Meta,
    /// The feed.
    pub feed: &'a FeedInfo,
}

/// One address indicator for mirroring into the block lists.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MirrorEntry<'a> {
    /// Network address (host bits cleared).
    pub addr: IpAddr,
    /// Prefix length (32/128 for single addresses).
    pub prefix: u8,
    /// Strictest mirror mode among the feeds listing it.
    pub mirror: Mirror,
    /// Name of the feed whose details the set kept for it.
    pub feed: &'a str,
}

/// Prefix length of a single address of `a`'s family.
pub fn full_prefix(a: &IpAddr) -> u8 {
    match a {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// `a` with IPv4-mapped IPv6 addresses turned into IPv4.
pub fn canonical(a: IpAddr) -> IpAddr {
    match a {
        IpAddr::V6(v) => v.to_ipv4_mapped().map_or(IpAddr::V6(v), IpAddr::V4),
        v4 => v4,
    }
}

/// `a` with the bits after `prefix` cleared.
pub fn mask4(a: u32, prefix: u8) -> u32 {
    if prefix == 0 { 0 } else { a & (u32::MAX << (32 - u32::from(prefix.min(32)))) }
}

/// `a` with the bits after `prefix` cleared.
pub fn mask6(a: u128, prefix: u8) -> u128 {
    if prefix == 0 { 0 } else { a & (u128::MAX << (128 - u32::from(prefix.min(128)))) }
}

/// Lower-cases `name` into `buf` and drops one trailing dot; None when it does not fit.
fn lower_into<'b>(name: &[u8], buf: &'b mut [u8; 256]) -> Option<&'b [u8]> {
    let name = name.strip_suffix(b".").unwrap_or(name);
    if name.is_empty() || name.len() > buf.len() {
        return None;
    }
    for (d, s) in buf.iter_mut().zip(name) {
        *d = s.to_ascii_lowercase();
    }
    Some(&buf[..name.len()])
}

/// Decodes `hex` (any case) into `out`; false when it is not `2 * out.len()` hex digits.
pub fn decode_hex(hex: &[u8], out: &mut [u8]) -> bool {
    if hex.len() != out.len() * 2 {
        return false;
    }
    fn nib(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            b'A'..=b'F' => Some(c - b'A' + 10),
            _ => None,
        }
    }
    for (o, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        match (nib(pair[0]), nib(pair[1])) {
            (Some(h), Some(l)) => *o = h << 4 | l,
            _ => return false,
        }
    }
    true
}

impl IndicatorSet {
    /// The feeds, in configuration order.
    pub fn feeds(&self) -> &[FeedInfo] {
        &self.feeds
    }

    /// Indicators held, per category.
    pub fn counts(&self) -> Counts {
        self.counts
    }

    /// Whether no indicator is held.
    pub fn is_empty(&self) -> bool {
        self.counts.total() == 0
    }

    /// Whether any address or CIDR is held.
    pub fn has_addresses(&self) -> bool {
        !self.v4.is_empty() || !self.v6.is_empty()
    }

    /// Whether any domain is held.
    pub fn has_domains(&self) -> bool {
        !self.domains.is_empty()
    }

    fn meta(&self, e: &Entry) -> Option<(&Meta, &FeedInfo)> {
        let m = self.metas.get(e.meta as usize)?;
        Some((m, self.feeds.get(usize::from(m.feed))?))
    }

    /// The most specific address or CIDR indicator containing `addr`. Allocates nothing.
    pub fn match_addr(&self, addr: &IpAddr) -> Option<AddrHit<'_>> {
        match canonical(*addr) {
            IpAddr::V4(v) => {
                let a = u32::from(v);
                self.v4.iter().find_map(|(p, t)| {
                    let net = mask4(a, *p);
                    let (meta, feed) = self.meta(t.get(&net)?)?;
                    Some(AddrHit { network: IpAddr::V4(Ipv4Addr::from(net)), prefix: *p, meta, feed })
                })
            }
            IpAddr::V6(v) => {
                let a = u128::from(v);
                self.v6.iter().find_map(|(p, t)| {
                    let net = mask6(a, *p);
                    let (meta, feed) = self.meta(t.get(&net)?)?;
                    Some(AddrHit { network: IpAddr::V6(Ipv6Addr::from(net)), prefix: *p, meta, feed })
                })
            }
        }
    }

    /// The domain indicator equal to `name` or to one of its parent domains (the longest
    /// listed one wins). Case-insensitive, a trailing dot is ignored; names longer than 256
    /// bytes never match. Allocates nothing.
    pub fn match_domain(&self, name: &[u8]) -> Option<DomainHit<'_>> {
        if self.domains.is_empty() {
            return None;
        }
        let mut buf = [0u8; 256];
        let name = lower_into(name, &mut buf)?;
        if name.len() > DOMAIN_MAX {
            // Longer than any listed name: only its parents can match.
            let cut = name.len() - DOMAIN_MAX;
            let dot = name[cut..].iter().position(|b| *b == b'.')?;
            return self.match_suffixes(&name[cut + dot + 1..]);
        }
        self.match_suffixes(name)
    }

    fn match_suffixes(&self, name: &[u8]) -> Option<DomainHit<'_>> {
        let mut rest = name;
        loop {
            // Listed domains have at least two labels: a single label never matches.
            let dot = rest.iter().position(|b| *b == b'.')?;
            if let Some((k, e)) = self.domains.get_key_value(rest) {
                let (meta, feed) = self.meta(e)?;
                return Some(DomainHit { domain: std::str::from_utf8(k).unwrap_or(""), meta, feed });
            }
            rest = &rest[dot + 1..];
        }
    }

    /// The hash indicator equal to `hex` (32, 40 or 64 hex digits, any case). Allocates
    /// nothing.
    pub fn match_hash_hex(&self, hex: &str) -> Option<HashHit<'_>> {
        let hex = hex.trim().as_bytes();
        let mut buf = [0u8; 32];
        let n = hex.len() / 2;
        if !matches!(n, 16 | 20 | 32) || !decode_hex(hex, &mut buf[..n]) {
            return None;
        }
        self.match_digest(&buf[..n])
    }

    /// The hash indicator equal to the raw `digest` (16, 20 or 32 bytes: md5, sha1,
    /// sha256). Allocates nothing.
    pub fn match_digest(&self, digest: &[u8]) -> Option<HashHit<'_>> {
        let (kind, e) = match digest.len() {
            16 => (HashKind::Md5, self.md5.get(<&[u8; 16]>::try_from(digest).ok()?)?),
            20 => (HashKind::Sha1, self.sha1.get(<&[u8; 20]>::try_from(digest).ok()?)?),
            32 => (HashKind::Sha256, self.sha256.get(<&[u8; 32]>::try_from(digest).ok()?)?),
            _ => return None,
        };
        let (meta, feed) = self.meta(e)?;
        Some(HashHit { kind, meta, feed })
    }

    /// Every address and CIDR indicator, with its mirror mode (including `Off`).
    pub fn address_indicators(&self) -> impl Iterator<Item = MirrorEntry<'_>> + '_ {
        let name = move |e: &Entry| self.meta(e).map(|(_, f)| f.name.as_str()).unwrap_or("");
        let v4 = self.v4.iter().flat_map(move |(p, t)| {
            t.iter().map(move |(a, e)| MirrorEntry {
                addr: IpAddr::V4(Ipv4Addr::from(*a)),
                prefix: *p,
                mirror: e.mirror,
                feed: name(e),
            })
        });
        let v6 = self.v6.iter().flat_map(move |(p, t)| {
            t.iter().map(move |(a, e)| MirrorEntry {
                addr: IpAddr::V6(Ipv6Addr::from(*a)),
                prefix: *p,
                mirror: e.mirror,
                feed: name(e),
            })
        });
        v4.chain(v6)
    }

    /// The address and CIDR indicators of feeds whose `mirror` is `watch` or `block`: what
    /// the respond layer writes into `BLOCK_V4`/`BLOCK_V6` (reason `ThreatIntel`).
    pub fn mirror_entries(&self) -> impl Iterator<Item = MirrorEntry<'_>> + '_ {
        self.address_indicators().filter(|e| e.mirror != Mirror::Off)
    }
}

/// What [`IndicatorSetBuilder::insert`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Inserted {
    /// A new indicator.
    New,
    /// Already held (the more confident details are kept).
    Duplicate,
    /// The set is full (`max_indicators`); nothing was added.
    Full,
}

/// Builds an [`IndicatorSet`].
#[derive(Debug)]
pub struct IndicatorSetBuilder {
    set: IndicatorSet,
    v4: BTreeMap<u8, HashMap<u32, Entry>>,
    v6: BTreeMap<u8, HashMap<u128, Entry>>,
    meta_ids: HashMap<MetaKey, u32>,
    max: u64,
}

impl IndicatorSetBuilder {
    /// A builder holding at most `max_indicators` indicators.
    pub fn new(max_indicators: usize) -> Self {
        Self {
            set: IndicatorSet::default(),
            v4: BTreeMap::new(),
            v6: BTreeMap::new(),
            meta_ids: HashMap::new(),
            max: max_indicators as u64,
        }
    }

    /// Registers a feed; returns its index for [`Meta::feed`] (feeds past 65535 share the
    /// last index).
    pub fn add_feed(&mut self, name: &str, mirror: Mirror) -> u16 {
        self.set.feeds.push(FeedInfo { name: name.to_owned(), mirror });
        u16::try_from(self.set.feeds.len() - 1).unwrap_or(u16::MAX)
    }

    /// Indicators held so far.
    pub fn counts(&self) -> Counts {
        self.set.counts
    }

    fn meta_id(&mut self, meta: Meta) -> u32 {
        let key = MetaKey::of(&meta);
        if let Some(id) = self.meta_ids.get(&key) {
            return *id;
        }
        let id = u32::try_from(self.set.metas.len()).unwrap_or(u32::MAX);
        self.set.metas.push(meta);
        self.meta_ids.insert(key, id);
        id
    }

    /// Adds `ind` with `meta`; `mirror` is the feed's mirror mode.
    pub fn insert(&mut self, ind: Indicator, meta: Meta, mirror: Mirror) -> Inserted {
        let full = self.set.counts.total() >= self.max;
        let category = ind.category();
        let confidence = meta.confidence;
        // Decide on the table first so a duplicate does not add a meta.
        let metas = &self.set.metas;
        let better = |old: &Entry| metas.get(old.meta as usize).is_none_or(|m| confidence > m.confidence);
        let slot: Option<(bool, bool)> = match &ind {
            Indicator::Net { addr: IpAddr::V4(a), prefix } => {
                probe(self.v4.entry(*prefix).or_default(), &mask4(u32::from(*a), *prefix), better)
            }
            Indicator::Net { addr: IpAddr::V6(a), prefix } => {
                probe(self.v6.entry(*prefix).or_default(), &mask6(u128::from(*a), *prefix), better)
            }
            Indicator::Domain(d) => probe(&self.set.domains, d.as_bytes(), better),
            Indicator::Md5(h) => probe(&self.set.md5, h, better),
            Indicator::Sha1(h) => probe(&self.set.sha1, h, better),
            Indicator::Sha256(h) => probe(&self.set.sha256, h, better),
        };
        match slot {
            Some((_, replace)) => {
                let id = if replace { Some(self.meta_id(meta)) } else { None };
                self.update(&ind, id, mirror);
                Inserted::Duplicate
            }
            None if full => Inserted::Full,
            None => {
                let e = Entry { meta: self.meta_id(meta), mirror };
                match ind {
                    Indicator::Net { addr: IpAddr::V4(a), prefix } => {
                        self.v4.entry(prefix).or_default().insert(mask4(u32::from(a), prefix), e);
                    }
                    Indicator::Net { addr: IpAddr::V6(a), prefix } => {
                        self.v6.entry(prefix).or_default().insert(mask6(u128::from(a), prefix), e);
                    }
                    Indicator::Domain(d) => {
                        self.set.domains.insert(d.into_bytes().into_boxed_slice(), e);
                    }
                    Indicator::Md5(h) => {
                        self.set.md5.insert(h, e);
                    }
                    Indicator::Sha1(h) => {
                        self.set.sha1.insert(h, e);
                    }
                    Indicator::Sha256(h) => {
                        self.set.sha256.insert(h, e);
                    }
                }
                self.set.counts.add(category);
                Inserted::New
            }
        }
    }

    /// Updates an existing entry: a new meta when more confident, the strictest mirror.
    fn update(&mut self, ind: &Indicator, meta: Option<u32>, mirror: Mirror) {
        let apply = |e: &mut Entry| {
            if let Some(m) = meta {
                e.meta = m;
            }
            e.mirror = e.mirror.max(mirror);
        };
        match ind {
            Indicator::Net { addr: IpAddr::V4(a), prefix } => {
                if let Some(e) = self.v4.get_mut(prefix).and_then(|t| t.get_mut(&mask4(u32::from(*a), *prefix))) {
                    apply(e);
                }
            }
            Indicator::Net { addr: IpAddr::V6(a), prefix } => {
                if let Some(e) = self.v6.get_mut(prefix).and_then(|t| t.get_mut(&mask6(u128::from(*a), *prefix))) {
                    apply(e);
                }
            }
            Indicator::Domain(d) => {
                if let Some(e) = self.set.domains.get_mut(d.as_bytes()) {
                    apply(e);
                }
            }
            Indicator::Md5(h) => {
                if let Some(e) = self.set.md5.get_mut(h) {
                    apply(e);
                }
            }
            Indicator::Sha1(h) => {
                if let Some(e) = self.set.sha1.get_mut(h) {
                    apply(e);
                }
            }
            Indicator::Sha256(h) => {
                if let Some(e) = self.set.sha256.get_mut(h) {
                    apply(e);
                }
            }
        }
    }

    /// The finished, immutable set.
    pub fn build(mut self) -> IndicatorSet {
        // Longest prefix first: the most specific listing wins.
        self.set.v4 = self
            .v4
            .into_iter()
            .rev()
            .filter(|(_, t)| !t.is_empty())
            .map(|(p, mut t)| {
                t.shrink_to_fit();
                (p, t)
            })
            .collect();
        self.set.v6 = self
            .v6
            .into_iter()
            .rev()
            .filter(|(_, t)| !t.is_empty())
            .map(|(p, mut t)| {
                t.shrink_to_fit();
                (p, t)
            })
            .collect();
        self.set.domains.shrink_to_fit();
        self.set.md5.shrink_to_fit();
        self.set.sha1.shrink_to_fit();
        self.set.sha256.shrink_to_fit();
        self.set.metas.shrink_to_fit();
        self.set
    }
}

/// Whether `key` is in `t` (Some((true, replace?))), None when absent.
fn probe<K, Q>(t: &HashMap<K, Entry>, key: &Q, better: impl Fn(&Entry) -> bool) -> Option<(bool, bool)>
where
    K: Eq + Hash + std::borrow::Borrow<Q>,
    Q: Eq + Hash + ?Sized,
{
    t.get(key).map(|e| (true, better(e)))
}

/// ATT&CK technique ids that need no interning.
const KNOWN_TECHNIQUES: &[&str] = &[
    "T1071",
    "T1071.001",
    "T1071.002",
    "T1071.003",
    "T1071.004",
    "T1090",
    "T1090.003",
    "T1095",
    "T1105",
    "T1102",
    "T1041",
    "T1048",
    "T1566",
    "T1566.001",
    "T1566.002",
    "T1189",
    "T1190",
    "T1204",
    "T1204.001",
    "T1204.002",
    "T1568",
    "T1568.002",
    "T1573",
    "T1583",
    "T1584",
    "T1046",
    "T1110",
    "T1498",
    "T1496",
    "T1219",
    "T1572",
];

/// Distinct technique ids interned per process (each leaks a few bytes once).
const INTERN_MAX: usize = 1024;

static INTERNED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// The `&'static str` of an ATT&CK technique id written by a feed (`T1071`,
/// `t1071.004`, `Application Layer Protocol - T1071`): None when the text holds no id of the
/// form `T` + 4 digits (+ `.` + 3 digits), or when too many distinct ids were already
/// interned.
pub fn technique_id(text: &str) -> Option<&'static str> {
    let b = text.as_bytes();
    let mut id = None;
    for i in 0..b.len() {
        if !matches!(b[i], b'T' | b't') || (i > 0 && b[i - 1].is_ascii_alphanumeric()) {
            continue;
        }
        let digits = |from: usize, n: usize| b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit);
        if !digits(i + 1, 4) {
            continue;
        }
        let mut end = i + 5;
        if b.get(end) == Some(&b'.') && digits(end + 1, 3) {
            end += 4;
        }
        if b.get(end).is_some_and(u8::is_ascii_alphanumeric) {
            continue;
        }
        id = Some((i, end));
        break;
    }
    let (s, e) = id?;
    let mut norm = String::with_capacity(e - s);
    norm.push('T');
    norm.push_str(&text[s + 1..e]);
    if let Some(k) = KNOWN_TECHNIQUES.iter().find(|k| **k == norm) {
        return Some(k);
    }
    let mut interned = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(k) = interned.iter().find(|k| **k == norm) {
        return Some(k);
    }
    if interned.len() >= INTERN_MAX {
        return None;
    }
    let leaked: &'static str = Box::leak(norm.into_boxed_str());
    interned.push(leaked);
    Some(leaked)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(feed: u16, confidence: f32) -> Meta {
        Meta { feed, confidence, severity: Severity::Medium, technique: None, description: None }
    }

    fn net(s: &str, prefix: u8) -> Indicator {
        Indicator::Net { addr: s.parse().expect("addr"), prefix }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("addr")
    }

    #[test]
    fn the_most_specific_network_wins_and_mapped_addresses_match_ipv4() {
        let mut b = IndicatorSetBuilder::new(100);
        let f = b.add_feed("f", Mirror::Off);
        assert_eq!(b.insert(net("198.51.100.0", 24), meta(f, 0.5), Mirror::Off), Inserted::New);
        assert_eq!(b.insert(net("198.51.100.7", 32), meta(f, 0.9), Mirror::Off), Inserted::New);
        assert_eq!(b.insert(net("2001:db8::", 32), meta(f, 0.6), Mirror::Off), Inserted::New);
        let s = b.build();
        let h = s.match_addr(&ip("198.51.100.7")).expect("exact");
        assert_eq!((h.prefix, h.meta.confidence), (32, 0.9));
        assert!(h.is_single());
        let h = s.match_addr(&ip("::ffff:198.51.100.8")).expect("cidr via mapped");
        assert_eq!((h.network, h.prefix), (ip("198.51.100.0"), 24));
        assert_eq!(h.describe(), "CIDR 198.51.100.0/24");
        assert!(s.match_addr(&ip("198.51.101.1")).is_none());
        assert_eq!(s.match_addr(&ip("2001:db8:1::5")).expect("v6").prefix, 32);
        assert!(s.match_addr(&ip("2001:db9::1")).is_none());
    }

    #[test]
    fn a_domain_matches_itself_and_subdomains_but_not_lookalikes() {
        let mut b = IndicatorSetBuilder::new(100);
        let f = b.add_feed("f", Mirror::Off);
        b.insert(Indicator::Domain("evil.example".into()), meta(f, 0.8), Mirror::Off);
        let s = b.build();
        for q in ["evil.example", "A.B.EVIL.example.", "x.evil.example"] {
            assert_eq!(s.match_domain(q.as_bytes()).map(|h| h.domain), Some("evil.example"), "{q}");
        }
        for q in ["notevil.example", "evil.example.org", "example", "", ".", "evil", "\u{0}\u{ff}"] {
            assert!(s.match_domain(q.as_bytes()).is_none(), "{q}");
        }
        // A name longer than any listed one still matches through its parents.
        let long = format!("{}.evil.example", "a.".repeat(120));
        assert!(s.match_domain(long.as_bytes()).is_some());
        assert!(s.match_domain(&[b'a'; 300]).is_none());
    }

    #[test]
    fn duplicates_keep_the_most_confident_details_and_the_strictest_mirror() {
        let mut b = IndicatorSetBuilder::new(100);
        let f1 = b.add_feed("low", Mirror::Watch);
        let f2 = b.add_feed("high", Mirror::Off);
        b.insert(net("192.0.2.1", 32), meta(f1, 0.4), Mirror::Watch);
        assert_eq!(b.insert(net("192.0.2.1", 32), meta(f2, 0.9), Mirror::Off), Inserted::Duplicate);
        let s = b.build();
        let h = s.match_addr(&ip("192.0.2.1")).expect("hit");
        assert_eq!(h.feed.name, "high");
        let m: Vec<_> = s.mirror_entries().collect();
        assert_eq!(m.len(), 1);
        assert_eq!((m[0].mirror, m[0].feed), (Mirror::Watch, "high"));
    }

    #[test]
    fn the_builder_stops_at_its_cap() {
        let mut b = IndicatorSetBuilder::new(3);
        let f = b.add_feed("f", Mirror::Off);
        for i in 0..5u8 {
            let r = b.insert(Indicator::Md5([i; 16]), meta(f, 0.8), Mirror::Off);
            assert_eq!(r, if i < 3 { Inserted::New } else { Inserted::Full });
        }
        // A duplicate is still accepted when full.
        assert_eq!(b.insert(Indicator::Md5([0; 16]), meta(f, 0.8), Mirror::Off), Inserted::Duplicate);
        assert_eq!(b.build().counts().md5, 3);
    }

    #[test]
    fn hashes_match_by_hex_in_any_case_or_by_raw_digest() {
        let mut b = IndicatorSetBuilder::new(10);
        let f = b.add_feed("f", Mirror::Off);
        b.insert(Indicator::Sha256([0xab; 32]), meta(f, 0.8), Mirror::Off);
        b.insert(Indicator::Md5([0x01; 16]), meta(f, 0.8), Mirror::Off);
        let s = b.build();
        assert_eq!(s.match_hash_hex(&"AB".repeat(32)).expect("sha256").kind, HashKind::Sha256);
        assert_eq!(s.match_digest(&[0x01; 16]).expect("md5").kind, HashKind::Md5);
        assert!(s.match_hash_hex(&"ab".repeat(31)).is_none());
        assert!(s.match_hash_hex(&"zz".repeat(32)).is_none());
        assert!(s.match_digest(&[0x01; 17]).is_none());
    }

    #[test]
    fn technique_ids_are_found_in_feed_text() {
        assert_eq!(technique_id("T1071"), Some("T1071"));
        assert_eq!(technique_id("t1071.004"), Some("T1071.004"));
        assert_eq!(technique_id("misp-galaxy:mitre-attack-pattern=\"Ingress Tool Transfer - T1105\""), Some("T1105"));
        assert_eq!(technique_id("T9999.123"), Some("T9999.123"));
        assert_eq!(technique_id("T9999.123"), Some("T9999.123"));
        for bad in ["", "T10", "AT1071", "T10711", "T1071x", "command and control"] {
            assert_eq!(technique_id(bad), None, "{bad}");
        }
    }
}
