//! A parser of sshd and PAM authentication lines, in syslog form (BSD `Nov 21 10:00:00 host
//! sshd[123]: ...`, rsyslog's RFC 3339 `2026-11-21T10:00:00.123+00:00 host sshd[1]: ...`,
//! RFC 5424 `<38>1 2026-11-21T10:00:00Z host sshd 123 - - ...`) or as a bare message with
//! a separate identifier (journald).
//!
//! It borrows from the line and allocates nothing. Lines it does not turn into a record are
//! rejected with a [`Reject`] reason the caller counts. Addresses are taken from the end of
//! the message (sshd appends `from <addr> port <port>` after the user name, which the client
//! chooses), so a user name such as `x from 192.0.2.1 port 22` cannot redirect the blame.

use std::net::IpAddr;

use memchr::memmem;

use crate::agents::event::AuthOutcome;

/// Longest line parsed, bytes; longer lines are rejected as [`Reject::TooLong`].
pub const MAX_LINE: usize = 16 * 1024;

/// Why a line gave no record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Reject {
    /// Empty or blank.
    Empty,
    /// Longer than [`MAX_LINE`].
    TooLong,
    /// Contains a NUL byte.
    Binary,
    /// No syslog header (timestamp, host, tag) could be read.
    NoHeader,
    /// Another program, or an sshd/PAM message that says nothing about authentication.
    NotAuth,
    /// An authentication message whose fields could not be read (cut short, unknown form).
    Malformed,
    /// The remote address is not an IP address.
    BadAddress,
}

impl Reject {
    /// Every reason, in [`Reject::index`] order.
    pub const ALL: [Reject; 7] = [
        Reject::Empty,
        Reject::TooLong,
        Reject::Binary,
        Reject::NoHeader,
        Reject::NotAuth,
        Reject::Malformed,
        Reject::BadAddress,
    ];

    /// Number of reasons.
    pub const COUNT: usize = Self::ALL.len();

    /// Position in [`Reject::ALL`] (for counter arrays).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// snake_case name for counters.
    pub const fn name(self) -> &'static str {
        match self {
            Reject::Empty => "empty",
            Reject::TooLong => "too_long",
            Reject::Binary => "binary",
            Reject::NoHeader => "no_header",
            Reject::NotAuth => "not_auth",
            Reject::Malformed => "malformed",
            Reject::BadAddress => "bad_address",
        }
    }
}

/// What an authentication line reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuthKind {
    /// `Failed <method> for [invalid user] <user> from <addr> port <port>`.
    Failed,
    /// `Accepted <method> for <user> from <addr> port <port>`.
    Accepted,
    /// `Invalid user <user> from <addr> [port <port>]`.
    InvalidUser,
    /// `User <user> from <addr> not allowed because ...`.
    NotAllowed,
    /// `pam_xxx(<service>:auth): authentication failure; ... rhost=<addr> user=<user>`.
    PamFailure,
    /// `PAM <n> more authentication failures; ...` (a summary of lines already logged).
    PamMore,
    /// `maximum authentication attempts exceeded for ...` or `Disconnecting ...: Too many
    /// authentication failures` (a summary: each attempt was logged).
    MaxAttempts,
    /// `Disconnected from ...` or `Connection closed by ...` (`[preauth]`: no failure by itself).
    Disconnected,
}

/// A timestamp read from a syslog header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineTime {
    /// RFC 3339: nanoseconds since the Unix epoch (UTC).
    Unix(u64),
    /// BSD syslog: no year, no zone.
    Bsd {
        /// 1..=12.
        month: u8,
        /// 1..=31.
        day: u8,
        /// Seconds since midnight.
        secs: u32,
    },
}

