//! DNS tunnelling and exfiltration, and ICMP tunnels.
//!
//! **DNS.** Every query name is scored on its own ([`analyze_name`]): the part left of the
//! registered domain (the last two labels, or three when the second-to-last is a short
//! public-suffix-like label such as `co.uk`) is checked for long labels, hex or
//! base32/base64-looking labels, Shannon entropy, bytes that are not text (control bytes,
//! invalid UTF-8) and printable characters that have no place in a host name (`* = + /`).
//! A name whose last label cannot be a top-level domain (digits, too long: `dnscat.<hex>`)
//! has no registered domain; the whole name is scored. Multicast and link-local naming
//! (`.local`, NetBIOS-encoded names), reverse lookups (`.arpa`) and the configured
//! `allow_domains` are exempt.
//!
//! Per client and registered domain, a window (default 60 s) counts queries, distinct
//! encoded names (score >= `encoded_score`; a name asked again, as when a cached record
//! expires, counts once: tunnels never repeat a name), distinct subdomains (512-bit
//! linear-counting sketches; all-numeric subdomains such as DNSBL reverse-IP lookups are
//! not counted),
//! subdomain bytes and TXT/NULL/CNAME/MX/KEY/private-type queries. A client sending
//! `min_encoded` encoded names, or `min_distinct` distinct subdomains, to one domain in a
//! window is reported as `dns_tunnel` (T1071.004), with confidence from 0.5 up to ~0.95 as
//! the counts grow and when the query types, binary names or byte volume add to it. A
//! single name scoring at least `min_name_score` is reported once per client per
//! `cooldown_s` with confidence below 0.5 (the score, at most 0.45): one odd query is weak
//! evidence.
//!
//! **ICMP.** Per client/server pair, a window (default 60 s) of echo requests and replies
//! counts packets, bytes, distinct sizes and the share of the most common size. A normal
//! `ping` sends one fixed size (56, 32 or 48 payload bytes) about once a second; a tunnel
//! (ptunnel, icmpsh, hans) sends many packets whose sizes follow the data. At least
//! `icmp_min_packets` echo packets with `icmp_min_sizes` distinct sizes, no size above
//! `icmp_max_top_share` of the packets and `icmp_min_bytes` bytes give an `icmp_tunnel`
//! finding (T1095) at 0.55 and more with bytes and size spread. Sizes are the L4 payload
//! length when the pipeline gives it, else the wire length (a constant offset).
//!
//! State: one bounded table per kind (`max_entries`, `icmp_max_pairs`), allocated in
//! `new()`, expired on tick, evicting (counted) when full; sharded by client address.
//! Names may be hostile (overlong, binary, empty labels): they are handled as bytes,
//! never panic, and binary bytes count as evidence.

use std::net::IpAddr;

use foldhash::{HashMap, HashMapExt};

use super::{
    agent::{Agent, Cooldown, Emitter, ns_secs, secs_ns},
    context::Context,
    event::{DnsEvent, Event, PacketMeta, ip_proto, kind},
    finding::{Entities, Evidence, Finding, Severity},
};

/// Settings of the `dns_tunnel` agent.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DnsTunnelConfig {
    /// Window over which a client's queries to one domain are counted, seconds (60).
    pub window_s: f64,
    /// Name score (0..0.45, see [`analyze_name`]) from which a name counts as encoded (0.2).
    pub encoded_score: f64,
    /// Distinct encoded names to one domain in a window that make a tunnel finding (5).
    pub min_encoded: u32,
    /// Distinct subdomains of one domain in a window that make a tunnel finding (60).
    pub min_distinct: u32,
    /// Queries in a window before the query-type mix counts as evidence (10).
    pub min_queries_for_types: u32,
    /// Share of TXT/NULL/CNAME/MX/KEY/private-type queries that adds to the confidence (0.5).
    pub odd_type_share: f64,
    /// Subdomain bytes in a window that add to the confidence, bytes (8192).
    pub volume_bytes: u64,
    /// Score of a single name that is reported on its own, with confidence < 0.5 (0.3).
    pub min_name_score: f64,
    /// Single-name findings per minute at most, over all clients of one instance (10): a
    /// reflection flood of garbage "DNS" from many sources gives a handful, not thousands.
    pub max_name_findings_per_min: u32,
    /// Confidence from which a tunnel finding is reported (0.5).
    pub report_confidence: f64,
    /// Hold-off between repeated findings about the same client (and domain), seconds (300).
    pub cooldown_s: f64,
    /// Client/domain pairs tracked at most (8192).
    pub max_entries: usize,
    /// Domains (and their subdomains) never scored: reputation and blocklist services
    /// whose lookups are encoded by design.
    pub allow_domains: Vec<String>,
    /// ICMP: window over which a client/server pair's echo packets are counted, seconds (60).
    pub icmp_window_s: f64,
    /// ICMP: echo packets in a window before a pair is judged (20).
    pub icmp_min_packets: u32,
    /// ICMP: distinct packet sizes in a window that make a tunnel (6).
    pub icmp_min_sizes: u32,
    /// ICMP: largest share of the most common size for a tunnel (0.6).
    pub icmp_max_top_share: f64,
    /// ICMP: bytes in a window for a tunnel, bytes (8192).
    pub icmp_min_bytes: u64,
    /// ICMP: client/server pairs tracked at most (4096).
    pub icmp_max_pairs: usize,
}

impl Default for DnsTunnelConfig {
    fn default() -> Self {
        Self {
            window_s: 60.0,
            encoded_score: 0.2,
            min_encoded: 5,
            min_distinct: 60,
            min_queries_for_types: 10,
            odd_type_share: 0.5,
            volume_bytes: 8192,
            min_name_score: 0.3,
            max_name_findings_per_min: 10,
            report_confidence: 0.5,
            cooldown_s: 300.0,
            max_entries: 8192,
            allow_domains: [
                "sophosxl.net",
                "spamhaus.org",
                "spamhaus.net",
                "spameatingmonkey.net",
                "surbl.org",
                "uribl.com",
                "barracudacentral.org",
                "mailspike.net",
                "senderscore.com",
                "dnswl.org",
            ]
            .map(String::from)
            .to_vec(),
            icmp_window_s: 60.0,
            icmp_min_packets: 20,
            icmp_min_sizes: 6,
            icmp_max_top_share: 0.6,
            icmp_min_bytes: 8192,
            icmp_max_pairs: 4096,
        }
    }
}

/// Why a name is not scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exempt {
    /// Scored.
    No,
    /// Empty name (no question).
    Empty,
    /// Multicast DNS / DNS-SD (`.local`).
    Local,
    /// Reverse lookup (`.arpa`).
    Arpa,
    /// A NetBIOS-encoded name (32 letters A-P).
    NetBios,
    /// Under an allowed domain.
    Allowed,
}

