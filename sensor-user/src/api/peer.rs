//! Who is on the other end of a control connection: `SO_PEERCRED` credentials and the user
//! name from `/etc/passwd` (parsed here, no NSS, so the answer never depends on libc's
//! name-service configuration).

use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use serde::Serialize;

/// The password database read by [`user_name`].
const PASSWD: &str = "/etc/passwd";

/// The credentials of a connected control client, taken when it connected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// Process id of the client.
    pub pid: u32,
    /// Effective user id of the client.
    pub uid: u32,
    /// Effective group id of the client.
    pub gid: u32,
    /// The user's name from `/etc/passwd`, or `"uid:N"` when it has none.
    pub user: String,
    /// Set for a user of the web console: how they came in (the user is then the console
    /// account, and pid, uid and gid are 0).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub via: Option<String>,
}

impl Peer {
    /// A web console user: `user` as authenticated, `via` how ("console token from
    /// 127.0.0.1").
    pub fn web(user: &str, via: String) -> Self {
        Self { pid: 0, uid: 0, gid: 0, user: user.to_owned(), via: Some(via) }
    }

    /// Who this is, for the audit log: "root (uid 0, pid 42)" on the control socket,
    /// "alice (console session from 127.0.0.1)" on the console.
    pub fn identity(&self) -> String {
        match &self.via {
            Some(via) => format!("{} ({via})", self.user),
            None => format!("{} (uid {}, pid {})", self.user, self.uid, self.pid),
        }
    }
}

/// The connected peer's credentials from `SO_PEERCRED`; `user` is the name from
/// `/etc/passwd`, or `"uid:N"` when unknown.
///
/// # Errors
///
/// Fails when `stream` is not connected.
pub fn peer_of(stream: &UnixStream) -> io::Result<Peer> {
    let (pid, uid, gid) = crate::sys::peer_cred(stream.as_fd())?;
    let user = user_name(uid).unwrap_or_else(|| format!("uid:{uid}"));
    Ok(Peer { pid, uid, gid, user, via: None })
}

/// The name of `uid` in `/etc/passwd`, or `None` if the file is unreadable or has no entry.
pub fn user_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string(PASSWD).ok()?;
    name_in_passwd(&passwd, uid).map(str::to_owned)
}

/// The first name whose uid field (the third) is `uid` in passwd(5) text. Comments, blank
/// and malformed lines are skipped.
fn name_in_passwd(passwd: &str, uid: u32) -> Option<&str> {
    passwd.lines().find_map(|line| {
        if line.starts_with('#') {
            return None;
        }
        let mut fields = line.split(':');
        let name = fields.next().filter(|n| !n.is_empty())?;
        let line_uid: u32 = fields.nth(1)?.parse().ok()?;
        (line_uid == uid).then_some(name)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "\
# comment:x:0:0
root:x:0:0:root:/root:/bin/bash
broken line
:x:5:5::/:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
alice:x:1000:1000:Alice,,,:/home/alice:/bin/bash
";

    #[test]
    fn passwd_maps_uids_to_names() {
        assert_eq!(name_in_passwd(SAMPLE, 0), Some("root"));
        assert_eq!(name_in_passwd(SAMPLE, 1000), Some("alice"));
        assert_eq!(name_in_passwd(SAMPLE, 65534), Some("nobody"));
    }

    #[test]
    fn passwd_skips_comments_malformed_lines_and_unknown_uids() {
        assert_eq!(name_in_passwd(SAMPLE, 5), None);
        assert_eq!(name_in_passwd(SAMPLE, 4242), None);
        assert_eq!(name_in_passwd("# x:x:7:7\n", 7), None);
    }

    #[test]
    fn system_passwd_names_root() {
        assert_eq!(user_name(0).as_deref(), Some("root"));
    }

    #[test]
    fn peer_of_a_socketpair_is_this_process() {
        let (a, _b) = UnixStream::pair().expect("socketpair");
        let peer = peer_of(&a).expect("peer");
        assert_eq!(peer.pid, std::process::id());
        assert_eq!(peer.uid, crate::sys::euid());
    }
}
