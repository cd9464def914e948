//! Small value parsers for non-content keywords: numeric comparisons, `flow`, `flags`,
//! `threshold` / `detection_filter`, `stream_size`, `ip_proto`.

use super::super::ir::{FlowOpts, NumCmp, TcpFlagsTest, Threshold, ThresholdKind, Track};
use super::error::{SyntaxError, bad};

/// Parses `N`, `=N`, `<N`, `>N`, `<=N`, `>=N`, `!N`, `A<>B`, `A-B` (Suricata's uint syntax; both
/// range forms are exclusive). Values above `max` are rejected.
pub(crate) fn num_cmp(keyword: &str, v: &str, max: u64) -> Result<NumCmp, SyntaxError> {
    let s = v.trim();
    let num = |t: &str| -> Result<u64, SyntaxError> {
        let t = t.trim();
        let n = match t.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16).ok(),
            None => t.parse::<u64>().ok(),
        };
        match n {
            Some(n) if n <= max => Ok(n),
            _ => Err(bad(keyword, format!("invalid number '{t}' in {s}"))),
        }
    };
    if let Some((a, b)) = s.split_once("<>").or_else(|| s.split_once('-')) {
        let (a, b) = (num(a)?, num(b)?);
        if a >= b {
            return Err(bad(keyword, format!("empty range {s}")));
        }
        return Ok(NumCmp::Between(a, b));
    }
    let cmp = if let Some(r) = s.strip_prefix("<=") {
        NumCmp::Le(num(r)?)
    } else if let Some(r) = s.strip_prefix(">=") {
        NumCmp::Ge(num(r)?)
    } else if let Some(r) = s.strip_prefix("!=") {
        NumCmp::Ne(num(r)?)
    } else if let Some(r) = s.strip_prefix('<') {
        NumCmp::Lt(num(r)?)
    } else if let Some(r) = s.strip_prefix('>') {
        NumCmp::Gt(num(r)?)
    } else if let Some(r) = s.strip_prefix('!') {
        NumCmp::Ne(num(r)?)
    } else if let Some(r) = s.strip_prefix('=') {
        NumCmp::Eq(num(r)?)
    } else {
        NumCmp::Eq(num(s)?)
    };
    Ok(cmp)
}

/// Parses a plain unsigned number of at most `max`.
pub(crate) fn number(keyword: &str, v: &str, max: u64) -> Result<u64, SyntaxError> {
    let t = v.trim();
    let n = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => t.parse::<u64>().ok(),
    };
    n.filter(|&n| n <= max).ok_or_else(|| bad(keyword, format!("invalid number '{t}'")))
}

/// Parses `flow:` options into `f` (several `flow` keywords accumulate, as in Suricata).
pub(crate) fn flow(v: &str, f: &mut FlowOpts) -> Result<(), SyntaxError> {
    for opt in v.split(',') {
        let o = opt.trim().to_ascii_lowercase();
        let (slot, val) = match o.as_str() {
            "established" => (&mut f.established, true),
            "not_established" => (&mut f.established, false),
            "to_server" | "from_client" => (&mut f.to_server, true),
            "to_client" | "from_server" => (&mut f.to_server, false),
            "stateless" => {
                f.stateless = true;
                continue;
            }
            "only_stream" => {
                f.only_stream = true;
                continue;
            }
            "no_stream" => {
                f.no_stream = true;
                continue;
            }
            _ => return Err(bad("flow", format!("unknown option '{}'", opt.trim()))),
        };
        if slot.is_some_and(|cur| cur != val) {
            return Err(bad("flow", format!("conflicting option '{o}'")));
        }
        *slot = Some(val);
    }
    if f.only_stream && f.no_stream {
        return Err(bad("flow", "only_stream and no_stream"));
    }
    Ok(())
}

fn flag_bit(c: char) -> Option<u8> {
    Some(match c.to_ascii_uppercase() {
        'F' => 0x01,
        'S' => 0x02,
        'R' => 0x04,
        'P' => 0x08,
        'A' => 0x10,
        'U' => 0x20,
        'E' | '2' => 0x40,
        'C' | '1' => 0x80,
        _ => return None,
    })
}

