//! Who may use the console and how a request proves it.
//!
//! Accounts live in a users file, one `NAME SECRET` per line, where SECRET is a token (at
//! least 16 characters) or `sha256:HEX` of one. The file must belong to root (or the
//! sensor's user) and be readable by nobody else. A browser signs in with a name and token
//! and gets a session cookie (`HttpOnly; SameSite=Strict`, `Secure` over HTTPS) and a CSRF
//! token bound to that session; a script sends `Authorization: Bearer TOKEN` instead.
//!
//! Every state-changing request must come from the console's own origin: a foreign
//! `Origin` or `Sec-Fetch-Site: cross-site` is refused, and a cookie session must also echo
//! its CSRF token in `X-CSRF-Token`. When the console listens on loopback, the `Host` header
//! must name loopback too, so a DNS-rebinding page cannot reach it.

use std::{
    collections::HashMap,
    os::unix::fs::MetadataExt,
    path::Path,
    sync::Mutex,
    time::{Duration, Instant},
};

use sha2::{Digest, Sha256};

use super::{ConsoleError, http::Request};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sensor_session";
/// How long a session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// Most sessions held at once (the oldest go first).
const MAX_SESSIONS: usize = 256;
/// Shortest token accepted in the users file.
const MIN_TOKEN: usize = 16;

/// One account.
#[derive(Clone)]
struct Account {
    name: String,
    /// SHA-256 of the token (plain tokens are hashed at load, so they are compared alike).
    digest: [u8; 32],
}

/// The console's accounts.
#[derive(Clone, Default)]
pub struct Users {
    accounts: Vec<Account>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Users").field("names", &self.accounts.iter().map(|a| &a.name).collect::<Vec<_>>()).finish()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality that takes the same time wherever the first difference is.
fn same(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Users {
    /// Parses users-file text.
    ///
    /// # Errors
    /// A message naming the line that is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut accounts = Vec::new();
        for (n, line) in text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(name), Some(secret), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!("line {n}: expected NAME TOKEN (or NAME sha256:HEX)"));
            };
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c)) {
                return Err(format!("line {n}: a user name holds only letters, digits and . _ - @"));
            }
            let digest = match secret.strip_prefix("sha256:") {
                Some(hex) => parse_hex32(hex).ok_or_else(|| format!("line {n}: sha256: needs 64 hex digits"))?,
                None if secret.len() < MIN_TOKEN => {
                    return Err(format!("line {n}: the token of {name} is shorter than {MIN_TOKEN} characters"));
                }
                None => digest(secret),
            };
            if accounts.iter().any(|a: &Account| a.name == name) {
                return Err(format!("line {n}: user {name} appears twice"));
            }
            accounts.push(Account { name: name.to_owned(), digest });
        }
        if accounts.is_empty() {
            return Err("no account in it".into());
        }
        Ok(Self { accounts })
    }

    /// Loads a users file after checking that only its owner (root or the sensor's user)
    /// can read it and no other user could change or replace it ([`crate::trust::check`]).
    ///
    /// # Errors
    /// [`ConsoleError::Users`] naming the file and what is wrong.
    pub fn load(path: &Path) -> Result<Self, ConsoleError> {
        let bad = |why: String| ConsoleError::Users { path: path.to_owned(), why };
        crate::trust::check(path, "console users file").map_err(|e| bad(e.to_string()))?;
        let meta = std::fs::metadata(path).map_err(|e| bad(e.to_string()))?;
        if meta.uid() != 0 && meta.uid() != crate::sys::euid() {
            return Err(bad(format!("owned by uid {}, not root", meta.uid())));
        }
        if meta.mode() & 0o077 != 0 {
            return Err(bad(format!(
                "mode {:o}: other users could read or change it (chmod 600)",
                meta.mode() & 0o777
            )));
        }
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        Self::parse(&text).map_err(bad)
    }

    /// Creates a users file with one account `name` and a fresh random token (mode 0600,
    /// never over an existing file); returns the accounts and the token.
    ///
    /// # Errors
    /// [`ConsoleError::Users`] when the file cannot be created.
    pub fn create(path: &Path, name: &str) -> Result<(Self, String), ConsoleError> {
        use std::{io::Write, os::unix::fs::OpenOptionsExt};
        let bad = |why: String| ConsoleError::Users { path: path.to_owned(), why };
        let token = random_hex(24).map_err(|e| bad(format!("no randomness: {e}")))?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .map_err(|e| bad(e.to_string()))?;
        writeln!(f, "# sensor console accounts: NAME TOKEN or NAME sha256:HEX (mode 600)\n{name} {token}")
            .map_err(|e| bad(e.to_string()))?;
        Ok((Self { accounts: vec![Account { name: name.to_owned(), digest: digest(&token) }] }, token))
    }

    /// The account `name` if `token` is its token.
    pub fn check(&self, name: &str, token: &str) -> Option<&str> {
        let d = digest(token);
        self.accounts.iter().find(|a| a.name == name && same(&a.digest, &d)).map(|a| a.name.as_str())
    }

    /// The account whose token is `token`.
    pub fn by_token(&self, token: &str) -> Option<&str> {
        let d = digest(token);
        self.accounts.iter().find(|a| same(&a.digest, &d)).map(|a| a.name.as_str())
    }
}

