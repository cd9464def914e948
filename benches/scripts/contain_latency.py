"""Detect-to-block latency, run inside the scanner's network namespace.

For each source address: five connection attempts to closed ports of the sensor side
(the fifth refused attempt completes the port_scan agent's condition), then probes to
further closed ports until one goes unanswered: that probe met the XDP block. Prints one
JSON object: per trial, the time from the fifth refusal to the sending of the first
unanswered probe, and the probe round-trip time (the measurement's resolution).
"""
import errno
import json
import select
import socket
import sys
import time

dst = sys.argv[1]
sources = sys.argv[2].split(",")
WAIT_S = 0.005  # a probe unanswered this long met the block (RTTs on the veth are ~0.1 ms)


def probe(src, port, timeout):
    s = socket.socket()
    s.bind((src, 0))
    s.setblocking(False)
    sent = time.perf_counter()
    try:
        s.connect((dst, port))
    except BlockingIOError:
        pass
    _, w, _ = select.select([], [s], [], timeout)
    refused = bool(w) and s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNREFUSED
    done = time.perf_counter()
    s.close()
    return refused, sent, done


trials = []
for src in sources:
    ok = True
    for k in range(5):
        refused, _, t0 = probe(src, 1000 + k, 1.0)
        ok = ok and refused
    if not ok:
        trials.append({"src": src, "error": "a probe before the trigger went unanswered"})
        continue
    port, rtts, latency = 2000, [], None
    while True:
        refused, sent, done = probe(src, port, WAIT_S)
        port += 1
        if not refused:
            latency = sent - t0
            break
        rtts.append(done - sent)
        if sent - t0 > 2.0:
            break
    trials.append({
        "src": src,
        "latency_s": latency,
        "probes_answered": len(rtts),
        "rtt_s": sorted(rtts)[len(rtts) // 2] if rtts else None,
    })
print(json.dumps(trials))
