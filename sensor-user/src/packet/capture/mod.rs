//! Reading packets from capture files: classic pcap (both byte orders, micro- and
//! nanosecond timestamps) and pcapng (several sections and interfaces), plain or
//! gzip-compressed.
//!
//! [`CaptureReader`] reads through one large reusable buffer and hands out each packet as a
//! slice into it, valid until the next call: nothing is allocated per packet. A damaged file
//! gives every packet before the damage, then one [`CaptureError`] naming the file and the
//! byte offset of the bad record, then the end.
//!
//! ```ignore
//! # use std::path::Path;
//! # use capture::packet::capture::CaptureReader;
//! let mut reader = CaptureReader::open(Path::new("trace.pcap.gz"))?;
//! while let Some(pkt) = reader.next_packet()? {
//!     println!("{} {:?} {} bytes", pkt.ts_ns, pkt.link, pkt.data.len());
//! }
//! # Ok::<(), capture::packet::capture::CaptureError>(())
//! ```

#![deny(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]

mod error;
mod pcap;
mod pcapng;
mod source;
#[cfg(test)]
#[allow(
    clippy::arithmetic_side_effects,
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic
)]
mod tests;

use std::io::Read;
use std::path::Path;

pub use error::{CaptureError, MAX_HEADER_LEN, MAX_PACKET_LEN};

use source::ByteSource;

/// Link-layer type of a packet (LINKTYPE_* numbers of the pcap and pcapng formats).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkType {
    /// 1: Ethernet II / 802.3.
    Ethernet,
    /// 0: BSD loopback; a 4-byte address family in the byte order of the machine that
    /// captured (not necessarily the file's): decoders try both orders.
    Null,
    /// 108: OpenBSD loopback; a 4-byte address family in network byte order.
    Loop,
    /// 101 (also 12 and 14, the DLT_RAW values of some systems): raw IPv4 or IPv6.
    Raw,
    /// 228: raw IPv4.
    Ipv4,
    /// 229: raw IPv6.
    Ipv6,
    /// 113: Linux "cooked" capture, version 1.
    LinuxSll,
    /// 276: Linux "cooked" capture, version 2.
    LinuxSll2,
    /// Any other link type, by number.
    Other(u32),
}

impl LinkType {
    /// The link type for a LINKTYPE_* number.
    pub fn from_u32(v: u32) -> Self {
        match v {
            0 => Self::Null,
            1 => Self::Ethernet,
            12 | 14 | 101 => Self::Raw,
            108 => Self::Loop,
            113 => Self::LinuxSll,
            228 => Self::Ipv4,
            229 => Self::Ipv6,
            276 => Self::LinuxSll2,
            other => Self::Other(other),
        }
    }

    /// The LINKTYPE_* number (101 for [`LinkType::Raw`]).
    pub fn as_u32(self) -> u32 {
        match self {
            Self::Null => 0,
            Self::Ethernet => 1,
            Self::Raw => 101,
            Self::Loop => 108,
            Self::LinuxSll => 113,
            Self::Ipv4 => 228,
            Self::Ipv6 => 229,
            Self::LinuxSll2 => 276,
            Self::Other(v) => v,
        }
    }
}

/// Format of a capture file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap.
    Pcap {
        /// Nanosecond timestamps (magic `a1b23c4d`) rather than microseconds (`a1b2c3d4`).
        nanos: bool,
        /// The file is big-endian (magic bytes `a1 b2 ..` on disk), i.e. swapped relative to
        /// the usual little-endian writers.
        swapped: bool,
    },
    /// pcapng.
    PcapNg,
}

/// One packet, borrowed from the reader's buffer until the next call.
#[derive(Debug, Clone, Copy)]
pub struct CapturedPacket<'a> {
    /// Capture time in nanoseconds since the Unix epoch (0 for pcapng simple packet blocks,
    /// which have none; saturates at `u64::MAX` for timestamps past the year 2554).
    pub ts_ns: u64,
    /// Link-layer type of `data`.
    pub link: LinkType,
    /// Interface number: 0 for classic pcap; for pcapng the index of the interface among
    /// all interface description blocks of the file (counted across sections).
    pub interface: u32,
    /// Length of the packet on the wire (may exceed `data.len()` when truncated).
    pub orig_len: u32,
    /// The captured bytes.
    pub data: &'a [u8],
}

/// Non-fatal oddities seen so far, as counts by kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureWarnings {
    /// Packets longer than their interface's (non-zero) snaplen; accepted as they are.
    pub caplen_over_snaplen: u64,
    /// Packets with more captured bytes than their original length; accepted as they are.
    pub caplen_over_orig_len: u64,
    /// Classic pcap records whose sub-second field is out of range (at least 10^6 µs or
    /// 10^9 ns); the excess counts as whole seconds.
    pub timestamp_fraction_out_of_range: u64,
    /// pcapng name resolution blocks skipped.
    pub name_resolution_blocks: u64,
    /// pcapng interface statistics blocks skipped.
    pub interface_statistics_blocks: u64,
    /// pcapng decryption secrets blocks skipped.
    pub decryption_secrets_blocks: u64,
    /// pcapng custom blocks skipped.
    pub custom_blocks: u64,
    /// pcapng blocks of other or unknown types skipped.
    pub unknown_blocks: u64,
    /// pcapng option lists that ran past their block; the options after the bad one are
    /// ignored.
    pub bad_options: u64,
    /// pcapng simple packet blocks, delivered with timestamp 0.
    pub packets_without_timestamp: u64,
}

