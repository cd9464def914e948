//! Minimal DER / X.509 reader for the TLS parser.
//!
//! Owns everything the sensor needs from a certificate seen on the wire:
//! subject and issuer rendered the way Suricata logs them
//! (`C=US, O=Let's Encrypt, CN=R3`), the serial number (`00:A1:..`), the
//! SHA-1 fingerprint of the DER bytes (`8c:90:..`) and the validity dates
//! (`YYYY-MM-DDTHH:MM:SS`, UTC). It reads only the leading fields of
//! `TBSCertificate`; signatures, keys and extensions are not decoded.
//!
//! All parsing is bounds-checked: malformed input yields an [`X509Error`],
//! never a panic.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::unreachable)]

use std::fmt::Write as _;

use sha1::{Digest, Sha1};
use thiserror::Error;

/// What the sensor logs about one certificate.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct CertInfo {
    /// Subject DN, RDNs in certificate order: `C=US, ST=CA, CN=example.com`.
    pub subject: String,
    /// Issuer DN, same rendering as `subject` (empty when the issuer is empty).
    pub issuer: String,
    /// Serial number as uppercase hex bytes joined by ':' (DER content bytes, so a
    /// leading `00` is kept), e.g. `00:99:FA:A8`.
    pub serial: String,
    /// SHA-1 of the DER certificate, lowercase hex bytes joined by ':'.
    pub fingerprint: String,
    /// Start of validity, `YYYY-MM-DDTHH:MM:SS` in UTC.
    pub not_before: String,
    /// End of validity, `YYYY-MM-DDTHH:MM:SS` in UTC.
    pub not_after: String,
}

/// Why a certificate could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum X509Error {
    /// An element claims more bytes than are present.
    #[error("truncated DER element")]
    Truncated,
    /// A length uses the indefinite form or more than four length bytes.
    #[error("unsupported DER length encoding")]
    BadLength,
    /// A mandatory element has the wrong tag.
    #[error("unexpected DER tag {found:#04x} (expected {expected:#04x})")]
    UnexpectedTag {
        /// Tag the X.509 grammar requires here.
        expected: u8,
        /// Tag found in the input.
        found: u8,
    },
    /// An OBJECT IDENTIFIER is empty or has an arc that does not fit in 64 bits.
    #[error("invalid object identifier")]
    BadOid,
    /// A UTCTime / GeneralizedTime value is not a valid date.
    #[error("invalid time value")]
    BadTime,
}

const TAG_INTEGER: u8 = 0x02;
const TAG_OID: u8 = 0x06;
const TAG_UTF8_STRING: u8 = 0x0c;
const TAG_NUMERIC_STRING: u8 = 0x12;
const TAG_PRINTABLE_STRING: u8 = 0x13;
const TAG_T61_STRING: u8 = 0x14;
const TAG_VIDEOTEX_STRING: u8 = 0x15;
const TAG_IA5_STRING: u8 = 0x16;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_GRAPHIC_STRING: u8 = 0x19;
const TAG_VISIBLE_STRING: u8 = 0x1a;
const TAG_GENERAL_STRING: u8 = 0x1b;
const TAG_UNIVERSAL_STRING: u8 = 0x1c;
const TAG_BMP_STRING: u8 = 0x1e;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_SET: u8 = 0x31;
const TAG_VERSION: u8 = 0xa0;

/// One DER element: its (first) tag byte and its content bytes.
#[derive(Debug, Clone, Copy)]
struct Tlv<'a> {
    tag: u8,
    value: &'a [u8],
}

/// Reads one TLV from the front of `input`, returning it and the rest.
fn read_tlv(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), X509Error> {
    let (&tag, mut rest) = input.split_first().ok_or(X509Error::Truncated)?;
    if tag & 0x1f == 0x1f {
        // High tag number form: skip the continuation bytes of the tag.
        loop {
            let (&b, r) = rest.split_first().ok_or(X509Error::Truncated)?;
            rest = r;
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let (&first, r) = rest.split_first().ok_or(X509Error::Truncated)?;
    rest = r;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(X509Error::BadLength);
        }
        let bytes = rest.get(..n).ok_or(X509Error::Truncated)?;
        rest = rest.get(n..).ok_or(X509Error::Truncated)?;
        bytes.iter().fold(0usize, |acc, &b| (acc << 8) | usize::from(b))
    };
    let value = rest.get(..len).ok_or(X509Error::Truncated)?;
    let rest = rest.get(len..).ok_or(X509Error::Truncated)?;
    Ok((Tlv { tag, value }, rest))
}

