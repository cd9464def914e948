//! pcapng: section header blocks (each section with its own byte order and interfaces),
//! interface description blocks (link type, snaplen, `if_tsresol`, `if_tsoffset`), and the
//! packet blocks: enhanced (EPB), simple (SPB) and the obsolete packet block (type 2).
//!
//! Name resolution, interface statistics, decryption secrets, custom and unknown blocks are
//! skipped and counted in the warnings. A block is rejected (ending the file) when its length
//! is below 12, not a multiple of 4, above 16 MiB, or differs from its trailing copy, when a
//! packet refers to an interface not described in its section, or when a packet's captured
//! length runs past its block or exceeds `max(snaplen, 262144)`.

use super::error::{CaptureError, MAX_HEADER_LEN, MAX_PACKET_LEN};
use super::source::{ByteSource, Endian, to_u64, to_usize};
use super::{CaptureWarnings, CapturedPacket, LinkType};

/// Section header block type (the same in both byte orders).
const SHB: [u8; 4] = [0x0a, 0x0d, 0x0d, 0x0a];
/// Interface description block.
const IDB: u32 = 1;
/// Obsolete packet block.
const PB: u32 = 2;
/// Simple packet block.
const SPB: u32 = 3;
/// Name resolution block.
const NRB: u32 = 4;
/// Interface statistics block.
const ISB: u32 = 5;
/// Enhanced packet block.
const EPB: u32 = 6;
/// Decryption secrets block.
const DSB: u32 = 0x0A;
/// Custom blocks (copiable and not).
const CUSTOM: [u32; 2] = [0x0000_0BAD, 0x4000_0BAD];
/// Section header block type as a number.
const SHB_TYPE: u32 = 0x0A0D_0D0A;

/// Block header (type, length) plus trailing length.
const BLOCK_OVERHEAD: usize = 12;
/// Smallest section header block: overhead, byte-order magic, version, section length.
const SHB_MIN: usize = 28;
/// Fixed part of an EPB or PB body before the packet data.
const PACKET_FIXED: usize = 20;
/// Offset of a block's body.
const BODY: usize = 8;
/// Most interfaces accepted in one section.
const MAX_INTERFACES: usize = 1 << 20;

/// `if_tsresol` option code.
const OPT_TSRESOL: u16 = 9;
/// `if_tsoffset` option code.
const OPT_TSOFFSET: u16 = 14;

/// Whether the first four bytes are a pcapng section header block.
pub(crate) fn is_magic(magic: [u8; 4]) -> bool {
    magic == SHB
}

/// One interface of the current section.
#[derive(Debug, Clone, Copy)]
struct Interface {
    link: LinkType,
    snaplen: u32,
    /// Longest packet accepted: `max(snaplen, MAX_PACKET_LEN)`.
    limit: u32,
    /// Timestamp units per second (`if_tsresol`, default 10^6).
    units: u64,
    /// Seconds added to every timestamp (`if_tsoffset`).
    offset_secs: i64,
}

impl Interface {
    /// Nanoseconds since the epoch for a timestamp in this interface's units (saturating).
    fn ts_ns(&self, ticks: u64) -> u64 {
        let ns = match self.units {
            1_000_000_000 => ticks,
            1_000_000 => ticks.saturating_mul(1_000),
            units => {
                let secs = ticks.checked_div(units).unwrap_or(0);
                let rem = ticks.checked_rem(units).unwrap_or(0);
                let frac = u128::from(rem).saturating_mul(1_000_000_000).checked_div(u128::from(units)).unwrap_or(0);
                secs.saturating_mul(1_000_000_000).saturating_add(u64::try_from(frac).unwrap_or(u64::MAX))
            }
        };
        if self.offset_secs == 0 {
            return ns;
        }
        let shifted = i128::from(ns).saturating_add(i128::from(self.offset_secs).saturating_mul(1_000_000_000));
        u64::try_from(shifted.max(0)).unwrap_or(u64::MAX)
    }
}

/// The option list of a block body, as (code, value) pairs up to `opt_endofopt`.
struct Options<'b> {
    rest: &'b [u8],
    endian: Endian,
    /// The list ran past its block.
    malformed: bool,
}

impl<'b> Iterator for Options<'b> {
    type Item = (u16, &'b [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let rest = std::mem::take(&mut self.rest);
        if rest.is_empty() {
            return None;
        }
        if rest.len() < 4 {
            self.malformed = true;
            return None;
        }
        let code = self.endian.u16_at(rest, 0);
        let len = usize::from(self.endian.u16_at(rest, 2));
        if code == 0 {
            return None;
        }
        let Some(value) = rest.get(4..).and_then(|r| r.get(..len)) else {
            self.malformed = true;
            return None;
        };
        // Values are padded to 4 bytes; a missing pad at the very end is tolerated.
        let padded = len.next_multiple_of(4);
        self.rest = rest.get(4..).and_then(|r| r.get(padded..)).unwrap_or_default();
        Some((code, value))
    }
}

