//! Finding (and installing) the toolchain that builds the kernel object.
//!
//! Two routes, preferred in this order (DESIGN.md §4):
//! 1. rustup nightly with the `rust-src` component, plus `bpf-linker` on PATH;
//! 2. Debian bookworm-security's `rustc-web` + `rust-web-src` (rustc 1.96, LLVM 22) with
//!    `bpf-linker` 0.13 built against Debian's `llvm-22-dev`.
//!
//! When neither is complete, route 2 is installed (apt-get as root on Debian; `cargo install`
//! for bpf-linker, pinned). Otherwise the error names exactly what to install.

use std::{
    fmt,
    path::{Path, PathBuf},
    process::Command,
};

use anyhow::{Result, bail};

use crate::util::{apt_install, output, run, which};

/// bpf-linker version the project pins.
const BPF_LINKER_VERSION: &str = "0.13.0";
const DEBIAN_PACKAGES: [&str; 4] = ["rustc-web", "cargo-web", "rust-web-src", "llvm-22-dev"];
const LLVM_PREFIX: &str = "/usr/lib/llvm-22";

/// A usable toolchain.
pub enum Toolchain {
    /// `cargo +nightly` with rust-src.
    Nightly,
    /// `/usr/bin/cargo` with `RUSTC=/usr/bin/rustc` and `RUSTC_BOOTSTRAP=1`.
    Debian,
}

impl fmt::Display for Toolchain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Nightly => write!(f, "rustup nightly + rust-src + bpf-linker"),
            Self::Debian => {
                write!(f, "Debian rustc-web 1.96 (LLVM 22) + rust-web-src + bpf-linker {BPF_LINKER_VERSION} (llvm-22)")
            }
        }
    }
}

impl Toolchain {
    /// A cargo command that builds for the BPF target with this toolchain.
    pub fn cargo(&self) -> Command {
        match self {
            Self::Nightly => {
                let mut c = Command::new("cargo");
                c.arg("+nightly");
                c
            }
            Self::Debian => {
                let mut c = Command::new("/usr/bin/cargo");
                c.env("RUSTC", "/usr/bin/rustc").env("RUSTC_BOOTSTRAP", "1").env_remove("RUSTUP_TOOLCHAIN");
                c
            }
        }
    }
}

fn bpf_linker() -> Option<PathBuf> {
    which("bpf-linker").or_else(|| {
        let p = PathBuf::from(std::env::var_os("HOME")?).join(".cargo/bin/bpf-linker");
        p.is_file().then_some(p)
    })
}

fn nightly_ready() -> bool {
    let Some(sysroot) = output(Command::new("rustc").args(["+nightly", "--print", "sysroot"])) else { return false };
    Path::new(sysroot.trim()).join("lib/rustlib/src/rust/library/core").is_dir() && bpf_linker().is_some()
}

fn debian_rust_ready() -> bool {
    Path::new("/usr/bin/rustc").is_file()
        && Path::new("/usr/bin/cargo").is_file()
        && Path::new("/usr/lib/rustlib/src/rust/library/core").is_dir()
        && output(Command::new("/usr/bin/rustc").arg("-vV")).is_some_and(|v| v.contains("LLVM version: 22"))
}

/// Whether the bpf-linker found is linked against LLVM 22 (the Debian route's LLVM).
fn linker_is_llvm22(path: &Path) -> bool {
    output(Command::new("ldd").arg(path)).is_some_and(|s| s.contains("LLVM-22") || s.contains("llvm-22"))
        || output(Command::new("strings").arg(path)).is_some_and(|s| s.contains("LLVM 22"))
}

/// Finds a complete toolchain, installing the Debian route when none is complete.
pub fn ensure() -> Result<Toolchain> {
    // Not BPF, but every command that needs the toolchain also builds the sensor.
    crate::util::ensure_sensor_libs()?;
    if nightly_ready() {
        return Ok(Toolchain::Nightly);
    }
    if !debian_rust_ready() {
        if !Path::new("/etc/debian_version").exists() {
            bail!(
                "no BPF toolchain: install rustup nightly with `rustup toolchain install nightly --component rust-src` \
                 and `cargo install bpf-linker`"
            );
        }
        apt_install(&DEBIAN_PACKAGES).map_err(|e| {
            anyhow::anyhow!(
                "{e}\nthe BPF toolchain needs Debian's {} (bookworm-security), or rustup nightly with rust-src",
                DEBIAN_PACKAGES.join(" ")
            )
        })?;
        if !debian_rust_ready() {
            bail!("Debian's rustc-web did not provide rustc with LLVM 22 and core sources at /usr/lib/rustlib/src");
        }
    }
    match bpf_linker() {
        Some(p) if linker_is_llvm22(&p) => {}
        _ => install_bpf_linker()?,
    }
    Ok(Toolchain::Debian)
}

fn install_bpf_linker() -> Result<()> {
    if !Path::new(LLVM_PREFIX).join("bin/llvm-config").exists() {
        apt_install(&["llvm-22-dev"])?;
    }
    let path = format!("{LLVM_PREFIX}/bin:{}", std::env::var("PATH").unwrap_or_default());
    run(Command::new("cargo")
        .args(["install", "bpf-linker", "--version", BPF_LINKER_VERSION, "--no-default-features", "--features", "llvm-22", "--force"])
        .env("LLVM_PREFIX", LLVM_PREFIX)
        .env("PATH", path))
    .map_err(|e| anyhow::anyhow!("{e}\ninstall it by hand: LLVM_PREFIX={LLVM_PREFIX} cargo install bpf-linker --version {BPF_LINKER_VERSION} --no-default-features --features llvm-22"))
}