/// What [`analyze_name`] measured on one query name.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NameStats {
    /// Whether and why the name is not scored.
    pub exempt: Exempt,
    /// The registered domain is `name[domain_start..]` (empty when the last label cannot
    /// be a top-level domain).
    pub domain_start: usize,
    /// Bytes of the subdomain part `name[..sub_len]` (without the dot before the domain).
    pub sub_len: usize,
    /// Labels in the subdomain part.
    pub sub_labels: u16,
    /// Longest label of the subdomain part.
    pub longest: usize,
    /// Longest label made only of hex digits with both digits and letters.
    pub hex_label: usize,
    /// Longest label that looks base32/base64 encoded (long, frequent switches between
    /// lower case, upper case and digits).
    pub random_label: usize,
    /// Shannon entropy of the subdomain bytes (dots excluded), bits per byte.
    pub entropy: f32,
    /// Bytes that are not text: control bytes and invalid UTF-8.
    pub binary: u16,
    /// Printable ASCII that has no place in a host name (`* = + / space`...), and empty labels.
    pub odd: u16,
    /// Whether the subdomain is only digits and dots (a reverse-IP blocklist lookup).
    pub numeric: bool,
    /// Suspicion of this one name, 0 to 0.45.
    pub score: f32,
}

/// Short second-level labels under which registrations happen (`example.co.uk`).
const SUFFIX_LIKE: &[&[u8]] =
    &[b"co", b"com", b"net", b"org", b"gov", b"ac", b"edu", b"ne", b"or", b"go", b"gv", b"mil"];

fn is_suffix_like(label: &[u8]) -> bool {
    SUFFIX_LIKE.iter().any(|s| s.eq_ignore_ascii_case(label))
}

/// Whether `label` can be a top-level domain: 2..=24 letters, or an `xn--` IDN label.
fn valid_tld(label: &[u8]) -> bool {
    if label.len() < 2 || label.len() > 24 {
        return false;
    }
    if label.len() > 4 && label[..4].eq_ignore_ascii_case(b"xn--") {
        return label[4..].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-');
    }
    label.iter().all(u8::is_ascii_alphabetic)
}

fn ends_with_label(name: &[u8], suffix: &[u8]) -> bool {
    if suffix.is_empty() || name.len() < suffix.len() {
        return false;
    }
    let start = name.len() - suffix.len();
    name[start..].eq_ignore_ascii_case(suffix) && (start == 0 || name[start - 1] == b'.')
}

/// Bytes that are control characters or not valid UTF-8.
fn binary_bytes(b: &[u8]) -> u16 {
    let mut n = 0u16;
    let mut rest = b;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                n = n.saturating_add(s.bytes().filter(|c| *c < 0x20 || *c == 0x7f).count() as u16);
                return n;
            }
            Err(e) => {
                let (good, bad) = rest.split_at(e.valid_up_to());
                n = n.saturating_add(good.iter().filter(|c| **c < 0x20 || **c == 0x7f).count() as u16);
                let skip = e.error_len().unwrap_or(bad.len()).max(1);
                n = n.saturating_add(skip as u16);
                rest = bad.get(skip..).unwrap_or(&[]);
            }
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Lower,
    Upper,
    Digit,
    Other,
}

fn class(b: u8) -> Class {
    match b {
        b'a'..=b'z' => Class::Lower,
        b'A'..=b'Z' => Class::Upper,
        b'0'..=b'9' => Class::Digit,
        _ => Class::Other,
    }
}

/// Measures one query name (raw bytes, labels joined with dots). Never allocates or panics.
///
/// The score adds: longest label of at least 30 (0.1) or 40 (0.2); subdomain of at least
/// 80 bytes (0.1); a hex label of at least 16 (0.1) or 24 (0.2); a base32/64-looking label
/// (0.15); entropy of at least 4.0 bits (0.1) or 4.5 (0.15) over a subdomain of at least
/// 24 bytes; binary bytes (0.3); odd printable characters (0.15, or 0.2 from two). It is
/// capped at 0.45 so that one name alone stays weak evidence.
pub fn analyze_name(name: &[u8], allow: &[Box<[u8]>]) -> NameStats {
    let mut s = NameStats {
        exempt: Exempt::No,
        domain_start: name.len(),
        sub_len: 0,
        sub_labels: 0,
        longest: 0,
        hex_label: 0,
        random_label: 0,
        entropy: 0.0,
        binary: 0,
        odd: 0,
        numeric: false,
        score: 0.0,
    };
    let name = name.strip_suffix(b".").unwrap_or(name);
    s.domain_start = name.len();
    if name.is_empty() {
        s.exempt = Exempt::Empty;
        return s;
    }
    if ends_with_label(name, b"local") {
        s.exempt = Exempt::Local;
        return s;
    }
    if ends_with_label(name, b"arpa") {
        s.exempt = Exempt::Arpa;
        return s;
    }
    let first = name.split(|b| *b == b'.').next().unwrap_or(name);
    if first.len() == 32 && first.iter().all(|b| (b'A'..=b'P').contains(b)) {
        s.exempt = Exempt::NetBios;
        return s;
    }
    if allow.iter().any(|a| ends_with_label(name, a)) {
        s.exempt = Exempt::Allowed;
        return s;
    }
    // Registered domain: last two labels, three under a short suffix-like second level.
    let dots = {
        let mut d = [usize::MAX; 3];
        let mut k = 0;
        for (i, b) in name.iter().enumerate().rev() {
            if *b == b'.' {
                d[k] = i;
                k += 1;
                if k == 3 {
                    break;
                }
            }
        }
        d
    };
    let tld = if dots[0] == usize::MAX { name } else { &name[dots[0] + 1..] };
    let sub = if valid_tld(tld) {
        let sld = if dots[0] == usize::MAX {
            &[][..]
        } else if dots[1] == usize::MAX {
            &name[..dots[0]]
        } else {
            &name[dots[1] + 1..dots[0]]
        };
        let labels = if tld.len() == 2 && is_suffix_like(sld) { 3 } else { 2 };
        match dots[labels - 1] {
            usize::MAX => {
                s.domain_start = 0;
                &name[..0]
            }
            cut => {
                s.domain_start = cut + 1;
                &name[..cut]
            }
        }
    } else {
        // No top-level domain: no registered domain, the whole name is scored.
        name
    };
    s.sub_len = sub.len();
    if sub.is_empty() {
        return s;
    }
    let mut hist = [0u16; 256];
    let mut counted = 0u32;
    s.numeric = true;
    for label in sub.split(|b| *b == b'.') {
        s.sub_labels = s.sub_labels.saturating_add(1);
        if label.is_empty() {
            s.odd = s.odd.saturating_add(1);
            continue;
        }
        s.longest = s.longest.max(label.len());
        let (mut digits, mut hexletters, mut allhex) = (0usize, 0usize, true);
        let (mut switches, mut alnum, mut lower, mut upper) = (0usize, 0usize, 0usize, 0usize);
        let mut prev = Class::Other;
        for &b in label {
            hist[usize::from(b)] = hist[usize::from(b)].saturating_add(1);
            counted += 1;
            if !b.is_ascii_digit() {
                s.numeric = false;
            }
            if (0x21..0x7f).contains(&b) && !b.is_ascii_alphanumeric() && b != b'-' && b != b'_' {
                s.odd = s.odd.saturating_add(1);
            }
            match b {
                b'0'..=b'9' => digits += 1,
                b'a'..=b'f' | b'A'..=b'F' => hexletters += 1,
                _ => allhex = false,
            }
            let c = class(b);
            match c {
                Class::Lower => lower += 1,
                Class::Upper => upper += 1,
                _ => {}
            }
            if c != Class::Other {
                alnum += 1;
                if prev != Class::Other && c != prev {
                    switches += 1;
                }
            }
            prev = c;
        }
        if allhex && digits > 0 && hexletters > 0 && label.len() >= 16 {
            s.hex_label = s.hex_label.max(label.len());
        }
        let n = label.len();
        let mostly_alnum = alnum * 10 >= n * 9;
        let mixed_case = lower > 0 && upper > 0 && digits > 0;
        if n >= 20 && mostly_alnum && (switches * 5 >= n || (mixed_case && switches >= 4)) {
            s.random_label = s.random_label.max(n);
        }
    }
    if counted > 0 {
        let total = counted as f32;
        s.entropy = hist
            .iter()
            .filter(|c| **c > 0)
            .map(|c| {
                let p = f32::from(*c) / total;
                -p * p.log2()
            })
            .sum();
    }
    s.binary = binary_bytes(sub);
    let mut score = 0.0f32;
    score += match s.longest {
        40.. => 0.2,
        30..=39 => 0.1,
        _ => 0.0,
    };
    if s.sub_len >= 80 {
        score += 0.1;
    }
    score += match s.hex_label {
        24.. => 0.2,
        16..=23 => 0.1,
        _ => 0.0,
    };
    if s.random_label > 0 {
        score += 0.15;
    }
    if s.sub_len >= 24 {
        if s.entropy >= 4.5 {
            score += 0.15;
        } else if s.entropy >= 4.0 {
            score += 0.1;
        }
    }
    if s.binary > 0 {
        score += 0.3;
    }
    score += match s.odd {
        0 => 0.0,
        1 => 0.15,
        _ => 0.2,
    };
    s.score = score.min(0.45);
    s
}

