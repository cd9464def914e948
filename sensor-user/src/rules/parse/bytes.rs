//! `byte_test`, `byte_jump`, `byte_extract` and `isdataat` option parsers.

use super::super::ir::{ByteOp, ByteRead, Element, NumBase, Value, ValueI};
use super::content::VarLookup;
use super::error::{RuleIssue, SyntaxError, bad, unsupported};
use super::numeric::number;

fn signed_or_var(keyword: &str, v: &str, vars: VarLookup<'_>) -> Result<ValueI, SyntaxError> {
    let v = v.trim();
    if let Ok(n) = v.parse::<i64>() {
        return Ok(ValueI::Lit(n));
    }
    vars(v).map(ValueI::Var).ok_or_else(|| bad(keyword, format!("'{v}' is neither a number nor a variable")))
}

fn unsigned_or_var(keyword: &str, v: &str, vars: VarLookup<'_>) -> Result<Value, SyntaxError> {
    let v = v.trim();
    if let Ok(n) = number(keyword, v, u64::MAX) {
        return Ok(Value::Lit(n));
    }
    vars(v).map(Value::Var).ok_or_else(|| bad(keyword, format!("'{v}' is neither a number nor a variable")))
}

/// Options shared by the byte_* keywords, parsed from the trailing comma-separated items.
struct Common {
    read: ByteRead,
    multiplier: u64,
    align: u8,
    from_beginning: bool,
    from_end: bool,
    post_offset: i64,
}

/// Parses the trailing options; `allowed` decides which keyword-specific ones are legal.
fn common(keyword: &str, nbytes: &str, offset: ValueI, opts: &[&str]) -> Result<Common, RuleIssue> {
    let mut c = Common {
        read: ByteRead {
            nbytes: 0,
            offset,
            relative: false,
            big_endian: true,
            base: NumBase::Binary,
            dce: false,
            bitmask: None,
        },
        multiplier: 1,
        align: 0,
        from_beginning: false,
        from_end: false,
        post_offset: 0,
    };
    let mut endian_set = false;
    for opt in opts {
        let opt = opt.trim();
        let (k, arg) = opt.split_once(char::is_whitespace).map(|(k, a)| (k, Some(a.trim()))).unwrap_or((opt, None));
        match (k, arg) {
            ("relative", None) => c.read.relative = true,
            ("big", None) | ("little", None) => {
                if endian_set {
                    return Err(bad(keyword, "endianness given twice").into());
                }
                endian_set = true;
                c.read.big_endian = k == "big";
            }
            ("string", None) => {
                if c.read.base == NumBase::Binary {
                    c.read.base = NumBase::Dec;
                }
            }
            ("dec", None) => c.read.base = NumBase::Dec,
            ("hex", None) => c.read.base = NumBase::Hex,
            ("oct", None) => c.read.base = NumBase::Oct,
            ("dce", None) => c.read.dce = true,
            ("bitmask", Some(a)) => c.read.bitmask = Some(number(keyword, a, u64::from(u32::MAX))?),
            ("multiplier", Some(a)) if keyword != "byte_test" => {
                c.multiplier = number(keyword, a, u64::from(u32::MAX))?;
                if c.multiplier == 0 {
                    return Err(bad(keyword, "multiplier 0").into());
                }
            }
            ("align", None) if keyword == "byte_jump" => c.align = 4,
            ("align", Some(a)) if keyword == "byte_extract" => {
                c.align = match a {
                    "2" => 2,
                    "4" => 4,
                    _ => return Err(bad(keyword, format!("align must be 2 or 4, not {a}")).into()),
                }
            }
            ("from_beginning", None) if keyword == "byte_jump" => c.from_beginning = true,
            ("from_end", None) if keyword == "byte_jump" => c.from_end = true,
            ("post_offset", Some(a)) if keyword == "byte_jump" => {
                c.post_offset = a.parse().map_err(|_| bad(keyword, format!("invalid post_offset {a}")))?
            }
            _ => return Err(bad(keyword, format!("unknown option '{opt}'")).into()),
        }
    }
    let n = number(keyword, nbytes, 255)?;
    let max = if c.read.base == NumBase::Binary { 8 } else { 23 };
    // Suricata 7 accepts 0 bytes (string: the rest of the buffer; byte_jump: jump by post_offset only).
    let zero_ok = keyword == "byte_jump" || c.read.base != NumBase::Binary;
    if (n == 0 && !zero_ok) || n > max {
        return Err(bad(keyword, format!("cannot read {n} bytes")).into());
    }
    c.read.nbytes = n as u8;
    if c.from_beginning && c.from_end {
        return Err(bad(keyword, "from_beginning and from_end").into());
    }
    if c.read.dce {
        return Err(unsupported(keyword, "dce").into());
    }
    Ok(c)
}

