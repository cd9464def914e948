#!/usr/bin/env python3
"""Alert agreement between two eve.json files (the sensor's and Suricata's), matched by
(signature_id, flow 5-tuple). The 5-tuple is taken without direction (both endpoints sorted),
since a rule may alert on either side of a flow.

Usage: sig_agreement.py OURS.json THEIRS.json [--show N]
Prints: pairs in each, true positives, precision, recall, and the first N mismatches each way.
Exit status 0 always (a measurement, not a test).
"""
import json
import sys


def pairs(path):
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            if '"event_type":"alert"' not in line.replace(" ", ""):
                continue
            r = json.loads(line)
            a = r.get("alert") or {}
            ends = sorted([(r.get("src_ip"), r.get("src_port", 0)), (r.get("dest_ip"), r.get("dest_port", 0))])
            key = (a.get("signature_id"), ends[0], ends[1], r.get("proto"))
            out.setdefault(key, a.get("signature", ""))
    return out


def main():
    show = 10
    args = sys.argv[1:]
    if "--show" in args:
        i = args.index("--show")
        show = int(args[i + 1])
        del args[i:i + 2]
    ours, theirs = pairs(args[0]), pairs(args[1])
    tp = set(ours) & set(theirs)
    precision = len(tp) / len(ours) if ours else 1.0
    recall = len(tp) / len(theirs) if theirs else 1.0
    print(f"agreement: sensor {len(ours)} (sid, flow) pairs, suricata {len(theirs)}, both {len(tp)}; "
          f"precision {precision:.4f}, recall {recall:.4f}")
    for name, a, b in (("only sensor", ours, theirs), ("only suricata", theirs, ours)):
        miss = sorted(set(a) - set(b), key=str)
        for k in miss[:show]:
            print(f"  {name}: sid {k[0]} {k[1][0]}:{k[1][1]} <-> {k[2][0]}:{k[2][1]} {k[3]}  {a[k][:60]}")
        if len(miss) > show:
            print(f"  {name}: ... {len(miss) - show} more")


if __name__ == "__main__":
    main()
