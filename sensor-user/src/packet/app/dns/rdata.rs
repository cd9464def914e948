//! Rdata decoding for the record types the sensor logs; anything else is kept raw (capped).

use std::net::{Ipv4Addr, Ipv6Addr};

use super::reader::Reader;
use super::{DnsData, DnsError, MAX_OTHER_RDATA};

const A: u16 = 1;
const NS: u16 = 2;
const CNAME: u16 = 5;
const SOA: u16 = 6;
const PTR: u16 = 12;
const MX: u16 = 15;
const TXT: u16 = 16;
const AAAA: u16 = 28;
const SRV: u16 = 33;

/// Decodes the `len` rdata bytes at `start` of `msg` (the caller checked they are in bounds).
///
/// Empty rdata (RFC 2136 updates, some mDNS records) is [`DnsData::Other`] for every type. A name
/// inside rdata may point anywhere in the message, but its uncompressed part must end inside the rdata.
pub(super) fn parse(msg: &[u8], rrtype: u16, start: usize, len: usize) -> Result<DnsData, DnsError> {
    let end = start.checked_add(len).ok_or(DnsError::Truncated { offset: start })?;
    let raw = msg.get(start..end).ok_or(DnsError::Truncated { offset: start })?;
    let bad = DnsError::BadRdata { offset: start, rrtype };
    if raw.is_empty() {
        return Ok(DnsData::Other(Vec::new()));
    }
    let mut r = Reader::new(msg, start);
    let data = match rrtype {
        A => DnsData::A(Ipv4Addr::from(<[u8; 4]>::try_from(raw).map_err(|_| bad.clone())?)),
        AAAA => DnsData::Aaaa(Ipv6Addr::from(<[u8; 16]>::try_from(raw).map_err(|_| bad.clone())?)),
        NS | CNAME | PTR => DnsData::Name(r.name()?),
        MX => DnsData::Mx { preference: r.u16().map_err(|_| bad.clone())?, exchange: r.name()? },
        TXT => DnsData::Txt(txt_strings(raw).ok_or_else(|| bad.clone())?),
        SOA => {
            let mname = r.name()?;
            let rname = r.name()?;
            let mut next = || r.u32().map_err(|_| bad.clone());
            DnsData::Soa {
                mname,
                rname,
                serial: next()?,
                refresh: next()?,
                retry: next()?,
                expire: next()?,
                minimum: next()?,
            }
        }
        SRV => {
            let mut next = || r.u16().map_err(|_| bad.clone());
            let (priority, weight, port) = (next()?, next()?, next()?);
            DnsData::Srv { priority, weight, port, target: r.name()? }
        }
        _ => DnsData::Other(raw.get(..MAX_OTHER_RDATA).unwrap_or(raw).to_vec()),
    };
    if r.pos() > end {
        return Err(bad);
    }
    Ok(data)
}

/// Splits TXT rdata into its length-prefixed character strings; `None` if one overruns.
fn txt_strings(mut raw: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    while let Some((&len, rest)) = raw.split_first() {
        let (s, rest) = rest.split_at_checked(usize::from(len))?;
        out.push(s.to_vec());
        raw = rest;
    }
    Some(out)
}
