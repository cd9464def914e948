//! Running commands and finding the workspace.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Context, Result, bail};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."))
}

/// Runs `cmd`, failing with its description when it fails.
pub fn run(cmd: &mut Command) -> Result<()> {
    let desc = format!("{cmd:?}");
    eprintln!("+ {desc}");
    let status = cmd.status().with_context(|| format!("cannot start {desc}"))?;
    if !status.success() {
        bail!("{desc} failed with {status}");
    }
    Ok(())
}

/// Runs `cmd` and returns its stdout, or `None` if it cannot run or fails.
pub fn output(cmd: &mut Command) -> Option<String> {
    let out = cmd.output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The path of an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Whether we run as root.
pub fn is_root() -> bool {
    output(Command::new("id").arg("-u")).is_some_and(|s| s.trim() == "0")
}

/// cargo, as invoked for this xtask.
pub fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(root());
    c
}

/// Native libraries the sensor links against: Hyperscan (the signature prefilter, through
/// `hyperscan-sys`, found with pkg-config).
pub const SENSOR_LIB_PACKAGES: [&str; 2] = ["libhyperscan-dev", "pkg-config"];

/// Installs the sensor's native build dependencies when they are missing.
pub fn ensure_sensor_libs() -> Result<()> {
    apt_install(&SENSOR_LIB_PACKAGES)
}

/// Installs Debian packages when they are missing (root only).
pub fn apt_install(pkgs: &[&str]) -> Result<()> {
    let missing: Vec<&str> = pkgs
        .iter()
        .copied()
        .filter(|p| {
            !output(Command::new("dpkg-query").args(["-W", "-f=${Status}", p]))
                .is_some_and(|s| s.contains("install ok installed"))
        })
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() || !Path::new("/etc/debian_version").exists() {
        bail!(
            "missing packages {}: install them with `sudo apt-get install -y {}`",
            missing.join(", "),
            missing.join(" ")
        );
    }
    run(Command::new("apt-get").arg("update").arg("-q"))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-q", "--no-install-recommends"])
        .args(&missing)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// The console test's browser driver: playwright-core from npm (the version locked in
/// tests/console-e2e/package-lock.json) under tests/console-e2e/node_modules, driving
/// Debian's /usr/bin/chromium. Node comes from the image (or Debian's nodejs and npm).
pub fn console_e2e() -> Result<()> {
    let dir = root().join("tests/console-e2e");
    if dir.join("node_modules/playwright-core/package.json").is_file() {
        return Ok(());
    }
    if output(Command::new("node").arg("--version")).is_none() {
        apt_install(&["nodejs", "npm"])?;
    }
    run(Command::new("npm").args(["ci", "--no-audit", "--no-fund", "--prefix"]).arg(&dir))
}

/// A Python with DuckDB and pyarrow (the lake's readers in the tests and benchmarks), in
/// a virtual environment under target/ made on first use from PyPI.
pub fn lake_python() -> Result<PathBuf> {
    let venv = root().join("target/lake-venv");
    let py = venv.join("bin/python");
    let ready =
        |py: &Path| Command::new(py).args(["-c", "import duckdb, pyarrow"]).output().is_ok_and(|o| o.status.success());
    if py.is_file() && ready(&py) {
        return Ok(py);
    }
    let host = which("python3").context("python3 is needed for the lake tests: apt-get install python3")?;
    if !Command::new(&host).args(["-m", "venv", "--clear"]).arg(&venv).status().is_ok_and(|s| s.success()) {
        // Debian's python3 keeps venv in its own package.
        apt_install(&["python3-venv"])?;
        run(Command::new(&host).args(["-m", "venv", "--clear"]).arg(&venv))?;
    }
    run(Command::new(&py).args(["-m", "pip", "install", "-q", "--disable-pip-version-check", "duckdb", "pyarrow"]))
        .context("installing duckdb and pyarrow from PyPI into target/lake-venv")?;
    if !ready(&py) {
        bail!("{} cannot import duckdb and pyarrow after installing them", py.display());
    }
    Ok(py)
}

/// `cargo fmt --check` and clippy with warnings denied.
pub fn lint() -> Result<()> {
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args(["clippy", "--all-targets", "--", "-D", "warnings"]))
}

