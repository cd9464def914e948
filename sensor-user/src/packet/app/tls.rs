//! TLS stream parser: record layer, handshake reassembly, JA3/JA3S/JA4.
//!
//! Owns the per-flow TLS state ([`TlsState`]) fed with in-order, TCP-reassembled
//! bytes of each direction. It reassembles plaintext handshake messages (a
//! message may span records and a record may span calls), learns the SNI,
//! versions, ALPN, JA3/JA3S (Salesforce spec, computed like Suricata from the
//! ClientHello `legacy_version`), JA4 (FoxIO, see [`super::ja4`]) and the leaf
//! certificate of the server (TLS <= 1.2; see [`super::x509`]), and reports
//! protocol anomalies.
//!
//! Bounds: at most 64 KiB of handshake bytes are buffered per direction;
//! application data and anything after ChangeCipherSpec is skipped by length
//! without copying. Input never causes a panic.

#![deny(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing, clippy::unreachable)]

use std::fmt::Write as _;

use md5::{Digest, Md5};

use super::ja4::{self, Ja4Input, is_grease};
use super::x509;
pub use super::x509::CertInfo;
use crate::packet::Direction;

/// What the parser learned about one TLS session.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TlsInfo {
    /// host_name of the ClientHello server_name extension.
    pub sni: Option<String>,
    /// `legacy_version` of the ClientHello (0 until one is seen).
    pub client_version: u16,
    /// Negotiated version: the ServerHello supported_versions extension if
    /// present, else the ServerHello `legacy_version`.
    pub version: Option<u16>,
    /// JA3 string `SSLVersion,Ciphers,Extensions,EllipticCurves,EllipticCurvePointFormats`.
    pub ja3_string: Option<String>,
    /// MD5 of `ja3_string`, lowercase hex.
    pub ja3_hash: Option<String>,
    /// JA3S string `SSLVersion,Cipher,Extensions`.
    pub ja3s_string: Option<String>,
    /// MD5 of `ja3s_string`, lowercase hex.
    pub ja3s_hash: Option<String>,
    /// FoxIO JA4 of the ClientHello, e.g. `t13d1516h2_8daaf6152771_e5627efa2ab1`.
    pub ja4: Option<String>,
    /// ALPN protocol names offered by the client, in order.
    pub alpn: Vec<String>,
    /// Leaf certificate of the server's Certificate message (TLS <= 1.2 only:
    /// TLS 1.3 certificates are encrypted).
    pub cert: Option<CertInfo>,
    /// Leaf certificate the client sent (mutual TLS, TLS <= 1.2 only).
    pub client_cert: Option<CertInfo>,
    /// DER of every certificate of the server's Certificate message, in order (the
    /// signature engine's `tls.certs` buffer).
    pub certs: Vec<Vec<u8>>,
}

/// What a feed call completed (so the caller can decide when to log).
///
/// Variants are ordered by how far the handshake got.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsProgress {
    /// Nothing new.
    Nothing,
    /// The (first) ClientHello was parsed.
    ClientHello,
    /// The ServerHello was parsed.
    ServerHello,
    /// The server's certificate was parsed.
    Certificate,
    /// [`TlsState::handshake_done`] became true.
    HandshakeDone,
}

/// Protocol violations the parser noticed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsAnomaly {
    /// A record header has an unknown content type or version (parsing of
    /// that direction stops).
    InvalidRecord,
    /// A handshake message is malformed, unknown or in the wrong direction.
    InvalidHandshake,
    /// A record or handshake message exceeds the protocol / buffering limits
    /// (parsing of that direction stops).
    RecordTooLarge,
    /// A certificate could not be decoded.
    InvalidCertificate,
}

/// Most handshake bytes buffered per direction.
const MAX_HANDSHAKE_BUFFER: usize = 64 * 1024;
/// Largest legal TLSCiphertext fragment (2^14 + 2048).
const MAX_RECORD_LEN: usize = 16384 + 2048;
/// Most anomalies kept (each kind is recorded once anyway).
const MAX_ANOMALIES: usize = 8;

const CT_CHANGE_CIPHER_SPEC: u8 = 20;
const CT_APPLICATION_DATA: u8 = 23;
const CT_HANDSHAKE: u8 = 22;
const CT_HEARTBEAT: u8 = 24;

const HS_CLIENT_HELLO: u8 = 1;
const HS_SERVER_HELLO: u8 = 2;
const HS_CERTIFICATE: u8 = 11;

