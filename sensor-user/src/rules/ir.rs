//! The compiled form of a Suricata rule: what the parser produces and what the prefilter and
//! the inspection engine consume. Built once at load time, then shared read-only (no interior
//! mutability here: per-flow and per-host state lives in the engine's runtime).

use std::net::IpAddr;

/// Rule action. `drop` and `reject` alert and give the packet a drop verdict (reported as
/// `blocked` when simulating an inline sensor); `pass` stops inspection without an alert. A
/// drop or pass of a flow-scoped rule (IP-only, app-layer) applies to the rest of the flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    /// Stop inspecting the packet or flow (no alert).
    Pass,
    /// Alert and drop.
    Drop,
    /// Alert and drop (inline: reset).
    Reject,
    /// Alert.
    Alert,
}

impl Action {
    /// The action's name in rules and in `action-order`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Pass => "pass",
            Action::Drop => "drop",
            Action::Reject => "reject",
            Action::Alert => "alert",
        }
    }

    /// Does the action drop the packet?
    pub fn drops(self) -> bool {
        matches!(self, Action::Drop | Action::Reject)
    }
}

/// The order in which actions are applied (Suricata's `action-order`, default pass, drop,
/// reject, alert): rules are inspected and their matches applied in this order first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ActionOrder(pub [Action; 4]);

impl Default for ActionOrder {
    fn default() -> Self {
        ActionOrder([Action::Pass, Action::Drop, Action::Reject, Action::Alert])
    }
}

impl ActionOrder {
    /// Position of `a` (0 first).
    pub fn rank(&self, a: Action) -> u8 {
        self.0.iter().position(|&x| x == a).unwrap_or(3) as u8
    }
}

impl std::str::FromStr for ActionOrder {
    type Err = String;

    /// `drop,pass,reject,alert`: each of the four actions exactly once.
    fn from_str(s: &str) -> Result<Self, String> {
        let mut out = Vec::with_capacity(4);
        for part in s.split(',').map(str::trim) {
            let a = match part {
                "pass" => Action::Pass,
                "drop" => Action::Drop,
                "reject" => Action::Reject,
                "alert" => Action::Alert,
                other => return Err(format!("unknown action {other:?} (pass, drop, reject, alert)")),
            };
            if out.contains(&a) {
                return Err(format!("action {part} listed twice"));
            }
            out.push(a);
        }
        match <[Action; 4]>::try_from(out) {
            Ok(order) => Ok(ActionOrder(order)),
            Err(_) => Err("action order must list pass, drop, reject and alert".into()),
        }
    }
}

/// Application protocol a rule requires (from the header protocol or `app-layer-protocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AppLayer {
    /// HTTP/1.x.
    Http,
    /// TLS.
    Tls,
    /// DNS over UDP or TCP.
    Dns,
    /// SSH.
    Ssh,
}

/// Transport a rule applies to (from the header protocol).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Any IP packet (`ip`).
    Any,
    /// TCP (`tcp`, `tcp-pkt`, `tcp-stream`, or an app layer carried by TCP).
    Tcp,
    /// UDP.
    Udp,
    /// ICMP and ICMPv6 (`icmp`, `icmpv6`).
    Icmp,
}

/// One side's address expression, compiled: a packet address matches when it is in some
/// positive entry (or there is none: `any`) and in no negated entry.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AddrSet {
    /// `(network, prefix length)` entries that admit an address; empty = any.
    pub allow: Vec<(IpAddr, u8)>,
    /// Entries that exclude an address (from `!x`, nested negation already resolved).
    pub deny: Vec<(IpAddr, u8)>,
}

/// One side's port expression, compiled like [`AddrSet`] (inclusive ranges).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PortSet {
    /// Ranges that admit a port; empty = any.
    pub allow: Vec<(u16, u16)>,
    /// Ranges that exclude a port.
    pub deny: Vec<(u16, u16)>,
}

