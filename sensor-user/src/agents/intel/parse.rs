//! Parsing one indicator value as feeds write them: addresses (`198.51.100.7`,
//! `198.51.100.7:443`, `[2001:db8::1]:443`, IPv4-mapped IPv6), CIDRs, domains (`*.` and
//! leading/trailing dots dropped, lower-cased), URLs (the host is kept), md5/sha1/sha256 in
//! hex, defanged forms (`evil[.]example`, `hxxp://`). Errors are one short sentence naming
//! what is wrong ("invalid IPv4 address", "prefix /40 is longer than /32").

use std::{
    borrow::Cow,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
};

use super::indicators::{DOMAIN_MAX, HashKind, Indicator, canonical, decode_hex, full_prefix, mask4, mask6};

/// What a value is expected to be (from a type column, a MISP type or a dataset type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Anything: inferred from the value.
    Any,
    /// An address or CIDR of either family.
    Address,
    /// An IPv4 address or CIDR.
    Ipv4,
    /// An IPv6 address or CIDR.
    Ipv6,
    /// A domain name (an address literal is accepted too: "hostname" fields hold both).
    Domain,
    /// A URL: its host is kept.
    Url,
    /// A digest, of the given kind when known.
    Hash(Option<HashKind>),
}

/// Limits applied while parsing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseOpts {
    /// Shortest IPv4 prefix accepted (broader networks are refused).
    pub min_prefix_v4: u8,
    /// Shortest IPv6 prefix accepted.
    pub min_prefix_v6: u8,
}

impl Default for ParseOpts {
    fn default() -> Self {
        Self { min_prefix_v4: 8, min_prefix_v6: 16 }
    }
}

/// A parsed value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The indicator.
    pub indicator: Indicator,
    /// Whether it is the host of a URL with a path: the feed listed one resource on that
    /// host (often a shared or hijacked site), not the host itself, so matches on the host
    /// are weaker evidence.
    pub from_url_path: bool,
}

impl Parsed {
    fn plain(indicator: Indicator) -> Self {
        Self { indicator, from_url_path: false }
    }
}

/// Undoes common defanging: `[.]`, `(.)`, `{.}`, `[dot]`, `[:]`, `hxxp`.
pub fn refang(s: &str) -> Cow<'_, str> {
    let b = s.as_bytes();
    let lower_has = |pat: &[u8]| b.windows(pat.len()).any(|w| w.eq_ignore_ascii_case(pat));
    if !s.contains(['[', '(', '{']) && !lower_has(b"hxxp") {
        return Cow::Borrowed(s);
    }
    let mut out = s.to_owned();
    for (from, to) in
        [("[.]", "."), ("(.)", "."), ("{.}", "."), ("[dot]", "."), ("(dot)", "."), ("[:]", ":"), ("[://]", "://")]
    {
        out = out.replace(from, to);
    }
    for from in ["hxxp", "hXXp", "HXXP", "hxXp", "hXxp"] {
        out = out.replace(from, "http");
    }
    Cow::Owned(out)
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Parses `raw` as `want`.
pub fn parse_indicator(raw: &str, want: Want, opts: &ParseOpts) -> Result<Parsed, String> {
    let s = raw.trim().trim_matches(['"', '\'']).trim();
    if s.is_empty() {
        return Err("empty value".into());
    }
    let s = refang(s);
    let s = s.as_ref();
    match want {
        Want::Hash(kind) => parse_hash(s, kind).map(Parsed::plain),
        Want::Url => parse_url(s, opts),
        Want::Address => parse_net(s, opts).map(Parsed::plain),
        Want::Ipv4 => match parse_net(s, opts)? {
            Indicator::Net { addr: IpAddr::V6(_), .. } => Err(format!("{s:?} is IPv6, expected IPv4")),
            n => Ok(Parsed::plain(n)),
        },
        Want::Ipv6 => match parse_net(s, opts)? {
            Indicator::Net { addr: IpAddr::V4(_), .. } => Err(format!("{s:?} is IPv4, expected IPv6")),
            n => Ok(Parsed::plain(n)),
        },
        Want::Domain if looks_like_address(s) => parse_net(s, opts).map(Parsed::plain),
        Want::Domain => parse_domain(s).map(Parsed::plain),
        Want::Any => {
            if s.contains("://") {
                return parse_url(s, opts);
            }
            if is_hex(s) && matches!(s.len(), 32 | 40 | 64) {
                return parse_hash(s, None).map(Parsed::plain);
            }
            if let Some((host, port)) = s.rsplit_once(':') {
                // "evil.example:443": a domain with a port.
                let named = host.contains('.') && host.bytes().any(|c| c.is_ascii_alphabetic());
                if named && !host.contains(':') && !port.is_empty() && port.bytes().all(|c| c.is_ascii_digit()) {
                    return parse_domain(host).map(Parsed::plain);
                }
            }
            if looks_like_address(s) {
                return parse_net(s, opts).map(Parsed::plain);
            }
            if let Some((host, _)) = s.split_once('/') {
                // A URL without its scheme ("evil.example/gate.php").
                if !host.is_empty() && !host.contains(':') {
                    return parse_url(&format!("http://{s}"), opts);
                }
            }
            if is_hex(s) && s.len() >= 24 {
                return Err(format!("{} hex digits: not an md5 (32), sha1 (40) or sha256 (64)", s.len()));
            }
            parse_domain(s).map(Parsed::plain)
        }
    }
}