/// Mounts bpffs and tracefs if they are not mounted (fresh machines often have neither), once,
/// before parallel tests could race to mount two stacked instances.
pub fn ensure_kernel_mounts() -> Result<()> {
    for (fstype, target) in [("bpf", "/sys/fs/bpf"), ("tracefs", "/sys/kernel/tracing")] {
        let mounted = Command::new("mountpoint").args(["-q", target]).status().is_ok_and(|s| s.success());
        if !mounted {
            run(Command::new("mount").args(["-t", fstype, fstype, target]))
                .with_context(|| format!("mounting {fstype} at {target}"))?;
        }
    }
    Ok(())
}

/// What a demo or live benchmark created: child processes, network namespaces and
/// directories, all removed by [`Teardown::all`] and on drop (also when a step fails).
pub struct Teardown {
    /// Children to stop (SIGTERM, then SIGKILL after 5 s).
    pub children: Vec<std::process::Child>,
    namespaces: &'static [&'static str],
    dirs: &'static [&'static str],
}

impl Teardown {
    /// A teardown of `namespaces` and `dirs`; call [`Teardown::all`] first to remove what an
    /// interrupted run left behind.
    pub fn new(namespaces: &'static [&'static str], dirs: &'static [&'static str]) -> Self {
        Self { children: Vec::new(), namespaces, dirs }
    }

    /// Stops the children and removes the namespaces and directories.
    pub fn all(&mut self) {
        for c in &mut self.children {
            let _ = Command::new("kill").args(["-TERM", &c.id().to_string()]).status();
            let t0 = std::time::Instant::now();
            while t0.elapsed() < std::time::Duration::from_secs(5) && matches!(c.try_wait(), Ok(None)) {
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        self.children.clear();
        for ns in self.namespaces {
            let _ = Command::new("ip").args(["netns", "delete", ns]).stderr(std::process::Stdio::null()).status();
        }
        for d in self.dirs {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        self.all();
    }
}

/// The lines `child` prints on stderr (piped), as they come.
pub fn stderr_lines(child: &mut std::process::Child) -> Result<std::sync::mpsc::Receiver<String>> {
    use std::io::BufRead;
    let err = child.stderr.take().context("stderr is not piped")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for l in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(l);
        }
    });
    Ok(rx)
}

/// Waits up to 30 s for a line of `rx` that `pred` accepts; fails with `what`.
pub fn wait_line(rx: &std::sync::mpsc::Receiver<String>, pred: impl Fn(&str) -> bool, what: &str) -> Result<()> {
    let t0 = std::time::Instant::now();
    let limit = std::time::Duration::from_secs(30);
    while t0.elapsed() < limit {
        match rx.recv_timeout(limit.saturating_sub(t0.elapsed())) {
            Ok(l) if pred(&l) => return Ok(()),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    bail!("{what}")
}

/// The CPU model, for benchmark reports.
pub fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines().find(|l| l.starts_with("model name")).map(|l| l.split(':').nth(1).unwrap_or("").trim().to_owned())
        })
        .unwrap_or_default()
}

/// The `p` quantile (0..1) of sorted values, nearest rank.
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

/// `ip ARGS`, failing on a non-zero exit.
pub fn ip(args: &[&str]) -> Result<()> {
    let st = Command::new("ip").args(args).status()?;
    if !st.success() {
        bail!("ip {args:?} failed");
    }
    Ok(())
}

/// Two namespaces joined by a veth pair, with the given addresses (CIDR notation), links up.
pub fn veth_pair(a: (&str, &str, &str), b: (&str, &str, &str)) -> Result<()> {
    let ip = |args: &[&str]| -> Result<()> {
        let st = Command::new("ip").args(args).status()?;
        if !st.success() {
            anyhow::bail!("ip {args:?} failed");
        }
        Ok(())
    };
    let ((ns_a, if_a, addr_a), (ns_b, if_b, addr_b)) = (a, b);
    ip(&["netns", "add", ns_a])?;
    ip(&["netns", "add", ns_b])?;
    ip(&["-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b])?;
    ip(&["-n", ns_a, "addr", "add", addr_a, "dev", if_a])?;
    ip(&["-n", ns_b, "addr", "add", addr_b, "dev", if_b])?;
    for (ns, i) in [(ns_a, if_a), (ns_b, if_b)] {
        ip(&["-n", ns, "link", "set", i, "up"])?;
        ip(&["-n", ns, "link", "set", "lo", "up"])?;
    }
    Ok(())
}
