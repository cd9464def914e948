//! Name and path matching for the process agent: executable-name lists with a trailing `*`
//! glob, path lists (prefixes or final components), shell argument parsing and the
//! normalisation of volatile executable names. Everything here works on borrowed bytes and
//! never allocates after the lists are built.

use crate::agents::context::{EXE_KEEP, ProcNode};

/// The last path component of `p` (all of `p` without a slash).
pub fn basename(p: &[u8]) -> &[u8] {
    p.rsplit(|b| *b == b'/').next().unwrap_or(p)
}

/// Whether `p` starts with `prefix` (bytes).
pub fn has_prefix(p: &[u8], prefix: &[u8]) -> bool {
    p.len() >= prefix.len() && &p[..prefix.len()] == prefix
}

/// The NUL-separated arguments of an exec's argument vector (empty ones skipped only at
/// the end, where the kernel's copy is padded).
pub fn args(argv: &[u8]) -> impl Iterator<Item = &[u8]> {
    let end = argv.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    let body = &argv[..end];
    body.split(|b| *b == 0).filter(move |_| !body.is_empty())
}

/// The name of a process in the tree, as reliably as the tree allows.
#[derive(Clone, Copy, Debug)]
pub struct NodeName<'a> {
    /// Executable base name (or `comm`).
    pub name: &'a [u8],
    /// Whether `name` is a `comm` that the kernel may have cut at 15 bytes.
    pub cut: bool,
}

impl<'a> NodeName<'a> {
    /// The executable base name of `n`; when the tree's copy of the path may have been cut
    /// (it keeps [`EXE_KEEP`] bytes) or is unknown, the task name instead.
    pub fn of(n: &'a ProcNode) -> Self {
        let exe = n.exe();
        // fexecve() shows as /dev/fd/N or /proc/self/fd/N: the task name says more.
        let fd = has_prefix(exe, b"/dev/fd/") || has_prefix(exe, b"/proc/");
        if !exe.is_empty() && exe.len() < EXE_KEEP && !fd {
            return Self { name: basename(exe), cut: false };
        }
        let c = comm(&n.comm);
        Self { name: c, cut: c.len() >= 15 }
    }

    /// A full name.
    pub fn full(name: &'a [u8]) -> Self {
        Self { name, cut: false }
    }
}

/// `comm` up to its NUL.
pub fn comm(c: &[u8; 16]) -> &[u8] {
    let n = c.iter().position(|b| *b == 0).unwrap_or(c.len());
    &c[..n]
}

/// Whether the tree's copy of `n`'s executable path is complete (not cut, not empty).
pub fn full_exe(n: &ProcNode) -> Option<&[u8]> {
    let e = n.exe();
    (!e.is_empty() && e.len() < EXE_KEEP).then_some(e)
}

/// A list of executable names; an entry ending in `*` matches any name starting with the
/// rest (`python*`, `php-fpm*`).
#[derive(Clone, Debug, Default)]
pub struct NameList {
    pats: Vec<(Box<[u8]>, bool)>,
    /// Exact entries, for one hash lookup per complete name (the exec hot path).
    exact: std::collections::HashSet<Box<[u8]>, foldhash::fast::FixedState>,
    /// `name*` entries.
    globs: Vec<Box<[u8]>>,
}

impl NameList {
    /// The list of `names` (empty entries ignored).
    pub fn new(names: &[String]) -> Self {
        let pats: Vec<(Box<[u8]>, bool)> = names
            .iter()
            .filter(|n| !n.is_empty())
            .map(|n| match n.strip_suffix('*') {
                Some(p) => (p.as_bytes().into(), true),
                None => (n.as_bytes().into(), false),
            })
            .collect();
        let exact = pats.iter().filter(|(_, g)| !g).map(|(p, _)| p.clone()).collect();
        let globs = pats.iter().filter(|(_, g)| *g).map(|(p, _)| p.clone()).collect();
        Self { pats, exact, globs }
    }

    /// Whether `n` matches an entry. A cut task name matches an entry it is a prefix of.
    pub fn matches(&self, n: NodeName<'_>) -> bool {
        if n.name.is_empty() {
            return false;
        }
        if !n.cut {
            return self.exact.contains(n.name) || self.globs.iter().any(|g| has_prefix(n.name, g));
        }
        self.pats.iter().any(|(p, glob)| {
            if *glob && has_prefix(n.name, p) {
                return true;
            }
            if n.cut { has_prefix(p, n.name) } else { !*glob && **p == *n.name }
        })
    }

