//! Names of record types and response codes, spelled as Suricata's eve log spells them.

use std::borrow::Cow;

/// Record type name as in Suricata's eve `rrtype`; unknown types are the decimal number.
///
/// Suricata's table is followed exactly, including its spellings `NSAPPT` (23), `CDSNKEY` (60)
/// and `ND` (MD, 3). Two types Suricata prints as numbers get names here: `SVCB` (64) and `CAA` (257).
pub fn rrtype_name(t: u16) -> Cow<'static, str> {
    let name = match t {
        1 => "A",
        2 => "NS",
        3 => "ND",
        4 => "MF",
        5 => "CNAME",
        6 => "SOA",
        7 => "MB",
        8 => "MG",
        9 => "MR",
        10 => "NULL",
        11 => "WKS",
        12 => "PTR",
        13 => "HINFO",
        14 => "MINFO",
        15 => "MX",
        16 => "TXT",
        17 => "RP",
        18 => "AFSDB",
        19 => "X25",
        20 => "ISDN",
        21 => "RT",
        22 => "NSAP",
        23 => "NSAPPT",
        24 => "SIG",
        25 => "KEY",
        26 => "PX",
        27 => "GPOS",
        28 => "AAAA",
        29 => "LOC",
        30 => "NXT",
        33 => "SRV",
        34 => "ATMA",
        35 => "NAPTR",
        36 => "KX",
        37 => "CERT",
        38 => "A6",
        39 => "DNAME",
        41 => "OPT",
        42 => "APL",
        43 => "DS",
        44 => "SSHFP",
        45 => "IPSECKEY",
        46 => "RRSIG",
        47 => "NSEC",
        48 => "DNSKEY",
        49 => "DHCID",
        50 => "NSEC3",
        51 => "NSEC3PARAM",
        52 => "TLSA",
        55 => "HIP",
        59 => "CDS",
        60 => "CDSNKEY",
        64 => "SVCB",
        65 => "HTTPS",
        99 => "SPF",
        249 => "TKEY",
        250 => "TSIG",
        254 => "MAILA",
        255 => "ANY",
        256 => "URI",
        257 => "CAA",
        _ => return Cow::Owned(t.to_string()),
    };
    Cow::Borrowed(name)
}

/// Response code name as in Suricata's eve `rcode`; unknown codes are the decimal number.
///
/// Takes the 4-bit header rcode or the 12-bit EDNS extended one truncated to `u8`
/// (16..=22 are only reachable through EDNS).
pub fn rcode_name(rc: u8) -> Cow<'static, str> {
    let name = match rc {
        0 => "NOERROR",
        1 => "FORMERR",
        2 => "SERVFAIL",
        3 => "NXDOMAIN",
        4 => "NOTIMP",
        5 => "REFUSED",
        6 => "YXDOMAIN",
        7 => "YXRRSET",
        8 => "NXRRSET",
        9 => "NOTAUTH",
        10 => "NOTZONE",
        16 => "BADVERS/BADSIG",
        17 => "BADKEY",
        18 => "BADTIME",
        19 => "BADMODE",
        20 => "BADNAME",
        21 => "BADALG",
        22 => "BADTRUNC",
        _ => return Cow::Owned(rc.to_string()),
    };
    Cow::Borrowed(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown() {
        assert_eq!(rrtype_name(1), "A");
        assert_eq!(rrtype_name(65), "HTTPS");
        assert_eq!(rrtype_name(65534), "65534");
        assert_eq!(rcode_name(3), "NXDOMAIN");
        assert_eq!(rcode_name(11), "11");
        assert!(matches!(rrtype_name(46), Cow::Borrowed("RRSIG")));
    }
}