/// One parsed authentication line, borrowing from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AuthRecord<'a> {
    /// What the line reports.
    pub kind: AuthKind,
    /// What it means for password guessing (`None`: informational).
    pub outcome: Option<AuthOutcome>,
    /// The user name (may be empty, may hold any bytes).
    pub user: &'a [u8],
    /// Whether sshd called the user invalid (no such account).
    pub invalid_user: bool,
    /// Remote address.
    pub source: Option<IpAddr>,
    /// Remote port.
    pub port: Option<u16>,
    /// Authentication method (`password`, `publickey`, ...), empty when not given.
    pub method: &'a [u8],
    /// Program that logged the line (`sshd`, `sshd-session`, `su`...).
    pub program: &'a [u8],
    /// Its pid, when the tag had one.
    pub pid: Option<u32>,
    /// Host name of the header (empty for journald messages).
    pub host: &'a [u8],
    /// PAM service (`sshd`, `su`...) of PAM lines, else empty.
    pub pam_service: &'a [u8],
    /// Header time, when the line had a header.
    pub time: Option<LineTime>,
    /// Service name for [`crate::agents::event::AuthEvent::service`].
    pub service: &'static str,
}

/// Whether `program` is an sshd process name.
pub fn is_sshd(program: &[u8]) -> bool {
    matches!(program, b"sshd" | b"sshd-session" | b"sshd-auth")
}

/// The static service name for a program or PAM service.
pub fn service_name(name: &[u8]) -> &'static str {
    const KNOWN: &[&str] = &[
        "sshd",
        "su",
        "sudo",
        "login",
        "vsftpd",
        "proftpd",
        "dovecot",
        "cockpit",
        "gdm-password",
        "passwd",
        "polkit-1",
    ];
    if is_sshd(name) {
        return "sshd";
    }
    KNOWN.iter().find(|k| k.as_bytes() == name).copied().unwrap_or("pam")
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    memmem::find(h, n)
}

/// Up to the first space (or the end), and the rest after that space.
fn token(b: &[u8]) -> (&[u8], &[u8]) {
    match memchr::memchr(b' ', b) {
        Some(i) => (&b[..i], &b[i + 1..]),
        None => (b, &[]),
    }
}

fn skip_spaces(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| **c == b' ').count();
    &b[n..]
}

fn digits<T: std::str::FromStr>(b: &[u8]) -> Option<T> {
    if b.is_empty() || b.len() > 20 || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// An IP address token (IPv4, IPv6, IPv4-mapped IPv6 as IPv4; brackets allowed).
pub fn parse_ip(b: &[u8]) -> Option<IpAddr> {
    let b = b.strip_prefix(b"[").and_then(|x| x.strip_suffix(b"]")).unwrap_or(b);
    if b.is_empty() || b.len() > 45 {
        return None;
    }
    let ip: IpAddr = std::str::from_utf8(b).ok()?.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    })
}

/// `<addr>[ port <port>]...` at the start of `b`: the address, the port, and whether an
/// address token was there at all (so a bad one can be told from a missing one).
fn addr_port(b: &[u8]) -> Result<(IpAddr, Option<u16>), Reject> {
    let (tok, rest) = token(b);
    let ip = parse_ip(tok).ok_or(Reject::BadAddress)?;
    let port = rest.strip_prefix(b"port ").and_then(|r| digits::<u16>(token(r).0));
    Ok((ip, port))
}

/// The rightmost ` from <addr>` in `msg` whose address parses: (position of " from ",
/// address, port). Rightmost, because the user name before it is chosen by the client.
fn last_from(msg: &[u8]) -> Result<(usize, IpAddr, Option<u16>), Reject> {
    let mut err = Reject::Malformed;
    for i in memmem::rfind_iter(msg, b" from ") {
        match addr_port(&msg[i + 6..]) {
            Ok((ip, port)) => return Ok((i, ip, port)),
            Err(e) => err = e,
        }
    }
    Err(err)
}

fn record<'a>(kind: AuthKind, outcome: Option<AuthOutcome>, program: &'a [u8]) -> AuthRecord<'a> {
    AuthRecord {
        kind,
        outcome,
        user: &[],
        invalid_user: false,
        source: None,
        port: None,
        method: &[],
        program,
        pid: None,
        host: &[],
        pam_service: &[],
        time: None,
        service: service_name(program),
    }
}

/// Parses one syslog line. Never panics; allocates nothing.
pub fn parse_line(line: &[u8]) -> Result<AuthRecord<'_>, Reject> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    check(line)?;
    let h = header(line)?;
    let mut r = parse_message(h.program, h.msg)?;
    r.pid = h.pid;
    r.host = h.host;
    r.time = h.time;
    Ok(r)
}

