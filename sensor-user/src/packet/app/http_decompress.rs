//! Streaming, bounded Content-Encoding decoding (gzip, deflate) for bodies.
//!
//! Rules:
//! - `Content-Encoding` values (all such headers, in order) are split on `,`;
//!   each token is trimmed of anything but ASCII letters, digits and `-`, NUL
//!   bytes inside are dropped, and it is compared case-insensitively with
//!   `gzip`, `x-gzip`, `deflate`, `x-deflate`. Every match adds one decoding
//!   layer (at most [`MAX_LAYERS`]); the last listed coding is undone first.
//!   Other tokens (`identity`, `br`, ...) add nothing.
//! - A layer sniffs its input instead of trusting the label: `1f 8b` starts a
//!   gzip member (header flags parsed leniently, reserved flags ignored, the
//!   trailer and anything after the first member ignored); a valid zlib
//!   header starts a zlib stream; anything else is raw deflate.
//! - If a layer fails before producing output it retries, replaying what it
//!   buffered (at most [`REPLAY_MAX`] bytes): raw deflate after the 10-byte
//!   gzip header, raw deflate from the start, zlib from the start, then
//!   passthrough (the bytes are kept undecoded). Failing after output stops the
//!   layer. Either way [`ContentDecoder::error`] is set.
//! - Output is pushed into a [`BodySink`] that keeps at most `limit` bytes;
//!   once it is full decoding stops for good, so a decompression bomb costs
//!   at most `limit` bytes of output plus fixed per-layer buffers.

use flate2::{Decompress, FlushDecompress, Status};

/// Most decoding layers applied to one body (as Suricata's test setting).
pub const MAX_LAYERS: usize = 3;
/// Bytes a layer keeps to retry another format before its first output.
pub const REPLAY_MAX: usize = 4096;
const OUT_BUF: usize = 8192;

/// Bounded destination of decoded body bytes.
#[derive(Debug)]
pub struct BodySink<'a> {
    /// Kept bytes.
    pub buf: &'a mut Vec<u8>,
    /// Most bytes kept in `buf`.
    pub limit: usize,
    /// Set when bytes had to be dropped.
    pub truncated: bool,
}

impl BodySink<'_> {
    /// Keeps what fits; false once the sink is full.
    pub fn push(&mut self, data: &[u8]) -> bool {
        let room = self.limit.saturating_sub(self.buf.len());
        if data.len() > room {
            self.buf.extend_from_slice(&data[..room]);
            self.truncated = true;
            return false;
        }
        self.buf.extend_from_slice(data);
        self.buf.len() < self.limit
    }

    fn full(&self) -> bool {
        self.buf.len() >= self.limit
    }
}

/// Parses a list of Content-Encoding header values into layer count
/// (number of gzip/deflate codings, capped at [`MAX_LAYERS`]).
pub fn layers_for<'a>(values: impl Iterator<Item = &'a [u8]>) -> usize {
    let mut n = 0;
    for v in values {
        for token in v.split(|b| *b == b',') {
            let keep = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-';
            let Some(start) = token.iter().position(keep) else {
                continue;
            };
            let end = token.iter().rposition(keep).map_or(start, |e| e + 1);
            let mut word = [0u8; 16];
            let mut len = 0;
            for &b in &token[start..end] {
                if b == 0 {
                    continue;
                }
                if len == word.len() {
                    len = 0;
                    break;
                }
                word[len] = b.to_ascii_lowercase();
                len += 1;
            }
            if matches!(&word[..len], b"gzip" | b"x-gzip" | b"deflate" | b"x-deflate") {
                n += 1;
            }
        }
    }
    n.min(MAX_LAYERS)
}

/// Format a layer tries, in retry order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Attempt {
    Sniff,
    RawAfterGzipHeader,
    RawFromStart,
    ZlibFromStart,
    Passthrough,
}

