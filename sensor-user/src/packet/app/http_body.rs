//! HTTP/1.x message-body framing: Content-Length, chunked, until close.
//!
//! Chunked rules (libhtp-like, tolerant):
//! - A chunk-size line has leading CR, LF, SP, HT, VT and FF skipped; a line
//!   with nothing else (e.g. a stray CRLF before the size) is ignored. The
//!   size is the run of hex digits that follows; anything after it (chunk
//!   extensions, junk) is ignored. No digit, more than [`MAX_CHUNK_LINE`]
//!   bytes, or a size above `i32::MAX` is an invalid chunk.
//! - After chunk data, CR bytes and one LF are consumed; anything else is
//!   left for the next size line (a missing CRLF is tolerated).
//! - The last chunk (size 0) is followed by trailer lines up to an empty
//!   line; trailers are discarded.
//! - A size line is invalid as soon as its first byte after those blanks is
//!   not a hex digit (checked while the line is still arriving, so a body
//!   wrongly labelled chunked is noticed without waiting for a LF).
//! - On an invalid chunk the reader reports it; the caller decides (the
//!   response side then treats the rest of the stream as an identity body,
//!   as libhtp does).
//!
//! `wire_len` counts message-body bytes after removing chunk framing and
//! before content decoding (libhtp's `*_message_len`, Suricata's
//! `http.length`).

use super::http_decompress::{BodySink, ContentDecoder};
use super::http_headers::{take_line, trim_eol};

/// Longest chunk-size or trailer line kept.
pub const MAX_CHUNK_LINE: usize = 1024;

/// How the end of a body is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until the connection closes.
    UntilClose,
}

/// Where a capture gap left a body ([`BodyReader::skip`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Skip {
    /// Still inside the body (which may now be complete).
    InBody,
    /// The gap ran past the end of a Content-Length body into what follows.
    PastEnd,
    /// Framing lost (gap over chunk framing).
    Lost,
}

#[derive(Debug)]
enum Chunk {
    Size,
    Data(u64),
    DataEnd,
    Trailer,
}

/// What a [`BodyReader::feed`] call did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    /// Input bytes consumed.
    pub consumed: usize,
    /// The body is complete.
    pub done: bool,
    /// An invalid chunk-size line was met (the body stopped there; the bytes
    /// of that line are in [`BodyReader::take_bad_line`]).
    pub invalid_chunk: bool,
}

/// Incremental reader of one message body.
#[derive(Debug)]
pub struct BodyReader {
    framing: Framing,
    remaining: u64,
    chunk: Chunk,
    line: Vec<u8>,
    line_overflow: bool,
    /// Body bytes after de-chunking (see the module doc).
    pub wire_len: u64,
    /// Content decoding of the de-chunked bytes.
    pub decoder: ContentDecoder,
}

impl BodyReader {
    /// A reader for `framing`, undoing `layers` content codings.
    pub fn new(framing: Framing, layers: usize) -> BodyReader {
        BodyReader {
            framing,
            remaining: match framing {
                Framing::Length(n) => n,
                _ => 0,
            },
            chunk: Chunk::Size,
            line: Vec::new(),
            line_overflow: false,
            wire_len: 0,
            decoder: ContentDecoder::new(layers),
        }
    }

    /// The framing in use.
    pub fn framing(&self) -> Framing {
        self.framing
    }

    /// Switches to an identity body until close (after an invalid chunk).
    pub fn switch_to_until_close(&mut self) {
        self.framing = Framing::UntilClose;
    }

    /// The partial line held when an invalid chunk was reported.
    pub fn take_bad_line(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.line)
    }

    /// Consumes body bytes from `data`, pushing decoded content to `sink`.
    pub fn feed(&mut self, data: &[u8], sink: &mut BodySink<'_>) -> Fed {
        match self.framing {
            Framing::UntilClose => {
                self.content(data, sink);
                Fed { consumed: data.len(), done: false, invalid_chunk: false }
            }
            Framing::Length(_) => {
                let n = usize::try_from(self.remaining).unwrap_or(usize::MAX).min(data.len());
                self.content(&data[..n], sink);
                self.remaining -= n as u64;
                Fed { consumed: n, done: self.remaining == 0, invalid_chunk: false }
            }
            Framing::Chunked => self.chunked(data, sink),
        }
    }

    /// `len` body bytes were lost to a capture gap. The missing bytes count
    /// in `wire_len` as far as they belong to this body.
    pub fn skip(&mut self, len: u64) -> Skip {
        match self.framing {
            Framing::UntilClose => {
                self.wire_len = self.wire_len.saturating_add(len);
                Skip::InBody
            }
            Framing::Length(_) => {
                let n = len.min(self.remaining);
                self.wire_len += n;
                self.remaining -= n;
                if len > n { Skip::PastEnd } else { Skip::InBody }
            }
            Framing::Chunked => match self.chunk {
                Chunk::Data(n) if len < n => {
                    self.wire_len += len;
                    self.chunk = Chunk::Data(n - len);
                    Skip::InBody
                }
                _ => Skip::Lost,
            },
        }
    }

    /// True when a Content-Length body has been fully read.
    pub fn is_complete(&self) -> bool {
        matches!(self.framing, Framing::Length(_)) && self.remaining == 0
    }

    fn content(&mut self, data: &[u8], sink: &mut BodySink<'_>) {
        self.wire_len = self.wire_len.saturating_add(data.len() as u64);
        self.decoder.push(data, sink);
    }

    fn chunked(&mut self, data: &[u8], sink: &mut BodySink<'_>) -> Fed {
        let mut pos = 0;
        let mut fed = Fed { consumed: 0, done: false, invalid_chunk: false };
        while pos < data.len() {
            let rest = &data[pos..];
            match self.chunk {
                Chunk::Size | Chunk::Trailer => {
                    let t = take_line(&mut self.line, rest, MAX_CHUNK_LINE, &mut self.line_overflow);
                    pos += t.consumed;
                    let is_size = matches!(self.chunk, Chunk::Size);
                    if is_size && (self.line_overflow || !size_prefix_ok(&self.line)) {
                        fed.invalid_chunk = true;
                        break;
                    }
                    if !t.complete {
                        continue;
                    }
                    if let Chunk::Trailer = self.chunk {
                        let empty = trim_eol(&self.line).is_empty();
                        self.line.clear();
                        self.line_overflow = false;
                        if empty {
                            fed.done = true;
                            break;
                        }
                        continue;
                    }
                    match parse_chunk_size(&self.line) {
                        ChunkSize::Blank => {
                            self.line.clear();
                        }
                        ChunkSize::Size(n) if !self.line_overflow => {
                            self.line.clear();
                            self.chunk = if n == 0 { Chunk::Trailer } else { Chunk::Data(n) };
                        }
                        _ => {
                            fed.invalid_chunk = true;
                            break;
                        }
                    }
                }
                Chunk::Data(n) => {
                    let k = usize::try_from(n).unwrap_or(usize::MAX).min(rest.len());
                    self.content(&rest[..k], sink);
                    pos += k;
                    let left = n - k as u64;
                    self.chunk = if left == 0 { Chunk::DataEnd } else { Chunk::Data(left) };
                }
                Chunk::DataEnd => match rest[0] {
                    b'\r' => pos += 1,
                    b'\n' => {
                        pos += 1;
                        self.chunk = Chunk::Size;
                    }
                    _ => self.chunk = Chunk::Size,
                },
            }
        }
        fed.consumed = pos;
        fed
    }
}

