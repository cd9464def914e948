//! Authentication logs as [`AuthEvent`]s for the `brute_force` agent: syslog files
//! followed like `tail -F` ([`tail`]) and journald ([`journal`]), parsed by [`auth`].
//!
//! [`AuthSource::poll`] is called periodically by the sensor (no thread of its own besides
//! the journal reader); every event it produces carries the caller's clock (`ts_ns`), so
//! windows agree with the packet side in live mode. One login attempt is one event:
//! - `Failed ...`, `Invalid user ...`, `User ... not allowed`, a PAM `authentication
//!   failure` from a service other than sshd: [`AuthOutcome::Failure`];
//! - `Accepted ...`: [`AuthOutcome::Success`];
//! - duplicates are dropped and counted: the PAM failure line sshd's PAM stack writes next
//!   to sshd's own `Failed password`, and the first `Failed ... for invalid user` after an
//!   `Invalid user` / `not allowed` line for the same address and port (the same attempt);
//! - summaries and disconnects (`PAM n more`, `maximum authentication attempts exceeded`,
//!   `Disconnected from ... [preauth]`) are informational: counted, no event.
//!
//! Journal use: `auto` (the default) follows journald only when none of the configured
//! files exists at start (on most systems rsyslog copies the journal into those files, and
//! reading both would count every attempt twice); `on` follows it in any case; `off` never.

pub mod auth;
pub mod journal;
pub mod tail;

use std::{net::IpAddr, path::PathBuf};

use self::{
    auth::{AuthKind, AuthRecord, Reject},
    journal::{Journal, JournalError},
    tail::Tail,
};
use crate::agents::event::{AuthEvent, AuthOutcome, Text};

/// Whether to follow journald.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalMode {
    /// When available and none of the files exists.
    Auto,
    /// Always (an error if journalctl cannot start).
    On,
    /// Never.
    Off,
}

/// Settings of the auth-log input.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSourceConfig {
    /// Files to follow (`/var/log/auth.log`, `/var/log/secure`); missing ones are waited for.
    pub files: Vec<PathBuf>,
    /// Read what the files already hold (false: start at their end).
    pub from_start: bool,
    /// Follow journald: `auto`, `on` or `off` (`auto`).
    pub journal: JournalMode,
    /// Longest line kept, bytes (8192); longer lines are cut and counted.
    pub max_line: usize,
}

impl Default for AuthSourceConfig {
    fn default() -> Self {
        Self {
            files: vec![PathBuf::from("/var/log/auth.log"), PathBuf::from("/var/log/secure")],
            from_start: false,
            journal: JournalMode::Auto,
            max_line: 8192,
        }
    }
}

/// Counters of an [`AuthSource`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Lines read from files.
    pub lines: u64,
    /// Entries read from the journal.
    pub journal_entries: u64,
    /// Lines and entries parsed into a record.
    pub parsed: u64,
    /// Events produced.
    pub events: u64,
    /// Of which failures.
    pub failures: u64,
    /// Of which successes.
    pub successes: u64,
    /// Records that report no attempt (summaries, disconnects).
    pub informational: u64,
    /// Records dropped as a second report of an attempt already counted.
    pub deduplicated: u64,
    /// Lines rejected, by [`Reject::index`].
    pub rejected: [u64; Reject::COUNT],
    /// Lines cut at `max_line`.
    pub cut_lines: u64,
    /// File rotations seen.
    pub rotations: u64,
    /// File truncations seen.
    pub truncations: u64,
    /// File read errors.
    pub read_errors: u64,
}

impl AuthStats {
    /// Lines rejected for `r`.
    pub fn rejected(&self, r: Reject) -> u64 {
        self.rejected[r.index()]
    }
}

/// Remembered `Invalid user` lines (address, port), to drop the `Failed ... invalid user`
/// line that reports the same attempt.
const MEMO: usize = 64;

#[derive(Debug)]
struct Dedup {
    slots: [(Option<IpAddr>, Option<u16>); MEMO],
    next: usize,
}

impl Dedup {
    fn remember(&mut self, ip: Option<IpAddr>, port: Option<u16>) {
        self.slots[self.next % MEMO] = (ip, port);
        self.next = self.next.wrapping_add(1);
    }

    /// Whether an attempt from `ip`/`port` was announced; forgets it if so.
    fn take(&mut self, ip: Option<IpAddr>, port: Option<u16>) -> bool {
        let hit = self.slots.iter_mut().find(|(a, p)| a.is_some() && *a == ip && (p.is_none() || *p == port));
        match hit {
            Some(s) => {
                *s = (None, None);
                true
            }
            None => false,
        }
    }
}

/// Followed auth logs (files and journald) producing [`AuthEvent`]s.
#[derive(Debug)]
pub struct AuthSource {
    tails: Vec<Tail>,
    journal: Option<Journal>,
    dedup: Dedup,
    stats: AuthStats,
}

