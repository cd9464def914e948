//! `sensor replay` on real captures: malformed inputs never panic, output is deterministic,
//! damaged files give one clear error with the file name and byte offset after processing
//! what came before, and flow counts agree with tshark's conversations.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    process::Command,
};

use tests::{
    replay::{captures_under, data_dir, replay, tshark_available},
    sensor_bin, unique,
};

fn sensor_replay(args: &[&str]) -> std::process::Output {
    Command::new(sensor_bin()).arg("replay").args(args).output().expect("sensor runs")
}

fn tmp(name: &str) -> PathBuf {
    std::env::temp_dir().join(unique(name))
}

struct Cleanup(Vec<PathBuf>);
impl Drop for Cleanup {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn every_malformed_capture_replays_without_panic_and_reports_what_was_wrong() {
    let Some(data) = data_dir() else { return };
    let files = captures_under(&data.join("pcaps/malformed"));
    assert!(files.len() > 100, "expected the malformed set, found {}", files.len());
    let mut with_findings = 0;
    for f in &files {
        let r = replay(std::slice::from_ref(f));
        let stats = r.of_type("stats").last().cloned().expect("a stats record");
        let invalid = stats["stats"]["decoder"]["invalid"].as_u64().unwrap_or(0);
        let anomalies = r.of_type("anomaly").count();
        if invalid > 0 || anomalies > 0 || r.report.failed().count() > 0 {
            with_findings += 1;
        }
    }
    // Many of these captures are malformed above the layers the sensor parses (BGP, ISIS,
    // NFS, ...); those decode cleanly. The rest must be flagged.
    assert!(with_findings >= 30, "only {with_findings} of {} malformed captures were flagged", files.len());
}

#[test]
fn malformed_capture_summary_names_the_errors() {
    let Some(data) = data_dir() else { return };
    let f = data.join("pcaps/malformed/ipv4_invalid_hdr_length.pcap");
    let out = sensor_replay(&["--eve", "/dev/null", f.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("replay summary") && err.contains("decode errors"), "{err}");
    assert!(err.contains("ipv4."), "the summary names the IPv4 error: {err}");
}

#[test]
fn the_same_capture_replayed_twice_gives_byte_identical_eve() {
    let Some(data) = data_dir() else { return };
    let dir = data.join("pcaps/c2-and-tunnels");
    let (a, b) = (tmp("eve-a"), tmp("eve-b"));
    let _c = Cleanup(vec![a.clone(), b.clone()]);
    for out in [&a, &b] {
        let o = sensor_replay(&["--quiet", "--eve", out.to_str().expect("utf8"), dir.to_str().expect("utf8")]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
    let (ea, eb) = (std::fs::read(&a).expect("eve a"), std::fs::read(&b).expect("eve b"));
    assert!(ea.len() > 10_000, "expected substantial output, got {} bytes", ea.len());
    assert!(ea == eb, "two replays of the same input differ");
}

/// Writes a copy of `src` with `edit` applied.
fn damaged(src: &Path, name: &str, edit: impl FnOnce(&mut Vec<u8>)) -> PathBuf {
    let mut bytes = std::fs::read(src).expect("source capture");
    edit(&mut bytes);
    let p = tmp(name);
    std::fs::write(&p, bytes).expect("write damaged copy");
    p
}

#[test]
fn damaged_files_give_one_clear_error_with_offset_and_keep_earlier_packets() {
    let Some(data) = data_dir() else { return };
    let src = data.join("pcaps/c2-and-tunnels/ndpi-exe_download.pcap");
    let len = std::fs::metadata(&src).expect("src").len() as usize;
    let truncated = damaged(&src, "trunc.pcap", |b| b.truncate(len - 100));
    let bad_magic = damaged(&src, "magic.pcap", |b| b[..4].copy_from_slice(b"XXXX"));
    let snaplen = damaged(&src, "snaplen.pcap", |b| b[16..20].copy_from_slice(&0x7fff_ffffu32.to_le_bytes()));
    // The first record's captured length (offset 24 + 8).
    let reclen = damaged(&src, "reclen.pcap", |b| b[32..36].copy_from_slice(&0x0fff_ffffu32.to_le_bytes()));
    let text = tmp("notes.txt");
    std::fs::write(&text, "this is not a capture\n").expect("text");
    let eve = tmp("eve");
    let _c =
        Cleanup(vec![truncated.clone(), bad_magic.clone(), snaplen.clone(), reclen.clone(), text.clone(), eve.clone()]);

    let out = sensor_replay(&["--eve", eve.to_str().expect("utf8"), truncated.to_str().expect("utf8")]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a truncated file must fail the run");
    assert!(err.contains(truncated.file_name().and_then(|n| n.to_str()).expect("name")), "{err}");
    assert!(err.contains("byte "), "the error gives the byte offset: {err}");
    let eve_text = std::fs::read_to_string(&eve).expect("eve written");
    assert!(eve_text.contains("\"event_type\":\"http\""), "packets before the damage were processed");

    for (f, needle) in [(&bad_magic, "not a pcap"), (&snaplen, "snap"), (&reclen, "byte 24"), (&text, "not a pcap")] {
        let out = sensor_replay(&["--eve", "/dev/null", f.to_str().expect("utf8")]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{} must fail", f.display());
        assert!(err.contains(f.file_name().and_then(|n| n.to_str()).expect("name")), "{err}");
        assert!(err.to_lowercase().contains(needle), "expected {needle:?} in: {err}");
    }
}

/// tshark's TCP and UDP conversations as canonical address/port pairs.
fn tshark_conversations(file: &Path) -> BTreeSet<String> {
    let out = Command::new("tshark")
        .arg("-n")
        .arg("-r")
        .arg(file)
        .args(["-q", "-z", "conv,tcp", "-z", "conv,udp"])
        .output()
        .expect("tshark runs");
    let mut convs = BTreeSet::new();
    let mut proto = "";
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        if line.starts_with("TCP Conversations") {
            proto = "TCP";
        } else if line.starts_with("UDP Conversations") {
            proto = "UDP";
        }
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() > 3 && cols[1] == "<->" {
            convs.insert(canonical(proto, cols[0], cols[2]));
        }
    }
    convs
}

fn canonical(proto: &str, a: &str, b: &str) -> String {
    let (a, b) = if a <= b { (a, b) } else { (b, a) };
    format!("{proto} {a} {b}")
}

fn endpoint(ip: &str, port: u64) -> String {
    format!("{ip}:{port}")
}

#[test]
fn flow_counts_agree_with_tshark_conversations() {
    let Some(data) = data_dir() else { return };
    if !tshark_available() {
        return;
    }
    let mut files = captures_under(&data.join("pcaps"));
    files.retain(|p| !p.to_string_lossy().contains("/malformed/"));
    let (mut equal, mut compared, mut diffs) = (0, 0, Vec::new());
    for f in &files {
        let r = replay(std::slice::from_ref(f));
        let stats = r.of_type("stats").last().cloned().expect("stats");
        // Definition difference: tshark also counts the outer conversation of a tunnel and
        // the headers quoted inside ICMP errors; the sensor tracks the inner flow only.
        if stats["stats"]["decoder"]["tunneled"].as_u64().unwrap_or(0) > 0 {
            continue;
        }
        let ours: BTreeSet<String> = r
            .of_type("flow")
            .filter(|fl| fl["proto"] == "TCP" || fl["proto"] == "UDP")
            .map(|fl| {
                let a = endpoint(fl["src_ip"].as_str().unwrap_or(""), fl["src_port"].as_u64().unwrap_or(0));
                let b = endpoint(fl["dest_ip"].as_str().unwrap_or(""), fl["dest_port"].as_u64().unwrap_or(0));
                canonical(fl["proto"].as_str().unwrap_or(""), &a, &b)
            })
            .collect();
        let theirs = tshark_conversations(f);
        compared += 1;
        if ours == theirs {
            equal += 1;
        } else {
            let missing: Vec<_> = theirs.difference(&ours).take(3).collect();
            let extra: Vec<_> = ours.difference(&theirs).take(3).collect();
            diffs.push(format!(
                "{}: tshark {} ours {} (missing {missing:?}, extra {extra:?})",
                f.display(),
                theirs.len(),
                ours.len()
            ));
        }
    }
    eprintln!("flow sets equal to tshark conversations in {equal} of {compared} captures");
    for d in &diffs {
        eprintln!("  {d}");
    }
    assert!(compared > 50);
    assert!(diffs.is_empty(), "{} captures differ:\n{}", diffs.len(), diffs.join("\n"));
}