/// Whether `s` is written like an address or CIDR (so errors speak of addresses).
fn looks_like_address(s: &str) -> bool {
    let v4ish =
        s.bytes().all(|c| c.is_ascii_digit() || c == b'.' || c == b'/' || c == b':') && s.bytes().any(|c| c == b'.');
    // A domain never holds a colon: anything with one is an address attempt.
    let v6ish = s.contains(':');
    v4ish || v6ish
}

fn parse_hash(s: &str, kind: Option<HashKind>) -> Result<Indicator, String> {
    if !is_hex(s) {
        return Err(format!("not a hex digest ({} characters)", s.chars().count()));
    }
    let got = match s.len() {
        32 => HashKind::Md5,
        40 => HashKind::Sha1,
        64 => HashKind::Sha256,
        n => return Err(format!("{n} hex digits: not an md5 (32), sha1 (40) or sha256 (64)")),
    };
    if let Some(k) = kind.filter(|k| *k != got) {
        return Err(format!("expected {} ({} hex digits), found {} hex digits", k.name(), k.digest_len() * 2, s.len()));
    }
    let b = s.as_bytes();
    let ok = |ind: Indicator| Ok(ind);
    match got {
        HashKind::Md5 => {
            let mut h = [0u8; 16];
            if decode_hex(b, &mut h) { ok(Indicator::Md5(h)) } else { Err("not a hex digest".into()) }
        }
        HashKind::Sha1 => {
            let mut h = [0u8; 20];
            if decode_hex(b, &mut h) { ok(Indicator::Sha1(h)) } else { Err("not a hex digest".into()) }
        }
        HashKind::Sha256 => {
            let mut h = [0u8; 32];
            if decode_hex(b, &mut h) { ok(Indicator::Sha256(h)) } else { Err("not a hex digest".into()) }
        }
    }
}

/// An address, optionally with a port (`198.51.100.7:443`, `[2001:db8::1]:443`).
fn parse_addr(s: &str) -> Result<IpAddr, String> {
    if let Ok(a) = s.parse::<IpAddr>() {
        return Ok(a);
    }
    if let Some(rest) = s.strip_prefix('[') {
        if let Some((a, port)) = rest.split_once(']') {
            let port_ok = port.is_empty() || port.strip_prefix(':').is_some_and(|p| p.parse::<u16>().is_ok());
            if let (Ok(a), true) = (a.parse::<Ipv6Addr>(), port_ok) {
                return Ok(IpAddr::V6(a));
            }
        }
        return Err("invalid IPv6 address".into());
    }
    if let Some((a, port)) = s.rsplit_once(':') {
        if let Ok(a) = a.parse::<Ipv4Addr>() {
            return match port.parse::<u16>() {
                Ok(_) => Ok(IpAddr::V4(a)),
                Err(_) => Err(format!("invalid port {port:?}")),
            };
        }
        return Err("invalid IPv6 address".into());
    }
    Err("invalid IPv4 address".into())
}

/// Why an address cannot be an indicator (it would match local or broadcast traffic).
fn unroutable(a: &IpAddr) -> Option<&'static str> {
    match a {
        IpAddr::V4(v) if v.is_unspecified() => Some("unspecified"),
        IpAddr::V4(v) if v.is_loopback() => Some("loopback"),
        IpAddr::V4(v) if v.is_multicast() => Some("multicast"),
        IpAddr::V4(v) if v.is_broadcast() => Some("broadcast"),
        IpAddr::V4(v) if v.is_link_local() => Some("link-local"),
        IpAddr::V6(v) if v.is_unspecified() => Some("unspecified"),
        IpAddr::V6(v) if v.is_loopback() => Some("loopback"),
        IpAddr::V6(v) if v.is_multicast() => Some("multicast"),
        IpAddr::V6(v) if v.segments()[0] & 0xffc0 == 0xfe80 => Some("link-local"),
        _ => None,
    }
}

