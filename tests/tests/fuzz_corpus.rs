//! The fuzz targets' seed corpora and every input a fuzzer ever crashed (`fuzz/corpus/`,
//! `fuzz/regressions/TARGET/`), replayed through the same bodies the fuzzers run
//! (`sensor_user::fuzzing`): a crash fixed once stays fixed, without a fuzzer installed.

use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz")
}

fn inputs(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| rd.flatten().map(|e| e.path()).filter(|p| p.is_file()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

#[test]
fn every_seed_and_every_past_crash_runs_through_its_target() {
    let mut seeds = 0;
    for (name, target) in sensor_user::fuzzing::TARGETS {
        let corpus = inputs(&fuzz_dir().join("corpus").join(name));
        assert!(!corpus.is_empty(), "fuzz/corpus/{name} has seeds (python3 fuzz/make-corpus.py)");
        for p in corpus.iter().chain(inputs(&fuzz_dir().join("regressions").join(name)).iter()) {
            let data = std::fs::read(p).expect("input");
            // A panic names the input that caused it.
            let ok = std::panic::catch_unwind(|| target(&data));
            assert!(ok.is_ok(), "{name} panicked on {}", p.display());
            seeds += 1;
        }
    }
    assert!(seeds > 500, "{seeds} inputs");
}

#[test]
fn every_target_has_a_cargo_fuzz_entry() {
    let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).expect("fuzz/Cargo.toml");
    for (name, _) in sensor_user::fuzzing::TARGETS {
        assert!(manifest.contains(&format!("name = \"{name}\"")), "{name} missing from fuzz/Cargo.toml");
        let src = std::fs::read_to_string(fuzz_dir().join(format!("fuzz_targets/{name}.rs"))).expect("target source");
        assert!(src.contains(&format!("sensor_user::fuzzing::{name}(data)")), "{name}.rs calls its body");
    }
}
