//! Address and port variables (`$HOME_NET`, `$HTTP_PORTS`, ...) and the header's address/port
//! expressions, compiled into [`AddrSet`] / [`PortSet`]. Negation is flattened the way Suricata
//! does it: each leaf lands in the allow or the deny list depending on how many `!` enclose it.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::super::ir::{AddrSet, PortSet};
use super::error::{SyntaxError, VarError};

/// One leaf of an address expression with its polarity (`true` = negated).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddrItem {
    /// `any`
    Any,
    /// A network (already masked) and its prefix length.
    Net(IpAddr, u8),
}

/// One leaf of a port expression.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PortItem {
    /// `any`
    Any,
    /// Inclusive range.
    Range(u16, u16),
}

/// Address and port groups, as in suricata.yaml's `vars:` (already resolved to leaves).
#[derive(Clone, Debug, Default)]
pub struct RuleVars {
    addrs: HashMap<String, Vec<(AddrItem, bool)>>,
    ports: HashMap<String, Vec<(PortItem, bool)>>,
}

const DEFAULT_ADDRS: &[(&str, &str)] = &[
    ("HOME_NET", "[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]"),
    ("EXTERNAL_NET", "!$HOME_NET"),
    ("HTTP_SERVERS", "$HOME_NET"),
    ("SMTP_SERVERS", "$HOME_NET"),
    ("SQL_SERVERS", "$HOME_NET"),
    ("DNS_SERVERS", "$HOME_NET"),
    ("TELNET_SERVERS", "$HOME_NET"),
    ("AIM_SERVERS", "$EXTERNAL_NET"),
    ("DC_SERVERS", "$HOME_NET"),
    ("DNP3_SERVER", "$HOME_NET"),
    ("DNP3_CLIENT", "$HOME_NET"),
    ("MODBUS_CLIENT", "$HOME_NET"),
    ("MODBUS_SERVER", "$HOME_NET"),
    ("ENIP_CLIENT", "$HOME_NET"),
    ("ENIP_SERVER", "$HOME_NET"),
];

const DEFAULT_PORTS: &[(&str, &str)] = &[
    ("HTTP_PORTS", "80"),
    ("SHELLCODE_PORTS", "!80"),
    ("ORACLE_PORTS", "1521"),
    ("SSH_PORTS", "22"),
    ("DNP3_PORTS", "20000"),
    ("MODBUS_PORTS", "502"),
    ("FILE_DATA_PORTS", "[$HTTP_PORTS,110,143]"),
    ("FTP_PORTS", "21"),
    ("GENEVE_PORTS", "6081"),
    ("VXLAN_PORTS", "4789"),
    ("TEREDO_PORTS", "3544"),
];

impl RuleVars {
    /// Suricata 7's default suricata.yaml vars: HOME_NET `[192.168.0.0/16,10.0.0.0/8,172.16.0.0/12]`,
    /// EXTERNAL_NET `!$HOME_NET`, the *_SERVERS/*_CLIENT groups `$HOME_NET` (AIM_SERVERS
    /// `$EXTERNAL_NET`), and the default port groups (HTTP_PORTS 80, ...).
    pub fn suricata_default() -> Self {
        let mut v = RuleVars::default();
        for (name, expr) in DEFAULT_ADDRS {
            // The table is static and valid; an error here would only drop that variable.
            let _ = v.set_address(name, expr);
        }
        for (name, expr) in DEFAULT_PORTS {
            let _ = v.set_port(name, expr);
        }
        v
    }

    /// Defines (or redefines) an address group; `name` without `$`. Variables it references must
    /// already be defined.
    pub fn set_address(&mut self, name: &str, expr: &str) -> Result<(), VarError> {
        let mut out = Vec::new();
        parse_addr(expr, self, false, &mut out).map_err(|source| VarError { name: name.to_string(), source })?;
        self.addrs.insert(name.trim_start_matches('$').to_string(), out);
        Ok(())
    }

    /// Defines (or redefines) a port group; `name` without `$`.
    pub fn set_port(&mut self, name: &str, expr: &str) -> Result<(), VarError> {
        let mut out = Vec::new();
        parse_port(expr, self, false, &mut out).map_err(|source| VarError { name: name.to_string(), source })?;
        self.ports.insert(name.trim_start_matches('$').to_string(), out);
        Ok(())
    }