fn parse_hex32(hex: &str) -> Option<[u8; 32]> {
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `n` random bytes from the kernel, as hex.
///
/// # Errors
/// When getrandom(2) fails.
pub fn random_hex(n: usize) -> std::io::Result<String> {
    let mut buf = vec![0u8; n];
    let mut filled = 0;
    while filled < n {
        // SAFETY: the pointer and length describe the unfilled tail of `buf`, which we own.
        let r = unsafe { libc::getrandom(buf[filled..].as_mut_ptr().cast(), n - filled, 0) };
        if r < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e);
            }
            continue;
        }
        filled += r as usize;
    }
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// A signed-in browser.
#[derive(Debug, Clone)]
pub struct Session {
    /// The account.
    pub user: String,
    /// The token its state-changing requests must echo.
    pub csrf: String,
    last_use: Instant,
}

/// The sessions of signed-in browsers, in memory (a restart signs everyone out).
#[derive(Debug, Default)]
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
}

impl Sessions {
    /// Opens a session for `user`: (cookie value, CSRF token).
    ///
    /// # Errors
    /// When no randomness is available.
    pub fn open(&self, user: &str) -> std::io::Result<(String, String)> {
        let (id, csrf) = (random_hex(32)?, random_hex(32)?);
        let mut map = self.map.lock().map_err(|_| std::io::Error::other("sessions poisoned"))?;
        map.retain(|_, s| s.last_use.elapsed() < SESSION_IDLE);
        if map.len() >= MAX_SESSIONS {
            if let Some(oldest) = map.iter().min_by_key(|(_, s)| s.last_use).map(|(k, _)| k.clone()) {
                map.remove(&oldest);
            }
        }
        map.insert(id.clone(), Session { user: user.to_owned(), csrf: csrf.clone(), last_use: Instant::now() });
        Ok((id, csrf))
    }

    /// The live session with cookie value `id`, marked as used.
    pub fn get(&self, id: &str) -> Option<Session> {
        let mut map = self.map.lock().ok()?;
        let s = map.get_mut(id)?;
        if s.last_use.elapsed() >= SESSION_IDLE {
            map.remove(id);
            return None;
        }
        s.last_use = Instant::now();
        Some(s.clone())
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        if let Ok(mut map) = self.map.lock() {
            map.remove(id);
        }
    }
}

/// How a request authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// A browser session; its CSRF token.
    Session { csrf: String },
    /// A bearer token.
    Token,
}

/// An authenticated request's user.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The account name.
    pub user: String,
    /// How it proved it.
    pub credential: Credential,
}

/// The origin the console serves, for same-origin checks.
#[derive(Debug, Clone)]
pub struct Origin {
    /// "http" or "https".
    pub scheme: &'static str,
    /// Bound to a loopback address (then Host must be loopback too).
    pub loopback: bool,
    /// The bound port.
    pub port: u16,
}

impl Origin {
    /// Whether `host` (a Host header) may address this console: any host when it listens
    /// beyond loopback (its operator chose the names), else a loopback name with our port.
    pub fn host_allowed(&self, host: &str) -> bool {
        if !self.loopback {
            return true;
        }
        let port = self.port.to_string();
        let (name, p) = match host.rsplit_once(':') {
            Some((n, p)) if !n.is_empty() && !p.contains(']') => (n, p),
            _ => (host, if self.scheme == "https" { "443" } else { "80" }),
        };
        p == port && matches!(name, "127.0.0.1" | "localhost" | "[::1]")
    }

    /// Whether a request that changes state came from a page of this console: no foreign
    /// `Origin`, no `Sec-Fetch-Site` other than same-origin or none.
    pub fn same_origin(&self, req: &Request) -> Result<(), &'static str> {
        if let Some(site) = req.header("sec-fetch-site") {
            if !matches!(site, "same-origin" | "none") {
                return Err("cross-site request refused (Sec-Fetch-Site)");
            }
        }
        if let Some(origin) = req.header("origin") {
            let host = req.header("host").unwrap_or("");
            if origin != format!("{}://{host}", self.scheme) {
                return Err("cross-site request refused (Origin does not match)");
            }
        }
        Ok(())
    }
}

/// Authenticates `req`: a bearer token, else a session cookie.
pub fn authenticate(req: &Request, users: &Users, sessions: &Sessions) -> Option<Identity> {
    if let Some(auth) = req.header("authorization") {
        let token = auth.strip_prefix("Bearer ")?;
        return users.by_token(token.trim()).map(|u| Identity { user: u.to_owned(), credential: Credential::Token });
    }
    let s = sessions.get(req.cookie(SESSION_COOKIE)?)?;
    Some(Identity { user: s.user, credential: Credential::Session { csrf: s.csrf } })
}