/// Query types used to carry data (TXT, NULL, CNAME, MX, KEY, private use).
fn odd_qtype(t: u16) -> bool {
    matches!(t, 5 | 10 | 15 | 16 | 25) || t >= 65280 && t != 65535
}

/// Bytes of a name or domain kept for findings.
const KEEP: usize = 64;

/// A short byte string kept inline.
#[derive(Clone, Copy, Debug)]
struct Keep {
    len: u8,
    buf: [u8; KEEP],
}

impl Keep {
    fn new(b: &[u8]) -> Self {
        let n = b.len().min(KEEP);
        let mut buf = [0; KEEP];
        buf[..n].copy_from_slice(&b[..n]);
        Self { len: n as u8, buf }
    }
    fn bytes(&self) -> &[u8] {
        &self.buf[..usize::from(self.len)]
    }
    /// Printable text for a finding: non-printable bytes as `\xNN`.
    fn show(&self) -> String {
        let mut s = self.bytes().escape_ascii().to_string();
        if usize::from(self.len) == KEEP {
            s.push_str("...");
        }
        s
    }
}

/// A 512-bit linear-counting sketch of distinct values.
#[derive(Clone, Copy, Debug, Default)]
struct Distinct {
    bits: [u64; 8],
}

impl Distinct {
    fn insert(&mut self, h: u64) {
        let h = h ^ (h >> 29) ^ (h >> 47);
        let bit = (h % 512) as usize;
        self.bits[bit / 64] |= 1 << (bit % 64);
    }
    fn estimate(&self) -> f64 {
        let zeros: u32 = self.bits.iter().map(|w| w.count_zeros()).sum();
        512.0 * (512.0 / f64::from(zeros.max(1))).ln()
    }
}

/// Flow ids kept per entry for evidence.
const FLOWS: usize = 4;

/// One client's queries to one registered domain.
#[derive(Clone, Copy, Debug)]
struct DomEntry {
    client: IpAddr,
    domain_key: u64,
    start_ns: u64,
    last_ns: u64,
    queries: u32,
    encoded: Distinct,
    binary_names: u32,
    odd_types: u32,
    sub_bytes: u64,
    max_score: f32,
    distinct: Distinct,
    flows: [u64; FLOWS],
    nflows: u8,
    reported: f32,
    report_ns: u64,
    domain: Keep,
    sample: Keep,
}

impl DomEntry {
    fn new(client: IpAddr, domain_key: u64, domain: &[u8], ts: u64) -> Self {
        Self {
            client,
            domain_key,
            start_ns: ts,
            last_ns: ts,
            queries: 0,
            encoded: Distinct::default(),
            binary_names: 0,
            odd_types: 0,
            sub_bytes: 0,
            max_score: 0.0,
            distinct: Distinct::default(),
            flows: [0; FLOWS],
            nflows: 0,
            reported: 0.0,
            report_ns: 0,
            domain: Keep::new(domain),
            sample: Keep::new(b""),
        }
    }

    fn reset_window(&mut self, ts: u64) {
        self.start_ns = ts;
        self.queries = 0;
        self.encoded = Distinct::default();
        self.binary_names = 0;
        self.odd_types = 0;
        self.sub_bytes = 0;
        self.max_score = 0.0;
        self.distinct = Distinct::default();
        self.nflows = 0;
    }

    fn add_flow(&mut self, id: u64) {
        let n = usize::from(self.nflows);
        if self.flows[..n.min(FLOWS)].contains(&id) {
            return;
        }
        if n < FLOWS {
            self.flows[n] = id;
            self.nflows += 1;
        }
    }
}

/// Size counters kept per ICMP pair (a space-saving top-k).
const TOPK: usize = 6;

/// One client/server pair's echo traffic.
#[derive(Clone, Copy, Debug)]
struct PairEntry {
    client: IpAddr,
    server: IpAddr,
    start_ns: u64,
    last_ns: u64,
    packets: u32,
    bytes: u64,
    sizes: Distinct,
    top: [(u32, u32); TOPK],
    flow_id: u64,
    reported: f32,
    report_ns: u64,
}

impl PairEntry {
    fn new(client: IpAddr, server: IpAddr, ts: u64, flow_id: u64) -> Self {
        Self {
            client,
            server,
            start_ns: ts,
            last_ns: ts,
            packets: 0,
            bytes: 0,
            sizes: Distinct::default(),
            top: [(0, 0); TOPK],
            flow_id,
            reported: 0.0,
            report_ns: 0,
        }
    }

    fn reset_window(&mut self, ts: u64) {
        self.start_ns = ts;
        self.packets = 0;
        self.bytes = 0;
        self.sizes = Distinct::default();
        self.top = [(0, 0); TOPK];
    }

    fn add_size(&mut self, size: u32) {
        self.sizes.insert(super::event::int_key(u64::from(size)));
        if let Some(t) = self.top.iter_mut().find(|t| t.1 > 0 && t.0 == size) {
            t.1 += 1;
            return;
        }
        // Replace the smallest counter (space-saving: it inherits the count).
        if let Some(t) = self.top.iter_mut().min_by_key(|t| t.1) {
            *t = (size, t.1 + 1);
        }
    }

    fn top_share(&self) -> f64 {
        let top = self.top.iter().map(|t| t.1).max().unwrap_or(0);
        if self.packets == 0 { 1.0 } else { f64::from(top) / f64::from(self.packets) }
    }
}

