//! Application layer: protocol detection by content and the per-flow parser state for HTTP/1.x,
//! TLS, DNS (UDP and TCP) and SSH. Parsers take in-order stream bytes (from
//! [`crate::packet::stream`]) or datagrams and report what they learned to an [`AppSink`].
//!
//! Detection looks at the first bytes each side sends, never at the port alone: an HTTP
//! request line, a TLS handshake record, an `SSH-` banner, a length-prefixed DNS message on
//! TCP, or a well-formed DNS header and question on UDP.

pub mod dns;
pub mod http;
pub mod http_body;
pub mod http_decompress;
pub mod http_headers;
pub mod http_start;
pub mod ja4;
pub mod socks;
pub mod ssh;
pub mod tls;
pub mod uri;
pub mod x509;

use self::{
    dns::{DnsMessage, DnsTcpState},
    http::{HttpConfig, HttpState, HttpTx},
    socks::{SocksOutcome, SocksState},
    ssh::{SshBanner, SshState},
    tls::{TlsInfo, TlsState},
};
use super::Direction;

/// Bytes held per direction while the protocol is not yet known.
const PROBE_MAX: usize = 64;
/// A to-server prefix this long that matches nothing ends detection.
const PROBE_ENOUGH: usize = 8;
/// UDP datagrams tried for DNS before giving up on a flow.
const UDP_TRIES: u8 = 3;

/// The detected application protocol of a flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AppProto {
    /// Not yet known.
    #[default]
    Unknown,
    /// HTTP/1.x.
    Http,
    /// TLS.
    Tls,
    /// DNS.
    Dns,
    /// SSH.
    Ssh,
    /// A SOCKS handshake (the tunnelled protocol is detected after it).
    Socks,
    /// Detection ran and matched nothing.
    Failed,
}

impl AppProto {
    /// Every value, in discriminant order (counter arrays are indexed by `as usize`).
    pub const ALL: [AppProto; 7] = [
        AppProto::Unknown,
        AppProto::Http,
        AppProto::Tls,
        AppProto::Dns,
        AppProto::Ssh,
        AppProto::Socks,
        AppProto::Failed,
    ];

    /// Suricata's `app_proto` value.
    pub fn name(self) -> &'static str {
        match self {
            AppProto::Unknown => "unknown",
            AppProto::Http => "http",
            AppProto::Tls => "tls",
            AppProto::Dns => "dns",
            AppProto::Ssh => "ssh",
            AppProto::Socks => "socks",
            AppProto::Failed => "failed",
        }
    }
}