/// An address or CIDR; host bits of a CIDR are cleared.
fn parse_net(s: &str, opts: &ParseOpts) -> Result<Indicator, String> {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => {
            let addr: IpAddr = a.parse().map_err(|_| {
                if a.contains(':') {
                    "invalid IPv6 network address".to_owned()
                } else {
                    "invalid IPv4 network address".to_owned()
                }
            })?;
            let prefix: u8 = p.parse().map_err(|_| format!("invalid prefix length {p:?}"))?;
            let max = full_prefix(&addr);
            if prefix > max {
                return Err(format!("prefix /{prefix} is longer than /{max}"));
            }
            (addr, prefix)
        }
        None => {
            let a = parse_addr(s)?;
            (a, full_prefix(&a))
        }
    };
    // IPv4-mapped IPv6 is stored as IPv4 so both spellings match.
    let (addr, prefix) = match (addr, canonical(addr)) {
        (IpAddr::V6(_), IpAddr::V4(v4)) if prefix >= 96 => (IpAddr::V4(v4), prefix - 96),
        other => (other.0, prefix),
    };
    let (addr, min) = match addr {
        IpAddr::V4(v) => (IpAddr::V4(Ipv4Addr::from(mask4(u32::from(v), prefix))), opts.min_prefix_v4),
        IpAddr::V6(v) => (IpAddr::V6(Ipv6Addr::from(mask6(u128::from(v), prefix))), opts.min_prefix_v6),
    };
    if prefix < min {
        return Err(format!("prefix /{prefix} is too broad (shortest accepted: /{min})"));
    }
    if let Some(why) = unroutable(&addr) {
        return Err(format!("{addr} is a {why} address, not an indicator"));
    }
    Ok(Indicator::Net { addr, prefix })
}

/// A domain name: lower case, at least two labels, letters/digits/`-`/`_`.
fn parse_domain(s: &str) -> Result<Indicator, String> {
    let d = s.strip_prefix("*.").unwrap_or(s).trim_start_matches('.');
    let d = d.strip_suffix('.').unwrap_or(d);
    if d.is_empty() {
        return Err("empty domain".into());
    }
    if !d.is_ascii() {
        return Err("non-ASCII domain (write it in its xn-- form)".into());
    }
    if d.len() > DOMAIN_MAX {
        return Err(format!("domain of {} bytes is longer than {DOMAIN_MAX}", d.len()));
    }
    if let Some(c) = d.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))) {
        return Err(format!("not an indicator: character {c:?} is not allowed in a domain"));
    }
    let labels = d.split('.').count();
    if labels < 2 {
        return Err(
            "not an indicator: expected an IP address, CIDR, domain (with a dot) or md5/sha1/sha256 hash".into()
        );
    }
    if d.split('.').any(str::is_empty) {
        return Err("empty label in domain".into());
    }
    if d.split('.').any(|l| l.len() > 63) {
        return Err("domain label longer than 63 bytes".into());
    }
    if d.split('.').all(|l| l.bytes().all(|c| c.is_ascii_digit())) {
        return Err("invalid IPv4 address".into());
    }
    if d.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|c| c.is_ascii_digit())) {
        return Err("numeric top-level domain".into());
    }
    Ok(Indicator::Domain(d.to_ascii_lowercase()))
}

/// The host of a URL (`scheme://user@host:port/path`).
fn parse_url(s: &str, opts: &ParseOpts) -> Result<Parsed, String> {
    let rest = s.split_once("://").map_or(s, |(_, r)| r);
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if host.starts_with('[') {
        host
    } else {
        match host.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|c| c.is_ascii_digit()) => h,
            _ => host,
        }
    };
    if host.is_empty() {
        return Err("URL without a host".into());
    }
    if looks_like_address(host) {
        let h = host.trim_start_matches('[');
        let h = h.split(']').next().unwrap_or(h);
        return parse_net(h, opts).map(Parsed::plain);
    }
    let indicator = parse_domain(host)?;
    let from_url_path = !path.trim_start_matches('/').is_empty();
    Ok(Parsed { indicator, from_url_path })
}

