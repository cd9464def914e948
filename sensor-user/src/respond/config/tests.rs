//! Tests of the governance config: the default text, every refusal (with its line and a word
//! of its reason), the TTL ladder and the allowlist.

use std::{net::IpAddr, time::Duration};

use super::*;

/// Parses `text` expecting `Invalid`; returns (line, key, reason).
fn invalid(text: &str) -> (usize, String, String) {
    match GovernanceConfig::parse(text, "site.toml") {
        Err(GovConfigError::Invalid { file, line, key, reason }) => {
            assert_eq!(file, "site.toml");
            (line, key, reason)
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn assert_invalid(text: &str, line: usize, key: &str, word: &str) {
    let (l, k, reason) = invalid(text);
    assert_eq!((l, k.as_str()), (line, key), "reason: {reason}");
    assert!(reason.contains(word), "{word:?} not in {reason:?}");
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

#[test]
fn default_text_parses_to_the_documented_values() {
    let c = GovernanceConfig::default_config();
    assert_eq!(c.origin, "<default>");
    assert_eq!(c.policy.autonomous_ratio, 2.0);
    assert_eq!(c.policy.escalate_criticality, 8);
    assert_eq!(c.policy.loss_window, secs(60));
    assert_eq!(c.correlation.window, secs(1800));
    assert_eq!(c.defaults.class, "standard");
    assert!(c.inventory.is_empty());
    assert_eq!(c.authority.get("standard", Action::Block), Authority::Autonomous);
    assert_eq!(c.authority.get("critical", Action::Isolate), Authority::Forbidden);
    assert_eq!(c.authority.classes().collect::<Vec<_>>(), ["critical", "standard"]);
    assert_eq!(c.limits.ttl_ladder, [secs(600), secs(3600), secs(86_400), secs(7 * 86_400)]);
    assert_eq!(c.limits.approval_expiry, secs(900));
    assert_eq!(c.allowlist, Allowlist::default());
}

#[test]
fn an_empty_file_gets_the_same_values_as_the_default_text() {
    let empty = GovernanceConfig::parse("", "empty.toml").expect("empty file is valid");
    let default = GovernanceConfig::default_config();
    assert_eq!(GovernanceConfig { version: default.version.clone(), origin: default.origin.clone(), ..empty }, default);
}

#[test]
fn version_is_the_files_or_a_sha256_prefix_of_its_bytes() {
    let c = GovernanceConfig::parse("version = \"site-policy-7\"\n", "v.toml").expect("valid");
    assert_eq!(c.version, "site-policy-7");
    // sha256("") = e3b0c44298fc1c14...
    assert_eq!(GovernanceConfig::parse("", "v.toml").expect("valid").version, "sha256:e3b0c44298fc");
    assert_invalid("\n\nversion = \" \"\n", 3, "version", "empty");
}

#[test]
fn error_display_is_file_line_key_reason() {
    let e = GovernanceConfig::parse("[limits]\nttl_min = \"0\"\n", "site.toml").expect_err("0 is refused");
    let s = e.to_string();
    assert!(s.starts_with("site.toml:2: limits.ttl_min: \"0\" means no expiry"), "{s}");
}

#[test]
fn load_reads_the_file_and_names_it_in_errors() {
    let dir = std::env::temp_dir().join(format!("p4-config-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("policy.toml");
    std::fs::write(&path, "[policy]\nmin_confidence = 0.6\n").expect("write");
    let c = GovernanceConfig::load(&path).expect("valid file");
    assert_eq!((c.origin.as_str(), c.policy.min_confidence), (path.to_str().expect("utf-8 path"), 0.6));
    std::fs::write(&path, "[policy]\nmin_confidence = 2\n").expect("write");
    let e = GovernanceConfig::load(&path).expect_err("out of range").to_string();
    assert!(e.starts_with(&format!("{}:2: policy.min_confidence:", path.display())), "{e}");
    let missing = dir.join("missing.toml");
    assert!(matches!(GovernanceConfig::load(&missing), Err(GovConfigError::Read { .. })));
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn toml_syntax_errors_report_their_line() {
    assert_invalid(
        "[policy]\nmin_confidence = 0.5\nautonomous_ratio = 2 3\n",
        3,
        "policy.autonomous_ratio",
        "expected",
    );
    let (line, _, reason) = invalid("[policy]\n\n[policy]\n");
    assert_eq!(line, 3, "{reason}");
    assert!(reason.contains("duplicate"), "{reason}");
}

#[test]
fn unknown_keys_and_sections_are_refused_with_their_line() {
    assert_invalid("[policy]\n\nautonomus_ratio = 2.0\n", 3, "policy.autonomus_ratio", "unknown field");
    assert_invalid("[policy]\n[polcy]\n", 2, "polcy", "unknown field");
    assert_invalid(
        "[[asset]]\nname = \"a\"\nmatch = [\"10.0.0.1\"]\ncriticalty = 3\n",
        4,
        "asset.criticalty",
        "unknown field",
    );
    assert_invalid("[limits]\n\n\nttl_lader = []\n", 4, "limits.ttl_lader", "unknown field");
}

#[test]
fn wrong_types_are_refused_with_their_line() {
    assert_invalid("[defaults]\n\ncriticality = \"high\"\n", 3, "defaults.criticality", "expected an integer");
    assert_invalid("[limits]\nttl_min = 60\n", 2, "limits.ttl_min", "invalid type");
}

#[test]
fn unknown_action_lists_the_actions() {
    assert_invalid(
        "[authority.standard]\nblock = \"autonomous\"\nquarantine = \"approval\"\n",
        3,
        "authority.standard.quarantine",
        "block, kill, isolate",
    );
}

#[test]
fn unknown_authority_lists_the_allowed_values() {
    assert_invalid(
        "[authority.standard]\nkill = \"approval\"\nblock = \"auto\"\n",
        3,
        "authority.standard.block",
        "autonomous, approval, forbidden",
    );
}

#[test]
fn a_file_authority_table_replaces_the_built_in_matrix() {
    let c = GovernanceConfig::parse("[authority.standard]\nblock = \"forbidden\"\n", "a.toml").expect("valid");
    assert_eq!(c.authority.get("standard", Action::Block), Authority::Forbidden);
    assert_eq!(c.authority.get("standard", Action::Kill), Authority::Approval);
    assert!(!c.authority.has_class("critical"));
}

#[test]
fn criticality_outside_0_to_10_is_refused() {
    let asset = "[[asset]]\nname = \"db1\"\nmatch = [\"10.0.0.5\"]\ncriticality = 11\n";
    assert_invalid(asset, 4, "asset[db1].criticality", "0 to 10");
    assert_invalid("[defaults]\ncriticality = -1\n", 2, "defaults.criticality", "0 to 10");
    assert_invalid("[policy]\nescalate_criticality = 12\n", 2, "policy.escalate_criticality", "0 to 10");
}

#[test]
fn negative_or_non_finite_costs_are_refused() {
    let asset = "[[asset]]\nname = \"db1\"\nmatch = [\"10.0.0.5\"]\nimpact = -5.0\n";
    assert_invalid(asset, 4, "asset[db1].impact", ">= 0");
    assert_invalid("[defaults]\nfalse_positive_cost = nan\n", 2, "defaults.false_positive_cost", ">= 0");
    assert_invalid("[defaults]\nimpact = inf\n", 2, "defaults.impact", ">= 0");
}

#[test]
fn ratios_confidences_and_shares_outside_their_ranges_are_refused() {
    assert_invalid("[policy]\nautonomous_ratio = 0\n", 2, "policy.autonomous_ratio", "greater than 0");
    assert_invalid("[policy]\nescalate_confidence = 1.5\n", 2, "policy.escalate_confidence", "0 to 1");
    assert_invalid("[policy]\nmax_loss_share = -0.1\n", 2, "policy.max_loss_share", "0 to 1");
    assert_invalid("[policy]\nmin_confidence = 1.01\n", 2, "policy.min_confidence", "0 to 1");
    assert_invalid("[correlation]\nstage_boost = 2.0\n", 2, "correlation.stage_boost", "0 to 1");
}

#[test]
fn calibration_weights_outside_0_to_1_are_refused() {
    assert_invalid(
        "[correlation.calibration]\nport_scan = 1.0\nbrute_force = 1.2\n",
        3,
        "correlation.calibration.brute_force",
        "0 to 1",
    );
    let c = GovernanceConfig::parse("[correlation.calibration]\nport_scan = 0.5\n", "c.toml").expect("valid");
    assert_eq!(c.correlation.calibration.get("port_scan"), Some(&0.5));
}

#[test]
fn an_asset_class_without_an_authority_table_is_refused() {
    let asset = "[[asset]]\nname = \"db1\"\nmatch = [\"10.0.0.5\"]\nclass = \"gold\"\n";
    let (line, key, reason) = invalid(asset);
    assert_eq!((line, key.as_str()), (4, "asset[db1].class"));
    assert!(reason.contains("[authority.gold]") && reason.contains("critical, standard"), "{reason}");
}

#[test]
fn a_default_class_without_an_authority_table_is_refused() {
    assert_invalid("[defaults]\n\nclass = \"gold\"\n", 3, "defaults.class", "[authority.gold]");
    // Replacing the matrix without the built-in default class: reported at [authority...].
    assert_invalid("\n[authority.critical]\nblock = \"approval\"\n", 2, "defaults.class", "[authority.standard]");
}

#[test]
fn an_address_listed_by_two_assets_names_both_and_both_lines() {
    let text = "[[asset]]\nname = \"a\"\nmatch = [\"10.0.0.5\"]\n\n[[asset]]\nname = \"b\"\nmatch = [\"10.0.0.9\", \"10.0.0.5/32\"]\n";
    let (line, key, reason) = invalid(text);
    assert_eq!((line, key.as_str()), (7, "asset[b].match"));
    assert!(reason.contains("\"a\" (line 3)") && reason.contains("\"b\" (line 7)"), "{reason}");
}

#[test]
fn a_host_name_listed_by_two_assets_is_refused_whatever_its_case() {
    let text = "[[asset]]\nname = \"a\"\nmatch = [\"db1.example.com\"]\n[[asset]]\nname = \"b\"\nmatch = [\n  \"DB1.example.com.\",\n]\n";
    assert_invalid(text, 7, "asset[b].match", "listed by asset \"a\" (line 3)");
}

#[test]
fn nested_prefixes_in_two_assets_are_allowed() {
    let text = "[[asset]]\nname = \"a\"\nmatch = [\"10.0.0.0/24\"]\n[[asset]]\nname = \"b\"\nmatch = [\"10.0.0.5\"]\n";
    let c = GovernanceConfig::parse(text, "n.toml").expect("nested prefixes are valid");
    assert_eq!(c.inventory.assets()[1].line, 4);
}

#[test]
fn duplicate_asset_names_are_refused() {
    let text = "[[asset]]\nname = \"a\"\nmatch = [\"10.0.0.1\"]\n[[asset]]\nname = \"a\"\nmatch = [\"10.0.0.2\"]\n";
    assert_invalid(text, 5, "asset[a].name", "line 1");
}

#[test]
fn an_asset_with_an_empty_match_is_refused() {
    assert_invalid("[[asset]]\nname = \"a\"\nmatch = []\n", 3, "asset[a].match", "empty");
}

#[test]
fn bad_addresses_and_host_names_in_match_are_refused() {
    assert_invalid("[[asset]]\nname = \"a\"\nmatch = [\"10.0.0.1/33\"]\n", 3, "asset[a].match", "prefix length");
    assert_invalid(
        "[[asset]]\nname = \"a\"\nmatch = [\"db 1!\"]\n",
        3,
        "asset[a].match",
        "not an address, CIDR or host name",
    );
}

#[test]
fn allowlists_refuse_a_zero_length_prefix() {
    let text = "[allowlist]\nnever_block = [\"10.0.0.1\",\n  \"0.0.0.0/0\"]\n";
    assert_invalid(text, 3, "allowlist.never_block", "would exempt every address");
    assert_invalid("[allowlist]\n\nmanagement = [\"::/0\"]\n", 3, "allowlist.management", "would exempt every address");
    assert_invalid("[allowlist]\nmanagement = [\"gateway\"]\n", 2, "allowlist.management", "invalid address or CIDR");
}

#[test]
fn ttl_min_longer_than_ttl_max_is_refused() {
    assert_invalid(
        "[limits]\nttl_min = \"2h\"\nttl_max = \"1h\"\nttl_ladder = [\"1h\"]\n",
        2,
        "limits.ttl_min",
        "longer than",
    );
}

#[test]
fn ladder_steps_outside_the_bounds_or_not_increasing_are_refused() {
    assert_invalid("[limits]\nttl_ladder = [\"10m\",\n \"30s\"]\n", 3, "limits.ttl_ladder", "outside");
    assert_invalid("[limits]\nttl_ladder = [\"10m\", \"1h\", \"1h\"]\n", 2, "limits.ttl_ladder", "must increase");
    assert_invalid("[limits]\nttl_ladder = [\"1h\", \"10m\"]\n", 2, "limits.ttl_ladder", "must increase");
    // The built-in ladder (10m..7d) does not fit a file's ttl_max of 1h.
    assert_invalid("[limits]\nttl_max = \"1h\"\n", 2, "limits.ttl_ladder", "built-in ladder");
}

#[test]
fn an_empty_ladder_is_refused() {
    assert_invalid("[limits]\n\nttl_ladder = []\n", 3, "limits.ttl_ladder", "empty");
}

#[test]
fn no_expiry_and_malformed_durations_are_refused() {
    assert_invalid("[limits]\napproval_expiry = \"never\"\n", 2, "limits.approval_expiry", "no expiry");
    assert_invalid("[correlation]\nwindow = \"30x\"\n", 2, "correlation.window", "unknown unit");
    assert_invalid("[policy]\nloss_window = \"0\"\n", 2, "policy.loss_window", "no expiry");
}

#[test]
fn zero_active_blocks_with_autonomous_blocking_is_a_contradiction() {
    assert_invalid("[limits]\nmax_active_blocks = 0\n", 2, "limits.max_active_blocks", "[authority.standard]");
    let ok = "[authority.standard]\nblock = \"approval\"\n[limits]\nmax_active_blocks = 0\n";
    let c = GovernanceConfig::parse(ok, "l.toml").expect("no autonomous block: 0 is fine");
    assert_eq!(c.limits.max_active_blocks, 0);
    assert_invalid("[limits]\nmax_active_blocks = -1\n", 2, "limits.max_active_blocks", ">= 0");
}

fn limits(ladder: &[u64], min: u64, max: u64) -> Limits {
    Limits {
        max_active_blocks: 10,
        max_new_blocks_per_minute: 10,
        ttl_min: secs(min),
        ttl_max: secs(max),
        ttl_ladder: ladder.iter().map(|&s| secs(s)).collect(),
        approval_expiry: secs(60),
    }
}

#[test]
fn ttl_for_offence_climbs_the_ladder_then_stays_on_its_last_step() {
    let l = GovernanceConfig::default_config().limits;
    let got: Vec<u64> = (1..=5).map(|n| l.ttl_for_offence(n).as_secs()).collect();
    assert_eq!(got, [600, 3600, 86_400, 604_800, 604_800]);
    assert_eq!(l.ttl_for_offence(0), secs(600));
}

#[test]
fn ttl_for_offence_clamps_to_the_bounds() {
    let l = limits(&[10, 100, 10_000], 60, 1000);
    assert_eq!([1, 2, 3].map(|n| l.ttl_for_offence(n).as_secs()), [60, 100, 1000]);
    assert_eq!(limits(&[], 60, 1000).ttl_for_offence(3), secs(60));
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("ip")
}

fn cidr(s: &str) -> Cidr {
    s.parse().expect("cidr")
}

#[test]
fn allowlist_protects_addresses_in_either_list() {
    let text = "[allowlist]\nnever_block = [\"10.0.0.1\"]\nmanagement = [\"192.168.10.0/24\", \"2001:db8::/64\"]\n";
    let a = GovernanceConfig::parse(text, "a.toml").expect("valid").allowlist;
    assert_eq!(a.protects(ip("10.0.0.1")), Some(cidr("10.0.0.1/32")));
    assert_eq!(a.protects(ip("192.168.10.77")), Some(cidr("192.168.10.0/24")));
    assert_eq!(a.protects(ip("::ffff:192.168.10.77")), Some(cidr("192.168.10.0/24")));
    assert_eq!(a.protects(ip("2001:db8::5")), Some(cidr("2001:db8::/64")));
    assert_eq!(a.protects(ip("10.0.0.2")), None);
}

#[test]
fn allowlist_overlaps_prefixes_that_contain_or_lie_inside_an_entry() {
    let a = Allowlist { never_block: vec![cidr("10.0.0.1")], management: vec![cidr("192.168.10.0/24")] };
    assert_eq!(a.overlaps(&cidr("10.0.0.0/8")), Some(cidr("10.0.0.1/32")));
    assert_eq!(a.overlaps(&cidr("192.168.10.128/25")), Some(cidr("192.168.10.0/24")));
    assert_eq!(a.overlaps(&cidr("192.168.11.0/24")), None);
    assert_eq!(a.overlaps(&cidr("10.0.0.2")), None);
}
