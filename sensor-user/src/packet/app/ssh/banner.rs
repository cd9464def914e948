//! SSH identification line ("SSH-protoversion-softwareversion SP comments", RFC 4253 section 4.2).

use super::SshBanner;

/// Splits an identification line (without its CR LF / LF) that starts with `SSH-`.
///
/// The protocol version runs up to the first `-`, the software version up to the first space, and
/// the comment is whatever follows that space (present, maybe empty, whenever a space is there).
/// A line without a `-` after the protocol version has an empty software version. Invalid UTF-8 is
/// replaced with U+FFFD.
pub(super) fn parse_banner(line: &[u8]) -> Option<SshBanner> {
    let rest = line.strip_prefix(b"SSH-")?;
    let (ident, comment) = match rest.iter().position(|&b| b == b' ') {
        Some(sp) => (rest.get(..sp)?, Some(rest.get(sp.saturating_add(1)..)?)),
        None => (rest, None),
    };
    let (proto, software) = match ident.iter().position(|&b| b == b'-') {
        Some(dash) => (ident.get(..dash)?, ident.get(dash.saturating_add(1)..)?),
        None => (ident, &[][..]),
    };
    Some(SshBanner { proto_version: lossy(proto), software_version: lossy(software), comment: comment.map(lossy) })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn banner(p: &str, s: &str, c: Option<&str>) -> Option<SshBanner> {
        Some(SshBanner { proto_version: p.into(), software_version: s.into(), comment: c.map(Into::into) })
    }

    #[test]
    fn splits_fields() {
        assert_eq!(parse_banner(b"SSH-2.0-OpenSSH_7.4"), banner("2.0", "OpenSSH_7.4", None));
        assert_eq!(parse_banner(b"SSH-2.0-OpenSSH_6.7p1 Debian-3"), banner("2.0", "OpenSSH_6.7p1", Some("Debian-3")));
        assert_eq!(parse_banner(b"SSH-1.99-Cisco-1.25"), banner("1.99", "Cisco-1.25", None));
        assert_eq!(parse_banner(b"SSH-2.0"), banner("2.0", "", None));
        assert_eq!(parse_banner(b"SSH-2.0-x "), banner("2.0", "x", Some("")));
        assert_eq!(parse_banner(b"HTTP/1.1 200 OK"), None);
    }
}
