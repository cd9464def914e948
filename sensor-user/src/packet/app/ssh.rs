//! SSH handshake parser: identification lines of both sides and their first KEXINIT.
//!
//! Each direction goes through three phases: the identification line (RFC 4253 section 4.2; the
//! server may send other lines first, which are skipped; bare LF ends a line too), then unencrypted
//! binary packets until the first SSH_MSG_KEXINIT, then nothing (the rest of the stream is ignored).
//! SSH 1.x peers (protocol version other than `2.0` and `1.99`) stop after the line.
//!
//! HASSH and HASSH-server are MD5 digests of [`KexInit::hassh_string`] and
//! [`KexInit::hassh_server_string`]. No MD5 implementation is available here, so the digests are not
//! computed; the strings they are taken over are (Suricata's `ssh.hassh.string`).

mod banner;
mod kexinit;

use crate::packet::Direction;

/// Most bytes of an identification line, CR included, LF excluded.
pub const MAX_LINE: usize = 255;
/// Most lines the server may send before its identification line.
pub const MAX_PRE_BANNER_LINES: usize = 64;
/// Most binary packets looked at for the KEXINIT.
pub const MAX_PACKETS_BEFORE_KEXINIT: usize = 4;

/// One side's identification line.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct SshBanner {
    /// Protocol version, e.g. `2.0` or `1.99`.
    pub proto_version: String,
    /// Software version, e.g. `OpenSSH_7.4`.
    pub software_version: String,
    /// Text after the first space, if there was a space.
    pub comment: Option<String>,
}

/// The algorithm name-lists of one side's SSH_MSG_KEXINIT (comma-separated, as sent).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct KexInit {
    /// Random cookie.
    pub cookie: [u8; 16],
    /// Key exchange algorithms.
    pub kex_algorithms: String,
    /// Host key algorithms.
    pub server_host_key_algorithms: String,
    /// Ciphers client to server.
    pub encryption_client_to_server: String,
    /// Ciphers server to client.
    pub encryption_server_to_client: String,
    /// MACs client to server.
    pub mac_client_to_server: String,
    /// MACs server to client.
    pub mac_server_to_client: String,
    /// Compression client to server.
    pub compression_client_to_server: String,
    /// Compression server to client.
    pub compression_server_to_client: String,
    /// Languages client to server.
    pub languages_client_to_server: String,
    /// Languages server to client.
    pub languages_server_to_client: String,
    /// Whether a guessed key exchange packet follows.
    pub first_kex_packet_follows: bool,
}

impl KexInit {
    /// HASSH input for a client's KEXINIT: `kex;enc_c2s;mac_c2s;cmp_c2s`.
    pub fn hassh_string(&self) -> String {
        [
            self.kex_algorithms.as_str(),
            &self.encryption_client_to_server,
            &self.mac_client_to_server,
            &self.compression_client_to_server,
        ]
        .join(";")
    }

    /// HASSH-server input for a server's KEXINIT: `kex;enc_s2c;mac_s2c;cmp_s2c`.
    pub fn hassh_server_string(&self) -> String {
        [
            self.kex_algorithms.as_str(),
            &self.encryption_server_to_client,
            &self.mac_server_to_client,
            &self.compression_server_to_client,
        ]
        .join(";")
    }
}

/// Why a direction stopped before its banner or KEXINIT.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum SshError {
    /// An identification line is longer than [`MAX_LINE`].
    #[error("identification line longer than 255 bytes")]
    LineTooLong,
    /// The client's first line does not start with `SSH-`.
    #[error("client line does not start with SSH-")]
    NotSsh,
    /// The server sent more than [`MAX_PRE_BANNER_LINES`] lines before its identification line.
    #[error("too many lines before the identification line")]
    TooManyLines,
    /// A binary packet length is out of range.
    #[error("bad binary packet length")]
    BadPacket,
    /// Stream bytes were lost before the banner or KEXINIT.
    #[error("stream gap before the handshake was seen")]
    Gap,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Phase {
    #[default]
    Line,
    Packets,
    Done,
}

/// State of one direction.
#[derive(Debug, Default)]
struct DirState {
    phase: Phase,
    /// Current identification line; at most [`MAX_LINE`] bytes.
    line: Vec<u8>,
    /// The current line is a server pre-banner line: skip to its LF without keeping it.
    skipping: bool,
    lines_skipped: usize,
    banner: Option<SshBanner>,
    /// Current binary packet; at most [`kexinit::MAX_PACKET`] bytes.
    pkt: Vec<u8>,
    packets: usize,
    kexinit: Option<KexInit>,
    error: Option<SshError>,
}

/// Per-flow SSH handshake state.
#[derive(Debug, Default)]
pub struct SshState {
    client: DirState,
    server: DirState,
}

impl SshState {
    /// Fresh state for a new flow.
    pub fn new() -> Self {
        Self::default()
    }

    fn dir_mut(&mut self, dir: Direction) -> &mut DirState {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }

    fn dir(&self, dir: Direction) -> &DirState {
        match dir {
            Direction::ToServer => &self.client,
            Direction::ToClient => &self.server,
        }
    }

