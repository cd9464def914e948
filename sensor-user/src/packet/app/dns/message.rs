//! Message-level decoding: header, then the four sections with per-section caps.

use super::reader::Reader;
use super::{DnsError, DnsMessage, DnsQuery, DnsRecord, DnsSection, MAX_RECORDS_PER_SECTION, rdata};

/// Decodes one whole DNS message (a UDP payload, or a TCP frame without its length prefix).
///
/// Bytes after the last section are ignored.
pub fn parse_message(buf: &[u8]) -> Result<DnsMessage, DnsError> {
    match parse_message_lenient(buf) {
        (Some(msg), None) => Ok(msg),
        (_, Some(err)) => Err(err),
        (None, None) => Err(DnsError::Truncated { offset: 0 }),
    }
}

/// Decodes as much of a message as possible: returns what parsed before the first error, plus that
/// error. The message is `None` only when the 12-byte header is incomplete.
///
/// For [`DnsError::TooManyRecords`] the kept entries of every section are returned; for any other
/// error parsing stops there, so e.g. a response whose answers are cut still yields its queries.
pub fn parse_message_lenient(buf: &[u8]) -> (Option<DnsMessage>, Option<DnsError>) {
    let mut r = Reader::new(buf, 0);
    let Ok(header) = Header::read(&mut r) else {
        return (None, Some(DnsError::Truncated { offset: 0 }));
    };
    let [b0, b1] = header.flags.to_be_bytes();
    let mut msg = DnsMessage {
        id: header.id,
        response: b0 & 0x80 != 0,
        opcode: (b0 >> 3) & 0x0f,
        flags: header.flags,
        rcode: b1 & 0x0f,
        queries: Vec::new(),
        answers: Vec::new(),
        authorities: Vec::new(),
        additional: Vec::new(),
    };
    let err = parse_sections(&mut r, &header, &mut msg).err();
    (Some(msg), err)
}

/// The fixed header.
struct Header {
    id: u16,
    flags: u16,
    counts: [u16; 4],
}

impl Header {
    fn read(r: &mut Reader<'_>) -> Result<Self, DnsError> {
        Ok(Self { id: r.u16()?, flags: r.u16()?, counts: [r.u16()?, r.u16()?, r.u16()?, r.u16()?] })
    }
}

/// Parses the four sections; on [`DnsError::TooManyRecords`] keeps going and reports the first one at the end.
fn parse_sections(r: &mut Reader<'_>, header: &Header, msg: &mut DnsMessage) -> Result<(), DnsError> {
    let [qd, an, ns, ar] = header.counts;
    let mut over: Option<DnsError> = None;
    for i in 0..qd {
        if usize::from(i) < MAX_RECORDS_PER_SECTION {
            msg.queries.push(read_query(r)?);
        } else {
            skip_query(r)?;
        }
    }
    note_over(&mut over, DnsSection::Question, qd);
    for (section, count) in [(DnsSection::Answer, an), (DnsSection::Authority, ns), (DnsSection::Additional, ar)] {
        let list = match section {
            DnsSection::Answer => &mut msg.answers,
            DnsSection::Authority => &mut msg.authorities,
            _ => &mut msg.additional,
        };
        for i in 0..count {
            if usize::from(i) < MAX_RECORDS_PER_SECTION {
                list.push(read_record(r)?);
            } else {
                skip_record(r)?;
            }
        }
        note_over(&mut over, section, count);
    }
    over.map_or(Ok(()), Err)
}

fn note_over(over: &mut Option<DnsError>, section: DnsSection, count: u16) {
    if over.is_none() && usize::from(count) > MAX_RECORDS_PER_SECTION {
        *over = Some(DnsError::TooManyRecords { section, count });
    }
}

fn read_query(r: &mut Reader<'_>) -> Result<DnsQuery, DnsError> {
    let name = r.name()?;
    Ok(DnsQuery { name, rrtype: r.u16()?, class: r.u16()? })
}

fn skip_query(r: &mut Reader<'_>) -> Result<(), DnsError> {
    r.skip_name()?;
    r.take(4).map(|_| ())
}

fn read_record(r: &mut Reader<'_>) -> Result<DnsRecord, DnsError> {
    let name = r.name()?;
    let fixed_at = r.pos();
    let rrtype = r.u16()?;
    let class = r.u16()?;
    let ttl = r.u32()?;
    let rdlen = usize::from(r.u16()?);
    let start = r.pos();
    if r.take(rdlen).is_err() {
        return Err(DnsError::Truncated { offset: fixed_at });
    }
    let data = rdata::parse(r.message(), rrtype, start, rdlen)?;
    Ok(DnsRecord { name, rrtype, class, ttl, data })
}

fn skip_record(r: &mut Reader<'_>) -> Result<(), DnsError> {
    r.skip_name()?;
    let fixed_at = r.pos();
    r.take(8)?;
    let rdlen = usize::from(r.u16()?);
    r.take(rdlen).map(|_| ()).map_err(|_| DnsError::Truncated { offset: fixed_at })
}
