//! JA4 TLS client fingerprint (FoxIO specification, TLS over TCP).
//!
//! Owns the fingerprint arithmetic only; the TLS parser extracts the
//! ClientHello fields and hands them over as a [`Ja4Input`].
//!
//! `JA4 = t{ver}{d|i}{ciphers:02}{exts:02}{alpn}_{hash12(ciphers)}_{hash12(exts_sigalgs)}`
//! where GREASE values are ignored everywhere, counts are capped at 99, the
//! cipher list is sorted hex, the extension list is sorted hex without SNI
//! (0x0000) and ALPN (0x0010), followed by `_` and the signature algorithms
//! in wire order (the `_` is omitted when there are none). `hash12` is the
//! first 12 lowercase hex digits of SHA-256, or `000000000000` for an empty
//! input.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::unreachable)]

use std::fmt::Write as _;

use sha2::{Digest, Sha256};

/// True for the reserved GREASE values 0x0a0a, 0x1a1a, .., 0xfafa (RFC 8701).
pub fn is_grease(v: u16) -> bool {
    v & 0x0f0f == 0x0a0a && (v >> 8) == (v & 0xff)
}

/// The ClientHello fields JA4 looks at. GREASE values may still be present;
/// [`ja4`] removes them.
#[derive(Debug, Default, Clone, Copy)]
pub struct Ja4Input<'a> {
    /// `legacy_version` of the ClientHello (used when `supported_versions` is absent).
    pub legacy_version: u16,
    /// Contents of the supported_versions extension (0x002b), if it was present.
    pub supported_versions: Option<&'a [u16]>,
    /// Cipher suites in wire order.
    pub ciphers: &'a [u16],
    /// Extension types in wire order.
    pub extensions: &'a [u16],
    /// The ALPN protocol names in wire order (empty when there is no ALPN extension).
    pub alpn: &'a [&'a [u8]],
    /// Signature algorithms (extension 0x000d) in wire order.
    pub signature_algorithms: &'a [u16],
}

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_ALPN: u16 = 0x0010;

/// Two-character version code of the JA4 `a` section.
fn version_code(v: u16) -> &'static str {
    match v {
        0x0304 => "13",
        0x0303 => "12",
        0x0302 => "11",
        0x0301 => "10",
        0x0300 => "s3",
        0x0002 | 0x0200 => "s2",
        0x0100 => "s1",
        0xfeff => "d1",
        0xfefd => "d2",
        0xfefc => "d3",
        _ => "00",
    }
}

/// The two ALPN characters of the `a` section for the first ALPN value.
fn alpn_code(first: Option<&[u8]>) -> [char; 2] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let Some((&a, rest)) = first.and_then(<[u8]>::split_first) else {
        return ['0', '0'];
    };
    let z = rest.last().copied().unwrap_or(a);
    if a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric() {
        [char::from(a), char::from(z)]
    } else {
        // First and last characters of the hex rendering of the value.
        let hi = HEX.get(usize::from(a >> 4)).copied().unwrap_or(b'0');
        let lo = HEX.get(usize::from(z & 0x0f)).copied().unwrap_or(b'0');
        [char::from(hi), char::from(lo)]
    }
}

/// First 12 lowercase hex digits of SHA-256 of `s`, or twelve zeros if `s` is empty.
fn hash12(s: &str) -> String {
    if s.is_empty() {
        return "000000000000".to_owned();
    }
    let digest = Sha256::digest(s.as_bytes());
    let mut out = String::with_capacity(12);
    for b in digest.iter().take(6) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Comma-joined 4-digit lowercase hex list.
fn hex_list(values: &[u16]) -> String {
    let mut s = String::with_capacity(values.len() * 5);
    for (i, v) in values.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{v:04x}");
    }
    s
}

