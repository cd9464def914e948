//! Framing shared by server and client: read one `'\n'`-terminated line with a size cap and
//! an overall deadline, write one JSON value plus `'\n'`.

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

/// Why a line could not be read.
#[derive(Debug)]
pub(crate) enum ReadLineError {
    /// More than the cap arrived without a `'\n'`.
    TooLong,
    /// The deadline passed first.
    TimedOut,
    /// The peer closed before sending anything.
    Empty,
    /// Another read error.
    Io(io::Error),
}

/// Reads from `stream` until a `'\n'` (returned without it and without anything after it),
/// end of stream (what arrived so far), more than `max` bytes, or `timeout` in total.
pub(crate) fn read_line(stream: &mut UnixStream, max: usize, timeout: Duration) -> Result<Vec<u8>, ReadLineError> {
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::with_capacity(4096.min(max + 1));
    let mut chunk = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ReadLineError::TimedOut);
        }
        stream.set_read_timeout(Some(left)).map_err(ReadLineError::Io)?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut) => {
                return Err(ReadLineError::TimedOut);
            }
            Err(e) => return Err(ReadLineError::Io(e)),
        };
        if n == 0 {
            return if buf.is_empty() { Err(ReadLineError::Empty) } else { Ok(buf) };
        }
        let start = buf.len();
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf[start..].iter().position(|&b| b == b'\n') {
            buf.truncate(start + i);
            return if buf.len() > max { Err(ReadLineError::TooLong) } else { Ok(buf) };
        }
        if buf.len() > max {
            return Err(ReadLineError::TooLong);
        }
    }
}

/// Writes `value` as one line of JSON.
pub(crate) fn write_line(stream: &mut UnixStream, value: &serde_json::Value) -> io::Result<()> {
    let mut out = serde_json::to_vec(value).map_err(io::Error::other)?;
    out.push(b'\n');
    stream.write_all(&out)?;
    stream.flush()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_from(bytes: &[u8], max: usize) -> Result<Vec<u8>, ReadLineError> {
        let (mut a, mut b) = UnixStream::pair().expect("socketpair");
        b.write_all(bytes).expect("write");
        drop(b);
        read_line(&mut a, max, Duration::from_secs(2))
    }

    #[test]
    fn line_stops_at_the_first_newline() {
        assert_eq!(read_from(b"{\"a\":1}\nrest", 64).expect("line"), b"{\"a\":1}");
    }

    #[test]
    fn end_of_stream_without_newline_returns_what_arrived() {
        assert_eq!(read_from(b"{}", 64).expect("line"), b"{}");
    }

    #[test]
    fn line_of_exactly_max_bytes_is_accepted_and_one_more_is_refused() {
        assert_eq!(read_from(b"abcd\n", 4).expect("line"), b"abcd");
        assert!(matches!(read_from(b"abcde\n", 4), Err(ReadLineError::TooLong)));
        assert!(matches!(read_from(&[b'x'; 10_000], 4096), Err(ReadLineError::TooLong)));
    }

    #[test]
    fn silent_peer_times_out() {
        let (mut a, _b) = UnixStream::pair().expect("socketpair");
        let r = read_line(&mut a, 64, Duration::from_millis(50));
        assert!(matches!(r, Err(ReadLineError::TimedOut)));
    }

    #[test]
    fn closed_peer_without_data_is_empty() {
        assert!(matches!(read_from(b"", 64), Err(ReadLineError::Empty)));
    }
}
