//! HTTP/1.x transaction parser: turns the two reassembled byte streams of a
//! TCP connection into request/response transactions ([`HttpTx`]).
//!
//! Message rules (tolerant, modelled on libhtp as used by Suricata):
//! - Lines end at LF (CRLF and bare LF alike); to-client lines also at a
//!   bare CR (see `http_headers`). Blank lines before a request or response
//!   line are skipped.
//! - Request line: tokens split on runs of SP/HT. `METHOD URI HTTP/x.y`; when
//!   the last of three or more tokens starts with `HTTP/` (any case) it is the
//!   protocol and everything between the method and it is the URI (spaces
//!   inside kept). `METHOD URI` alone is HTTP/0.9: empty protocol, no headers,
//!   no body, and a response without a status line is all body. A single
//!   token, a method with non-token bytes, or a protocol not starting with
//!   `HTTP/` add [`HttpAnomaly::InvalidRequestLine`] (a single token is then
//!   handled like HTTP/0.9).
//! - Response line: must start (after SP/HT/NUL) with `HTTP/` (any case):
//!   `PROTOCOL SP STATUS SP MESSAGE`; a status that is not three digits in
//!   100..=999 leaves `status` at `None` and adds `InvalidResponseLine`.
//!   After an HTTP/0.9 request a first line that is not a status line starts
//!   a body running until close. Otherwise such lines are junk
//!   (`InvalidResponseLine`): they are skipped if a status line follows
//!   within [`JUNK_MAX`] bytes, else junk and the rest become a body running
//!   until close.
//! - Headers: see `http_headers` (obs-fold, colon-less lines, names kept as
//!   sent, duplicates kept). A header block (start line included) longer than
//!   `max_header_bytes` adds `HeaderTooLong`; later lines are dropped up to
//!   the empty line, and framing uses the headers kept so far.
//! - Request body: `Transfer-Encoding` mentioning `chunked`, else a
//!   Content-Length > 0, else none. Response body: none after HEAD or for
//!   204/304. 1xx responses are interim (dropped, the next response answers
//!   the same request), except 101 to a request carrying `Upgrade`: that,
//!   and 2xx to CONNECT, end HTTP on the connection (tunnel: later bytes in
//!   both directions are ignored). Otherwise chunked, else
//!   Content-Length (first one wins), else until close. An invalid chunk size
//!   turns the rest of a response into an identity body (libhtp); in a request
//!   it stops parsing of the to-server side. Both add `InvalidChunk`.
//! - After a CONNECT request or one carrying `Upgrade`, to-server bytes are
//!   held (at most `max_header_bytes`) until the response shows whether the
//!   protocol switched; if not, they are parsed as requests.
//! - Bodies are content-decoded (`http_decompress`) and kept up to
//!   `body_limit` bytes (`BodyTruncated` past it, `GzipError` when decoding
//!   fails). `*_body_len` counts body bytes after removing chunk framing and
//!   before content decoding (libhtp's message length, Suricata's
//!   `http.length`); bytes lost in a gap inside a body count too.
//! - Responses pair with requests in order (pipelining). A response with no
//!   request left gets a transaction of its own with empty request fields and
//!   `ResponseWithoutRequest`. At most [`MAX_PENDING_TXS`] transactions wait
//!   for their response; past that the oldest is emitted without it.
//! - Gaps: inside a Content-Length or until-close body, or inside chunk data,
//!   the body just skips the missing bytes. Anywhere else the message in
//!   progress is closed as it is (with `Gap`) and the side resynchronises at
//!   the next request start (known method + SP, right after the gap or after
//!   a LF) or response start (`HTTP/1.` anywhere), independent of chunking;
//!   after [`RESYNC_BUDGET`] bytes without one it stops parsing that
//!   direction. A gap while waiting for a protocol switch stops it too.
//!   A gap that starts between messages or runs past the end of a
//!   Content-Length body has taken the start of the next message: on the
//!   to-server side a placeholder transaction (empty request, `Gap`) keeps
//!   the pairing, on the to-client side the next waiting request gets `Gap`
//!   and no response.
//! - `anomalies` holds each kind at most once per transaction.
//! - `host`: the authority of an absolute-form URI if any (RFC 7230 5.4,
//!   libhtp), else the CONNECT target, else the `Host` header; normalised by
//!   [`super::uri::normalize_host`]; `None` when empty. `host_raw` is the
//!   `Host` header value as sent. `uri`: [`super::uri::normalize_uri`].

use std::collections::VecDeque;

use super::http_body::{BodyReader, Fed, Framing, Skip};
use super::http_decompress::{BodySink, layers_for};
use super::http_headers::{
    Eol, content_length, header, headers_named, is_chunked, is_lws, push_header_line, take_line, take_response_line,
    trim_eol, trim_lws,
};
use super::http_start::{
    MAX_START, RESPONSE_START, Start, classify_start, is_status_line, parse_request_line, parse_status_line,
    status_line_start,
};
pub use super::http_start::{looks_like_http_request, looks_like_http_response};
use super::uri::{normalize_host, normalize_uri, split_absolute};
use crate::packet::Direction;

