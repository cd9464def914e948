//! DNS message parser (RFC 1035 wire format) for UDP payloads and DNS-over-TCP frames.
//!
//! Names are decoded with compression pointers followed anywhere in the message (forward pointers
//! too), at most [`MAX_POINTER_JUMPS`] jumps per name and [`MAX_NAME_WIRE_LEN`] octets per expanded
//! name. Label bytes are kept raw and joined with `.`, so a label holding a `.` byte is ambiguous in
//! the dotted form; the root name is the empty vector. Section counts come from the sender, so no
//! vector is sized from them and at most [`MAX_RECORDS_PER_SECTION`] entries per section are kept.
//!
//! Rendering differences from tshark (the test oracle): tshark prints the root name as `<Root>`,
//! prints invalid UTF-8 label bytes as U+FFFD, and prints `<Name too long>` where this parser
//! returns [`DnsError::NameTooLong`]. Suricata keeps names up to 1025 bytes and flags longer ones as
//! truncated; this parser refuses names over 255 octets instead.

mod detect;
mod message;
mod name;
mod rdata;
mod reader;
mod tables;
mod tcp;

use std::net::{Ipv4Addr, Ipv6Addr};

pub use detect::{looks_like_dns, looks_like_dns_tcp};
pub use message::{parse_message, parse_message_lenient};
pub use name::{MAX_NAME_WIRE_LEN, MAX_POINTER_JUMPS};
pub use tables::{rcode_name, rrtype_name};
pub use tcp::DnsTcpState;

/// Most entries kept per section; further ones are skipped and reported as [`DnsError::TooManyRecords`].
pub const MAX_RECORDS_PER_SECTION: usize = 256;
/// Most raw rdata bytes kept in [`DnsData::Other`].
pub const MAX_OTHER_RDATA: usize = 256;
/// Length of the fixed DNS header.
pub const HEADER_LEN: usize = 12;

/// Resource record type of EDNS(0) OPT pseudo-records.
pub const RRTYPE_OPT: u16 = 41;

/// One decoded DNS message.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsMessage {
    /// Transaction id.
    pub id: u16,
    /// QR bit: true for a response.
    pub response: bool,
    /// Opcode (4 bits).
    pub opcode: u8,
    /// The whole 16-bit flags word as sent (QR, opcode, AA, TC, RD, RA, Z, AD, CD, rcode).
    pub flags: u16,
    /// Header response code (4 bits); see [`DnsMessage::extended_rcode`] for the EDNS one.
    pub rcode: u8,
    /// Question section.
    pub queries: Vec<DnsQuery>,
    /// Answer section.
    pub answers: Vec<DnsRecord>,
    /// Authority section.
    pub authorities: Vec<DnsRecord>,
    /// Additional section, including the EDNS OPT pseudo-record (rrtype 41, rdata as [`DnsData::Other`]).
    pub additional: Vec<DnsRecord>,
}

/// One question.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsQuery {
    /// Dotted name, no trailing dot, raw label bytes; empty for the root.
    pub name: Vec<u8>,
    /// Query type.
    pub rrtype: u16,
    /// Query class as sent (mDNS puts the unicast-response bit in bit 15).
    pub class: u16,
}

/// One resource record.
#[derive(Debug, Clone, PartialEq)]
pub struct DnsRecord {
    /// Owner name, dotted, raw label bytes; empty for the root.
    pub name: Vec<u8>,
    /// Record type.
    pub rrtype: u16,
    /// Class as sent (the UDP payload size for OPT; mDNS cache-flush bit kept).
    pub class: u16,
    /// Time to live (extended rcode, version and flags for OPT).
    pub ttl: u32,
    /// Decoded rdata.
    pub data: DnsData,
}