const EXT_SERVER_NAME: u16 = 0x0000;
const EXT_SUPPORTED_GROUPS: u16 = 0x000a;
const EXT_EC_POINT_FORMATS: u16 = 0x000b;
const EXT_SIGNATURE_ALGORITHMS: u16 = 0x000d;
const EXT_ALPN: u16 = 0x0010;
const EXT_SUPPORTED_VERSIONS: u16 = 0x002b;

/// ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3).
const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];

/// True for TLS 1.3 and its drafts (0x7fxx, and Facebook's 0xfb1a).
fn is_tls13(v: u16) -> bool {
    v == 0x0304 || v & 0xff00 == 0x7f00 || v == 0xfb1a
}

/// How the body of the current record is handled.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Body {
    /// Skipped by length (application data, alerts, encrypted handshake, ...).
    #[default]
    Skip,
    /// Plaintext handshake bytes: buffered and split into messages.
    Handshake,
    /// An SSLv2-framed ClientHello: buffered, parsed when complete.
    Sslv2Hello,
}

/// Record-layer state of one direction.
#[derive(Debug, Default)]
struct DirState {
    /// Record header collected so far (5 bytes, or 2 for an SSLv2 header).
    hdr: [u8; 5],
    hdr_len: usize,
    /// The header being collected is an SSLv2 one.
    v2_hdr: bool,
    /// Some byte of this direction was seen.
    started: bool,
    /// Body bytes of the current record not yet consumed.
    rec_left: usize,
    body: Body,
    /// Buffered handshake bytes (at most one incomplete message).
    hs: Vec<u8>,
    ccs: bool,
    app_data: bool,
    stopped: bool,
}

impl DirState {
    fn stop(&mut self) {
        self.stopped = true;
        self.hs = Vec::new();
    }
}

/// Per-flow TLS parser state.
#[derive(Debug, Default)]
pub struct TlsState {
    /// Client to server direction.
    client: DirState,
    /// Server to client direction.
    server: DirState,
    info: TlsInfo,
    anomalies: Vec<TlsAnomaly>,
    client_hello: bool,
    server_hello: bool,
    server_cert_msg: bool,
}