/// Units per second for an `if_tsresol` byte: 10^-n, or 2^-n with the top bit set.
fn tsresol_units(v: u8) -> Option<u64> {
    let exp = u32::from(v & 0x7F);
    if v & 0x80 != 0 { 1u64.checked_shl(exp) } else { 10u64.checked_pow(exp) }
}

/// What one block turned out to be, with the packet's data as a range of the block.
enum Step {
    Packet { ts_ns: u64, link: LinkType, interface: u32, orig_len: u32, block_len: usize, data: std::ops::Range<usize> },
    Skipped,
    End,
}

/// Reads the blocks of a pcapng file.
pub(crate) struct PcapNgParser {
    /// Byte order of the current section.
    endian: Endian,
    /// Interfaces of the current section, by id.
    ifaces: Vec<Interface>,
    /// File-wide index of the current section's first interface.
    base: u32,
}

impl PcapNgParser {
    /// Reads the first section header block (its magic was recognised by the caller).
    pub(crate) fn read_header(src: &mut ByteSource, warnings: &mut CaptureWarnings) -> Result<Self, CaptureError> {
        let mut parser = Self { endian: Endian::Little, ifaces: Vec::new(), base: 0 };
        match parser.step(src, warnings)? {
            Step::Skipped => Ok(parser),
            Step::Packet { .. } | Step::End => {
                Err(CaptureError::TruncatedHeader { file: src.name().to_owned(), offset: 0 })
            }
        }
    }

