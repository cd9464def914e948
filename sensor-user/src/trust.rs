//! Which files a root sensor may take orders from. Its configuration, rules, policy and
//! indicator feeds decide what gets blocked and killed, so a file that a non-root user
//! could write (or replace) is refused with the reason: owned by another user, writable by
//! a group other than root's or by everyone, or in a directory one of those could rename
//! it out of (a world-writable directory without the sticky bit, or one owned by a user).

use std::{
    os::unix::fs::MetadataExt,
    path::{Path, PathBuf},
};

/// Why a file is not trusted.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// It cannot be inspected.
    #[error("{what} {path}: {source}")]
    Stat {
        /// Which input ("policy file", ...).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A non-root user could change it.
    #[error(
        "{what} {path} is refused: {reason}; only root may be able to change what a root sensor obeys (chown root and chmod go-w)"
    )]
    Untrusted {
        /// Which input.
        what: &'static str,
        /// The path (the file, or the directory at fault).
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

const S_ISVTX: u32 = 0o1000;

/// Refuses `path` (a file, or a directory of files) when a non-root user could write it
/// or replace it; `what` names the input in the error.
pub fn check(path: &Path, what: &'static str) -> Result<(), TrustError> {
    let stat = |p: &Path| std::fs::metadata(p).map_err(|source| TrustError::Stat { what, path: p.to_owned(), source });
    let bad = |p: &Path, reason: String| Err(TrustError::Untrusted { what, path: p.to_owned(), reason });
    let m = stat(path)?;
    if let Some(reason) = writable_by_others(&m) {
        return bad(path, reason);
    }
    // Every directory above: someone who may write one could swap the file.
    let abs = std::fs::canonicalize(path).map_err(|source| TrustError::Stat { what, path: path.to_owned(), source })?;
    for dir in abs.ancestors().skip(1) {
        let d = stat(dir)?;
        if d.mode() & S_ISVTX != 0 && d.uid() == 0 {
            // /tmp: others may write, but only the owner (root) may rename root's file.
            continue;
        }
        if let Some(reason) = writable_by_others(&d) {
            return bad(dir, format!("its directory {}", reason.replacen("it is", "is", 1)));
        }
    }
    // A directory of rule files: each file too.
    if m.is_dir() {
        let entries =
            std::fs::read_dir(path).map_err(|source| TrustError::Stat { what, path: path.to_owned(), source })?;
        for e in entries.flatten() {
            let p = e.path();
            if let Ok(fm) = std::fs::symlink_metadata(&p)
                && fm.is_file()
                && let Some(reason) = writable_by_others(&fm)
            {
                return bad(&p, reason);
            }
        }
    }
    Ok(())
}

fn writable_by_others(m: &std::fs::Metadata) -> Option<String> {
    let mode = m.mode();
    if m.uid() != 0 {
        return Some(format!("it is owned by uid {}, not root", m.uid()));
    }
    if mode & 0o002 != 0 {
        return Some(format!("it is writable by every user (mode {:o})", mode & 0o7777));
    }
    if mode & 0o020 != 0 && m.gid() != 0 {
        return Some(format!("it is writable by group {} (mode {:o})", m.gid(), mode & 0o7777));
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::audit::test_support::TempDir;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
    }

    #[test]
    fn files_others_could_write_are_refused_with_the_reason() {
        if crate::sys::euid() != 0 {
            return; // ownership checks need files owned by root
        }
        let dir = TempDir::new("trust");
        chmod(dir.path(), 0o755);
        let f = dir.path().join("policy.toml");
        std::fs::write(&f, "").expect("write");
        chmod(&f, 0o644);
        check(&f, "policy file").expect("root's 0644 file is trusted");
        chmod(&f, 0o646);
        let e = check(&f, "policy file").expect_err("world-writable").to_string();
        assert!(e.contains("policy file") && e.contains("writable by every user (mode 646)"), "{e}");
        chmod(&f, 0o664);
        std::os::unix::fs::chown(&f, None, Some(1000)).expect("chgrp");
        let e = check(&f, "policy file").expect_err("group-writable").to_string();
        assert!(e.contains("writable by group 1000"), "{e}");
        chmod(&f, 0o644);
        std::os::unix::fs::chown(&f, Some(1000), Some(0)).expect("chown");
        let e = check(&f, "policy file").expect_err("owned by a user").to_string();
        assert!(e.contains("owned by uid 1000"), "{e}");
        std::os::unix::fs::chown(&f, Some(0), None).expect("chown back");
        // A directory anyone may write (no sticky bit): the file could be swapped.
        chmod(dir.path(), 0o777);
        let e = check(&f, "policy file").expect_err("open directory").to_string();
        assert!(e.contains("its directory is writable by every user"), "{e}");
        // With the sticky bit (as /tmp) only root may rename root's file.
        chmod(dir.path(), 0o1777);
        check(&f, "policy file").expect("sticky directory");
        // A rule directory with one writable file.
        chmod(dir.path(), 0o755);
        let rules = dir.path().join("rules");
        std::fs::create_dir(&rules).expect("mkdir");
        chmod(&rules, 0o755);
        std::fs::write(rules.join("a.rules"), "").expect("write");
        chmod(&rules.join("a.rules"), 0o666);
        let e = check(&rules, "rule file").expect_err("writable rule").to_string();
        assert!(e.contains("a.rules") && e.contains("writable by every user"), "{e}");
        assert!(matches!(check(&dir.path().join("nope"), "policy file"), Err(TrustError::Stat { .. })));
    }
}
