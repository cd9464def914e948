//! `content` decoding (`|41 42|` hex, `\"` `\;` `\\` `\:` escapes, `!` negation) and the content
//! modifiers (`nocase`, `depth`, `offset`, `distance`, `within`, `startswith`, `endswith`,
//! `fast_pattern`, `rawbytes`).

use super::super::ir::{Content, Value, ValueI};
use super::error::{SyntaxError, absurd, bad};
use super::lexer::strip_quotes;

/// Largest offset/depth/distance/within Suricata accepts.
const MAX_POS: i64 = 65535;

/// Decodes a `content` value into a fresh [`Content`] (no modifiers yet).
pub(crate) fn parse_content(raw: &str) -> Result<Content, SyntaxError> {
    let v = raw.trim();
    let (negated, v) = match v.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, v),
    };
    let pattern = decode(strip_quotes(v)?)?;
    if pattern.is_empty() {
        return Err(bad("content", "empty content"));
    }
    Ok(Content {
        pattern,
        negated,
        nocase: false,
        offset: None,
        depth: None,
        distance: None,
        within: None,
        startswith: false,
        endswith: false,
        fast_pattern: false,
        fast_pattern_only: false,
        fast_pattern_chop: None,
    })
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes the inside of a content's quotes.
pub(crate) fn decode(s: &str) -> Result<Vec<u8>, SyntaxError> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    let mut in_hex = false;
    let mut high: Option<u8> = None;
    while i < b.len() {
        let c = b[i];
        if in_hex {
            match c {
                b'|' => {
                    if high.is_some() {
                        return Err(SyntaxError::BadHex { detail: format!("odd number of hex digits in {s}") });
                    }
                    in_hex = false;
                }
                b' ' | b'\t' => {
                    if high.is_some() {
                        return Err(SyntaxError::BadHex { detail: format!("split hex byte in {s}") });
                    }
                }
                _ => {
                    let v = hex_val(c).ok_or_else(|| SyntaxError::BadHex {
                        detail: format!("'{}' is not a hex digit in {s}", c as char),
                    })?;
                    match high.take() {
                        Some(h) => out.push(h << 4 | v),
                        None => high = Some(v),
                    }
                }
            }
        } else {
            match c {
                b'|' => in_hex = true,
                b'\\' => {
                    i += 1;
                    match b.get(i) {
                        Some(&e @ (b'"' | b';' | b'\\' | b':')) => out.push(e),
                        Some(&e) => {
                            return Err(bad("content", format!("'\\{}' is not a valid escape", e as char)));
                        }
                        None => return Err(bad("content", "trailing backslash")),
                    }
                }
                _ => out.push(c),
            }
        }
        i += 1;
    }
    if in_hex {
        return Err(SyntaxError::BadHex { detail: format!("unterminated '|' in {s}") });
    }
    Ok(out)
}

/// Looks up a `byte_extract` variable by name.
pub(crate) type VarLookup<'a> = &'a dyn Fn(&str) -> Option<u8>;

/// Parses a signed option value: a literal or a byte_extract variable name.
fn value_i(keyword: &str, v: &str, vars: VarLookup<'_>) -> Result<Result<i64, u8>, SyntaxError> {
    let v = v.trim();
    if let Ok(n) = v.parse::<i64>() {
        return Ok(Ok(n));
    }
    match vars(v) {
        Some(slot) => Ok(Err(slot)),
        None => Err(bad(keyword, format!("'{v}' is neither a number nor a byte_extract variable"))),
    }
}

fn need<'v>(keyword: &str, value: Option<&'v str>) -> Result<&'v str, SyntaxError> {
    value.ok_or_else(|| bad(keyword, "needs a value"))
}

fn unsigned(keyword: &str, v: &str, vars: VarLookup<'_>) -> Result<(Value, Option<i64>), SyntaxError> {
    match value_i(keyword, v, vars)? {
        Ok(n) if !(0..=MAX_POS).contains(&n) => Err(absurd(keyword, v.trim())),
        Ok(n) => Ok((Value::Lit(n as u64), Some(n))),
        Err(slot) => Ok((Value::Var(slot), None)),
    }
}