/// Counters of the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DnsTunnelStats {
    /// Queries scored.
    pub queries: u64,
    /// Queries not scored (exempt names).
    pub exempt: u64,
    /// Names with binary bytes.
    pub binary_names: u64,
    /// Client/domain entries evicted because the table was full.
    pub evicted: u64,
    /// ICMP pairs evicted because the table was full.
    pub icmp_evicted: u64,
    /// Events ignored because they were older than their window (time went backwards).
    pub backwards: u64,
    /// Single-name findings not emitted because the per-minute budget was spent.
    pub name_findings_suppressed: u64,
}

/// The `dns_tunnel` agent.
#[derive(Debug)]
pub struct DnsTunnel {
    cfg: DnsTunnelConfig,
    allow: Vec<Box<[u8]>>,
    window_ns: u64,
    icmp_window_ns: u64,
    cooldown_ns: u64,
    domains: HashMap<u64, DomEntry>,
    pairs: HashMap<u64, PairEntry>,
    single: Cooldown,
    /// Start of the current minute of single-name findings, and how many were emitted.
    single_budget: (u64, u32),
    stats: DnsTunnelStats,
    /// Scores of recently seen names (direct-mapped by name hash): ordinary traffic asks
    /// for the same names again and again, and scoring is the costly part.
    name_cache: Box<[(u64, Option<NameStats>)]>,
}

/// Slots of the name-score cache.
const NAME_CACHE: usize = 4096;

/// Mixes two keys into one table key.
fn mix(a: u64, b: u64) -> u64 {
    super::event::int_key(a ^ b.rotate_left(17))
}

/// Removes one entry to make room (an expired one when found among the first few).
fn evict<V>(map: &mut HashMap<u64, V>, stale: impl Fn(&V) -> bool) {
    let victim = map.iter().take(8).find(|(_, v)| stale(v)).or_else(|| map.iter().next()).map(|(k, _)| *k);
    if let Some(k) = victim {
        map.remove(&k);
    }
}

impl DnsTunnel {
    /// The agent's counters.
    pub fn stats(&self) -> DnsTunnelStats {
        self.stats
    }

    /// Entries held (client/domain, ICMP pairs).
    pub fn entries(&self) -> (usize, usize) {
        (self.domains.len(), self.pairs.len())
    }

    fn on_dns(&mut self, d: &DnsEvent, out: &mut Emitter<'_>) {
        if d.response {
            return;
        }
        let name = d.qname.as_bytes();
        let name_key = super::event::bytes_key(name);
        let slot = &mut self.name_cache[(name_key as usize) & (NAME_CACHE - 1)];
        let st = match slot {
            (k, Some(st)) if *k == name_key => *st,
            _ => {
                let st = analyze_name(name, &self.allow);
                *slot = (name_key, Some(st));
                st
            }
        };
        if st.exempt != Exempt::No {
            self.stats.exempt += 1;
            return;
        }
        self.stats.queries += 1;
        if st.binary > 0 {
            self.stats.binary_names += 1;
        }
        let domain = name.get(st.domain_start..).unwrap_or(&[]);
        let domain = domain.strip_suffix(b".").unwrap_or(domain);
        let dkey = lower_key(domain);
        let ckey = super::event::addr_key(&d.client);
        let key = mix(ckey, dkey);
        let ts = d.ts_ns;
        let window = self.window_ns;
        if !self.domains.contains_key(&key) && self.domains.len() >= self.cfg.max_entries {
            evict(&mut self.domains, |e| ts.saturating_sub(e.last_ns) > window);
            self.stats.evicted += 1;
        }
        let e = self.domains.entry(key).or_insert_with(|| DomEntry::new(d.client, dkey, domain, ts));
        if e.client != d.client || e.domain_key != dkey {
            // A colliding key: start over for the newcomer.
            *e = DomEntry::new(d.client, dkey, domain, ts);
        }
        if ts.saturating_sub(e.start_ns) > window {
            e.reset_window(ts);
        }
        if ts.saturating_add(window) < e.start_ns {
            // Older than the window: the clock went backwards; ignore it.
            self.stats.backwards += 1;
            return;
        }
        e.last_ns = e.last_ns.max(ts);
        e.queries = e.queries.saturating_add(1);
        e.sub_bytes = e.sub_bytes.saturating_add(st.sub_len as u64);
        if odd_qtype(d.qtype) {
            e.odd_types = e.odd_types.saturating_add(1);
        }
        if st.binary > 0 {
            e.binary_names = e.binary_names.saturating_add(1);
        }
        if f64::from(st.score) >= self.cfg.encoded_score {
            e.encoded.insert(name_key);
        }
        if !st.numeric {
            e.distinct.insert(super::event::bytes_key(name.get(..st.sub_len).unwrap_or(name)));
        }
        if st.score > e.max_score || e.sample.len == 0 {
            e.max_score = e.max_score.max(st.score);
            e.sample = Keep::new(name);
        }
        e.add_flow(d.flow_id);

        let conf = tunnel_confidence(&self.cfg, e);
        let again = e.reported > 0.0 && ts >= e.report_ns.saturating_add(self.cooldown_ns);
        if conf >= self.cfg.report_confidence as f32 && (conf >= e.reported + 0.1 || again) {
            e.reported = e.reported.max(conf);
            e.report_ns = ts;
            let f = tunnel_finding(&self.cfg, e, conf, ts, ns_secs(window));
            out.emit(f);
            return;
        }
        if e.reported == 0.0 && f64::from(st.score) >= self.cfg.min_name_score && self.single.allow(ckey, ts) {
            let (start, n) = &mut self.single_budget;
            if ts.saturating_sub(*start) >= 60_000_000_000 || ts < *start {
                (*start, *n) = (ts, 0);
            }
            if *n < self.cfg.max_name_findings_per_min {
                *n += 1;
                out.emit(name_finding(d, &st, ts, self.cfg.min_name_score));
            } else {
                self.stats.name_findings_suppressed += 1;
            }
        }
    }