/// Reads one TLV that must carry `tag`.
fn expect_tlv(input: &[u8], tag: u8) -> Result<(&[u8], &[u8]), X509Error> {
    let (tlv, rest) = read_tlv(input)?;
    if tlv.tag != tag {
        return Err(X509Error::UnexpectedTag { expected: tag, found: tlv.tag });
    }
    Ok((tlv.value, rest))
}

/// Parses a DER certificate and extracts what the sensor logs.
///
/// `der` is one entry of a TLS Certificate message; the fingerprint is the
/// SHA-1 of exactly these bytes.
pub fn parse_certificate(der: &[u8]) -> Result<CertInfo, X509Error> {
    let (cert, _) = expect_tlv(der, TAG_SEQUENCE)?;
    let (tbs, _) = expect_tlv(cert, TAG_SEQUENCE)?;

    let mut rest = tbs;
    let (first, after_first) = read_tlv(rest)?;
    if first.tag == TAG_VERSION {
        rest = after_first;
    }
    let (serial, r) = expect_tlv(rest, TAG_INTEGER)?;
    let (_sig_alg, r) = expect_tlv(r, TAG_SEQUENCE)?;
    let (issuer, r) = expect_tlv(r, TAG_SEQUENCE)?;
    let (validity, r) = expect_tlv(r, TAG_SEQUENCE)?;
    let (subject, _) = expect_tlv(r, TAG_SEQUENCE)?;

    let (not_before, vr) = read_tlv(validity)?;
    let (not_after, _) = read_tlv(vr)?;

    Ok(CertInfo {
        subject: render_name(subject)?,
        issuer: render_name(issuer)?,
        serial: hex_join(serial, true),
        fingerprint: hex_join(&Sha1::digest(der), false),
        not_before: render_time(not_before)?,
        not_after: render_time(not_after)?,
    })
}

/// Hex bytes joined by ':' (`upper` selects the case of the digits).
fn hex_join(bytes: &[u8], upper: bool) -> String {
    let mut s = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            s.push(':');
        }
        // Writing into a String cannot fail.
        let _ = if upper { write!(s, "{b:02X}") } else { write!(s, "{b:02x}") };
    }
    s
}

/// Renders the content of a `Name` (SEQUENCE OF RelativeDistinguishedName).
///
/// RDNs are joined with `", "`, attributes of a multi-valued RDN with `" + "`,
/// like x509-parser (which Suricata uses) does.
fn render_name(mut rdns: &[u8]) -> Result<String, X509Error> {
    let mut out = String::new();
    let mut first_rdn = true;
    while !rdns.is_empty() {
        let (set, rest) = expect_tlv(rdns, TAG_SET)?;
        rdns = rest;
        if !first_rdn {
            out.push_str(", ");
        }
        first_rdn = false;
        let mut attrs = set;
        let mut first_attr = true;
        while !attrs.is_empty() {
            let (atv, rest) = expect_tlv(attrs, TAG_SEQUENCE)?;
            attrs = rest;
            let (oid, vr) = expect_tlv(atv, TAG_OID)?;
            let (value, _) = read_tlv(vr)?;
            if !first_attr {
                out.push_str(" + ");
            }
            first_attr = false;
            match attribute_name(oid) {
                Some(name) => out.push_str(name),
                None => write_oid(&mut out, oid)?,
            }
            out.push('=');
            write_value(&mut out, value);
        }
    }
    Ok(out)
}

