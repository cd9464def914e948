//! Threat intelligence: matches traffic against indicator feeds (addresses, CIDRs,
//! domains, file hashes) and reports every internal host that talks to a listed indicator.
//!
//! What it detects, and how:
//! - `intel_address`: the first packet of a flow whose destination (outbound: the client
//!   contacted a listed address) or source (inbound: a listed address contacted us) lies in
//!   a listed address or CIDR; once per flow, the most specific listing wins.
//! - `intel_domain`: a DNS query, TLS SNI or HTTP Host naming a listed domain or one of its
//!   subdomains ("evil.example" matches "a.b.evil.example"), and a new flow to an address
//!   whose last DNS answer (the context's `name_of`) is such a name.
//! - `intel_hash`: through [`Intel::hash_finding`] when the caller has a file digest (the
//!   events carry none).
//!
//! Feeds (`[[agents.intel.feeds]]`) are plain lists, CSV, Suricata dataset files or MISP
//! JSON exports ([`load`], [`misp`]); bad lines are reported with file:line and skipped, a
//! file that cannot be read is reported and its feed skipped. The loaded
//! [`IndicatorSet`] is immutable and shared by every shard through an `Arc` taken from a
//! process-wide cache (see [`load_feeds`]); matching allocates nothing.
//!
//! Findings carry the feed's confidence (default 0.8; a domain taken from a URL with a path
//! counts half, a flow matched only through a DNS answer 0.9 of it), the feed's severity
//! (default medium; high for rows marked as C2, MISP threat level 1; one step lower for
//! inbound contacts, which are mostly scanning), technique T1071 unless the row names one
//! (hashes: T1204.002), entities src = the flow's client, dst = its server, host = the
//! name; one finding per (internal host, indicator, kind of contact) per `cooldown_s`
//! (default 3600 s). The agent never writes block maps: [`LoadedFeeds::set`]'s
//! `mirror_entries()` lists what the respond layer should mirror (`mirror = "watch" |
//! "block"`, default "off").

pub mod indicators;
pub mod load;
pub mod misp;
pub mod parse;

use std::{
    net::IpAddr,
    path::Path,
    sync::{Arc, Mutex, PoisonError, Weak},
    time::SystemTime,
};

pub use indicators::{
    AddrHit, Counts, DomainHit, FeedInfo, HashHit, HashKind, IndicatorSet, Meta, Mirror, MirrorEntry,
};
pub use load::{FeedError, FileReport, LineError, LoadReport};

use super::{
    agent::{Agent, Cooldown, Emitter},
    config::ConfigError,
    context::{Context, NAME_KEEP},
    event::{DnsEvent, Event, NameEvent, PacketMeta, addr_key, bytes_key, int_key, kind},
    finding::{Entities, Evidence, Finding, Severity},
};
use indicators::IndicatorSetBuilder;
use load::Limits;
use parse::ParseOpts;

/// Technique when the feed names none: application layer protocol (C2 traffic).
const DEFAULT_TECHNIQUE: &str = "T1071";
/// Technique of hash matches when the feed names none: user execution, malicious file.
const HASH_TECHNIQUE: &str = "T1204.002";
/// Confidence factor of a flow matched only through the DNS name of its destination.
const DNS_NAME_FACTOR: f32 = 0.9;

/// Format of a feed file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// From the extension (`.json` MISP, `.csv`/`.tsv` CSV), `dataset_type` (dataset) or
    /// the content (JSON, a CSV header, else plain).
    #[default]
    Auto,
    /// One indicator per line, `#` comments, hosts-file lines accepted.
    Plain,
    /// A header row naming the indicator column, then rows.
    Csv,
    /// A Suricata dataset file (`dataset_type` required).
    Dataset,
    /// A MISP JSON export.
    Misp,
}

impl Format {
    /// The lower-case name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Plain => "plain",
            Self::Csv => "csv",
            Self::Dataset => "dataset",
            Self::Misp => "misp",
        }
    }
}

/// Type of a Suricata dataset file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DatasetType {
    /// IPv4 addresses.
    Ipv4,
    /// IPv6 addresses.
    Ipv6,
    /// Addresses of either family.
    Ip,
    /// base64-encoded strings, read as domains.
    String,
    /// MD5 digests in hex.
    Md5,
    /// SHA-1 digests in hex.
    Sha1,
    /// SHA-256 digests in hex.
    Sha256,
}

/// One `[[agents.intel.feeds]]` entry.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeedConfig {
    /// Path of the feed file (required; an empty path is reported and the feed skipped).
    pub path: String,
    /// `auto` (default), `plain`, `csv`, `dataset` or `misp`.
    pub format: Format,
    /// Dataset files only: `ipv4`, `ipv6`, `ip`, `string`, `md5`, `sha1`, `sha256`
    /// (default: none; required for `format = "dataset"`, and implies it under `auto`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dataset_type: Option<DatasetType>,
    /// Name shown in findings (default "": the file name without its extension).
    pub name: String,
    /// Confidence of a match, 0..1 (default 0.8); a CSV `confidence` column overrides it.
    pub confidence: f32,
    /// Severity of a match (default "medium"); rows marked as C2 and MISP threat level 1
    /// are "high".
    pub severity: Severity,
    /// ATT&CK technique of matches (default "": T1071, hashes T1204.002); a CSV
    /// `technique` column or a MISP ATT&CK tag overrides it.
    pub technique: String,
    /// Whether its address indicators should be mirrored into the XDP block lists:
    /// "off" (default), "watch" or "block". The agent itself never touches maps.
    pub mirror: Mirror,
    /// MISP only: load only attributes with `to_ids` set (default true; others are
    /// context such as connectivity-check domains).
    pub to_ids_only: bool,
}

impl Default for FeedConfig {
    fn default() -> Self {
        Self {
            path: String::new(),
            format: Format::Auto,
            dataset_type: None,
            name: String::new(),
            confidence: 0.8,
            severity: Severity::Medium,
            technique: String::new(),
            mirror: Mirror::Off,
            to_ids_only: true,
        }
    }
}

impl FeedConfig {
    /// The name shown in findings: `name`, else the file name without extension.
    pub fn feed_name(&self) -> String {
        if !self.name.trim().is_empty() {
            return self.name.trim().to_owned();
        }
        Path::new(&self.path)
            .file_stem()
            .and_then(|s| s.to_str())
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.path)
            .to_owned()
    }
}

/// `[agents.intel]`.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IntelConfig {
    /// Indicator feeds (default: none, and the agent matches nothing).
    pub feeds: Vec<FeedConfig>,
    /// Seconds between findings about the same internal host and indicator (default 3600).
    pub cooldown_s: f64,
    /// Slots of the rate-limit table (default 16384; fixed memory).
    pub cooldown_slots: usize,
    /// Most indicators loaded over all feeds; the rest are counted and skipped (default
    /// 2,000,000, about 150 MB at worst).
    pub max_indicators: usize,
    /// Largest feed file read, MiB (default 512).
    pub max_file_mb: u64,
    /// Shortest IPv4 prefix accepted from a feed (default 8: a /4 would match a sixteenth of
    /// the Internet).
    pub min_prefix_v4: u8,
    /// Shortest IPv6 prefix accepted from a feed (default 16).
    pub min_prefix_v6: u8,
    /// Report flows opened by a listed address towards us (default true).
    pub match_inbound: bool,
    /// Report new flows to an address whose last DNS answer name is listed (default true).
    pub match_dns_names: bool,
}