/// Most transactions waiting for a response before the oldest is emitted.
pub const MAX_PENDING_TXS: usize = 256;
/// Bytes scanned for a message start after a gap before giving up.
pub const RESYNC_BUDGET: u64 = 1 << 20;
/// Junk bytes before a status line held while looking for it.
pub const JUNK_MAX: usize = 1024;

/// Parser limits.
#[derive(Debug, Clone, Copy)]
pub struct HttpConfig {
    /// Bytes of each body kept, after de-chunking and decompression.
    pub body_limit: usize,
    /// Bytes of one header block (start line + headers) parsed.
    pub max_header_bytes: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig { body_limit: 64 * 1024, max_header_bytes: 32 * 1024 }
    }
}

/// One request and its response.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct HttpTx {
    /// Request line as sent, without its EOL.
    pub request_line: Vec<u8>,
    /// Request method as sent.
    pub method: Vec<u8>,
    /// Request target as sent.
    pub uri_raw: Vec<u8>,
    /// Normalised request target (`http.uri`).
    pub uri: Vec<u8>,
    /// Request protocol (`HTTP/1.1`), empty for HTTP/0.9.
    pub protocol: Vec<u8>,
    /// Normalised host name (`http.host`).
    pub host: Option<Vec<u8>>,
    /// `Host` header as sent.
    pub host_raw: Option<Vec<u8>>,
    /// `User-Agent` header.
    pub user_agent: Option<Vec<u8>>,
    /// `Cookie` header.
    pub cookie: Option<Vec<u8>>,
    /// `Referer` header.
    pub referer: Option<Vec<u8>>,
    /// Request `Content-Type` header.
    pub request_content_type: Option<Vec<u8>>,
    /// Request headers in order, names as sent.
    pub request_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The request header lines exactly as sent, line ends included (`http.header.raw`).
    pub request_headers_raw: Vec<u8>,
    /// Decoded request body (at most `body_limit` bytes).
    pub request_body: Vec<u8>,
    /// Request body length (see the module doc).
    pub request_body_len: u64,
    /// Response line as sent, without its EOL.
    pub response_line: Vec<u8>,
    /// Status code of the final response.
    pub status: Option<u16>,
    /// Status message.
    pub status_msg: Vec<u8>,
    /// Response protocol.
    pub response_protocol: Vec<u8>,
    /// Response headers in order, names as sent.
    pub response_headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The response header lines exactly as sent, line ends included.
    pub response_headers_raw: Vec<u8>,
    /// Response `Content-Type` header.
    pub response_content_type: Option<Vec<u8>>,
    /// Decoded response body (at most `body_limit` bytes).
    pub response_body: Vec<u8>,
    /// Response body length (see the module doc).
    pub response_body_len: u64,
    /// `Location` header.
    pub location: Option<Vec<u8>>,
    /// Anomalies met, each at most once.
    pub anomalies: Vec<HttpAnomaly>,
}

/// Protocol anomalies recorded on a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpAnomaly {
    /// Malformed request line.
    InvalidRequestLine,
    /// Malformed response line or status.
    InvalidResponseLine,
    /// Header block longer than `max_header_bytes`.
    HeaderTooLong,
    /// Invalid chunk size.
    InvalidChunk,
    /// Content-Encoding could not be decoded.
    GzipError,
    /// Body longer than `body_limit` after decoding.
    BodyTruncated,
    /// Response with no request to pair with.
    ResponseWithoutRequest,
    /// Bytes missing from the stream.
    Gap,
}

fn add_anomaly(tx: &mut HttpTx, a: HttpAnomaly) {
    if !tx.anomalies.contains(&a) {
        tx.anomalies.push(a);
    }
}

#[derive(Debug)]
enum Phase {
    StartLine,
    Headers,
    Body(Box<BodyReader>),
    /// To-client lines that are not a status line, held up to [`JUNK_MAX`].
    Junk,
    AwaitSwitch,
    Resync {
        scanned: u64,
        line_start: bool,
    },
    Tunnel,
    Dead,
}

#[derive(Debug)]
struct Side {
    phase: Phase,
    /// Line being collected (start line, header, junk).
    line: Vec<u8>,
    line_overflow: bool,
    /// Bytes of the current header block so far.
    head_bytes: usize,
    /// `head_bytes` when the current line started.
    line_start_bytes: usize,
    head_too_long: bool,
    /// Client bytes held during AwaitSwitch; junk lines (Junk); a cut
    /// message start (Resync).
    held: Vec<u8>,
    /// To-client end-of-line bytes still undecided.
    eol: Eol,
    /// Drop one LF at the next byte (after a `SP LF` header terminator).
    skip_lf: bool,
    /// Last header line ended with CR LF.
    last_crlf: bool,
    /// Inside a deformed end of line (0: no, 1: yes, 2: yes and LF seen).
    deformed: u8,
}