    fn on_packet(&mut self, p: &PacketMeta, out: &mut Emitter<'_>) {
        let echo =
            matches!((p.proto, p.icmp_type), (ip_proto::ICMP, Some(0 | 8)) | (ip_proto::ICMPV6, Some(128 | 129)));
        if !echo {
            return;
        }
        let (client, server) = if p.to_server { (p.src, p.dst) } else { (p.dst, p.src) };
        let key = mix(super::event::addr_key(&client), super::event::addr_key(&server));
        let ts = p.ts_ns;
        let window = self.icmp_window_ns;
        if !self.pairs.contains_key(&key) && self.pairs.len() >= self.cfg.icmp_max_pairs {
            evict(&mut self.pairs, |e| ts.saturating_sub(e.last_ns) > window);
            self.stats.icmp_evicted += 1;
        }
        let e = self.pairs.entry(key).or_insert_with(|| PairEntry::new(client, server, ts, p.flow_id));
        if e.client != client || e.server != server {
            *e = PairEntry::new(client, server, ts, p.flow_id);
        }
        if ts.saturating_sub(e.start_ns) > window {
            e.reset_window(ts);
        }
        if ts.saturating_add(window) < e.start_ns {
            self.stats.backwards += 1;
            return;
        }
        e.last_ns = e.last_ns.max(ts);
        let size = if p.payload_len > 0 { p.payload_len } else { p.wire_len };
        e.packets = e.packets.saturating_add(1);
        e.bytes = e.bytes.saturating_add(u64::from(size));
        e.add_size(size);
        if e.packets < self.cfg.icmp_min_packets || e.bytes < self.cfg.icmp_min_bytes {
            return;
        }
        let sizes = e.sizes.estimate().round();
        let share = e.top_share();
        if sizes < f64::from(self.cfg.icmp_min_sizes) || share > self.cfg.icmp_max_top_share {
            return;
        }
        let min_b = self.cfg.icmp_min_bytes as f64;
        let conf = (0.55
            + 0.15 * ((e.bytes as f64 - min_b) / 65536.0).clamp(0.0, 1.0)
            + 0.1 * ((sizes - f64::from(self.cfg.icmp_min_sizes)) / 10.0).clamp(0.0, 1.0)
            + if e.packets >= 100 { 0.05 } else { 0.0 }) as f32;
        let again = e.reported > 0.0 && ts >= e.report_ns.saturating_add(self.cooldown_ns);
        if conf >= e.reported + 0.1 || again {
            e.reported = e.reported.max(conf);
            e.report_ns = ts;
            let reason = format!(
                "{} exchanged {} ICMP echo packets ({} bytes) with {} in {:.0} s with {} distinct sizes, the most common \
                 only {:.0}% of them: data carried in echo payloads",
                e.client,
                e.packets,
                e.bytes,
                e.server,
                ns_secs(ts.saturating_sub(e.start_ns)),
                sizes,
                share * 100.0
            );
            out.emit(Finding::new(
                NAME,
                "icmp_tunnel",
                ts,
                conf,
                if conf >= 0.7 { Severity::High } else { Severity::Medium },
                "T1095",
                Entities { src: Some(e.client), dst: Some(e.server), ..Entities::default() },
                Evidence {
                    flow_ids: vec![e.flow_id],
                    observed: sizes,
                    threshold: f64::from(self.cfg.icmp_min_sizes),
                    measure: "distinct_echo_sizes",
                    window_s: ns_secs(window),
                    count: u64::from(e.packets),
                },
                reason,
            ));
        }
    }
}

/// Case-insensitive key of a domain.
fn lower_key(domain: &[u8]) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = foldhash::fast::FixedState::with_seed(0xd05e).build_hasher();
    for b in domain {
        h.write_u8(b.to_ascii_lowercase());
    }
    h.finish()
}

fn ramp(x: f64, from: f64, to: f64) -> f64 {
    if to <= from { 1.0 } else { ((x - from) / (to - from)).clamp(0.0, 1.0) }
}

/// Confidence that the entry's window is a tunnel (0 when below every threshold).
fn tunnel_confidence(cfg: &DnsTunnelConfig, e: &DomEntry) -> f32 {
    let enc = e.encoded.estimate().round().min(f64::from(e.queries));
    let min_enc = f64::from(cfg.min_encoded.max(1));
    let by_encoded = if enc >= min_enc { 0.55 + 0.3 * ramp(enc, min_enc, min_enc * 10.0) } else { 0.0 };
    let distinct = e.distinct.estimate().min(f64::from(e.queries));
    let min_d = f64::from(cfg.min_distinct.max(1));
    let by_distinct = if distinct >= min_d { 0.5 + 0.2 * ramp(distinct, min_d, min_d * 5.0) } else { 0.0 };
    let mut c = by_encoded.max(by_distinct);
    if c == 0.0 {
        return 0.0;
    }
    if e.queries >= cfg.min_queries_for_types && f64::from(e.odd_types) >= cfg.odd_type_share * f64::from(e.queries) {
        c += 0.1;
    }
    if e.binary_names > 0 {
        c += 0.05;
    }
    if e.sub_bytes >= cfg.volume_bytes {
        c += 0.05;
    }
    c.min(0.97) as f32
}

fn tunnel_finding(cfg: &DnsTunnelConfig, e: &DomEntry, conf: f32, ts: u64, window_s: f64) -> Finding {
    let domain = if e.domain.len == 0 { "(no registered domain)".to_owned() } else { e.domain.show() };
    let distinct = e.distinct.estimate().round().min(f64::from(e.queries));
    let encoded = e.encoded.estimate().round().min(f64::from(e.queries));
    let mut why = format!(
        "{} sent {} queries under {} in {:.0} s: ~{} distinct encoded-looking names, ~{} distinct subdomains, {} subdomain bytes",
        e.client,
        e.queries,
        domain,
        ns_secs(ts.saturating_sub(e.start_ns)),
        encoded,
        distinct,
        e.sub_bytes
    );
    if e.odd_types > 0 {
        why.push_str(&format!(", {} TXT/NULL/CNAME/MX-type", e.odd_types));
    }
    if e.binary_names > 0 {
        why.push_str(&format!(", {} with binary bytes", e.binary_names));
    }
    why.push_str(&format!(" (e.g. {})", e.sample.show()));
    let (measure, observed, threshold) =
        if encoded >= f64::from(cfg.min_encoded) || distinct < f64::from(cfg.min_distinct) {
            ("encoded_names", encoded, f64::from(cfg.min_encoded))
        } else {
            ("distinct_subdomains", distinct, f64::from(cfg.min_distinct))
        };
    Finding::new(
        NAME,
        "dns_tunnel",
        ts,
        conf,
        if conf >= 0.7 { Severity::High } else { Severity::Medium },
        "T1071.004",
        Entities { src: Some(e.client), host: Some(domain), ..Entities::default() },
        Evidence {
            flow_ids: e.flows[..usize::from(e.nflows).min(FLOWS)].to_vec(),
            observed,
            threshold,
            measure,
            window_s,
            count: u64::from(e.queries),
        },
        why,
    )
}

fn name_finding(d: &DnsEvent, st: &NameStats, ts: u64, threshold: f64) -> Finding {
    let name = d.qname.as_bytes();
    let shown = Keep::new(name).show();
    let domain = name.get(st.domain_start..).map(|b| b.escape_ascii().to_string()).unwrap_or_default();
    let mut parts = Vec::new();
    if st.longest >= 30 {
        parts.push(format!("a {}-byte label", st.longest));
    }
    if st.hex_label > 0 {
        parts.push(format!("a {}-digit hex label", st.hex_label));
    }
    if st.random_label > 0 {
        parts.push("a base32/64-looking label".to_owned());
    }
    if st.binary > 0 {
        parts.push(format!("{} binary bytes", st.binary));
    }
    if st.odd > 0 {
        parts.push(format!("{} characters invalid in host names", st.odd));
    }
    parts.push(format!("entropy {:.2} bits over {} bytes", st.entropy, st.sub_len));
    Finding::new(
        NAME,
        "dns_tunnel",
        ts,
        st.score,
        Severity::Low,
        "T1071.004",
        Entities {
            src: Some(d.client),
            dst: Some(d.server),
            host: Some(if domain.is_empty() { shown.clone() } else { domain }),
            ..Entities::default()
        },
        Evidence {
            flow_ids: vec![d.flow_id],
            observed: f64::from(st.score),
            threshold,
            measure: "name_score",
            window_s: 0.0,
            count: 1,
        },
        format!("{} queried an encoded-looking name ({}): {}", d.client, parts.join(", "), shown),
    )
}