impl Default for IntelConfig {
    fn default() -> Self {
        Self {
            feeds: Vec::new(),
            cooldown_s: 3600.0,
            cooldown_slots: 16_384,
            max_indicators: 2_000_000,
            max_file_mb: 512,
            min_prefix_v4: 8,
            min_prefix_v6: 16,
            match_inbound: true,
            match_dns_names: true,
        }
    }
}

impl IntelConfig {
    /// The `[agents.intel]` section of a sensor config file's text (`origin` names it in
    /// errors): the defaults when the section is absent, None when it says
    /// `enabled = false`. For the CLI, which needs the feeds before the agents run (to
    /// print the load report and mirror addresses into the block lists).
    pub fn from_config_text(text: &str, origin: &str) -> Result<Option<Self>, ConfigError> {
        let doc: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| ConfigError::Toml { path: origin.to_owned(), message: e.to_string() })?;
        let section = doc.get("agents").and_then(|a| a.get(Intel::NAME));
        let mut table = match section {
            None => return Ok(Some(Self::default())),
            Some(toml::Value::Table(t)) => t.clone(),
            Some(_) => return Err(ConfigError::Section { agent: Intel::NAME, message: "must be a table".into() }),
        };
        match table.remove("enabled") {
            Some(toml::Value::Boolean(false)) => return Ok(None),
            Some(toml::Value::Boolean(true)) | None => {}
            Some(_) => {
                return Err(ConfigError::Section {
                    agent: Intel::NAME,
                    message: "enabled: expected true or false".into(),
                });
            }
        }
        toml::Value::Table(table)
            .try_into()
            .map(Some)
            .map_err(|e: toml::de::Error| ConfigError::Section { agent: Intel::NAME, message: e.message().to_owned() })
    }

    fn limits(&self) -> Limits {
        Limits {
            max_file_bytes: self.max_file_mb.saturating_mul(1 << 20),
            parse: ParseOpts { min_prefix_v4: self.min_prefix_v4.min(32), min_prefix_v6: self.min_prefix_v6.min(128) },
        }
    }

    /// What identifies a load: the loading settings and each file's size and mtime.
    fn cache_key(&self) -> CacheKey {
        let settings = serde_json::to_string(&(&self.feeds, self.max_indicators, self.max_file_mb)).unwrap_or_default()
            + &format!("/{}/{}", self.min_prefix_v4, self.min_prefix_v6);
        let stamps =
            self.feeds.iter().map(|f| std::fs::metadata(&f.path).ok().map(|m| (m.len(), m.modified().ok()))).collect();
        CacheKey { settings, stamps }
    }
}

/// The indicators of every configured feed and the report of their loading.
#[derive(Debug, Default)]
pub struct LoadedFeeds {
    /// The indicators (immutable).
    pub set: IndicatorSet,
    /// What each feed loaded and what was wrong.
    pub report: LoadReport,
}

#[derive(Clone, Debug, PartialEq)]
struct CacheKey {
    settings: String,
    stamps: Vec<Option<(u64, Option<SystemTime>)>>,
}

/// Loads still in use, by what they were loaded from.
static CACHE: Mutex<Vec<(CacheKey, Weak<LoadedFeeds>)>> = Mutex::new(Vec::new());

/// Loads the feeds of `cfg`, or returns the set already loaded for the same settings and
/// unchanged files while anyone (an agent instance, the caller) still holds it.
///
/// Every shard's `Intel::new` calls this, so a set is read once per process however many
/// shards run; a changed file (size or mtime) gives a fresh load, e.g. on config reload.
/// Call it at start, print `report`, mirror `set.mirror_entries()`, and keep the `Arc`:
/// the agents built next share it.
pub fn load_feeds(cfg: &IntelConfig) -> Arc<LoadedFeeds> {
    let key = cfg.cache_key();
    let mut cache = CACHE.lock().unwrap_or_else(PoisonError::into_inner);
    cache.retain(|(_, w)| w.strong_count() > 0);
    if let Some(hit) = cache.iter().find(|(k, _)| *k == key).and_then(|(_, w)| w.upgrade()) {
        return hit;
    }
    // Loading under the lock: shards created together wait for one load.
    let loaded = Arc::new(load_uncached(cfg));
    cache.push((key, Arc::downgrade(&loaded)));
    loaded
}

/// Loads the feeds of `cfg` without the cache.
pub fn load_uncached(cfg: &IntelConfig) -> LoadedFeeds {
    let limits = cfg.limits();
    let mut b = IndicatorSetBuilder::new(cfg.max_indicators);
    let files = cfg.feeds.iter().map(|f| load::load_feed(f, &limits, &mut b)).collect();
    LoadedFeeds { set: b.build(), report: LoadReport { files } }
}

/// Loads the feeds of `cfg` and returns the report, for the CLI to print at start (one
/// block per feed: counts by type, bad lines as `file:line: reason: "text"`, files not
/// loaded). Prefer [`load_feeds`] and keeping its `Arc` when the agents run next.
pub fn check_feeds(cfg: &IntelConfig) -> LoadReport {
    load_feeds(cfg).report.clone()
}

/// The threat-intelligence agent.
#[derive(Debug)]
pub struct Intel {
    feeds: Arc<LoadedFeeds>,
    cooldown: Cooldown,
    inbound: bool,
    dns_names: bool,
}

/// Cooldown key salts: the same host and indicator may give one finding per kind of contact.
mod contact {
    pub const ADDRESS: u64 = 0x11;
    pub const QUERY: u64 = 0x22;
    pub const CONNECT: u64 = 0x33;
    pub const HASH: u64 = 0x44;
}

fn cooldown_key(host: u64, indicator: u64, contact: u64) -> u64 {
    int_key(host ^ indicator.rotate_left(23) ^ contact.rotate_left(47))
}

/// One step less severe (inbound contacts).
fn lower(s: Severity) -> Severity {
    match s {
        Severity::Critical => Severity::High,
        Severity::High => Severity::Medium,
        Severity::Medium | Severity::Low => Severity::Low,
    }
}

/// ": description" or "".
fn desc(m: &Meta) -> String {
    m.description.as_deref().map(|d| format!(": {d}")).unwrap_or_default()
}

fn evidence(flow_id: Option<u64>, measure: &'static str) -> Evidence {
    Evidence {
        flow_ids: flow_id.into_iter().collect(),
        observed: 1.0,
        threshold: 1.0,
        measure,
        window_s: 0.0,
        count: 1,
    }
}

fn proto_name(p: u8) -> &'static str {
    match p {
        6 => "tcp",
        17 => "udp",
        1 | 58 => "icmp",
        _ => "ip",
    }
}

/// `name` for a reason: printable ASCII kept, the rest escaped.
fn show(name: &[u8]) -> String {
    name.escape_ascii().to_string()
}

/// An HTTP Host or SNI value without a port (`evil.example:8080`, `[2001:db8::1]:80`).
fn strip_port(name: &[u8]) -> &[u8] {
    if name.first() == Some(&b'[') {
        return name;
    }
    match name.iter().rposition(|b| *b == b':') {
        Some(i) if name[i + 1..].iter().all(u8::is_ascii_digit) && !name[..i].contains(&b':') => &name[..i],
        _ => name,
    }
}

