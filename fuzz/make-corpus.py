#!/usr/bin/env python3
"""Builds the fuzz targets' seed corpora (fuzz/corpus/TARGET/) from ../shared/data: small
captures (pcap and pcapng, the malformed ones included), frames cut out of them, TCP and
UDP payloads by protocol (tshark), certificates, ET Open rules, and hand-written auth-log,
journal and threat-intel lines. Deterministic: the same data gives the same files.

    python3 fuzz/make-corpus.py [SHARED_DATA]
"""

import hashlib
import os
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
DATA = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "..", "..", "shared", "data")
OUT = os.path.join(ROOT, "corpus")


def put(target, data, limit=4096):
    data = data[:limit]
    if not data:
        return
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def captures():
    found = []
    for top in ("pcaps", "suricata-verify"):
        for dirpath, _, files in os.walk(os.path.join(DATA, top)):
            for f in files:
                if f.endswith((".pcap", ".pcapng", ".cap")):
                    p = os.path.join(dirpath, f)
                    found.append((os.path.getsize(p), p))
    return sorted(found)


def frames(path):
    """(linktype, frame) of a classic pcap or pcapng file; nothing for other files."""
    with open(path, "rb") as f:
        b = f.read()
    out = []
    if len(b) < 24:
        return out
    magic = b[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = "<" if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        link = struct.unpack(e + "I", b[20:24])[0]
        off = 24
        while off + 16 <= len(b):
            incl = struct.unpack(e + "I", b[off + 8 : off + 12])[0]
            out.append((link, b[off + 16 : off + 16 + incl]))
            off += 16 + incl
    elif magic == b"\x0a\x0d\x0d\x0a":
        e = "<" if b[8:12] == b"\x4d\x3c\x2b\x1a" else ">"
        off, links = 0, []
        while off + 12 <= len(b):
            btype, blen = struct.unpack(e + "II", b[off : off + 8])
            if blen < 12:
                break
            if btype == 1:
                links.append(struct.unpack(e + "H", b[off + 8 : off + 10])[0])
            elif btype == 6:
                iface, = struct.unpack(e + "I", b[off + 8 : off + 12])
                cap, = struct.unpack(e + "I", b[off + 20 : off + 24])
                link = links[iface] if iface < len(links) else 1
                out.append((link, b[off + 28 : off + 28 + cap]))
            off += blen
    return out


def tshark_payloads(path):
    try:
        r = subprocess.run(
            ["tshark", "-r", path, "-T", "fields", "-E", "separator=|", "-e", "frame.protocols",
             "-e", "tcp.payload", "-e", "udp.payload", "-e", "tls.handshake.certificate"],
            capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    out = []
    for line in r.stdout.splitlines():
        parts = line.split("|")
        if len(parts) < 4:
            continue
        protos, tcp, udp, cert = parts[:4]
        for hexes, pick in ((tcp, None), (udp, None), (cert, 4)):
            for h in filter(None, hexes.split(",")):
                try:
                    out.append((protos, pick, bytes.fromhex(h.replace(":", ""))))
                except ValueError:
                    pass
    return out


def main():
    caps = captures()
    small = [p for size, p in caps if size <= 64 * 1024]
    malformed = [p for size, p in caps if "malformed" in p and size <= 512 * 1024]
    picked = small[:: max(1, len(small) // 60)][:60] + malformed
    for p in picked:
        with open(p, "rb") as f:
            put("capture_reader", f.read(), limit=64 * 1024)
    seen = set()
    for p in picked:
        for link, fr in frames(p)[:40]:
            key = (link, fr[:40])
            if key in seen or len(seen) >= 300:
                continue
            seen.add(key)
            put("packet_decode", fr, limit=2048)
    per_proto = {}
    for p in picked:
        for protos, pick, payload in tshark_payloads(p):
            if pick is None:
                for name, code in (("http", 0), ("dns", 1), ("tls", 2), ("ssh", 3), ("socks", 5)):
                    if ":" + name in protos:
                        pick = code
                        break
            if pick is None or per_proto.get(pick, 0) >= 60:
                continue
            per_proto[pick] = per_proto.get(pick, 0) + 1
            put("app_layer", bytes([pick]) + payload)
    # Whole exchanges as the target splits them (segments at 0xff, alternating direction).
    put("app_layer", b"\x00GET /a?b=1 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\xffHTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: 3\r\n\r\nabc")
    put("app_layer", b"\x03SSH-2.0-OpenSSH_9.2\r\n\xffSSH-2.0-dropbear\r\n")
    put("app_layer", b"\x85\x05\x01\x00\xff\x05\x00\xff\x05\x01\x00\x03\x07example\x00\x50")
    rules_dir = os.path.join(DATA, "rules", "et-open")
    n = 0
    for dirpath, _, files in sorted(os.walk(rules_dir)):
        for f in sorted(files):
            if not f.endswith(".rules"):
                continue
            with open(os.path.join(dirpath, f), "rb") as fh:
                lines = [l for l in fh.read().splitlines() if l.startswith((b"alert", b"drop", b"pass", b"reject"))]
            for i in range(0, min(len(lines), 40), 8):
                put("rule_parser", b"\n".join(lines[i : i + 8]), limit=16384)
                n += 1
    for line in [
        b"Dec  7 10:00:01 gw sshd[4242]: Failed password for invalid user admin from 203.0.113.5 port 50022 ssh2",
        b"Dec  7 10:00:02 gw sshd[4242]: Accepted publickey for alice from 198.51.100.7 port 40000 ssh2: ED25519 SHA256:x",
        b"2026-12-07T10:00:03.123456+00:00 gw sshd-session[77]: Invalid user oracle from 2001:db8::5 port 2222",
        b"Dec  7 10:00:04 gw sshd[9]: pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.9  user=root",
        b"Dec  7 10:00:05 gw sudo: pam_unix(sudo:auth): authentication failure; logname=bob uid=1000 euid=0 tty=/dev/pts/0 ruser=bob rhost=  user=bob",
        b"Dec  7 10:00:06 gw su[31]: FAILED SU (to root) bob on pts/1",
        b'{"__REALTIME_TIMESTAMP":"1796670000000000","SYSLOG_IDENTIFIER":"sshd","_PID":"42","MESSAGE":"Failed password for root from 203.0.113.5 port 22 ssh2"}',
        b'{"__REALTIME_TIMESTAMP":"1","SYSLOG_IDENTIFIER":"sshd","MESSAGE":[70,97,105,108,101,100]}',
    ]:
        put("log_parser", line)
    for feed in [
        b"# ips\n203.0.113.5\n198.51.100.0/24\n2001:db8::/48\nevil.example\n0.0.0.0 ads.example\n",
        b"indicator,type,confidence\n203.0.113.5,ip,80\nbad.example,domain,50\n",
        b"MjAzLjAuMTEzLjU=\nZXZpbC5leGFtcGxl\n",
        b'{"response":[{"Event":{"Attribute":[{"type":"ip-dst","value":"203.0.113.5","to_ids":true},{"type":"domain","value":"c2.example","to_ids":false}]}}]}',
        b'[{"Event":{"Object":[{"Attribute":[{"type":"ip-src|port","value":"198.51.100.1|443"}]}]}}]',
    ]:
        put("indicator_parser", feed)
    for t in sorted(os.listdir(OUT)):
        print(t, len(os.listdir(os.path.join(OUT, t))))


if __name__ == "__main__":
    main()
