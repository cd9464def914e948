//! `cargo xtask test`: every tier, nothing skipped.

use anyhow::{Result, bail};

use crate::{
    build, toolchain,
    util::{self, apt_install, cargo, is_root, root},
};

/// Builds the kernel object and the sensor binary, then runs every test with the
/// privileged tiers required (a missing object or privilege fails instead of skipping).
pub fn run(extra: &[String]) -> Result<()> {
    if !is_root() {
        bail!(
            "the privileged test tiers (BPF_PROG_TEST_RUN, XDP on veth pairs in network namespaces, tracepoints) \
             need root: run `sudo -E cargo xtask test`; `cargo test` alone runs the unprivileged tiers"
        );
    }
    // ip (netns, veth), nsenter/setpriv (util-linux), ping (iputils-ping).
    apt_install(&["iproute2", "util-linux", "iputils-ping"])?;
    let tc = toolchain::ensure()?;
    eprintln!("BPF toolchain: {tc}");
    let object = build::ebpf(&tc)?;
    util::run(cargo().args(["build", "--bin", "sensor"]))?;
    util::run(
        cargo()
            .args(["test", "--no-fail-fast"])
            .args(extra)
            .env("SENSOR_BPF_OBJECT", &object)
            .env("SENSOR_BIN", root().join("target/debug/sensor"))
            .env("SENSOR_REQUIRE_PRIVILEGED", "1"),
    )
}
