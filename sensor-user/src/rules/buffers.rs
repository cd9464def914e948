//! The app-layer inspection buffers of one transaction side, built from what the parsers
//! produced ([`HttpTx`], [`DnsMessage`], [`TlsInfo`], SSH banners) the way Suricata 7 fills
//! its sticky buffers. Derived buffers (the header block, header names, `http.start`, the
//! status code text) are written into vectors owned by [`TxScratch`] and reused, so building
//! them allocates only until the vectors have grown to the largest transaction seen.

use std::io::Write;

use super::{engine::TxBuffers, ir::Buffer};
use crate::packet::app::{dns::DnsMessage, http::HttpTx, ssh::SshBanner, tls::TlsInfo};

/// Reused storage for derived buffers (one per worker).
#[derive(Debug, Default)]
pub struct TxScratch {
    header: Vec<u8>,
    names: Vec<u8>,
    start: Vec<u8>,
    stat_code: Vec<u8>,
}

/// One HTTP transaction seen from one side.
pub struct HttpBuffers<'a> {
    tx: &'a HttpTx,
    to_server: bool,
    s: &'a TxScratch,
}

/// Header value of `name` (ASCII case-insensitive) in `headers`; repeated headers are joined
/// with `, ` by the parser's own rules, so the first one is returned.
fn header<'h>(headers: &'h [(Vec<u8>, Vec<u8>)], name: &str) -> Option<&'h [u8]> {
    headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes())).map(|(_, v)| v.as_slice())
}

impl<'a> HttpBuffers<'a> {
    /// The buffers of `tx` for the side sent `to_server` (request) or not (response),
    /// deriving the composite ones into `s`.
    pub fn new(tx: &'a HttpTx, to_server: bool, s: &'a mut TxScratch) -> Self {
        let headers = if to_server { &tx.request_headers } else { &tx.response_headers };
        s.header.clear();
        s.names.clear();
        s.names.extend_from_slice(b"\r\n");
        for (n, v) in headers {
            s.header.extend_from_slice(n);
            s.header.extend_from_slice(b": ");
            s.header.extend_from_slice(v);
            s.header.extend_from_slice(b"\r\n");
            s.names.extend_from_slice(n);
            s.names.extend_from_slice(b"\r\n");
        }
        s.names.extend_from_slice(b"\r\n");
        s.start.clear();
        s.start.extend_from_slice(if to_server { &tx.request_line } else { &tx.response_line });
        s.start.extend_from_slice(b"\r\n");
        s.start.extend_from_slice(&s.header);
        s.start.extend_from_slice(b"\r\n");
        s.stat_code.clear();
        if let Some(code) = tx.status {
            let _ = write!(s.stat_code, "{code:03}");
        }
        Self { tx, to_server, s }
    }

    fn side_headers(&self) -> &'a [(Vec<u8>, Vec<u8>)] {
        if self.to_server { &self.tx.request_headers } else { &self.tx.response_headers }
    }
}

fn nonempty(b: &[u8]) -> Option<&[u8]> {
    (!b.is_empty()).then_some(b)
}