/// Registry name.
pub const NAME: &str = "dns_tunnel";

impl Agent for DnsTunnel {
    const NAME: &'static str = NAME;
    const INTEREST: u16 = kind::DNS | kind::PACKET;
    type Config = DnsTunnelConfig;

    fn new(cfg: &Self::Config) -> Self {
        let max = cfg.max_entries.max(1);
        let pairs = cfg.icmp_max_pairs.max(1);
        let mut cfg = cfg.clone();
        cfg.max_entries = max;
        cfg.icmp_max_pairs = pairs;
        Self {
            allow: cfg
                .allow_domains
                .iter()
                .map(|d| d.trim_matches('.').to_ascii_lowercase().into_bytes().into_boxed_slice())
                .filter(|d| !d.is_empty())
                .collect(),
            window_ns: secs_ns(cfg.window_s).max(1),
            icmp_window_ns: secs_ns(cfg.icmp_window_s).max(1),
            cooldown_ns: secs_ns(cfg.cooldown_s),
            // Twice the cap: the table never rehashes into a new allocation below it.
            domains: HashMap::with_capacity(max.saturating_mul(2)),
            pairs: HashMap::with_capacity(pairs.saturating_mul(2)),
            single: Cooldown::new(1024, cfg.cooldown_s),
            single_budget: (0, 0),
            stats: DnsTunnelStats::default(),
            name_cache: vec![(0, None); NAME_CACHE].into_boxed_slice(),
            cfg,
        }
    }

    fn shard_key(ev: &Event) -> u64 {
        match ev {
            Event::Dns(d) => super::event::addr_key(&d.client),
            Event::Packet(p) => super::event::addr_key(if p.to_server { &p.src } else { &p.dst }),
            _ => 0,
        }
    }

    fn on_event(&mut self, ev: &Event, _cx: &Context, out: &mut Emitter<'_>) {
        match ev {
            Event::Dns(d) => self.on_dns(d, out),
            Event::Packet(p) if p.proto == ip_proto::ICMP || p.proto == ip_proto::ICMPV6 => self.on_packet(p, out),
            _ => {}
        }
    }

    fn on_tick(&mut self, now_ns: u64, _cx: &Context, _out: &mut Emitter<'_>) {
        let (w, iw, hold) = (self.window_ns, self.icmp_window_ns, self.cooldown_ns);
        // Keep an entry while its window or its report hold-off is current.
        self.domains.retain(|_, e| now_ns.saturating_sub(e.last_ns) <= w.max(if e.reported > 0.0 { hold } else { 0 }));
        self.pairs.retain(|_, e| now_ns.saturating_sub(e.last_ns) <= iw.max(if e.reported > 0.0 { hold } else { 0 }));
    }
}