/// Parses `flags:[+*!]FLAGS[,IGNORE]`; the modifier is stored as its ASCII byte (0 = exact).
pub(crate) fn tcp_flags(v: &str) -> Result<TcpFlagsTest, SyntaxError> {
    let (main, ignore) = match v.split_once(',') {
        Some((m, i)) => (m.trim(), Some(i.trim())),
        None => (v.trim(), None),
    };
    let mut t = TcpFlagsTest { flags: 0, ignore: 0, modifier: 0 };
    for c in main.chars() {
        match c {
            '+' | '*' | '!' => {
                if t.modifier != 0 {
                    return Err(bad("flags", format!("two modifiers in {v}")));
                }
                t.modifier = c as u8;
            }
            '0' => {}
            _ => t.flags |= flag_bit(c).ok_or_else(|| bad("flags", format!("unknown flag '{c}'")))?,
        }
    }
    if let Some(ig) = ignore {
        for c in ig.chars() {
            t.ignore |= flag_bit(c).ok_or_else(|| bad("flags", format!("unknown ignore flag '{c}'")))?;
        }
    }
    Ok(t)
}

/// Parses `threshold:` (`kind` None) or `detection_filter:` options.
pub(crate) fn threshold(keyword: &str, v: &str, detection_filter: bool) -> Result<Threshold, SyntaxError> {
    let mut kind = if detection_filter { Some(ThresholdKind::DetectionFilter) } else { None };
    let (mut track, mut count, mut seconds) = (None, None, None);
    for part in v.split(',') {
        let part = part.trim();
        let (k, val) = part.split_once(char::is_whitespace).map(|(k, v)| (k, v.trim())).unwrap_or((part, ""));
        match k {
            "type" if !detection_filter => {
                kind = Some(match val {
                    "limit" => ThresholdKind::Limit,
                    "threshold" => ThresholdKind::Threshold,
                    "both" => ThresholdKind::Both,
                    _ => return Err(bad(keyword, format!("unknown type '{val}'"))),
                })
            }
            "track" => {
                track = Some(match val {
                    "by_src" => Track::BySrc,
                    "by_dst" => Track::ByDst,
                    "by_rule" => Track::ByRule,
                    "by_both" => Track::ByBoth,
                    "by_flow" => Track::ByFlow,
                    _ => return Err(bad(keyword, format!("unknown track '{val}'"))),
                })
            }
            "count" => count = Some(number(keyword, val, u64::from(u32::MAX))? as u32),
            "seconds" => seconds = Some(number(keyword, val, u64::from(u32::MAX))? as u32),
            _ => return Err(bad(keyword, format!("unknown option '{part}'"))),
        }
    }
    match (kind, track, count, seconds) {
        (Some(kind), Some(track), Some(count), Some(seconds)) => Ok(Threshold { kind, track, count, seconds }),
        _ => Err(bad(keyword, "needs type (threshold only), track, count and seconds")),
    }
}

/// Parses `stream_size:<server|client|both|either>,<op>,<n>`.
pub(crate) fn stream_size(v: &str) -> Result<(u8, NumCmp), SyntaxError> {
    let parts: Vec<&str> = v.split(',').map(str::trim).collect();
    let [side, op, n] = parts.as_slice() else {
        return Err(bad("stream_size", format!("expected side,op,value in {v}")));
    };
    let side = match *side {
        "server" => 0,
        "client" => 1,
        "both" => 2,
        "either" => 3,
        _ => return Err(bad("stream_size", format!("unknown side '{side}'"))),
    };
    let n = number("stream_size", n, u64::from(u32::MAX))?;
    let cmp = match *op {
        "<" => NumCmp::Lt(n),
        ">" => NumCmp::Gt(n),
        "=" => NumCmp::Eq(n),
        "!=" => NumCmp::Ne(n),
        "<=" => NumCmp::Le(n),
        ">=" => NumCmp::Ge(n),
        _ => return Err(bad("stream_size", format!("unknown operator '{op}'"))),
    };
    Ok((side, cmp))
}

/// Parses `ip_proto:[!<>]N|name`.
pub(crate) fn ip_proto(v: &str) -> Result<NumCmp, SyntaxError> {
    let s = v.trim();
    let (prefix, name) = match s.find(|c: char| c.is_ascii_alphanumeric()) {
        Some(i) => s.split_at(i),
        None => return Err(bad("ip_proto", format!("invalid value {s}"))),
    };
    let n: u64 = match name.to_ascii_lowercase().as_str() {
        "ip" | "hopopt" => 0,
        "icmp" => 1,
        "igmp" => 2,
        "ipip" | "ipv4" | "ip-in-ip" => 4,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "ipv6-route" => 43,
        "ipv6-frag" => 44,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "ipv6-nonxt" => 59,
        "ipv6-opts" => 60,
        "pim" => 103,
        "sctp" => 132,
        other => number("ip_proto", other, 255)?,
    };
    Ok(match prefix.trim() {
        "" => NumCmp::Eq(n),
        "!" => NumCmp::Ne(n),
        "<" => NumCmp::Lt(n),
        ">" => NumCmp::Gt(n),
        p => return Err(bad("ip_proto", format!("unknown operator '{p}'"))),
    })
}