/// A numeric comparison (`dsize`, `urilen`, `bsize`, `itype`, ...): `N`, `<N`, `>N`, `<=N`,
/// `>=N`, `!N`, `A<>B` (exclusive range), `A-B` (inclusive range in some keywords).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumCmp {
    /// `== n`
    Eq(u64),
    /// `!= n`
    Ne(u64),
    /// `< n`
    Lt(u64),
    /// `<= n`
    Le(u64),
    /// `> n`
    Gt(u64),
    /// `>= n`
    Ge(u64),
    /// `lo < x < hi`
    Between(u64, u64),
}

impl NumCmp {
    /// Does `x` satisfy the comparison?
    pub fn test(self, x: u64) -> bool {
        match self {
            NumCmp::Eq(n) => x == n,
            NumCmp::Ne(n) => x != n,
            NumCmp::Lt(n) => x < n,
            NumCmp::Le(n) => x <= n,
            NumCmp::Gt(n) => x > n,
            NumCmp::Ge(n) => x >= n,
            NumCmp::Between(lo, hi) => x > lo && x < hi,
        }
    }
}

/// An inspection buffer. `Payload` is the packet payload (UDP, ICMP, IP) or the in-order TCP
/// stream data delivered by reassembly; the others are app-layer buffers (sticky buffers and
/// their legacy content modifiers map to the same value).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Buffer {
    /// Packet payload / TCP stream data (no sticky buffer).
    Payload,
    /// `http.uri` / `http_uri`: normalised request target.
    HttpUri,
    /// `http.uri.raw` / `http_raw_uri`.
    HttpUriRaw,
    /// `http.method` / `http_method`.
    HttpMethod,
    /// `http.protocol` (request protocol, e.g. `HTTP/1.1`).
    HttpProtocol,
    /// `http.request_line`.
    HttpRequestLine,
    /// `http.host` / `http_host` (normalised: lower case, no port).
    HttpHost,
    /// `http.host.raw` / `http_raw_host`.
    HttpHostRaw,
    /// `http.user_agent` / `http_user_agent`.
    HttpUserAgent,
    /// `http.cookie` / `http_cookie` (request Cookie, or response Set-Cookie when to_client).
    HttpCookie,
    /// `http.header` / `http_header`: header block of the direction, `Name: value\r\n` each.
    HttpHeader,
    /// `http.header.raw` / `http_raw_header`.
    HttpHeaderRaw,
    /// `http.header_names`: `\r\nName1\r\nName2\r\n\r\n`.
    HttpHeaderNames,
    /// `http.accept`.
    HttpAccept,
    /// `http.accept_enc`.
    HttpAcceptEnc,
    /// `http.accept_lang`.
    HttpAcceptLang,
    /// `http.connection`.
    HttpConnection,
    /// `http.referer`.
    HttpReferer,
    /// `http.content_type` (of the direction).
    HttpContentType,
    /// `http.content_len` (of the direction).
    HttpContentLen,
    /// `http.start`: start line + headers + blank line of the direction.
    HttpStart,
    /// `http.request_body` / `http_client_body`.
    HttpRequestBody,
    /// `http.response_body` / `http_server_body`.
    HttpResponseBody,
    /// `http.stat_code` / `http_stat_code`.
    HttpStatCode,
    /// `http.stat_msg` / `http_stat_msg`.
    HttpStatMsg,
    /// `http.response_line`.
    HttpResponseLine,
    /// `http.location`.
    HttpLocation,
    /// `http.server`.
    HttpServer,
    /// `file.data` / `file_data`: HTTP response body (to client) or request body (to server).
    FileData,
    /// `dns.query` / `dns_query`: each question name (multi-buffer).
    DnsQuery,
    /// `tls.sni` / `tls_sni`.
    TlsSni,
    /// `tls.cert_subject` / `tls_cert_subject`.
    TlsCertSubject,
    /// `tls.cert_issuer` / `tls_cert_issuer`.
    TlsCertIssuer,
    /// `tls.cert_serial`.
    TlsCertSerial,
    /// `tls.certs`: each certificate's DER (multi-buffer).
    TlsCerts,
    /// `ja3.hash` / `ja3_hash`.
    Ja3Hash,
    /// `ja3.string`.
    Ja3String,
    /// `ja3s.hash`.
    Ja3sHash,
    /// `ja3s.string`.
    Ja3sString,
    /// `ja4.hash`.
    Ja4Hash,
    /// `ssh.software` / `ssh.softwareversion`: of the direction's banner.
    SshSoftware,
    /// `ssh.proto` / `ssh.protoversion`.
    SshProto,
}

