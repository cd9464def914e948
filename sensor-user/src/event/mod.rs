//! Typed events decoded from ring-buffer records, with bounds and tag checks, and their
//! JSON form.

mod decode;
mod json;

pub use decode::{DecodeError, Event, decode};
pub use json::{event_type, ip, to_json, write_json_line};

/// A NUL-padded byte string as text (lossy), up to `len` bytes or the first NUL.
pub fn c_str(bytes: &[u8], len: usize) -> String {
    let b = &bytes[..len.min(bytes.len())];
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}