impl Side {
    fn new() -> Side {
        Side {
            phase: Phase::StartLine,
            line: Vec::new(),
            line_overflow: false,
            head_bytes: 0,
            line_start_bytes: 0,
            head_too_long: false,
            held: Vec::new(),
            eol: Eol::None,
            skip_lf: false,
            last_crlf: false,
            deformed: 0,
        }
    }

    fn reset_head(&mut self) {
        self.line.clear();
        self.last_crlf = false;
        self.deformed = 0;
        self.line_overflow = false;
        self.head_bytes = 0;
        self.line_start_bytes = 0;
        self.head_too_long = false;
    }
}

#[derive(Debug, Default)]
struct Slot {
    tx: HttpTx,
    req_done: bool,
    resp_done: bool,
    http09: bool,
    expects_switch: bool,
}

/// Per-connection HTTP/1.x parser state.
#[derive(Debug)]
pub struct HttpState {
    cfg: HttpConfig,
    slots: VecDeque<Slot>,
    /// Index (since the connection start) of `slots[0]`.
    base: u64,
    /// Index of the request being parsed.
    req_idx: u64,
    /// Index of the request the current/next response answers.
    resp_idx: u64,
    req: Side,
    resp: Side,
    /// Stand-in for a response whose transaction was already emitted.
    scratch: Slot,
    /// A gap took the start of the next response.
    resp_lost: bool,
    closed: bool,
}

impl HttpState {
    /// New parser for one connection.
    pub fn new(cfg: HttpConfig) -> Self {
        HttpState {
            cfg,
            slots: VecDeque::new(),
            base: 0,
            req_idx: 0,
            resp_idx: 0,
            req: Side::new(),
            resp: Side::new(),
            scratch: Slot::default(),
            resp_lost: false,
            closed: false,
        }
    }

    /// In-order stream bytes of one direction (already TCP-reassembled),
    /// arbitrary chunking. Completed transactions (request + its response
    /// complete) are pushed to `out` in request order.
    pub fn feed(&mut self, dir: Direction, data: &[u8], out: &mut Vec<HttpTx>) {
        if self.closed {
            return;
        }
        match dir {
            Direction::ToServer => self.feed_request(data),
            Direction::ToClient => self.feed_response(data),
        }
        self.drain(out);
    }

    /// `len` bytes are missing in `dir` (TCP gap): record the anomaly, try to
    /// resync at the next message start if cheap, else stop parsing that
    /// direction.
    pub fn gap(&mut self, dir: Direction, len: u64) {
        if self.closed || len == 0 {
            return;
        }
        let to_server = dir == Direction::ToServer;
        let side = self.side(to_server);
        let phase = std::mem::replace(&mut side.phase, Phase::Dead);
        // What the gap did to the message in progress.
        let (finish, lost_next, resync) = match phase {
            Phase::Body(mut reader) => {
                let skip = reader.skip(len);
                let complete = reader.is_complete();
                let wire = reader.wire_len;
                let slot = if to_server { self.req_slot() } else { self.resp_slot() };
                add_anomaly(&mut slot.tx, HttpAnomaly::Gap);
                if to_server {
                    slot.tx.request_body_len = wire;
                } else {
                    slot.tx.response_body_len = wire;
                }
                match skip {
                    Skip::InBody if !complete => {
                        self.side(to_server).phase = Phase::Body(reader);
                        return;
                    }
                    Skip::InBody => (true, false, false),
                    Skip::PastEnd => (true, true, true),
                    Skip::Lost => (true, false, true),
                }
            }
            Phase::Headers | Phase::Junk => {
                let slot = if to_server { self.req_slot() } else { self.resp_slot() };
                add_anomaly(&mut slot.tx, HttpAnomaly::Gap);
                (true, false, true)
            }
            // The gap takes (at least) the start of the next message.
            Phase::StartLine => (false, true, true),
            Phase::Resync { .. } => (false, false, true),
            Phase::AwaitSwitch => {
                if let Some(slot) = self.slots.back_mut() {
                    add_anomaly(&mut slot.tx, HttpAnomaly::Gap);
                }
                self.req.held = Vec::new();
                return;
            }
            Phase::Tunnel | Phase::Dead => {
                self.side(to_server).phase = phase;
                return;
            }
        };
        if finish {
            if to_server {
                self.finish_request();
            } else {
                self.resp.held = Vec::new();
                self.finish_response();
            }
        }
        if lost_next {
            if to_server {
                // Keep request/response pairing: a request was lost.
                let mut slot = Slot { req_done: true, ..Slot::default() };
                add_anomaly(&mut slot.tx, HttpAnomaly::Gap);
                self.slots.push_back(slot);
                self.req_idx = self.base + self.slots.len() as u64 - 1;
            } else {
                self.resp_lost = true;
            }
        }
        if resync {
            let side = self.side(to_server);
            side.reset_head();
            side.eol = Eol::None;
            side.skip_lf = false;
            side.held = Vec::new();
            side.phase = Phase::Resync { scanned: 0, line_start: true };
        }
    }