impl Buffer {
    /// The app layer that produces this buffer (None for `Payload`).
    pub fn app(self) -> Option<AppLayer> {
        use Buffer::*;
        match self {
            Payload => None,
            DnsQuery => Some(AppLayer::Dns),
            TlsSni | TlsCertSubject | TlsCertIssuer | TlsCertSerial | TlsCerts | Ja3Hash | Ja3String | Ja3sHash
            | Ja3sString | Ja4Hash => Some(AppLayer::Tls),
            SshSoftware | SshProto => Some(AppLayer::Ssh),
            _ => Some(AppLayer::Http),
        }
    }
}

/// `content` (and its modifiers), already decoded from `|hex|` and escapes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Content {
    /// The bytes to find.
    pub pattern: Vec<u8>,
    /// `!"..."`: the rule matches only if the pattern is absent (within the given window).
    pub negated: bool,
    /// `nocase`.
    pub nocase: bool,
    /// `offset` (absolute) — None when unset. Variables from `byte_extract` are `Value::Var`.
    pub offset: Option<Value>,
    /// `depth` (absolute).
    pub depth: Option<Value>,
    /// `distance` (relative to the end of the previous match; may be negative).
    pub distance: Option<ValueI>,
    /// `within` (relative).
    pub within: Option<Value>,
    /// `startswith`: the match must start at offset 0 of the buffer.
    pub startswith: bool,
    /// `endswith`: the match must end at the end of the buffer.
    pub endswith: bool,
    /// `fast_pattern` was given explicitly on this content.
    pub fast_pattern: bool,
    /// `fast_pattern:only` / `fast_pattern:o,l` given: the prefilter alone confirms it
    /// (still verified by the engine; kept for reporting).
    pub fast_pattern_only: bool,
    /// `fast_pattern:<offset>,<length>`: the slice of `pattern` to use in the prefilter.
    pub fast_pattern_chop: Option<(u16, u16)>,
}

impl Content {
    /// Is the content anchored to the previous match (distance or within set)?
    pub fn relative(&self) -> bool {
        self.distance.is_some() || self.within.is_some()
    }
}

/// An unsigned option value: a literal, or a variable set by `byte_extract`/`byte_math`
/// earlier in the same rule (index into the rule's variable slots).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value {
    /// A literal.
    Lit(u64),
    /// A `byte_extract` variable slot.
    Var(u8),
}

/// A signed option value (`distance`, `byte_jump` post-offset, ...).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueI {
    /// A literal.
    Lit(i64),
    /// A `byte_extract` variable slot.
    Var(u8),
}

/// `pcre:"/.../flags"`. The pattern is compiled by the inspection engine at build time (the
/// parser validates that it compiles). Buffer-selecting flags (U, H, P, ...) were resolved by
/// the parser into the element's buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pcre {
    /// The regular expression source (between the slashes), unescaped of the rule's `\;` `\"`.
    pub source: String,
    /// `i`
    pub caseless: bool,
    /// `s`
    pub dotall: bool,
    /// `m`
    pub multiline: bool,
    /// `x`
    pub extended: bool,
    /// `A`
    pub anchored: bool,
    /// `E`
    pub dollar_endonly: bool,
    /// `G`
    pub ungreedy: bool,
    /// `R`: match relative to the end of the previous match.
    pub relative: bool,
    /// `!"/.../"`: must not match.
    pub negated: bool,
}