impl CaptureWarnings {
    /// Checks a packet record's captured length against the format's `limit` (an error at
    /// `offset`) and its interface's `snaplen` and original length (warnings).
    pub(crate) fn check_record(
        &mut self,
        src: &ByteSource,
        offset: u64,
        caplen: u32,
        orig_len: u32,
        limit: u32,
        snaplen: u32,
    ) -> Result<(), CaptureError> {
        if caplen > limit {
            return Err(CaptureError::AbsurdLength {
                file: src.name().to_owned(),
                offset,
                len: u64::from(caplen),
                limit: u64::from(limit),
            });
        }
        if snaplen != 0 && caplen > snaplen {
            self.caplen_over_snaplen = self.caplen_over_snaplen.saturating_add(1);
        }
        if caplen > orig_len {
            self.caplen_over_orig_len = self.caplen_over_orig_len.saturating_add(1);
        }
        Ok(())
    }

    /// Sum of all counts.
    pub fn total(&self) -> u64 {
        [
            self.caplen_over_snaplen,
            self.caplen_over_orig_len,
            self.timestamp_fraction_out_of_range,
            self.name_resolution_blocks,
            self.interface_statistics_blocks,
            self.decryption_secrets_blocks,
            self.custom_blocks,
            self.unknown_blocks,
            self.bad_options,
            self.packets_without_timestamp,
        ]
        .iter()
        .fold(0u64, |a, b| a.saturating_add(*b))
    }
}

/// The parser for the file's format.
enum Parser {
    Pcap(pcap::PcapParser),
    PcapNg(pcapng::PcapNgParser),
}

/// Reads packets from one capture file (pcap or pcapng, plain or gzip-compressed).
pub struct CaptureReader {
    src: ByteSource,
    parser: Parser,
    warnings: CaptureWarnings,
    done: bool,
}

impl CaptureReader {
    /// Opens a file (plain or gzip-compressed), reads and checks the header.
    pub fn open(path: &Path) -> Result<Self, CaptureError> {
        Self::start(ByteSource::open(path)?)
    }

    /// Same from any reader (for tests); `name` is used in errors.
    pub fn from_read(name: impl Into<String>, r: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        Self::start(ByteSource::new(name.into(), r, None)?)
    }

    /// Detects the format by the magic number and reads the file header.
    fn start(mut src: ByteSource) -> Result<Self, CaptureError> {
        let mut warnings = CaptureWarnings::default();
        let magic = match src.fill(4)? {
            0..4 => None,
            _ => src.available().first_chunk::<4>().copied(),
        };
        let Some(magic) = magic else {
            return Err(CaptureError::TruncatedHeader { file: src.name().to_owned(), offset: 0 });
        };
        let parser = if pcap::is_magic(magic) {
            Parser::Pcap(pcap::PcapParser::read_header(&mut src)?)
        } else if pcapng::is_magic(magic) {
            Parser::PcapNg(pcapng::PcapNgParser::read_header(&mut src, &mut warnings)?)
        } else {
            return Err(CaptureError::BadMagic { file: src.name().to_owned(), found: magic });
        };
        Ok(Self { src, parser, warnings, done: false })
    }

    /// The next packet, `Ok(None)` at a clean end of file.
    ///
    /// After an error, or the end, it returns `Ok(None)` for ever.
    pub fn next_packet(&mut self) -> Result<Option<CapturedPacket<'_>>, CaptureError> {
        if self.done {
            return Ok(None);
        }
        let result = match &mut self.parser {
            Parser::Pcap(p) => p.next(&mut self.src, &mut self.warnings),
            Parser::PcapNg(p) => p.next(&mut self.src, &mut self.warnings),
        };
        match result {
            Ok(Some(pkt)) => Ok(Some(pkt)),
            Ok(None) => {
                self.done = true;
                Ok(None)
            }
            Err(e) => {
                self.done = true;
                Err(e)
            }
        }
    }

    /// The file's format.
    pub fn format(&self) -> CaptureFormat {
        match &self.parser {
            Parser::Pcap(p) => p.format(),
            Parser::PcapNg(_) => CaptureFormat::PcapNg,
        }
    }

    /// Bytes consumed of the (decompressed) stream so far.
    pub fn offset(&self) -> u64 {
        self.src.offset()
    }

    /// Bytes read of the underlying file: the compressed position for gzip files (for
    /// progress against [`file_len`](Self::file_len)), the same as [`offset`](Self::offset)
    /// for plain ones.
    pub fn file_offset(&self) -> u64 {
        self.src.file_offset()
    }

    /// Size of the underlying file, when opened with [`open`](Self::open).
    pub fn file_len(&self) -> Option<u64> {
        self.src.file_len()
    }

    /// The file name used in errors.
    pub fn name(&self) -> &str {
        self.src.name()
    }

    /// Non-fatal oddities seen so far, as counts by kind.
    pub fn warnings(&self) -> &CaptureWarnings {
        &self.warnings
    }
}
