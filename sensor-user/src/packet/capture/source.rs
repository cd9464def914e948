//! Byte source of a capture file: opens the file, detects gzip compression by its magic
//! (`1f 8b`), and serves the (decompressed) bytes through one large reusable buffer.
//!
//! The buffer is allocated once (1 MiB) and grown only for a record bigger than it. When a
//! record is not fully buffered, the unread remainder is moved to the front and the rest of
//! the buffer is filled with one large read, so parsers get whole records as slices without
//! any copy or allocation per packet. The source counts the bytes consumed of the
//! decompressed stream (record offsets for errors) and the bytes read from the file
//! (progress of compressed files).

use std::fs::File;
use std::io::{self, BufReader, Chain, Cursor, Read};
use std::ops::Range;
use std::path::Path;

use flate2::bufread::MultiGzDecoder;

use super::error::CaptureError;

/// Initial size of the record buffer.
pub(crate) const BUFFER_SIZE: usize = 1 << 20;

/// Size of the buffer between the file and the gzip decompressor.
const GZIP_INPUT_BUFFER: usize = 256 * 1024;

/// `usize` to `u64`, lossless on every platform Rust supports (saturating otherwise).
pub(crate) fn to_u64(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// `u32` to `usize`, lossless on 32- and 64-bit platforms (saturating otherwise).
pub(crate) fn to_usize(n: u32) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

/// Byte order of the integers in a file or pcapng section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endian {
    /// Least significant byte first.
    Little,
    /// Most significant byte first.
    Big,
}

impl Endian {
    /// The `u16` at `off` in `b`, 0 if `b` is too short (callers check lengths first).
    pub(crate) fn u16_at(self, b: &[u8], off: usize) -> u16 {
        match b.get(off..).and_then(|s| s.first_chunk::<2>()) {
            Some(a) if self == Self::Little => u16::from_le_bytes(*a),
            Some(a) => u16::from_be_bytes(*a),
            None => 0,
        }
    }

    /// The `u32` at `off` in `b`, 0 if `b` is too short (callers check lengths first).
    pub(crate) fn u32_at(self, b: &[u8], off: usize) -> u32 {
        match b.get(off..).and_then(|s| s.first_chunk::<4>()) {
            Some(a) if self == Self::Little => u32::from_le_bytes(*a),
            Some(a) => u32::from_be_bytes(*a),
            None => 0,
        }
    }

    /// The `u64` at `off` in `b`, 0 if `b` is too short (callers check lengths first).
    pub(crate) fn u64_at(self, b: &[u8], off: usize) -> u64 {
        match b.get(off..).and_then(|s| s.first_chunk::<8>()) {
            Some(a) if self == Self::Little => u64::from_le_bytes(*a),
            Some(a) => u64::from_be_bytes(*a),
            None => 0,
        }
    }
}

/// Counts the bytes read from the file and remembers whether the file itself failed (so a
/// read error under the decompressor is reported as I/O, not as corrupt gzip data).
struct Counting {
    inner: Box<dyn Read + Send>,
    count: u64,
    failed: bool,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.inner.read(buf) {
            Ok(n) => {
                self.count = self.count.saturating_add(to_u64(n));
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    self.failed = true;
                }
                Err(e)
            }
        }
    }
}

/// The file with the bytes already read to detect compression put back in front.
type Raw = Chain<Cursor<Vec<u8>>, Counting>;

/// Plain or decompressed stream.
enum Stream {
    Plain(Raw),
    Gzip(Box<MultiGzDecoder<BufReader<Raw>>>),
}

impl Stream {
    fn counting(&self) -> &Counting {
        match self {
            Self::Plain(raw) => raw.get_ref().1,
            Self::Gzip(dec) => dec.get_ref().get_ref().get_ref().1,
        }
    }
}

/// A capture file's bytes, buffered, with offsets.
pub(crate) struct ByteSource {
    name: String,
    stream: Stream,
    /// Zero-initialised once; `buf[start..end]` holds the unread bytes.
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Offset in the (decompressed) stream of `buf[start]`.
    pos: u64,
    /// The stream returned end of file.
    eof: bool,
    file_len: Option<u64>,
}

impl ByteSource {
    /// Opens `path`; its display form names the file in errors.
    pub(crate) fn open(path: &Path) -> Result<Self, CaptureError> {
        let name = path.display().to_string();
        let file = match File::open(path) {
            Ok(f) => f,
            Err(source) => return Err(CaptureError::Io { file: name, source }),
        };
        let file_len = file.metadata().ok().map(|m| m.len());
        Self::new(name, Box::new(file), file_len)
    }

