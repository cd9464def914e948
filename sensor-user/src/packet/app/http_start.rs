//! Start lines of HTTP/1.x messages: request-line and status-line parsing,
//! and recognising where a request or response starts (protocol detection
//! and resync after a gap). The rules are listed in the `http` module doc.

use super::http_headers::{is_lws, is_token_byte, trim_lws};

/// Methods recognised by [`looks_like_http_request`] and by resync.
/// Methods recognised by [`looks_like_http_request`] and by resync.
pub(crate) const METHODS: &[&[u8]] = &[
    b"GET",
    b"POST",
    b"HEAD",
    b"PUT",
    b"DELETE",
    b"OPTIONS",
    b"CONNECT",
    b"TRACE",
    b"PATCH",
    b"PROPFIND",
    b"PROPPATCH",
    b"MKCOL",
    b"COPY",
    b"MOVE",
    b"LOCK",
    b"UNLOCK",
    b"SEARCH",
    b"REPORT",
    b"CHECKOUT",
    b"MERGE",
    b"MKACTIVITY",
    b"NOTIFY",
    b"SUBSCRIBE",
    b"UNSUBSCRIBE",
    b"M-SEARCH",
    b"PURGE",
    b"BCOPY",
    b"BDELETE",
    b"BMOVE",
    b"BPROPFIND",
    b"BPROPPATCH",
    b"POLL",
    b"ACL",
    b"VERSION-CONTROL",
    b"CHECKIN",
    b"UNCHECKOUT",
    b"MKWORKSPACE",
    b"UPDATE",
    b"LABEL",
    b"BASELINE-CONTROL",
    b"MKCALENDAR",
    b"ORDERPATCH",
    b"DEBUG",
];

/// Does this first to-server chunk start with a request line (a known
/// method followed by SP)?
pub fn looks_like_http_request(data: &[u8]) -> bool {
    METHODS.iter().any(|m| data.len() > m.len() && data.starts_with(m) && data[m.len()] == b' ')
}

/// Does this first to-client chunk start with `HTTP/1.`?
pub fn looks_like_http_response(data: &[u8]) -> bool {
    data.starts_with(b"HTTP/1.")
}

/// Parts of a request line (slices of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestLine<'a> {
    pub method: &'a [u8],
    pub uri: &'a [u8],
    pub protocol: &'a [u8],
    /// No protocol: HTTP/0.9 (no headers, no body).
    pub http09: bool,
    /// Malformed (see the `http` module doc).
    pub invalid: bool,
}

/// Splits a request line (without EOL, not blank).
pub(crate) fn parse_request_line(line: &[u8]) -> RequestLine<'_> {
    let tokens = token_spans(line);
    let (m0, m1) = tokens.first().copied().unwrap_or((0, 0));
    let method = &line[m0..m1];
    let mut r = RequestLine {
        method,
        uri: b"",
        protocol: b"",
        http09: false,
        invalid: !method.iter().all(|b| is_token_byte(*b)),
    };
    match tokens.len() {
        0 | 1 => {
            r.invalid = true;
            r.http09 = true;
        }
        2 => {
            r.uri = &line[tokens[1].0..tokens[1].1];
            r.http09 = true;
        }
        n => {
            let (p0, p1) = tokens[n - 1];
            let proto = &line[p0..p1];
            if proto.len() >= 5 && proto[..5].eq_ignore_ascii_case(b"HTTP/") {
                r.uri = &line[tokens[1].0..tokens[n - 2].1];
                r.protocol = proto;
            } else {
                r.invalid = true;
                r.uri = &line[tokens[1].0..tokens[1].1];
                r.protocol = trim_lws(&line[tokens[1].1..]);
            }
        }
    }
    r
}

/// Parts of a status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StatusLine<'a> {
    pub protocol: &'a [u8],
    /// Three digits in 100..=999, else `None`.
    pub status: Option<u16>,
    pub message: &'a [u8],
}

