#!/usr/bin/env python3
"""Runs the suricata-verify conformance tests through `sensor replay --rules`.

For every test listed in ../shared/data/suricata-verify/tests.tsv:
  * the test's rules are checked with `sensor rules check --json`; a test whose rules are not
    all loaded (a keyword, protocol or option the engine does not honour) is EXCLUDED, with
    the reason;
  * otherwise its pcap is replayed with those rules (and the address/port variables of the
    test's own suricata.yaml, if any), and every alert-count check of its test.yaml (a
    `filter` whose `match` has `event_type: alert` and a `count`) is evaluated on the alert
    records: PASS when every such check gives its expected count.

Match keys modelled: event_type, alert.signature_id, alert.gid, alert.rev, alert.signature,
alert.category, alert.severity, alert.action, src_ip, dest_ip, src_port, dest_port, proto, app_proto,
flow_id is ignored. A check that uses another key is evaluated on the keys above only (the
per-test line says so).

Prints one line per test and a summary; exits 1 when the pass rate over the supported tests
is below --min-pass (a fraction).

Usage: suricata_verify.py --sensor PATH [--data DIR] [--min-pass 0.9] [--only SUBSTR] [--jobs N]
"""

import argparse
import concurrent.futures
import json
import os
import subprocess
import sys
import tempfile

import yaml

MODELLED = {
    "event_type", "alert.signature_id", "alert.gid", "alert.rev", "alert.signature",
    "alert.category", "alert.severity", "src_ip", "dest_ip", "src_port", "dest_port", "proto",
    "app_proto", "alert.action",
}


def version_ok(req):
    """A `requires:` block that does not ask for Suricata 8 or later."""
    if not isinstance(req, dict):
        return True
    mv = str(req.get("min-version", "0"))
    try:
        return int(mv.split(".")[0]) <= 7
    except ValueError:
        return True


# Configuration the sensor does not model: simulated memcap / allocation failures and their
# exception policies, app-layer error policies, and other detection engines. Tests that need
# them are excluded with this reason. Inline mode (--simulate-ips), threshold files,
# action-order and the midstream exception policy are modelled (see sensor_args).
UNMODELLED_CONFIG = ("simulate-packet", "--engine=", "error-policy", "memcap-policy")


def test_args(test_yaml):
    args = test_yaml.get("args") or []
    return [str(a) for a in (args if isinstance(args, list) else [args])]


def test_config(test_dir):
    """The test's own suricata.yaml, parsed (empty when absent or unreadable)."""
    path = os.path.join(test_dir, "suricata.yaml")
    if not os.path.exists(path):
        return {}
    try:
        with open(path, errors="replace") as f:
            return yaml.safe_load(f.read()) or {}
    except Exception:
        return {}


def config_unsupported(test_yaml, test_dir):
    text = " ".join(test_args(test_yaml))
    path = os.path.join(test_dir, "suricata.yaml")
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            text += " " + f.read()
    for needle in UNMODELLED_CONFIG:
        if needle in text:
            return needle.strip("-=")
    return None


def set_options(test_yaml):
    """`--set key=value` options of the test's command line, as a dict."""
    out = {}
    for a in test_args(test_yaml):
        for part in a.split("--set")[1:]:
            key, _, value = part.strip().partition("=")
            out[key.strip()] = value.strip()
    return out


def rule_config_args(test_yaml, test_dir):
    """`--threshold-file` / `--action-order` for `rules check` and `replay`."""
    out = []
    sets = set_options(test_yaml)
    cfg = test_config(test_dir)
    tf = sets.get("threshold-file") or cfg.get("threshold-file")
    if tf:
        out += ["--threshold-file", tf.replace("${TEST_DIR}", test_dir)]
    order = cfg.get("action-order")
    if isinstance(order, list) and order:
        out += ["--action-order", ",".join(str(a) for a in order)]
    return out


def replay_mode_args(test_yaml, test_dir):
    """`--simulate-ips`, `--async-oneside`, `--no-vlan-tracking` and `--midstream-policy` from
    the test's arguments and suricata.yaml."""
    out = []
    args = " ".join(test_args(test_yaml))
    if "--simulate-ips" in args:
        out.append("--simulate-ips")
    sets = set_options(test_yaml)
    cfg = test_config(test_dir)
    stream = cfg.get("stream") if isinstance(cfg.get("stream"), dict) else {}
    if sets.get("stream.async-oneside") == "true" or stream.get("async-oneside") is True:
        out.append("--async-oneside")
    vlan = cfg.get("vlan") if isinstance(cfg.get("vlan"), dict) else {}
    if sets.get("vlan.use-for-tracking") == "false" or vlan.get("use-for-tracking") is False:
        out.append("--no-vlan-tracking")
    policy = (sets.get("stream.midstream-policy") or stream.get("midstream-policy")
              or sets.get("exception-policy") or cfg.get("exception-policy"))
    if policy:
        out += ["--midstream-policy", str(policy)]
    return out


def midstream(test_yaml, test_dir):
    """Whether the test turns on Suricata's stream.midstream."""
    if "stream.midstream=true" in " ".join(test_args(test_yaml)):
        return True
    stream = test_config(test_dir).get("stream")
    return isinstance(stream, dict) and bool(stream.get("midstream"))


def alert_checks(test_yaml):
    out = []
    for c in test_yaml.get("checks") or []:
        if not isinstance(c, dict) or "filter" not in c:
            continue
        f = c["filter"]
        if not isinstance(f, dict) or "count" not in f:
            continue
        m = f.get("match") or {}
        if m.get("event_type") != "alert":
            continue
        if not version_ok(f.get("requires")):
            continue
        out.append((int(f["count"]), m))
    return out