fn check(line: &[u8]) -> Result<(), Reject> {
    if line.len() > MAX_LINE {
        return Err(Reject::TooLong);
    }
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(Reject::Empty);
    }
    if memchr::memchr(0, line).is_some() {
        return Err(Reject::Binary);
    }
    Ok(())
}

/// The parts of a syslog header.
struct Header<'a> {
    time: Option<LineTime>,
    host: &'a [u8],
    program: &'a [u8],
    pid: Option<u32>,
    msg: &'a [u8],
}

fn header(line: &[u8]) -> Result<Header<'_>, Reject> {
    let mut b = line;
    // <PRI>
    if let Some(rest) = b.strip_prefix(b"<") {
        let close = rest.iter().take(4).position(|c| *c == b'>').ok_or(Reject::NoHeader)?;
        digits::<u8>(&rest[..close]).ok_or(Reject::NoHeader)?;
        b = &rest[close + 1..];
        // RFC 5424: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD MSG.
        if let Some(rest) = b.strip_prefix(b"1 ") {
            return header_5424(rest);
        }
    }
    let (time, rest) = if b.first().is_some_and(u8::is_ascii_digit) {
        let (tok, rest) = token(b);
        (Some(LineTime::Unix(rfc3339(tok).ok_or(Reject::NoHeader)?)), rest)
    } else {
        bsd_time(b).ok_or(Reject::NoHeader)?
    };
    let rest = skip_spaces(rest);
    let (first, after) = token(rest);
    // Host, unless the first token already is the tag (`sshd[1]:`).
    let (host, tag_and_msg) = if first.ends_with(b":") { (&[][..], rest) } else { (first, after) };
    let (tag, msg) = token(tag_and_msg);
    let tag = tag.strip_suffix(b":").ok_or(Reject::NoHeader)?;
    let (program, pid) = match memchr::memchr(b'[', tag) {
        Some(i) => (&tag[..i], tag[i + 1..].strip_suffix(b"]").and_then(digits::<u32>)),
        None => (tag, None),
    };
    if program.is_empty() {
        return Err(Reject::NoHeader);
    }
    Ok(Header { time, host, program, pid, msg })
}

fn header_5424(b: &[u8]) -> Result<Header<'_>, Reject> {
    let (ts, b) = token(b);
    let time = if ts == b"-" { None } else { Some(LineTime::Unix(rfc3339(ts).ok_or(Reject::NoHeader)?)) };
    let (host, b) = token(b);
    let (app, b) = token(b);
    let (procid, b) = token(b);
    let (_msgid, mut b) = token(b);
    if app.is_empty() || b.is_empty() && procid.is_empty() {
        return Err(Reject::NoHeader);
    }
    // Structured data: "-" or one or more [..] elements (quoted values may hold "\]").
    if let Some(rest) = b.strip_prefix(b"-") {
        b = rest;
    } else {
        while b.first() == Some(&b'[') {
            let mut i = 1;
            let mut quoted = false;
            loop {
                match b.get(i) {
                    None => return Err(Reject::NoHeader),
                    Some(b'\\') => i += 1,
                    Some(b'"') => quoted = !quoted,
                    Some(b']') if !quoted => break,
                    _ => {}
                }
                i += 1;
            }
            b = &b[i + 1..];
        }
    }
    let msg = skip_spaces(b);
    let msg = msg.strip_prefix("\u{feff}".as_bytes()).unwrap_or(msg);
    Ok(Header { time, host: if host == b"-" { &[] } else { host }, program: app, pid: digits::<u32>(procid), msg })
}

