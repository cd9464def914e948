//! Names of inspection buffers: sticky buffers (`http.uri;`, `dns.query;`, ...) and the legacy
//! content modifiers (`http_uri;` after a content), plus the pcre buffer flags.

use super::super::ir::Buffer;

/// The buffer a sticky-buffer keyword selects (dotted names and their legacy sticky spellings).
pub(crate) fn sticky(keyword: &str) -> Option<Buffer> {
    use Buffer::*;
    Some(match keyword {
        "pkt_data" => Payload,
        "http.uri" => HttpUri,
        "http.uri.raw" => HttpUriRaw,
        "http.method" => HttpMethod,
        "http.protocol" => HttpProtocol,
        "http.request_line" | "http_request_line" => HttpRequestLine,
        "http.host" => HttpHost,
        "http.host.raw" => HttpHostRaw,
        "http.user_agent" => HttpUserAgent,
        "http.cookie" => HttpCookie,
        "http.header" => HttpHeader,
        "http.header.raw" => HttpHeaderRaw,
        "http.header_names" => HttpHeaderNames,
        "http.accept" | "http_accept" => HttpAccept,
        "http.accept_enc" | "http_accept_enc" => HttpAcceptEnc,
        "http.accept_lang" | "http_accept_lang" => HttpAcceptLang,
        "http.connection" | "http_connection" => HttpConnection,
        "http.referer" | "http_referer" => HttpReferer,
        "http.content_type" | "http_content_type" => HttpContentType,
        "http.content_len" | "http_content_len" => HttpContentLen,
        "http.start" | "http_start" => HttpStart,
        "http.request_body" => HttpRequestBody,
        "http.response_body" => HttpResponseBody,
        "http.stat_code" => HttpStatCode,
        "http.stat_msg" => HttpStatMsg,
        "http.response_line" | "http_response_line" => HttpResponseLine,
        "http.location" => HttpLocation,
        "http.server" => HttpServer,
        "file.data" | "file_data" => FileData,
        "dns.query" | "dns_query" => DnsQuery,
        "tls.sni" | "tls_sni" => TlsSni,
        "tls.cert_subject" | "tls_cert_subject" => TlsCertSubject,
        "tls.cert_issuer" | "tls_cert_issuer" => TlsCertIssuer,
        "tls.cert_serial" | "tls_cert_serial" => TlsCertSerial,
        "tls.certs" => TlsCerts,
        "ja3.hash" | "ja3_hash" => Ja3Hash,
        "ja3.string" | "ja3_string" => Ja3String,
        "ja3s.hash" | "ja3s_hash" => Ja3sHash,
        "ja3s.string" | "ja3s_string" => Ja3sString,
        "ja4.hash" => Ja4Hash,
        "ssh.software" | "ssh.softwareversion" | "ssh_software" => SshSoftware,
        "ssh.proto" | "ssh.protoversion" | "ssh_proto" => SshProto,
        _ => return None,
    })
}

/// The buffer a legacy content modifier (`content:"x"; http_uri;`) moves its content to.
pub(crate) fn legacy_modifier(keyword: &str) -> Option<Buffer> {
    use Buffer::*;
    Some(match keyword {
        "http_uri" => HttpUri,
        "http_raw_uri" => HttpUriRaw,
        "http_method" => HttpMethod,
        "http_host" => HttpHost,
        "http_raw_host" => HttpHostRaw,
        "http_user_agent" => HttpUserAgent,
        "http_cookie" => HttpCookie,
        "http_header" => HttpHeader,
        "http_raw_header" => HttpHeaderRaw,
        "http_client_body" => HttpRequestBody,
        "http_server_body" => HttpResponseBody,
        "http_stat_code" => HttpStatCode,
        "http_stat_msg" => HttpStatMsg,
        _ => return None,
    })
}

/// The buffer a pcre flag selects (`U`, `I`, `P`, `Q`, `H`, `D`, `M`, `C`, `S`, `Y`, `V`, `W`, `Z`).
pub(crate) fn pcre_flag(flag: char) -> Option<Buffer> {
    use Buffer::*;
    Some(match flag {
        'U' => HttpUri,
        'I' => HttpUriRaw,
        'P' => HttpRequestBody,
        'Q' => HttpResponseBody,
        'H' => HttpHeader,
        'D' => HttpHeaderRaw,
        'M' => HttpMethod,
        'C' => HttpCookie,
        'S' => HttpStatCode,
        'Y' => HttpStatMsg,
        'V' => HttpUserAgent,
        'W' => HttpHost,
        'Z' => HttpHostRaw,
        _ => return None,
    })
}