/// Number base of string-typed byte_* operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NumBase {
    /// Raw bytes (no `string` option).
    Binary,
    /// `string,dec`
    Dec,
    /// `string,hex`
    Hex,
    /// `string,oct`
    Oct,
}

/// How a byte_* operation reads its number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ByteRead {
    /// Bytes to read (1..=8 binary, 1..=23 string).
    pub nbytes: u8,
    /// Offset from the buffer start, or from the previous match end when `relative`.
    pub offset: ValueI,
    /// `relative`
    pub relative: bool,
    /// Big endian (default) unless `little`.
    pub big_endian: bool,
    /// `string` + base, or binary.
    pub base: NumBase,
    /// `dce` was given (rules using it are skipped by the parser).
    pub dce: bool,
    /// `bitmask` value, applied after reading (and the result shifted right by the mask's
    /// trailing zeros, as Suricata does).
    pub bitmask: Option<u64>,
}

/// `byte_test` operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ByteOp {
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `=`
    Eq,
    /// `<=`
    Le,
    /// `>=`
    Ge,
    /// `&` (value & operand != 0)
    And,
    /// `^` (value ^ operand != 0)
    Xor,
}

/// One inspection step on a buffer, in rule order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Element {
    /// `content` with modifiers.
    Content(Content),
    /// `pcre`.
    Pcre(Pcre),
    /// `byte_test:n,[!]op,value,offset[,relative][,endian][,string,base][,dce][,bitmask m]`
    ByteTest {
        /// How to read.
        read: ByteRead,
        /// The comparison.
        op: ByteOp,
        /// `!` before the operator.
        negated: bool,
        /// The operand.
        value: Value,
    },
    /// `byte_jump:n,offset[,relative][,multiplier m][,endian][,string,base][,align]
    /// [,from_beginning|from_end][,post_offset p][,dce][,bitmask m]`.
    ByteJump {
        /// How to read.
        read: ByteRead,
        /// `multiplier` (default 1).
        multiplier: u64,
        /// `align` (round up to 4).
        align: bool,
        /// `from_beginning`
        from_beginning: bool,
        /// `from_end`
        from_end: bool,
        /// `post_offset`
        post_offset: i64,
    },
    /// `byte_extract:n,offset,name[,relative][,multiplier m][,endian][,string,base][,align a][,dce]`
    ByteExtract {
        /// How to read.
        read: ByteRead,
        /// Variable slot written.
        var: u8,
        /// `multiplier` (default 1).
        multiplier: u64,
        /// `align` (0 = none, else 2 or 4).
        align: u8,
    },
    /// `isdataat:[!]n[,relative]`
    IsDataAt {
        /// Position.
        pos: Value,
        /// `relative`
        relative: bool,
        /// `!`
        negated: bool,
    },
    /// `bsize:<cmp>`: buffer length.
    Bsize(NumCmp),
}

/// The elements that inspect one buffer, in rule order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BufferMatch {
    /// Which buffer.
    pub buffer: Buffer,
    /// `dotprefix` transform: inspect `.` followed by the buffer (ET uses it on `dns.query` and
    /// `tls.sni` so that `content:".example.com"; endswith;` matches the domain and its subdomains).
    /// The same buffer with and without the transform are two separate `BufferMatch`es.
    pub dotprefix: bool,
    /// What to inspect in it.
    pub elements: Vec<Element>,
}

/// `flow:` options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowOpts {
    /// `established` = Some(true), `not_established` = Some(false).
    pub established: Option<bool>,
    /// `to_server`/`from_client` = Some(true), `to_client`/`from_server` = Some(false).
    pub to_server: Option<bool>,
    /// `stateless`
    pub stateless: bool,
    /// `only_stream`
    pub only_stream: bool,
    /// `no_stream`
    pub no_stream: bool,
}