impl Intel {
    /// An agent over already loaded feeds (tests, benchmarks, or a caller that loaded them).
    pub fn with_feeds(cfg: &IntelConfig, feeds: Arc<LoadedFeeds>) -> Self {
        Self {
            feeds,
            cooldown: Cooldown::new(cfg.cooldown_slots.clamp(16, 1 << 22), cfg.cooldown_s),
            inbound: cfg.match_inbound,
            dns_names: cfg.match_dns_names,
        }
    }

    /// The loaded feeds (set and report).
    pub fn feeds(&self) -> &Arc<LoadedFeeds> {
        &self.feeds
    }

    /// The report of the feed load this instance uses.
    pub fn report(&self) -> &LoadReport {
        &self.feeds.report
    }

    /// The hash indicator equal to `hex` (md5, sha1 or sha256 in hex, any case).
    pub fn match_hash(&self, hex: &str) -> Option<HashHit<'_>> {
        self.feeds.set.match_hash_hex(hex)
    }

    /// The hash indicator equal to the raw digest (16, 20 or 32 bytes).
    pub fn match_digest(&self, digest: &[u8]) -> Option<HashHit<'_>> {
        self.feeds.set.match_digest(digest)
    }

    /// An `intel_hash` finding when the file digest `hex` of process `pid` running `exe`
    /// is listed (rate-limited per process and digest), for a caller that hashes
    /// executables; None when not listed or held back.
    pub fn hash_finding(&mut self, ts_ns: u64, hex: &str, pid: Option<u32>, exe: Option<&str>) -> Option<Finding> {
        let Self { feeds, cooldown, .. } = self;
        let hex = hex.trim();
        let hit = feeds.set.match_hash_hex(hex)?;
        // Key on the lower-cased digest (at most 64 hex digits once matched).
        let mut lower = [0u8; 64];
        for (d, s) in lower.iter_mut().zip(hex.bytes()) {
            *d = s.to_ascii_lowercase();
        }
        let digest = &lower[..hex.len().min(64)];
        let key = cooldown_key(int_key(u64::from(pid.unwrap_or(0))), bytes_key(digest), contact::HASH);
        if !cooldown.allow(key, ts_ns) {
            return None;
        }
        let who = match (pid, exe) {
            (Some(p), Some(e)) => format!("process {p} ({e})"),
            (Some(p), None) => format!("process {p}"),
            (None, Some(e)) => e.to_owned(),
            (None, None) => "a file".to_owned(),
        };
        let reason = format!(
            "{who} has {} {}, listed in feed '{}'{}",
            hit.kind.name(),
            String::from_utf8_lossy(digest),
            hit.feed.name,
            desc(hit.meta)
        );
        let entities = Entities { pid, exe: exe.map(str::to_owned), ..Entities::default() };
        Some(Finding::new(
            Self::NAME,
            "intel_hash",
            ts_ns,
            hit.meta.confidence,
            hit.meta.severity,
            hit.meta.technique.unwrap_or(HASH_TECHNIQUE),
            entities,
            evidence(None, "hash_indicator"),
            reason,
        ))
    }

    fn on_packet(&mut self, p: &PacketMeta, cx: &Context, out: &mut Emitter<'_>) {
        if !p.new_flow {
            return;
        }
        let Self { feeds, cooldown, inbound, dns_names } = self;
        let set = &feeds.set;
        if set.has_addresses() {
            let outbound = set.match_addr(&p.dst).map(|h| (h, true));
            let hit = outbound.or_else(|| if *inbound { set.match_addr(&p.src).map(|h| (h, false)) } else { None });
            if let Some((hit, outbound)) = hit {
                let ind = addr_key(&hit.network) ^ u64::from(hit.prefix);
                let host = if outbound { &p.src } else { &p.dst };
                if cooldown.allow(cooldown_key(addr_key(host), ind, contact::ADDRESS), p.ts_ns) {
                    out.emit(address_finding(p, &hit, outbound, cx));
                }
                return;
            }
        }
        if *dns_names && set.has_domains() {
            let mut buf = [0u8; NAME_KEEP];
            // A name cut at NAME_KEEP bytes lost its tail: its suffixes would be wrong.
            let Some(n) = cx.name_of(&p.dst, &mut buf).filter(|n| *n < NAME_KEEP) else { return };
            let Some(hit) = set.match_domain(&buf[..n]) else { return };
            if cooldown
                .allow(cooldown_key(addr_key(&p.src), bytes_key(hit.domain.as_bytes()), contact::CONNECT), p.ts_ns)
            {
                let name = show(&buf[..n]);
                let reason = format!(
                    "{} connected to {} ({name} per DNS) on {}/{}, listed in feed '{}' (domain {}){}",
                    p.src,
                    p.dst,
                    proto_name(p.proto),
                    p.dport,
                    hit.feed.name,
                    hit.domain,
                    desc(hit.meta)
                );
                out.emit(domain_finding(
                    p.ts_ns,
                    Some(p.flow_id),
                    p.src,
                    Some(p.dst),
                    Some(p.dport),
                    name,
                    &hit,
                    DNS_NAME_FACTOR,
                    reason,
                ));
            }
        }
    }

    fn on_dns(&mut self, d: &DnsEvent, out: &mut Emitter<'_>) {
        let Self { feeds, cooldown, .. } = self;
        let Some(hit) = feeds.set.match_domain(d.qname.as_bytes()) else { return };
        if !cooldown.allow(cooldown_key(addr_key(&d.client), bytes_key(hit.domain.as_bytes()), contact::QUERY), d.ts_ns)
        {
            return;
        }
        let name = show(d.qname.as_bytes());
        let what = if d.response { "got a DNS answer for" } else { "looked up" };
        let reason = format!(
            "{} {what} {name} (via {}), listed in feed '{}' (domain {}){}",
            d.client,
            d.server,
            hit.feed.name,
            hit.domain,
            desc(hit.meta)
        );
        out.emit(domain_finding(d.ts_ns, Some(d.flow_id), d.client, None, None, name, &hit, 1.0, reason));
    }

    fn on_name(&mut self, n: &NameEvent, out: &mut Emitter<'_>) {
        let Self { feeds, cooldown, .. } = self;
        let name = strip_port(n.name.as_bytes());
        let Some(hit) = feeds.set.match_domain(name) else { return };
        if !cooldown
            .allow(cooldown_key(addr_key(&n.client), bytes_key(hit.domain.as_bytes()), contact::CONNECT), n.ts_ns)
        {
            return;
        }
        let shown = show(name);
        let what = if n.source == "http" {
            format!("sent an HTTP request for host {shown} to {}", n.server)
        } else {
            format!("opened a {} session to {shown} ({})", n.source.to_ascii_uppercase(), n.server)
        };
        let reason = format!(
            "{} {what}, listed in feed '{}' (domain {}){}",
            n.client,
            hit.feed.name,
            hit.domain,
            desc(hit.meta)
        );
        out.emit(domain_finding(n.ts_ns, Some(n.flow_id), n.client, Some(n.server), None, shown, &hit, 1.0, reason));
    }
}