    /// [`NameList::matches`] for a complete name.
    pub fn has(&self, name: &[u8]) -> bool {
        self.matches(NodeName::full(name))
    }
}

/// A list of paths: entries starting with `/` match paths they are a prefix of; other
/// entries match a path whose last component equals them (`authorized_keys`).
#[derive(Clone, Debug, Default)]
pub struct PathList {
    prefixes: Vec<Box<[u8]>>,
    names: Vec<Box<[u8]>>,
}

impl PathList {
    /// The list of `paths` (empty entries ignored).
    pub fn new(paths: &[String]) -> Self {
        let mut l = Self::default();
        for p in paths.iter().filter(|p| !p.is_empty()) {
            if p.starts_with('/') {
                l.prefixes.push(p.as_bytes().into());
            } else {
                l.names.push(p.as_bytes().into());
            }
        }
        l
    }

    /// The first prefix `p` starts with, or the matching final component.
    pub fn find(&self, p: &[u8]) -> Option<&[u8]> {
        if let Some(x) = self.prefixes.iter().find(|x| has_prefix(p, x)) {
            return Some(x);
        }
        let b = basename(p);
        self.names.iter().find(|x| ***x == *b).map(|x| &**x)
    }

    /// Whether `p` matches.
    pub fn contains(&self, p: &[u8]) -> bool {
        self.find(p).is_some()
    }
}

/// How a shell was asked to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShellMode {
    /// Reading commands from its input (no script, no `-c`): `sh`, `bash -i`, `sh -s`,
    /// a login shell.
    Interactive,
    /// `-c 'command'`.
    Command,
    /// Running a script file.
    Script,
    /// The argument vector was not readable.
    Unknown,
}

/// What a shell's arguments say.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShellArgs {
    /// Mode.
    pub mode: ShellMode,
    /// `-i` was given explicitly.
    pub explicit_i: bool,
    /// Index (in the argument vector) of the script path, in [`ShellMode::Script`].
    pub script: Option<usize>,
}

/// Parses a shell's arguments, the shell's own name being at index `first - 1`.
pub fn shell_args(argv: &[u8], first: usize) -> ShellArgs {
    let mut it = args(argv).enumerate();
    let Some((_, argv0)) = it.next() else {
        return ShellArgs { mode: ShellMode::Unknown, explicit_i: false, script: None };
    };
    let login = first == 1 && argv0.first() == Some(&b'-');
    let mut explicit_i = false;
    let mut command = false;
    let mut script = None;
    let mut skip_value = false;
    for (i, a) in it {
        if i < first {
            continue;
        }
        if skip_value {
            skip_value = false;
            continue;
        }
        if a == b"--" || a == b"-" {
            // The next word, if any, is the script (or, with -c, the command).
            continue;
        }
        if let Some(long) = a.strip_prefix(b"--") {
            if long == b"rcfile" || long == b"init-file" {
                skip_value = true;
            }
            continue;
        }
        if (a.first() == Some(&b'-') || a.first() == Some(&b'+')) && a.len() > 1 {
            for &c in &a[1..] {
                match c {
                    b'c' => command = true,
                    b'i' => explicit_i = true,
                    b'o' | b'O' => skip_value = true,
                    _ => {}
                }
            }
            continue;
        }
        // First operand: the command string after -c, else the script.
        if !command {
            script = Some(i);
        }
        break;
    }
    let mode = if command {
        ShellMode::Command
    } else if script.is_some() && !login {
        ShellMode::Script
    } else {
        ShellMode::Interactive
    };
    ShellArgs { mode, explicit_i, script: if mode == ShellMode::Script { script } else { None } }
}

/// The argument at `i`.
pub fn arg(argv: &[u8], i: usize) -> Option<&[u8]> {
    args(argv).nth(i)
}

/// Whether an interpreter's arguments pass inline code (`-c`, `-e`, `-r`, `-E`) rather than
/// a script file.
pub fn inline_code(argv: &[u8]) -> bool {
    args(argv).skip(1).take(8).any(|a| matches!(a, b"-c" | b"-e" | b"-E" | b"-r" | b"--eval" | b"-ce" | b"-ec"))
}

/// A name with volatile parts removed, so that each build's artifacts count as one name: a
/// trailing `-<8+ hex digits>` (cargo's `foo-1a2b3c4d5e6f7a8b`) is dropped.
pub fn stable_name(n: &[u8]) -> &[u8] {
    if let Some(dash) = n.iter().rposition(|b| *b == b'-') {
        let tail = &n[dash + 1..];
        if tail.len() >= 8 && tail.iter().all(u8::is_ascii_hexdigit) && dash > 0 {
            return &n[..dash];
        }
    }
    n
}