    /// Flow ended: push every transaction that has at least a request line
    /// (response possibly missing or partial), in order. Response-only
    /// transactions and gap placeholders are pushed too. A start or header
    /// line cut by the end of the flow is parsed as it is.
    pub fn close(&mut self, out: &mut Vec<HttpTx>) {
        if self.closed {
            return;
        }
        let pending = self.resp.eol != Eol::None || !self.resp.line.is_empty();
        if pending && matches!(self.resp.phase, Phase::StartLine | Phase::Headers) {
            // The connection end also ends the line in progress.
            self.resp.eol = Eol::None;
            let mut line = std::mem::take(&mut self.resp.line);
            if matches!(self.resp.phase, Phase::Headers) {
                self.response_header_line(&line);
            } else {
                self.response_line(&line);
            }
            line.clear();
            self.resp.line = line;
        }
        if matches!(self.resp.phase, Phase::Junk) {
            self.junk_to_body();
        }
        if matches!(self.resp.phase, Phase::Headers) {
            fill_response_fields(&mut self.resp_slot().tx);
        }
        if let Phase::Body(reader) = &self.resp.phase
            && reader.framing() == Framing::UntilClose
        {
            self.finish_response();
        }
        // Same for a request line or header line cut by the end.
        if !self.req.line.is_empty() && matches!(self.req.phase, Phase::StartLine | Phase::Headers) {
            let mut line = std::mem::take(&mut self.req.line);
            if matches!(self.req.phase, Phase::Headers) {
                self.request_header_line(&line);
            } else {
                self.request_line(&line);
            }
            line.clear();
            self.req.line = line;
        }
        if matches!(self.req.phase, Phase::Headers) {
            fill_request_fields(&mut self.req_slot().tx);
        }
        self.closed = true;
        self.req.phase = Phase::Dead;
        self.resp.phase = Phase::Dead;
        while let Some(slot) = self.slots.pop_front() {
            self.base += 1;
            out.push(slot.tx);
        }
    }

    fn side(&mut self, to_server: bool) -> &mut Side {
        if to_server { &mut self.req } else { &mut self.resp }
    }

    fn slot_at(&mut self, idx: u64) -> &mut Slot {
        let pos = idx.checked_sub(self.base).and_then(|p| usize::try_from(p).ok());
        match pos.and_then(|p| self.slots.get_mut(p)) {
            Some(s) => s,
            None => &mut self.scratch,
        }
    }

    fn req_slot(&mut self) -> &mut Slot {
        self.slot_at(self.req_idx)
    }

    fn resp_slot(&mut self) -> &mut Slot {
        self.slot_at(self.resp_idx)
    }

    fn drain(&mut self, out: &mut Vec<HttpTx>) {
        while let Some(front) = self.slots.front() {
            let complete = front.req_done && front.resp_done;
            if !complete && self.slots.len() <= MAX_PENDING_TXS {
                break;
            }
            if let Some(slot) = self.slots.pop_front() {
                self.base += 1;
                out.push(slot.tx);
            }
        }
    }

    // ----- to-server -----

