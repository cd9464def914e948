//! Domain name decoding with compression pointers, loop and length limits.

use super::DnsError;

/// Most compression pointers followed while decoding one name.
pub const MAX_POINTER_JUMPS: usize = 64;
/// Most octets of an expanded name in wire form (length bytes, labels and the final zero), per RFC 1035.
pub const MAX_NAME_WIRE_LEN: usize = 255;

/// Decodes the name at `start` in `msg`.
///
/// Returns the dotted name (raw label bytes, empty for the root) and the offset just after the
/// name where it started: after its final zero, or after its first compression pointer.
pub(super) fn read_name(msg: &[u8], start: usize) -> Result<(Vec<u8>, usize), DnsError> {
    let mut name = Vec::new();
    let mut pos = start;
    let mut end: Option<usize> = None;
    let mut jumps = 0usize;
    // The final zero octet.
    let mut wire_len = 1usize;
    loop {
        let len = *msg.get(pos).ok_or(DnsError::Truncated { offset: pos })?;
        match len & 0xc0 {
            0x00 if len == 0 => {
                return Ok((name, end.unwrap_or(pos.saturating_add(1))));
            }
            0x00 => {
                let label_len = usize::from(len);
                wire_len = wire_len.saturating_add(label_len).saturating_add(1);
                if wire_len > MAX_NAME_WIRE_LEN {
                    return Err(DnsError::NameTooLong { offset: start });
                }
                let label_start = pos.saturating_add(1);
                let label_end = label_start.saturating_add(label_len);
                let label = msg.get(label_start..label_end).ok_or(DnsError::Truncated { offset: pos })?;
                if !name.is_empty() {
                    name.push(b'.');
                }
                name.extend_from_slice(label);
                pos = label_end;
            }
            0xc0 => {
                let low = *msg.get(pos.saturating_add(1)).ok_or(DnsError::Truncated { offset: pos })?;
                let target = usize::from(u16::from_be_bytes([len & 0x3f, low]));
                if end.is_none() {
                    end = Some(pos.saturating_add(2));
                }
                jumps = jumps.saturating_add(1);
                if jumps > MAX_POINTER_JUMPS {
                    return Err(DnsError::PointerLoop { offset: pos });
                }
                if target >= msg.len() {
                    return Err(DnsError::BadPointer { offset: pos });
                }
                pos = target;
            }
            _ => return Err(DnsError::BadLabelType { offset: pos }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_and_root() {
        assert_eq!(read_name(b"\x03www\x07example\x03com\x00", 0), Ok((b"www.example.com".to_vec(), 17)));
        assert_eq!(read_name(b"\x00", 0), Ok((Vec::new(), 1)));
    }

    #[test]
    fn pointer_end_is_after_first_pointer() {
        // "com" at 0, then "example" + pointer to 0 at 5.
        let msg = b"\x03com\x00\x07example\xc0\x00";
        assert_eq!(read_name(msg, 5), Ok((b"example.com".to_vec(), 15)));
    }

    #[test]
    fn forward_pointer_is_accepted() {
        let msg = b"\xc0\x02\x03abc\x00";
        assert_eq!(read_name(msg, 0), Ok((b"abc".to_vec(), 2)));
    }

    #[test]
    fn loops_and_bad_pointers() {
        assert_eq!(read_name(b"\xc0\x00", 0), Err(DnsError::PointerLoop { offset: 0 }));
        // Two pointers pointing at each other, with a label in between: the length cap or the jump cap stops it.
        let msg = b"\x01a\xc0\x00";
        assert!(matches!(read_name(msg, 0), Err(DnsError::NameTooLong { .. } | DnsError::PointerLoop { .. })));
        assert_eq!(read_name(b"\xc0\x05", 0), Err(DnsError::BadPointer { offset: 0 }));
        assert_eq!(read_name(b"\xc0", 0), Err(DnsError::Truncated { offset: 0 }));
        assert_eq!(read_name(b"\x40abc", 0), Err(DnsError::BadLabelType { offset: 0 }));
        assert_eq!(read_name(b"\x05ab", 0), Err(DnsError::Truncated { offset: 0 }));
        assert_eq!(read_name(b"\x01a", 0), Err(DnsError::Truncated { offset: 2 }));
    }

    #[test]
    fn length_limit_is_255_octets() {
        // 4 labels of 63 = 256 octets + 1 zero: too long; 3 x 63 + 61 = 253 + 1 = 254... build both.
        let mut ok = Vec::new();
        for len in [63u8, 63, 63, 61] {
            ok.push(len);
            ok.extend(std::iter::repeat_n(b'x', usize::from(len)));
        }
        ok.push(0);
        assert_eq!(ok.len(), 255);
        let (name, end) = read_name(&ok, 0).expect("255-octet name");
        assert_eq!((name.len(), end), (253, 255));
        let mut long = ok.clone();
        long.splice(0..0, [1u8, b'y']);
        assert_eq!(read_name(&long, 0), Err(DnsError::NameTooLong { offset: 0 }));
    }
}