def lookup(rec, dotted):
    cur = rec
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def same(a, b):
    if a is None:
        return False
    if isinstance(b, bool) or isinstance(a, bool):
        return a == b
    return str(a) == str(b)


def count_matching(alerts, match):
    n = 0
    for rec in alerts:
        if all(same(lookup(rec, k), v) for k, v in match.items() if k in MODELLED):
            n += 1
    return n


def test_vars(test_dir):
    """`--var NAME=VALUE` arguments from the test's suricata.yaml address and port groups."""
    path = os.path.join(test_dir, "suricata.yaml")
    if not os.path.exists(path):
        return []
    try:
        with open(path) as f:
            text = f.read()
        # Suricata's YAML has a `%YAML 1.1` header and `---`; PyYAML copes with both.
        cfg = yaml.safe_load(text) or {}
    except Exception:
        return []
    out = []
    v = cfg.get("vars") or {}
    for group in ("address-groups", "port-groups"):
        for name, value in (v.get(group) or {}).items():
            out += ["--var", f"{'port' if group == 'port-groups' else 'address'}:{name}={value}"]
    return out


def run_one(sensor, data, row):
    test = row["dir"]
    tdir = os.path.join(data, test)
    with open(os.path.join(tdir, "test.yaml")) as f:
        ty = yaml.safe_load(f) or {}
    checks = alert_checks(ty)
    if not checks:
        return test, "EXCLUDED", "no alert-count check for Suricata 7"
    why = config_unsupported(ty, tdir)
    if why:
        return test, "EXCLUDED", f"needs {why} (IPS mode / config the sensor does not model)"
    rules = os.path.join(data, row["rules"])
    pcap = os.path.join(data, row["pcap"])
    vars_ = test_vars(tdir) + rule_config_args(ty, tdir)
    chk = subprocess.run([sensor, "rules", "check", "--json", *vars_, rules], capture_output=True, text=True)
    try:
        report = json.loads(chk.stdout)
    except json.JSONDecodeError:
        return test, "EXCLUDED", f"rules check failed: {chk.stderr.strip()[:200]}"
    if report["errors"]:
        e = report["errors"][0]
        return test, "EXCLUDED", f"rule error {e['origin']}: {e['reason']}"
    if report["skipped"]:
        s = report["skipped"][0]
        return test, "EXCLUDED", f"unsupported {s['origin']}: {s['reason']}"
    if report["loaded"] == 0:
        return test, "EXCLUDED", "no rules"
    extra = (["--midstream"] if midstream(ty, tdir) else []) + replay_mode_args(ty, tdir)
    with tempfile.TemporaryDirectory() as tmp:
        eve = os.path.join(tmp, "eve.json")
        r = subprocess.run(
            [sensor, "replay", pcap, "--rules", rules, *vars_, *extra, "--eve", eve, "--types", "alert",
             "--no-agents", "--no-govern", "--no-progress", "--quiet"],
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            return test, "FAIL", f"replay exited {r.returncode}: {r.stderr.strip()[:200]}"
        alerts = []
        with open(eve) as f:
            for line in f:
                rec = json.loads(line)
                if rec.get("event_type") == "alert":
                    alerts.append(rec)
    bad = []
    unmodelled = set()
    for want, match in checks:
        unmodelled |= {k for k in match if k not in MODELLED}
        got = count_matching(alerts, match)
        if got != want:
            sid = match.get("alert.signature_id", "*")
            bad.append(f"sid {sid}: {got} != {want}")
    note = f" (keys not modelled: {','.join(sorted(unmodelled))})" if unmodelled else ""
    if bad:
        return test, "FAIL", "; ".join(bad[:4]) + note
    return test, "PASS", f"{len(checks)} check(s){note}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sensor", required=True)
    ap.add_argument("--data", default=os.path.join(os.path.dirname(__file__), "../../../shared/data/suricata-verify"))
    ap.add_argument("--min-pass", type=float, default=0.9)
    ap.add_argument("--only", default="")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--json", help="write per-test results here")
    a = ap.parse_args()
    data = os.path.abspath(a.data)
    with open(os.path.join(data, "tests.tsv")) as f:
        lines = f.read().splitlines()
    head = lines[0].split("\t")
    rows = [dict(zip(head, ln.split("\t"))) for ln in lines[1:] if ln.strip()]
    rows = [r for r in rows if a.only in r["dir"]]
    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for test, status, why in ex.map(lambda r: run_one(a.sensor, data, r), rows):
            results.append((test, status, why))
            print(f"{status:8} {test}  {why}", flush=True)
    passed = sum(1 for r in results if r[1] == "PASS")
    failed = sum(1 for r in results if r[1] == "FAIL")
    excluded = sum(1 for r in results if r[1] == "EXCLUDED")
    supported = passed + failed
    rate = passed / supported if supported else 0.0
    print(f"suricata-verify: {len(results)} tests, {excluded} excluded as unsupported, "
          f"{supported} supported: {passed} passed, {failed} failed ({100 * rate:.1f}%)")
    if a.json:
        with open(a.json, "w") as f:
            json.dump([{"test": t, "status": s, "detail": d} for t, s, d in results], f, indent=1)
    if supported == 0 or rate < a.min_pass:
        print(f"pass rate below {100 * a.min_pass:.0f}%", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