impl TlsState {
    /// A parser that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feed in-order stream bytes of one direction (already TCP-reassembled; may
    /// arrive in arbitrary chunk sizes, a handshake message may span several
    /// records and a record several calls).
    ///
    /// Returns the most advanced progress reached during this call.
    pub fn feed(&mut self, dir: Direction, mut data: &[u8]) -> TlsProgress {
        let was_done = self.handshake_done();
        let mut st = std::mem::take(self.dir_state(dir));
        let mut progress = TlsProgress::Nothing;
        while !data.is_empty() && !st.stopped {
            if st.rec_left == 0 {
                data = self.read_header(dir, &mut st, data);
                continue;
            }
            let take = st.rec_left.min(data.len());
            let (chunk, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
            data = rest;
            st.rec_left -= chunk.len();
            match st.body {
                Body::Skip => {}
                Body::Handshake => self.handshake_bytes(dir, &mut st, chunk, &mut progress),
                Body::Sslv2Hello => {
                    st.hs.extend_from_slice(chunk);
                    if st.rec_left == 0 {
                        let msg = std::mem::take(&mut st.hs);
                        self.sslv2_client_hello(&mut st, &msg, &mut progress);
                    }
                }
            }
        }
        *self.dir_state(dir) = st;
        if !was_done && self.handshake_done() {
            progress = TlsProgress::HandshakeDone;
        }
        progress
    }

    /// Bytes missing in one direction (TCP gap): stop parsing that direction
    /// (what was learned is kept).
    pub fn gap(&mut self, dir: Direction) {
        self.dir_state(dir).stop();
    }

    /// What was learned so far.
    pub fn info(&self) -> &TlsInfo {
        &self.info
    }

    /// Anomalies seen so far, each kind at most once.
    pub fn anomalies(&self) -> &[TlsAnomaly] {
        &self.anomalies
    }

    /// True once both hellos are seen and the handshake is finished from the
    /// parser's point of view: ChangeCipherSpec or application data seen from
    /// both sides, or the server's Certificate seen after the ServerHello (for
    /// TLS 1.3, the ServerHello is enough).
    pub fn handshake_done(&self) -> bool {
        if !(self.client_hello && self.server_hello) {
            return false;
        }
        let encrypted = |d: &DirState| d.ccs || d.app_data;
        self.info.version.is_some_and(is_tls13)
            || self.server_cert_msg
            || (encrypted(&self.client) && encrypted(&self.server))
    }

    fn dir_state(&mut self, dir: Direction) -> &mut DirState {
        match dir {
            Direction::ToServer => &mut self.client,
            Direction::ToClient => &mut self.server,
        }
    }

    fn anomaly(&mut self, a: TlsAnomaly) {
        if self.anomalies.len() < MAX_ANOMALIES && !self.anomalies.contains(&a) {
            self.anomalies.push(a);
        }
    }

    /// Collects record header bytes; starts the record once the header is complete.
    fn read_header<'a>(&mut self, dir: Direction, st: &mut DirState, data: &'a [u8]) -> &'a [u8] {
        if st.hdr_len == 0 {
            let Some(&b0) = data.first() else {
                return data;
            };
            // Only the very first record of a direction may use SSLv2 framing.
            st.v2_hdr = !st.started && b0 & 0x80 != 0;
            st.started = true;
        }
        let size: usize = if st.v2_hdr { 2 } else { 5 };
        let take = size.saturating_sub(st.hdr_len).min(data.len());
        let (src, rest) = data.split_at_checked(take).unwrap_or((data, &[]));
        if let Some(dst) = st.hdr.get_mut(st.hdr_len..st.hdr_len + src.len()) {
            dst.copy_from_slice(src);
        }
        st.hdr_len += src.len();
        if st.hdr_len >= size {
            st.hdr_len = 0;
            if st.v2_hdr {
                self.start_sslv2_record(dir, st);
            } else {
                self.start_record(st);
            }
        }
        rest
    }

    /// Validates a complete 5-byte record header and decides how to handle the body.
    fn start_record(&mut self, st: &mut DirState) {
        let [ct, major, minor, l0, l1] = st.hdr;
        let len = usize::from(u16::from_be_bytes([l0, l1]));
        if !(CT_CHANGE_CIPHER_SPEC..=CT_HEARTBEAT).contains(&ct) || major != 3 || minor > 4 {
            self.anomaly(TlsAnomaly::InvalidRecord);
            st.stop();
            return;
        }
        if len > MAX_RECORD_LEN {
            self.anomaly(TlsAnomaly::RecordTooLarge);
            st.stop();
            return;
        }
        st.rec_left = len;
        st.body = Body::Skip;
        match ct {
            CT_CHANGE_CIPHER_SPEC => st.ccs = true,
            CT_APPLICATION_DATA => st.app_data = true,
            // After ChangeCipherSpec, TLS <= 1.2 handshake records are encrypted.
            // TLS 1.3 encrypts with type 23 instead, so its (middlebox
            // compatibility) ChangeCipherSpec does not hide plaintext handshakes.
            CT_HANDSHAKE if !st.ccs || self.info.version.is_some_and(is_tls13) => {
                st.body = Body::Handshake;
            }
            _ => {}
        }
        if st.ccs && st.body != Body::Handshake && st.hs.is_empty() {
            // Nothing more will be buffered in this direction: release the memory.
            st.hs = Vec::new();
        }
    }

    /// Starts an SSLv2-framed record (2-byte header, first record only).
    fn start_sslv2_record(&mut self, dir: Direction, st: &mut DirState) {
        let [h0, h1, ..] = st.hdr;
        let len = usize::from(u16::from_be_bytes([h0 & 0x7f, h1]));
        match dir {
            Direction::ToServer if len > 0 => {
                st.rec_left = len;
                st.body = Body::Sslv2Hello;
            }
            Direction::ToServer => {
                self.anomaly(TlsAnomaly::InvalidHandshake);
                st.stop();
            }
            // A pure SSLv2 server: nothing of interest can be parsed.
            Direction::ToClient => st.stop(),
        }
    }

    /// Parses an SSLv2 CLIENT-HELLO (only its version is used, like Suricata).
    fn sslv2_client_hello(&mut self, st: &mut DirState, msg: &[u8], progress: &mut TlsProgress) {
        let mut r = Reader::new(msg);
        match (r.u8(), r.u16()) {
            (Some(HS_CLIENT_HELLO), Some(version)) if !self.client_hello => {
                self.info.client_version = version;
                self.client_hello = true;
                *progress = (*progress).max(TlsProgress::ClientHello);
            }
            _ => {
                self.anomaly(TlsAnomaly::InvalidHandshake);
                st.stop();
            }
        }
    }

    /// Buffers plaintext handshake bytes and handles every complete message.
    fn handshake_bytes(&mut self, dir: Direction, st: &mut DirState, mut chunk: &[u8], progress: &mut TlsProgress) {
        while !chunk.is_empty() && !st.stopped {
            let space = MAX_HANDSHAKE_BUFFER.saturating_sub(st.hs.len());
            if space == 0 {
                self.anomaly(TlsAnomaly::RecordTooLarge);
                st.stop();
                return;
            }
            let (now, later) = chunk.split_at_checked(space.min(chunk.len())).unwrap_or((chunk, &[]));
            chunk = later;
            st.hs.extend_from_slice(now);
            let buf = std::mem::take(&mut st.hs);
            let used = self.handle_messages(dir, st, &buf, progress);
            st.hs = buf;
            if st.stopped {
                st.hs = Vec::new();
            } else {
                st.hs.drain(..used.min(st.hs.len()));
            }
        }
    }

    /// Handles the complete handshake messages at the front of `buf`; returns
    /// how many bytes they used.
    fn handle_messages(&mut self, dir: Direction, st: &mut DirState, buf: &[u8], progress: &mut TlsProgress) -> usize {
        let mut pos = 0;
        while let Some(&[msg_type, l0, l1, l2]) = buf.get(pos..pos + 4) {
            let len = usize::from(l0) << 16 | usize::from(l1) << 8 | usize::from(l2);
            if len > MAX_HANDSHAKE_BUFFER - 4 {
                self.anomaly(TlsAnomaly::RecordTooLarge);
                st.stop();
                break;
            }
            let Some(body) = buf.get(pos + 4..pos + 4 + len) else {
                break;
            };
            self.handle_message(dir, msg_type, body, progress);
            pos += 4 + len;
        }
        pos
    }

    /// Handles one complete handshake message.
    fn handle_message(&mut self, dir: Direction, msg_type: u8, body: &[u8], progress: &mut TlsProgress) {
        match (dir, msg_type) {
            (Direction::ToServer, HS_CLIENT_HELLO) => {
                // Like Suricata, the first ClientHello defines the fingerprints.
                if self.client_hello {
                    return;
                }
                match ClientHello::parse(body) {
                    Some(hello) => {
                        self.apply_client_hello(&hello);
                        self.client_hello = true;
                        *progress = (*progress).max(TlsProgress::ClientHello);
                    }
                    None => self.anomaly(TlsAnomaly::InvalidHandshake),
                }
            }
            (Direction::ToClient, HS_SERVER_HELLO) => match ServerHello::parse(body) {
                Some(hello) if !self.server_hello => {
                    self.apply_server_hello(&hello);
                    // A HelloRetryRequest is provisional: the real ServerHello follows.
                    if !hello.retry_request {
                        self.server_hello = true;
                        *progress = (*progress).max(TlsProgress::ServerHello);
                    }
                }
                Some(_) => {}
                None => self.anomaly(TlsAnomaly::InvalidHandshake),
            },
            (Direction::ToClient, HS_CERTIFICATE) => {
                if self.server_cert_msg {
                    return;
                }
                self.server_cert_msg = true;
                self.info.certs = certificate_ders(body);
                if let Some(cert) = self.leaf_certificate(body) {
                    self.info.cert = Some(cert);
                    *progress = (*progress).max(TlsProgress::Certificate);
                }
            }
            (Direction::ToServer, HS_CERTIFICATE) if self.info.client_cert.is_none() => {
                self.info.client_cert = self.leaf_certificate(body);
            }
            (_, HS_CLIENT_HELLO | HS_SERVER_HELLO) => self.anomaly(TlsAnomaly::InvalidHandshake),
            (_, t) if !is_known_handshake_type(t) => self.anomaly(TlsAnomaly::InvalidHandshake),
            _ => {}
        }
    }

    /// Decodes the first certificate of a (TLS <= 1.2) Certificate message body.
    fn leaf_certificate(&mut self, body: &[u8]) -> Option<CertInfo> {
        let mut r = Reader::new(body);
        let Some(mut list) = r.vec24().map(Reader::new) else {
            self.anomaly(TlsAnomaly::InvalidCertificate);
            return None;
        };
        if list.is_empty() {
            return None; // e.g. a client without a certificate
        }
        let parsed = list.vec24().map(x509::parse_certificate);
        match parsed {
            Some(Ok(cert)) => Some(cert),
            _ => {
                self.anomaly(TlsAnomaly::InvalidCertificate);
                None
            }
        }
    }

    fn apply_client_hello(&mut self, h: &ClientHello<'_>) {
        let info = &mut self.info;
        info.client_version = h.legacy_version;
        info.sni = h.sni.map(|s| String::from_utf8_lossy(s).into_owned());
        info.alpn = h.alpn.iter().map(|p| String::from_utf8_lossy(p).into_owned()).collect();

        let mut s = String::with_capacity(256);
        let _ = write!(s, "{},", h.legacy_version);
        ja3_list(&mut s, h.ciphers.iter().copied());
        s.push(',');
        ja3_list(&mut s, h.extensions.iter().copied());
        s.push(',');
        ja3_list(&mut s, h.groups.iter().copied());
        s.push(',');
        ja3_list(&mut s, h.point_formats.iter().map(|&b| u16::from(b)));
        info.ja3_hash = Some(md5_hex(&s));
        info.ja3_string = Some(s);

        info.ja4 = Some(ja4::ja4(&Ja4Input {
            legacy_version: h.legacy_version,
            supported_versions: h.supported_versions.as_deref(),
            ciphers: &h.ciphers,
            extensions: &h.extensions,
            alpn: &h.alpn,
            signature_algorithms: &h.signature_algorithms,
        }));
    }

    fn apply_server_hello(&mut self, h: &ServerHello) {
        let info = &mut self.info;
        info.version = Some(h.selected_version.unwrap_or(h.legacy_version));
        let mut s = String::with_capacity(64);
        let _ = write!(s, "{},{},", h.legacy_version, h.cipher);
        ja3_list(&mut s, h.extensions.iter().copied());
        info.ja3s_hash = Some(md5_hex(&s));
        info.ja3s_string = Some(s);
    }
}

