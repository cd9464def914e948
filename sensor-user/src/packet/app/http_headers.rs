//! Line splitting and header-field helpers for the HTTP/1.x parser.
//!
//! Rules (tolerant, modelled on libhtp/libhtp-rs as used by Suricata):
//! - To-server lines end at LF; the LF and one CR right before it are
//!   stripped (`trim_eol`), so CRLF and bare LF both end a line, and a line
//!   holding only `CR` (`CR CR LF`) is not an empty line.
//! - To-client lines (`take_response_line`) also end at a bare CR, as in
//!   libhtp-rs: the end of line is `CR LF`, `LF CR` (unless that CR starts a
//!   `CR LF`), `LF` or `CR`; so a to-client line never contains CR or LF.
//! - A line of only SP/HT ended by a bare LF ends the header block (with one
//!   more LF right after it, if any), as in libhtp-rs.
//! - A header line is `name ":" value`; SP, HT and CR around the name and
//!   the value are trimmed. A line without a colon is kept as a header with
//!   that (trimmed) name and an empty value; a line with nothing but SP, HT
//!   and CR is ignored.
//! - A line starting with SP or HT continues the previous header (obs-fold):
//!   its trimmed text is appended to the previous value after one SP, unless
//!   it reads `token ":" ...` (a header hidden behind leading whitespace),
//!   which starts a new header instead.
//! - Names are kept as sent; look-ups compare ASCII case-insensitively,
//!   ignoring NUL bytes and surrounding SP/HT/CR/VT/FF ([`name_is`]), since
//!   `Transfer\0-Encoding` still works on some clients.
//! - Content-Length is valid only as decimal digits with optional
//!   surrounding whitespace; with several Content-Length headers the first
//!   one is used.

/// Result of [`take_line`].
pub(crate) struct Take {
    /// Bytes of the input consumed (always all of it when `complete` is false).
    pub consumed: usize,
    /// A full line (including its LF) is now in the line buffer.
    pub complete: bool,
}

/// Appends input up to and including the next LF to `line`, keeping at most
/// `room` bytes in `line`; bytes past that are consumed but dropped and
/// `*overflow` is set.
pub(crate) fn take_line(line: &mut Vec<u8>, data: &[u8], room: usize, overflow: &mut bool) -> Take {
    let (end, complete) = match memchr::memchr(b'\n', data) {
        Some(i) => (i + 1, true),
        None => (data.len(), false),
    };
    let free = room.saturating_sub(line.len());
    if end > free {
        *overflow = true;
        line.extend_from_slice(&data[..free]);
        if complete && free < end {
            // Keep the terminator so the caller still sees the line end.
            line.push(b'\n');
        }
    } else {
        line.extend_from_slice(&data[..end]);
    }
    Take { consumed: end, complete }
}

/// Pending end-of-line bytes of a to-client line (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum Eol {
    /// No end of line pending.
    #[default]
    None,
    /// Saw CR: an LF right after belongs to it.
    Cr,
    /// Saw LF: a CR right after may belong to it.
    Lf,
    /// Saw LF CR: the CR belongs to the LF unless an LF follows.
    LfCr,
}

/// Like [`take_line`] for the to-client side, where a bare CR also ends a
/// line. The line buffer receives the content and the end-of-line bytes.
/// A line is reported complete only once its end of line is known, which can
/// take one or two bytes of the next chunk.
pub(crate) fn take_response_line(
    line: &mut Vec<u8>,
    data: &[u8],
    room: usize,
    overflow: &mut bool,
    eol: &mut Eol,
) -> Take {
    let mut i = 0;
    let push = |line: &mut Vec<u8>, overflow: &mut bool, bytes: &[u8]| {
        let free = room.saturating_sub(line.len());
        if bytes.len() > free {
            *overflow = true;
        }
        line.extend_from_slice(&bytes[..bytes.len().min(free)]);
    };
    loop {
        let next = data.get(i).copied();
        match (*eol, next) {
            (Eol::None, None) => break,
            (Eol::None, Some(_)) => match memchr::memchr2(b'\r', b'\n', &data[i..]) {
                None => {
                    push(line, overflow, &data[i..]);
                    i = data.len();
                }
                Some(k) => {
                    push(line, overflow, &data[i..i + k]);
                    // EOL bytes are kept even past `room` so the line stays
                    // recognisable as ended.
                    line.push(data[i + k]);
                    *eol = if data[i + k] == b'\r' { Eol::Cr } else { Eol::Lf };
                    i += k + 1;
                }
            },
            (_, None) => break,
            (Eol::Cr, Some(b)) => {
                if b == b'\n' {
                    line.push(b);
                    i += 1;
                }
                *eol = Eol::None;
                return Take { consumed: i, complete: true };
            }
            (Eol::Lf, Some(b)) => {
                if b == b'\r' {
                    line.push(b);
                    *eol = Eol::LfCr;
                    i += 1;
                } else {
                    *eol = Eol::None;
                    return Take { consumed: i, complete: true };
                }
            }
            (Eol::LfCr, Some(b)) => {
                // `LF CR LF`: the CR also starts the next (empty) line's
                // `CR LF`; it stays in this line's bytes.
                *eol = if b == b'\n' { Eol::Cr } else { Eol::None };
                return Take { consumed: i, complete: true };
            }
        }
    }
    Take { consumed: i, complete: false }
}