impl Attempt {
    fn next(self) -> Attempt {
        match self {
            Attempt::Sniff => Attempt::RawAfterGzipHeader,
            Attempt::RawAfterGzipHeader => Attempt::RawFromStart,
            Attempt::RawFromStart => Attempt::ZlibFromStart,
            Attempt::ZlibFromStart | Attempt::Passthrough => Attempt::Passthrough,
        }
    }
}

/// Progress through a gzip member header.
#[derive(Debug, Clone, Copy)]
enum GzStage {
    Fixed(u8),
    ExtraLen(u8, u16),
    Extra(u16),
    Name,
    Comment,
    HeaderCrc(u8),
}

#[derive(Debug)]
enum Mode {
    /// Waiting for two bytes to pick a format.
    Sniff(Vec<u8>),
    /// Skipping `n` more bytes (gzip fixed header on a retry).
    Skip(usize),
    GzipHeader {
        stage: GzStage,
        flags: u8,
    },
    Inflate(Box<Decompress>),
    Passthrough,
    Finished,
}

/// One decoding layer.
#[derive(Debug)]
struct Layer {
    mode: Mode,
    attempt: Attempt,
    /// Input seen before the first output, for retries.
    replay: Vec<u8>,
    replay_overflow: bool,
    produced: bool,
    out: Vec<u8>,
}

enum Flow {
    More,
    Full,
}

/// Outcome of one inflate call.
enum Step {
    More,
    Full,
    Failed,
}

impl Layer {
    fn new() -> Layer {
        Layer {
            mode: Mode::Sniff(Vec::new()),
            attempt: Attempt::Sniff,
            replay: Vec::new(),
            replay_overflow: false,
            produced: false,
            out: Vec::new(),
        }
    }

    fn start(&mut self, attempt: Attempt) {
        self.attempt = attempt;
        self.mode = match attempt {
            Attempt::Sniff => Mode::Sniff(Vec::new()),
            Attempt::RawAfterGzipHeader => Mode::Skip(10),
            Attempt::RawFromStart => Mode::Inflate(Box::new(Decompress::new(false))),
            Attempt::ZlibFromStart => Mode::Inflate(Box::new(Decompress::new(true))),
            Attempt::Passthrough => Mode::Passthrough,
        };
    }