/// Short name of a well-known attribute type, given the OID content bytes.
///
/// The abbreviations (C, ST, L, O, OU, CN, DC, Email) and the other short names
/// are those of x509-parser / oid-registry, so the output matches Suricata's.
fn attribute_name(oid: &[u8]) -> Option<&'static str> {
    const X520: &[u8] = &[0x55, 0x04]; // 2.5.4
    if let Some(&[arc]) = oid.strip_prefix(X520) {
        return Some(match arc {
            0 => "objectClass",
            1 => "aliasedEntryName",
            2 => "knowledgeInformation",
            3 => "CN",
            4 => "surname",
            5 => "serialNumber",
            6 => "C",
            7 => "L",
            8 => "ST",
            9 => "streetAddress",
            10 => "O",
            11 => "OU",
            12 => "title",
            13 => "description",
            14 => "searchGuide",
            15 => "businessCategory",
            16 => "postalAddress",
            17 => "postalCode",
            41 => "name",
            42 => "givenName",
            43 => "initials",
            44 => "generationQualifier",
            45 => "uniqueIdentifier",
            46 => "dnQualifier",
            _ => return None,
        });
    }
    const CE: &[u8] = &[0x55, 0x1d]; // 2.5.29 (extension OIDs misused as attributes)
    if let Some(&[arc]) = oid.strip_prefix(CE) {
        return Some(match arc {
            14 => "subjectKeyIdentifier",
            15 => "keyUsage",
            17 => "subjectAltName",
            18 => "issuerAltName",
            19 => "basicConstraints",
            _ => return None,
        });
    }
    const PKCS9: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09]; // 1.2.840.113549.1.9
    if let Some(&[arc]) = oid.strip_prefix(PKCS9) {
        return Some(match arc {
            1 => "Email",
            2 => "unstructuredName",
            _ => return None,
        });
    }
    const DC: &[u8] = &[0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x19];
    if oid == DC {
        return Some("DC");
    }
    const MS_JURISDICTION: &[u8] = &[0x2b, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x3c, 0x02, 0x01];
    if let Some(&[arc]) = oid.strip_prefix(MS_JURISDICTION) {
        return Some(match arc {
            1 => "msJurisdictionLocality",
            2 => "msJurisdictionStateOrProvince",
            3 => "msJurisdictionCountry",
            _ => return None,
        });
    }
    None
}

/// Appends the dotted form of an OBJECT IDENTIFIER's content bytes.
fn write_oid(out: &mut String, oid: &[u8]) -> Result<(), X509Error> {
    if oid.is_empty() {
        return Err(X509Error::BadOid);
    }
    let mut acc: u64 = 0;
    let mut first = true;
    let mut pending = false;
    for &b in oid {
        acc = acc.checked_mul(128).and_then(|v| v.checked_add(u64::from(b & 0x7f))).ok_or(X509Error::BadOid)?;
        pending = true;
        if b & 0x80 != 0 {
            continue;
        }
        if first {
            let (x, y) = match acc {
                0..=39 => (0, acc),
                40..=79 => (1, acc - 40),
                _ => (2, acc - 80),
            };
            let _ = write!(out, "{x}.{y}");
            first = false;
        } else {
            let _ = write!(out, ".{acc}");
        }
        acc = 0;
        pending = false;
    }
    if pending {
        return Err(X509Error::BadOid);
    }
    Ok(())
}

/// Appends an attribute value: string types as text, anything else as
/// uppercase hex of the content bytes (x509-parser's behaviour).
fn write_value(out: &mut String, v: Tlv<'_>) {
    match v.tag {
        TAG_UTF8_STRING | TAG_NUMERIC_STRING | TAG_PRINTABLE_STRING | TAG_T61_STRING | TAG_VIDEOTEX_STRING
        | TAG_IA5_STRING | TAG_GRAPHIC_STRING | TAG_VISIBLE_STRING | TAG_GENERAL_STRING => {
            out.push_str(&String::from_utf8_lossy(v.value))
        }
        TAG_BMP_STRING => {
            let units = v.value.chunks_exact(2).map(|c| c.iter().fold(0u16, |acc, &b| (acc << 8) | u16::from(b)));
            out.extend(char::decode_utf16(units).map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER)));
        }
        TAG_UNIVERSAL_STRING => {
            out.extend(v.value.chunks_exact(4).map(|c| {
                let cp = c.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
                char::from_u32(cp).unwrap_or(char::REPLACEMENT_CHARACTER)
            }));
        }
        _ => {
            for b in v.value {
                let _ = write!(out, "{b:02X}");
            }
        }
    }
}

