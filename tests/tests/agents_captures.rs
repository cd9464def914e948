//! Micro-agents on real captures (../shared/data/pcaps, see MANIFEST.tsv): the DDoS
//! captures raise flood findings naming the victim, the scans raise port_scan naming the
//! scanner, the SSH guessing trace raises brute_force, the DNS and ICMP tunnels raise
//! tunnel findings, and the normal captures raise nothing above confidence 0.5. The
//! victim and the scanner are taken from tshark (the oracle), not from the sensor.

use std::{collections::HashMap, path::PathBuf};

use serde_json::Value;
use tests::replay::{Replayed, captures_under, data_dir, replay_with_agents, tshark_available, tshark_fields};

fn pcaps() -> Option<PathBuf> {
    let d = data_dir()?.join("pcaps");
    d.is_dir().then_some(d)
}

/// The most frequent value of `field` among packets matching `filter`.
fn top(file: &std::path::Path, filter: &str, field: &str) -> String {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for row in tshark_fields(file, filter, &[field]) {
        for v in row[0].split('\u{1f}').filter(|v| !v.is_empty()) {
            *counts.entry(v.to_owned()).or_default() += 1;
        }
    }
    counts.into_iter().max_by_key(|(v, n)| (*n, v.clone())).map(|(v, _)| v).unwrap_or_default()
}