/// Handshake message types defined by the TLS RFCs and drafts.
fn is_known_handshake_type(t: u8) -> bool {
    matches!(t, 0..=6 | 8 | 11..=16 | 20..=25 | 67 | 254)
}

/// Appends `values` without GREASE, decimal, joined by '-'.
fn ja3_list(out: &mut String, values: impl Iterator<Item = u16>) {
    let mut first = true;
    for v in values.filter(|v| !is_grease(*v)) {
        if !first {
            out.push('-');
        }
        first = false;
        let _ = write!(out, "{v}");
    }
}

/// Lowercase hex MD5 of `s`.
fn md5_hex(s: &str) -> String {
    let mut out = String::with_capacity(32);
    for b in Md5::digest(s.as_bytes()) {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Bounds-checked big-endian reader over a byte slice.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.buf.split_at_checked(n)?;
        self.buf = rest;
        Some(head)
    }

    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.buf.split_first()?;
        self.buf = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        match *self.take(2)? {
            [a, b] => Some(u16::from_be_bytes([a, b])),
            _ => None,
        }
    }

    fn u24(&mut self) -> Option<usize> {
        match *self.take(3)? {
            [a, b, c] => Some(usize::from(a) << 16 | usize::from(b) << 8 | usize::from(c)),
            _ => None,
        }
    }

    /// A vector with a one-byte length prefix.
    fn vec8(&mut self) -> Option<&'a [u8]> {
        let n = self.u8()?;
        self.take(usize::from(n))
    }

    /// A vector with a two-byte length prefix.
    fn vec16(&mut self) -> Option<&'a [u8]> {
        let n = self.u16()?;
        self.take(usize::from(n))
    }

    /// A vector with a three-byte length prefix.
    fn vec24(&mut self) -> Option<&'a [u8]> {
        let n = self.u24()?;
        self.take(n)
    }
}