fn address_finding(p: &PacketMeta, hit: &AddrHit<'_>, outbound: bool, cx: &Context) -> Finding {
    let what = hit.describe();
    let listed = if outbound { p.dst } else { p.src };
    let mut buf = [0u8; NAME_KEEP];
    let name = cx.name_of(&listed, &mut buf).map(|n| show(&buf[..n]));
    let named = name.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    let reason = if outbound {
        format!(
            "{} connected to {}{named} on {}/{}, listed in feed '{}' ({what}){}",
            p.src,
            p.dst,
            proto_name(p.proto),
            p.dport,
            hit.feed.name,
            desc(hit.meta)
        )
    } else {
        format!(
            "{}{named}, listed in feed '{}' ({what}), connected to {} on {}/{}{}",
            p.src,
            hit.feed.name,
            p.dst,
            proto_name(p.proto),
            p.dport,
            desc(hit.meta)
        )
    };
    let severity = if outbound { hit.meta.severity } else { lower(hit.meta.severity) };
    let entities =
        Entities { src: Some(p.src), dst: Some(p.dst), port: Some(p.dport), host: name, ..Entities::default() };
    Finding::new(
        Intel::NAME,
        "intel_address",
        p.ts_ns,
        hit.meta.confidence,
        severity,
        hit.meta.technique.unwrap_or(DEFAULT_TECHNIQUE),
        entities,
        evidence(Some(p.flow_id), if outbound { "listed_destination" } else { "listed_source" }),
        reason,
    )
}

#[allow(clippy::too_many_arguments, reason = "the finding's parts, each from a different event field")]
fn domain_finding(
    ts_ns: u64,
    flow_id: Option<u64>,
    src: IpAddr,
    dst: Option<IpAddr>,
    port: Option<u16>,
    name: String,
    hit: &DomainHit<'_>,
    factor: f32,
    reason: String,
) -> Finding {
    let entities = Entities { src: Some(src), dst, port, host: Some(name), ..Entities::default() };
    Finding::new(
        Intel::NAME,
        "intel_domain",
        ts_ns,
        hit.meta.confidence * factor,
        hit.meta.severity,
        hit.meta.technique.unwrap_or(DEFAULT_TECHNIQUE),
        entities,
        evidence(flow_id, "listed_domain"),
        reason,
    )
}

impl Agent for Intel {
    const NAME: &'static str = "intel";
    const INTEREST: u16 = kind::PACKET | kind::DNS | kind::NAME;
    type Config = IntelConfig;

    fn new(cfg: &IntelConfig) -> Self {
        Self::with_feeds(cfg, load_feeds(cfg))
    }

    /// The internal host: the client of the flow (sender of its first packet), of the DNS
    /// query, of the TLS/HTTP session.
    fn shard_key(ev: &Event) -> u64 {
        match ev {
            Event::Packet(p) => addr_key(&p.src),
            Event::Dns(d) => addr_key(&d.client),
            Event::Name(n) => addr_key(&n.client),
            _ => 0,
        }
    }

    fn on_event(&mut self, ev: &Event, cx: &Context, out: &mut Emitter<'_>) {
        if self.feeds.set.is_empty() {
            return;
        }
        match ev {
            Event::Packet(p) => self.on_packet(p, cx, out),
            Event::Dns(d) => self.on_dns(d, out),
            Event::Name(n) => self.on_name(n, out),
            _ => {}
        }
    }
}

/// A synthetic indicator set for benchmarks and the steady-state test: 4,000 addresses
/// (198.18.0.0/15 benchmark range and 2001:db8::/32), 66 CIDRs, 5,000 domains under
/// `.example`, 1,000 sha256 digests.
#[doc(hidden)]
pub fn steady_feeds() -> Arc<LoadedFeeds> {
    let mut text = String::new();
    for i in 0..2_000u32 {
        text.push_str(&format!("198.18.{}.{}\n2001:db8:{:x}::{:x}\n", i / 250, i % 250 + 1, i % 7, i));
    }
    for i in 0..16u32 {
        text.push_str(&format!("192.0.2.{}/28\n", i * 16));
    }
    for i in 0..50u32 {
        text.push_str(&format!("2001:db8:{i:x}00::/40\n"));
    }
    for i in 0..5_000u32 {
        text.push_str(&format!("c2-{i}.bad{}.example\n", i % 37));
    }
    for i in 0..1_000u64 {
        text.push_str(&format!("{:064x}\n", u128::from(i + 1) * 0x9e37_79b9_7f4a_7c15));
    }
    let fc = FeedConfig { path: "steady.txt".into(), name: "steady".into(), ..FeedConfig::default() };
    let cfg = IntelConfig::default();
    let mut b = IndicatorSetBuilder::new(cfg.max_indicators);
    let r = load::load_bytes(&fc, &cfg.limits(), text.as_bytes(), &mut b);
    Arc::new(LoadedFeeds { set: b.build(), report: LoadReport { files: vec![r] } })
}

/// An agent over [`steady_feeds`], for benchmarks and the no-allocation test.
#[doc(hidden)]
pub fn steady_agent() -> Intel {
    Intel::with_feeds(&IntelConfig::default(), steady_feeds())
}

/// A realistic stream of `n` events none of which is listed in [`steady_feeds`]: flows
/// (first and later packets) from 50 internal hosts to 400 servers, their DNS queries and
/// TLS names.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    use super::event::{Text, ip_proto, tcp};
    let mut v = Vec::with_capacity(n);
    let mut ts = 1_700_000_000_000_000_000u64;
    for i in 0..n {
        ts += 1_000_000;
        let host = IpAddr::from([10, 1, 0, (i % 50) as u8 + 1]);
        let server = IpAddr::from([100, 64, (i % 400 / 200) as u8, (i % 200) as u8 + 1]);
        let flow_id = (i / 8) as u64;
        let name = format!("cdn{}.assets{}.benign.test", i % 400, i % 13);
        v.push(match i % 8 {
            0 => Event::Dns(DnsEvent {
                ts_ns: ts,
                flow_id,
                client: host,
                server: IpAddr::from([10, 1, 0, 254]),
                response: false,
                qname: Text::new(name.as_bytes()),
                qtype: 1,
                rcode: 0,
                answers: 0,
                size: 60,
            }),
            1 => Event::Name(NameEvent {
                ts_ns: ts,
                flow_id,
                client: host,
                server,
                source: "tls",
                name: Text::new(name.as_bytes()),
            }),
            k => Event::Packet(PacketMeta {
                ts_ns: ts,
                flow_id,
                src: if k % 2 == 0 { host } else { server },
                dst: if k % 2 == 0 { server } else { host },
                sport: if k % 2 == 0 { 40_000 + (i % 20_000) as u16 } else { 443 },
                dport: if k % 2 == 0 { 443 } else { 40_000 + (i % 20_000) as u16 },
                proto: ip_proto::TCP,
                tcp_flags: if k == 2 { tcp::SYN } else { tcp::ACK },
                icmp_type: None,
                wire_len: 1200,
                payload_len: 1100,
                to_server: k % 2 == 0,
                new_flow: k == 2,
            }),
        });
    }
    v
}

#[cfg(test)]
mod tests {
    use std::{fs, path::PathBuf, sync::mpsc::Receiver};