fn describe(r: &Replayed) -> String {
    r.findings()
        .map(|f| {
            format!(
                "{}/{} {:.2} src={} dst={}",
                f["anomaly"]["agent"], f["anomaly"]["event"], f["anomaly"]["confidence"], f["src_ip"], f["dest_ip"]
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn by_agent<'a>(r: &'a Replayed, agent: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    r.findings().filter(move |f| f["anomaly"]["agent"] == agent)
}

/// The one capture under ddos/ that holds no flood (see the test).
const NOT_A_FLOOD: &str = "ndpi-dos_win98_smb_netbeui.pcap";
/// The DHCP flood has no single victim address.
const DHCP_FLOOD: &str = "zeek-dhcp-dhcp_flood.pcap";

#[test]
fn every_ddos_capture_raises_a_flood_finding_naming_the_victim_and_the_flood_type() {
    let Some(dir) = pcaps() else { return };
    if !tshark_available() {
        return;
    }
    for file in captures_under(&dir.join("ddos")) {
        let name = file.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let r = replay_with_agents(std::slice::from_ref(&file));
        let floods: Vec<_> = by_agent(&r, "flood").collect();
        if name == NOT_A_FLOOD {
            // A Windows 98 host booting: 158 of 220 frames are NetBEUI/LLC (no IP), the rest
            // are NBNS registrations under 1 packet/s. Nothing floods; nothing is raised.
            assert!(floods.is_empty(), "{name}: {}", describe(&r));
            continue;
        }
        assert!(!floods.is_empty(), "{}: no flood finding; findings: {}", file.display(), describe(&r));
        if name == DHCP_FLOOD {
            // DHCP INFORMs each from and to a different address: no single victim address.
            assert!(floods.iter().any(|f| f["anomaly"]["event"] == "dhcp_flood"), "{}", describe(&r));
            continue;
        }
        let victim = top(&file, "ip or ipv6", "ip.dst");
        assert!(
            floods.iter().any(|f| f["dest_ip"] == victim.as_str()),
            "{}: no flood finding names the victim {victim}; findings: {}",
            file.display(),
            describe(&r)
        );
        for f in &floods {
            let kind = f["anomaly"]["event"].as_str().unwrap_or("");
            assert!(
                kind.ends_with("_flood") || kind.contains("reflection") || kind.contains("amplification"),
                "{kind}"
            );
            assert!(f["anomaly"]["technique"].as_str().is_some_and(|t| t.starts_with("T14")), "{f}");
        }
    }
}

#[test]
fn every_scan_capture_raises_port_scan_naming_the_scanner() {
    let Some(dir) = pcaps() else { return };
    if !tshark_available() {
        return;
    }
    for file in captures_under(&dir.join("scans")) {
        let r = replay_with_agents(std::slice::from_ref(&file));
        // The scanner: the address opening the most connections (SYN without ACK), or for
        // UDP sweeps the most frequent source.
        let mut scanner = top(&file, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "ip.src");
        if scanner.is_empty() {
            scanner = top(&file, "ip", "ip.src");
        }
        let scans: Vec<_> = by_agent(&r, "port_scan").collect();
        assert!(
            scans.iter().any(|f| f["src_ip"] == scanner.as_str()),
            "{}: no port_scan finding names the scanner {scanner}; findings: {}",
            file.display(),
            describe(&r)
        );
    }
}

#[test]
fn the_ssh_password_guessing_trace_raises_brute_force_naming_the_client() {
    let Some(dir) = pcaps() else { return };
    if !tshark_available() {
        return;
    }
    let file = dir.join("bruteforce/zeek-ssh-sshguess.pcap");
    let r = replay_with_agents(std::slice::from_ref(&file));
    let client = top(&file, "tcp.flags.syn == 1 && tcp.flags.ack == 0", "ip.src");
    assert!(
        by_agent(&r, "brute_force").any(|f| f["src_ip"] == client.as_str()),
        "no brute_force finding for {client}; findings: {}",
        describe(&r)
    );
}

#[test]
fn dns_and_icmp_tunnel_captures_raise_tunnel_findings() {
    let Some(dir) = pcaps() else { return };
    for name in
        ["ndpi-dns-tunnel-iodine.pcap", "ndpi-dns_exfiltration.pcap", "ndpi-dns-exf.pcap", "ndpi-icmp-tunnel.pcap"]
    {
        let file = dir.join("c2-and-tunnels").join(name);
        let r = replay_with_agents(std::slice::from_ref(&file));
        assert!(
            by_agent(&r, "dns_tunnel").count() > 0,
            "{name}: no dns_tunnel/icmp_tunnel finding; findings: {}",
            describe(&r)
        );
    }
}

#[test]
fn normal_captures_raise_no_finding_above_half_confidence() {
    let Some(dir) = pcaps() else { return };
    let (mut packets, mut low, mut high) = (0u64, 0u64, Vec::new());
    for file in captures_under(&dir.join("normal")) {
        let r = replay_with_agents(std::slice::from_ref(&file));
        packets += r.of_type("stats").last().and_then(|s| s["stats"]["decoder"]["pkts"].as_u64()).unwrap_or(0);
        for f in r.findings() {
            if f["anomaly"]["confidence"].as_f64().unwrap_or(1.0) > 0.5 {
                high.push(format!("{}: {}", file.display(), f["anomaly"]["reason"]));
            } else {
                low += 1;
            }
        }
    }
    eprintln!(
        "normal captures: {packets} packets, {low} findings <= 0.5 ({:.1} per million packets), {} above",
        low as f64 * 1e6 / packets.max(1) as f64,
        high.len()
    );
    assert!(high.is_empty(), "findings above 0.5 on normal traffic:\n{}", high.join("\n"));
}

#[test]
fn c2_captures_are_reported_with_what_the_agents_raise() {
    // Not every C2 capture holds enough connections for a beacon (see docs/AGENTS.md for the
    // per-capture reasons); this prints what each raises and checks nothing panics.
    let Some(dir) = pcaps() else { return };
    for file in captures_under(&dir.join("c2-and-tunnels")) {
        let r = replay_with_agents(std::slice::from_ref(&file));
        let mut agents: Vec<String> =
            r.findings().map(|f| format!("{}/{}", f["anomaly"]["agent"], f["anomaly"]["event"])).collect();
        agents.sort();
        agents.dedup();
        eprintln!("{}: {}", file.file_name().and_then(|n| n.to_str()).unwrap_or("?"), agents.join(", "));
    }
}

#[test]
fn intel_feeds_flag_the_c2_servers_of_the_malware_captures() {
    use sensor_user::agents::{config::AgentsConfig, runtime::Runtime};
    let Some(dir) = pcaps() else { return };
    let feed = concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/intel-captures.txt");
    let cfg = format!("[agents.intel]\n[[agents.intel.feeds]]\npath = \"{feed}\"\nname = \"c2-test\"\n");
    for (name, indicator) in [
        ("ndpi-malware.pcap", "internetbadguys.com"),
        ("ndpi-emotet.pcap", "fkl.co.ke"),
        ("ndpi-trickbot.pcap", "82.118.225.196"),
    ] {
        let rt = Runtime::new(AgentsConfig::parse(&cfg, "test").expect("config"), None).expect("runtime");
        let r = tests::replay::replay_with_runtime(&[dir.join("c2-and-tunnels").join(name)], rt);
        let hits: Vec<_> = by_agent(&r, "intel").collect();
        assert!(
            hits.iter().any(|f| f["anomaly"]["reason"].as_str().is_some_and(|s| s.contains(indicator))),
            "{name}: no intel finding naming {indicator}; findings: {}",
            describe(&r)
        );
    }
}

#[test]
fn learned_baselines_are_written_and_read_back_by_replay() {
    use sensor_user::agents::runtime::{load_state_file, save_state_file};
    let Some(dir) = pcaps() else { return };
    let file = dir.join("normal/ndpi-chrome.pcap");
    let (_, state) = tests::replay::replay_with_state(std::slice::from_ref(&file), None);
    let path = std::env::temp_dir().join(tests::unique("agents-state-"));
    save_state_file(&path, &state).expect("state written");
    let loaded = load_state_file(&path).expect("state readable").expect("state present");
    let _ = std::fs::remove_file(&path);
    assert_eq!(loaded, state);
    for agent in ["flood", "process"] {
        assert!(loaded.get(agent).is_some(), "{agent} saves a baseline: {loaded}");
    }
    // A second run starts from the saved baselines and saves them again.
    let (_, again) = tests::replay::replay_with_state(std::slice::from_ref(&file), Some(&loaded));
    assert!(again.get("flood").is_some());
    // A damaged state file is an error naming the file, not a silent reset.
    let bad = std::env::temp_dir().join(tests::unique("agents-state-bad-"));
    std::fs::write(&bad, b"{not json").expect("write");
    let err = load_state_file(&bad).expect_err("damaged state is an error");
    let _ = std::fs::remove_file(&bad);
    assert!(err.contains("agents-state-bad-"), "{err}");
}