/// Big-endian u16 values of `b` (a trailing odd byte is ignored).
fn u16s(b: &[u8]) -> impl Iterator<Item = u16> + '_ {
    b.chunks_exact(2).map(|c| c.iter().fold(0u16, |acc, &x| (acc << 8) | u16::from(x)))
}

/// The ClientHello fields the sensor uses.
#[derive(Debug, Default)]
struct ClientHello<'a> {
    legacy_version: u16,
    ciphers: Vec<u16>,
    extensions: Vec<u16>,
    groups: Vec<u16>,
    point_formats: &'a [u8],
    signature_algorithms: Vec<u16>,
    supported_versions: Option<Vec<u16>>,
    sni: Option<&'a [u8]>,
    alpn: Vec<&'a [u8]>,
}

impl<'a> ClientHello<'a> {
    /// Parses a ClientHello body; `None` if its framing is broken.
    fn parse(body: &'a [u8]) -> Option<Self> {
        let mut r = Reader::new(body);
        let mut h = ClientHello { legacy_version: r.u16()?, ..Default::default() };
        r.take(32)?; // random
        r.vec8()?; // legacy_session_id
        let ciphers = r.vec16()?;
        if ciphers.len() % 2 != 0 {
            return None;
        }
        h.ciphers = u16s(ciphers).collect();
        r.vec8()?; // legacy_compression_methods
        if r.is_empty() {
            return Some(h); // no extensions (SSLv3 / early TLS)
        }
        let mut exts = Reader::new(r.vec16()?);
        while !exts.is_empty() {
            let ext_type = exts.u16()?;
            let data = exts.vec16()?;
            h.extensions.push(ext_type);
            h.extension(ext_type, data);
        }
        Some(h)
    }

