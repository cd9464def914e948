//! Errors of the capture-file reader.
//!
//! Every variant names the file, and every variant about the content carries the byte offset
//! in the decompressed stream where the bad header, record or block starts, so that a person
//! can look at the spot with a hex dump (`xxd -s OFFSET`, after `gunzip` for compressed files).

use std::io;

/// Largest packet that is always accepted whatever the snaplen says (libpcap's and
/// Wireshark's `MAXIMUM_SNAPLEN`, 256 KiB).
pub const MAX_PACKET_LEN: u32 = 262_144;

/// Largest snaplen accepted in a classic pcap header, and largest pcapng block (16 MiB).
pub const MAX_HEADER_LEN: u32 = 16 * 1024 * 1024;

/// Why a capture file could not be read (further).
///
/// After any of these the reader is finished: everything before the bad spot was delivered,
/// and [`next_packet`](super::CaptureReader::next_packet) returns `Ok(None)` from then on.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    /// The file could not be opened or read.
    #[error("capture {file}: {source}")]
    Io {
        /// File name as given to the reader.
        file: String,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The first four bytes are neither a pcap nor a pcapng magic number.
    #[error("capture {file}: not a pcap or pcapng file (it starts with {})", show_magic(.found))]
    BadMagic {
        /// File name as given to the reader.
        file: String,
        /// The first four bytes of the (decompressed) file.
        found: [u8; 4],
    },
    /// The file ends inside the file header (offset 0, e.g. an empty file) or inside the
    /// fixed header of a packet record or pcapng block starting at `offset`.
    #[error("capture {file}: file ends inside a header at byte {offset}")]
    TruncatedHeader {
        /// File name as given to the reader.
        file: String,
        /// Where the cut header starts.
        offset: u64,
    },
    /// The file ends inside a record. For classic pcap `wanted` and `available` count the
    /// packet bytes after the 16-byte record header; for pcapng they count the whole block.
    #[error("capture {file}: truncated record at byte {offset}: header says {wanted} bytes, {available} left")]
    TruncatedRecord {
        /// File name as given to the reader.
        file: String,
        /// Where the cut record starts.
        offset: u64,
        /// Bytes the record header announces.
        wanted: u64,
        /// Bytes the file still had.
        available: u64,
    },
    /// A length that no sane capture has: a pcap header snaplen above 16 MiB (offset 16), a
    /// packet longer than `max(snaplen, 262144)`, or a pcapng block longer than 16 MiB.
    #[error("capture {file}: absurd length {len} at byte {offset} (limit {limit})")]
    AbsurdLength {
        /// File name as given to the reader.
        file: String,
        /// Where the field's header or record starts (16 for the pcap snaplen field).
        offset: u64,
        /// The length found.
        len: u64,
        /// The largest length accepted there.
        limit: u64,
    },
    /// A pcapng block that breaks the format's rules.
    #[error("capture {file}: bad pcapng block at byte {offset}: {reason}")]
    BadBlock {
        /// File name as given to the reader.
        file: String,
        /// Where the block starts.
        offset: u64,
        /// What is wrong, in words.
        reason: &'static str,
    },
    /// The gzip-compressed file is corrupt or cut short.
    #[error(
        "capture {file}: gzip data corrupt or cut short while reading the record at byte {offset} of the decompressed stream: {source}"
    )]
    Gzip {
        /// File name as given to the reader.
        file: String,
        /// Decompressed offset of the record that was being read.
        offset: u64,
        /// The decompressor's error.
        #[source]
        source: io::Error,
    },
}

impl CaptureError {
    /// The file name the error is about.
    pub fn file(&self) -> &str {
        match self {
            Self::Io { file, .. }
            | Self::BadMagic { file, .. }
            | Self::TruncatedHeader { file, .. }
            | Self::TruncatedRecord { file, .. }
            | Self::AbsurdLength { file, .. }
            | Self::BadBlock { file, .. }
            | Self::Gzip { file, .. } => file,
        }
    }

    /// The byte offset in the decompressed stream the error is about, if it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::Io { .. } => None,
            Self::BadMagic { .. } => Some(0),
            Self::TruncatedHeader { offset, .. }
            | Self::TruncatedRecord { offset, .. }
            | Self::AbsurdLength { offset, .. }
            | Self::BadBlock { offset, .. }
            | Self::Gzip { offset, .. } => Some(*offset),
        }
    }
}

/// `47 45 54 20 ("GET ")`: the hex bytes, plus the text when they are printable ASCII.
fn show_magic(found: &[u8; 4]) -> String {
    let hex = format!("{:02x} {:02x} {:02x} {:02x}", found[0], found[1], found[2], found[3]);
    if found.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        let text: String = found.iter().map(|&b| char::from(b)).collect();
        format!("{hex} (\"{text}\")")
    } else {
        hex
    }
}