const SIZE_LEAD: &[u8] = b"\r\n \t\x0b\x0c";

/// False as soon as the first byte after the leading blanks of a size line
/// is not a hex digit (the body is not chunked after all).
fn size_prefix_ok(line: &[u8]) -> bool {
    match line.iter().find(|b| !SIZE_LEAD.contains(b)) {
        Some(b) => b.is_ascii_hexdigit(),
        None => true,
    }
}

enum ChunkSize {
    Blank,
    Size(u64),
    Invalid,
}

fn parse_chunk_size(line: &[u8]) -> ChunkSize {
    let start = line.iter().position(|b| !SIZE_LEAD.contains(b));
    let Some(start) = start else {
        return ChunkSize::Blank;
    };
    let mut n: u64 = 0;
    let mut digits = 0;
    for &b in &line[start..] {
        let Some(d) = (b as char).to_digit(16) else {
            break;
        };
        n = n * 16 + u64::from(d);
        digits += 1;
        if n > i32::MAX as u64 {
            return ChunkSize::Invalid;
        }
    }
    if digits == 0 { ChunkSize::Invalid } else { ChunkSize::Size(n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(framing: Framing, input: &[u8], step: usize) -> (Vec<u8>, Fed, u64, usize) {
        let mut r = BodyReader::new(framing, 0);
        let mut buf = Vec::new();
        let mut sink = BodySink { buf: &mut buf, limit: 1 << 16, truncated: false };
        let mut total = 0;
        let mut last = Fed { consumed: 0, done: false, invalid_chunk: false };
        for c in input.chunks(step) {
            let mut off = 0;
            while off < c.len() {
                last = r.feed(&c[off..], &mut sink);
                off += last.consumed;
                total += last.consumed;
                if last.done || last.invalid_chunk {
                    break;
                }
            }
            if last.done || last.invalid_chunk {
                break;
            }
        }
        (buf, last, r.wire_len, total)
    }

    #[test]
    fn chunked_variants() {
        let cases: [&[u8]; 5] = [
            b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-T: 1\r\n\r\nNEXT",
            b"\r\n5 \r\nhello\r\n006\r\n world\r\n0\r\n\r\nNEXT",
            b"5\nhello\n6\n world\n0\n\nNEXT",
            b"5\r\nhello6\r\n world\r\n00\r\n\r\nNEXT",
            b"\t5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT",
        ];
        for case in cases {
            for step in [1, 3, case.len()] {
                let (body, fed, wire, total) = run(Framing::Chunked, case, step);
                assert_eq!(body, b"hello world", "{:?}", String::from_utf8_lossy(case));
                assert!(fed.done);
                assert_eq!(wire, 11);
                assert_eq!(&case[total..], b"NEXT");
            }
        }
    }

    #[test]
    fn invalid_chunk_reported() {
        let (_, fed, _, _) = run(Framing::Chunked, b"zz\r\nhello", 100);
        assert!(fed.invalid_chunk && !fed.done);
        let (_, fed, _, _) = run(Framing::Chunked, b"ffffffffff\r\n", 100);
        assert!(fed.invalid_chunk);
    }

    #[test]
    fn length_and_gap_skip() {
        let (body, fed, _, total) = run(Framing::Length(3), b"abcdef", 2);
        assert_eq!(body, b"abc");
        assert!(fed.done && total == 3);
        let mut r = BodyReader::new(Framing::Length(10), 0);
        assert_eq!(r.skip(4), Skip::InBody);
        assert_eq!(r.skip(7), Skip::PastEnd);
        assert!(r.is_complete() && r.wire_len == 10);
        let mut r = BodyReader::new(Framing::Chunked, 0);
        assert_eq!(r.skip(1), Skip::Lost);
    }
}
