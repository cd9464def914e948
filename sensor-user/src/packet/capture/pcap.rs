//! Classic pcap: the 24-byte file header and the 16-byte record headers, in both byte
//! orders, with micro- or nanosecond timestamps.
//!
//! Rules: the link type is the header's field masked with `0x0FFF_FFFF` (newer writers put
//! FCS information in the top bits); a snaplen above 16 MiB is an error at offset 16; a
//! packet longer than `max(snaplen, 262144)` is an error; a packet longer than a smaller
//! snaplen, or than its original length, is counted as a warning and delivered. Timestamps
//! are `secs * 10^9 + frac * (1000 or 1)`: an out-of-range fraction (a million microseconds
//! or more) is counted as a warning and adds whole seconds, as in libpcap's `struct timeval`.

use super::error::{CaptureError, MAX_HEADER_LEN, MAX_PACKET_LEN};
use super::source::{ByteSource, Endian, to_u64, to_usize};
use super::{CaptureFormat, CaptureWarnings, CapturedPacket, LinkType};

/// File header length.
const FILE_HEADER: usize = 24;
/// Record header length.
const RECORD_HEADER: usize = 16;
/// Offset of the snaplen field in the file header.
const SNAPLEN_OFFSET: u64 = 16;

/// Magic numbers as bytes on disk: (bytes, byte order, nanosecond timestamps).
const MAGICS: [([u8; 4], Endian, bool); 4] = [
    ([0xd4, 0xc3, 0xb2, 0xa1], Endian::Little, false),
    ([0x4d, 0x3c, 0xb2, 0xa1], Endian::Little, true),
    ([0xa1, 0xb2, 0xc3, 0xd4], Endian::Big, false),
    ([0xa1, 0xb2, 0x3c, 0x4d], Endian::Big, true),
];

/// Whether the first four bytes are a classic pcap magic number.
pub(crate) fn is_magic(magic: [u8; 4]) -> bool {
    MAGICS.iter().any(|(m, _, _)| *m == magic)
}

/// Reads the records of a classic pcap file.
pub(crate) struct PcapParser {
    endian: Endian,
    nanos: bool,
    snaplen: u32,
    link: LinkType,
    /// Longest packet accepted: `max(snaplen, MAX_PACKET_LEN)`.
    limit: u32,
}

impl PcapParser {
    /// Reads and checks the file header (the magic number was recognised by the caller).
    pub(crate) fn read_header(src: &mut ByteSource) -> Result<Self, CaptureError> {
        let avail = src.fill(FILE_HEADER)?;
        let head = src.available();
        let magic = head.first_chunk::<4>().copied().unwrap_or_default();
        let Some(&(_, endian, nanos)) = MAGICS.iter().find(|(m, _, _)| *m == magic) else {
            return Err(CaptureError::BadMagic { file: src.name().to_owned(), found: magic });
        };
        if avail < FILE_HEADER {
            return Err(CaptureError::TruncatedHeader { file: src.name().to_owned(), offset: 0 });
        }
        let snaplen = endian.u32_at(head, 16);
        let link = LinkType::from_u32(endian.u32_at(head, 20) & 0x0FFF_FFFF);
        if snaplen > MAX_HEADER_LEN {
            return Err(CaptureError::AbsurdLength {
                file: src.name().to_owned(),
                offset: SNAPLEN_OFFSET,
                len: u64::from(snaplen),
                limit: u64::from(MAX_HEADER_LEN),
            });
        }
        src.skip(FILE_HEADER);
        Ok(Self { endian, nanos, snaplen, link, limit: snaplen.max(MAX_PACKET_LEN) })
    }

    /// The file's format.
    pub(crate) fn format(&self) -> CaptureFormat {
        CaptureFormat::Pcap { nanos: self.nanos, swapped: self.endian == Endian::Big }
    }

    /// The next packet, `Ok(None)` at the end of the file.
    pub(crate) fn next<'a>(
        &mut self,
        src: &'a mut ByteSource,
        warnings: &mut CaptureWarnings,
    ) -> Result<Option<CapturedPacket<'a>>, CaptureError> {
        let offset = src.offset();
        let avail = src.fill(RECORD_HEADER)?;
        if avail == 0 {
            return Ok(None);
        }
        if avail < RECORD_HEADER {
            return Err(CaptureError::TruncatedHeader { file: src.name().to_owned(), offset });
        }
        let head = src.available();
        let e = self.endian;
        let secs = e.u32_at(head, 0);
        let frac = e.u32_at(head, 4);
        let caplen = e.u32_at(head, 8);
        let orig_len = e.u32_at(head, 12);
        warnings.check_record(src, offset, caplen, orig_len, self.limit, self.snaplen)?;
        let total = to_usize(caplen).saturating_add(RECORD_HEADER);
        let avail = src.fill(total)?;
        if avail < total {
            return Err(CaptureError::TruncatedRecord {
                file: src.name().to_owned(),
                offset,
                wanted: u64::from(caplen),
                available: to_u64(avail.saturating_sub(RECORD_HEADER)),
            });
        }
        let (frac_ns, frac_limit) = if self.nanos {
            (u64::from(frac), 1_000_000_000)
        } else {
            (u64::from(frac).saturating_mul(1_000), 1_000_000)
        };
        if frac >= frac_limit {
            warnings.timestamp_fraction_out_of_range = warnings.timestamp_fraction_out_of_range.saturating_add(1);
        }
        let ts_ns = u64::from(secs).saturating_mul(1_000_000_000).saturating_add(frac_ns);
        let link = self.link;
        let data = src.take(total, RECORD_HEADER..total);
        Ok(Some(CapturedPacket { ts_ns, link, interface: 0, orig_len, data }))
    }
}