fn split(v: &str) -> Vec<&str> {
    v.split(',').map(str::trim).collect()
}

/// `byte_test:n,[!]op,value,offset[,options]`.
pub(crate) fn byte_test(v: &str, vars: VarLookup<'_>) -> Result<Element, RuleIssue> {
    const K: &str = "byte_test";
    let parts = split(v);
    if parts.len() < 4 {
        return Err(bad(K, "needs at least bytes, operator, value, offset").into());
    }
    let mut op = parts[1];
    let mut negated = false;
    if let Some(rest) = op.strip_prefix('!') {
        negated = true;
        op = rest.trim();
    }
    let op = match op {
        "<" => ByteOp::Lt,
        ">" => ByteOp::Gt,
        "=" | "" if negated => ByteOp::Eq,
        "=" => ByteOp::Eq,
        "<=" => ByteOp::Le,
        ">=" => ByteOp::Ge,
        "&" => ByteOp::And,
        "^" => ByteOp::Xor,
        _ => return Err(bad(K, format!("unknown operator '{}'", parts[1])).into()),
    };
    let value = unsigned_or_var(K, parts[2], vars)?;
    let offset = signed_or_var(K, parts[3], vars)?;
    let c = common(K, parts[0], offset, &parts[4..])?;
    Ok(Element::ByteTest { read: c.read, op, negated, value })
}

/// `byte_jump:n,offset[,options]`.
pub(crate) fn byte_jump(v: &str, vars: VarLookup<'_>) -> Result<Element, RuleIssue> {
    const K: &str = "byte_jump";
    let parts = split(v);
    if parts.len() < 2 {
        return Err(bad(K, "needs at least bytes, offset").into());
    }
    let offset = signed_or_var(K, parts[1], vars)?;
    let c = common(K, parts[0], offset, &parts[2..])?;
    Ok(Element::ByteJump {
        read: c.read,
        multiplier: c.multiplier,
        align: c.align != 0,
        from_beginning: c.from_beginning,
        from_end: c.from_end,
        post_offset: c.post_offset,
    })
}

/// `byte_extract:n,offset,name[,options]`; returns the element (with `var` unset = 0) and the name.
pub(crate) fn byte_extract<'v>(v: &'v str, vars: VarLookup<'_>) -> Result<(Element, &'v str), RuleIssue> {
    const K: &str = "byte_extract";
    let parts = split(v);
    if parts.len() < 3 {
        return Err(bad(K, "needs at least bytes, offset, name").into());
    }
    let name = parts[2];
    if name.is_empty()
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        || name.as_bytes()[0].is_ascii_digit()
    {
        return Err(bad(K, format!("invalid variable name '{name}'")).into());
    }
    let offset = signed_or_var(K, parts[1], vars)?;
    let c = common(K, parts[0], offset, &parts[3..])?;
    Ok((Element::ByteExtract { read: c.read, var: 0, multiplier: c.multiplier, align: c.align }, name))
}

/// `isdataat:[!]n[,relative][,rawbytes]`; returns the element and whether it is relative.
pub(crate) fn isdataat(v: &str, vars: VarLookup<'_>) -> Result<(Element, bool), SyntaxError> {
    const K: &str = "isdataat";
    let parts = split(v);
    let mut pos = parts[0];
    let negated = match pos.strip_prefix('!') {
        Some(rest) => {
            pos = rest.trim();
            true
        }
        None => false,
    };
    let pos = unsigned_or_var(K, pos, vars)?;
    let mut relative = false;
    for opt in &parts[1..] {
        match *opt {
            "relative" => relative = true,
            "rawbytes" => {}
            _ => return Err(bad(K, format!("unknown option '{opt}'"))),
        }
    }
    Ok((Element::IsDataAt { pos, relative, negated }, relative))
}
