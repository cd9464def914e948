//! Just enough HTTP/1.1 for the console: one request per connection (`Connection: close`),
//! a bounded head and body, and responses that always carry the console's security headers
//! (a strict Content-Security-Policy, no framing, no sniffing, no caching, no referrer).

use std::{
    fmt,
    io::{self, Read, Write},
};

use serde_json::Value;

/// Largest request head (request line and headers).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body.
pub const MAX_BODY: usize = 64 * 1024;

/// Sent with every response. Scripts, styles and connections only from the console's own
/// origin: an injected `<script>` or inline handler would not run even if a string ever
/// reached the page as markup.
const SECURITY_HEADERS: &str = "Content-Security-Policy: default-src 'none'; script-src 'self'; style-src 'self'; \
img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'\r\n\
X-Content-Type-Options: nosniff\r\nX-Frame-Options: DENY\r\nReferrer-Policy: no-referrer\r\n\
Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Resource-Policy: same-origin\r\nCache-Control: no-store\r\n";

/// Why a request could not be read.
#[derive(Debug)]
pub enum HttpError {
    /// The client closed or went silent before a full head arrived.
    Incomplete,
    /// Malformed request line or header; the text says what.
    Bad(&'static str),
    /// Head or body over the limit.
    TooLarge,
    /// A transport error.
    Io(io::Error),
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Incomplete => f.write_str("incomplete request"),
            Self::Bad(what) => write!(f, "bad request: {what}"),
            Self::TooLarge => f.write_str("request too large"),
            Self::Io(e) => write!(f, "{e}"),
        }
    }
}

/// A parsed request.
#[derive(Debug, Default, Clone)]
pub struct Request {
    /// `GET`, `POST`...
    pub method: String,
    /// The path, percent-decoding not applied (the console's paths are plain ASCII).
    pub path: String,
    /// What follows `?`, raw.
    pub query: String,
    /// Header names in lower case, with their values trimmed.
    pub headers: Vec<(String, String)>,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// The value of cookie `name`.
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers.iter().filter(|(n, _)| n == "cookie").flat_map(|(_, v)| v.split(';')).find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == name).then_some(v)
        })
    }

    /// Query parameter `name` parsed as a number.
    pub fn query_u64(&self, name: &str) -> Option<u64> {
        self.query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.parse().ok()).flatten()
        })
    }

    /// The body as a JSON object (an empty body is an empty object).
    ///
    /// # Errors
    /// A message when it is not JSON or not an object.
    pub fn json(&self) -> Result<serde_json::Map<String, Value>, String> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Ok(serde_json::Map::new());
        }
        match serde_json::from_slice(&self.body) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("the body must be a JSON object".into()),
            Err(e) => Err(format!("the body is not JSON: {e}")),
        }
    }
}

/// Reads one request from `r`: the head up to [`MAX_HEAD`], then `Content-Length` bytes of
/// body up to [`MAX_BODY`]. Chunked bodies are refused. Read timeouts are the caller's
/// (set on the socket).
///
/// # Errors
/// See [`HttpError`].
pub fn read_request(r: &mut impl Read) -> Result<Request, HttpError> {
    let mut buf = Vec::with_capacity(2048);
    let mut chunk = [0u8; 2048];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(HttpError::TooLarge);
        }
        let n = read_some(r, &mut chunk)?;
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD {
        return Err(HttpError::TooLarge);
    }
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| HttpError::Bad("head is not UTF-8"))?;
    let mut lines = head.split("\r\n");
    let mut words = lines.next().unwrap_or("").split(' ');
    let (method, target, version) = (words.next(), words.next(), words.next());
    let (Some(method), Some(target), Some(version)) = (method, target, version) else {
        return Err(HttpError::Bad("request line"));
    };
    if !version.starts_with("HTTP/1.") || words.next().is_some() || !target.starts_with('/') {
        return Err(HttpError::Bad("request line"));
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut req =
        Request { method: method.to_owned(), path: path.to_owned(), query: query.to_owned(), ..Request::default() };
    for line in lines {
        let (name, value) = line.split_once(':').ok_or(HttpError::Bad("header without ':'"))?;
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(HttpError::Bad("header name"));
        }
        req.headers.push((name.to_ascii_lowercase(), value.trim().to_owned()));
    }
    if req.header("transfer-encoding").is_some() {
        return Err(HttpError::Bad("chunked bodies are not accepted; send Content-Length"));
    }
    let len: usize = match req.header("content-length") {
        Some(v) => v.parse().map_err(|_| HttpError::Bad("Content-Length"))?,
        None => 0,
    };
    if len > MAX_BODY {
        return Err(HttpError::TooLarge);
    }
    let mut body = buf.split_off(head_end + 4);
    while body.len() < len {
        let want = (len - body.len()).min(chunk.len());
        let n = read_some(r, &mut chunk[..want])?;
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len);
    req.body = body;
    Ok(req)
}

