//! `cargo xtask <task>`: the project's front door.
//!
//! - `toolchain`   find the BPF toolchain, installing what is missing where possible
//! - `build-ebpf`  build the kernel object into `target/bpf/sensor-ebpf.o`
//! - `test`        toolchain + object + every test tier (needs root for tiers 3-4)
//! - `demo`        the self-contained network-namespace demo
//! - `bench`       the benchmarks; writes docs/BENCHMARKS.md
//! - `fuzz`        the cargo-fuzz targets, each for a while, with a table of results

mod bench;
mod bench_contain;
mod bench_fleet;
mod bench_lake;
mod bench_replay;
mod bench_rules;
mod build;
mod demo;
mod forward;
mod fuzz;
mod test;
mod toolchain;
mod util;

use std::process::ExitCode;

const USAGE: &str = "usage: cargo xtask <toolchain|build-ebpf|test|demo|bench|fuzz|lint> [args]
  toolchain     check the BPF toolchain and install what is missing (apt-get, cargo install)
  build-ebpf    build the kernel object into target/bpf/sensor-ebpf.o
  test          build everything and run every test tier (root required for the privileged tiers)
  demo          run the network-namespace demo (root)
  bench         run the benchmarks and write docs/BENCHMARKS.md (root; `bench replay`: replay vs Suricata only; `bench contain`: detect-to-block latency; `bench lake`: lake cost and query latency; `bench fleet`: fleet propagation)
  fuzz          [TARGET|all] [SECONDS]: run the cargo-fuzz targets (default all, 600 s each)
  lint          cargo fmt --check and clippy -D warnings";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("toolchain") => toolchain::ensure().map(|t| println!("BPF toolchain: {t}")),
        Some("build-ebpf") => toolchain::ensure().and_then(|t| build::ebpf(&t)).map(|p| println!("{}", p.display())),
        Some("test") => test::run(&args[1..]),
        Some("demo") => demo::run(),
        Some("bench") => bench::run(&args[1..]),
        Some("fuzz") => fuzz::run(&args[1..]),
        Some("lint") => util::lint(),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            for c in e.chain().skip(1) {
                eprintln!("  caused by: {c}");
            }
            ExitCode::FAILURE
        }
    }
}