/// `flowbits:` command (names are interned to indices at build time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlowbitOp {
    /// `set,name`
    Set(u32),
    /// `unset,name`
    Unset(u32),
    /// `toggle,name`
    Toggle(u32),
    /// `isset,name` (`a|b`: any of them; `a&b`: all).
    IsSet(Vec<u32>, bool),
    /// `isnotset,name` (`a|b`: any not set; `a&b`: all not set).
    IsNotSet(Vec<u32>, bool),
}

/// What a threshold counts by.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Track {
    /// Source address.
    BySrc,
    /// Destination address.
    ByDst,
    /// The rule as a whole.
    ByRule,
    /// Source and destination pair.
    ByBoth,
    /// The flow.
    ByFlow,
}

/// `threshold` type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThresholdKind {
    /// Alert on the first `count` matches per period.
    Limit,
    /// Alert on every `count`-th match per period.
    Threshold,
    /// Alert once per period after `count` matches.
    Both,
    /// `detection_filter`: alert on every match after the `count`-th in the period.
    DetectionFilter,
}

/// `threshold:` or `detection_filter:`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// Kind.
    pub kind: ThresholdKind,
    /// Tracking key.
    pub track: Track,
    /// `count`.
    pub count: u32,
    /// `seconds`.
    pub seconds: u32,
}

/// Which addresses a threshold.config `suppress` covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuppressTrack {
    /// Every alert of the rule.
    All,
    /// Alerts whose source is in the set.
    BySrc(AddrSet),
    /// Alerts whose destination is in the set.
    ByDst(AddrSet),
    /// Alerts whose source or destination is in the set.
    ByEither(AddrSet),
}

/// threshold.config `rate_filter`: once a rule matched more than `count` times in `seconds`
/// for a tracked key, its action becomes `new_action` for `timeout` seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateFilter {
    /// Tracking key (by_src, by_dst, by_both, by_rule).
    pub track: Track,
    /// Matches allowed per window.
    pub count: u32,
    /// Window length.
    pub seconds: u32,
    /// The action while the filter is on.
    pub new_action: Action,
    /// How long the new action holds.
    pub timeout: u32,
}

/// TCP flags test (`flags:`): the flags in `mask` are ignored; `any` = `+`, `not` = `!`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpFlagsTest {
    /// Flags named.
    pub flags: u8,
    /// Flags to ignore (`,12` / `,CE`).
    pub ignore: u8,
    /// Modifier: exact (none), `+` all named plus any others, `*` any of the named, `!` none of them.
    pub modifier: u8,
}

