//! Building the kernel object.

use std::path::PathBuf;

use anyhow::{Context, Result};

use crate::{
    toolchain::Toolchain,
    util::{root, run},
};

/// Where the object is copied for the sensor and the tests.
pub fn object_path() -> PathBuf {
    root().join("target/bpf/sensor-ebpf.o")
}

/// Builds `sensor-ebpf` for `bpfel-unknown-none` and copies it to [`object_path`].
pub fn ebpf(tc: &Toolchain) -> Result<PathBuf> {
    let mut cmd = tc.cargo();
    cmd.current_dir(root().join("sensor-ebpf"))
        .args(["build", "--release", "--target", "bpfel-unknown-none", "-Z", "build-std=core"])
        .env_remove("RUSTFLAGS")
        .env("CARGO_TARGET_DIR", root().join("target"));
    // bpf-linker may live in ~/.cargo/bin, which a Debian cargo's PATH may lack.
    if let Some(home) = std::env::var_os("HOME") {
        let mut paths = vec![PathBuf::from(home).join(".cargo/bin")];
        paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        cmd.env("PATH", std::env::join_paths(paths)?);
    }
    run(&mut cmd)?;
    let built = root().join("target/bpfel-unknown-none/release/sensor-ebpf");
    let out = object_path();
    std::fs::create_dir_all(out.parent().context("object path has a parent")?)?;
    std::fs::copy(&built, &out).with_context(|| format!("copying {} to {}", built.display(), out.display()))?;
    Ok(out)
}
