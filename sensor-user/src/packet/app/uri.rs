//! Request-target normalisation (the `http.uri` buffer) and host names.
//!
//! [`normalize_uri`] rules, applied to the request target as sent:
//! 1. Absolute form `scheme://authority[path]` (scheme = letter followed by
//!    letters, digits, `+`, `-`, `.`): the scheme and authority are dropped;
//!    an empty path becomes `/`. Other forms are used whole.
//! 2. The target is split at the first `?` into path and query.
//! 3. Percent-decoding, in both parts, single pass: `%XY` with two hex digits
//!    whose value is a printable ASCII byte (0x20..=0x7E) becomes that byte.
//!    Escapes of control bytes (0x00..=0x1F, 0x7F) and of bytes >= 0x80, and
//!    malformed escapes (`%4`, `%zz`), are kept as sent. `+` is not a space;
//!    `\` is kept as is.
//! 4. Path only (after decoding, so `%2e%2e` counts as `..`): empty segments
//!    are dropped (`//` -> `/`), `.` segments are dropped, `..` drops the
//!    previous segment and never climbs above the root. A leading `/` is
//!    kept, and so is a trailing one (also when the path ends in `/.` or
//!    `/..`). A path not starting with `/` (e.g. `*`, or `host:port` of
//!    CONNECT) is processed the same but gets no leading `/`.
//! 5. The query is decoded but not path-normalised; it is re-joined with `?`.
//!
//! [`normalize_host`] lowercases ASCII, strips user-info (`user@`), the port
//! (after `]` for an IPv6 literal, else after the first `:`) and one trailing
//! `.`.

/// Normalised `http.uri` of a request target (see the module doc).
pub fn normalize_uri(raw: &[u8]) -> Vec<u8> {
    let target = match split_absolute(raw) {
        Some((_, b"")) => &b"/"[..],
        Some((_, rest)) => rest,
        None => raw,
    };
    let (path, query) = match memchr::memchr(b'?', target) {
        Some(i) => (&target[..i], Some(&target[i + 1..])),
        None => (target, None),
    };
    let mut out = normalize_path(&percent_decode(path));
    if let Some(q) = query {
        out.push(b'?');
        out.extend_from_slice(&percent_decode(q));
    }
    out
}

/// For an absolute-form target returns `(authority, rest)`, `rest` starting
/// at the path (`/`), query (`?`) or fragment (`#`), or empty.
pub fn split_absolute(raw: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = raw.windows(3).position(|w| w == b"://")?;
    let scheme = &raw[..colon];
    let first = *scheme.first()?;
    if !first.is_ascii_alphabetic()
        || !scheme.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
    {
        return None;
    }
    let after = &raw[colon + 3..];
    let end = after.iter().position(|b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(after.len());
    Some((&after[..end], &after[end..]))
}

/// Host name as Suricata's `http.host`: see the module doc.
pub fn normalize_host(raw: &[u8]) -> Vec<u8> {
    let mut h = raw.trim_ascii();
    if let Some(at) = memchr::memrchr(b'@', h) {
        h = &h[at + 1..];
    }
    if h.first() == Some(&b'[') {
        if let Some(close) = memchr::memchr(b']', h) {
            h = &h[..=close];
        }
    } else if let Some(colon) = memchr::memchr(b':', h) {
        h = &h[..colon];
    }
    if let [rest @ .., b'.'] = h {
        h = rest;
    }
    h.to_ascii_lowercase()
}

fn hex(b: u8) -> Option<u8> {
    (b as char).to_digit(16).and_then(|d| u8::try_from(d).ok())
}

fn percent_decode(s: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        if s[i] == b'%'
            && i + 2 < s.len()
            && let (Some(h), Some(l)) = (hex(s[i + 1]), hex(s[i + 2]))
            && (0x20..=0x7e).contains(&(h * 16 + l))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(s[i]);
        i += 1;
    }
    out
}

fn normalize_path(path: &[u8]) -> Vec<u8> {
    let rooted = path.first() == Some(&b'/');
    let mut segs: Vec<&[u8]> = Vec::new();
    let mut trailing = false;
    for seg in path.split(|b| *b == b'/') {
        trailing = false;
        match seg {
            b"" => trailing = true,
            b"." => trailing = true,
            b".." => {
                segs.pop();
                trailing = true;
            }
            s => segs.push(s),
        }
    }
    let mut out = Vec::with_capacity(path.len());
    if rooted {
        out.push(b'/');
    }
    for (i, s) in segs.iter().enumerate() {
        if i > 0 {
            out.push(b'/');
        }
        out.extend_from_slice(s);
    }
    if trailing && !segs.is_empty() {
        out.push(b'/');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> String {
        String::from_utf8_lossy(&normalize_uri(s.as_bytes())).into_owned()
    }

    #[test]
    fn uri_rules() {
        assert_eq!(n("/a/%41b?x=%41%00"), "/a/Ab?x=A%00");
        assert_eq!(n("/a/./b/../c//d/"), "/a/c/d/");
        assert_eq!(n("/../../etc/passwd"), "/etc/passwd");
        assert_eq!(n("/%2e%2e/x/%2E/y"), "/x/y");
        assert_eq!(n("/a/.."), "/");
        assert_eq!(n("/a/b/."), "/a/b/");
        assert_eq!(n("/%zz%4%"), "/%zz%4%");
        assert_eq!(n("/%c3%a9\\x"), "/%c3%a9\\x");
        assert_eq!(n("/q?a=/../b//c"), "/q?a=/../b//c");
        assert_eq!(n("http://Example.com:8080/a/../b?c"), "/b?c");
        assert_eq!(n("http://example.com"), "/");
        assert_eq!(n("*"), "*");
        assert_eq!(n("example.com:443"), "example.com:443");
        assert_eq!(n(""), "");
        assert_eq!(n("/"), "/");
        assert_eq!(n("//"), "/");
    }

    #[test]
    fn host_rules() {
        assert_eq!(normalize_host(b"Example.COM:80"), b"example.com");
        assert_eq!(normalize_host(b"[::1]:8000"), b"[::1]");
        assert_eq!(normalize_host(b"user:pw@host.x."), b"host.x");
        let (auth, rest) = split_absolute(b"http://a.b:1/p?q").unwrap_or_default();
        assert_eq!((auth, rest), (&b"a.b:1"[..], &b"/p?q"[..]));
        assert!(split_absolute(b"/x?u=http://y").is_none());
    }
}