impl AuthSource {
    /// Follows the configured files and, per [`JournalMode`], journald.
    pub fn new(cfg: &AuthSourceConfig) -> Result<Self, JournalError> {
        let tails = cfg.files.iter().map(|p| Tail::new(p, cfg.from_start, cfg.max_line)).collect();
        let journal = match cfg.journal {
            JournalMode::Off => None,
            JournalMode::On => Some(Journal::spawn()?),
            JournalMode::Auto if Journal::available() && !cfg.files.iter().any(|p| p.exists()) => Journal::spawn().ok(),
            JournalMode::Auto => None,
        };
        Ok(Self::from_parts(tails, journal))
    }

    /// A source over given tails and journal.
    pub fn from_parts(tails: Vec<Tail>, journal: Option<Journal>) -> Self {
        Self { tails, journal, dedup: Dedup { slots: [(None, None); MEMO], next: 0 }, stats: AuthStats::default() }
    }

    /// Whether journald is followed.
    pub fn follows_journal(&self) -> bool {
        self.journal.is_some()
    }

    /// The followed files.
    pub fn tails(&self) -> &[Tail] {
        &self.tails
    }

    /// The counters (file counters summed over the tails).
    pub fn stats(&self) -> AuthStats {
        let mut s = self.stats;
        for t in &self.tails {
            let ts = t.stats();
            s.rotations += ts.rotations;
            s.truncations += ts.truncations;
            s.cut_lines += ts.cut_lines;
        }
        s
    }

    /// Reads everything new from the files and the journal; every event gets `ts_ns`.
    /// Returns the number of events.
    pub fn poll(&mut self, ts_ns: u64, mut f: impl FnMut(AuthEvent)) -> usize {
        let before = self.stats.events;
        let (stats, dedup) = (&mut self.stats, &mut self.dedup);
        for t in &mut self.tails {
            let res = t.poll(|l| {
                stats.lines += 1;
                handle(stats, dedup, auth::parse_line(l.bytes), ts_ns, &mut f);
            });
            if res.is_err() {
                stats.read_errors += 1;
            }
        }
        if let Some(j) = self.journal.as_mut() {
            j.drain(|e| {
                stats.journal_entries += 1;
                handle(stats, dedup, auth::parse_message(&e.identifier, &e.message), ts_ns, &mut f);
            });
        }
        (self.stats.events - before) as usize
    }

    /// Feeds one syslog line (for other inputs and tests).
    pub fn line(&mut self, line: &[u8], ts_ns: u64, mut f: impl FnMut(AuthEvent)) {
        self.stats.lines += 1;
        handle(&mut self.stats, &mut self.dedup, auth::parse_line(line), ts_ns, &mut f);
    }

    /// Feeds one journal-style message logged by `identifier`.
    pub fn message(&mut self, identifier: &[u8], msg: &[u8], ts_ns: u64, mut f: impl FnMut(AuthEvent)) {
        self.stats.journal_entries += 1;
        handle(&mut self.stats, &mut self.dedup, auth::parse_message(identifier, msg), ts_ns, &mut f);
    }
}