    use super::*;
    use crate::agents::{
        config::AgentsConfig,
        event::{Text, ip_proto, tcp},
        finding::FindingQueue,
        runtime::Runtime,
    };

    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/intel");

    fn fixture(name: &str) -> String {
        format!("{FIXTURES}/{name}")
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    /// The five sample feeds: plain (mirrored as block), CSV, two datasets, MISP.
    fn fixture_config() -> IntelConfig {
        let feed =
            |file: &str, name: &str| FeedConfig { path: fixture(file), name: name.into(), ..FeedConfig::default() };
        IntelConfig {
            feeds: vec![
                FeedConfig { mirror: Mirror::Block, severity: Severity::High, ..feed("c2-blocklist.txt", "abuse-c2") },
                feed("threat-feed.csv", "example-cert"),
                FeedConfig { dataset_type: Some(DatasetType::String), ..feed("c2-domains.lst", "suricata-domains") },
                FeedConfig {
                    dataset_type: Some(DatasetType::Ipv4),
                    mirror: Mirror::Watch,
                    ..feed("c2-ipv4.lst", "suricata-ipv4")
                },
                feed("misp-event.json", "misp"),
            ],
            ..IntelConfig::default()
        }
    }

    struct Harness {
        agent: Intel,
        cx: Context,
        queue: FindingQueue,
        rx: Receiver<Finding>,
    }

    impl Harness {
        fn new(agent: Intel) -> Self {
            let (queue, rx) = FindingQueue::bounded(1 << 18);
            Self { agent, cx: Context::default(), queue, rx }
        }

        fn fixtures() -> Self {
            Self::new(Intel::new(&fixture_config()))
        }

        fn feed(&mut self, evs: &[Event]) -> Vec<Finding> {
            let mut out = Emitter::new(&self.queue, &self.cx);
            for ev in evs {
                self.cx.observe(ev);
                self.agent.on_event(ev, &self.cx, &mut out);
            }
            self.rx.try_iter().collect()
        }
    }

    fn syn(ts_s: u64, src: &str, dst: &str, dport: u16) -> Event {
        Event::Packet(PacketMeta {
            ts_ns: ts_s * 1_000_000_000,
            flow_id: ts_s ^ u64::from(dport),
            src: ip(src),
            dst: ip(dst),
            sport: 49_152,
            dport,
            proto: ip_proto::TCP,
            tcp_flags: tcp::SYN,
            icmp_type: None,
            wire_len: 74,
            payload_len: 0,
            to_server: true,
            new_flow: true,
        })
    }

    fn later(ev: Event) -> Event {
        match ev {
            Event::Packet(mut p) => {
                p.new_flow = false;
                p.tcp_flags = tcp::ACK;
                p.ts_ns += 1_000_000;
                Event::Packet(p)
            }
            other => other,
        }
    }

    fn dns(ts_s: u64, client: &str, qname: &[u8], response: bool) -> Event {
        Event::Dns(DnsEvent {
            ts_ns: ts_s * 1_000_000_000,
            flow_id: ts_s,
            client: ip(client),
            server: ip("10.0.0.53"),
            response,
            qname: Text::new(qname),
            qtype: 1,
            rcode: 0,
            answers: u16::from(response),
            size: 80,
        })
    }

    fn name(ts_s: u64, client: &str, server: &str, source: &'static str, n: &[u8]) -> Event {
        Event::Name(NameEvent {
            ts_ns: ts_s * 1_000_000_000,
            flow_id: ts_s,
            client: ip(client),
            server: ip(server),
            source,
            name: Text::new(n),
        })
    }

    #[test]
    fn the_sample_feeds_load_without_a_bad_line() {
        let r = load_uncached(&fixture_config()).report;
        assert!(r.is_clean(), "{r}");
        let by = |feed: &str| r.files.iter().find(|f| f.feed == feed).expect("feed").loaded;
        let plain = by("abuse-c2");
        assert_eq!((plain.addresses, plain.cidrs, plain.domains), (3, 2, 4), "{r}");
        let csv = by("example-cert");
        assert_eq!((csv.addresses, csv.cidrs, csv.domains, csv.md5, csv.sha256), (2, 1, 3, 1, 1), "{r}");
        assert_eq!(by("suricata-domains").domains, 3, "{r}");
        assert_eq!(by("suricata-ipv4").addresses, 3, "{r}");
        let misp = by("misp");
        assert_eq!((misp.addresses, misp.domains, misp.sha256), (3, 3, 1), "{r}");
        let shown = r.to_string();
        assert!(shown.contains("intel feed 'abuse-c2'") && shown.contains("0 bad lines"), "{shown}");
        assert_eq!(r.summary(), "intel: 30 indicators from 5 feeds (0 not loaded, 0 bad lines)");
    }

    #[test]
    fn a_new_flow_to_a_listed_cidr_is_reported_once_with_the_feed_and_indicator() {
        let mut h = Harness::fixtures();
        let first = syn(100, "10.0.0.5", "198.51.100.44", 443);
        let f = h.feed(&[first, later(first), later(first)]);
        assert_eq!(f.len(), 1, "{f:#?}");
        let f = &f[0];
        assert_eq!((f.agent, f.kind, f.technique), ("intel", "intel_address", "T1071"));
        assert_eq!(
            (f.entities.src, f.entities.dst, f.entities.port),
            (Some(ip("10.0.0.5")), Some(ip("198.51.100.44")), Some(443))
        );
        assert_eq!((f.confidence, f.severity), (0.8, Severity::High));
        assert_eq!(
            f.reason,
            "10.0.0.5 connected to 198.51.100.44 on tcp/443, listed in feed 'abuse-c2' (CIDR 198.51.100.0/24)"
        );
        assert_eq!(f.evidence.flow_ids.len(), 1);
        // Another flow to the same range within the cooldown: held back.
        assert!(h.feed(&[syn(200, "10.0.0.5", "198.51.100.45", 443)]).is_empty());
        // ...but another internal host is a new finding.
        assert_eq!(h.feed(&[syn(201, "10.0.0.6", "198.51.100.45", 443)]).len(), 1);
        // ...and the same host after the cooldown too.
        assert_eq!(h.feed(&[syn(100 + 3_601, "10.0.0.5", "198.51.100.45", 443)]).len(), 1);
    }

    #[test]
    fn the_most_specific_listing_gives_the_details() {
        let mut h = Harness::fixtures();
        let f = h.feed(&[syn(1, "10.0.0.5", "198.51.100.23", 8080)]);
        assert_eq!(f.len(), 1);
        // The CSV row for the single address, not the plain list's /24.
        assert_eq!((f[0].technique, f[0].confidence, f[0].severity), ("T1071.001", 0.9, Severity::High));
        assert!(
            f[0].reason.contains("feed 'example-cert' (address 198.51.100.23): Emotet C2, epoch 5"),
            "{}",
            f[0].reason
        );
        let f = h.feed(&[syn(2, "2001:db8:1::5", "2001:db8:bad:1::9", 443)]);
        assert!(f[0].reason.contains("(CIDR 2001:db8:bad::/48)"), "{}", f[0].reason);
    }

    #[test]
    fn a_connection_from_a_listed_address_is_reported_one_step_less_severe() {
        let mut h = Harness::fixtures();
        let f = h.feed(&[syn(5, "192.0.2.66", "10.0.0.9", 22)]);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].entities.src, f[0].entities.dst), (Some(ip("192.0.2.66")), Some(ip("10.0.0.9"))));
        assert_eq!(f[0].severity, Severity::Low);
        assert!(
            f[0].reason.starts_with(
                "192.0.2.66, listed in feed 'suricata-ipv4' (address 192.0.2.66), connected to 10.0.0.9 on tcp/22"
            ),
            "{}",
            f[0].reason
        );
        let mut quiet = Harness::new(Intel::new(&IntelConfig { match_inbound: false, ..fixture_config() }));
        assert!(quiet.feed(&[syn(5, "192.0.2.66", "10.0.0.9", 22)]).is_empty());
    }

    #[test]
    fn dns_queries_for_listed_domains_and_their_subdomains_are_reported() {
        let mut h = Harness::fixtures();
        let f = h.feed(&[
            dns(1, "10.0.0.7", b"WWW.Malware.Example.", false),
            dns(1, "10.0.0.7", b"www.malware.example", true),
        ]);
        assert_eq!(f.len(), 1, "query and answer give one finding: {f:#?}");
        let f = &f[0];
        assert_eq!((f.kind, f.technique, f.confidence), ("intel_domain", "T1105", 0.8));
        assert_eq!(f.entities.host.as_deref(), Some("WWW.Malware.Example."));
        assert_eq!(
            f.reason,
            "10.0.0.7 looked up WWW.Malware.Example. (via 10.0.0.53), listed in feed 'example-cert' (domain \
             malware.example): Payload host (source: example-cert)"
        );
        // From the dataset (base64) and the MISP event (object attribute).
        assert_eq!(h.feed(&[dns(2, "10.0.0.7", b"x.exfil.bad.example", false)]).len(), 1);
        let m = h.feed(&[dns(3, "10.0.0.7", b"backup.misp-c2.example", false)]);
        assert_eq!((m[0].severity, m[0].technique), (Severity::High, "T1071"));
        // Look-alikes and context-only names are not.
        for q in [&b"malware.example.org"[..], b"notmalware.example", b"example", b"www.example.com"] {
            assert!(h.feed(&[dns(4, "10.0.0.7", q, false)]).is_empty(), "{}", String::from_utf8_lossy(q));
        }
    }

    #[test]
    fn tls_sni_and_http_host_headers_with_ports_match_domains() {
        let mut h = Harness::fixtures();
        let f = h.feed(&[name(1, "10.0.0.8", "203.0.113.140", "tls", b"cdn.c2.evil.example")]);
        assert_eq!(f.len(), 1);
        assert_eq!(
            f[0].reason,
            "10.0.0.8 opened a TLS session to cdn.c2.evil.example (203.0.113.140), listed in feed 'abuse-c2' (domain c2.evil.example)"
        );
        let f = h.feed(&[name(2, "10.0.0.9", "203.0.113.140", "http", b"Tracker.Bad.Example:8080")]);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].reason.contains("sent an HTTP request for host Tracker.Bad.Example to 203.0.113.140"),
            "{}",
            f[0].reason
        );
        // Trickbot-style numeric Host header (measured in ndpi-trickbot.pcap): no domain match.
        assert!(h.feed(&[name(3, "10.0.0.9", "82.118.225.196", "http", b"82.118.225.196:7080")]).is_empty());
    }

    #[test]
    fn a_url_on_a_shared_host_weighs_less_than_a_listed_domain() {
        let mut h = Harness::fixtures();
        let f = h.feed(&[name(1, "10.0.0.8", "203.0.113.141", "tls", b"files.example")]);
        assert_eq!(f.len(), 1);
        assert!(f[0].confidence <= 0.5, "{}", f[0].confidence);
        // A stage URL without a path keeps the feed's confidence.
        let f = h.feed(&[name(2, "10.0.0.8", "203.0.113.141", "tls", b"dl.misp-c2.example")]);
        assert_eq!(f[0].confidence, 0.8);
    }

    #[test]
    fn a_flow_to_an_address_whose_dns_name_is_listed_is_reported() {
        let mut h = Harness::fixtures();
        h.cx.record_dns_answer(&ip("100.64.9.9"), b"beacon.example", 1);
        let f = h.feed(&[syn(2, "10.0.0.5", "100.64.9.9", 443)]);
        assert_eq!(f.len(), 1);
        assert_eq!((f[0].kind, f[0].entities.host.as_deref()), ("intel_domain", Some("beacon.example")));
        assert!((f[0].confidence - 0.8 * DNS_NAME_FACTOR).abs() < 1e-6);
        assert!(
            f[0].reason.starts_with("10.0.0.5 connected to 100.64.9.9 (beacon.example per DNS) on tcp/443"),
            "{}",
            f[0].reason
        );
        // A name cut at NAME_KEEP bytes is not trusted: its tail is gone.
        let long = format!("{}.beacon.example", "a".repeat(NAME_KEEP));
        h.cx.record_dns_answer(&ip("100.64.9.10"), long.as_bytes(), 3);
        assert!(h.feed(&[syn(4, "10.0.0.6", "100.64.9.10", 443)]).is_empty());
        let mut off = Harness::new(Intel::new(&IntelConfig { match_dns_names: false, ..fixture_config() }));
        off.cx.record_dns_answer(&ip("100.64.9.9"), b"beacon.example", 1);
        assert!(off.feed(&[syn(2, "10.0.0.5", "100.64.9.9", 443)]).is_empty());
    }

    /// Events as the pipeline makes them from ndpi-malware.pcap (tshark: 192.168.7.7 asks
    /// 1.1.1.1 for www.internetbadguys.com, answer 67.215.92.210, then TLS SNI and HTTP Host
    /// www.internetbadguys.com to 67.215.92.210; 192.168.0.20 opens TLS to hobbeach.com at
    /// 193.109.85.123), and ndpi-emotet.pcap (10.3.29.101 -> 104.161.127.22:80, Host
    /// fkl.co.ke), against feeds listing internetbadguys.com and 104.161.127.22.
    #[test]
    fn the_malware_captures_are_caught_by_feeds_listing_their_servers() {
        let dir = temp_dir("captures");
        let path = dir.join("capture-feed.csv");
        fs::write(&path, "domain,comment\ninternetbadguys.com,OpenDNS test domain\n").expect("write");
        let plain = dir.join("emotet.txt");
        fs::write(&plain, "104.161.127.22\n").expect("write");
        let cfg = IntelConfig {
            feeds: vec![
                FeedConfig { path: path.display().to_string(), ..FeedConfig::default() },
                FeedConfig { path: plain.display().to_string(), name: "emotet".into(), ..FeedConfig::default() },
            ],
            ..IntelConfig::default()
        };
        let mut h = Harness::new(Intel::new(&cfg));
        assert!(h.agent.report().is_clean(), "{}", h.agent.report());
        let client = "192.168.7.7";
        let mut evs = vec![
            dns(7941, client, b"www.internetbadguys.com", false),
            dns(7941, client, b"www.internetbadguys.com", true),
        ];
        h.cx.record_dns_answer(&ip("67.215.92.210"), b"www.internetbadguys.com", 7_941_000_000_000);
        evs.push(syn(7942, client, "67.215.92.210", 443));
        evs.push(name(7942, client, "67.215.92.210", "tls", b"www.internetbadguys.com"));
        evs.push(syn(7945, client, "67.215.92.210", 80));
        evs.push(name(7945, client, "67.215.92.210", "http", b"www.internetbadguys.com"));
        evs.push(syn(7946, "192.168.0.20", "193.109.85.123", 443));
        evs.push(name(7946, "192.168.0.20", "193.109.85.123", "tls", b"hobbeach.com"));
        evs.push(syn(8000, "10.3.29.101", "104.161.127.22", 80));
        evs.push(name(8000, "10.3.29.101", "104.161.127.22", "http", b"fkl.co.ke"));
        let f = h.feed(&evs);
        let kinds: Vec<(&str, Option<IpAddr>)> = f.iter().map(|f| (f.kind, f.entities.src)).collect();
        assert_eq!(
            kinds,
            vec![
                ("intel_domain", Some(ip(client))),
                ("intel_domain", Some(ip(client))),
                ("intel_address", Some(ip("10.3.29.101")))
            ],
            "{f:#?}"
        );
        assert!(f[0].reason.contains("looked up www.internetbadguys.com"));
        assert!(f[1].reason.contains("connected to 67.215.92.210 (www.internetbadguys.com per DNS)"));
        assert!(f[2].reason.contains("feed 'emotet' (address 104.161.127.22)"));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn names_from_the_normal_captures_and_hostile_names_do_not_fire_or_panic() {
        let mut h = Harness::fixtures();
        // Measured with tshark over normal/*.pcap (SNI, Host, DNS questions), plus junk.
        let names: &[&[u8]] = &[
            b"239.255.255.250:1900",
            b"Gabrieles-iPad.local",
            b"upload.wikimedia.org",
            b"[FF02::C]:1900",
            "小佛專機".as_bytes(),
            b"1.238.16.172.in-addr.arpa",
            b"www.google.com",
            b"ios.nccp.netflix.com",
            b"_companion-link._tcp.local,_homekit._tcp.local",
            b"www.example.com",
            b"",
            b".",
            b"..",
            b":",
            b"\xff\xfe\x00\x01.example",
            &[b'.'; 256],
            &[b'a'; 256],
        ];
        let mut evs = Vec::new();
        for (i, n) in names.iter().enumerate() {
            let t = 1_000 - i as u64 * 10; // time going backwards
            evs.push(dns(t, "10.0.0.7", n, false));
            evs.push(name(t, "10.0.0.7", "100.64.0.1", "tls", n));
            evs.push(name(t, "10.0.0.7", "100.64.0.1", "http", n));
            h.cx.record_dns_answer(&ip("100.64.0.2"), n, t);
            evs.push(syn(t, "10.0.0.7", "100.64.0.2", 443));
        }
        let f = h.feed(&evs);
        assert!(f.is_empty(), "{f:#?}");
        // A listed domain at the end of a 256-byte name still matches.
        let long = format!("{}b.c2.evil.example", "a.".repeat(118));
        assert_eq!(long.len(), 253);
        assert_eq!(h.feed(&[dns(0, "10.0.0.7", long.as_bytes(), false)]).len(), 1);
        // ...and so does one over 253 bytes (only its parents can be listed).
        let longer = format!("{}c2.evil.example", "a.".repeat(120));
        assert_eq!(longer.len(), 255);
        assert_eq!(h.feed(&[dns(0, "10.0.0.8", longer.as_bytes(), false)]).len(), 1);
    }

    #[test]
    fn memory_stays_fixed_under_a_hundred_thousand_hosts_and_indicators() {
        let mut h = Harness::new(steady_agent());
        let mut n = 0;
        for i in 0..100_000u32 {
            let host = IpAddr::from((0x0a00_0000u32 + i).to_be_bytes());
            let listed = IpAddr::from([198, 18, (i % 8) as u8, (i % 250) as u8 + 1]);
            let ev = Event::Packet(PacketMeta {
                src: host,
                dst: listed,
                ..match syn(u64::from(i / 100), "10.0.0.1", "10.0.0.2", 443) {
                    Event::Packet(p) => p,
                    _ => unreachable!(),
                }
            });
            n += h.feed(&[ev]).len();
        }
        // Every host is a different (host, indicator) pair: one finding each; the
        // cooldown table is fixed, so nothing grew to hold them.
        assert_eq!(n, 100_000);
        assert_eq!(h.agent.feeds.set.counts().total(), steady_feeds().set.counts().total());
    }

    #[test]
    fn shards_share_one_load_and_a_changed_file_is_reloaded() {
        let dir = temp_dir("share");
        let path = dir.join("feed.txt");
        fs::write(&path, "198.51.100.1\n").expect("write");
        let cfg = IntelConfig {
            feeds: vec![FeedConfig { path: path.display().to_string(), ..FeedConfig::default() }],
            ..IntelConfig::default()
        };
        let a = Intel::new(&cfg);
        let b = Intel::new(&cfg);
        assert!(Arc::ptr_eq(a.feeds(), b.feeds()));
        assert_eq!(check_feeds(&cfg).loaded().addresses, 1);
        fs::write(&path, "198.51.100.1\n198.51.100.2\n").expect("rewrite");
        let c = Intel::new(&cfg);
        assert!(!Arc::ptr_eq(a.feeds(), c.feeds()));
        assert_eq!(c.feeds().set.counts().addresses, 2);
        drop((a, b, c));
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn the_runtime_runs_intel_from_the_agents_config_in_shards() {
        let toml = format!(
            "[agents]\nshards = 2\n[agents.intel]\ncooldown_s = 60.0\n[[agents.intel.feeds]]\npath = \"{}\"\nname = \"abuse-c2\"\nmirror = \"block\"\n",
            fixture("c2-blocklist.txt")
        );
        let cfg = AgentsConfig::parse(&toml, "test").expect("parses");
        let mut rt = Runtime::new(cfg, None).expect("runtime");
        rt.on_event(&syn(1, "10.0.0.5", "198.51.100.7", 443));
        rt.on_event(&dns(2, "10.0.0.6", b"a.botnet.example", false));
        let mut f = Vec::new();
        rt.finish(|x| f.push(x));
        f.sort_by_key(|x| x.ts_ns);
        assert_eq!(f.iter().map(|x| x.kind).collect::<Vec<_>>(), vec!["intel_address", "intel_domain"]);
        let e = AgentsConfig::parse("[[agents.intel.feeds]]\npath = \"x\"\nbogus = 1\n", "t").expect_err("unknown key");
        assert!(e.to_string().contains("bogus"), "{e}");
        let e =
            AgentsConfig::parse("[[agents.intel.feeds]]\npath = \"x\"\nformat = \"xml\"\n", "t").expect_err("format");
        assert!(e.to_string().contains("intel"), "{e}");
    }

    #[test]
    fn mirror_entries_list_only_the_address_indicators_of_mirrored_feeds() {
        let feeds = load_feeds(&fixture_config());
        let mut m: Vec<String> = feeds
            .set
            .mirror_entries()
            .map(|e| format!("{}/{} {} {}", e.addr, e.prefix, e.mirror.name(), e.feed))
            .collect();
        m.sort();
        assert_eq!(
            m,
            vec![
                "192.0.2.66/32 watch suricata-ipv4",
                "192.0.2.67/32 watch suricata-ipv4",
                "198.51.100.0/24 block abuse-c2",
                "198.51.100.7/32 block abuse-c2",
                "2001:db8::dead:beef/128 block abuse-c2",
                "2001:db8:bad::/48 block abuse-c2",
                "203.0.113.200/32 watch suricata-ipv4",
                "203.0.113.66/32 block abuse-c2",
            ]
        );
        assert_eq!(feeds.set.address_indicators().count(), 14);
    }

    #[test]
    fn listed_file_hashes_give_rate_limited_findings() {
        let mut agent = Intel::new(&fixture_config());
        let eicar = "44D88612FEA8A8F36DE82E1278ABB02F";
        assert_eq!(agent.match_hash(eicar).map(|h| h.kind), Some(HashKind::Md5));
        let f = agent.hash_finding(1, eicar, Some(4242), Some("/tmp/eicar.com")).expect("finding");
        assert_eq!((f.kind, f.technique, f.confidence), ("intel_hash", "T1204.002", 1.0));
        assert_eq!((f.entities.pid, f.entities.exe.as_deref()), (Some(4242), Some("/tmp/eicar.com")));
        assert_eq!(
            f.reason,
            "process 4242 (/tmp/eicar.com) has md5 44d88612fea8a8f36de82e1278abb02f, listed in feed 'example-cert': EICAR \
             test file (source: example-cert)"
        );
        assert!(agent.hash_finding(2, eicar, Some(4242), Some("/tmp/eicar.com")).is_none());
        assert!(agent.hash_finding(2, &"0".repeat(32), Some(1), None).is_none());
        let digest = [0x5f, 0x0e, 0x3a, 0x0b];
        assert!(agent.match_digest(&digest).is_none());
    }

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("intel-agent-{}-{tag}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("temp dir");
        d
    }

    #[test]
    fn bad_feed_files_report_file_and_line_and_load_the_rest() {
        let dir = temp_dir("bad");
        let w = |name: &str, bytes: &[u8]| {
            let p = dir.join(name);
            fs::write(&p, bytes).expect("write");
            p.display().to_string()
        };
        let mut overlong = b"198.51.100.2\r\n".to_vec();
        overlong.extend(std::iter::repeat_n(b'x', 5000));
        overlong.extend_from_slice(b"\r\n203.0.113.1\r\n");
        let feeds = vec![
            w("bad.txt", b"\xef\xbb\xbf198.51.100.1\r\n999.1.1.1\r\n198.51.100.0/40\r\ngarbage\r\n\x00\x01\x02\xff\r\n203.0.113.0/24\r\n"),
            w("overlong.txt", &overlong),
            w("empty.txt", b""),
            dir.join("missing.txt").display().to_string(),
            w("broken.json", b"{\"Event\": {\"Attribute\": [\n  {\"type\": \"ip-dst\", \"value\": \"192.0.2.1\"}\n"),
            w("short.csv", b"indicator,type,description\n198.51.100.9,ip,ok\n\n\"unterminated,ip\n203.0.113.9\n,ip,empty\n"),
        ];
        let cfg = IntelConfig {
            feeds: feeds.into_iter().map(|path| FeedConfig { path, ..FeedConfig::default() }).collect(),
            ..IntelConfig::default()
        };
        let report = check_feeds(&cfg);
        let shown = report.to_string();
        let p = |n: &str| dir.join(n).display().to_string();
        for want in [
            format!("{}:2: invalid IPv4 address: \"999.1.1.1\"", p("bad.txt")),
            format!("{}:3: prefix /40 is longer than /32", p("bad.txt")),
            format!("{}:4: not an indicator", p("bad.txt")),
            format!("{}:5: not UTF-8 text", p("bad.txt")),
            format!("{}:2: line of 5000 bytes is longer than 4096", p("overlong.txt")),
            format!("{}: empty file", p("empty.txt")),
            format!("'missing' ({}): NOT LOADED: reading {}: No such file", p("missing.txt"), p("missing.txt")),
            format!("{}:3:0: broken JSON: EOF while parsing", p("broken.json")),
            format!("{}:4: unterminated quoted field", p("short.csv")),
            format!("{}:6: empty indicator field", p("short.csv")),
        ] {
            assert!(shown.contains(&want), "missing {want:?} in:\n{shown}");
        }
        let loaded = |n: &str| report.files.iter().find(|f| f.path == p(n)).expect("file").loaded;
        assert_eq!((loaded("bad.txt").addresses, loaded("bad.txt").cidrs), (1, 1));
        assert_eq!(loaded("overlong.txt").addresses, 2);
        assert_eq!(loaded("short.csv").addresses, 2);
        assert_eq!(report.failed().count(), 2);
        // The agent still runs on what loaded.
        let mut h = Harness::new(Intel::new(&cfg));
        assert_eq!(h.feed(&[syn(1, "10.0.0.1", "203.0.113.77", 443)]).len(), 1);
        let _ = fs::remove_dir_all(dir);
    }

    #[test]
    fn with_no_feeds_the_agent_is_silent() {
        let mut h = Harness::new(Intel::new(&IntelConfig::default()));
        assert!(h.agent.report().files.is_empty());
        assert!(h.feed(&steady_events(1_000)).is_empty());
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 20_000;
        let evs = steady_events(2 * n);
        let mut h = Harness::new(steady_agent());
        let _ = h.feed(&evs[..n]);
        let f = h.feed(&evs[n..]);
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn the_cli_reads_the_intel_section_of_a_config_file() {
        let text = "[agents]\nshards = 2\n[agents.intel]\nenabled = true\ncooldown_s = 60.0\n\
[[agents.intel.feeds]]\npath = \"/etc/sensor/c2.txt\"\nmirror = \"block\"\n";
        let cfg = IntelConfig::from_config_text(text, "sensor.toml").expect("parses").expect("enabled");
        assert_eq!((cfg.cooldown_s, cfg.feeds.len(), cfg.feeds[0].mirror), (60.0, 1, Mirror::Block));
        assert_eq!(IntelConfig::from_config_text("", "x").expect("parses"), Some(IntelConfig::default()));
        assert_eq!(IntelConfig::from_config_text("[agents.intel]\nenabled = false\n", "x").expect("parses"), None);
        let e = IntelConfig::from_config_text("[agents.intel]\nnope = 1\n", "x").expect_err("unknown key");
        assert!(e.to_string().contains("nope"), "{e}");
    }

    #[test]
    fn config_defaults_are_production_sane_and_round_trip() {
        let d = IntelConfig::default();
        assert!(d.feeds.is_empty() && d.cooldown_s >= 600.0 && d.min_prefix_v4 >= 8);
        let t = toml::Value::try_from(&d).expect("serialises");
        let back: IntelConfig = t.try_into().expect("parses back");
        assert_eq!(back, d);
        let f: FeedConfig =
            toml::from_str("path = \"x.lst\"\ndataset_type = \"string\"\nmirror = \"watch\"\nseverity = \"high\"")
                .expect("feed");
        assert_eq!(
            (f.dataset_type, f.mirror, f.severity, f.confidence),
            (Some(DatasetType::String), Mirror::Watch, Severity::High, 0.8)
        );
        assert_eq!(f.feed_name(), "x");
    }
}