/// A realistic steady stream of `n` events this agent wants: clients resolving ordinary
/// names (A/AAAA/HTTPS), CDN names with hashes, mDNS service discovery, reverse lookups,
/// and a host pinging its gateway once a second with fixed-size packets.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    use super::event::Text;
    const NAMES: &[&str] = &[
        "www.example.com",
        "e1234.dscb.akamaiedge.net",
        "_googlecast._tcp.local",
        "clients4.google.com",
        "api.github.com",
        "7.2.0.192.in-addr.arpa",
        "p26-keyvalueservice.icloud.com",
        "d1a2b3c4d5e6f7.cloudfront.net",
        "www.bbc.co.uk",
        "r3---sn-4g5e6nsz.googlevideo.com",
        "outlook.office365.com",
        "c-flightproxy-euno-01-teams.cloudapp.net",
    ];
    let server: IpAddr = IpAddr::from([192, 0, 2, 53]);
    let gw: IpAddr = IpAddr::from([192, 0, 2, 1]);
    (0..n)
        .map(|i| {
            let ts = 1_000_000_000_000 + i as u64 * 50_000_000;
            let client = IpAddr::from([10, 0, (i % 7) as u8, (i % 13) as u8 + 2]);
            if i % 10 == 9 {
                let up = i % 20 == 9;
                let host = IpAddr::from([10, 0, 0, 2]);
                Event::Packet(PacketMeta {
                    ts_ns: ts,
                    flow_id: 7,
                    src: if up { host } else { gw },
                    dst: if up { gw } else { host },
                    sport: 0,
                    dport: 0,
                    proto: ip_proto::ICMP,
                    tcp_flags: 0,
                    icmp_type: Some(if up { 8 } else { 0 }),
                    wire_len: 98,
                    payload_len: 0,
                    to_server: up,
                    new_flow: false,
                })
            } else {
                Event::Dns(DnsEvent {
                    ts_ns: ts,
                    flow_id: i as u64 % 64,
                    client,
                    server,
                    response: i % 2 == 1,
                    qname: Text::new(NAMES[(i / 2) % NAMES.len()].as_bytes()),
                    qtype: [1, 28, 65][i % 3],
                    rcode: 0,
                    answers: 1,
                    size: 0,
                })
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agents::{event::Text, finding::FindingQueue};

    fn addr(s: &str) -> IpAddr {
        s.parse().expect("addr")
    }

    fn q(ts_s: f64, client: &str, name: &[u8], qtype: u16) -> Event {
        Event::Dns(DnsEvent {
            ts_ns: (ts_s * 1e9) as u64,
            flow_id: 1,
            client: addr(client),
            server: addr("192.0.2.53"),
            response: false,
            qname: Text::new(name),
            qtype,
            rcode: 0,
            answers: 0,
            size: 0,
        })
    }

    fn echo(ts_s: f64, a: &str, b: &str, up: bool, size: u32) -> Event {
        let (src, dst) = if up { (addr(a), addr(b)) } else { (addr(b), addr(a)) };
        Event::Packet(PacketMeta {
            ts_ns: (ts_s * 1e9) as u64,
            flow_id: 9,
            src,
            dst,
            sport: 0,
            dport: 0,
            proto: ip_proto::ICMP,
            tcp_flags: 0,
            icmp_type: Some(if up { 8 } else { 0 }),
            wire_len: size,
            payload_len: 0,
            to_server: up,
            new_flow: false,
        })
    }

    fn run(agent: &mut DnsTunnel, evs: &[Event]) -> Vec<Finding> {
        let cx = Context::default();
        let (queue, rx) = FindingQueue::bounded(4096);
        let mut out = Emitter::new(&queue, &cx);
        for (i, ev) in evs.iter().enumerate() {
            agent.on_event(ev, &cx, &mut out);
            if i % 50 == 0 {
                agent.on_tick(ev.ts_ns(), &cx, &mut out);
            }
        }
        rx.try_iter().collect()
    }

    fn agent() -> DnsTunnel {
        DnsTunnel::new(&DnsTunnelConfig::default())
    }

    fn score(name: &[u8]) -> NameStats {
        analyze_name(name, &[])
    }

    /// Pseudo-random bytes (xorshift) for encoded labels.
    fn noise(seed: u64, n: usize, alphabet: &[u8]) -> Vec<u8> {
        let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    const HEX: &[u8] = b"0123456789abcdef";
    const B32: &[u8] = b"abcdefghijklmnopqrstuvwxyz012345";

    #[test]
    fn registered_domain_is_the_last_two_labels_or_three_under_short_suffixes() {
        let n = b"a.b.example.com";
        assert_eq!(&n[score(n).domain_start..], b"example.com");
        let n = b"www.bbc.co.uk";
        assert_eq!(&n[score(n).domain_start..], b"bbc.co.uk");
        let n = b"x.y.example.de";
        assert_eq!(&n[score(n).domain_start..], b"example.de");
        let n = b"dnscat.546b03f50000000000a6023ed4df184d";
        let s = score(n);
        assert_eq!(s.domain_start, n.len(), "a hex top label is no TLD");
        assert_eq!(s.sub_len, n.len());
    }

    #[test]
    fn ordinary_and_cdn_names_score_low() {
        for n in [
            &b"www.example.com"[..],
            b"e1234.dscb.akamaiedge.net",
            b"c-flightproxy-euno-01-teams.cloudapp.net",
            b"semanticlocation-pa.googleapis.com",
            b"r3---sn-4g5e6nsz.googlevideo.com",
            b"d1a2b3c4d5e6f7.cloudfront.net",
            b"ec2-54-123-45-67.compute-1.amazonaws.com",
            b"upload.wikimedia.org.ncsa.uiuc.edu",
            b"skypedataprdcolneu04.cloudapp.net",
            "小佛專機".as_bytes(),
            b"caesar-thinkpad",
        ] {
            let s = score(n);
            assert!(s.score < 0.2, "{} scored {s:?}", String::from_utf8_lossy(n));
        }
    }

    #[test]
    fn link_local_reverse_and_netbios_names_are_exempt() {
        assert_eq!(score(b"_googlecast._tcp.local").exempt, Exempt::Local);
        assert_eq!(score(b"Luca\xe2\x80\x99s iMac._odisk._tcp.local").exempt, Exempt::Local);
        assert_eq!(
            score(b"4.c.d.4.1.e.e.f.f.f.6.d.c.3.8.8.5.3.2.8.c.3.0.c.e.9.2.4.2.5.d.f.ip6.arpa").exempt,
            Exempt::Arpa
        );
        assert_eq!(score(b"FHEPFCELEHFCEPFFFACACACACACACABN").exempt, Exempt::NetBios);
        let allow = [b"sophosxl.net".to_vec().into_boxed_slice()];
        assert_eq!(analyze_name(b"0123456789abcdef0123456789abcdef.sophosxl.net", &allow).exempt, Exempt::Allowed);
    }

    #[test]
    fn encoded_labels_score_as_encoded() {
        // dnscat-style hex (no registered domain).
        let s = score(b"dnscat.546b03f50000000000a6023ed4df184d6ac5c2628b47714fdee584fed739.5a03b5b1e1aa8f8f");
        assert!(s.hex_label >= 60 && s.score >= 0.3, "{s:?}");
        // dns-exf: gzip+base64 with '*' and '='.
        let s = score(b"H4sICN03*2QAA3Rlc3QudHh0AAvJyCxWAKJEheLU5KLUEoW0zJxULgAge-.4S2FgAAAA==-.test.txt");
        assert!(s.score >= 0.3 && s.score < 0.5 && s.odd >= 3 && s.random_label > 0, "{s:?}");
        // iodine raw 8-bit.
        let s = score(b"0iabc\xd2\xd3A1\xd4tO\xc3h\xd57y\xe3D\xe2\xcf\xf07L.pirate.sea");
        assert!(s.binary > 0 && s.score >= 0.3, "{s:?}");
        // base32 of 40 characters.
        let mut n = noise(3, 40, B32);
        n.extend_from_slice(b".t.example.org");
        let s = score(&n);
        assert!(s.score >= 0.2, "{s:?}");
    }

    #[test]
    fn hostile_names_never_panic() {
        let mut names: Vec<Vec<u8>> = vec![
            vec![],
            b".".to_vec(),
            b"..".to_vec(),
            b"a..b.com".to_vec(),
            vec![0; 256],
            vec![0xff; 256],
            vec![b'.'; 256],
            b"\x00.\x01.\x02".to_vec(),
            b"xn--.com".to_vec(),
            b"com".to_vec(),
        ];
        for seed in 0..200 {
            names.push(noise(seed, (seed as usize * 7) % 300, &(0..=255u8).collect::<Vec<_>>()));
        }
        let mut a = agent();
        for n in &names {
            let s = score(n);
            assert!(s.score <= 0.45 && s.sub_len <= n.len());
            run(&mut a, &[q(1.0, "10.0.0.1", n, 1)]);
        }
    }

    #[test]
    fn empty_labels_and_binary_bytes_are_counted() {
        let s = score(b"a..b.example.com");
        assert_eq!(s.odd, 1);
        let s = score(b"ab\x00c\x07.example.com");
        assert_eq!(s.binary, 2);
        let s = score(b"\xff\xfe.example.com");
        assert_eq!(s.binary, 2);
    }

    #[test]
    fn a_hex_exfiltration_session_is_reported_as_a_tunnel_with_the_client() {
        let mut a = agent();
        let evs: Vec<Event> = (0..60)
            .map(|i| {
                let mut n = noise(i, 60, HEX);
                n.extend_from_slice(b".");
                n.extend_from_slice(&noise(i + 1000, 40, HEX));
                n.extend_from_slice(b".exfil.example.com");
                q(i as f64, "10.1.1.5", &n, [16, 5, 15][i as usize % 3])
            })
            .collect();
        let f = run(&mut a, &evs);
        let best = f.iter().max_by(|x, y| x.confidence.total_cmp(&y.confidence)).expect("a finding");
        assert_eq!(best.kind, "dns_tunnel");
        assert_eq!(best.technique, "T1071.004");
        assert_eq!(best.entities.src, Some(addr("10.1.1.5")));
        assert_eq!(best.entities.host.as_deref(), Some("example.com"));
        assert!(best.confidence >= 0.8, "{best:?}");
        assert!(f.len() <= 6, "a handful of findings, got {}", f.len());
    }

    #[test]
    fn a_single_encoded_query_gives_one_weak_finding() {
        let mut a = agent();
        let f = run(
            &mut a,
            &[q(
                1.0,
                "192.168.2.225",
                b"H4sICN03*2QAA3Rlc3QudHh0AAvJyCxWAKJEheLU5KLUEoW0zJxULgAge-.4S2FgAAAA==-.test.txt",
                1,
            )],
        );
        assert_eq!(f.len(), 1);
        assert!(f[0].confidence >= 0.3 && f[0].confidence < 0.5, "{:?}", f[0]);
        assert_eq!(f[0].entities.src, Some(addr("192.168.2.225")));
        assert!(f[0].reason.contains("encoded-looking"), "{}", f[0].reason);
    }

    #[test]
    fn many_null_queries_with_short_polls_are_a_tunnel() {
        // iodine: short base32 polls plus longer data queries, all NULL.
        let mut a = agent();
        let evs: Vec<Event> = (0..200)
            .map(|i| {
                let len = if i % 3 == 0 { 50 } else { 8 };
                let mut n = noise(i, len, B32);
                n.extend_from_slice(b".pirate.sea");
                q(i as f64 * 0.1, "10.0.2.30", &n, 10)
            })
            .collect();
        let f = run(&mut a, &evs);
        let best = f.iter().map(|f| f.confidence).fold(0.0, f32::max);
        assert!(best >= 0.7, "{f:?}");
    }

    #[test]
    fn one_long_service_name_asked_again_and_again_is_not_a_tunnel() {
        let mut a = agent();
        let evs: Vec<Event> = (0..120)
            .map(|i| {
                q(f64::from(i) * 0.5, "10.0.0.4", b"vpce-0a1b2c3d4e5f67890-abcdefgh.s3.us-east-1.vpce.amazonaws.com", 1)
            })
            .collect();
        let f = run(&mut a, &evs);
        assert!(f.iter().all(|f| f.confidence < 0.5), "{f:?}");
        assert!(f.len() <= 1);
    }

    #[test]
    fn a_browser_resolving_many_ordinary_names_is_quiet() {
        let mut a = agent();
        let words = ["www", "api", "cdn", "static", "img", "login", "mail", "news", "video", "docs", "m", "s"];
        let evs: Vec<Event> = (0..600)
            .map(|i| {
                let n = format!("{}.site{}.com", words[i % words.len()], i % 40);
                q(i as f64 * 0.1, "10.0.0.9", n.as_bytes(), [1, 28, 65][i % 3])
            })
            .collect();
        assert!(run(&mut a, &evs).is_empty());
    }

    #[test]
    fn thirty_subdomains_of_one_cdn_are_quiet_but_two_hundred_random_ones_are_not() {
        let mut a = agent();
        let evs: Vec<Event> = (0..30)
            .map(|i| q(i as f64, "10.0.0.9", format!("e{}.dscb.akamaiedge.net", 1000 + i).as_bytes(), 1))
            .collect();
        assert!(run(&mut a, &evs).is_empty());
        let evs: Vec<Event> = (0..200)
            .map(|i| {
                let mut n = noise(i, 10, B32);
                n.extend_from_slice(b".victim.example");
                q(i as f64 * 0.2, "10.0.0.10", &n, 1)
            })
            .collect();
        let f = run(&mut a, &evs);
        assert!(f.iter().any(|f| f.confidence >= 0.5 && f.evidence.measure == "distinct_subdomains"), "{f:?}");
    }

    #[test]
    fn garbage_names_from_a_thousand_sources_give_a_handful_of_weak_findings() {
        let mut a = agent();
        let evs: Vec<Event> = (0..1000u32)
            .map(|i| {
                let c = IpAddr::from((0xcb00_0000 + i).to_be_bytes()).to_string();
                let mut n = noise(u64::from(i), 30, &(0..=255u8).collect::<Vec<_>>());
                n.extend_from_slice(b"\x01\x10\x02\x00\x00");
                q(f64::from(i) * 0.01, &c, &n, 1)
            })
            .collect();
        let f = run(&mut a, &evs);
        assert!(!f.is_empty() && f.len() <= 10, "{}", f.len());
        assert!(f.iter().all(|f| f.confidence < 0.5));
        assert!(a.stats().name_findings_suppressed > 0);
    }

    #[test]
    fn backwards_time_does_not_panic_or_open_huge_windows() {
        let mut a = agent();
        let mut evs = Vec::new();
        for i in 0..50u64 {
            let t = if i % 2 == 0 { 1e6 - i as f64 } else { i as f64 };
            evs.push(q(t, "10.0.0.1", b"www.example.com", 1));
            evs.push(echo(t, "10.0.0.1", "10.0.0.254", i % 2 == 0, 98));
        }
        evs.push(q(0.0, "10.0.0.1", b"www.example.com", 1));
        assert!(run(&mut a, &evs).is_empty());
    }

    #[test]
    fn the_tables_never_exceed_their_caps() {
        let cfg = DnsTunnelConfig { max_entries: 256, icmp_max_pairs: 128, ..DnsTunnelConfig::default() };
        let mut a = DnsTunnel::new(&cfg);
        let evs: Vec<Event> = (0..100_000u32)
            .flat_map(|i| {
                let c = IpAddr::from((0x0a00_0000 + i).to_be_bytes());
                let name = format!("www.d{i}.com");
                [
                    q(f64::from(i) * 1e-3, &c.to_string(), name.as_bytes(), 1),
                    echo(f64::from(i) * 1e-3, &c.to_string(), "10.255.0.1", true, 98),
                ]
            })
            .collect();
        run(&mut a, &evs);
        let (d, p) = a.entries();
        assert!(d <= 256 && p <= 128, "{d} {p}");
        assert!(a.stats().evicted > 0 && a.stats().icmp_evicted > 0);
    }

    #[test]
    fn an_icmp_tunnel_with_varying_sizes_is_reported() {
        let mut a = agent();
        let sizes = [126u32, 164, 166, 163, 1070, 94, 142, 238, 542, 174, 206, 190];
        let evs: Vec<Event> = (0..150)
            .map(|i| {
                echo(i as f64 * 0.3, "192.168.154.131", "192.168.154.132", i % 2 == 0, sizes[(i * 7) % sizes.len()])
            })
            .collect();
        let f = run(&mut a, &evs);
        assert!(!f.is_empty());
        assert_eq!(f[0].kind, "icmp_tunnel");
        assert_eq!(f[0].technique, "T1095");
        assert_eq!(f[0].entities.src, Some(addr("192.168.154.131")));
        assert_eq!(f[0].entities.dst, Some(addr("192.168.154.132")));
        assert!(f.iter().map(|f| f.confidence).fold(0.0, f32::max) >= 0.7, "{f:?}");
        assert!(f.len() <= 4);
    }

    #[test]
    fn a_fast_fixed_size_ping_and_a_slow_size_sweep_are_quiet() {
        let mut a = agent();
        // ping -i 0.2 -s 1400: many bytes, one size.
        let evs: Vec<Event> =
            (0..600).map(|i| echo(i as f64 * 0.1, "10.0.0.5", "10.0.0.1", i % 2 == 0, 1442)).collect();
        assert!(run(&mut a, &evs).is_empty());
        // An MTU probe: 10 sizes, a few packets each, little data.
        let evs: Vec<Event> =
            (0..20).map(|i| echo(i as f64, "10.0.0.6", "10.0.0.1", i % 2 == 0, 100 + 50 * (i / 2) as u32)).collect();
        assert!(run(&mut a, &evs).is_empty());
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 5000;
        let evs = steady_events(2 * n);
        let mut a = agent();
        run(&mut a, &evs[..n]);
        let f = run(&mut a, &evs[n..]);
        assert!(f.is_empty(), "{f:?}");
    }

    #[test]
    fn config_round_trips_through_toml() {
        let c = DnsTunnelConfig::default();
        let t = toml::to_string(&c).expect("serialises");
        let back: DnsTunnelConfig = toml::from_str(&t).expect("parses");
        assert_eq!(back.min_encoded, c.min_encoded);
        assert!(toml::from_str::<DnsTunnelConfig>("bogus = 1").is_err());
    }
}
