//! SOCKS4/4a/5 handshakes (RFC 1928, RFC 1929 and the SOCKS4 spec): recognised by content,
//! consumed on both sides, and the tunnelled stream after them handed back to detection, so a
//! proxied HTTP or TLS session is parsed like a direct one.
//!
//! The client waits for the server's reply before sending data; bytes it sends early are held
//! (at most [`EARLY_MAX`]) and replayed after the handshake.

use crate::packet::Direction;

/// Most client bytes held while the server has not finished its side of the handshake.
pub const EARLY_MAX: usize = 16 * 1024;
/// Longest handshake message buffered while incomplete.
const MSG_MAX: usize = 600;

/// Does this first to-server chunk open a SOCKS handshake?
pub fn looks_like_socks(b: &[u8]) -> bool {
    match b {
        // SOCKS5 greeting: version, method count, methods (no auth, GSSAPI, user/pass, private).
        [5, n @ 1..=8, methods @ ..] => {
            methods.len() == usize::from(*n) && methods.iter().all(|m| *m <= 3 || *m >= 0x80 && *m != 0xFF)
        }
        // SOCKS4 CONNECT/BIND: version, command, port, IPv4, user id, NUL.
        [4, 1 | 2, _, _, _, _, _, _, rest @ ..] => rest.last() == Some(&0) && rest.len() < 256,
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Greeting,
    Auth,
    Request,
    Done,
    Failed,
}

/// Handshake state of one SOCKS connection.
#[derive(Debug)]
pub struct SocksState {
    version: u8,
    method: u8,
    step: [Step; 2],
    buf: [Vec<u8>; 2],
    early: Vec<u8>,
}

/// What a feed call produced.
#[derive(Debug, PartialEq, Eq)]
pub enum SocksOutcome {
    /// Still in the handshake.
    Pending,
    /// Both sides finished: these tunnelled bytes were sent by the client (held) and by the
    /// side that just finished, in that order.
    Done { client: Vec<u8>, rest: Vec<u8> },
    /// Not SOCKS after all, or the server refused.
    Failed,
}

impl SocksState {
    /// A new handshake whose first client bytes start with `version` (4 or 5).
    pub fn new(version: u8) -> Self {
        Self { version, method: 0, step: [Step::Greeting; 2], buf: [Vec::new(), Vec::new()], early: Vec::new() }
    }

    /// Stream bytes of one direction.
    pub fn feed(&mut self, dir: Direction, data: &[u8]) -> SocksOutcome {
        let d = dir.index();
        if self.step[d] == Step::Done {
            if dir == Direction::ToServer && self.early.len() + data.len() <= EARLY_MAX {
                self.early.extend_from_slice(data);
                return SocksOutcome::Pending;
            }
            return SocksOutcome::Failed;
        }
        self.buf[d].extend_from_slice(data);
        loop {
            let step = self.step[d];
            if matches!(step, Step::Done | Step::Failed) {
                break;
            }
            let Some(len) = self.message_len(dir, &self.buf[d]) else {
                if self.buf[d].len() > MSG_MAX {
                    self.step[d] = Step::Failed;
                }
                break;
            };
            let msg: Vec<u8> = self.buf[d].drain(..len).collect();
            self.step[d] = self.advance(dir, step, &msg);
        }
        if self.step.contains(&Step::Failed) {
            return SocksOutcome::Failed;
        }
        if self.step == [Step::Done; 2] {
            let rest = std::mem::take(&mut self.buf[d]);
            let client = std::mem::take(&mut self.early);
            let client =
                if dir == Direction::ToClient { [client, std::mem::take(&mut self.buf[0])].concat() } else { client };
            return SocksOutcome::Done { client, rest };
        }
        SocksOutcome::Pending
    }

    /// Length of the next complete handshake message in `b`, if all of it is there.
    fn message_len(&self, dir: Direction, b: &[u8]) -> Option<usize> {
        let to_server = dir == Direction::ToServer;
        match (self.version, self.step[dir.index()], to_server) {
            (4, Step::Greeting, true) => {
                let nul = b.get(8..)?.iter().position(|c| *c == 0)? + 9;
                // SOCKS4a: IP 0.0.0.x (x != 0) is followed by a host name.
                if b.get(4..7) == Some(&[0, 0, 0][..]) && b.get(7).is_some_and(|x| *x != 0) {
                    return Some(nul + b.get(nul..)?.iter().position(|c| *c == 0)? + 1);
                }
                Some(nul)
            }
            (4, Step::Greeting, false) => (b.len() >= 8).then_some(8),
            (5, Step::Greeting, true) => {
                let n = usize::from(*b.get(1)?);
                (b.len() >= 2 + n).then_some(2 + n)
            }
            (5, Step::Greeting, false) | (5, Step::Auth, false) => (b.len() >= 2).then_some(2),
            (5, Step::Auth, true) => {
                let ulen = usize::from(*b.get(1)?);
                let plen = usize::from(*b.get(2 + ulen)?);
                let len = 3 + ulen + plen;
                (b.len() >= len).then_some(len)
            }
            (5, Step::Request, _) => {
                let addr = match *b.get(3)? {
                    1 => 4,
                    3 => 1 + usize::from(*b.get(4)?),
                    4 => 16,
                    _ => return None,
                };
                let len = 4 + addr + 2;
                (b.len() >= len).then_some(len)
            }
            _ => None,
        }
    }

    fn advance(&mut self, dir: Direction, step: Step, msg: &[u8]) -> Step {
        let to_server = dir == Direction::ToServer;
        match (self.version, step, to_server) {
            (4, Step::Greeting, true) => Step::Done,
            (4, Step::Greeting, false) => granted(msg, 0x5A, Step::Done),
            (5, Step::Greeting, true) => Step::Request,
            (5, Step::Greeting, false) => {
                self.method = msg.get(1).copied().unwrap_or(0xFF);
                match self.method {
                    0 => Step::Request,
                    2 => {
                        // The client's next message is the username/password sub-negotiation.
                        if self.step[0] == Step::Request {
                            self.step[0] = Step::Auth;
                        }
                        Step::Auth
                    }
                    _ => Step::Failed,
                }
            }
            (5, Step::Auth, true) => Step::Request,
            (5, Step::Auth, false) => granted(msg, 0, Step::Request),
            (5, Step::Request, true) => Step::Done,
            (5, Step::Request, false) => granted(msg, 0, Step::Done),
            _ => Step::Failed,
        }
    }
}

/// A server reply whose status byte (the second) is `ok` leads to `next`; anything else fails.
fn granted(msg: &[u8], ok: u8, next: Step) -> Step {
    if msg.get(1) == Some(&ok) { next } else { Step::Failed }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{ToClient, ToServer};

    #[test]
    fn socks5_connect_by_name_hands_over_the_tunnelled_request() {
        let mut s = SocksState::new(5);
        assert!(looks_like_socks(&[5, 1, 0]));
        assert_eq!(s.feed(ToServer, &[5, 1, 0]), SocksOutcome::Pending);
        assert_eq!(s.feed(ToClient, &[5, 0]), SocksOutcome::Pending);
        let mut req = vec![5, 1, 0, 3, 11];
        req.extend_from_slice(b"example.org");
        req.extend_from_slice(&[0, 80]);
        assert_eq!(s.feed(ToServer, &req), SocksOutcome::Pending);
        assert_eq!(s.feed(ToServer, b"GET / HTTP/1.1\r\n"), SocksOutcome::Pending);
        let out = s.feed(ToClient, &[5, 0, 0, 1, 10, 0, 0, 1, 0, 80, b'H']);
        assert_eq!(out, SocksOutcome::Done { client: b"GET / HTTP/1.1\r\n".to_vec(), rest: b"H".to_vec() });
    }

    #[test]
    fn socks5_with_password_auth_and_byte_by_byte_delivery() {
        let mut s = SocksState::new(5);
        let client = [&[5u8, 1, 2][..], &[1, 1, b'u', 1, b'p'], &[5, 1, 0, 1, 1, 2, 3, 4, 0, 80]].concat();
        let server = [&[5u8, 2][..], &[1, 0], &[5, 0, 0, 1, 0, 0, 0, 0, 0, 0]].concat();
        let (mut ci, mut si) = (0, 0);
        // The real order: greeting, choice, auth, auth reply, request, reply.
        for (dir, n) in [(ToServer, 3), (ToClient, 2), (ToServer, 5), (ToClient, 2), (ToServer, 10), (ToClient, 10)] {
            for _ in 0..n {
                let out = if dir == ToServer {
                    ci += 1;
                    s.feed(dir, &client[ci - 1..ci])
                } else {
                    si += 1;
                    s.feed(dir, &server[si - 1..si])
                };
                if ci == client.len() && si == server.len() {
                    assert_eq!(out, SocksOutcome::Done { client: vec![], rest: vec![] });
                } else {
                    assert_eq!(out, SocksOutcome::Pending, "at client {ci} server {si}");
                }
            }
        }
    }

    #[test]
    fn socks4a_and_a_refusal() {
        let mut s = SocksState::new(4);
        let req = [&[4u8, 1, 0, 80, 0, 0, 0, 1][..], b"user\0", b"host.example\0"].concat();
        assert!(looks_like_socks(&req));
        assert_eq!(s.feed(ToServer, &req), SocksOutcome::Pending);
        assert_eq!(s.feed(ToClient, &[0, 0x5B, 0, 0, 0, 0, 0, 0]), SocksOutcome::Failed);
    }

    #[test]
    fn other_protocols_do_not_look_like_socks() {
        assert!(!looks_like_socks(b"GET / HTTP/1.1\r\n"));
        assert!(!looks_like_socks(&[0x16, 3, 1, 0, 5]));
        assert!(!looks_like_socks(&[5, 3, 0]));
    }
}