/// Strips the trailing LF and one CR before it.
pub(crate) fn trim_eol(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// SP or HT.
pub(crate) fn is_lws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Trims SP and HT on both sides.
pub(crate) fn trim_lws(s: &[u8]) -> &[u8] {
    trim_by(s, is_lws)
}

/// Trims SP, HT and CR on both sides.
fn trim_field(s: &[u8]) -> &[u8] {
    trim_by(s, |b| is_lws(b) || b == b'\r')
}

fn trim_by(mut s: &[u8], strip: impl Fn(u8) -> bool) -> &[u8] {
    while let [first, rest @ ..] = s {
        if strip(*first) {
            s = rest;
        } else {
            break;
        }
    }
    while let [rest @ .., last] = s {
        if strip(*last) {
            s = rest;
        } else {
            break;
        }
    }
    s
}

/// RFC 7230 tchar.
pub(crate) fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// `token *(SP/HT) ":"` at the start of `s`.
fn starts_like_header(s: &[u8]) -> bool {
    let name = s.iter().take_while(|b| is_token_byte(**b)).count();
    name > 0 && trim_lws(&s[name..]).first() == Some(&b':')
}

/// Adds one header line (already stripped of its EOL) to `headers`,
/// folding continuation lines into the previous header.
pub(crate) fn push_header_line(headers: &mut Vec<(Vec<u8>, Vec<u8>)>, line: &[u8]) {
    if trim_field(line).is_empty() {
        return;
    }
    if line.first().is_some_and(|b| is_lws(*b))
        && !starts_like_header(trim_field(line))
        && let Some((_, value)) = headers.last_mut()
    {
        let more = trim_field(line);
        if !value.is_empty() {
            value.push(b' ');
        }
        value.extend_from_slice(more);
        return;
    }
    match memchr::memchr(b':', line) {
        Some(i) => headers.push((trim_field(&line[..i]).to_vec(), trim_field(&line[i + 1..]).to_vec())),
        None => headers.push((trim_field(line).to_vec(), Vec::new())),
    }
}

/// Does header name `name` (as sent) mean `target` (lowercase)? ASCII
/// case-insensitive, NUL bytes ignored, SP/HT/CR/VT/FF around it ignored.
pub fn name_is(name: &[u8], target: &str) -> bool {
    let junk = |b: &u8| matches!(b, b' ' | b'\t' | b'\r' | 0x0b | 0x0c | 0);
    let start = name.iter().position(|b| !junk(b)).unwrap_or(name.len());
    let end = name.iter().rposition(|b| !junk(b)).map_or(start, |e| e + 1);
    let mut got = name[start..end].iter().filter(|b| **b != 0);
    let mut want = target.as_bytes().iter();
    loop {
        match (got.next(), want.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.to_ascii_lowercase() == *b => {}
            _ => return false,
        }
    }
}

/// Value of the first header named `name` (see [`name_is`]).
pub(crate) fn header<'a>(headers: &'a [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'a [u8]> {
    headers.iter().find(|(n, _)| name_is(n, name)).map(|(_, v)| v.as_slice())
}

/// Every value of the headers named `name`, in order.
pub(crate) fn headers_named<'a>(
    headers: &'a [(Vec<u8>, Vec<u8>)],
    name: &'a str,
) -> impl Iterator<Item = &'a [u8]> + 'a {
    headers.iter().filter(move |(n, _)| name_is(n, name)).map(|(_, v)| v.as_slice())
}