/// A compiled rule.
#[derive(Clone, Debug, PartialEq)]
pub struct Signature {
    /// `sid`
    pub sid: u32,
    /// `gid` (default 1)
    pub gid: u32,
    /// `rev`
    pub rev: u32,
    /// `msg`
    pub msg: String,
    /// Action.
    pub action: Action,
    /// Transport from the header.
    pub transport: Transport,
    /// App layer the rule requires (header protocol, `app-layer-protocol`, or implied by a
    /// sticky buffer).
    pub app: Option<AppLayer>,
    /// Header `tcp-pkt`: inspect packets only; `tcp-stream`: stream only.
    pub pkt_only: bool,
    /// Source addresses.
    pub src: AddrSet,
    /// Source ports.
    pub sport: PortSet,
    /// Destination addresses.
    pub dst: AddrSet,
    /// Destination ports.
    pub dport: PortSet,
    /// `<>`: also try the header with source and destination swapped.
    pub bidirectional: bool,
    /// `flow:`
    pub flow: FlowOpts,
    /// `dsize:`
    pub dsize: Option<NumCmp>,
    /// `urilen:` (on the normalised URI unless `,raw`).
    pub urilen: Option<(NumCmp, bool)>,
    /// `itype:`
    pub itype: Option<NumCmp>,
    /// `icode:`
    pub icode: Option<NumCmp>,
    /// `icmp_id:`
    pub icmp_id: Option<u16>,
    /// `icmp_seq:`
    pub icmp_seq: Option<u16>,
    /// `ip_proto:` (number; `!` = Ne).
    pub ip_proto: Option<NumCmp>,
    /// `ttl:`
    pub ttl: Option<NumCmp>,
    /// `flags:`
    pub tcp_flags: Option<TcpFlagsTest>,
    /// `seq:`
    pub tcp_seq: Option<u32>,
    /// `ack:`
    pub tcp_ack: Option<u32>,
    /// `window:` (`!` = negated)
    pub tcp_window: Option<(u16, bool)>,
    /// `stream_size:<server|client|both|either>,<op>,<n>` kept as (side 0..=3, cmp).
    pub stream_size: Option<(u8, NumCmp)>,
    /// Buffers to inspect; all must match.
    pub buffers: Vec<BufferMatch>,
    /// `flowbits`, in rule order.
    pub flowbits: Vec<FlowbitOp>,
    /// `noalert` (or `flowbits:noalert`): actions run, no alert is raised.
    pub noalert: bool,
    /// `threshold:`
    pub threshold: Option<Threshold>,
    /// `detection_filter:`
    pub detection_filter: Option<Threshold>,
    /// threshold.config `suppress` entries for this rule.
    pub suppress: Vec<SuppressTrack>,
    /// threshold.config `rate_filter` for this rule.
    pub rate_filter: Option<RateFilter>,
    /// Number of `byte_extract` variable slots the rule uses.
    pub vars: u8,
    /// `classtype` name.
    pub classtype: Option<String>,
    /// Class description from classification.config (Suricata's eve `category`).
    pub category: Option<String>,
    /// Priority: `priority:` if given, else the classtype's, else 3.
    pub priority: u8,
    /// `reference:` entries as `type,value`.
    pub references: Vec<String>,
    /// `metadata:` as (key, value) pairs in order.
    pub metadata: Vec<(String, String)>,
    /// ATT&CK technique ids from `mitre_technique_id` metadata (e.g. `T1071`).
    pub mitre: Vec<String>,
    /// `target:src_ip|dest_ip`: which side is the target (Some(true) = destination).
    pub target_dest: Option<bool>,
    /// The rule's text (for `rules check` output and eve `rule` field).
    pub raw: String,
    /// `file:line` the rule was read from.
    pub origin: String,
}

impl Signature {
    /// A rule with this header and every option at its default (gid 1, priority 3, no
    /// buffers): the parser fills in the options it reads.
    pub fn new(action: Action, transport: Transport, raw: String, origin: String) -> Self {
        Self {
            sid: 0,
            gid: 1,
            rev: 0,
            msg: String::new(),
            action,
            transport,
            app: None,
            pkt_only: false,
            src: AddrSet::default(),
            sport: PortSet::default(),
            dst: AddrSet::default(),
            dport: PortSet::default(),
            bidirectional: false,
            flow: FlowOpts::default(),
            dsize: None,
            urilen: None,
            itype: None,
            icode: None,
            icmp_id: None,
            icmp_seq: None,
            ip_proto: None,
            ttl: None,
            tcp_flags: None,
            tcp_seq: None,
            tcp_ack: None,
            tcp_window: None,
            stream_size: None,
            buffers: Vec::new(),
            flowbits: Vec::new(),
            noalert: false,
            threshold: None,
            detection_filter: None,
            suppress: Vec::new(),
            rate_filter: None,
            vars: 0,
            classtype: None,
            category: None,
            priority: 3,
            references: Vec::new(),
            metadata: Vec::new(),
            mitre: Vec::new(),
            target_dest: None,
            raw,
            origin,
        }
    }
}