/// What a parser learned, for logging and the agents.
#[derive(Debug)]
pub enum AppEvent<'a> {
    /// A completed HTTP transaction.
    Http(&'a HttpTx),
    /// A DNS message (query or response) sent in the given direction.
    Dns(Direction, &'a DnsMessage),
    /// A TLS handshake summary.
    Tls(&'a TlsInfo),
    /// SSH banners (client, server), either possibly missing.
    Ssh(Option<&'a SshBanner>, Option<&'a SshBanner>),
    /// A protocol anomaly: (protocol, event name).
    Anomaly(&'static str, &'static str),
}

/// Receives what the parsers learned.
pub trait AppSink {
    /// One event of a flow, at capture time `ts_ns`.
    fn app_event(&mut self, ts_ns: u64, event: AppEvent<'_>);
}

/// Parser configuration.
#[derive(Clone, Copy, Debug)]
pub struct AppConfig {
    /// HTTP limits.
    pub http: HttpConfig,
    /// Bytes of each TCP direction reassembled and parsed.
    pub stream_depth: u64,
}

impl Default for AppConfig {
    fn default() -> Self {
        Self { http: HttpConfig::default(), stream_depth: 1 << 20 }
    }
}

#[derive(Debug, Default)]
enum Parser {
    #[default]
    None,
    Http(Box<HttpState>),
    Tls(Box<TlsState>),
    DnsTcp(Box<DnsTcpState>),
    Ssh(Box<SshState>),
    Socks(Box<SocksState>),
}

/// The application-layer slot of a flow.
#[derive(Debug, Default)]
pub struct AppSlot {
    /// Detected protocol.
    pub proto: AppProto,
    parser: Parser,
    probe: Option<Box<[Vec<u8>; 2]>>,
    udp_tries: u8,
    logged: bool,
    http_out: Vec<HttpTx>,
}

impl AppSlot {
    /// In-order TCP stream bytes sent in `dir`.
    pub fn tcp_data(&mut self, cfg: &AppConfig, ts_ns: u64, dir: Direction, data: &[u8], sink: &mut impl AppSink) {
        match self.proto {
            AppProto::Unknown => self.detect_tcp(cfg, ts_ns, dir, data, sink),
            AppProto::Failed => {}
            _ => self.feed(cfg, ts_ns, dir, data, sink),
        }
    }

    /// `len` bytes are missing in `dir`.
    pub fn tcp_gap(&mut self, dir: Direction, len: u64, ts_ns: u64, sink: &mut impl AppSink) {
        match &mut self.parser {
            Parser::Http(h) => h.gap(dir, len),
            Parser::Tls(t) => t.gap(dir),
            Parser::DnsTcp(d) => d.gap(dir),
            Parser::Ssh(s) => s.gap(dir),
            Parser::Socks(_) => {
                self.proto = AppProto::Failed;
                self.parser = Parser::None;
            }
            Parser::None => {
                if self.proto == AppProto::Unknown {
                    self.proto = AppProto::Failed;
                    self.probe = None;
                }
                return;
            }
        }
        sink.app_event(ts_ns, AppEvent::Anomaly(self.proto.name(), "stream.gap"));
    }

    /// One UDP datagram payload sent in `dir`.
    pub fn udp_data(&mut self, ts_ns: u64, dir: Direction, payload: &[u8], sink: &mut impl AppSink) {
        match self.proto {
            AppProto::Unknown => {
                if dns::looks_like_dns(payload) {
                    self.proto = AppProto::Dns;
                } else {
                    self.udp_tries += 1;
                    if self.udp_tries >= UDP_TRIES {
                        self.proto = AppProto::Failed;
                    }
                    return;
                }
            }
            AppProto::Dns => {}
            _ => return,
        }
        match dns::parse_message_lenient(payload) {
            (Some(msg), err) => {
                sink.app_event(ts_ns, AppEvent::Dns(dir, &msg));
                if err.is_some() {
                    sink.app_event(ts_ns, AppEvent::Anomaly("dns", "dns.malformed_data"));
                }
            }
            (None, _) => sink.app_event(ts_ns, AppEvent::Anomaly("dns", "dns.malformed_data")),
        }
    }

    /// The flow ended: partial transactions and unlogged handshakes are reported.
    pub fn close(&mut self, ts_ns: u64, sink: &mut impl AppSink) {
        match &mut self.parser {
            Parser::Http(h) => {
                h.close(&mut self.http_out);
                for tx in self.http_out.drain(..) {
                    sink.app_event(ts_ns, AppEvent::Http(&tx));
                }
            }
            Parser::Tls(t) => {
                if !self.logged && t.info().client_version != 0 {
                    self.logged = true;
                    sink.app_event(ts_ns, AppEvent::Tls(t.info()));
                }
            }
            Parser::Ssh(s) => {
                if !self.logged && (s.client().is_some() || s.server().is_some()) {
                    self.logged = true;
                    sink.app_event(ts_ns, AppEvent::Ssh(s.client(), s.server()));
                }
            }
            Parser::DnsTcp(_) | Parser::Socks(_) | Parser::None => {}
        }
        self.parser = Parser::None;
    }

    fn detect_tcp(&mut self, cfg: &AppConfig, ts_ns: u64, dir: Direction, data: &[u8], sink: &mut impl AppSink) {
        let held = self.probe.as_ref().is_some_and(|p| !p[dir.index()].is_empty());
        if !held && data.len() >= PROBE_ENOUGH {
            if self.start(cfg, dir, data) {
                let probe = self.probe.take();
                self.replay_probe(cfg, probe, dir.other(), ts_ns, sink);
                self.feed(cfg, ts_ns, dir, data, sink);
            } else {
                self.give_up_if(dir);
            }
            return;
        }
        let probe = self.probe.get_or_insert_with(Box::default);
        let buf = &mut probe[dir.index()];
        let room = PROBE_MAX.saturating_sub(buf.len());
        buf.extend_from_slice(&data[..data.len().min(room)]);
        let held = std::mem::take(buf);
        if self.start(cfg, dir, &held) {
            let probe = self.probe.take();
            self.replay_probe(cfg, probe, dir.other(), ts_ns, sink);
            self.feed(cfg, ts_ns, dir, &held, sink);
            if data.len() > room {
                self.feed(cfg, ts_ns, dir, &data[room..], sink);
            }
            return;
        }
        let enough = held.len() >= PROBE_ENOUGH;
        if let Some(p) = self.probe.as_mut() {
            p[dir.index()] = held;
        }
        if enough {
            self.give_up_if(dir);
        }
    }

    /// Feeds the bytes held for `dir` before detection.
    fn replay_probe(
        &mut self,
        cfg: &AppConfig,
        probe: Option<Box<[Vec<u8>; 2]>>,
        dir: Direction,
        ts_ns: u64,
        sink: &mut impl AppSink,
    ) {
        if let Some(p) = probe {
            let held = &p[dir.index()];
            if !held.is_empty() {
                self.feed(cfg, ts_ns, dir, held, sink);
            }
        }
    }

    /// A to-server prefix that matches nothing ends detection; server-first protocols
    /// (banners) may still follow, so a to-client miss waits for the client.
    fn give_up_if(&mut self, dir: Direction) {
        if dir == Direction::ToServer {
            self.proto = AppProto::Failed;
            self.probe = None;
        }
    }

    fn start(&mut self, cfg: &AppConfig, dir: Direction, b: &[u8]) -> bool {
        let to_server = dir == Direction::ToServer;
        let (proto, parser) = if to_server && socks::looks_like_socks(b) {
            (AppProto::Socks, Parser::Socks(Box::new(SocksState::new(b[0]))))
        } else if ssh::looks_like_ssh(b) {
            (AppProto::Ssh, Parser::Ssh(Box::new(SshState::new())))
        } else if tls::looks_like_tls(b) || (!to_server && looks_like_tls_server(b)) {
            (AppProto::Tls, Parser::Tls(Box::new(TlsState::new())))
        } else if (to_server && http::looks_like_http_request(b)) || (!to_server && http::looks_like_http_response(b)) {
            (AppProto::Http, Parser::Http(Box::new(HttpState::new(cfg.http))))
        } else if b.len() > 2 && dns::looks_like_dns(&b[2..]) {
            (AppProto::Dns, Parser::DnsTcp(Box::new(DnsTcpState::new())))
        } else {
            return false;
        };
        self.proto = proto;
        self.parser = parser;
        true
    }

    fn feed(&mut self, cfg: &AppConfig, ts_ns: u64, dir: Direction, data: &[u8], sink: &mut impl AppSink) {
        match &mut self.parser {
            Parser::Socks(s) => match s.feed(dir, data) {
                SocksOutcome::Pending => {}
                SocksOutcome::Failed => {
                    self.proto = AppProto::Failed;
                    self.parser = Parser::None;
                }
                SocksOutcome::Done { client, rest } => {
                    // Detect the tunnelled protocol from the bytes after the handshake.
                    self.proto = AppProto::Unknown;
                    self.parser = Parser::None;
                    if !client.is_empty() {
                        self.tcp_data(cfg, ts_ns, Direction::ToServer, &client, sink);
                    }
                    if !rest.is_empty() {
                        self.tcp_data(cfg, ts_ns, dir, &rest, sink);
                    }
                }
            },
            Parser::Http(h) => {
                h.feed(dir, data, &mut self.http_out);
                for tx in self.http_out.drain(..) {
                    sink.app_event(ts_ns, AppEvent::Http(&tx));
                }
            }
            Parser::Tls(t) => {
                t.feed(dir, data);
                if !self.logged && t.handshake_done() {
                    self.logged = true;
                    sink.app_event(ts_ns, AppEvent::Tls(t.info()));
                }
            }
            Parser::Ssh(s) => {
                s.feed(dir, data);
                if !self.logged && s.client().is_some() && s.server().is_some() {
                    self.logged = true;
                    sink.app_event(ts_ns, AppEvent::Ssh(s.client(), s.server()));
                }
            }
            Parser::DnsTcp(d) => {
                let mut msgs = Vec::new();
                d.feed(dir, data, &mut msgs);
                for m in msgs {
                    match m {
                        Ok(msg) => sink.app_event(ts_ns, AppEvent::Dns(dir, &msg)),
                        Err(_) => sink.app_event(ts_ns, AppEvent::Anomaly("dns", "dns.malformed_data")),
                    }
                }
            }
            Parser::None => {}
        }
    }
}

/// A to-client TLS handshake record (ServerHello) seen before the client's bytes.
fn looks_like_tls_server(b: &[u8]) -> bool {
    matches!(b, [0x16, 0x03, 0..=4, _, _, 2, ..])
}
