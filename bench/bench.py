#!/usr/bin/env python3
"""make bench — framebroker side by side with the transport limit and the
alternatives, as ratios measured in one run.

Every comparison runs its candidate (A) and its reference (B) alternately,
BENCH_RUNS times each (default 5), and reports the median with min-max.
Timing runs are not sampled (a sampler would steal CPU from a 2-core
machine); memory is measured in separate, sampled runs.  Prints a table and
writes bench/results/bench.{csv,json} and PNG plots (gnuplot).  Then it
compares every row's ratio with the one committed in docs/performance.md's
table and fails loudly (exit 1, naming each row, committed against
measured) when one moved by more than a factor BENCH_TOLERANCE (default
1.5) either way: a figure that moves that far is a regression or a changed
benchmark, and must not pass unnoticed.  BENCH_ACCEPT=1 (or `bench.py
--accept`, from the last results without a run) writes the new table into
the document instead.  BENCH_QUICK=1 shrinks every size to check that the
harness itself works (tests/build/t_bench_smoke.sh); its figures mean nothing,
so it compares nothing.  `bench.py --check JSON DOC` compares a saved run
with a document (the smoke test checks the check with a fabricated one).
"""
import atexit
import csv
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bin")
BUILD = os.path.join(ROOT, "build", "bench")
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench", "results"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
QUICK = os.environ.get("BENCH_QUICK") == "1"
DOC = os.environ.get("BENCH_DOC", os.path.join(ROOT, "docs", "performance.md"))
# Why 1.5: the same ratio across full runs of this bench on the 2-core
# machine moved by up to ~1.25x (end to end 0.87-0.92x over three runs;
# into ffmpeg 1.85x here, 1.6-2.1x in loaded runs; scaling at K=2 1.96x
# quiet); a wrapped ffmpeg's 3 s per render (issue 21) moved 'into ffmpeg'
# 4.9x and 'end to end' 1.8x.  1.5 passes the noise and stops those.
TOLERANCE = float(os.environ.get("BENCH_TOLERANCE", "1.5"))
CPUS = os.cpu_count() or 1
REAL_FFMPEG = shutil.which("ffmpeg")
TMP = tempfile.mkdtemp(prefix="fb-bench.")
# Removed however the bench ends: --table and --check exit before main()
# (and its finally) runs, and left one fb-bench.* directory each.
atexit.register(shutil.rmtree, TMP, True)


def q(full, quick):
    return quick if QUICK else full


# ---- running one command -------------------------------------------------

class Result:
    def __init__(self, wall, cpu, ff_cpu, peaks, shm_bytes, out):
        self.wall = wall          # s, spawn to reap
        self.cpu = cpu            # user+sys s of the whole tree (reaped descendants)
        self.ff_cpu = ff_cpu      # user+sys s of the ffmpeg processes in it
        self.peaks = peaks        # name -> [max RssAnon kB, max VmHWM kB] (sampled runs)
        self.shm_bytes = shm_bytes
        self.out = out            # stdout text


