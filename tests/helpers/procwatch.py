#!/usr/bin/env python3
"""Run a command and sample the framebroker processes it starts.

usage: procwatch.py OUT.json -- COMMAND...

Every 20 ms, for each process whose cmdline names fb-broker, fb-producer or
fb-encoder and contains the segment name given by --name in COMMAND, record
RssAnon (kB), the scheduler state and CPU ticks.  Writes per-role maxima,
the share of producer samples found sleeping, the last time a producer was
seen alive, and the wall time, as JSON.  Exits with COMMAND's status.
"""
import json, os, subprocess, sys, time

out = sys.argv[1]
cmd = sys.argv[sys.argv.index("--") + 1:]
name = cmd[cmd.index("--name") + 1]
tick = os.sysconf("SC_CLK_TCK")

stats = {"rss_kb": {}, "producer_samples": 0, "producer_sleeping": 0,
         "producer_last_seen_s": 0.0, "cpu_s": {}}
cpu = {}
t0 = time.monotonic()
proc = subprocess.Popen(cmd)
while proc.poll() is None:
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
            if name.encode() not in argv:
                continue
            role = os.path.basename(argv[0].decode())
            if role not in ("fb-broker", "fb-producer", "fb-encoder"):
                continue
            with open(f"/proc/{pid}/status") as f:
                rss = next(int(l.split()[1]) for l in f if l.startswith("RssAnon:"))
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, StopIteration):
            continue  # exited between listdir and read
        state, ticks = fields[0], int(fields[11]) + int(fields[12])
        stats["rss_kb"][role] = max(stats["rss_kb"].get(role, 0), rss)
        cpu[(role, pid)] = ticks / tick
        if role == "fb-producer":
            stats["producer_samples"] += 1
            stats["producer_sleeping"] += state == "S"
            stats["producer_last_seen_s"] = time.monotonic() - t0
    time.sleep(0.02)
stats["wall_s"] = time.monotonic() - t0
for (role, _), s in cpu.items():
    stats["cpu_s"][role] = stats["cpu_s"].get(role, 0) + s
with open(out, "w") as f:
    json.dump(stats, f)
sys.exit(proc.returncode)