/// Content-Length of the first such header: decimal digits with optional
/// surrounding whitespace. `None` when absent, malformed or overflowing.
pub(crate) fn content_length(headers: &[(Vec<u8>, Vec<u8>)]) -> Option<u64> {
    let value = header(headers, "content-length")?.trim_ascii();
    if value.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in value {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// True when some Transfer-Encoding header mentions `chunked`
/// (ASCII case-insensitive, NUL bytes ignored, as libhtp does).
pub(crate) fn is_chunked(headers: &[(Vec<u8>, Vec<u8>)]) -> bool {
    headers_named(headers, "transfer-encoding").any(|v| {
        let mut norm = [0u8; 7];
        let mut filled = 0;
        // Sliding search for "chunked" over the value with NULs removed.
        let bytes = v.iter().filter(|b| **b != 0).map(|b| b.to_ascii_lowercase());
        for b in bytes {
            if filled < norm.len() {
                norm[filled] = b;
                filled += 1;
            } else {
                norm.copy_within(1.., 0);
                norm[6] = b;
            }
            if filled == norm.len() && &norm == b"chunked" {
                return true;
            }
        }
        false
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hdrs(lines: &[&[u8]]) -> Vec<(Vec<u8>, Vec<u8>)> {
        let mut h = Vec::new();
        for l in lines {
            push_header_line(&mut h, l);
        }
        h
    }

    #[test]
    fn folding_and_trimming() {
        let h = hdrs(&[
            b"Host : a.b ",
            b"X-A: one",
            b" \ttwo",
            b"junk line",
            b"\r",
            b"\tTransfer-Encoding: chunked",
            b"\r \rX-B: 1",
        ]);
        assert_eq!(h[0], (b"Host".to_vec(), b"a.b".to_vec()));
        assert_eq!(h[1], (b"X-A".to_vec(), b"one two".to_vec()));
        assert_eq!(h[2], (b"junk line".to_vec(), Vec::new()));
        assert_eq!(h[3], (b"Transfer-Encoding".to_vec(), b"chunked".to_vec()));
        assert_eq!(h[4], (b"X-B".to_vec(), b"1".to_vec()));
        assert_eq!(h.len(), 5);
        assert_eq!(header(&h, "host"), Some(&b"a.b"[..]));
    }

    #[test]
    fn content_length_rules() {
        assert_eq!(content_length(&hdrs(&[b"Content-Length:  68"])), Some(68));
        assert_eq!(content_length(&hdrs(&[b"content-length: 7x"])), None);
        assert_eq!(content_length(&hdrs(&[b"content-length: 34", b" 68"])), None);
        assert_eq!(content_length(&hdrs(&[b"Content-Length: (7)"])), None);
        assert_eq!(content_length(&hdrs(&[b"Content-Length: 5", b"Content-Length: 9"])), Some(5));
        assert_eq!(content_length(&hdrs(&[b"Content-Length: 99999999999999999999999"])), None);
    }

    #[test]
    fn chunked_detection() {
        assert!(is_chunked(&hdrs(&[b"Transfer-Encoding: ,\tchunked,"])));
        assert!(is_chunked(&hdrs(&[b"transfer-encoding: chu\0nKed"])));
        assert!(!is_chunked(&hdrs(&[b"Transfer-Encoding: chunke"])));
        assert!(!is_chunked(&hdrs(&[b"X-Transfer-Encoding: chunked"])));
    }

    fn resp_lines(input: &[u8], step: usize) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        let mut line = Vec::new();
        let mut over = false;
        let mut eol = Eol::None;
        for chunk in input.chunks(step) {
            let mut pos = 0;
            while pos < chunk.len() {
                let t = take_response_line(&mut line, &chunk[pos..], 100, &mut over, &mut eol);
                pos += t.consumed;
                if t.complete {
                    out.push(std::mem::take(&mut line));
                }
            }
        }
        out.push(line);
        out
    }

    #[test]
    fn response_line_endings() {
        let input = b"a\r\nb\rc\n\rd\n\r\ne\n\nf";
        let want: Vec<Vec<u8>> = [&b"a\r\n"[..], b"b\r", b"c\n\r", b"d\n\r", b"\n", b"e\n", b"\n", b"f"]
            .iter()
            .map(|l| l.to_vec())
            .collect();
        for step in 1..=input.len() {
            assert_eq!(resp_lines(input, step), want, "step {step}");
        }
    }

    #[test]
    fn names_match_loosely() {
        assert!(name_is(b"Transfer\0-Encoding", "transfer-encoding"));
        assert!(name_is(b"Content-Encoding\x0b", "content-encoding"));
        assert!(!name_is(b"Content-Encodin", "content-encoding"));
        assert!(!name_is(b"X-Content-Encoding", "content-encoding"));
    }

    #[test]
    fn line_taking_is_bounded() {
        let mut line = Vec::new();
        let mut over = false;
        let t = take_line(&mut line, b"abcdef", 4, &mut over);
        assert!(!t.complete && t.consumed == 6 && over);
        let t = take_line(&mut line, b"gh\nrest", 4, &mut over);
        assert!(t.complete && t.consumed == 3);
        assert_eq!(line, b"abcd\n");
        assert_eq!(trim_eol(b"x\r\r\n"), b"x\r");
        assert_eq!(trim_eol(b"x\n"), b"x");
    }
}