    /// Feeds in-order stream bytes of one direction; true when that side's banner got completed in this call.
    pub fn feed(&mut self, dir: Direction, data: &[u8]) -> bool {
        let from_server = dir == Direction::ToClient;
        let st = self.dir_mut(dir);
        let mut data = data;
        let mut completed = false;
        while !data.is_empty() {
            match st.phase {
                Phase::Line => {
                    data = st.feed_line(data, from_server);
                    completed |= st.banner.is_some();
                }
                Phase::Packets => data = st.feed_packet(data),
                Phase::Done => break,
            }
        }
        completed
    }

    /// Stream bytes of `dir` were lost: stops looking for anything not yet seen in that direction.
    pub fn gap(&mut self, dir: Direction) {
        let st = self.dir_mut(dir);
        if st.phase == Phase::Line {
            st.error = Some(SshError::Gap);
        }
        st.stop();
    }

    /// The client's identification line, once complete.
    pub fn client(&self) -> Option<&SshBanner> {
        self.client.banner.as_ref()
    }

    /// The server's identification line, once complete.
    pub fn server(&self) -> Option<&SshBanner> {
        self.server.banner.as_ref()
    }

    /// The client's first KEXINIT, once complete.
    pub fn client_kexinit(&self) -> Option<&KexInit> {
        self.client.kexinit.as_ref()
    }

    /// The server's first KEXINIT, once complete.
    pub fn server_kexinit(&self) -> Option<&KexInit> {
        self.server.kexinit.as_ref()
    }

    /// Why parsing of `dir` stopped early, if it did.
    pub fn error(&self, dir: Direction) -> Option<&SshError> {
        self.dir(dir).error.as_ref()
    }
}

impl DirState {
    fn stop(&mut self) {
        self.phase = Phase::Done;
        self.line = Vec::new();
        self.pkt = Vec::new();
    }

    fn fail(&mut self, err: SshError) {
        self.error = Some(err);
        self.stop();
    }

    /// Consumes line bytes; returns what is left after the identification line (or nothing).
    fn feed_line<'a>(&mut self, data: &'a [u8], from_server: bool) -> &'a [u8] {
        let lf = data.iter().position(|&b| b == b'\n');
        let (chunk, rest) = match lf {
            Some(i) => (data.get(..i).unwrap_or_default(), data.get(i.saturating_add(1)..).unwrap_or_default()),
            None => (data, &[][..]),
        };
        if !self.skipping {
            let room = (MAX_LINE.saturating_add(1)).saturating_sub(self.line.len());
            self.line.extend_from_slice(chunk.get(..room).unwrap_or(chunk));
            if self.line.len() >= 4 && !self.line.starts_with(b"SSH-") {
                if !from_server {
                    self.fail(SshError::NotSsh);
                    return &[];
                }
                self.skipping = true;
                self.line.clear();
            } else if self.line.len() > MAX_LINE {
                self.fail(SshError::LineTooLong);
                return &[];
            }
        }
        if lf.is_none() {
            return rest;
        }
        if self.skipping || !self.line.starts_with(b"SSH-") {
            // A finished pre-banner line (or a short line that cannot be a banner).
            if !from_server {
                self.fail(SshError::NotSsh);
                return &[];
            }
            self.skipping = false;
            self.line.clear();
            self.lines_skipped = self.lines_skipped.saturating_add(1);
            if self.lines_skipped > MAX_PRE_BANNER_LINES {
                self.fail(SshError::TooManyLines);
            }
            return rest;
        }
        let line = std::mem::take(&mut self.line);
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        self.banner = banner::parse_banner(line);
        let v2 = self.banner.as_ref().is_some_and(|b| b.proto_version == "2.0" || b.proto_version == "1.99");
        self.phase = if v2 { Phase::Packets } else { Phase::Done };
        rest
    }

    /// Consumes binary packet bytes until the KEXINIT; returns what is left.
    fn feed_packet<'a>(&mut self, data: &'a [u8]) -> &'a [u8] {
        let want = match self.pkt.first_chunk::<4>() {
            None => 4,
            Some(head) => match kexinit::packet_size(*head) {
                Some(total) => total,
                None => {
                    self.fail(SshError::BadPacket);
                    return &[];
                }
            },
        };
        let missing = want.saturating_sub(self.pkt.len());
        let (head, rest) = data.split_at(missing.min(data.len()));
        self.pkt.extend_from_slice(head);
        if self.pkt.len() == want && want > 4 {
            let pkt = std::mem::take(&mut self.pkt);
            self.packets = self.packets.saturating_add(1);
            if let Some(k) = kexinit::parse_packet(&pkt) {
                self.kexinit = Some(k);
                self.stop();
            } else if self.packets >= MAX_PACKETS_BEFORE_KEXINIT {
                self.stop();
            }
        }
        rest
    }
}

/// Whether the first bytes of a stream look like SSH: they start with `SSH-`.
pub fn looks_like_ssh(data: &[u8]) -> bool {
    data.starts_with(b"SSH-")
}
