//! A small, allocation-free JSON object writer over a reused byte buffer: fields come out in
//! the order they are written (so output is byte-for-byte deterministic), byte strings that
//! are not UTF-8 are escaped per byte as `\u00XX`.

use std::fmt::Write as _;

/// Writes one JSON value into a borrowed buffer.
#[derive(Debug)]
pub struct Json<'a> {
    buf: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> Json<'a> {
    /// Starts an object in `buf`.
    pub fn object(buf: &'a mut Vec<u8>) -> Self {
        buf.push(b'{');
        Self { buf, first: true }
    }

    /// Continues an object already opened in `buf` (which has at least one field).
    pub fn continue_object(buf: &'a mut Vec<u8>) -> Self {
        Self { buf, first: false }
    }

    fn key(&mut self, k: &str) {
        if !self.first {
            self.buf.push(b',');
        }
        self.first = false;
        self.buf.push(b'"');
        self.buf.extend_from_slice(k.as_bytes());
        self.buf.extend_from_slice(b"\":");
    }

    /// A string field.
    pub fn str(&mut self, k: &str, v: &str) -> &mut Self {
        self.key(k);
        escape(self.buf, v.as_bytes());
        self
    }

    /// A byte-string field (UTF-8 where valid).
    pub fn bytes(&mut self, k: &str, v: &[u8]) -> &mut Self {
        self.key(k);
        escape(self.buf, v);
        self
    }

    /// An optional byte-string field (omitted when `None`).
    pub fn opt_bytes(&mut self, k: &str, v: Option<&[u8]>) -> &mut Self {
        if let Some(v) = v {
            self.bytes(k, v);
        }
        self
    }

    /// An unsigned number.
    pub fn u64(&mut self, k: &str, v: u64) -> &mut Self {
        self.key(k);
        let _ = write!(Fmt(self.buf), "{v}");
        self
    }

    /// A float with fixed precision (used for rates in stats).
    pub fn f64(&mut self, k: &str, v: f64) -> &mut Self {
        self.key(k);
        if v.is_finite() {
            let _ = write!(Fmt(self.buf), "{v:.3}");
        } else {
            self.buf.extend_from_slice(b"null");
        }
        self
    }

    /// A capture-time timestamp in Suricata's format.
    pub fn key_timestamp(&mut self, k: &str, ts_ns: u64) -> &mut Self {
        self.key(k);
        self.buf.push(b'"');
        timestamp(self.buf, ts_ns);
        self.buf.push(b'"');
        self
    }

    /// A boolean.
    pub fn bool(&mut self, k: &str, v: bool) -> &mut Self {
        self.key(k);
        self.buf.extend_from_slice(if v { b"true" } else { b"false" });
        self
    }

    /// A formatted string value (`"..."`), written without an intermediate String.
    pub fn fmt(&mut self, k: &str, args: std::fmt::Arguments<'_>) -> &mut Self {
        self.key(k);
        self.buf.push(b'"');
        let _ = Fmt(self.buf).write_fmt(args);
        self.buf.push(b'"');
        self
    }

    /// A nested object built by `f`.
    pub fn obj(&mut self, k: &str, f: impl FnOnce(&mut Json<'_>)) -> &mut Self {
        self.key(k);
        let mut inner = Json::object(self.buf);
        f(&mut inner);
        inner.end();
        self
    }

    /// An array of objects, one per item.
    pub fn arr<T>(
        &mut self,
        k: &str,
        items: impl IntoIterator<Item = T>,
        mut f: impl FnMut(&mut Json<'_>, T),
    ) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            let mut inner = Json::object(self.buf);
            f(&mut inner, item);
            inner.end();
        }
        self.buf.push(b']');
        self
    }

    /// An array of strings.
    pub fn str_arr<'s>(&mut self, k: &str, items: impl IntoIterator<Item = &'s [u8]>) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            escape(self.buf, item);
        }
        self.buf.push(b']');
        self
    }

    /// An array of numbers.
    pub fn u64_arr(&mut self, k: &str, items: impl IntoIterator<Item = u64>) -> &mut Self {
        self.key(k);
        self.buf.push(b'[');
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                self.buf.push(b',');
            }
            let _ = std::fmt::Write::write_fmt(&mut Fmt(self.buf), format_args!("{item}"));
        }
        self.buf.push(b']');
        self
    }

    /// Closes the object.
    pub fn end(self) {
        self.buf.push(b'}');
    }
}

struct Fmt<'a>(&'a mut Vec<u8>);

impl std::fmt::Write for Fmt<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Appends `v` as a JSON string literal.
pub fn escape(buf: &mut Vec<u8>, v: &[u8]) {
    buf.push(b'"');
    for chunk in v.utf8_chunks() {
        for &b in chunk.valid().as_bytes() {
            match b {
                b'"' => buf.extend_from_slice(b"\\\""),
                b'\\' => buf.extend_from_slice(b"\\\\"),
                b'\n' => buf.extend_from_slice(b"\\n"),
                b'\r' => buf.extend_from_slice(b"\\r"),
                b'\t' => buf.extend_from_slice(b"\\t"),
                0..=0x1F | 0x7F => hex_escape(buf, b),
                _ => buf.push(b),
            }
        }
        for &b in chunk.invalid() {
            hex_escape(buf, b);
        }
    }
    buf.push(b'"');
}

fn hex_escape(buf: &mut Vec<u8>, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    buf.extend_from_slice(b"\\u00");
    buf.push(HEX[usize::from(b >> 4)]);
    buf.push(HEX[usize::from(b & 15)]);
}

/// Formats capture time as Suricata does: `2024-01-02T03:04:05.123456+0000` (UTC).
pub fn timestamp(buf: &mut Vec<u8>, ts_ns: u64) {
    let secs = ts_ns / 1_000_000_000;
    let micros = (ts_ns % 1_000_000_000) / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        Fmt(buf),
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{micros:06}+0000",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    );
}

/// Howard Hinnant's days-to-civil algorithm: (year, month, day) of a day count since
/// 1970-01-01.
pub(crate) fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_match_suricata_format() {
        let mut b = Vec::new();
        timestamp(&mut b, 1_259_097_704_391_522_000);
        assert_eq!(b, b"2009-11-24T21:21:44.391522+0000");
        b.clear();
        timestamp(&mut b, 951_782_400_000_000_000);
        assert_eq!(b, b"2000-02-29T00:00:00.000000+0000");
    }

    #[test]
    fn strings_are_escaped_and_invalid_utf8_is_per_byte() {
        let mut b = Vec::new();
        escape(&mut b, b"a\"b\\c\n\x01\xffz\xc3\xa9");
        assert_eq!(String::from_utf8(b).expect("utf8"), "\"a\\\"b\\\\c\\n\\u0001\\u00ffzé\"");
    }

    #[test]
    fn nested_objects_and_arrays_are_valid_json() {
        let mut b = Vec::new();
        let mut j = Json::object(&mut b);
        j.u64("a", 1).obj("o", |o| {
            o.bool("t", true);
        });
        j.arr("l", [1u64, 2], |o, v| {
            o.u64("v", v);
        });
        j.str_arr("s", [&b"x"[..], b"y"]);
        j.end();
        let v: serde_json::Value = serde_json::from_slice(&b).expect("valid json");
        assert_eq!(v["l"][1]["v"], 2);
        assert_eq!(v["s"][1], "y");
    }
}
