//! Tier 2: the kernel object's programs and maps, checked in the ELF without loading it.

use object::{Object, ObjectSection, ObjectSymbol};
use sensor_common::{maps, programs};
use tests::object_path;

fn object_bytes() -> Option<Vec<u8>> {
    let path = object_path();
    match std::fs::read(&path) {
        Ok(b) => Some(b),
        Err(_) if std::env::var("SENSOR_REQUIRE_PRIVILEGED").is_ok_and(|v| v == "1") => {
            panic!("kernel object required at {}", path.display())
        }
        Err(_) => {
            eprintln!("skipped: no kernel object at {} (cargo xtask build-ebpf)", path.display());
            None
        }
    }
}

#[test]
fn every_program_is_in_its_hook_section() {
    let Some(bytes) = object_bytes() else { return };
    let elf = object::File::parse(&*bytes).expect("ELF");
    let section_of = |name: &str| {
        let sym = elf.symbols().find(|s| s.name() == Ok(name)).unwrap_or_else(|| panic!("no symbol {name}"));
        let idx = sym.section_index().expect("symbol in a section");
        elf.section_by_index(idx).expect("section").name().expect("name").to_owned()
    };
    assert_eq!(section_of(programs::XDP_INGRESS), "xdp");
    assert_eq!(section_of(programs::TC_EGRESS), "classifier");
    assert_eq!(section_of(programs::PROCESS_EXEC), "tracepoint/sched/sched_process_exec");
    for p in programs::ALL {
        let s = section_of(p);
        assert!(s == "xdp" || s == "classifier" || s.starts_with("tracepoint/"), "{p} in {s}");
    }
    assert!(elf.section_by_name("license").is_some());
}

#[test]
fn every_map_the_user_space_names_is_defined() {
    let Some(bytes) = object_bytes() else { return };
    let elf = object::File::parse(&*bytes).expect("ELF");
    let maps_section = elf.section_by_name("maps").expect("maps section").index();
    let defined: Vec<&str> =
        elf.symbols().filter(|s| s.section_index() == Some(maps_section)).filter_map(|s| s.name().ok()).collect();
    for m in [
        maps::BLOCK_V4,
        maps::BLOCK_V6,
        maps::COUNTERS,
        maps::FLOWS,
        maps::CONFIG,
        maps::WATCHED_PATHS,
        maps::NET_EVENTS,
        maps::PROC_EVENTS,
        maps::ACCEPT_ARGS,
    ] {
        assert!(defined.contains(&m), "map {m} missing from {defined:?}");
    }
}