    fn feed_request(&mut self, data: &[u8]) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            if std::mem::take(&mut self.req.skip_lf) && rest[0] == b'\n' {
                pos += 1;
                continue;
            }
            let phase = std::mem::replace(&mut self.req.phase, Phase::Dead);
            match phase {
                Phase::Dead | Phase::Tunnel | Phase::Junk => {
                    self.req.phase = phase;
                    return;
                }
                Phase::AwaitSwitch => {
                    if self.req.held.len() + rest.len() > self.cfg.max_header_bytes {
                        self.req.held = Vec::new();
                        // Phase stays Dead: the stream is not HTTP we can follow.
                    } else {
                        self.req.held.extend_from_slice(rest);
                        self.req.phase = Phase::AwaitSwitch;
                    }
                    return;
                }
                Phase::Resync { scanned, line_start } => {
                    pos += self.resync(true, rest, scanned, line_start);
                }
                Phase::StartLine | Phase::Headers => {
                    let headers = matches!(phase, Phase::Headers);
                    self.req.phase = phase;
                    let Some(consumed) = self.take_side_line(true, rest) else {
                        return;
                    };
                    pos += consumed;
                    let mut line = std::mem::take(&mut self.req.line);
                    if headers {
                        self.request_header_line(&line);
                    } else {
                        self.request_line(&line);
                    }
                    line.clear();
                    self.req.line = line;
                }
                Phase::Body(mut reader) => {
                    let limit = self.cfg.body_limit;
                    let slot = self.req_slot();
                    let mut sink = BodySink { buf: &mut slot.tx.request_body, limit, truncated: false };
                    let fed = reader.feed(rest, &mut sink);
                    let truncated = sink.truncated;
                    slot.tx.request_body_len = reader.wire_len;
                    note_body(&mut slot.tx, truncated, reader.decoder.error);
                    pos += fed.consumed;
                    if fed.invalid_chunk {
                        add_anomaly(&mut slot.tx, HttpAnomaly::InvalidChunk);
                        self.finish_request();
                        self.req.phase = Phase::Dead;
                        return;
                    }
                    if fed.done {
                        self.finish_request();
                    } else {
                        self.req.phase = Phase::Body(reader);
                    }
                }
            }
        }
    }

    /// Collects the next line of a start line or header block into the
    /// side's line buffer. `None`: all of `rest` was consumed, no full line.
    fn take_side_line(&mut self, to_server: bool, rest: &[u8]) -> Option<usize> {
        let max = self.cfg.max_header_bytes;
        let side = self.side(to_server);
        // Room for this line: the block budget left by the previous lines.
        let room = max.saturating_sub(side.line_start_bytes).max(2);
        let t = if to_server {
            take_line(&mut side.line, rest, room, &mut side.line_overflow)
        } else {
            take_response_line(&mut side.line, rest, room, &mut side.line_overflow, &mut side.eol)
        };
        side.head_bytes = side.head_bytes.saturating_add(t.consumed);
        if t.complete {
            side.line_start_bytes = side.head_bytes;
        }
        t.complete.then_some(t.consumed)
    }

    /// True when the header block just exceeded the limit (first time).
    fn head_overflow(&mut self, to_server: bool) -> bool {
        let max = self.cfg.max_header_bytes;
        let side = self.side(to_server);
        let over = side.line_overflow || side.head_bytes > max;
        side.line_overflow = false;
        if over && !side.head_too_long {
            side.head_too_long = true;
            return true;
        }
        false
    }

    fn request_line(&mut self, raw: &[u8]) {
        let line = trim_eol(raw);
        if trim_lws(line).is_empty() {
            self.req.reset_head();
            return;
        }
        let too_long = self.head_overflow(true);
        let mut slot = Slot::default();
        let tx = &mut slot.tx;
        tx.request_line = line.to_vec();
        if too_long {
            add_anomaly(tx, HttpAnomaly::HeaderTooLong);
        }
        let parsed = parse_request_line(line);
        tx.method = parsed.method.to_vec();
        tx.uri_raw = parsed.uri.to_vec();
        tx.protocol = parsed.protocol.to_vec();
        slot.http09 = parsed.http09;
        if parsed.invalid {
            add_anomaly(tx, HttpAnomaly::InvalidRequestLine);
        }
        tx.uri = normalize_uri(&tx.uri_raw);
        slot.expects_switch = tx.method.eq_ignore_ascii_case(b"CONNECT");
        let http09 = slot.http09;
        self.slots.push_back(slot);
        self.req_idx = self.base + self.slots.len() as u64 - 1;
        if http09 {
            self.request_head_done();
        } else {
            self.req.phase = Phase::Headers;
        }
    }

    fn request_header_line(&mut self, raw: &[u8]) {
        let line = trim_eol(raw);
        if line.is_empty() {
            self.request_head_done();
            return;
        }
        if ends_head_loosely(raw, line) {
            self.req.skip_lf = true;
            self.request_head_done();
            return;
        }
        if self.head_overflow(true) {
            add_anomaly(&mut self.req_slot().tx, HttpAnomaly::HeaderTooLong);
        }
        if !self.req.head_too_long {
            let tx = &mut self.req_slot().tx;
            push_header_line(&mut tx.request_headers, line);
            tx.request_headers_raw.extend_from_slice(raw);
        }
    }

    fn request_head_done(&mut self) {
        self.req.reset_head();
        let slot = self.req_slot();
        let tx = &mut slot.tx;
        fill_request_fields(tx);
        if header(&tx.request_headers, "upgrade").is_some() {
            slot.expects_switch = true;
        }
        let h = &slot.tx.request_headers;
        let framing = if is_chunked(h) {
            Some(Framing::Chunked)
        } else {
            content_length(h).filter(|n| *n > 0).map(Framing::Length)
        };
        match framing {
            Some(f) => {
                let layers = layers_for(headers_named(h, "content-encoding"));
                self.req.phase = Phase::Body(Box::new(BodyReader::new(f, layers)));
            }
            None => self.finish_request(),
        }
    }

    fn finish_request(&mut self) {
        self.req.reset_head();
        let slot = self.req_slot();
        slot.req_done = true;
        let switch = slot.expects_switch && !slot.resp_done;
        self.req.phase = if switch { Phase::AwaitSwitch } else { Phase::StartLine };
    }

    // ----- to-client -----

    fn feed_response(&mut self, data: &[u8]) {
        let mut pos = 0;
        while pos < data.len() {
            let rest = &data[pos..];
            if std::mem::take(&mut self.resp.skip_lf) && rest[0] == b'\n' {
                pos += 1;
                continue;
            }
            let phase = std::mem::replace(&mut self.resp.phase, Phase::Dead);
            match phase {
                Phase::Dead | Phase::Tunnel | Phase::AwaitSwitch => {
                    self.resp.phase = phase;
                    return;
                }
                Phase::Resync { scanned, line_start } => {
                    pos += self.resync(false, rest, scanned, line_start);
                }
                Phase::StartLine | Phase::Headers | Phase::Junk => {
                    let kind = match phase {
                        Phase::Headers => 1,
                        Phase::Junk => 2,
                        _ => 0,
                    };
                    self.resp.phase = phase;
                    let Some(consumed) = self.take_side_line(false, rest) else {
                        if kind == 2 && self.resp.held.len() + self.resp.line.len() > JUNK_MAX {
                            self.junk_to_body();
                        }
                        return;
                    };
                    pos += consumed;
                    let mut line = std::mem::take(&mut self.resp.line);
                    match kind {
                        1 => self.response_header_line(&line),
                        2 => self.response_junk_line(&line),
                        _ => self.response_line(&line),
                    }
                    line.clear();
                    self.resp.line = line;
                }
                Phase::Body(mut reader) => {
                    let fed = self.response_body(&mut reader, rest);
                    pos += fed.consumed;
                    if fed.invalid_chunk {
                        add_anomaly(&mut self.resp_slot().tx, HttpAnomaly::InvalidChunk);
                        let bad = reader.take_bad_line();
                        reader.switch_to_until_close();
                        self.response_body(&mut reader, &bad);
                        self.resp.phase = Phase::Body(reader);
                    } else if fed.done {
                        self.finish_response();
                    } else {
                        self.resp.phase = Phase::Body(reader);
                    }
                }
            }
        }
    }

    fn response_body(&mut self, reader: &mut BodyReader, data: &[u8]) -> Fed {
        let limit = self.cfg.body_limit;
        let slot = self.resp_slot();
        let mut sink = BodySink { buf: &mut slot.tx.response_body, limit, truncated: false };
        let fed = reader.feed(data, &mut sink);
        let truncated = sink.truncated;
        slot.tx.response_body_len = reader.wire_len;
        note_body(&mut slot.tx, truncated, reader.decoder.error);
        fed
    }

    fn response_line(&mut self, raw: &[u8]) {
        let line = trim_response_eol(raw);
        let start = status_line_start(line);
        if start == line.len() {
            self.resp.reset_head();
            return;
        }
        let too_long = self.head_overflow(false);
        if std::mem::take(&mut self.resp_lost) {
            // The response of the next waiting request was lost in a gap.
            let idx = self.resp_idx;
            if idx >= self.base && idx < self.base + self.slots.len() as u64 {
                let slot = self.slot_at(idx);
                add_anomaly(&mut slot.tx, HttpAnomaly::Gap);
                slot.resp_done = true;
                self.resp_idx += 1;
            }
        }
        if self.resp_idx >= self.base + self.slots.len() as u64 {
            let mut slot = Slot { req_done: true, ..Slot::default() };
            add_anomaly(&mut slot.tx, HttpAnomaly::ResponseWithoutRequest);
            self.slots.push_back(slot);
            self.resp_idx = self.base + self.slots.len() as u64 - 1;
        } else if self.resp_idx < self.base {
            self.scratch = Slot::default();
        }
        let slot = self.resp_slot();
        if too_long {
            add_anomaly(&mut slot.tx, HttpAnomaly::HeaderTooLong);
        }
        if !is_status_line(line) {
            let http09 = slot.http09;
            if !http09 {
                add_anomaly(&mut slot.tx, HttpAnomaly::InvalidResponseLine);
            }
            self.resp.reset_head();
            if http09 {
                // HTTP/0.9 response: no status line, all body.
                let mut reader = BodyReader::new(Framing::UntilClose, 0);
                self.response_body(&mut reader, raw);
                self.resp.phase = Phase::Body(Box::new(reader));
            } else {
                // Junk: a status line may still follow.
                self.resp.held = raw.to_vec();
                self.resp.phase = Phase::Junk;
            }
            return;
        }
        let tx = &mut slot.tx;
        tx.response_line = line.to_vec();
        let parsed = parse_status_line(&line[start..]);
        tx.response_protocol = parsed.protocol.to_vec();
        tx.status = parsed.status;
        tx.status_msg = parsed.message.to_vec();
        if tx.status.is_none() {
            add_anomaly(tx, HttpAnomaly::InvalidResponseLine);
        }
        tx.response_headers.clear();
        tx.response_headers_raw.clear();
        self.resp.phase = Phase::Headers;
    }

    /// A line after junk that is not a status line.
    fn response_junk_line(&mut self, raw: &[u8]) {
        if is_status_line(trim_response_eol(raw)) {
            self.resp.held = Vec::new();
            self.resp.reset_head();
            self.resp.phase = Phase::StartLine;
            self.response_line(raw);
            return;
        }
        self.resp.held.extend_from_slice(raw);
        if self.resp.held.len() > JUNK_MAX {
            self.junk_to_body();
        }
    }

    /// No status line after the junk: junk and the rest are the body.
    fn junk_to_body(&mut self) {
        let mut held = std::mem::take(&mut self.resp.held);
        held.append(&mut self.resp.line);
        self.resp.reset_head();
        let mut reader = BodyReader::new(Framing::UntilClose, 0);
        self.response_body(&mut reader, &held);
        self.resp.phase = Phase::Body(Box::new(reader));
    }

    fn response_header_line(&mut self, raw: &[u8]) {
        let line = trim_response_eol(raw);
        let eol = &raw[line.len()..];
        if line.iter().all(|b| is_lws(*b)) {
            let side = &mut self.resp;
            if side.deformed > 0 {
                // `CR LF CR [CR SP HT]+ [LF]` before a header: one deformed
                // end of line (libhtp-rs), not the end of the block.
                if side.deformed == 2 {
                    self.response_head_done();
                } else if eol.ends_with(b"\n") {
                    side.deformed = 2;
                }
                return;
            }
            if line.is_empty() && eol == b"\r" && side.last_crlf {
                side.deformed = 1;
                return;
            }
            if line.is_empty() {
                self.response_head_done();
                return;
            }
        }
        if ends_head_loosely(raw, line) {
            self.resp.skip_lf = true;
            self.response_head_done();
            return;
        }
        self.resp.deformed = 0;
        self.resp.last_crlf = eol == b"\r\n";
        if self.head_overflow(false) {
            add_anomaly(&mut self.resp_slot().tx, HttpAnomaly::HeaderTooLong);
        }
        if !self.resp.head_too_long {
            let tx = &mut self.resp_slot().tx;
            push_header_line(&mut tx.response_headers, line);
            tx.response_headers_raw.extend_from_slice(raw);
        }
    }

    fn response_head_done(&mut self) {
        self.resp.reset_head();
        // A CR that ended the block may own the LF that follows.
        if std::mem::take(&mut self.resp.eol) == Eol::Cr {
            self.resp.skip_lf = true;
        }
        let slot = self.resp_slot();
        let tx = &mut slot.tx;
        let status = tx.status.unwrap_or(0);
        let switch = status == 101 && slot.expects_switch;
        if (100..200).contains(&status) && !switch {
            // Interim response: the final one answers the same request.
            tx.response_line.clear();
            tx.response_headers.clear();
            tx.response_headers_raw.clear();
            tx.status = None;
            tx.status_msg.clear();
            tx.response_protocol.clear();
            self.resp.phase = Phase::StartLine;
            return;
        }
        fill_response_fields(tx);
        let connect = tx.method.eq_ignore_ascii_case(b"CONNECT");
        let tunnel = switch || (connect && (200..300).contains(&status));
        let no_body = tunnel || tx.method.eq_ignore_ascii_case(b"HEAD") || status == 204 || status == 304;
        let h = &tx.response_headers;
        let framing = if no_body {
            None
        } else if is_chunked(h) {
            Some(Framing::Chunked)
        } else {
            match content_length(h) {
                Some(0) => None,
                Some(n) => Some(Framing::Length(n)),
                None => Some(Framing::UntilClose),
            }
        };
        match framing {
            Some(f) => {
                let layers = layers_for(headers_named(h, "content-encoding"));
                self.resp.phase = Phase::Body(Box::new(BodyReader::new(f, layers)));
            }
            None if tunnel => {
                // Set the tunnel first so held client bytes are not parsed.
                self.req.phase = Phase::Tunnel;
                self.req.held = Vec::new();
                self.finish_response();
                self.resp.phase = Phase::Tunnel;
            }
            None => self.finish_response(),
        }
    }

    fn finish_response(&mut self) {
        self.resp.reset_head();
        let idx = self.resp_idx;
        let slot = self.resp_slot();
        slot.resp_done = true;
        self.resp_idx += 1;
        self.resp.phase = Phase::StartLine;
        // A request waiting for a protocol switch that did not happen.
        if idx == self.req_idx && matches!(self.req.phase, Phase::AwaitSwitch) {
            self.req.phase = Phase::StartLine;
            let held = std::mem::take(&mut self.req.held);
            self.feed_request(&held);
        }
    }

    // ----- gaps -----

    /// Scans for a message start after a gap; returns bytes consumed.
    /// Candidates: to-server, a known method + SP right after the gap or
    /// after a LF; to-client, `HTTP/1.` anywhere. A candidate cut by the end
    /// of `data` is carried in `held`, so the result does not depend on how
    /// the stream is chunked.
    fn resync(&mut self, to_server: bool, data: &[u8], scanned: u64, line_start: bool) -> usize {
        let carry = std::mem::take(&mut self.side(to_server).held);
        if !carry.is_empty() {
            let mut win = carry.clone();
            win.extend_from_slice(&data[..data.len().min(MAX_START)]);
            match classify_start(to_server, &win) {
                Start::Yes => {
                    let side = self.side(to_server);
                    side.reset_head();
                    side.phase = Phase::StartLine;
                    if to_server {
                        self.feed_request(&carry);
                    } else {
                        self.feed_response(&carry);
                    }
                    return 0;
                }
                Start::Maybe => {
                    // Still undecided: `data` is shorter than a start.
                    let side = self.side(to_server);
                    side.held = win;
                    side.phase = Phase::Resync { scanned, line_start: false };
                    return data.len();
                }
                Start::No => {}
            }
        }
        let mut found = None;
        let mut keep = None;
        if to_server {
            let starts = line_start.then_some(0).into_iter().chain(memchr::memchr_iter(b'\n', data).map(|i| i + 1));
            for at in starts {
                match classify_start(true, &data[at..]) {
                    Start::Yes => {
                        found = Some(at);
                        break;
                    }
                    Start::Maybe if at < data.len() => {
                        keep = Some(at);
                        break;
                    }
                    _ => {}
                }
            }
        } else {
            found = memchr::memmem::find(data, RESPONSE_START);
            if found.is_none() {
                let from = data.len().saturating_sub(RESPONSE_START.len() - 1);
                keep = (from..data.len()).find(|&at| classify_start(false, &data[at..]) == Start::Maybe);
            }
        }
        let side = self.side(to_server);
        if let Some(at) = found {
            side.reset_head();
            side.phase = Phase::StartLine;
            return at;
        }
        if let Some(at) = keep {
            side.held = data[at..].to_vec();
        }
        let scanned = scanned.saturating_add(data.len() as u64);
        side.phase = if scanned > RESYNC_BUDGET {
            side.held = Vec::new();
            Phase::Dead
        } else {
            Phase::Resync { scanned, line_start: data.last() == Some(&b'\n') }
        };
        data.len()
    }
}