    /// Wraps any reader; `file_len` is the size of what it reads, if known.
    pub(crate) fn new(name: String, inner: Box<dyn Read + Send>, file_len: Option<u64>) -> Result<Self, CaptureError> {
        let mut counting = Counting { inner, count: 0, failed: false };
        let mut head = [0u8; 2];
        let mut got = 0;
        while let Some(rest) = head.get_mut(got..) {
            if rest.is_empty() {
                break;
            }
            match counting.read(rest) {
                Ok(0) => break,
                Ok(n) => got = got.saturating_add(n),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(CaptureError::Io { file: name, source }),
            }
        }
        let prefix = head.get(..got).unwrap_or_default().to_vec();
        let gzip = prefix == [0x1f, 0x8b];
        let raw = Cursor::new(prefix).chain(counting);
        let stream = if gzip {
            let input = BufReader::with_capacity(GZIP_INPUT_BUFFER, raw);
            Stream::Gzip(Box::new(MultiGzDecoder::new(input)))
        } else {
            Stream::Plain(raw)
        };
        Ok(Self { name, stream, buf: vec![0; BUFFER_SIZE], start: 0, end: 0, pos: 0, eof: false, file_len })
    }

    /// The file name used in errors.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Offset in the decompressed stream of the next unread byte.
    pub(crate) fn offset(&self) -> u64 {
        self.pos
    }

    /// Bytes read from the file: the compressed position for gzip files, the same as
    /// [`offset`](Self::offset) for plain ones.
    pub(crate) fn file_offset(&self) -> u64 {
        match self.stream {
            Stream::Plain(_) => self.pos,
            Stream::Gzip(_) => self.stream.counting().count,
        }
    }

    /// Size of the file, when it is a file.
    pub(crate) fn file_len(&self) -> Option<u64> {
        self.file_len
    }

    /// The unread buffered bytes.
    pub(crate) fn available(&self) -> &[u8] {
        self.buf.get(self.start..self.end).unwrap_or_default()
    }

    /// Buffers at least `n` unread bytes if the stream has them; returns how many unread
    /// bytes are buffered (fewer than `n` only at the end of the stream).
    pub(crate) fn fill(&mut self, n: usize) -> Result<usize, CaptureError> {
        let have = self.end.saturating_sub(self.start);
        if have >= n || self.eof {
            return Ok(have);
        }
        // Move the remainder (smaller than one record) to the front, then read as much as
        // the buffer holds.
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = have;
        }
        if self.buf.len() < n {
            self.buf.resize(n.checked_next_power_of_two().unwrap_or(n), 0);
        }
        while self.end.saturating_sub(self.start) < n {
            let Some(space) = self.buf.get_mut(self.end..) else {
                break;
            };
            let result = match &mut self.stream {
                Stream::Plain(raw) => raw.read(space),
                Stream::Gzip(dec) => dec.read(space),
            };
            match result {
                Ok(0) => {
                    self.eof = true;
                    break;
                }
                Ok(k) => self.end = self.end.saturating_add(k).min(self.buf.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(source) => return Err(self.read_error(source)),
            }
        }
        Ok(self.end.saturating_sub(self.start))
    }

    /// Consumes `n` bytes (a whole record) and returns the part `range` of them.
    pub(crate) fn take(&mut self, n: usize, range: Range<usize>) -> &[u8] {
        let base = self.start;
        let n = n.min(self.end.saturating_sub(self.start));
        self.start = self.start.saturating_add(n);
        self.pos = self.pos.saturating_add(to_u64(n));
        let from = base.saturating_add(range.start);
        let to = base.saturating_add(range.end).min(self.start);
        self.buf.get(from..to).unwrap_or_default()
    }

    /// Consumes `n` bytes (a record that is not returned).
    pub(crate) fn skip(&mut self, n: usize) {
        let _ = self.take(n, 0..0);
    }

    /// The error for a failed read at the current record.
    fn read_error(&self, source: io::Error) -> CaptureError {
        let file = self.name.clone();
        match self.stream {
            Stream::Gzip(_) if !self.stream.counting().failed => CaptureError::Gzip { file, offset: self.pos, source },
            _ => CaptureError::Io { file, source },
        }
    }
}