    /// The next packet, `Ok(None)` at the end of the file.
    pub(crate) fn next<'a>(
        &mut self,
        src: &'a mut ByteSource,
        warnings: &mut CaptureWarnings,
    ) -> Result<Option<CapturedPacket<'a>>, CaptureError> {
        loop {
            match self.step(src, warnings)? {
                Step::Skipped => {}
                Step::End => return Ok(None),
                Step::Packet { ts_ns, link, interface, orig_len, block_len, data } => {
                    let data = src.take(block_len, data);
                    return Ok(Some(CapturedPacket { ts_ns, link, interface, orig_len, data }));
                }
            }
        }
    }

    /// Reads one block; consumes it unless it is a packet (the caller takes those).
    fn step(&mut self, src: &mut ByteSource, warnings: &mut CaptureWarnings) -> Result<Step, CaptureError> {
        let offset = src.offset();
        let avail = src.fill(BLOCK_OVERHEAD)?;
        if avail == 0 {
            return Ok(Step::End);
        }
        let head = src.available();
        let is_shb = head.first_chunk::<4>() == Some(&SHB);
        if avail < BODY || (is_shb && avail < BLOCK_OVERHEAD) {
            return Err(CaptureError::TruncatedHeader { file: src.name().to_owned(), offset });
        }
        let mut endian = self.endian;
        if is_shb {
            endian = match head.get(8..12) {
                Some([0x1a, 0x2b, 0x3c, 0x4d]) => Endian::Big,
                Some([0x4d, 0x3c, 0x2b, 0x1a]) => Endian::Little,
                _ => {
                    return Err(bad(src, offset, "unknown byte-order magic in section header"));
                }
            };
        }
        let btype = endian.u32_at(head, 0);
        let len = endian.u32_at(head, 4);
        if len > MAX_HEADER_LEN {
            return Err(CaptureError::AbsurdLength {
                file: src.name().to_owned(),
                offset,
                len: u64::from(len),
                limit: u64::from(MAX_HEADER_LEN),
            });
        }
        let total = to_usize(len);
        if total < BLOCK_OVERHEAD {
            return Err(bad(src, offset, "block length below 12"));
        }
        if !total.is_multiple_of(4) {
            return Err(bad(src, offset, "block length not a multiple of 4"));
        }
        let avail = src.fill(total)?;
        if avail < total {
            return Err(CaptureError::TruncatedRecord {
                file: src.name().to_owned(),
                offset,
                wanted: u64::from(len),
                available: to_u64(avail),
            });
        }
        let block = src.available().get(..total).unwrap_or_default();
        let trailer = total.saturating_sub(4);
        if endian.u32_at(block, trailer) != len {
            return Err(bad(src, offset, "trailing block length differs from leading one"));
        }
        let body = block.get(BODY..trailer).unwrap_or_default();
        let step = match btype {
            SHB_TYPE => {
                if total < SHB_MIN {
                    return Err(bad(src, offset, "section header block too short"));
                }
                if endian.u16_at(body, 4) != 1 {
                    return Err(bad(src, offset, "unsupported pcapng major version"));
                }
                let count = u32::try_from(self.ifaces.len()).unwrap_or(u32::MAX);
                self.base = self.base.saturating_add(count);
                self.ifaces.clear();
                self.endian = endian;
                Step::Skipped
            }
            IDB => {
                let iface = parse_idb(body, endian, warnings).map_err(|reason| bad(src, offset, reason))?;
                if self.ifaces.len() >= MAX_INTERFACES {
                    return Err(bad(src, offset, "too many interfaces in one section"));
                }
                self.ifaces.push(iface);
                Step::Skipped
            }
            EPB | PB => {
                if body.len() < PACKET_FIXED {
                    return Err(bad(src, offset, "packet block too short"));
                }
                let id = if btype == EPB { endian.u32_at(body, 0) } else { u32::from(endian.u16_at(body, 0)) };
                let iface = self.iface(id).map_err(|reason| bad(src, offset, reason))?;
                let ticks = (u64::from(endian.u32_at(body, 4)) << 32) | u64::from(endian.u32_at(body, 8));
                let caplen = endian.u32_at(body, 12);
                let orig_len = endian.u32_at(body, 16);
                let caplen_usize = to_usize(caplen);
                if caplen_usize > body.len().saturating_sub(PACKET_FIXED) {
                    return Err(bad(src, offset, "packet data runs past the end of its block"));
                }
                warnings.check_record(src, offset, caplen, orig_len, iface.limit, iface.snaplen)?;
                let start = BODY + PACKET_FIXED;
                return Ok(Step::Packet {
                    ts_ns: iface.ts_ns(ticks),
                    link: iface.link,
                    interface: self.base.saturating_add(id),
                    orig_len,
                    block_len: total,
                    data: start..start.saturating_add(caplen_usize),
                });
            }
            SPB => {
                if body.len() < 4 {
                    return Err(bad(src, offset, "simple packet block too short"));
                }
                let iface = self.iface(0).map_err(|reason| bad(src, offset, reason))?;
                let orig_len = endian.u32_at(body, 0);
                let mut caplen = to_usize(orig_len).min(body.len().saturating_sub(4));
                if iface.snaplen != 0 {
                    caplen = caplen.min(to_usize(iface.snaplen));
                }
                warnings.packets_without_timestamp = warnings.packets_without_timestamp.saturating_add(1);
                let start = BODY + 4;
                return Ok(Step::Packet {
                    ts_ns: 0,
                    link: iface.link,
                    interface: self.base,
                    orig_len,
                    block_len: total,
                    data: start..start.saturating_add(caplen),
                });
            }
            NRB => count(&mut warnings.name_resolution_blocks),
            ISB => count(&mut warnings.interface_statistics_blocks),
            DSB => count(&mut warnings.decryption_secrets_blocks),
            t if CUSTOM.contains(&t) => count(&mut warnings.custom_blocks),
            _ => count(&mut warnings.unknown_blocks),
        };
        src.skip(total);
        Ok(step)
    }

    /// The interface with section-local `id`.
    fn iface(&self, id: u32) -> Result<Interface, &'static str> {
        if self.ifaces.is_empty() {
            return Err("packet before any interface description block");
        }
        self.ifaces.get(to_usize(id)).copied().ok_or("interface id out of range")
    }
}

/// Counts a skipped block.
fn count(counter: &mut u64) -> Step {
    *counter = counter.saturating_add(1);
    Step::Skipped
}

/// A [`CaptureError::BadBlock`] at `offset`.
fn bad(src: &ByteSource, offset: u64, reason: &'static str) -> CaptureError {
    CaptureError::BadBlock { file: src.name().to_owned(), offset, reason }
}

/// Parses an interface description block body.
fn parse_idb(body: &[u8], endian: Endian, warnings: &mut CaptureWarnings) -> Result<Interface, &'static str> {
    if body.len() < 8 {
        return Err("interface description block too short");
    }
    let link = LinkType::from_u32(u32::from(endian.u16_at(body, 0)));
    let snaplen = endian.u32_at(body, 4);
    let mut iface = Interface { link, snaplen, limit: snaplen.max(MAX_PACKET_LEN), units: 1_000_000, offset_secs: 0 };
    let mut options = Options { rest: body.get(8..).unwrap_or_default(), endian, malformed: false };
    for (code, value) in options.by_ref() {
        match (code, value) {
            (OPT_TSRESOL, [v, ..]) => {
                iface.units = tsresol_units(*v).ok_or("if_tsresol out of range")?;
            }
            (OPT_TSOFFSET, v) if v.len() == 8 => {
                iface.offset_secs = i64::from_ne_bytes(endian.u64_at(v, 0).to_ne_bytes());
            }
            _ => {}
        }
    }
    if options.malformed {
        warnings.bad_options = warnings.bad_options.saturating_add(1);
    }
    Ok(iface)
}