/// `Mmm dd hh:mm:ss` (day may be space-padded), and the rest after it.
fn bsd_time(b: &[u8]) -> Option<(Option<LineTime>, &[u8])> {
    const MONTHS: [&[u8]; 12] =
        [b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec"];
    let month = MONTHS.iter().position(|m| b.get(..3) == Some(*m))? as u8 + 1;
    let rest = skip_spaces(b.get(3..)?);
    let (day, rest) = token(rest);
    let day: u8 = digits(day).filter(|d| (1..=31).contains(d))?;
    let (clock, rest) = token(rest);
    let secs = hms(clock)?;
    Some((Some(LineTime::Bsd { month, day, secs }), rest))
}

fn hms(b: &[u8]) -> Option<u32> {
    if b.len() != 8 || b[2] != b':' || b[5] != b':' {
        return None;
    }
    let h: u32 = digits(&b[0..2])?;
    let m: u32 = digits(&b[3..5])?;
    let s: u32 = digits(&b[6..8])?;
    (h < 24 && m < 60 && s <= 60).then_some(h * 3600 + m * 60 + s)
}

/// Days from 1970-01-01 to a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = i64::from((m + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// RFC 3339 `YYYY-MM-DDTHH:MM:SS[.frac](Z|+hh:mm|-hh:mm)` to Unix nanoseconds.
pub fn rfc3339(b: &[u8]) -> Option<u64> {
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    let y: i64 = digits(&b[0..4])?;
    let mo: u32 = digits(&b[5..7]).filter(|m| (1..=12).contains(m))?;
    let d: u32 = digits(&b[8..10]).filter(|d| (1..=31).contains(d))?;
    let secs = hms(&b[11..19])?;
    let mut rest = &b[19..];
    let mut frac_ns = 0u64;
    if let Some(f) = rest.strip_prefix(b".") {
        let n = f.iter().take_while(|c| c.is_ascii_digit()).count();
        if n == 0 {
            return None;
        }
        for (i, c) in f[..n].iter().enumerate().take(9) {
            frac_ns += u64::from(c - b'0') * 10u64.pow(8 - i as u32);
        }
        rest = &f[n..];
    }
    let offset: i64 = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let h: i64 = digits(&[*h1, *h2])?;
            let m: i64 = digits(&[*m1, *m2])?;
            let o = h * 3600 + m * 60;
            if *sign == b'-' { -o } else { o }
        }
        _ => return None,
    };
    let unix = days_from_civil(y, mo, d) * 86_400 + i64::from(secs) - offset;
    u64::try_from(unix).ok()?.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// Parses a bare message logged by `program` (journald's MESSAGE with its
/// SYSLOG_IDENTIFIER). Never panics; allocates nothing.
pub fn parse_message<'a>(program: &'a [u8], msg: &'a [u8]) -> Result<AuthRecord<'a>, Reject> {
    check(msg)?;
    let msg = skip_spaces(msg);
    let msg = msg.strip_suffix(b"\n").unwrap_or(msg);
    // Newer sshd prefixes some lines with a level.
    let msg = msg.strip_prefix(b"error: ").unwrap_or(msg);
    if let Some(r) = pam(program, msg)? {
        return Ok(r);
    }
    if !is_sshd(program) {
        return Err(Reject::NotAuth);
    }
    sshd(program, msg)
}

/// PAM module lines, from any program.
fn pam<'a>(program: &'a [u8], msg: &'a [u8]) -> Result<Option<AuthRecord<'a>>, Reject> {
    if let Some(rest) = msg.strip_prefix(b"PAM ") {
        if find(rest, b" more authentication failure").is_some() {
            let mut r = record(AuthKind::PamMore, None, program);
            r.source = kv(rest, b"rhost=").and_then(parse_ip);
            r.user = kv_last(rest, b" user=").unwrap_or(&[]);
            return Ok(Some(r));
        }
        return Ok(None);
    }
    if !msg.starts_with(b"pam_") {
        return Ok(None);
    }
    let Some(close) = find(msg, b"): ") else { return Ok(None) };
    let rest = &msg[close + 3..];
    if !rest.starts_with(b"authentication failure;") {
        return Err(Reject::NotAuth);
    }
    // "pam_unix(sshd:auth)": the PAM service is before the colon.
    let inner = msg.get(memchr::memchr(b'(', &msg[..close]).map_or(close, |i| i + 1)..close).unwrap_or(&[]);
    let svc = match memchr::memchr(b':', inner) {
        Some(i) => &inner[..i],
        None => inner,
    };
    let mut r = record(AuthKind::PamFailure, Some(AuthOutcome::Failure), program);
    r.pam_service = svc;
    r.service = service_name(if svc.is_empty() { program } else { svc });
    // rhost precedes user; user (client-chosen) is last, so rhost is taken from the left.
    match kv(rest, b"rhost=") {
        Some(h) if !h.is_empty() => match parse_ip(h) {
            Some(ip) => r.source = Some(ip),
            // A host name (UseDNS): no address, still a failure.
            None if h.iter().all(|c| c.is_ascii_alphanumeric() || b".-_".contains(c)) => {}
            None => return Err(Reject::BadAddress),
        },
        _ => {}
    }
    r.user = kv_last(rest, b" user=").unwrap_or(&[]);
    Ok(Some(r))
}