/// Is `keyword` a content modifier handled by [`apply_modifier`]?
pub(crate) fn is_modifier(keyword: &str) -> bool {
    matches!(
        keyword,
        "nocase" | "depth" | "offset" | "distance" | "within" | "startswith" | "endswith" | "fast_pattern" | "rawbytes"
    )
}

/// Applies a content modifier to the rule's most recent content.
pub(crate) fn apply_modifier(
    c: &mut Content,
    keyword: &str,
    value: Option<&str>,
    vars: VarLookup<'_>,
) -> Result<(), SyntaxError> {
    let len = c.pattern.len() as i64;
    let absolute_set = c.offset.is_some() || c.depth.is_some();
    let relative_set = c.distance.is_some() || c.within.is_some();
    match keyword {
        "nocase" => {
            if c.nocase {
                return Err(bad(keyword, "given twice"));
            }
            c.nocase = true;
        }
        "rawbytes" => {}
        "depth" | "offset" => {
            let v = need(keyword, value)?;
            if relative_set {
                return Err(bad(keyword, "cannot be combined with distance/within"));
            }
            if c.startswith {
                return Err(bad(keyword, "cannot be combined with startswith"));
            }
            let (val, lit) = unsigned(keyword, v, vars)?;
            if keyword == "depth" {
                if c.depth.is_some() {
                    return Err(bad(keyword, "given twice"));
                }
                if lit.is_some_and(|n| n < len) {
                    return Err(absurd(keyword, format!("{v} shorter than the content ({len} bytes)")));
                }
                c.depth = Some(val);
            } else {
                if c.offset.is_some() {
                    return Err(bad(keyword, "given twice"));
                }
                c.offset = Some(val);
            }
        }
        "distance" => {
            let v = need(keyword, value)?;
            if absolute_set {
                return Err(bad(keyword, "cannot be combined with offset/depth"));
            }
            if c.distance.is_some() {
                return Err(bad(keyword, "given twice"));
            }
            c.distance = Some(match value_i(keyword, v, vars)? {
                Ok(n) if n.abs() > MAX_POS => return Err(absurd(keyword, v)),
                Ok(n) => ValueI::Lit(n),
                Err(slot) => ValueI::Var(slot),
            });
        }
        "within" => {
            let v = need(keyword, value)?;
            if absolute_set {
                return Err(bad(keyword, "cannot be combined with offset/depth"));
            }
            if c.within.is_some() {
                return Err(bad(keyword, "given twice"));
            }
            let (val, lit) = unsigned(keyword, v, vars)?;
            if lit.is_some_and(|n| n < len) {
                return Err(absurd(keyword, format!("{v} shorter than the content ({len} bytes)")));
            }
            c.within = Some(val);
        }
        "startswith" => {
            if absolute_set || relative_set {
                return Err(bad(keyword, "cannot be combined with offset/depth/distance/within"));
            }
            c.startswith = true;
            c.offset = Some(Value::Lit(0));
            c.depth = Some(Value::Lit(len as u64));
        }
        "endswith" => c.endswith = true,
        "fast_pattern" => {
            if c.fast_pattern {
                return Err(bad(keyword, "given twice"));
            }
            c.fast_pattern = true;
            match value.map(str::trim) {
                None => {}
                Some("only") => {
                    if c.negated {
                        return Err(bad(keyword, "fast_pattern:only on a negated content"));
                    }
                    c.fast_pattern_only = true;
                }
                Some(v) => {
                    let (o, l) = v.split_once(',').ok_or_else(|| bad(keyword, format!("invalid value {v}")))?;
                    let o: u16 = o.trim().parse().map_err(|_| bad(keyword, format!("invalid offset in {v}")))?;
                    let l: u16 = l.trim().parse().map_err(|_| bad(keyword, format!("invalid length in {v}")))?;
                    if l == 0 || i64::from(o) + i64::from(l) > len {
                        return Err(bad(keyword, format!("{v} outside the {len}-byte content")));
                    }
                    c.fast_pattern_chop = Some((o, l));
                }
            }
        }
        _ => return Err(bad(keyword, "not a content modifier")),
    }
    if matches!(keyword, "nocase" | "rawbytes" | "endswith" | "startswith" | "fast_pattern") {
        return Ok(());
    }
    if value.is_none() {
        return Err(bad(keyword, "needs a value"));
    }
    Ok(())
}