/// Appends `b` to `s` for a finding's text: lossy UTF-8, control characters escaped, cut at
/// `max` bytes with an ellipsis.
pub fn push_text(s: &mut String, b: &[u8], max: usize) {
    let cut = b.len() > max;
    let b = &b[..b.len().min(max)];
    for c in String::from_utf8_lossy(b).chars() {
        if c.is_control() {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    if cut {
        s.push('…');
    }
}

/// Text of `b` for a finding (see [`push_text`]).
pub fn text(b: &[u8], max: usize) -> String {
    let mut s = String::new();
    push_text(&mut s, b, max);
    s
}

/// The first words of an argument vector, space-separated, for a finding's text.
pub fn argv_text(argv: &[u8], max: usize) -> String {
    let mut s = String::new();
    for (i, a) in args(argv).enumerate() {
        if i > 0 {
            s.push(' ');
        }
        let room = max.saturating_sub(s.len());
        if room == 0 {
            s.push('…');
            break;
        }
        push_text(&mut s, a, room);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(v: &[&str]) -> NameList {
        NameList::new(&v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>())
    }

    #[test]
    fn names_match_exactly_or_by_glob_and_cut_task_names_by_prefix() {
        let l = list(&["bash", "python*", "containerd-shim*", "build-script-build"]);
        assert!(l.has(b"bash"));
        assert!(!l.has(b"bash5"));
        assert!(l.has(b"python3.11"));
        assert!(!l.has(b"pytho"));
        assert!(l.matches(NodeName { name: b"build-script-bu", cut: true }));
        assert!(l.matches(NodeName { name: b"containerd-shim", cut: true }));
        assert!(!l.matches(NodeName { name: b"", cut: true }));
    }

    #[test]
    fn paths_match_by_prefix_or_final_component() {
        let p = PathList::new(&["/etc/shadow".into(), "/root/.ssh/".into(), "authorized_keys".into()]);
        assert!(p.contains(b"/etc/shadow"));
        assert!(p.contains(b"/etc/shadow-"));
        assert!(p.contains(b"/home/u/.ssh/authorized_keys"));
        assert!(!p.contains(b"/home/u/.ssh/authorized_keys.bak"));
        assert!(!p.contains(b"/etc/passwd"));
    }

    #[test]
    fn shell_arguments_give_the_mode() {
        let m = |a: &[u8]| shell_args(a, 1);
        assert_eq!(m(b"sh").mode, ShellMode::Interactive);
        assert_eq!(m(b"/bin/sh\0").mode, ShellMode::Interactive);
        assert_eq!(m(b"bash\0-i").mode, ShellMode::Interactive);
        assert!(m(b"bash\0-i").explicit_i);
        assert!(m(b"bash\0-li").explicit_i);
        assert_eq!(m(b"bash\0-c\0exec bash -i").mode, ShellMode::Command);
        assert_eq!(m(b"sh\0-ec\0make").mode, ShellMode::Command);
        assert_eq!(m(b"-bash").mode, ShellMode::Interactive);
        let s = m(b"bash\0--norc\0-o\0pipefail\0/tmp/x.sh\0a");
        assert_eq!((s.mode, s.script), (ShellMode::Script, Some(4)));
        assert_eq!(m(b"sh\0-s\0--\0-y").mode, ShellMode::Interactive);
        assert_eq!(m(b"").mode, ShellMode::Unknown);
        assert_eq!(shell_args(b"busybox\0sh\0-c\0id", 2).mode, ShellMode::Command);
        assert_eq!(shell_args(b"busybox\0sh", 2).mode, ShellMode::Interactive);
    }

    #[test]
    fn build_hashes_are_dropped_from_names() {
        assert_eq!(stable_name(b"workload-1a2b3c4d5e6f7a8b"), b"workload");
        assert_eq!(stable_name(b"build-script-build"), b"build-script-build");
        assert_eq!(stable_name(b"x-abc"), b"x-abc");
        assert_eq!(stable_name(b"-deadbeef"), b"-deadbeef");
    }

    #[test]
    fn finding_text_is_escaped_and_cut() {
        assert_eq!(text(b"a\nb", 10), "a\\nb");
        assert_eq!(text(b"abcdef", 3), "abc…");
        assert_eq!(argv_text(b"sh\0-c\0id", 40), "sh -c id");
        assert_eq!(text(&[0xff, b'x'], 10), "\u{fffd}x");
    }
}
