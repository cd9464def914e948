//! packaging/: the systemd unit passes `systemd-analyze verify`, and its capability
//! bounding set covers what the sensor keeps after attaching plus what loading needs;
//! docs/THREAT_MODEL.md lists every capability the sensor keeps.

use std::{path::Path, process::Command};

use sensor_user::sys::caps::KEPT;

fn repo(p: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(p)
}

fn unit() -> String {
    std::fs::read_to_string(repo("packaging/sensor.service")).expect("packaging/sensor.service")
}

#[test]
fn the_unit_bounds_capabilities_to_what_the_sensor_needs() {
    let unit = unit();
    let set: Vec<&str> = unit
        .lines()
        .find_map(|l| l.strip_prefix("CapabilityBoundingSet="))
        .expect("a bounding set")
        .split_whitespace()
        .collect();
    for (_, name, _) in KEPT {
        assert!(set.contains(&name), "{name} (kept after attach) missing from the unit's bounding set");
    }
    // Shrinking its own sets needs CAP_SETPCAP; nothing that lets it become someone else.
    assert!(set.contains(&"CAP_SETPCAP"));
    for never in ["CAP_SETUID", "CAP_SETGID", "CAP_SYS_MODULE", "CAP_DAC_OVERRIDE", "CAP_NET_RAW", "CAP_SYS_BOOT"] {
        assert!(!set.contains(&never), "{never} in the bounding set");
    }
    for line in ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectKernelModules=yes", "MemoryMax="] {
        assert!(unit.contains(line), "{line} missing");
    }
}

#[test]
fn the_threat_model_lists_every_kept_capability() {
    let doc = std::fs::read_to_string(repo("docs/THREAT_MODEL.md")).expect("docs/THREAT_MODEL.md");
    for (_, name, _) in KEPT {
        assert!(doc.contains(&format!("| `{name}` |")), "{name} not in the THREAT_MODEL table");
    }
}

#[test]
fn systemd_analyze_verifies_the_unit() {
    if Command::new("systemd-analyze").arg("--version").output().is_err() {
        assert!(std::env::var_os("SENSOR_REQUIRE_PRIVILEGED").is_none(), "systemd-analyze is missing");
        eprintln!("skipped: no systemd-analyze");
        return;
    }
    // The installed paths do not exist here: point them at the built binary, and make the
    // environment file optional.
    let dir = std::env::temp_dir().join(tests::unique("unit-"));
    std::fs::create_dir_all(&dir).expect("dir");
    let text = unit()
        .replace("/usr/local/bin/sensor", &tests::sensor_bin().to_string_lossy())
        .replace("EnvironmentFile=/etc/sensor/sensor.env", "EnvironmentFile=-/etc/sensor/sensor.env");
    let path = dir.join("sensor.service");
    std::fs::write(&path, text).expect("unit");
    let out = Command::new("systemd-analyze").arg("verify").arg(&path).output().expect("systemd-analyze");
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.contains("sensor.service")).collect();
    assert!(out.status.success() && ours.is_empty(), "systemd-analyze verify: {err}");
}