    /// Compiles a header address expression.
    pub(crate) fn address_set(&self, expr: &str) -> Result<AddrSet, SyntaxError> {
        let mut items = Vec::new();
        parse_addr(expr, self, false, &mut items)?;
        let mut set = AddrSet::default();
        let mut any = false;
        for (item, neg) in items {
            match (item, neg) {
                (AddrItem::Any, false) => any = true,
                (AddrItem::Any, true) => return Err(bad_addr(format!("{expr} negates any"))),
                (AddrItem::Net(ip, len), false) => set.allow.push((ip, len)),
                (AddrItem::Net(ip, len), true) => set.deny.push((ip, len)),
            }
        }
        if any {
            set.allow.clear();
        }
        Ok(set)
    }

    /// Compiles a header port expression.
    pub(crate) fn port_set(&self, expr: &str) -> Result<PortSet, SyntaxError> {
        let mut items = Vec::new();
        parse_port(expr, self, false, &mut items)?;
        let mut set = PortSet::default();
        let mut any = false;
        for (item, neg) in items {
            match (item, neg) {
                (PortItem::Any, false) => any = true,
                (PortItem::Any, true) => return Err(bad_port(format!("{expr} negates any"))),
                (PortItem::Range(a, b), false) => set.allow.push((a, b)),
                (PortItem::Range(a, b), true) => set.deny.push((a, b)),
            }
        }
        if any {
            set.allow.clear();
        }
        Ok(set)
    }
}

fn bad_addr(detail: String) -> SyntaxError {
    SyntaxError::BadHeader { detail: format!("address: {detail}") }
}

fn bad_port(detail: String) -> SyntaxError {
    SyntaxError::BadHeader { detail: format!("port: {detail}") }
}

/// Splits the inside of `[...]` at top-level commas.
fn split_list(inner: &str) -> Result<Vec<&str>, SyntaxError> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, b) in inner.bytes().enumerate() {
        match b {
            b'[' => depth += 1,
            b']' => {
                depth -= 1;
                if depth < 0 {
                    return Err(SyntaxError::BadHeader { detail: format!("unbalanced ']' in {inner}") });
                }
            }
            b',' if depth == 0 => {
                parts.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    if depth != 0 {
        return Err(SyntaxError::BadHeader { detail: format!("unbalanced '[' in {inner}") });
    }
    parts.push(inner[start..].trim());
    if parts.iter().any(|p| p.is_empty()) {
        return Err(SyntaxError::BadHeader { detail: format!("empty list element in [{inner}]") });
    }
    Ok(parts)
}

/// Looks up a variable's resolved leaves.
type VarFn<'a, 'v, T> = &'a dyn Fn(&str) -> Option<&'v [(T, bool)]>;
/// Parses one leaf (`any`, an address, a port range) into one or more items.
type LeafFn<'a, T> = &'a dyn Fn(&str, &mut Vec<T>) -> Result<(), SyntaxError>;

/// Common structure of address and port expressions: `!x`, `[a,b]`, `$VAR`, leaf.
fn parse_expr<'v, T: Copy + 'v>(
    expr: &str,
    neg: bool,
    out: &mut Vec<(T, bool)>,
    var: VarFn<'_, 'v, T>,
    leaf: LeafFn<'_, T>,
) -> Result<(), SyntaxError> {
    let e = expr.trim();
    if let Some(rest) = e.strip_prefix('!') {
        return parse_expr(rest, !neg, out, var, leaf);
    }
    if let Some(inner) = e.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| SyntaxError::BadHeader { detail: format!("unterminated list {e}") })?;
        for part in split_list(inner)? {
            parse_expr(part, neg, out, var, leaf)?;
        }
        return Ok(());
    }
    if let Some(name) = e.strip_prefix('$') {
        let items = var(name).ok_or_else(|| SyntaxError::UnknownVariable { name: name.to_string() })?;
        out.extend(items.iter().map(|&(item, n)| (item, n != neg)));
        return Ok(());
    }
    if e.is_empty() {
        return Err(SyntaxError::BadHeader { detail: "empty address or port".into() });
    }
    let mut leaves = Vec::new();
    leaf(e, &mut leaves)?;
    out.extend(leaves.into_iter().map(|l| (l, neg)));
    Ok(())
}