    /// Feeds `input`; decoded bytes go to `emit`. Returns `Full` when the
    /// final sink can take no more.
    fn push(&mut self, input: &[u8], err: &mut bool, emit: &mut dyn FnMut(&[u8]) -> Flow) -> Flow {
        if !self.produced && !self.replay_overflow {
            if self.replay.len() + input.len() <= REPLAY_MAX {
                self.replay.extend_from_slice(input);
            } else {
                self.replay_overflow = true;
                self.replay = Vec::new();
            }
        }
        let mut data = input;
        while !data.is_empty() {
            match &mut self.mode {
                Mode::Finished => return Flow::More,
                Mode::Passthrough => {
                    self.produced = true;
                    return emit(data);
                }
                Mode::Sniff(head) => {
                    let need = 2 - head.len().min(2);
                    let n = need.min(data.len());
                    head.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if head.len() < 2 {
                        return Flow::More;
                    }
                    let (b0, b1) = (head[0], head[1]);
                    let zlib = b0 & 0x0f == 8
                        && b0 >> 4 <= 7
                        && (u16::from(b0) * 256 + u16::from(b1)) % 31 == 0
                        && b1 & 0x20 == 0;
                    if b0 == 0x1f && b1 == 0x8b {
                        self.mode = Mode::GzipHeader { stage: GzStage::Fixed(2), flags: 0 };
                    } else {
                        self.mode = Mode::Inflate(Box::new(Decompress::new(zlib)));
                        match self.inflate(&[b0, b1], emit) {
                            Step::More => {}
                            Step::Full => return Flow::Full,
                            Step::Failed => return self.fail(err, emit),
                        }
                    }
                }
                Mode::Skip(n) => {
                    let k = (*n).min(data.len());
                    *n -= k;
                    data = &data[k..];
                    if *n == 0 {
                        self.mode = Mode::Inflate(Box::new(Decompress::new(false)));
                    }
                }
                Mode::GzipHeader { stage, flags } => {
                    let b = data[0];
                    data = &data[1..];
                    *stage = match *stage {
                        GzStage::Fixed(i) => {
                            if i == 3 {
                                *flags = b;
                            }
                            if i + 1 < 10 { GzStage::Fixed(i + 1) } else { GzStage::ExtraLen(0, 0) }
                        }
                        GzStage::ExtraLen(i, v) => {
                            let v = v | (u16::from(b) << (8 * i));
                            if i == 0 { GzStage::ExtraLen(1, v) } else { GzStage::Extra(v) }
                        }
                        GzStage::Extra(n) => GzStage::Extra(n.saturating_sub(1)),
                        GzStage::Name if b == 0 => GzStage::Comment,
                        GzStage::Comment if b == 0 => GzStage::HeaderCrc(0),
                        GzStage::HeaderCrc(i) => GzStage::HeaderCrc(i + 1),
                        other => other,
                    };
                    // Skip the stages whose flag is not set, then maybe finish.
                    loop {
                        let next = match *stage {
                            GzStage::ExtraLen(0, 0) if *flags & 0x04 == 0 => GzStage::Name,
                            GzStage::Extra(0) => GzStage::Name,
                            GzStage::Name if *flags & 0x08 == 0 => GzStage::Comment,
                            GzStage::Comment if *flags & 0x10 == 0 => GzStage::HeaderCrc(0),
                            GzStage::HeaderCrc(0) if *flags & 0x02 == 0 => GzStage::HeaderCrc(2),
                            _ => break,
                        };
                        *stage = next;
                    }
                    if let GzStage::HeaderCrc(2) = *stage {
                        self.mode = Mode::Inflate(Box::new(Decompress::new(false)));
                    }
                }
                Mode::Inflate(_) => {
                    return match self.inflate(data, emit) {
                        Step::More => Flow::More,
                        Step::Full => Flow::Full,
                        Step::Failed => self.fail(err, emit),
                    };
                }
            }
        }
        Flow::More
    }

    fn inflate(&mut self, mut data: &[u8], emit: &mut dyn FnMut(&[u8]) -> Flow) -> Step {
        if self.out.len() != OUT_BUF {
            self.out = vec![0; OUT_BUF];
        }
        loop {
            let Mode::Inflate(z) = &mut self.mode else {
                return Step::More;
            };
            let (in0, out0) = (z.total_in(), z.total_out());
            let res = z.decompress(data, &mut self.out, FlushDecompress::None);
            let used = usize::try_from(z.total_in() - in0).unwrap_or(data.len());
            let made = usize::try_from(z.total_out() - out0).unwrap_or(0);
            data = &data[used.min(data.len())..];
            if made > 0 {
                self.produced = true;
                self.replay = Vec::new();
                let out = &self.out[..made.min(OUT_BUF)];
                if let Flow::Full = emit(out) {
                    self.mode = Mode::Finished;
                    return Step::Full;
                }
            }
            match res {
                Ok(Status::StreamEnd) => {
                    self.mode = Mode::Finished;
                    return Step::More;
                }
                Ok(_) if used == 0 && made == 0 => return Step::More,
                Ok(_) if data.is_empty() && made < OUT_BUF => return Step::More,
                Ok(_) => {}
                Err(_) => return Step::Failed,
            }
        }
    }

    /// Decoding failed: retry another format or give up.
    fn fail(&mut self, err: &mut bool, emit: &mut dyn FnMut(&[u8]) -> Flow) -> Flow {
        *err = true;
        if self.produced || self.replay_overflow || self.attempt == Attempt::Passthrough {
            self.mode = Mode::Finished;
            return Flow::More;
        }
        let replay = std::mem::take(&mut self.replay);
        let mut next = self.attempt.next();
        if next == Attempt::RawAfterGzipHeader && !replay.starts_with(&[0x1f, 0x8b]) {
            next = next.next();
        }
        self.start(next);
        // `push` re-buffers the replayed bytes for a further retry.
        self.push(&replay, err, emit)
    }
}