/// Decoded rdata of a resource record.
#[derive(Debug, Clone, PartialEq)]
pub enum DnsData {
    /// IPv4 address.
    A(Ipv4Addr),
    /// IPv6 address.
    Aaaa(Ipv6Addr),
    /// Target name of CNAME, NS and PTR records.
    Name(Vec<u8>),
    /// Mail exchange.
    Mx {
        /// Preference, lower first.
        preference: u16,
        /// Exchange host name.
        exchange: Vec<u8>,
    },
    /// Character strings of a TXT record, raw.
    Txt(Vec<Vec<u8>>),
    /// Start of authority.
    Soa {
        /// Primary name server.
        mname: Vec<u8>,
        /// Responsible mailbox, as a name.
        rname: Vec<u8>,
        /// Zone serial.
        serial: u32,
        /// Refresh interval.
        refresh: u32,
        /// Retry interval.
        retry: u32,
        /// Expire limit.
        expire: u32,
        /// Minimum / negative-caching TTL.
        minimum: u32,
    },
    /// Service location.
    Srv {
        /// Priority, lower first.
        priority: u16,
        /// Weight among equal priorities.
        weight: u16,
        /// Port.
        port: u16,
        /// Target host name.
        target: Vec<u8>,
    },
    /// Raw rdata of any other type, and of any record with empty rdata; at most [`MAX_OTHER_RDATA`] bytes.
    Other(Vec<u8>),
}

/// Message section, for error reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DnsSection {
    /// Question section.
    Question,
    /// Answer section.
    Answer,
    /// Authority section.
    Authority,
    /// Additional section.
    Additional,
}

impl std::fmt::Display for DnsSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Question => "question",
            Self::Answer => "answer",
            Self::Authority => "authority",
            Self::Additional => "additional",
        })
    }
}

/// Why a DNS message could not be decoded. Offsets are from the start of the message.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum DnsError {
    /// The message ends inside the item that starts at `offset`.
    #[error("message truncated in the item at offset {offset}")]
    Truncated {
        /// Start of the item that did not fit.
        offset: usize,
    },
    /// A name needed more than [`MAX_POINTER_JUMPS`] compression pointers (a loop or a chain).
    #[error("compression pointer loop at offset {offset}")]
    PointerLoop {
        /// The pointer that exceeded the limit.
        offset: usize,
    },
    /// A compression pointer points past the end of the message.
    #[error("compression pointer at offset {offset} points past the message")]
    BadPointer {
        /// The pointer.
        offset: usize,
    },
    /// A label length byte uses the reserved 0b01 or 0b10 prefix (lengths 64..=191).
    #[error("reserved label type at offset {offset}")]
    BadLabelType {
        /// The length byte.
        offset: usize,
    },
    /// The expanded name is over [`MAX_NAME_WIRE_LEN`] octets.
    #[error("name starting at offset {offset} is longer than 255 octets")]
    NameTooLong {
        /// Start of the name.
        offset: usize,
    },
    /// A section count is over [`MAX_RECORDS_PER_SECTION`]; the excess entries were skipped.
    #[error("{count} entries in the {section} section, over the limit")]
    TooManyRecords {
        /// The section.
        section: DnsSection,
        /// The count from the header.
        count: u16,
    },
    /// The rdata of a known type does not have that type's layout.
    #[error("malformed rdata of type {rrtype} at offset {offset}")]
    BadRdata {
        /// Start of the rdata.
        offset: usize,
        /// Record type.
        rrtype: u16,
    },
}

impl DnsMessage {
    /// The EDNS OPT pseudo-record, if the additional section has one.
    pub fn opt(&self) -> Option<&DnsRecord> {
        self.additional.iter().find(|r| r.rrtype == RRTYPE_OPT)
    }

    /// The 12-bit response code: the header rcode extended by the OPT record's upper 8 bits.
    pub fn extended_rcode(&self) -> u16 {
        let upper = self.opt().map_or(0, |o| o.ttl >> 24);
        // upper < 256, so the shift stays within 12 bits.
        (u16::try_from(upper).unwrap_or(0) << 4) | u16::from(self.rcode)
    }

    /// AA: authoritative answer.
    pub fn aa(&self) -> bool {
        self.flags & 0x0400 != 0
    }

    /// TC: the message was truncated by the sender.
    pub fn tc(&self) -> bool {
        self.flags & 0x0200 != 0
    }

    /// RD: recursion desired.
    pub fn rd(&self) -> bool {
        self.flags & 0x0100 != 0
    }

    /// RA: recursion available.
    pub fn ra(&self) -> bool {
        self.flags & 0x0080 != 0
    }

    /// Z: the reserved bit (Suricata's `dns.z`).
    pub fn z(&self) -> bool {
        self.flags & 0x0040 != 0
    }
}