fn parse_addr(expr: &str, vars: &RuleVars, neg: bool, out: &mut Vec<(AddrItem, bool)>) -> Result<(), SyntaxError> {
    parse_expr(expr, neg, out, &|name| vars.addrs.get(name).map(Vec::as_slice), &addr_leaf)
}

fn parse_port(expr: &str, vars: &RuleVars, neg: bool, out: &mut Vec<(PortItem, bool)>) -> Result<(), SyntaxError> {
    parse_expr(expr, neg, out, &|name| vars.ports.get(name).map(Vec::as_slice), &port_leaf)
}

/// `any`, `a.b.c.d`, `a.b.c.d/len`, `a.b.c.d/mask`, `v6`, `v6/len`, `a.b.c.d-e.f.g.h`.
fn addr_leaf(s: &str, out: &mut Vec<AddrItem>) -> Result<(), SyntaxError> {
    if s.eq_ignore_ascii_case("any") {
        out.push(AddrItem::Any);
        return Ok(());
    }
    let bad = || bad_addr(format!("invalid address {s}"));
    if let Some((ip, len)) = s.split_once('/') {
        let ip: IpAddr = ip.trim().parse().map_err(|_| bad())?;
        let len = len.trim();
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len: u8 = match len.parse::<u8>() {
            Ok(l) if l <= max => l,
            Ok(_) => return Err(bad()),
            Err(_) => {
                let mask: Ipv4Addr = len.parse().map_err(|_| bad())?;
                let m = u32::from(mask);
                if !ip.is_ipv4() || m.leading_ones() + m.trailing_zeros() != 32 {
                    return Err(bad());
                }
                m.leading_ones() as u8
            }
        };
        out.push(AddrItem::Net(mask_ip(ip, len), len));
        return Ok(());
    }
    if let Some((a, b)) = s.split_once('-') {
        let a: Ipv4Addr = a.trim().parse().map_err(|_| bad())?;
        let b: Ipv4Addr = b.trim().parse().map_err(|_| bad())?;
        let (mut lo, hi) = (u64::from(u32::from(a)), u64::from(u32::from(b)));
        if lo > hi {
            return Err(bad());
        }
        while lo <= hi {
            let mut size = if lo == 0 { 32 } else { lo.trailing_zeros().min(32) };
            while lo + (1u64 << size) - 1 > hi {
                size -= 1;
            }
            out.push(AddrItem::Net(IpAddr::V4(Ipv4Addr::from(lo as u32)), (32 - size) as u8));
            lo += 1u64 << size;
        }
        return Ok(());
    }
    let ip: IpAddr = s.parse().map_err(|_| bad())?;
    let len = if ip.is_ipv4() { 32 } else { 128 };
    out.push(AddrItem::Net(ip, len));
    Ok(())
}

/// Clears the host bits of `ip` beyond `len`.
fn mask_ip(ip: IpAddr, len: u8) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let m = if len == 0 { 0 } else { u32::MAX << (32 - u32::from(len)) };
            IpAddr::V4(Ipv4Addr::from(u32::from(v4) & m))
        }
        IpAddr::V6(v6) => {
            let m = if len == 0 { 0 } else { u128::MAX << (128 - u32::from(len)) };
            IpAddr::V6(Ipv6Addr::from(u128::from(v6) & m))
        }
    }
}

/// `any`, `n`, `a:b`, `a:`, `:b`.
fn port_leaf(s: &str, out: &mut Vec<PortItem>) -> Result<(), SyntaxError> {
    if s.eq_ignore_ascii_case("any") {
        out.push(PortItem::Any);
        return Ok(());
    }
    let num = |t: &str| t.trim().parse::<u16>().map_err(|_| bad_port(format!("invalid port {s}")));
    let item = match s.split_once(':') {
        Some((a, b)) => {
            let lo = if a.trim().is_empty() { 0 } else { num(a)? };
            let hi = if b.trim().is_empty() { u16::MAX } else { num(b)? };
            if lo > hi {
                return Err(bad_port(format!("inverted range {s}")));
            }
            PortItem::Range(lo, hi)
        }
        None => {
            let p = num(s)?;
            PortItem::Range(p, p)
        }
    };
    out.push(item);
    Ok(())
}