def status_kb(pid):
    """(name, RssAnon kB, VmHWM kB) of PID, or None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            text = f.read()
    except OSError:
        return None
    name, anon, hwm = "?", 0, 0
    for line in text.splitlines():
        if line.startswith("Name:"):
            name = line.split()[1]
        elif line.startswith("RssAnon:"):
            anon = int(line.split()[1])
        elif line.startswith("VmHWM:"):
            hwm = int(line.split()[1])
    return name, anon, hwm


def descendants(root):
    """Every live descendant of ROOT (by scanning /proc/*/stat for ppids)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read()
                parent[int(d)] = int(st[st.rindex(")") + 2:].split()[1])
            except (OSError, ValueError):
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        out += kids
        todo += kids
    return out


class Sampler(threading.Thread):
    """Peak RssAnon and VmHWM of every process in a tree, by name."""

    def __init__(self, root, shm_name=None):
        super().__init__(daemon=True)
        self.root, self.shm_name = root, shm_name
        self.stop = threading.Event()
        self.peaks, self.shm_bytes = {}, 0

    def run(self):
        pids, last_scan = {self.root}, 0.0
        while not self.stop.is_set():
            now = time.monotonic()
            if now - last_scan > 0.05:
                pids |= set(descendants(self.root))
                last_scan = now
            for pid in list(pids):
                s = status_kb(pid)
                if s is None:
                    pids.discard(pid)
                    continue
                name, anon, hwm = s
                p = self.peaks.setdefault(name, [0, 0])
                p[0], p[1] = max(p[0], anon), max(p[1], hwm)
            if self.shm_name:
                try:
                    self.shm_bytes = max(self.shm_bytes,
                                         os.stat("/dev/shm" + self.shm_name).st_size)
                except OSError:
                    pass
            time.sleep(0.005)


def run(cmd, env=None, sample=False, shm_name=None):
    """Run CMD (argv list) to completion; fail loudly if it fails."""
    ff_log = os.path.join(TMP, "ffcpu")
    open(ff_log, "w").close()
    e = dict(os.environ)
    e.update(env or {})
    e["FB_BENCH_REAL_FFMPEG"] = REAL_FFMPEG
    e["FB_BENCH_FFMPEG_CPU"] = ff_log
    out_path = os.path.join(TMP, "stdout")
    err_path = os.path.join(TMP, "stderr")
    acts = [(os.POSIX_SPAWN_OPEN, 1, out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644),
            (os.POSIX_SPAWN_OPEN, 2, err_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)]
    t0 = time.perf_counter()
    pid = os.posix_spawnp(cmd[0], cmd, e, file_actions=acts)
    sampler = None
    if sample:
        sampler = Sampler(pid, shm_name)
        sampler.start()
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - t0
    if sampler:
        sampler.stop.set()
        sampler.join()
    if os.waitstatus_to_exitcode(status) != 0:
        with open(err_path) as f:
            sys.exit(f"bench: {' '.join(cmd)} failed ({status}): {f.read()[-500:]}")
    ff = 0.0
    with open(ff_log) as f:
        for line in f:
            u, s = line.split()
            ff += float(u) + float(s)
    with open(out_path) as f:
        out = f.read()
    return Result(wall, ru.ru_utime + ru.ru_stime, ff,
                  sampler.peaks if sampler else {}, sampler.shm_bytes if sampler else 0, out)


def alternate(variants, runs=RUNS):
    """Run each (name, argv, env) RUNS times, alternating the order every
    round so drift hits all alike.  Returns name -> [Result]."""
    res = {name: [] for name, _, _ in variants}
    for i in range(runs):
        order = variants if i % 2 == 0 else variants[::-1]
        for name, cmd, env in order:
            res[name].append(run(cmd, env))
    return res


# ---- rows ------------------------------------------------------------------

ROWS = []


def stats(xs):
    return statistics.median(xs), min(xs), max(xs)


def row(section, what, unit, xs, ref_what, refs, target=None, met=None,
        note=""):
    """One table row: the candidate's figures XS against the reference's
    REFS (ratio of medians, as 'better' = > 1 when HIGHER_BETTER)."""
    fig, lo, hi = stats(xs)
    r = {"section": section, "what": what, "unit": unit, "figure": fig, "min": lo, "max": hi,
         "runs": len(xs), "reference": ref_what, "target": target or "", "note": note}
    if refs:
        rf, rlo, rhi = stats(refs)
        r.update(ref_figure=rf, ref_min=rlo, ref_max=rhi, ratio=fig / rf if rf else None)
    else:
        r.update(ref_figure=None, ref_min=None, ref_max=None, ratio=None)
    r["met"] = met
    ROWS.append(r)
    return r


def fb_render(*args, frames, size, workers=1, source="fill", sink=None, name=None):
    cmd = ["fb-render", "--size", size, "--frames", str(frames), "--workers", str(workers),
           "--source", source]
    if name:
        cmd += ["--name", name]
    cmd += list(args)
    if sink is None:
        cmd += ["--sink", "raw", "-o", "/dev/null"]
    else:
        cmd += ["-o", "/dev/null", "--"] + sink
    return cmd


def fill_file(path, frame_bytes, frames):
    """FRAMES frames of FRAME_BYTES, frame i all bytes i mod 256 — the bytes
    `--source fill` renders, so every row moves the same pixels."""
    with open(path, "wb") as f:
        for i in range(frames):
            f.write(bytes([i & 0xFF]) * frame_bytes)


# ---- the comparisons -------------------------------------------------------

def transport():
    n = q(2000, 40)
    size, fb = "1920x1080", 1920 * 1080 * 4
    for k in (1, 2):
        res = alternate([("fb", fb_render(frames=n, size=size, workers=k), None),
                         ("ref", [os.path.join(BUILD, "ref_ring"), str(fb), str(n), "8"], None)])
        fps = [n / r.wall for r in res["fb"]]
        ref = [n / r.wall for r in res["ref"]]
        rw = row("transport", f"1080p rgba fill -> raw /dev/null, K={k}", "frames/s", fps,
                 "ref_ring: 2 processes, 2 semaphores, 8 slots", ref, "ratio >= 0.8")
        rw["met"] = rw["ratio"] >= 0.8


def handoff():
    n = q(2_000_000, 20000)
    for k in (1, 4):
        res = alternate([("fb", fb_render(frames=n, size="4x4", workers=k), None),
                         ("ref", [os.path.join(BUILD, "ref_ring"), "64", str(n), "8"], None)])
        fps = [n / r.wall for r in res["fb"]]
        ref = [n / r.wall for r in res["ref"]]
        rw = row("handoff", f"64-byte frames, K={k}", "frames/s", fps,
                 "ref_ring, 64-byte frames", ref, ">= 500,000 frames/s",
                 note=f"{1e9 / statistics.median(fps):.0f} ns/frame (startup included)")
        rw["met"] = rw["figure"] >= 500_000


def into_ffmpeg(src):
    n = q(300, 10)
    ff = ["-f", "rawvideo", "-pix_fmt", "rgba", "-s", "1920x1080", "-framerate", "30",
          "-i", "-", "-f", "null", "-"]
    cat = ["sh", "-c", f"cat '{src}' | ffmpeg -hide_banner -nostats -loglevel error "
           + " ".join(ff)]
    res = alternate([("fb", fb_render(frames=n, size="1920x1080", sink=["-f", "null"]), None),
                     ("fbw", fb_render(frames=n, size="1920x1080", sink=["-f", "null"]),
                      {"FB_VMSPLICE": "0"}),
                     ("cat", cat, None)])
    fps = {k: [n / r.wall for r in v] for k, v in res.items()}
    rw = row("into ffmpeg", "1080p rgba -> ffmpeg -f null (vmsplice), K=1", "frames/s",
             fps["fb"], "cat FILE | ffmpeg (plain pipe)", fps["cat"], "ratio >= 1.5")
    rw["met"] = rw["ratio"] >= 1.5
    row("into ffmpeg", "same, FB_VMSPLICE=0 (writev copy)", "frames/s", fps["fbw"],
        "cat FILE | ffmpeg (plain pipe)", fps["cat"], "(what vmsplice buys)")
    return res["fb"]


def end_to_end():
    n = q(300, 10)
    src = os.path.join(TMP, "card720.raw")
    run(["fb-render", "--size", "1280x720", "--frames", str(n), "--source", "pattern",
         "--sink", "raw", "-o", src])
    out_fb, out_ff = os.path.join(TMP, "fb.mp4"), os.path.join(TMP, "ff.mp4")
    x264 = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p"]
    ff_in = ["-hide_banner", "-nostats", "-loglevel", "error", "-f", "rawvideo",
             "-pix_fmt", "rgba", "-s", "1280x720", "-framerate", "30", "-i"]
    res = alternate([
        ("fb", ["fb-render", "--size", "1280x720", "--frames", str(n), "--workers", "2",
                "--source", "raw:" + src, "-o", out_fb], None),
        ("ff", ["ffmpeg"] + ff_in + [src] + x264 + ["-y", out_ff], None),
        ("cat", ["sh", "-c", f"cat '{src}' | ffmpeg " + " ".join(ff_in + ["-"] + x264)
                 + f" -y '{out_ff}.pipe.mp4'"], None)])
    fps = {k: [n / r.wall for r in v] for k, v in res.items()}
    # x264 is deterministic: the broker must hand it exactly the same frames.
    same = open(out_fb, "rb").read() == open(out_ff, "rb").read()
    rw = row("end to end", "720p x264 veryfast via fb-render, K=2, raw file source", "frames/s",
             fps["fb"], "ffmpeg reading the raw file directly", fps["ff"], "ratio >= 0.95",
             note="output mp4 byte-identical to ffmpeg's own: " + ("yes" if same else "NO"))
    rw["met"] = rw["ratio"] >= 0.95
    row("end to end", "the same fb-render, against a plain pipe", "frames/s", fps["fb"],
        "cat FILE | ffmpeg (the same file through a plain pipe)", fps["cat"])
    os.unlink(src)


def segments():
    """The cost of segments (fb-render --segment, issue 24): the default
    (10 s of video per segment: a new x264 per segment, each starting with
    a keyframe, then fb-stitch's checked join) against --segment 0, the same
    frames and x264 options: frames/s and output size."""
    n = q(1800, 20)  # 60 s of video at 30 fps: the default is 6 segments
    outs = {v: os.path.join(TMP, f"seg-{v}.mp4") for v in ("seg", "one")}
    base = ["fb-render", "--size", "1280x720", "--frames", str(n), "--workers", "2",
            "--source", "pattern"]
    seg = ["--segment", "1"] if QUICK else []  # QUICK: too short for the default to segment
    res = alternate([("seg", base + seg + ["-o", outs["seg"]], None),
                     ("one", base + ["--segment", "0", "-o", outs["one"]], None)])
    fps = {k: [n / r.wall for r in v] for k, v in res.items()}
    rw = row("segments", "720p x264 veryfast, K=2, default segments (10 s)", "frames/s",
             fps["seg"], "the same render, --segment 0", fps["one"], "ratio >= 0.97")
    rw["met"] = rw["ratio"] >= 0.97
    sizes = [os.path.getsize(outs["seg"])], [os.path.getsize(outs["one"])]
    rw = row("segments", "same, output size", "bytes", sizes[0], "--segment 0", sizes[1],
             "ratio <= 1.02")
    rw["met"] = rw["ratio"] <= 1.02
    for f in outs.values():
        os.unlink(f)


def node_row(fb_runs):
    n = q(300, 10)
    node = ["node", os.path.join(ROOT, "bench", "node_pipe.js"), "1920", "1080", str(n),
            "--", "-f", "null", "-"]
    res = alternate([("node", node, None),
                     ("fb", fb_render(frames=n, size="1920x1080", sink=["-f", "null"]), None)])
    fps_fb = [n / r.wall for r in res["fb"]]
    fps_node = [n / r.wall for r in res["node"]]
    row("vs Node.js", "throughput, 1080p rgba -> ffmpeg -f null", "frames/s", fps_fb,
        "Node.js stdin.write(Buffer.from(frame)) awaiting 'drain'", fps_node)
    cpu_fb = [(r.cpu - r.ff_cpu) / n * 1e3 for r in res["fb"]]
    cpu_node = [(r.cpu - r.ff_cpu) / n * 1e3 for r in res["node"]]
    rw = row("vs Node.js", "CPU per frame outside ffmpeg (render + transport)", "ms/frame",
             cpu_fb, "Node.js, same", cpu_node, "ratio <= 0.5")
    rw["met"] = rw["ratio"] <= 0.5
    tot_fb = [r.cpu / n * 1e3 for r in res["fb"]]
    tot_node = [r.cpu / n * 1e3 for r in res["node"]]
    row("vs Node.js", "CPU per frame including ffmpeg", "ms/frame", tot_fb, "Node.js, same",
        tot_node)
    # Memory: sampled runs (framebroker: the segment + every process's
    # private memory; Node: its peak RSS — its frames are private memory).
    mem_fb, mem_node = [], []
    for i in range(q(3, 1)):
        name = f"/fb-bench-mem-{os.getpid()}-{i}"
        r = run(fb_render(frames=n, size="1920x1080", sink=["-f", "null"], name=name),
                sample=True, shm_name=name)
        mem_fb.append((r.shm_bytes // 1024 + sum(v[0] for k, v in r.peaks.items()
                                                  if k.startswith("fb-"))) / 1024)
        r = run(node)
        mem_node.append(json.loads(r.out)["max_rss_kb"] / 1024)
    row("vs Node.js", "peak memory outside ffmpeg (segment + private)", "MiB", mem_fb,
        "Node.js peak RSS, awaiting 'drain'", mem_node)
    grow = []
    for frames in q((100, 300), (5, 10)):
        r = run(node[:4] + [str(frames), "--no-drain"] + node[5:])
        grow.append((frames, json.loads(r.out)["max_rss_kb"] / 1024))
    for frames, mib in grow:
        row("vs Node.js", f"Node.js without 'drain', {frames} frames: peak RSS", "MiB", [mib],
            "", None, note="grows with the frame count: the stream buffer holds every frame")
    return grow


def memory():
    counts = q((300, 3000), (20, 60))
    peaks = {c: [] for c in counts}
    for i in range(q(3, 1)):
        for c in (counts if i % 2 == 0 else counts[::-1]):
            r = run(fb_render(frames=c, size="1280x720", workers=2, sink=["-f", "null"]),
                    sample=True)
            peaks[c].append(r.peaks)
    lo, hi = counts
    for name in ("fb-render", "fb-broker", "fb-producer", "fb-encoder"):
        for idx, label in ((0, "RssAnon"), (1, "VmHWM")):
            a = [p.get(name, [0, 0])[idx] for p in peaks[hi]]
            b = [p.get(name, [0, 0])[idx] for p in peaks[lo]]
            rw = row("memory", f"{name} peak {label} at {hi} frames", "kB", a,
                     f"same at {lo} frames", b, "ratio <= 1.05 (no growth)",
                     note="VmHWM counts the shared segment pages the process touched"
                     if idx else "")
            rw["met"] = rw["ratio"] is not None and rw["ratio"] <= 1.05


def scaling():
    n = q(400, 20)
    ks = (1, 2, 4)
    res = alternate([(k, fb_render("--cpu-us", "5000", frames=n, size="320x240", workers=k),
                      None) for k in ks])
    base = [n / r.wall for r in res[1]]
    for k in ks:
        fps = [n / r.wall for r in res[k]]
        limit = min(k, CPUS)
        rw = row("scaling", f"5 ms CPU per frame, K={k}", "frames/s", fps, "K=1", base,
                 f"speedup ~ min(K, cores) = {limit}")
        rw["met"] = rw["ratio"] >= 0.9 * limit


# ---- Python producers (bindings/python) -----------------------------------

def find_python():
    """An interpreter with numpy (Debian's /usr/bin/python3; the python3
    first on PATH may lack it), or None."""
    for py in (os.environ.get("FB_PYTHON"), "/usr/bin/python3", shutil.which("python3")):
        if py and subprocess.run([py, "-c", "import numpy"], capture_output=True).returncode == 0:
            return py
    return None


def python_rows():
    """The same numpy fill (examples/python/numpy_fill.py: frame i all bytes
    i mod 256, as --source fill) into the slots through attach: (K = 1, 2;
    the array dropped before publish, and kept past it: the stale-view cut),
    through a pipe (exec:), against the C fill source; 1080p rgba, raw sink.
    Steady state: each variant runs SMALL and BIG frames, and a figure is
    (BIG - SMALL) / the difference of the two runs' times, so interpreter
    start-up and numpy's import (a fixed cost) are left out."""
    if os.environ.get("FB_SAN"):
        # A sanitizer build's libframebroker.so needs the runtime preloaded
        # into Python, and the instrumented fb-* programs refuse it: the
        # rows would measure the sanitizer (tests/bindings/t_python.sh covers it).
        print("bench: FB_SAN build: Python rows skipped")
        return
    py = find_python()
    if not py:
        print("bench: no interpreter with numpy (Debian: python3-numpy): Python rows skipped")
        return
    small, big = q(200, 4), q(2000, 24)
    size = "1920x1080"
    ex = os.path.join(ROOT, "examples", "python", "numpy_fill.py")
    kinds = {"c1": ("fill", 1), "c2": ("fill", 2), "a1": (f"attach:{py} {ex}", 1),
             "a2": (f"attach:{py} {ex}", 2), "k1": (f"attach:{py} {ex} --keep", 1),
             "e1": (f"exec:{py} {ex} --exec", 1)}
    variants = [(f"{k}:{n}", fb_render(frames=n, size=size, workers=w, source=src), None)
                for k, (src, w) in kinds.items() for n in (small, big)]
    res = alternate(variants)
    fps, cpu = {}, {}
    for k in kinds:
        pairs = list(zip(res[f"{k}:{small}"], res[f"{k}:{big}"]))
        # (a tiny BENCH_QUICK run on a loaded machine can come out negative:
        # then the whole big run, start-up included)
        fps[k] = [(big - small) / (b.wall - s.wall) if b.wall > s.wall else big / b.wall
                  for s, b in pairs]
        cpu[k] = [((b.cpu - s.cpu) / (big - small) if b.cpu > s.cpu else b.cpu / big) * 1e3
                  for s, b in pairs]
    sec = "Python producers"
    for k, what, ref in (("a1", "numpy fill via attach: (the binding), K=1", "c1"),
                         ("a2", "numpy fill via attach:, K=2", "c2")):
        rw = row(sec, what, "frames/s", fps[k], f"C fill source, K={kinds[ref][1]}", fps[ref],
                 "ratio >= 0.8", note="steady state, 1080p rgba")
        rw["met"] = rw["ratio"] >= 0.8
    row(sec, "numpy fill via attach:, K=1, array kept past publish", "frames/s", fps["k1"],
        "C fill source, K=1", fps["c1"], note="the binding cuts the stale array off its slot")
    row(sec, "numpy fill via exec: (a pipe), K=1", "frames/s", fps["e1"], "C fill source, K=1",
        fps["c1"])
    rw = row(sec, "attach: against exec:, K=1", "frames/s", fps["a1"],
             "the same numpy renderer via exec:", fps["e1"], "ratio >= 2")
    rw["met"] = rw["ratio"] >= 2
    for k, what in (("a1", "attach:, K=1"), ("k1", "attach:, K=1, array kept"),
                    ("e1", "exec:, K=1")):
        row(sec, f"CPU per frame, numpy fill via {what} (whole render)", "ms/frame", cpu[k],
            "C fill source, K=1", cpu["c1"])


# ---- output ----------------------------------------------------------------

def fmt(x, unit=""):
    if x is None:
        return "-"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def print_table():
    print(f"\n{'what':<62} {'figure (min-max)':>30} {'reference':>12} {'ratio':>7}  target")
    section = None
    for r in ROWS:
        if r["section"] != section:
            section = r["section"]
            print(f"-- {section}")
        fig = f"{fmt(r['figure'])} {r['unit']} ({fmt(r['min'])}-{fmt(r['max'])})"
        ratio = f"{r['ratio']:.2f}x" if r["ratio"] is not None else "-"
        met = "" if r["met"] is None else (" met" if r["met"] else " NOT MET")
        print(f"{r['what'][:62]:<62} {fig:>30} {fmt(r['ref_figure']):>12} {ratio:>7}  "
              f"{r['target']}{met}")
        if r["reference"]:
            print(f"{'':<4}reference: {r['reference']}" + (f"; {r['note']}" if r["note"] else ""))
        elif r["note"]:
            print(f"{'':<4}{r['note']}")


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as f:
        mem_kb = int(f.readline().split()[1])
    ffv = subprocess.run([REAL_FFMPEG, "-version"], capture_output=True, text=True).stdout
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    if subprocess.run(["git", "-C", ROOT, "diff", "--quiet", "HEAD", "--", "lib", "tools", "broker",
                       "producer", "encoder", "launcher", "bench"]).returncode:
        commit += "-dirty"
    return {"cpu": model, "cpus": CPUS, "mem_gib": round(mem_kb / 2**20, 1),
            "kernel": platform.release(), "ffmpeg": ffv.split("\n")[0].split(" Copyright")[0],
            "node": node, "commit": commit, "date": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
            "runs": RUNS, "quick": QUICK, "load_start": os.getloadavg()[0]}


def write_results(info, grow):
    os.makedirs(RESULTS, exist_ok=True)
    with open(os.path.join(RESULTS, "bench.json"), "w") as f:
        json.dump({"machine": info, "rows": ROWS}, f, indent=1)
    keys = ["section", "what", "unit", "figure", "min", "max", "runs", "reference",
            "ref_figure", "ref_min", "ref_max", "ratio", "target", "met", "note"]
    with open(os.path.join(RESULTS, "bench.csv"), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=keys)
        w.writeheader()
        for r in ROWS:
            w.writerow({k: r.get(k) for k in keys})
    with open(os.path.join(RESULTS, "table.md"), "w") as f:
        f.write(markdown_table(info))
    plot(grow)


def markdown_table(info):
    """The table as docs/performance.md shows it."""
    out = [f"Measured {info['date']} on {info['cpu']} ({info['cpus']} CPUs, "
           f"{info['mem_gib']} GiB), Linux {info['kernel']}, {info['ffmpeg']}, "
           f"Node.js {info['node']}; commit {info['commit']}; median of {info['runs']} runs "
           "(min-max)" + load_note(info) + ".\n",
           "| row | framebroker | reference | ratio | target |",
           "|---|---|---|---|---|"]
    section = None
    for r in ROWS:
        what = r["what"] if r["section"] == section else f"**{r['section']}**: {r['what']}"
        section = r["section"]
        fig = f"{fmt(r['figure'])} {r['unit']} ({fmt(r['min'])}-{fmt(r['max'])})"
        ref = (f"{fmt(r['ref_figure'])} — {r['reference']}" if r["ref_figure"] is not None
               else r["reference"])
        # 3 significant digits: the committed ratio is what a later run
        # is compared with (0.02x would be ±25%)
        ratio = f"{fmt(r['ratio'])}x" if r["ratio"] is not None else ""
        met = "" if r["met"] is None else (" ✔" if r["met"] else " ✘ not met")
        note = f" ({r['note']})" if r["note"] else ""
        cells = [f"{what}{note}", fig, ref, ratio, f"{r['target']}{met}"]
        out.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(out) + "\n"


def load_note(info):
    """The load average the run saw (1-minute, from os.getloadavg), or ""
    for results saved before it was recorded."""
    if "load_start" not in info:
        return ""
    return (f"; load average {info['load_start']:.1f} at the start, "
            f"{info.get('load_end', info['load_start']):.1f} at the end")


# ---- the committed table ---------------------------------------------------

TABLE_HEAD = "| row | framebroker | reference | ratio | target |"


def committed(doc_text):
    """The ratios of DOC_TEXT's table (the first TABLE_HEAD table):
    [(section, row cell, ratio)], the section carried down from its bold
    first row as markdown_table writes it."""
    lines = doc_text.splitlines()
    if TABLE_HEAD not in lines:
        return []
    out, section = [], None
    for line in lines[lines.index(TABLE_HEAD) + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        cell = cells[0]
        if cell.startswith("**") and "**: " in cell:
            section, cell = cell[2:].split("**: ", 1)
        ratio = cells[3][:-1] if len(cells) > 3 and cells[3].endswith("x") else ""
        try:
            out.append((section, cell, float(ratio.replace(",", ""))))
        except ValueError:
            pass
    return out


def compare(rows, doc_text, tol=TOLERANCE):
    """(messages for the rows whose ratio moved beyond TOL from the
    committed one, the rows with a ratio the table lacks).  A row matches a
    committed one of its section whose cell is its 'what', alone or
    followed by its note ("what (note)")."""
    bad, new = [], []
    table = committed(doc_text)
    for r in rows:
        if r.get("ratio") is None:
            continue
        if not any(sec == r["section"] and (cell == r["what"] or cell.startswith(r["what"] + " ("))
                   for sec, cell, _ in table):
            new.append(f"{r['section']}: {r['what']}")
        for sec, cell, ratio in table:
            if sec == r["section"] and (cell == r["what"] or cell.startswith(r["what"] + " (")):
                if not ratio:
                    break  # 0x: nothing to scale
                moved = r["ratio"] / ratio
                if not 1 / tol <= moved <= tol:
                    bad.append(f"{r['section']}: {r['what']}: committed {fmt(ratio)}x, "
                               f"measured {fmt(r['ratio'])}x ({moved:.2f} times the committed)")
                break
    return bad, new


def accept(table_md, doc_path=DOC):
    """Put TABLE_MD (markdown_table's text) in place of DOC_PATH's table:
    from its "Measured ..." line through the table's last row."""
    with open(doc_path) as f:
        lines = f.read().split("\n")
    head = lines.index(TABLE_HEAD)
    start = head
    while start > 0 and not lines[start].startswith("Measured "):
        start -= 1
    end = head
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    new = lines[:start] + table_md.rstrip("\n").split("\n") + lines[end:]
    with open(doc_path, "w") as f:
        f.write("\n".join(new))


def judge(rows, table_md):
    """After a full run: accept (BENCH_ACCEPT=1) or compare.  Exit 1, loud,
    if a row moved too far."""
    rel = os.path.relpath(DOC, ROOT)
    rel = DOC if rel.startswith("..") else rel
    if os.environ.get("BENCH_ACCEPT") == "1":
        accept(table_md)
        print(f"bench: BENCH_ACCEPT=1: the table in {rel} now holds these figures")
        return
    with open(DOC) as f:
        bad, new = compare(rows, f.read())
    for n in new:
        print(f"bench: not in {rel}'s table, not compared: {n}")
    if bad:
        print(f"\nbench: FAILED: {len(bad)} row(s) moved more than {TOLERANCE}x from the "
              f"table committed in {rel}:", file=sys.stderr)
        for b in bad:
            print(f"bench:   {b}", file=sys.stderr)
        print("bench: a regression, or a changed benchmark: if the new figures are right, "
              "accept them with `bench/bench.py --accept` (these results) or "
              "`make bench BENCH_ACCEPT=1`", file=sys.stderr)
        sys.exit(1)
    print(f"bench: every ratio within {TOLERANCE}x of {rel}'s table")


def plot(grow):
    if not shutil.which("gnuplot"):
        print("bench: gnuplot not found; no plots (apt-get install gnuplot-nox)")
        return
    d = RESULTS
    ratios = [r for r in ROWS if r["ratio"] is not None and r["section"] != "memory"]
    with open(os.path.join(TMP, "ratios.dat"), "w") as f:
        for i, r in enumerate(ratios):
            f.write(f'{i} {r["ratio"]:.4f} "{r["section"]}: {r["what"][:48]}"\n')
    scal = [r for r in ROWS if r["section"] == "scaling"]
    with open(os.path.join(TMP, "scaling.dat"), "w") as f:
        for k, r in zip((1, 2, 4), scal):
            f.write(f"{k} {r['figure']:.2f} {r['min']:.2f} {r['max']:.2f} "
                    f"{scal[0]['figure'] * min(k, CPUS):.2f}\n")
    with open(os.path.join(TMP, "grow.dat"), "w") as f:
        for frames, mib in grow:
            f.write(f"{frames} {mib:.1f}\n")
    fbmem = [r for r in ROWS if r["what"].startswith("peak memory outside")]
    script = f"""
set terminal pngcairo noenhanced size 1100,{120 + 28 * len(ratios)} font ",10"
set output "{d}/ratios.png"
set title "framebroker / reference (median of {RUNS} runs; > 1 is faster, except CPU and memory rows)"
set style fill solid 0.6
set yrange [-0.5:{len(ratios) - 0.5}]
set ytics nomirror
set xlabel "ratio"
set grid x
unset key
set arrow 1 from 1, graph 0 to 1, graph 1 nohead lc rgb "black"
plot "{TMP}/ratios.dat" using 2:1:(0):2:($1-0.35):($1+0.35):ytic(3) with boxxyerror
unset arrow 1
set terminal pngcairo noenhanced size 700,450 font ",10"
set output "{d}/scaling.png"
set title "Producers with 5 ms CPU per frame ({CPUS} cores)"
set xlabel "producers K"; set ylabel "frames/s"; set key left top
set xrange [0.5:4.5]; set yrange [0:*]; set xtics (1,2,4); unset ytics; set ytics
set autoscale y
plot "{TMP}/scaling.dat" using 1:2:3:4 with yerrorlines title "measured (median, min-max)", \\
     "{TMP}/scaling.dat" using 1:5 with lines dt 2 title "limit: K=1 x min(K, cores)"
set output "{d}/memory.png"
set title "Peak memory outside ffmpeg, 1080p rgba"
set xlabel "frames"; set ylabel "MiB"; set xrange [0:*]; set xtics auto
plot "{TMP}/grow.dat" using 1:2 with linespoints title "Node.js, 'drain' not awaited", \\
     {fbmem[0]['figure'] if fbmem else 0} with lines title "framebroker, {q(300, 10)} frames (flat: see the memory rows)"
"""
    subprocess.run(["gnuplot"], input=script, text=True, check=True)


def build():
    os.makedirs(os.path.join(BUILD, "wrap"), exist_ok=True)
    cc = os.environ.get("CC", "cc")
    for src, out in (("ref_ring.c", "ref_ring"), ("ffmpeg_cpu.c", "wrap/ffmpeg")):
        subprocess.run([cc, "-O2", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra", "-Werror",
                        "-o", os.path.join(BUILD, out), os.path.join(ROOT, "bench", src),
                        "-pthread"], check=True)


def main():
    if not REAL_FFMPEG or not shutil.which("node"):
        sys.exit("bench: needs ffmpeg and node on PATH")
    build()
    # Our binaries, and the CPU-recording ffmpeg stand-in before the real one
    # (posix_spawnp searches this process's PATH).
    os.environ["PATH"] = os.path.join(BUILD, "wrap") + ":" + BIN + ":" + os.environ["PATH"]
    info = machine()
    print(f"bench: {info['cpu']}, {CPUS} CPUs, {info['mem_gib']} GiB, {info['kernel']}, "
          f"{info['ffmpeg']}, node {info['node']}, commit {info['commit']}, "
          f"{RUNS} runs per figure{' (QUICK)' if QUICK else ''}")
    t0 = time.time()
    src = os.path.join(TMP, "fill1080.raw")
    fill_file(src, 1920 * 1080 * 4, q(300, 10))
    for step in (transport, handoff):
        step()
    fb_runs = into_ffmpeg(src)
    os.unlink(src)
    end_to_end()
    segments()
    grow = node_row(fb_runs)
    memory()
    scaling()
    python_rows()
    info["load_end"] = os.getloadavg()[0]
    print_table()
    write_results(info, grow)
    print(f"\nbench: {time.time() - t0:.0f} s; results in {os.path.relpath(RESULTS, ROOT)}/")
    if QUICK:
        print("bench: BENCH_QUICK: figures not compared with the committed table")
    else:
        judge(ROWS, markdown_table(info))


def saved(path=os.path.join(RESULTS, "bench.json")):
    """The rows and machine of a saved run (bench.json)."""
    with open(path) as f:
        d = json.load(f)
    ROWS.extend(d["rows"])
    return d["machine"]


if __name__ == "__main__":
    if sys.argv[1:] == ["--table"]:  # rewrite table.md from bench.json, no run
        info = saved()
        with open(os.path.join(RESULTS, "table.md"), "w") as f:
            f.write(markdown_table(info))
        sys.exit(0)
    if sys.argv[1:] == ["--accept"]:  # the last run's table into the document
        accept(markdown_table(saved()))
        print(f"bench: the table in {os.path.relpath(DOC, ROOT)} now holds the last run's figures")
        sys.exit(0)
    if len(sys.argv) == 4 and sys.argv[1] == "--check":  # --check BENCH.JSON DOC
        saved(sys.argv[2])
        DOC = sys.argv[3]
        os.environ.pop("BENCH_ACCEPT", None)
        judge(ROWS, "")
        sys.exit(0)
    try:
        main()
    finally:
        shutil.rmtree(TMP, ignore_errors=True)