/// The value of the first ` key=` (or `key=` at the start) up to the next space.
fn kv<'a>(b: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let mut from = 0;
    while let Some(i) = find(&b[from..], key) {
        let at = from + i;
        if at == 0 || b[at - 1] == b' ' || b[at - 1] == b';' {
            return Some(token(&b[at + key.len()..]).0);
        }
        from = at + key.len();
    }
    None
}

/// The value after the first `key` to the end of the line (user names may hold spaces).
fn kv_last<'a>(b: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    find(b, key).map(|i| {
        let v = &b[i + key.len()..];
        let n = v.len() - v.iter().rev().take_while(|c| **c == b' ').count();
        &v[..n]
    })
}

fn sshd<'a>(program: &'a [u8], msg: &'a [u8]) -> Result<AuthRecord<'a>, Reject> {
    if let Some(rest) = msg.strip_prefix(b"Failed ").or_else(|| msg.strip_prefix(b"Accepted ")) {
        let accepted = msg.starts_with(b"Accepted ");
        let (method, after) = token(rest);
        let after = after.strip_prefix(b"for ").ok_or(Reject::Malformed)?;
        let (invalid, after) = match after.strip_prefix(b"invalid user ") {
            Some(a) => (true, a),
            None => (false, after),
        };
        let (i, ip, port) = last_from(after)?;
        let mut r = if accepted {
            record(AuthKind::Accepted, Some(AuthOutcome::Success), program)
        } else {
            record(AuthKind::Failed, Some(AuthOutcome::Failure), program)
        };
        r.method = method;
        r.user = &after[..i];
        r.invalid_user = invalid;
        r.source = Some(ip);
        r.port = port;
        return Ok(r);
    }
    if let Some(rest) = msg.strip_prefix(b"Invalid user ") {
        let (i, ip, port) = last_from(rest).or_else(|e| {
            // "Invalid user  from 1.2.3.4" (empty user): the name is empty.
            rest.strip_prefix(b"from ").map_or(Err(e), |r| addr_port(r).map(|(ip, p)| (0, ip, p)))
        })?;
        let mut r = record(AuthKind::InvalidUser, Some(AuthOutcome::Failure), program);
        r.user = rest.get(..i).unwrap_or(&[]);
        r.invalid_user = true;
        r.source = Some(ip);
        r.port = port;
        return Ok(r);
    }
    if let Some(rest) = msg.strip_prefix(b"User ") {
        if let Some(na) = memmem::rfind(rest, b" not allowed because ") {
            let head = &rest[..na];
            let (i, ip, port) = last_from(head)?;
            let mut r = record(AuthKind::NotAllowed, Some(AuthOutcome::Failure), program);
            r.user = &head[..i];
            r.source = Some(ip);
            r.port = port;
            return Ok(r);
        }
        return Err(Reject::NotAuth);
    }
    if let Some(rest) = msg.strip_prefix(b"maximum authentication attempts exceeded for ") {
        let rest = rest.strip_prefix(b"invalid user ").unwrap_or(rest);
        let (i, ip, port) = last_from(rest)?;
        let mut r = record(AuthKind::MaxAttempts, None, program);
        r.user = &rest[..i];
        r.source = Some(ip);
        r.port = port;
        return Ok(r);
    }
    let (disconnect, rest) = if let Some(r) = msg.strip_prefix(b"Disconnected from ") {
        (AuthKind::Disconnected, r)
    } else if let Some(r) = msg.strip_prefix(b"Connection closed by ") {
        (AuthKind::Disconnected, r)
    } else if let Some(r) = msg.strip_prefix(b"Disconnecting ") {
        if find(r, b"Too many authentication failures").is_none() {
            return Err(Reject::NotAuth);
        }
        (AuthKind::MaxAttempts, r)
    } else {
        return Err(Reject::NotAuth);
    };
    // "[authenticating |invalid ]user <user> <addr> port <port>[: reason] [preauth]" or
    // "<addr> port <port> [preauth]". The address is the token before the last " port ".
    let body = rest.strip_suffix(b" [preauth]").unwrap_or(rest);
    let p = memmem::rfind(body, b" port ").ok_or(Reject::Malformed)?;
    let head = &body[..p];
    let sp = memchr::memrchr(b' ', head).map_or(0, |i| i + 1);
    let ip = parse_ip(&head[sp..]).ok_or(Reject::BadAddress)?;
    let ptok = token(&body[p + 6..]).0;
    let port = digits::<u16>(ptok.strip_suffix(b":").unwrap_or(ptok));
    let mut r = record(disconnect, None, program);
    r.source = Some(ip);
    r.port = port;
    let who = &head[..sp.saturating_sub(1)];
    for prefix in [&b"authenticating user "[..], b"invalid user ", b"user "] {
        if let Some(u) = who.strip_prefix(prefix) {
            r.user = u;
            r.invalid_user = prefix == b"invalid user ";
            break;
        }
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("addr"))
    }

    #[test]
    fn failed_password_lines_give_user_address_and_port() {
        let r = parse_line(
            b"Nov 21 10:00:00 host sshd[123]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2",
        )
        .expect("parses");
        assert_eq!(r.kind, AuthKind::Failed);
        assert_eq!(r.outcome, Some(AuthOutcome::Failure));
        assert_eq!(r.user, b"admin");
        assert!(r.invalid_user);
        assert_eq!(r.source, ip("203.0.113.5"));
        assert_eq!(r.port, Some(52311));
        assert_eq!(r.method, b"password");
        assert_eq!((r.program, r.pid, r.host), (&b"sshd"[..], Some(123), &b"host"[..]));
        assert_eq!(r.time, Some(LineTime::Bsd { month: 11, day: 21, secs: 36000 }));
        let r = parse_line(b"Nov  1 09:05:01 h sshd[9]: Failed password for root from 198.51.100.2 port 22 ssh2")
            .expect("p");
        assert_eq!((r.user, r.invalid_user), (&b"root"[..], false));
        assert_eq!(r.time, Some(LineTime::Bsd { month: 11, day: 1, secs: 9 * 3600 + 5 * 60 + 1 }));
    }

    #[test]
    fn accepted_invalid_and_not_allowed_lines_are_recognised() {
        let r = parse_line(b"Nov 21 10:00:00 h sshd[1]: Accepted publickey for deploy from 2001:db8::7 port 40022 ssh2: ED25519 SHA256:abc from x")
            .expect("accepted");
        assert_eq!((r.kind, r.outcome), (AuthKind::Accepted, Some(AuthOutcome::Success)));
        assert_eq!(r.user, b"deploy");
        assert_eq!(r.source, ip("2001:db8::7"));
        let r = parse_line(b"Nov 21 10:00:00 h sshd[1]: Invalid user bob from 192.0.2.9 port 4242").expect("invalid");
        assert_eq!((r.kind, r.user, r.port), (AuthKind::InvalidUser, &b"bob"[..], Some(4242)));
        let r = parse_line(b"Nov 21 10:00:00 h sshd[1]: Invalid user  from 192.0.2.9 port 4242").expect("empty user");
        assert_eq!(r.user, b"");
        let r = parse_line(b"Nov 21 10:00:00 h sshd[1]: Invalid user bob from 192.0.2.9").expect("old form");
        assert_eq!(r.port, None);
        let r = parse_line(
            b"Nov 21 10:00:00 h sshd[1]: User root from 192.0.2.10 not allowed because not listed in AllowUsers",
        )
        .expect("not allowed");
        assert_eq!((r.kind, r.user, r.source), (AuthKind::NotAllowed, &b"root"[..], ip("192.0.2.10")));
    }

    #[test]
    fn pam_failures_name_the_service_host_and_user() {
        let r = parse_line(
            b"Nov 21 10:00:00 h sshd[5]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root",
        )
        .expect("pam");
        assert_eq!((r.kind, r.outcome), (AuthKind::PamFailure, Some(AuthOutcome::Failure)));
        assert_eq!((r.pam_service, r.user, r.source), (&b"sshd"[..], &b"root"[..], ip("203.0.113.5")));
        let r = parse_line(b"Nov 21 10:00:00 h su[7]: pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=root")
            .expect("su");
        assert_eq!((r.service, r.source, r.user), ("su", None, &b"root"[..]));
        let r = parse_line(b"Nov 21 10:00:00 h sshd[5]: PAM 2 more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5  user=root")
            .expect("more");
        assert_eq!((r.kind, r.outcome), (AuthKind::PamMore, None));
        assert_eq!(
            parse_line(b"Nov 21 10:00:00 h sshd[5]: pam_unix(sshd:session): session opened for user x").err(),
            Some(Reject::NotAuth)
        );
    }

    #[test]
    fn summaries_and_disconnects_are_not_failures() {
        let r = parse_line(b"Nov 21 10:00:00 h sshd[5]: error: maximum authentication attempts exceeded for root from 1.2.3.4 port 22 ssh2 [preauth]")
            .expect("max");
        assert_eq!((r.kind, r.outcome, r.source), (AuthKind::MaxAttempts, None, ip("1.2.3.4")));
        let r = parse_line(
            b"Nov 21 10:00:00 h sshd[5]: Disconnected from authenticating user root 1.2.3.4 port 22 [preauth]",
        )
        .expect("disc");
        assert_eq!((r.kind, r.outcome, r.user, r.port), (AuthKind::Disconnected, None, &b"root"[..], Some(22)));
        let r = parse_line(
            b"Nov 21 10:00:00 h sshd[5]: Connection closed by invalid user oracle 2001:db8::1 port 5000 [preauth]",
        )
        .expect("closed");
        assert!(r.invalid_user && r.source == ip("2001:db8::1"));
        let r = parse_line(b"Nov 21 10:00:00 h sshd[5]: Disconnected from 1.2.3.4 port 22").expect("plain");
        assert_eq!(r.user, b"");
        let r = parse_line(b"Nov 21 10:00:00 h sshd[5]: Disconnecting authenticating user root 1.2.3.4 port 22: Too many authentication failures [preauth]")
            .expect("too many");
        assert_eq!((r.kind, r.port), (AuthKind::MaxAttempts, Some(22)));
    }

    #[test]
    fn rfc3339_and_rfc5424_headers_are_read() {
        let r = parse_line(
            b"2026-11-21T10:00:00.123+01:00 host sshd[1]: Failed password for root from 1.2.3.4 port 2 ssh2",
        )
        .expect("iso");
        assert_eq!(r.time, Some(LineTime::Unix(1_795_251_600_123_000_000)));
        let r = parse_line(b"<38>1 2026-11-21T09:00:00.123Z host sshd-session 77 - [meta x=\"a]b\"] Failed password for root from 1.2.3.4 port 2 ssh2")
            .expect("5424");
        assert_eq!((r.pid, r.service), (Some(77), "sshd"));
        assert_eq!(r.time, Some(LineTime::Unix(1_795_251_600_123_000_000)));
        let r = parse_line(b"<38>Nov 21 10:00:00 host sshd[2]: Invalid user x from 1.2.3.4 port 5").expect("pri bsd");
        assert_eq!(r.kind, AuthKind::InvalidUser);
        assert_eq!(rfc3339(b"1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(rfc3339(b"1969-12-31T23:59:59Z"), None);
    }

    #[test]
    fn journald_messages_parse_with_a_separate_identifier() {
        let r = parse_message(b"sshd", b"Failed password for root from 1.2.3.4 port 2 ssh2").expect("journal");
        assert_eq!((r.user, r.host, r.time), (&b"root"[..], &b""[..], None));
        assert_eq!(
            parse_message(b"cron", b"Failed password for root from 1.2.3.4 port 2 ssh2").err(),
            Some(Reject::NotAuth)
        );
    }

    #[test]
    fn a_user_name_holding_an_address_does_not_redirect_the_blame() {
        let r = parse_line(b"Nov 21 10:00:00 h sshd[1]: Failed password for invalid user x from 192.0.2.1 port 22 from 198.51.100.9 port 4000 ssh2")
            .expect("parses");
        assert_eq!(r.source, ip("198.51.100.9"));
        assert_eq!(r.user, b"x from 192.0.2.1 port 22");
        let r = parse_line(b"Nov 21 10:00:00 h sshd[1]: Invalid user a from 192.0.2.1 from 198.51.100.9 port 4000")
            .expect("invalid");
        assert_eq!(r.source, ip("198.51.100.9"));
    }

    #[test]
    fn malformed_lines_are_rejected_by_reason() {
        let long = [b'a'; MAX_LINE + 1];
        let cases: &[(&[u8], Reject)] = &[
            (b"", Reject::Empty),
            (b"   \n", Reject::Empty),
            (&long, Reject::TooLong),
            (b"Nov 21 10:00:00 h sshd[1]: Failed pass\x00word", Reject::Binary),
            (b"garbage", Reject::NoHeader),
            (b"Nov 99 10:00:00 h sshd[1]: x", Reject::NoHeader),
            (b"Nov 21 10:00:00 h CRON[1]: (root) CMD (x)", Reject::NotAuth),
            (b"Nov 21 10:00:00 h sshd[1]: Server listening on 0.0.0.0 port 22.", Reject::NotAuth),
            (b"Nov 21 10:00:00 h sshd[1]: Failed password for root from 1.2.3.", Reject::BadAddress),
            (b"Nov 21 10:00:00 h sshd[1]: Failed password for root from 999.1.1.1 port 2 ssh2", Reject::BadAddress),
            (b"Nov 21 10:00:00 h sshd[1]: Failed password for root", Reject::Malformed),
            (b"Nov 21 10:00:00 h sshd[1]: Failed password", Reject::Malformed),
            (b"<38>1 2026-11-21T09:00:00Z host sshd 1 - [unterminated", Reject::NoHeader),
            (
                b"Nov 21 10:00:00 h sshd[1]: pam_unix(sshd:auth): authentication failure; rhost=\xff\xfe user=x",
                Reject::BadAddress,
            ),
        ];
        for (line, want) in cases {
            assert_eq!(parse_line(line).err(), Some(*want), "{}", line.escape_ascii());
        }
    }

    #[test]
    fn every_prefix_and_random_bytes_never_panic() {
        let lines: [&[u8]; 6] = [
            b"Nov 21 10:00:00 host sshd[123]: Failed password for invalid user admin from 203.0.113.5 port 52311 ssh2",
            b"<38>1 2026-11-21T09:00:00.123Z host sshd 77 - [m x=\"a\\]b\"] Accepted password for r from ::1 port 2 ssh2",
            b"Nov 21 10:00:00 h sshd[5]: Disconnected from authenticating user root 1.2.3.4 port 22 [preauth]",
            b"Nov 21 10:00:00 h sshd[5]: pam_unix(sshd:auth): authentication failure; logname= rhost=1.2.3.4 user=root",
            b"Nov 21 10:00:00 h sshd[5]: User root from 192.0.2.10 not allowed because x",
            b"2026-11-21T10:00:00+01:00 h sshd[5]: Invalid user x from 1.2.3.4 port 5",
        ];
        for l in lines {
            for n in 0..=l.len() {
                let _ = parse_line(&l[..n]);
                let _ = parse_message(b"sshd", &l[n..]);
            }
        }
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut buf = vec![0u8; 300];
        for _ in 0..20_000 {
            for b in buf.iter_mut() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                *b = if x.is_multiple_of(3) {
                    b"Failed for from port user=rhost=:[] 1.2"[(x >> 8) as usize % 38]
                } else {
                    x as u8
                };
            }
            let _ = parse_line(&buf[..(x % 300) as usize]);
        }
        // One MiB of text: rejected quickly, no panic.
        let big = vec![b'x'; 1 << 20];
        assert_eq!(parse_line(&big).err(), Some(Reject::TooLong));
    }
}