/// Splits a status line (from its `HTTP/`, without EOL).
pub(crate) fn parse_status_line(line: &[u8]) -> StatusLine<'_> {
    let tokens = token_spans(line);
    let (p0, p1) = tokens.first().copied().unwrap_or((0, 0));
    let mut r = StatusLine { protocol: &line[p0..p1], status: None, message: b"" };
    if let Some(&(s0, s1)) = tokens.get(1) {
        let code = &line[s0..s1];
        if code.len() == 3 && code.iter().all(u8::is_ascii_digit) {
            let v = code.iter().fold(0u16, |acc, d| acc * 10 + u16::from(d - b'0'));
            r.status = (v >= 100).then_some(v);
        }
        r.message = trim_lws(&line[s1..]);
    }
    r
}

/// Offset of the first byte that is not SP, HT or NUL (`line.len()` if none).
pub(crate) fn status_line_start(line: &[u8]) -> usize {
    line.iter().position(|b| !is_lws(*b) && *b != 0).unwrap_or(line.len())
}

/// `HTTP/` (any case) after leading SP, HT and NUL bytes.
pub(crate) fn is_status_line(line: &[u8]) -> bool {
    let start = status_line_start(line);
    line.len() >= start + 5 && line[start..start + 5].eq_ignore_ascii_case(b"HTTP/")
}

/// Longest message start [`classify_start`] needs.
pub(crate) const MAX_START: usize = 24;
pub(crate) const RESPONSE_START: &[u8] = b"HTTP/1.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Start {
    Yes,
    Maybe,
    No,
}

/// Does `d` start a request (method + SP) or response (`HTTP/1.`)?
/// `Maybe` when `d` is a proper prefix of one.
pub(crate) fn classify_start(to_server: bool, d: &[u8]) -> Start {
    let one = |pat: &[u8], sp: bool| {
        let n = pat.len() + usize::from(sp);
        if d.len() >= n {
            if d.starts_with(pat) && (!sp || d[pat.len()] == b' ') {
                return Start::Yes;
            }
            Start::No
        } else if pat.starts_with(&d[..d.len().min(pat.len())]) {
            Start::Maybe
        } else {
            Start::No
        }
    };
    if !to_server {
        return one(RESPONSE_START, false);
    }
    let mut best = Start::No;
    for m in METHODS {
        match one(m, true) {
            Start::Yes => return Start::Yes,
            Start::Maybe => best = Start::Maybe,
            Start::No => {}
        }
    }
    best
}

/// Start/end offsets of the SP/HT-separated tokens of a line.
pub(crate) fn token_spans(line: &[u8]) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, b) in line.iter().enumerate() {
        match (is_lws(*b), start) {
            (true, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, line.len()));
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_lines() {
        let r = parse_request_line(b"GET  /a b\tHTTP/1.1");
        assert_eq!((r.method, r.uri, r.protocol), (&b"GET"[..], &b"/a b"[..], &b"HTTP/1.1"[..]));
        assert!(!r.http09 && !r.invalid);
        let r = parse_request_line(b"GET /x");
        assert!(r.http09 && !r.invalid && r.uri == b"/x");
        let r = parse_request_line(b"\x85junk");
        assert!(r.http09 && r.invalid);
        let r = parse_request_line(b"GET /x FTP/1.0");
        assert!(r.invalid && r.protocol == b"FTP/1.0");
    }

    #[test]
    fn status_lines() {
        let r = parse_status_line(b"HTTP/1.1 404 Not  Found ");
        assert_eq!((r.protocol, r.status, r.message), (&b"HTTP/1.1"[..], Some(404), &b"Not  Found"[..]));
        assert_eq!(parse_status_line(b"HTTP/1.1 20x ok").status, None);
        assert_eq!(parse_status_line(b"HTTP/1.1 099").status, None);
        assert_eq!(parse_status_line(b"HTTP/1.1").status, None);
        assert!(is_status_line(b"\0 http/1.0 200"));
        assert!(!is_status_line(b"SIP/2.0 200 ok"));
    }

    #[test]
    fn message_starts() {
        assert_eq!(classify_start(true, b"POST /"), Start::Yes);
        assert_eq!(classify_start(true, b"PO"), Start::Maybe);
        assert_eq!(classify_start(true, b"POSTX"), Start::No);
        assert_eq!(classify_start(false, b"HTTP/1.0 200"), Start::Yes);
        assert_eq!(classify_start(false, b"HTT"), Start::Maybe);
        assert_eq!(classify_start(false, b"HTTP/2"), Start::No);
    }
}