/// Chain of decoding layers for one body.
#[derive(Debug)]
pub struct ContentDecoder {
    layers: Vec<Layer>,
    /// Set once any layer failed.
    pub error: bool,
    done: bool,
}

impl ContentDecoder {
    /// A decoder undoing `layers` codings (0 = identity).
    pub fn new(layers: usize) -> ContentDecoder {
        ContentDecoder {
            layers: (0..layers.min(MAX_LAYERS)).map(|_| Layer::new()).collect(),
            error: false,
            done: false,
        }
    }

    /// Decodes `data` (body bytes after de-chunking) into `sink`.
    pub fn push(&mut self, data: &[u8], sink: &mut BodySink<'_>) {
        if self.done || data.is_empty() {
            return;
        }
        if sink.full() {
            sink.truncated = true;
            self.done = true;
            return;
        }
        let mut err = false;
        let flow = push_layers(&mut self.layers, data, &mut err, sink);
        self.error |= err;
        if let Flow::Full = flow {
            self.done = true;
        }
    }
}

fn push_layers(layers: &mut [Layer], data: &[u8], err: &mut bool, sink: &mut BodySink<'_>) -> Flow {
    match layers.split_last_mut() {
        None => {
            if sink.push(data) {
                Flow::More
            } else {
                Flow::Full
            }
        }
        Some((outer, inner)) => {
            // The outermost coding (listed last) is undone first.
            let mut inner_err = false;
            let flow = outer.push(data, err, &mut |chunk| push_layers(inner, chunk, &mut inner_err, sink));
            *err |= inner_err;
            flow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
    use std::io::Write;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        let _ = e.write_all(data);
        e.finish().unwrap_or_default()
    }

    fn decode(layers: usize, data: &[u8], step: usize, limit: usize) -> (Vec<u8>, bool, bool) {
        let mut d = ContentDecoder::new(layers);
        let mut buf = Vec::new();
        let mut sink = BodySink { buf: &mut buf, limit, truncated: false };
        for c in data.chunks(step.max(1)) {
            d.push(c, &mut sink);
        }
        let t = sink.truncated;
        (buf, d.error, t)
    }

    #[test]
    fn formats_are_sniffed() {
        let text = b"hello hello hello hello world".repeat(50);
        let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
        let _ = z.write_all(&text);
        let zlib = z.finish().unwrap_or_default();
        let mut r = DeflateEncoder::new(Vec::new(), Compression::default());
        let _ = r.write_all(&text);
        let raw = r.finish().unwrap_or_default();
        for enc in [gz(&text), zlib, raw] {
            for step in [1, 7, 4096] {
                let (out, e, t) = decode(1, &enc, step, 1 << 20);
                assert_eq!(out, text);
                assert!(!e && !t);
            }
        }
    }

    #[test]
    fn nested_layers_and_passthrough() {
        let text = b"EICAR-ish payload".to_vec();
        let (out, _, _) = decode(2, &gz(&gz(&text)), 3, 1000);
        assert_eq!(out, text);
        // Declared but not actually compressed: kept as is, error flagged.
        let (out, e, _) = decode(1, b"plain text body, not compressed", 5, 1000);
        assert_eq!(out, b"plain text body, not compressed");
        assert!(e);
    }

    #[test]
    fn token_parsing() {
        let v: [&[u8]; 2] = [b"gzip, x-Deflate", b" identity ,\0gz\0ip\x0b"];
        assert_eq!(layers_for(v.into_iter()), 3);
        let v: [&[u8]; 1] = [b"br, compress"];
        assert_eq!(layers_for(v.into_iter()), 0);
    }

    #[test]
    fn bomb_is_bounded() {
        let zeros = vec![0u8; 8 << 20];
        let enc = gz(&zeros);
        let (out, _, t) = decode(1, &enc, 1024, 1000);
        assert_eq!(out.len(), 1000);
        assert!(t);
    }
}
