//! Number reading for `byte_test`, `byte_jump` and `byte_extract`: raw big/little endian
//! integers (`ByteExtractUint64`) and ASCII numbers parsed like C's `strtoull`
//! (`ByteExtractStringUint64`), plus the bitmask step of `byte_test`.

use super::super::ir::NumBase;

/// Reads `bytes` (1..=8 of them) as an unsigned integer. `None` when the length is out of range.
pub(super) fn read_binary(bytes: &[u8], big_endian: bool) -> Option<u64> {
    if bytes.is_empty() || bytes.len() > 8 {
        return None;
    }
    let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
    Some(if big_endian { bytes.iter().fold(0, fold) } else { bytes.iter().rev().fold(0, fold) })
}

/// Parses `bytes` (at most 23, as Suricata) the way `strtoull(s, &end, base)` does on a
/// NUL-terminated copy: leading white space, an optional sign, an optional `0x` prefix in hex,
/// then digits up to the first non-digit. Returns `(value, bytes consumed)`; `None` when no
/// digit was read, the value overflows (`ERANGE`), or the length is out of range.
pub(super) fn read_string(bytes: &[u8], base: NumBase) -> Option<(u64, usize)> {
    let radix: u64 = match base {
        NumBase::Dec | NumBase::Binary => 10,
        NumBase::Hex => 16,
        NumBase::Oct => 8,
    };
    if bytes.len() > 23 {
        return None;
    }
    // The C copy is NUL-terminated: nothing after an embedded NUL is seen.
    let s = match memchr::memchr(0, bytes) {
        Some(n) => &bytes[..n],
        None => bytes,
    };
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r') {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    if radix == 16
        && s.get(i) == Some(&b'0')
        && matches!(s.get(i + 1), Some(b'x' | b'X'))
        && s.get(i + 2).is_some_and(|c| c.is_ascii_hexdigit())
    {
        i += 2;
    }
    let start = i;
    let mut value: u64 = 0;
    let mut overflow = false;
    while i < s.len() {
        let d = match s[i] {
            c @ b'0'..=b'9' => u64::from(c - b'0'),
            c @ b'a'..=b'z' => u64::from(c - b'a') + 10,
            c @ b'A'..=b'Z' => u64::from(c - b'A') + 10,
            _ => break,
        };
        if d >= radix {
            break;
        }
        match value.checked_mul(radix).and_then(|v| v.checked_add(d)) {
            Some(v) => value = v,
            None => overflow = true,
        }
        i += 1;
    }
    if i == start || overflow {
        return None;
    }
    Some((if negative { value.wrapping_neg() } else { value }, i))
}

/// Applies a `bitmask`: keep the masked bits, then shift right by the mask's trailing zeros.
pub(super) fn apply_bitmask(value: u64, mask: u64) -> u64 {
    let v = value & mask;
    if v != 0 && mask != 0 { v >> mask.trailing_zeros() } else { v }
}

#[cfg(test)]
mod unit {
    use super::*;

    #[test]
    fn binary_endianness() {
        assert_eq!(read_binary(&[0x01, 0x02], true), Some(0x0102));
        assert_eq!(read_binary(&[0x01, 0x02], false), Some(0x0201));
        assert_eq!(read_binary(&[1; 9], true), None);
    }

    #[test]
    fn strtoull_like() {
        assert_eq!(read_string(b"123", NumBase::Dec), Some((123, 3)));
        assert_eq!(read_string(b" 12a", NumBase::Dec), Some((12, 3)));
        assert_eq!(read_string(b"0x1F", NumBase::Hex), Some((0x1f, 4)));
        assert_eq!(read_string(b"1F", NumBase::Hex), Some((0x1f, 2)));
        assert_eq!(read_string(b"0x", NumBase::Hex), Some((0, 1)));
        assert_eq!(read_string(b"017", NumBase::Oct), Some((0o17, 3)));
        assert_eq!(read_string(b"89", NumBase::Oct), None);
        assert_eq!(read_string(b"abc", NumBase::Dec), None);
        assert_eq!(read_string(b"1\x002", NumBase::Dec), Some((1, 1)));
        assert_eq!(read_string(b"99999999999999999999", NumBase::Dec), None);
    }

    #[test]
    fn bitmask_shifts_by_trailing_zeros() {
        assert_eq!(apply_bitmask(0xABCD, 0x0F00), 0xB);
        assert_eq!(apply_bitmask(0xABCD, 0), 0);
    }
}