impl TxBuffers for HttpBuffers<'_> {
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]> {
        if idx > 0 {
            return None;
        }
        let tx = self.tx;
        let req = self.to_server;
        match b {
            Buffer::HttpUri => nonempty(&tx.uri),
            Buffer::HttpUriRaw => nonempty(&tx.uri_raw),
            Buffer::HttpMethod => nonempty(&tx.method),
            Buffer::HttpProtocol => nonempty(if req { &tx.protocol } else { &tx.response_protocol }),
            Buffer::HttpRequestLine => nonempty(&tx.request_line),
            Buffer::HttpHost => tx.host.as_deref(),
            Buffer::HttpHostRaw => tx.host_raw.as_deref(),
            Buffer::HttpUserAgent => tx.user_agent.as_deref(),
            Buffer::HttpCookie if req => tx.cookie.as_deref(),
            Buffer::HttpCookie => header(&tx.response_headers, "set-cookie"),
            Buffer::HttpHeader => nonempty(&self.s.header),
            Buffer::HttpHeaderRaw => nonempty(if req { &tx.request_headers_raw } else { &tx.response_headers_raw }),
            Buffer::HttpHeaderNames => (!self.side_headers().is_empty()).then_some(self.s.names.as_slice()),
            Buffer::HttpAccept => header(&tx.request_headers, "accept"),
            Buffer::HttpAcceptEnc => header(&tx.request_headers, "accept-encoding"),
            Buffer::HttpAcceptLang => header(&tx.request_headers, "accept-language"),
            Buffer::HttpConnection => header(self.side_headers(), "connection"),
            Buffer::HttpReferer => tx.referer.as_deref(),
            Buffer::HttpContentType => header(self.side_headers(), "content-type"),
            Buffer::HttpContentLen => header(self.side_headers(), "content-length"),
            Buffer::HttpStart => {
                let line = if req { &tx.request_line } else { &tx.response_line };
                (!line.is_empty()).then_some(self.s.start.as_slice())
            }
            Buffer::HttpRequestBody => nonempty(&tx.request_body),
            Buffer::HttpResponseBody => nonempty(&tx.response_body),
            Buffer::FileData => nonempty(if req { &tx.request_body } else { &tx.response_body }),
            Buffer::HttpStatCode => nonempty(&self.s.stat_code),
            Buffer::HttpStatMsg => nonempty(&tx.status_msg),
            Buffer::HttpResponseLine => nonempty(&tx.response_line),
            Buffer::HttpLocation => tx.location.as_deref(),
            Buffer::HttpServer => header(&tx.response_headers, "server"),
            _ => None,
        }
    }
}

/// One DNS message: `dns.query` is each question's name.
pub struct DnsBuffers<'a>(pub &'a DnsMessage);

impl TxBuffers for DnsBuffers<'_> {
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]> {
        match b {
            Buffer::DnsQuery => self.0.queries.get(idx).map(|q| q.name.as_slice()),
            _ => None,
        }
    }
}

/// A TLS handshake seen from one side: the ClientHello's fields to the server, the server's
/// hello and certificates to the client.
pub struct TlsBuffers<'a> {
    /// The handshake summary.
    pub info: &'a TlsInfo,
    /// Which side's fields.
    pub to_server: bool,
}

fn opt_str(s: &Option<String>) -> Option<&[u8]> {
    s.as_deref().map(str::as_bytes)
}

impl TxBuffers for TlsBuffers<'_> {
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]> {
        let i = self.info;
        if b == Buffer::TlsCerts {
            return if self.to_server { None } else { i.certs.get(idx).map(Vec::as_slice) };
        }
        if idx > 0 {
            return None;
        }
        if self.to_server {
            match b {
                Buffer::TlsSni => opt_str(&i.sni),
                Buffer::Ja3Hash => opt_str(&i.ja3_hash),
                Buffer::Ja3String => opt_str(&i.ja3_string),
                Buffer::Ja4Hash => opt_str(&i.ja4),
                _ => None,
            }
        } else {
            let cert = i.cert.as_ref();
            match b {
                Buffer::TlsCertSubject => cert.map(|c| c.subject.as_bytes()),
                Buffer::TlsCertIssuer => cert.map(|c| c.issuer.as_bytes()),
                Buffer::TlsCertSerial => cert.map(|c| c.serial.as_bytes()),
                Buffer::Ja3sHash => opt_str(&i.ja3s_hash),
                Buffer::Ja3sString => opt_str(&i.ja3s_string),
                _ => None,
            }
        }
    }
}

/// An SSH banner of one side.
pub struct SshBuffers<'a>(pub &'a SshBanner);

impl TxBuffers for SshBuffers<'_> {
    fn get(&self, b: Buffer, idx: usize) -> Option<&[u8]> {
        if idx > 0 {
            return None;
        }
        match b {
            Buffer::SshSoftware => Some(self.0.software_version.as_bytes()),
            Buffer::SshProto => Some(self.0.proto_version.as_bytes()),
            _ => None,
        }
    }
}