/// Decodes standard or URL-safe base64 (padding optional).
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    fn val(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        }))
    }
    let b = s.trim_end_matches('=').as_bytes();
    if b.len() % 4 == 1 || s.len() - b.len() > 2 {
        return None;
    }
    let mut out = Vec::with_capacity(b.len() * 3 / 4);
    for chunk in b.chunks(4) {
        let mut acc = 0u32;
        for (i, c) in chunk.iter().enumerate() {
            acc |= val(*c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(s: &str) -> Result<Indicator, String> {
        parse_indicator(s, Want::Any, &ParseOpts::default()).map(|p| p.indicator)
    }

    fn net(s: &str, prefix: u8) -> Indicator {
        Indicator::Net { addr: s.parse().expect("addr"), prefix }
    }

    #[test]
    fn values_are_recognised_by_their_shape() {
        assert_eq!(any("198.51.100.7"), Ok(net("198.51.100.7", 32)));
        assert_eq!(any(" 198.51.100.7:443 "), Ok(net("198.51.100.7", 32)));
        assert_eq!(any("198.51.100.77/24"), Ok(net("198.51.100.0", 24)));
        assert_eq!(any("2001:db8::1"), Ok(net("2001:db8::1", 128)));
        assert_eq!(any("[2001:db8::1]:8443"), Ok(net("2001:db8::1", 128)));
        assert_eq!(any("2001:db8:5::/48"), Ok(net("2001:db8:5::", 48)));
        assert_eq!(any("::ffff:203.0.113.9"), Ok(net("203.0.113.9", 32)));
        assert_eq!(any("::ffff:203.0.113.0/120"), Ok(net("203.0.113.0", 24)));
        assert_eq!(any("*.Evil.Example."), Ok(Indicator::Domain("evil.example".into())));
        assert_eq!(any("evil.example:8443"), Ok(Indicator::Domain("evil.example".into())));
        assert_eq!(any("evil[.]example"), Ok(Indicator::Domain("evil.example".into())));
        assert_eq!(any("hxxps://cdn.evil.example:8080/a/b?c"), Ok(Indicator::Domain("cdn.evil.example".into())));
        assert_eq!(any("http://203.0.113.9/x"), Ok(net("203.0.113.9", 32)));
        assert_eq!(any(&"A".repeat(32)), Ok(Indicator::Md5([0xaa; 16])));
        assert_eq!(any(&"0".repeat(40)), Ok(Indicator::Sha1([0; 20])));
        assert_eq!(any(&"f".repeat(64)), Ok(Indicator::Sha256([0xff; 32])));
    }

    #[test]
    fn url_hosts_with_a_path_are_marked_weaker() {
        let o = ParseOpts::default();
        let p = parse_indicator("https://shared.example/u/1/payload.exe", Want::Any, &o).expect("url");
        assert!(p.from_url_path);
        let p = parse_indicator("https://c2.example/", Want::Url, &o).expect("url");
        assert!(!p.from_url_path);
        let p = parse_indicator("shared.example/x.php", Want::Any, &o).expect("schemeless url");
        assert!(p.from_url_path);
    }

    #[test]
    fn bad_values_say_what_is_wrong() {
        let cases = [
            ("999.1.1.1", "invalid IPv4"),
            ("1.2.3", "invalid IPv4"),
            ("198.51.100.0/40", "longer than /32"),
            ("2001:db8::/129", "longer than /128"),
            ("10.0.0.0/4", "too broad"),
            ("0.0.0.0", "unspecified"),
            ("127.0.0.1", "loopback"),
            ("224.0.0.1", "multicast"),
            ("255.255.255.255", "broadcast"),
            ("fe80::1", "link-local"),
            ("2001:db8::zz", "invalid IPv6"),
            ("198.51.100.7:99999", "invalid port"),
            ("garbage", "not an indicator"),
            ("bad domain.example", "not allowed"),
            ("évil.example", "non-ASCII"),
            ("a..example", "empty label"),
            (&"abc".repeat(11), "hex digits"),
            ("", "empty"),
        ];
        for (input, want) in cases {
            let e = any(input).expect_err(input);
            assert!(e.contains(want), "{input:?}: {e}");
        }
        let e =
            parse_indicator(&"a".repeat(64), Want::Hash(Some(HashKind::Md5)), &ParseOpts::default()).expect_err("kind");
        assert!(e.contains("expected md5"), "{e}");
        let e = parse_indicator("2001:db8::1", Want::Ipv4, &ParseOpts::default()).expect_err("family");
        assert!(e.contains("expected IPv4"), "{e}");
        let long = format!("{}.example", "a".repeat(64));
        assert!(any(&long).expect_err("label").contains("63"));
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(base64_decode("ZXZpbC5leGFtcGxl").as_deref(), Some(&b"evil.example"[..]));
        assert_eq!(base64_decode("YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("YQ").as_deref(), Some(&b"a"[..]));
        assert_eq!(base64_decode("Y").as_deref(), None);
        assert_eq!(base64_decode("Y!==").as_deref(), None);
        assert_eq!(base64_decode("").as_deref(), Some(&b""[..]));
    }
}