    /// Records the contents of one extension (malformed contents are ignored).
    fn extension(&mut self, ext_type: u16, data: &'a [u8]) {
        let mut r = Reader::new(data);
        match ext_type {
            EXT_SERVER_NAME => {
                let mut list = Reader::new(r.vec16().unwrap_or_default());
                while let (Some(name_type), Some(name)) = (list.u8(), list.vec16()) {
                    if name_type == 0 {
                        self.sni = Some(name);
                        break;
                    }
                }
            }
            EXT_SUPPORTED_GROUPS => self.groups = u16s(r.vec16().unwrap_or_default()).collect(),
            EXT_EC_POINT_FORMATS => self.point_formats = r.vec8().unwrap_or_default(),
            EXT_SIGNATURE_ALGORITHMS => {
                self.signature_algorithms = u16s(r.vec16().unwrap_or_default()).collect();
            }
            EXT_ALPN => {
                let mut list = Reader::new(r.vec16().unwrap_or_default());
                while let Some(proto) = list.vec8() {
                    self.alpn.push(proto);
                }
            }
            EXT_SUPPORTED_VERSIONS => {
                self.supported_versions = Some(u16s(r.vec8().unwrap_or_default()).collect());
            }
            _ => {}
        }
    }
}

/// The ServerHello fields the sensor uses.
#[derive(Debug, Default)]
struct ServerHello {
    legacy_version: u16,
    cipher: u16,
    extensions: Vec<u16>,
    /// supported_versions extension (TLS 1.3).
    selected_version: Option<u16>,
    /// The random marks a HelloRetryRequest.
    retry_request: bool,
}

impl ServerHello {
    /// Parses a ServerHello body; `None` if its framing is broken.
    fn parse(body: &[u8]) -> Option<Self> {
        let mut r = Reader::new(body);
        let legacy_version = r.u16()?;
        let random = r.take(32)?;
        r.vec8()?; // legacy_session_id_echo
        let mut h =
            ServerHello { legacy_version, cipher: r.u16()?, retry_request: random == HRR_RANDOM, ..Default::default() };
        r.u8()?; // legacy_compression_method
        if r.is_empty() {
            return Some(h);
        }
        let mut exts = Reader::new(r.vec16()?);
        while !exts.is_empty() {
            let ext_type = exts.u16()?;
            let data = exts.vec16()?;
            h.extensions.push(ext_type);
            if ext_type == EXT_SUPPORTED_VERSIONS {
                h.selected_version = Reader::new(data).u16();
            }
        }
        Some(h)
    }
}

/// Heuristic protocol detection on the first to-server chunk: a TLS handshake
/// record (type 0x16, version 0x03xx) starting with a ClientHello, or an
/// SSLv2-framed CLIENT-HELLO (SSLv2 or SSLv3/TLS-compatible version).
pub fn looks_like_tls(data: &[u8]) -> bool {
    match *data {
        [0x16, 0x03, minor, l0, l1, HS_CLIENT_HELLO, ..] => minor <= 4 && u16::from_be_bytes([l0, l1]) >= 4,
        [h0, h1, HS_CLIENT_HELLO, v0, v1, ..] if h0 & 0x80 != 0 => {
            u16::from_be_bytes([h0 & 0x7f, h1]) >= 9 && matches!((v0, v1), (0x00, 0x02) | (0x03, 0..=4))
        }
        _ => false,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::indexing_slicing)]
mod tests;

/// The DER bytes of each certificate in a (TLS <= 1.2) Certificate message body; stops at the
/// first malformed entry.
fn certificate_ders(body: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let Some(mut list) = Reader::new(body).vec24().map(Reader::new) else { return out };
    while !list.is_empty() {
        match list.vec24() {
            Some(der) => out.push(der.to_vec()),
            None => break,
        }
    }
    out
}