/// At least one byte into `buf` (retrying interrupted reads); the end of the stream or a
/// read timeout before the request is complete is [`HttpError::Incomplete`].
fn read_some(r: &mut impl Read, buf: &mut [u8]) -> Result<usize, HttpError> {
    loop {
        match r.read(buf) {
            Ok(0) => return Err(HttpError::Incomplete),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(HttpError::Incomplete);
            }
            Err(e) => return Err(HttpError::Io(e)),
        }
    }
}

/// A response.
#[derive(Debug, Clone)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Content type.
    pub ctype: &'static str,
    /// Extra header lines, each "Name: value".
    pub headers: Vec<String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Response {
    /// A JSON body.
    pub fn json(status: u16, v: &Value) -> Self {
        let body = serde_json::to_vec(v).unwrap_or_else(|_| b"{}".to_vec());
        Self { status, ctype: "application/json", headers: Vec::new(), body }
    }

    /// `{"ok": false, "error": msg}` with `status`.
    pub fn error(status: u16, msg: impl fmt::Display) -> Self {
        Self::json(status, &serde_json::json!({"ok": false, "error": msg.to_string()}))
    }

    /// A static asset.
    pub fn asset(ctype: &'static str, body: &'static str) -> Self {
        Self { status: 200, ctype, headers: Vec::new(), body: body.as_bytes().to_vec() }
    }

    /// Adds a header line ("Name: value"; the value must not hold CR or LF).
    #[must_use]
    pub fn with_header(mut self, line: String) -> Self {
        debug_assert!(!line.contains(['\r', '\n']));
        self.headers.push(line);
        self
    }

    /// Writes the whole response (`Connection: close`).
    ///
    /// # Errors
    /// Transport errors.
    pub fn write_to(&self, w: &mut impl Write) -> io::Result<()> {
        self.write(w, true)
    }

    /// Writes the head, and the body when `body` (not for `HEAD`).
    ///
    /// # Errors
    /// Transport errors.
    pub fn write(&self, w: &mut impl Write, body: bool) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{SECURITY_HEADERS}",
            self.status,
            reason(self.status),
            self.ctype,
            self.body.len()
        );
        for h in &self.headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        w.write_all(head.as_bytes())?;
        if body {
            w.write_all(&self.body)?;
        }
        w.flush()
    }
}

/// The head of an event stream (no length: it lasts until either side closes).
pub fn write_stream_head(w: &mut impl Write) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\nX-Accel-Buffering: no\r\n{SECURITY_HEADERS}\r\n"
    );
    w.write_all(head.as_bytes())?;
    w.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        421 => "Misdirected Request",
        429 => "Too Many Requests",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(raw: &[u8]) -> Result<Request, HttpError> {
        read_request(&mut &raw[..])
    }

    #[test]
    fn a_request_with_headers_cookies_query_and_body_is_parsed() {
        let r = parse(b"POST /api/x?limit=5&offset=10 HTTP/1.1\r\nHost: a\r\nCookie: a=1; sensor_session=abc\r\nContent-Length: 7\r\n\r\n{\"k\":1}extra")
            .expect("parse");
        assert_eq!((r.method.as_str(), r.path.as_str()), ("POST", "/api/x"));
        assert_eq!((r.query_u64("limit"), r.query_u64("offset"), r.query_u64("no")), (Some(5), Some(10), None));
        assert_eq!(r.cookie("sensor_session"), Some("abc"));
        assert_eq!(r.header("host"), Some("a"));
        assert_eq!(r.json().expect("json")["k"], 1);
    }

    #[test]
    fn malformed_oversized_chunked_and_truncated_requests_are_refused() {
        assert!(matches!(parse(b"GARBAGE\r\n\r\n"), Err(HttpError::Bad(_))));
        assert!(matches!(parse(b"GET http://x/ HTTP/1.1\r\n\r\n"), Err(HttpError::Bad(_))));
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nno colon\r\n\r\n"), Err(HttpError::Bad(_))));
        assert!(matches!(
            parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
            Err(HttpError::Bad(_))
        ));
        assert!(matches!(parse(b"POST / HTTP/1.1\r\nContent-Length: 999999\r\n\r\n"), Err(HttpError::TooLarge)));
        assert!(matches!(parse(b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc"), Err(HttpError::Incomplete)));
        assert!(matches!(parse(b"GET / HTTP/1.1\r\nHost: x\r\n"), Err(HttpError::Incomplete)));
        let huge = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; MAX_HEAD + 10]].concat();
        assert!(matches!(parse(&huge), Err(HttpError::TooLarge)));
        let r = parse(b"POST / HTTP/1.1\r\nContent-Length: 2\r\n\r\n[]").expect("parse");
        assert!(r.json().is_err(), "an array is not an object");
    }

    #[test]
    fn every_response_carries_the_security_headers() {
        let mut out = Vec::new();
        Response::error(403, "no").write_to(&mut out).expect("write");
        let text = String::from_utf8(out).expect("utf8");
        assert!(text.starts_with("HTTP/1.1 403 Forbidden\r\n"));
        assert!(text.contains("Content-Security-Policy: default-src 'none'; script-src 'self'"));
        assert!(text.contains("X-Frame-Options: DENY") && text.contains("X-Content-Type-Options: nosniff"));
    }
}