/// Whether a state-changing request by `who` may proceed: same origin, and a session must
/// echo its CSRF token.
pub fn may_change(req: &Request, who: &Identity, origin: &Origin) -> Result<(), &'static str> {
    origin.same_origin(req)?;
    match &who.credential {
        Credential::Token => Ok(()),
        Credential::Session { csrf } => {
            let sent = req.header("x-csrf-token").unwrap_or("");
            if sent.len() == csrf.len() && same(&digest(sent), &digest(csrf)) {
                Ok(())
            } else {
                Err("missing or wrong CSRF token (X-CSRF-Token)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)]) -> Request {
        Request {
            method: "POST".into(),
            path: "/api/x".into(),
            headers: headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            ..Request::default()
        }
    }

    #[test]
    fn the_users_file_takes_tokens_and_hashes_and_refuses_weak_or_malformed_lines() {
        let hash = format!(
            "sha256:{}",
            digest("0123456789abcdef-hashed").iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let u = Users::parse(&format!("# c\nalice 0123456789abcdef-plain\nbob {hash}\n")).expect("parse");
        assert_eq!(u.check("alice", "0123456789abcdef-plain"), Some("alice"));
        assert_eq!(u.check("alice", "0123456789abcdef-hashed"), None);
        assert_eq!(u.by_token("0123456789abcdef-hashed"), Some("bob"));
        assert_eq!(u.by_token("wrong"), None);
        assert!(Users::parse("alice short").unwrap_err().contains("shorter"));
        assert!(Users::parse("alice").unwrap_err().contains("NAME TOKEN"));
        assert!(Users::parse("a<b 0123456789abcdef0").unwrap_err().contains("letters"));
        assert!(Users::parse("bob sha256:12").unwrap_err().contains("64 hex"));
        assert!(Users::parse("# nothing\n").unwrap_err().contains("no account"));
        assert!(Users::parse("a 0123456789abcdef0\na 0123456789abcdef1").unwrap_err().contains("twice"));
    }

    #[test]
    fn a_users_file_others_can_read_is_refused_and_a_created_one_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = std::env::temp_dir().join(format!("console-users-{}", std::process::id()));
        let _ = std::fs::create_dir(&dir);
        let path = dir.join("users");
        let _ = std::fs::remove_file(&path);
        let (u, token) = Users::create(&path, "admin").expect("create");
        assert_eq!(u.by_token(&token), Some("admin"));
        assert!(Users::create(&path, "admin").is_err(), "never over an existing file");
        let loaded = Users::load(&path).expect("load");
        assert_eq!(loaded.check("admin", &token), Some("admin"));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let e = Users::load(&path).expect_err("world-readable").to_string();
        assert!(e.contains("mode 644"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn loopback_consoles_accept_only_loopback_host_names_with_their_port() {
        let o = Origin { scheme: "http", loopback: true, port: 9465 };
        assert!(o.host_allowed("127.0.0.1:9465") && o.host_allowed("localhost:9465") && o.host_allowed("[::1]:9465"));
        assert!(!o.host_allowed("evil.example:9465"), "DNS rebinding");
        assert!(!o.host_allowed("127.0.0.1:80") && !o.host_allowed("127.0.0.1"));
        assert!(Origin { loopback: false, ..o }.host_allowed("sensor.example.org:9465"));
    }

    #[test]
    fn state_changes_need_the_same_origin_and_a_session_needs_its_csrf_token() {
        let o = Origin { scheme: "http", loopback: true, port: 9465 };
        let session = Identity { user: "a".into(), credential: Credential::Session { csrf: "c".repeat(64) } };
        let token = Identity { user: "a".into(), credential: Credential::Token };
        let host = ("host", "127.0.0.1:9465");
        let csrf = "c".repeat(64);
        let good = req(&[host, ("origin", "http://127.0.0.1:9465"), ("x-csrf-token", &csrf)]);
        assert_eq!(may_change(&good, &session, &o), Ok(()));
        assert!(may_change(&req(&[host, ("origin", "http://127.0.0.1:9465")]), &session, &o).is_err(), "no CSRF token");
        let wrong = "d".repeat(64);
        assert!(may_change(&req(&[host, ("x-csrf-token", &wrong)]), &session, &o).is_err());
        let foreign = req(&[host, ("origin", "http://evil.example"), ("x-csrf-token", &csrf)]);
        assert!(may_change(&foreign, &session, &o).is_err());
        assert!(may_change(&foreign, &token, &o).is_err(), "a token does not excuse a foreign origin");
        assert!(may_change(&req(&[host, ("sec-fetch-site", "cross-site")]), &token, &o).is_err());
        assert_eq!(may_change(&req(&[host]), &token, &o), Ok(()), "scripts with a token send no Origin");
    }

    #[test]
    fn sessions_open_resolve_and_close() {
        let s = Sessions::default();
        let (id, csrf) = s.open("alice").expect("open");
        assert_eq!(id.len(), 64);
        let got = s.get(&id).expect("live");
        assert_eq!((got.user.as_str(), got.csrf.as_str()), ("alice", csrf.as_str()));
        assert!(s.get("nope").is_none());
        s.close(&id);
        assert!(s.get(&id).is_none());
    }
}
