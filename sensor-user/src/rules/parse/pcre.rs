//! `pcre:"/source/flags"` syntax check and flag decoding (the regex itself is compiled later by
//! the inspection engine).

use super::super::ir::{Buffer, Pcre};
use super::buffers::pcre_flag;
use super::error::SyntaxError;
use super::lexer::{strip_quotes, unescape};

fn bad_pcre(detail: impl Into<String>) -> SyntaxError {
    SyntaxError::BadPcre { detail: detail.into() }
}

/// Parses a pcre value; returns the [`Pcre`] and the buffer its legacy flags select, if any.
pub(crate) fn parse_pcre(raw: &str) -> Result<(Pcre, Option<Buffer>), SyntaxError> {
    let v = raw.trim();
    let (negated, v) = match v.strip_prefix('!') {
        Some(rest) => (true, rest.trim_start()),
        None => (false, v),
    };
    let s = unescape(strip_quotes(v)?, b";\"");
    let body = s.strip_prefix('/').ok_or_else(|| bad_pcre(format!("{s} does not start with '/'")))?;
    let end = body.rfind('/').ok_or_else(|| bad_pcre(format!("{s} has no closing '/'")))?;
    let (source, mut flags) = (&body[..end], &body[end + 1..]);
    // `/re/flags, pkt:name, flow:name` captures into variables (logging only here): ignored.
    if let Some((f, _captures)) = flags.split_once(',') {
        flags = f;
    }
    if source.is_empty() {
        return Err(bad_pcre("empty expression"));
    }
    let mut p = Pcre {
        source: source.to_string(),
        caseless: false,
        dotall: false,
        multiline: false,
        extended: false,
        anchored: false,
        dollar_endonly: false,
        ungreedy: false,
        relative: false,
        negated,
    };
    let mut buffer: Option<Buffer> = None;
    for f in flags.trim().chars() {
        match f {
            'i' => p.caseless = true,
            's' => p.dotall = true,
            'm' => p.multiline = true,
            'x' => p.extended = true,
            'A' => p.anchored = true,
            'E' => p.dollar_endonly = true,
            'G' => p.ungreedy = true,
            'R' => p.relative = true,
            'B' | 'O' => {}
            _ => {
                let b = pcre_flag(f).ok_or_else(|| bad_pcre(format!("unknown flag '{f}'")))?;
                if buffer.is_some_and(|cur| cur != b) {
                    return Err(bad_pcre(format!("two buffer flags in '{flags}'")));
                }
                buffer = Some(b);
            }
        }
    }
    Ok((p, buffer))
}