/// Renders a UTCTime or GeneralizedTime as `YYYY-MM-DDTHH:MM:SS` in UTC.
fn render_time(t: Tlv<'_>) -> Result<String, X509Error> {
    let s = t.value;
    let (year, rest) = match t.tag {
        TAG_UTC_TIME => {
            let yy = digits(s, 0, 2)?;
            // RFC 5280: YY >= 50 is 19YY, otherwise 20YY.
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, s.get(2..))
        }
        TAG_GENERALIZED_TIME => (digits(s, 0, 4)?, s.get(4..)),
        _ => return Err(X509Error::BadTime),
    };
    let rest = rest.ok_or(X509Error::BadTime)?;
    let month = digits(rest, 0, 2)?;
    let day = digits(rest, 2, 2)?;
    let hour = digits(rest, 4, 2)?;
    let minute = digits(rest, 6, 2)?;
    let mut tail = rest.get(8..).ok_or(X509Error::BadTime)?;
    let mut second = 0;
    if tail.first().is_some_and(u8::is_ascii_digit) {
        second = digits(tail, 0, 2)?;
        tail = tail.get(2..).ok_or(X509Error::BadTime)?;
    }
    // Fractional seconds (GeneralizedTime) are dropped.
    if let Some(frac) = tail.strip_prefix(b".").or_else(|| tail.strip_prefix(b",")) {
        let n = frac.iter().take_while(|b| b.is_ascii_digit()).count();
        tail = frac.get(n..).ok_or(X509Error::BadTime)?;
    }
    let offset_minutes: i64 = match tail {
        [] | [b'Z'] => 0,
        [sign @ (b'+' | b'-'), ..] if tail.len() == 5 => {
            let h = i64::from(digits(tail, 1, 2)?);
            let m = i64::from(digits(tail, 3, 2)?);
            let v = h * 60 + m;
            if *sign == b'+' { v } else { -v }
        }
        _ => return Err(X509Error::BadTime),
    };
    if !(1..=12).contains(&month)
        || !(1..=days_in_month(year, month)).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return Err(X509Error::BadTime);
    }
    let (mut y, mut mo, mut d, mut h, mut mi, mut sec) =
        (i64::from(year), i64::from(month), i64::from(day), i64::from(hour), i64::from(minute), i64::from(second));
    if offset_minutes != 0 {
        let days = days_from_civil(y, mo, d);
        let secs = days * 86_400 + h * 3600 + mi * 60 + sec - offset_minutes * 60;
        let (dd, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
        (y, mo, d) = civil_from_days(dd);
        (h, mi, sec) = (rem / 3600, rem % 3600 / 60, rem % 60);
    }
    Ok(format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{sec:02}"))
}

/// Parses `n` ASCII digits at `at` in `s`.
fn digits(s: &[u8], at: usize, n: usize) -> Result<u32, X509Error> {
    let end = at.checked_add(n).ok_or(X509Error::BadTime)?;
    let d = s.get(at..end).ok_or(X509Error::BadTime)?;
    d.iter().try_fold(0u32, |acc, &b| {
        if b.is_ascii_digit() { Ok(acc * 10 + u32::from(b - b'0')) } else { Err(X509Error::BadTime) }
    })
}

fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        _ => 28,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn time(tag: u8, s: &str) -> Result<String, X509Error> {
        render_time(Tlv { tag, value: s.as_bytes() })
    }

    #[test]
    fn utc_time_century_window() {
        assert_eq!(time(TAG_UTC_TIME, "030329005744Z").as_deref(), Ok("2003-03-29T00:57:44"));
        assert_eq!(time(TAG_UTC_TIME, "491231235959Z").as_deref(), Ok("2049-12-31T23:59:59"));
        assert_eq!(time(TAG_UTC_TIME, "500101000000Z").as_deref(), Ok("1950-01-01T00:00:00"));
        assert_eq!(time(TAG_UTC_TIME, "5001010000Z").as_deref(), Ok("1950-01-01T00:00:00"));
    }

    #[test]
    fn generalized_time_and_offsets() {
        assert_eq!(time(TAG_GENERALIZED_TIME, "20500101000000Z").as_deref(), Ok("2050-01-01T00:00:00"));
        assert_eq!(time(TAG_GENERALIZED_TIME, "20231231233000.123Z").as_deref(), Ok("2023-12-31T23:30:00"));
        // 00:30 at +0100 is 23:30 the previous day (and year) in UTC.
        assert_eq!(time(TAG_GENERALIZED_TIME, "20240101003000+0100").as_deref(), Ok("2023-12-31T23:30:00"));
        assert_eq!(time(TAG_UTC_TIME, "240228233000-0100").as_deref(), Ok("2024-02-29T00:30:00"));
    }

    #[test]
    fn bad_times_are_errors() {
        for s in ["", "2401", "241301000000Z", "240230000000Z", "24010100000aZ", "240101000000Q"] {
            assert_eq!(time(TAG_UTC_TIME, s), Err(X509Error::BadTime), "{s}");
        }
        assert_eq!(time(TAG_INTEGER, "240101000000Z"), Err(X509Error::BadTime));
    }

    #[test]
    fn oid_rendering() {
        let mut s = String::new();
        write_oid(&mut s, &[0x55, 0x04, 0x61]).ok();
        assert_eq!(s, "2.5.4.97");
        let mut s = String::new();
        write_oid(&mut s, &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10]).ok();
        assert_eq!(s, "1.2.840.113549.1.9.16");
        assert_eq!(write_oid(&mut String::new(), &[0x2a, 0x86]), Err(X509Error::BadOid));
        assert_eq!(write_oid(&mut String::new(), &[0xff; 12]), Err(X509Error::BadOid));
    }

    /// Builds a DER TLV (short or long length form).
    fn tlv(tag: u8, value: &[u8]) -> Vec<u8> {
        let mut v = vec![tag];
        let len = value.len();
        if len < 0x80 {
            v.push(len as u8);
        } else {
            v.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
        }
        v.extend_from_slice(value);
        v
    }

    fn atv(oid: &[u8], tag: u8, value: &[u8]) -> Vec<u8> {
        tlv(TAG_SEQUENCE, &[tlv(TAG_OID, oid), tlv(tag, value)].concat())
    }

    #[test]
    fn name_rendering_multi_valued_and_fallbacks() {
        let name = [
            tlv(TAG_SET, &atv(&[0x55, 0x04, 0x06], TAG_PRINTABLE_STRING, b"FR")),
            tlv(
                TAG_SET,
                &[
                    atv(&[0x55, 0x04, 0x03], TAG_UTF8_STRING, b"Test1"),
                    atv(&[0x55, 0x04, 0x03], TAG_BMP_STRING, &[0, b'T', 0, b'2']),
                ]
                .concat(),
            ),
            tlv(TAG_SET, &atv(&[0x55, 0x04, 0x61], TAG_UTF8_STRING, b"VATFR-1")),
            tlv(TAG_SET, &atv(&[0x55, 0x04, 0x2d], 0x03, &[0x00, 0xab])),
        ]
        .concat();
        assert_eq!(
            render_name(&name).as_deref(),
            Ok("C=FR, CN=Test1 + CN=T2, 2.5.4.97=VATFR-1, uniqueIdentifier=00AB")
        );
        assert_eq!(render_name(&[]).as_deref(), Ok(""));
        assert!(render_name(&[0x31, 0x05, 0x30]).is_err());
    }

    #[test]
    fn synthetic_certificate() {
        let name = tlv(TAG_SET, &atv(&[0x55, 0x04, 0x03], TAG_UTF8_STRING, b"x"));
        let tbs = [
            tlv(TAG_VERSION, &tlv(TAG_INTEGER, &[2])),
            tlv(TAG_INTEGER, &[0x00, 0xa1, 0x05]),
            tlv(TAG_SEQUENCE, &tlv(TAG_OID, &[0x2a, 0x03])),
            tlv(TAG_SEQUENCE, &name),
            tlv(
                TAG_SEQUENCE,
                &[tlv(TAG_UTC_TIME, b"230101000000Z"), tlv(TAG_GENERALIZED_TIME, b"20991231235959Z")].concat(),
            ),
            tlv(TAG_SEQUENCE, &[]),
            vec![0u8; 200],
        ]
        .concat();
        let der = tlv(TAG_SEQUENCE, &tlv(TAG_SEQUENCE, &tbs));
        let info = parse_certificate(&der).expect("synthetic cert parses");
        assert_eq!(info.subject, "");
        assert_eq!(info.issuer, "CN=x");
        assert_eq!(info.serial, "00:A1:05");
        assert_eq!(info.not_before, "2023-01-01T00:00:00");
        assert_eq!(info.not_after, "2099-12-31T23:59:59");
        assert_eq!(info.fingerprint.len(), 59);
        // Every truncation is an error, never a panic.
        for n in 0..der.len() {
            assert!(parse_certificate(&der[..n]).is_err(), "prefix {n}");
        }
    }

    #[test]
    fn length_forms() {
        assert_eq!(read_tlv(&[0x04, 0x80]).err(), Some(X509Error::BadLength));
        assert_eq!(read_tlv(&[0x04, 0x85, 1, 1, 1, 1, 1]).err(), Some(X509Error::BadLength));
        assert_eq!(read_tlv(&[0x04, 0x82, 0x01]).err(), Some(X509Error::Truncated));
        assert_eq!(read_tlv(&[0x1f]).err(), Some(X509Error::Truncated));
        let (t, rest) = read_tlv(&[0x9f, 0x81, 0x01, 0x01, 0xaa, 0xbb]).expect("high tag");
        assert_eq!((t.tag, t.value, rest), (0x9f, &[0xaa][..], &[0xbb][..]));
    }
}