/// Request fields derived from the request line and headers.
fn fill_request_fields(tx: &mut HttpTx) {
    let h = &tx.request_headers;
    tx.host_raw = header(h, "host").map(<[u8]>::to_vec);
    tx.user_agent = header(h, "user-agent").map(<[u8]>::to_vec);
    tx.cookie = header(h, "cookie").map(<[u8]>::to_vec);
    tx.referer = header(h, "referer").map(<[u8]>::to_vec);
    tx.request_content_type = header(h, "content-type").map(<[u8]>::to_vec);
    let host = if let Some((authority, _)) = split_absolute(&tx.uri_raw) {
        Some(normalize_host(authority))
    } else if tx.method.eq_ignore_ascii_case(b"CONNECT") && tx.host_raw.is_none() {
        Some(normalize_host(&tx.uri_raw))
    } else {
        tx.host_raw.as_deref().map(normalize_host)
    };
    tx.host = host.filter(|h| !h.is_empty());
}

/// Response fields derived from the headers.
fn fill_response_fields(tx: &mut HttpTx) {
    let h = &tx.response_headers;
    tx.response_content_type = header(h, "content-type").map(<[u8]>::to_vec);
    tx.location = header(h, "location").map(<[u8]>::to_vec);
}

/// A to-client line without its end-of-line bytes (it holds no CR or LF).
fn trim_response_eol(raw: &[u8]) -> &[u8] {
    let end = raw.iter().rposition(|b| *b != b'\r' && *b != b'\n').map_or(0, |e| e + 1);
    &raw[..end]
}

/// A header line of only SP/HT ended by a lone LF ends the header block.
fn ends_head_loosely(raw: &[u8], line: &[u8]) -> bool {
    line.iter().all(|b| is_lws(*b)) && raw.ends_with(b"\n") && !raw.ends_with(b"\r\n") && {
        let eol_len = raw.len() - line.len();
        eol_len == 1
    }
}

fn note_body(tx: &mut HttpTx, truncated: bool, decode_error: bool) {
    if truncated {
        add_anomaly(tx, HttpAnomaly::BodyTruncated);
    }
    if decode_error {
        add_anomaly(tx, HttpAnomaly::GzipError);
    }
}