/// Computes the JA4 fingerprint (`t13d1516h2_8daaf6152771_e5627efa2ab1`).
pub fn ja4(input: &Ja4Input<'_>) -> String {
    let version = match input.supported_versions {
        Some(list) => list.iter().copied().filter(|v| !is_grease(*v)).max(),
        None => None,
    }
    .unwrap_or(input.legacy_version);

    let mut ciphers: Vec<u16> = input.ciphers.iter().copied().filter(|v| !is_grease(*v)).collect();
    let exts: Vec<u16> = input.extensions.iter().copied().filter(|v| !is_grease(*v)).collect();
    let sni = exts.contains(&EXT_SERVER_NAME);
    let n_exts = exts.len();
    let mut hashed_exts: Vec<u16> = exts.into_iter().filter(|v| *v != EXT_SERVER_NAME && *v != EXT_ALPN).collect();
    let sigs: Vec<u16> = input.signature_algorithms.iter().copied().filter(|v| !is_grease(*v)).collect();
    let first_alpn = input
        .alpn
        .iter()
        .copied()
        .find(|p| !(p.len() == 2 && is_grease(p.iter().fold(0u16, |a, &b| (a << 8) | u16::from(b)))));
    let [al0, al1] = alpn_code(first_alpn);

    ciphers.sort_unstable();
    hashed_exts.sort_unstable();
    let mut c_raw = hex_list(&hashed_exts);
    if !sigs.is_empty() {
        c_raw.push('_');
        c_raw.push_str(&hex_list(&sigs));
    }

    format!(
        "t{ver}{sni}{nc:02}{ne:02}{al0}{al1}_{b}_{c}",
        ver = version_code(version),
        sni = if sni { 'd' } else { 'i' },
        nc = ciphers.len().min(99),
        ne = n_exts.min(99),
        b = hash12(&hex_list(&ciphers)),
        c = hash12(&c_raw),
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests {
    use super::*;

    const SPEC_CIPHERS: [u16; 15] = [
        0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f,
        0x0035,
    ];
    const SPEC_EXTS: [u16; 16] = [
        0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b, 0xff01, 0x000b,
        0x000a, 0x0015,
    ];
    const SPEC_SIGS: [u16; 8] = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

    /// The worked example of the FoxIO JA4 specification.
    #[test]
    fn spec_example() {
        let h2: &[u8] = b"h2";
        let alpn = [h2, b"http/1.1"];
        let input = Ja4Input {
            legacy_version: 0x0303,
            supported_versions: Some(&[0x1a1a, 0x0304, 0x0303]),
            ciphers: &[
                0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c,
                0x009d, 0x002f, 0x0035,
            ],
            extensions: &[
                0xfafa, 0x001b, 0x0000, 0x0033, 0x0010, 0x4469, 0x0017, 0x002d, 0x000d, 0x0005, 0x0023, 0x0012, 0x002b,
                0xff01, 0x000b, 0x000a, 0x0015, 0x2a2a,
            ],
            alpn: &alpn,
            signature_algorithms: &SPEC_SIGS,
        };
        assert_eq!(ja4(&input), "t13d1516h2_8daaf6152771_e5627efa2ab1");
        // Spec: the extension string without signature algorithms hashes to 6d807ffa2a79.
        let no_sigs = Ja4Input { signature_algorithms: &[], ..input };
        assert!(ja4(&no_sigs).ends_with("_8daaf6152771_6d807ffa2a79"));
    }

    #[test]
    fn empty_hello_and_caps() {
        let input = Ja4Input { legacy_version: 0x0301, ..Default::default() };
        assert_eq!(ja4(&input), "t10i000000_000000000000_000000000000");
        let many: Vec<u16> = (1..=200).collect();
        let input = Ja4Input {
            legacy_version: 0x0303,
            supported_versions: Some(&[0x0a0a]),
            ciphers: &many,
            extensions: &many,
            ..Default::default()
        };
        assert!(ja4(&input).starts_with("t12i999900_"));
        let input = Ja4Input {
            legacy_version: 0x0303,
            supported_versions: Some(&[0x7f1c]),
            ciphers: &SPEC_CIPHERS,
            extensions: &SPEC_EXTS,
            ..Default::default()
        };
        assert!(ja4(&input).starts_with("t00d151600_8daaf6152771_"));
    }

    /// ALPN examples of the specification's "ALPN Extension Value" section.
    #[test]
    fn alpn_rules() {
        assert_eq!(alpn_code(Some(b"h2")), ['h', '2']);
        assert_eq!(alpn_code(Some(b"http/1.1")), ['h', '1']);
        assert_eq!(alpn_code(Some(b"a")), ['a', 'a']);
        assert_eq!(alpn_code(Some(b"")), ['0', '0']);
        assert_eq!(alpn_code(None), ['0', '0']);
        assert_eq!(alpn_code(Some(&[0xab])), ['a', 'b']);
        assert_eq!(alpn_code(Some(&[0xab, 0xcd])), ['a', 'd']);
        assert_eq!(alpn_code(Some(&[0x30, 0xab])), ['3', 'b']);
        assert_eq!(alpn_code(Some(&[0x30, 0x31, 0xab, 0xcd])), ['3', 'd']);
        assert_eq!(alpn_code(Some(&[0x30, 0xab, 0xcd, 0x31])), ['0', '1']);
    }

    #[test]
    fn grease_detection() {
        assert!(is_grease(0x0a0a) && is_grease(0xfafa) && is_grease(0x5a5a));
        assert!(!is_grease(0x0a1a) && !is_grease(0x1301) && !is_grease(0xaaab));
    }
}
