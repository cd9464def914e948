//! `cargo xtask test`: every tier, nothing skipped.

use std::{
    io::{BufRead, BufReader},
    process::Stdio,
};

use anyhow::{Context, Result, bail};

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
    // prometheus brings promtool (the /metrics exposition check); nats-server the fleet tests.
    apt_install(&[
        "iproute2",
        "util-linux",
        "iputils-ping",
        "tshark",
        "python3",
        "python3-yaml",
        "prometheus",
        "nats-server",
        // systemd-analyze verifies packaging/sensor.service.
        "systemd",
        // The console: headless Chromium for the browser test, openssl and curl for HTTPS.
        "chromium",
        "openssl",
        "curl",
    ])?;
    let python = util::lake_python()?;
    util::console_e2e()?;
    util::ensure_kernel_mounts()?;
    let tc = toolchain::ensure()?;
    eprintln!("BPF toolchain: {tc}");
    let object = build::ebpf(&tc)?;
    // The binary and every test target in one build: one feature resolution, so `cargo
    // test` below reuses it instead of building the dependency tree a second time.
    util::run(cargo().args(["build", "--bins", "--tests"]))?;
    // The fuzz targets build sensor-user without its default features (no DataFusion):
    // keep that configuration compiling.
    util::run(cargo().args(["check", "-p", "sensor-user", "--lib", "--no-default-features"]))?;
    let mut cmd = cargo();
    cmd.args(["test", "--no-fail-fast"])
        .args(extra)
        .env("SENSOR_BPF_OBJECT", &object)
        .env("SENSOR_BIN", root().join("target/debug/sensor"))
        .env("SENSOR_REQUIRE_PRIVILEGED", "1")
        .env("SENSOR_LAKE_PYTHON", &python)
        .stdout(Stdio::piped());
    eprintln!("+ {cmd:?}");
    let mut child = cmd.spawn().context("starting cargo test")?;
    let (mut passed, mut failed) = (0u64, 0u64);
    if let Some(out) = child.stdout.take() {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            println!("{line}");
            if let Some((p, f)) = parse_result(&line) {
                passed += p;
                failed += f;
            }
        }
    }
    let status = child.wait()?;
    // One closing line for the whole run (cargo's last line is often a crate with no tests).
    println!("xtask test: {passed} passed, {failed} failed");
    if !status.success() || failed > 0 {
        bail!("cargo test failed ({failed} failed)");
    }
    if passed == 0 {
        bail!("no test ran");
    }
    Ok(())
}

/// (passed, failed) from a libtest summary line.
fn parse_result(line: &str) -> Option<(u64, u64)> {
    let rest = line.strip_prefix("test result: ")?;
    let num = |key: &str| -> Option<u64> {
        rest.split(';').find_map(|part| {
            let part = part.trim().trim_start_matches("ok. ").trim_start_matches("FAILED. ");
            part.strip_suffix(key)?.trim().parse().ok()
        })
    };
    Some((num("passed")?, num("failed")?))
}

#[cfg(test)]
mod tests {
    use super::parse_result;

    #[test]
    fn libtest_summaries_are_parsed() {
        assert_eq!(parse_result("test result: ok. 7 passed; 0 failed; 0 ignored; 0 measured"), Some((7, 0)));
        assert_eq!(parse_result("test result: FAILED. 2 passed; 3 failed; 0 ignored"), Some((2, 3)));
        assert_eq!(parse_result("running 3 tests"), None);
    }
}