fn handle(
    stats: &mut AuthStats,
    dedup: &mut Dedup,
    rec: Result<AuthRecord<'_>, Reject>,
    ts_ns: u64,
    f: &mut impl FnMut(AuthEvent),
) {
    let r = match rec {
        Ok(r) => r,
        Err(why) => {
            stats.rejected[why.index()] += 1;
            return;
        }
    };
    stats.parsed += 1;
    let Some(outcome) = r.outcome else {
        stats.informational += 1;
        return;
    };
    match r.kind {
        // sshd writes its own "Failed password" for the same attempt.
        AuthKind::PamFailure if auth::is_sshd(r.pam_service) || auth::is_sshd(r.program) => {
            stats.deduplicated += 1;
            return;
        }
        AuthKind::InvalidUser | AuthKind::NotAllowed => dedup.remember(r.source, r.port),
        AuthKind::Failed if r.invalid_user && dedup.take(r.source, r.port) => {
            stats.deduplicated += 1;
            return;
        }
        _ => {}
    }
    stats.events += 1;
    match outcome {
        AuthOutcome::Failure => stats.failures += 1,
        AuthOutcome::Success => stats.successes += 1,
    }
    f(AuthEvent { ts_ns, outcome, source: r.source, user: Text::new(r.user), service: r.service });
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;
    use crate::agents::{
        agent::{Agent, Emitter},
        brute_force::{BruteForce, BruteForceConfig},
        context::Context,
        event::Event,
        finding::FindingQueue,
    };

    fn feed(src: &mut AuthSource, lines: &[&str]) -> Vec<AuthEvent> {
        let mut out = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            src.line(l.as_bytes(), i as u64 * 1_000_000_000, |e| out.push(e));
        }
        out
    }

    fn source() -> AuthSource {
        AuthSource::from_parts(Vec::new(), None)
    }

    #[test]
    fn one_attempt_is_one_event_despite_pam_and_invalid_user_lines() {
        let mut s = source();
        let ev = feed(
            &mut s,
            &[
                "Nov 21 10:00:00 h sshd[1]: Invalid user admin from 203.0.113.5 port 50000",
                "Nov 21 10:00:01 h sshd[1]: pam_unix(sshd:auth): check pass; user unknown",
                "Nov 21 10:00:01 h sshd[1]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5",
                "Nov 21 10:00:03 h sshd[1]: Failed password for invalid user admin from 203.0.113.5 port 50000 ssh2",
                "Nov 21 10:00:05 h sshd[1]: Failed password for invalid user admin from 203.0.113.5 port 50000 ssh2",
                "Nov 21 10:00:06 h sshd[1]: Connection closed by invalid user admin 203.0.113.5 port 50000 [preauth]",
                "Nov 21 10:00:07 h sshd[1]: PAM 1 more authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5",
            ],
        );
        assert_eq!(ev.len(), 2, "{ev:?}");
        assert!(ev.iter().all(|e| e.outcome == AuthOutcome::Failure && e.user == "admin" && e.service == "sshd"));
        let st = s.stats();
        assert_eq!((st.deduplicated, st.informational, st.rejected(Reject::NotAuth)), (2, 2, 1));
    }

    #[test]
    fn su_failures_and_accepted_logins_become_events_with_the_callers_clock() {
        let mut s = source();
        let mut out = Vec::new();
        s.line(b"Nov 21 10:00:00 h su[7]: pam_unix(su:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=root", 42, |e| out.push(e));
        s.message(
            b"sshd-session",
            b"Accepted publickey for deploy from 2001:db8::7 port 40022 ssh2: ED25519 SHA256:x",
            43,
            |e| out.push(e),
        );
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].service, out[0].source, out[0].ts_ns), ("su", None, 42));
        assert_eq!((out[1].outcome, out[1].ts_ns), (AuthOutcome::Success, 43));
        assert_eq!(out[1].source, Some("2001:db8::7".parse().expect("addr")));
    }

    #[test]
    fn rejected_lines_are_counted_by_reason() {
        let mut s = source();
        let long = "x".repeat(auth::MAX_LINE + 10);
        let ev = feed(
            &mut s,
            &["", "garbage", "Nov 21 10:00:00 h sshd[1]: Failed password for root from 1.2.3.x port 2 ssh2", &long],
        );
        assert!(ev.is_empty());
        let st = s.stats();
        assert_eq!(st.rejected(Reject::Empty), 1);
        assert_eq!(st.rejected(Reject::NoHeader), 1);
        assert_eq!(st.rejected(Reject::BadAddress), 1);
        assert_eq!(st.rejected(Reject::TooLong), 1);
    }

    #[test]
    fn a_followed_auth_log_drives_the_brute_force_agent() {
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "authsrc-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("auth.log");
        std::fs::write(&path, "Nov 21 09:00:00 h sshd[1]: Accepted password for old from 10.0.0.1 port 1 ssh2\n")
            .expect("w");
        let cfg =
            AuthSourceConfig { files: vec![path.clone()], journal: JournalMode::Off, ..AuthSourceConfig::default() };
        let mut src = AuthSource::new(&cfg).expect("source");
        let mut events = Vec::new();
        src.poll(1, |e| events.push(e));
        assert!(events.is_empty(), "starts at the end");
        {
            let mut f = std::fs::OpenOptions::new().append(true).open(&path).expect("open");
            for i in 0..8 {
                writeln!(
                    f,
                    "Nov 21 10:00:0{i} h sshd[9]: Failed password for root from 203.0.113.77 port {} ssh2",
                    40000 + i
                )
                .expect("w");
            }
            writeln!(f, "Nov 21 10:00:09 h sshd[9]: Accepted password for root from 203.0.113.77 port 40009 ssh2")
                .expect("w");
            write!(f, "Nov 21 10:00:10 h sshd[9]: Failed password for ro").expect("partial");
        }
        let mut clock = 100_000_000_000u64;
        src.poll(clock, |e| events.push(e));
        assert_eq!(events.len(), 9);
        let mut agent = BruteForce::new(&BruteForceConfig::default());
        let cx = Context::default();
        let (q, rx) = FindingQueue::bounded(64);
        let mut out = Emitter::new(&q, &cx);
        for e in &events {
            clock += 1_000_000_000;
            agent.on_event(&Event::Auth(AuthEvent { ts_ns: clock, ..*e }), &cx, &mut out);
        }
        let findings: Vec<_> = rx.try_iter().collect();
        assert!(findings.iter().any(|f| f.kind == "brute_force"), "{findings:?}");
        let s = findings.iter().find(|f| f.kind == "brute_force_success").expect("success after failures");
        assert_eq!(s.entities.src, Some("203.0.113.77".parse().expect("addr")));
        assert_eq!(src.stats().lines, 9);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_default_config_round_trips_and_rejects_unknown_keys() {
        let c = AuthSourceConfig::default();
        let t = toml::to_string(&c).expect("serialises");
        let back: AuthSourceConfig = toml::from_str(&t).expect("parses");
        assert_eq!(back.files, c.files);
        assert_eq!(back.journal, JournalMode::Auto);
        assert!(toml::from_str::<AuthSourceConfig>("journal = \"sometimes\"").is_err());
        assert!(toml::from_str::<AuthSourceConfig>("nope = 1").is_err());
    }
}
