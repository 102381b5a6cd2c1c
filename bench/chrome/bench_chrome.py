#!/usr/bin/python3
"""make bench-chrome: fb-html vs `hyperframes render` on hyperframes' own examples.

Registry examples of hyperframes (BENCH_PROJECTS, default
motion-blur,nyt-graph, from BENCH_COMPOSITIONS = ../shared/compositions),
each copied into the cache untouched, rendered by
  hf    `hyperframes render DIR --workers K` (0.9.84, Node 22, Debian chromium)
  hf0   the same with HF_STATIC_DEDUP=0 (its static-frame analysis off)
  fb    `fb-html --workers K DIR -- FFMPEG_OUT` (bin/fb-html: K Chrome workers
        under fb-render, hyperframes' runtime from the bench's own install)
each at its defaults, the fb side given the ffmpeg output options
hyperframes uses at its default quality (HF_FFMPEG_OUT below), interleaved
(hf, hf0, fb, hf, hf0, fb ...), BENCH_RUNS times each (default 3), for
K = 1, 2, 4; medians (min-max).  Per run: frames/s (frames / wall, spawn to
reap, start-up included), CPU s (user+sys of the whole process tree:
getrusage(RUSAGE_CHILDREN) across the run, the harness being a child
subreaper so orphaned Chrome processes are reaped and counted here too),
wall / (CPU s / cores) (1.0: every core busy from spawn to reap), peak RSS
and peak PSS summed over every process of the tree (RSS from
/proc/PID/statm every BENCH_SAMPLE_MS, default 100; PSS from
/proc/PID/smaps_rollup every BENCH_PSS_MS, default 500: it costs ~3 ms of
CPU per Chrome process), and the CPU split by process kind (/proc/PID/stat
at the same samples).  Then, on the first project at K=2, one Chrome
renderer SIGKILLed after a third of the clean run's median wall time (the
busiest --type=renderer process of the run's own tree): time to finish,
exit code, frames in the output (ffprobe).  Then each project's two K=2
outputs (hf, fb) compared with ffmpeg's psnr and ssim filters.

Prints the tables and writes bench/results/chrome.md and chrome.json
(BENCH_RESULTS=DIR elsewhere).  Options: --quick (the first project's first
second, K = 1 2, one run: checks the harness, figures mean nothing),
--only hf,hf0,fb, --ks 1,2, --projects a,b, --no-kill, --no-compare.  A
render that fails is a row saying so, not the end of the bench; benchmarks
report, they never fail on a figure.
"""
import argparse
import ctypes
import json
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HERE = os.path.join(ROOT, "bench", "chrome")
CACHE = os.path.abspath(os.environ.get("BENCH_CHROME_CACHE", os.path.join(ROOT, "build", "bench-chrome")))
RESULTS = os.environ.get("BENCH_RESULTS", os.path.join(ROOT, "bench", "results"))
COMPOSITIONS = os.path.abspath(os.environ.get("BENCH_COMPOSITIONS",
                                              os.path.join(ROOT, "..", "shared", "compositions")))
SAMPLE_S = int(os.environ.get("BENCH_SAMPLE_MS", "100")) / 1000.0
# smaps_rollup costs ~3 ms of CPU per Chrome process (it walks every
# mapping; Chrome has thousands): PSS every BENCH_PSS_MS, default 500 ms,
# so the sampler takes ~5 % of a core, not ~30 %.  RSS (statm) and CPU
# (stat) are cheap: every sample.
PSS_EVERY = max(1, int(int(os.environ.get("BENCH_PSS_MS", "500")) / 1000.0 / SAMPLE_S + 0.5))
CORES = os.cpu_count() or 1
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024
NAMES = {"hf": "hyperframes", "hf0": "hyperframes HF_STATIC_DEDUP=0", "fb": "fb-html"}

# hyperframes 0.9.84's x264 options at its default quality ("looks", CRF 16),
# read from /proc during `hyperframes render`: it encodes each span of
# frames to a part and concatenates them, so it adds per-part GOP settings
# (-g N -keyint_min N -force_key_frames, scenecut=0, open-gop=0,
# repeat-headers=1, -threads 2) that only serve the joining; fb encodes one
# stream and is given the rest, so both encode the same way.
HF_FFMPEG_OUT = [
    "-c:v", "libx264", "-preset", "medium", "-crf", "16", "-bf", "0",
    "-x264-params", "aq-mode=3:aq-strength=0.8:deblock=1,1:colorprim=bt709:transfer=bt709:colormatrix=bt709",
    "-colorspace:v", "bt709", "-color_primaries:v", "bt709", "-color_trc:v", "bt709", "-color_range", "tv",
    "-vf", "scale=in_color_matrix=bt601:in_range=pc:flags=neighbor+accurate_rnd,format=gbrp,"
           "scale=out_color_matrix=bt709:out_range=tv:flags=neighbor,"
           "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv",
    "-video_track_timescale", "90000", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
]


# ---- the process tree ------------------------------------------------------

def become_subreaper():
    """Orphans of a run (a Chrome child whose browser died first) are
    reparented to us, so we reap them and their CPU lands in our
    RUSAGE_CHILDREN, and the sampler still sees them."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(36, 1, 0, 0, 0) != 0:  # PR_SET_CHILD_SUBREAPER
        sys.exit("bench_chrome: prctl(PR_SET_CHILD_SUBREAPER): %s" % os.strerror(ctypes.get_errno()))


def ppid_of(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        return int(st[st.rindex(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return None


class ProcTree:
    """The live descendants of a process.  Each pid's parent is read once
    and kept (re-read when that parent is gone: an orphan reparented to
    us); a sample then costs one listdir of /proc and a read per new
    process, where reading every /proc/*/stat each time cost ~100 ms on
    this busy machine."""

    def __init__(self):
        self.parent = {}

    def __call__(self, root):
        live = set(int(d) for d in os.listdir("/proc") if d.isdigit())
        for pid in list(self.parent):
            if pid not in live:
                del self.parent[pid]
        kids = {}
        for pid in live:
            pp = self.parent.get(pid)
            if pp is None or (pp not in live and pp != 0):
                pp = ppid_of(pid)
                if pp is None:
                    continue
                self.parent[pid] = pp
            kids.setdefault(pp, []).append(pid)
        out, todo = [], [root]
        while todo:
            for c in kids.get(todo.pop(), ()):
                out.append(c)
                todo.append(c)
        return out


def tree(root):
    """Every live descendant of ROOT (one full scan)."""
    return ProcTree()(root)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")
    except OSError:
        return []


def kind(pid, argv):
    """What a process is, for the CPU split.  Chrome rewrites its children's
    command lines into one string (setproctitle): look for --type= in the
    whole of it."""
    if not argv or not argv[0]:
        return None
    whole = b" ".join(argv)
    exe = os.path.basename(whole.split(b" ", 1)[0].decode(errors="replace"))
    if b"chrom" in exe.encode() or exe in ("exe", "headless_shell"):
        m = re.search(rb"--type=(\S+)", whole)
        if not m:
            return "chrome browser"
        t = m.group(1).decode(errors="replace")
        return "chrome utility" if t == "utility" else "chrome " + t
    if exe == "node":
        return "node"
    if exe in ("ffmpeg", "ffprobe"):
        return "ffmpeg"
    return exe


def cpu_ticks(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            st = f.read()
        fields = st[st.rindex(")") + 2:].split()
        return int(fields[11]) + int(fields[12])  # utime + stime
    except (OSError, ValueError, IndexError):
        return None


def rss_kb(pid):
    try:
        with open("/proc/%d/statm" % pid) as f:
            return int(f.read().split()[1]) * PAGE_KB
    except (OSError, ValueError, IndexError):
        return None


def rss_pss_kb(pid):
    """(Rss, Pss) kB from smaps_rollup, or None."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            text = f.read()
    except OSError:
        return None
    rss = pss = 0
    for line in text.splitlines():
        if line.startswith("Rss:"):
            rss = int(line.split()[1])
        elif line.startswith("Pss:"):
            pss = int(line.split()[1])
    return rss, pss


class Sampler(threading.Thread):
    """Every SAMPLE_S: the tree under us; the sums of Rss and Pss (peak of
    the sums), and each process's CPU ticks (last value seen, by kind)."""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.peak_rss = self.peak_pss = 0
        self.pss_peak = {}     # kind -> peak over the samples of that kind's Pss sum, kB
        self.ticks = {}      # pid -> (kind, last ticks)
        self.samples = 0

    def run(self):
        me = os.getpid()
        procs = ProcTree()
        while not self.stop.is_set():
            rss = pss = 0
            by_kind = {}
            for pid in procs(me):
                # Asked every sample (a cheap read): a process first seen
                # between fork and exec has its parent's command line (a
                # renderer forked by the zygote, node forked by fb-render,
                # Debian's /usr/bin/chromium, a script that execs).
                k = kind(pid, cmdline(pid))
                if k is None:
                    continue
                r = rss_kb(pid)
                if r:
                    rss += r
                if self.samples % PSS_EVERY == 0:
                    m = rss_pss_kb(pid)
                    if m:
                        pss += m[1]
                        by_kind[k] = by_kind.get(k, 0) + m[1]
                t = cpu_ticks(pid)
                if t is not None:
                    self.ticks[pid] = (k, t)
            self.peak_rss = max(self.peak_rss, rss)
            self.peak_pss = max(self.peak_pss, pss)
            for k, v in by_kind.items():
                self.pss_peak[k] = max(self.pss_peak.get(k, 0), v)
            self.samples += 1
            self.stop.wait(SAMPLE_S)

    def split(self):
        """CPU s by kind (sampled: up to one interval of a process's last
        CPU is missed; the rusage total is the exact figure)."""
        out = {}
        for k, t in self.ticks.values():
            out[k] = out.get(k, 0.0) + t / TICK
        return out


def reap_leftovers(deadline_s=5.0):
    """After the run's root has exited: wait for its orphans, then kill
    what is left of *our own* tree, and reap everything."""
    me = os.getpid()
    end = time.monotonic() + deadline_s
    while True:
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        left = tree(me)
        if not left:
            return 0
        if time.monotonic() > end:
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.2)
            try:
                while os.waitpid(-1, os.WNOHANG)[0] > 0:
                    pass
            except ChildProcessError:
                pass
            return len(left)
        time.sleep(0.05)


class Run:
    def __init__(self, **kw):
        self.__dict__.update(kw)


def run(who, argv, cwd, env, out, frames, kill_at=None):
    """Run ARGV to completion under the sampler; optionally SIGKILL the
    busiest Chrome renderer of our tree KILL_AT s after the start."""
    if os.path.exists(out):
        os.unlink(out)
    log = out + ".log"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    sampler = Sampler()
    t0 = time.perf_counter()
    with open(log, "w") as lf:
        p = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT)
    sampler.start()
    killed = {}
    if kill_at is not None:
        def killer():
            if sampler.stop.wait(kill_at):
                return
            best = None
            for pid in tree(os.getpid()):
                if re.search(rb"--type=renderer\b", b" ".join(cmdline(pid))):
                    t = cpu_ticks(pid) or 0
                    if best is None or t > best[1]:
                        best = (pid, t)
            if best:
                try:
                    os.kill(best[0], signal.SIGKILL)
                    killed["pid"], killed["at"] = best[0], time.perf_counter() - t0
                except ProcessLookupError:
                    pass
        threading.Thread(target=killer, daemon=True).start()
    rc = p.wait()
    wall = time.perf_counter() - t0
    leftovers = reap_leftovers()
    sampler.stop.set()
    sampler.join()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    got = count_frames(out)
    r = Run(who=who, rc=rc, wall=wall, fps=frames / wall, cpu=cpu, rss_mb=sampler.peak_rss / 1024.0,
            pss_mb=sampler.peak_pss / 1024.0, split=sampler.split(),
            pss_split={k: v / 1024.0 for k, v in sampler.pss_peak.items()}, frames=got, complete=(rc == 0 and got == frames),
            killed=killed.get("pid"), killed_at=killed.get("at"), leftovers=leftovers, log=log, out=out,
            samples=sampler.samples,
            wall_per_cpu=wall / (cpu / CORES) if cpu > 0 else float("inf"))
    r.error = None
    if rc != 0 or got != frames:
        # One line of the log says why (the renderer's own words), kept
        # with the run; the bench goes on with the other rows.
        with open(log, errors="replace") as f:
            lines = [x.strip() for x in f.read().splitlines() if x.strip()]
        # Not hyperframes' routine notices (no beginFrame here, a favicon
        # 404), not fb-render's "producer exited" when the worker said why.
        why = [x for x in lines if re.search(r"error|fail|refus|cannot|not found|unknown", x, re.I)
               and not re.search(r"beginFrame probe failed|^\[non-blocking\]", x)]
        own = [x for x in why if not x.startswith("fb-render: producer")]
        r.error = (own or why or lines or ["(empty log)"])[-1][:300]
    return r


def count_frames(path):
    if not os.path.exists(path):
        return 0
    p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                        "-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", path],
                       capture_output=True, text=True)
    try:
        return int(p.stdout.strip().split(",")[0])
    except ValueError:
        return 0



# ---- the projects and the renderers ---------------------------------------

def load_env():
    env = dict(os.environ)
    vals = {}
    with open(os.path.join(CACHE, "env.sh")) as f:
        for line in f:
            line = line.strip()
            if line.startswith("export "):
                for kv in line[7:].split():
                    k, v = kv.split("=", 1)
                    env[k] = v
            elif "=" in line:
                k, v = line.split("=", 1)
                vals[k] = v.strip("'")
    return env, vals


def stated(index_html):
    """(width, height, fps, seconds) the root composition states, read here
    with a regex of its own (not fb-html's parser: that is under test)."""
    with open(index_html, errors="replace") as f:
        text = f.read()
    m = re.search(r"<[^>]*data-composition-id[^>]*>", text)
    if not m:
        sys.exit("bench_chrome: %s has no root composition (data-composition-id)" % index_html)
    attr = dict(re.findall(r'data-(width|height|fps|duration)="([^"]*)"', m.group(0)))
    try:
        return int(attr["width"]), int(attr["height"]), float(attr.get("fps", 30)), float(attr["duration"])
    except (KeyError, ValueError):
        sys.exit("bench_chrome: %s: root composition without data-width/-height/-duration" % index_html)


class Project:
    """A registry example copied into the cache as it is (only made
    writable: hyperframes keeps a .hyperframes/ state dir in the project)."""

    def __init__(self, name, seconds=None):
        src = os.path.join(COMPOSITIONS, name)
        if not os.path.isfile(os.path.join(src, "index.html")):
            sys.exit("bench_chrome: %s/index.html missing (BENCH_COMPOSITIONS=%s: the registry examples)"
                     % (src, COMPOSITIONS))
        self.name = name
        self.dir = os.path.join(CACHE, "projects", name)
        shutil.rmtree(self.dir, ignore_errors=True)
        shutil.copytree(src, self.dir)
        for d, _, files in os.walk(self.dir):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        self.w, self.h, self.fps, full = stated(os.path.join(self.dir, "index.html"))
        self.seconds = seconds or full
        self.full = seconds is None
        # Frames at t = i / fps inside [0, seconds) (what both renderers make).
        self.frames = max(1, int(-(-(self.seconds * self.fps - 1e-6) // 1)))


class Bench:
    def __init__(self, args):
        self.args = args
        self.env, vals = load_env()
        self.node22, self.hf, self.hf_pkg = vals["NODE22"], vals["HF"], vals["HF_PKG"]
        self.tmp = tempfile.mkdtemp(prefix="fb-bench-chrome.", dir=os.environ.get("TMPDIR", "/tmp"))
        # The same browser binary on both sides (BENCH_CHROME=new: Debian's
        # chromium, new headless, what hyperframes is pointed at; shell:
        # Debian's chromium-headless-shell for both).
        self.engine = os.environ.get("BENCH_CHROME", "new")
        if self.engine not in ("new", "shell"):
            sys.exit("bench_chrome: BENCH_CHROME=%s: new or shell" % self.engine)
        if self.engine == "shell":
            self.env["HYPERFRAMES_BROWSER_PATH"] = "/usr/lib/chromium/chromium-headless-shell"

    def hf_argv(self, proj, k, out):
        # --no-browser-gpu: this machine has no GPU; hyperframes would probe
        # for one per render and end up in software GL anyway.
        argv = [self.node22, self.hf, "render", proj.dir, "--workers", str(k),
                "--no-browser-gpu", "--quiet", "-o", out]
        if not proj.full:
            argv += ["--end", "%g" % proj.seconds]
        return argv

    def fb_argv(self, proj, k, out):
        argv = [os.path.join(ROOT, "bin", "fb-html"), "--workers", str(k),
                "--engine", self.engine, "--hyperframes", self.hf_pkg,
                "--modules", os.path.join(CACHE, "node_modules"), "--log-level", "warning"]
        if not proj.full:
            argv += ["--duration", "%g" % proj.seconds]
        return argv + [proj.dir, "-o", out, "--"] + HF_FFMPEG_OUT

    def one(self, proj, who, k, tag, kill_at=None):
        out = os.path.join(self.tmp, "%s-%s-k%d-%s.mp4" % (proj.name, who, k, tag))
        if who == "fb":
            return run(who, self.fb_argv(proj, k, out), ROOT, self.env, out, proj.frames, kill_at)
        env = dict(self.env)
        if who == "hf0":
            env["HF_STATIC_DEDUP"] = "0"
        return run(who, self.hf_argv(proj, k, out), proj.dir, env, out, proj.frames, kill_at)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summary(runs, attr):
    xs = [getattr(r, attr) for r in runs if r.complete]
    if not xs:
        return float("nan"), float("nan"), float("nan")
    return med(xs), min(xs), max(xs)


def fmt3(t, nd=1):
    m, lo, hi = t
    if m != m:
        return "-"
    return "%.*f (%.*f-%.*f)" % (nd, m, nd, lo, nd, hi)


def compare(a, b):
    res = {}
    for filt in ("psnr", "ssim"):
        p = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", a, "-i", b,
                            "-lavfi", "[0][1]%s" % filt, "-f", "null", "-"], capture_output=True, text=True)
        line = [x for x in p.stderr.splitlines() if "Parsed_%s" % filt in x]
        res[filt] = line[-1].split("] ", 1)[-1] if line else "failed: " + p.stderr[-300:]
    return res


def say(proj, k, who, label, r):
    if r.killed is not None or label.startswith("kill"):
        print("  %s K=%d %s %s: renderer %s killed at %.1f s; finished in %.1f s, exit %d, %d/%d frames"
              % (proj.name, k, who, label, r.killed, r.killed_at or -1, r.wall, r.rc, r.frames, proj.frames),
              flush=True)
        return
    if not r.complete:
        print("  %s K=%d %s %s: FAILED after %.1f s (exit %d, %d of %d frames): %s"
              % (proj.name, k, who, label, r.wall, r.rc, r.frames, proj.frames, r.error), flush=True)
        return
    print("  %s K=%d %s %s: %.1f s, %.2f frames/s, CPU %.1f s, wall/(CPU/%d) %.2f, RSS %.0f MB, PSS %.0f MB, "
          "%d frames%s" % (proj.name, k, who, label, r.wall, r.fps, r.cpu, CORES, r.wall_per_cpu, r.rss_mb,
                             r.pss_mb, r.frames,
                             "" if r.leftovers == 0 else ", %d leftover processes killed" % r.leftovers), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default=None, help="hf,hf0,fb")
    ap.add_argument("--ks", default=None)
    ap.add_argument("--projects", default=None)
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--no-compare", action="store_true")
    args = ap.parse_args()
    whos = (args.only or "hf,hf0,fb").split(",")
    if not whos or any(w not in NAMES for w in whos):
        sys.exit("bench_chrome: --only %s: a list of hf, hf0, fb" % args.only)
    runs_n = 1 if args.quick else int(os.environ.get("BENCH_RUNS", "3"))
    # One kill run each by default: hyperframes, as shipped, may wait out
    # its CDP protocol timeout (300 s) before it redoes a dead worker's frames.
    kill_n = int(os.environ.get("BENCH_KILL_RUNS", "1"))
    ks = [int(x) for x in (args.ks or ("1,2" if args.quick else "1,2,4")).split(",")]
    names = (args.projects or os.environ.get("BENCH_PROJECTS", "motion-blur,nyt-graph")).split(",")
    if args.quick and not args.projects:
        names = names[:1]

    subprocess.run(["sh", os.path.join(HERE, "setup.sh"), CACHE], check=True)
    if "fb" in whos and not (os.access(os.path.join(ROOT, "bin", "fb-html"), os.X_OK)
                             and os.path.exists(os.path.join(ROOT, "html", "worker.mjs"))):
        sys.exit("bench_chrome: bin/fb-html or html/worker.mjs is missing (make all; or --only hf,hf0)")
    become_subreaper()
    b = Bench(args)
    projs = [Project(n, 1.0 if args.quick else None) for n in names]
    print("bench-chrome: %s; runs %d, K %s, %s; %d cores (load %s); scratch %s"
          % (", ".join("%s %dx%d %g fps %d frames" % (p.name, p.w, p.h, p.fps, p.frames) for p in projs),
             runs_n, ks, " vs ".join(whos), CORES, "%.2f %.2f %.2f" % os.getloadavg(), b.tmp), flush=True)

    knobs = " ".join("%s=%s" % (k, v) for k, v in sorted(os.environ.items())
                     if k.startswith("BENCH_") and k not in ("BENCH_RESULTS", "BENCH_CHROME_CACHE"))
    results = {"command": " ".join(x for x in [knobs, "bench/chrome/bench_chrome.py"] + sys.argv[1:] if x),
               "runs": runs_n, "quick": args.quick, "machine": machine(), "engine": b.engine,
               "ffmpeg_out": HF_FFMPEG_OUT, "projects": {}}
    tables = []
    for p in projs:
        pr = results["projects"][p.name] = {"frames": p.frames, "size": "%dx%d" % (p.w, p.h), "fps": p.fps,
                                            "clean": {}, "kill": {}, "compare": {}}
        table = []
        for k in ks:
            rs = {w: [] for w in whos}
            for i in range(runs_n):
                for w in whos:
                    r = b.one(p, w, k, "r%d" % i)
                    rs[w].append(r)
                    say(p, k, w, "run %d" % (i + 1), r)
            pr["clean"][k] = {w: [vars(r) for r in rs[w]] for w in whos}
            table.append((k, rs))
        kill_rows = []
        if not args.no_kill and p is projs[0]:
            k = 2 if 2 in ks else ks[0]
            ref = dict(table)[k]
            # --quick kills fb's renderer only: hyperframes, as shipped,
            # waits out its 300 s CDP protocol timeout after a kill.
            krs = {w: [] for w in whos if w == "fb" or (w == "hf" and not args.quick)}
            for i in range(kill_n):
                for w in krs:
                    wall = summary(ref[w], "wall")[0]
                    if wall != wall:
                        continue
                    r = b.one(p, w, k, "kill%d" % i, kill_at=wall / 3.0)
                    krs[w].append(r)
                    say(p, k, w, "kill run %d" % (i + 1), r)
            pr["kill"][k] = {w: [vars(r) for r in krs[w]] for w in krs}
            kill_rows.append((k, ref, krs))
        if not args.no_compare and "hf" in whos and "fb" in whos:
            k = 2 if 2 in ks else ks[0]
            rs = dict(table)[k]
            a = [r for r in rs["hf"] if r.complete]
            c = [r for r in rs["fb"] if r.complete]
            if a and c:
                pr["compare"] = compare(a[-1].out, c[-1].out)
                pr["compare"]["files"] = [a[-1].out, c[-1].out]
        tables.append((p, table, kill_rows, pr))

    md = report(whos, tables, results)
    print(md)
    os.makedirs(RESULTS, exist_ok=True)
    name = "chrome-quick" if args.quick else "chrome"
    with open(os.path.join(RESULTS, name + ".md"), "w") as f:
        f.write(md)
    with open(os.path.join(RESULTS, name + ".json"), "w") as f:
        json.dump(results, f, indent=1, default=str)
    print("bench-chrome: wrote %s/%s.md and %s.json (outputs kept in %s)" % (RESULTS, name, name, b.tmp))


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpus": CORES, "model": model, "loadavg_at_start": "%.2f %.2f %.2f" % os.getloadavg(),
            "chromium": subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True,
                                       text=True).stdout.strip()}


def target(value, limit, better):
    """VALUE beside the issue's target: met or missed, said in words."""
    if value != value:
        return "-"
    ok = value >= limit if better == "high" else value <= limit
    return "%.2fx (%s %s%.2gx)" % (value, "met:" if ok else "MISSED:", ">=" if better == "high" else "<=", limit)


def folded(split):
    out = {}
    for kk, v in split.items():
        kk = kk if kk.startswith("chrome") or kk in ("node", "ffmpeg") or kk.startswith("fb-") else "other"
        out[kk] = out.get(kk, 0.0) + v
    return out


def report(whos, tables, results):
    L = []
    m = results["machine"]
    L.append("### fb-html vs hyperframes render on hyperframes' registry examples%s"
             % (" (QUICK: the harness check, figures mean nothing)" if results["quick"] else ""))
    L.append("")
    L.append("Each renderer at its defaults; the same x264 output options on both sides (hyperframes' own at "
             "its default quality \"looks\": `%s`); median (min-max) of %d interleaved runs; %d CPUs (%s), "
             "load at start %s, the machine shared with other work; %s, engine %s on both sides."
             % (" ".join(results["ffmpeg_out"]), results["runs"], m["cpus"], m["model"], m["loadavg_at_start"],
                m["chromium"], results["engine"]))
    L.append("")
    L.append("Command: `%s`" % results["command"])
    for p, table, kill_rows, pr in tables:
        L.append("")
        L.append("#### %s: %dx%d, %g fps, %d frames%s" % (p.name, p.w, p.h, p.fps, p.frames,
                                                           "" if p.full else " (its first %g s)" % p.seconds))
        L.append("")
        L.append("| K | renderer | frames/s | CPU s | wall / (CPU s / %d) (target <= 1.1) | peak RSS MB | "
                 "peak PSS MB | fb/hf frames/s (target >= 1.5x) | fb/hf PSS (target <= 0.9x) |" % CORES)
        L.append("|---|---|---|---|---|---|---|---|---|")
        for k, rs in table:
            for w in whos:
                rr = rs[w]
                ratio = ratio_p = ""
                if w == "fb" and "hf" in rs:
                    ratio = target(summary(rr, "fps")[0] / summary(rs["hf"], "fps")[0], 1.5, "high")
                    ratio_p = target(summary(rr, "pss_mb")[0] / summary(rs["hf"], "pss_mb")[0], 0.9, "low")
                bad = [r for r in rr if not r.complete]
                name = NAMES[w] + ("" if not bad else " (%d of %d runs FAILED: exit %d, %d frames: %s)"
                                   % (len(bad), len(rr), bad[0].rc, bad[0].frames, bad[0].error))
                L.append("| %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                    k, name, fmt3(summary(rr, "fps"), 2), fmt3(summary(rr, "cpu")),
                    fmt3(summary(rr, "wall_per_cpu"), 2), fmt3(summary(rr, "rss_mb"), 0),
                    fmt3(summary(rr, "pss_mb"), 0), ratio, ratio_p))
        for k, ref, krs in kill_rows:
            L.append("")
            L.append("One Chrome renderer SIGKILLed at 1/3 of the clean median wall time, K=%d:" % k)
            L.append("")
            L.append("| renderer | clean wall s | wall s with the kill | extra s | exit codes | frames in output |")
            L.append("|---|---|---|---|---|---|")
            for w, runs in krs.items():
                if not runs:
                    continue
                cw = summary(ref[w], "wall")[0]
                kw = [r.wall for r in runs]
                L.append("| %s | %.1f | %s | %+.1f | %s | %s of %d |" % (
                    NAMES[w], cw, fmt3((med(kw), min(kw), max(kw))), med(kw) - cw,
                    ",".join(str(r.rc) for r in runs), ",".join(str(r.frames) for r in runs), p.frames))
        c = pr.get("compare")
        if c and "psnr" in c:
            L.append("")
            L.append("The two K=%d outputs compared (ffmpeg, hyperframes first): psnr %s; ssim %s"
                     % (2 if any(k == 2 for k, _ in table) else table[0][0], c["psnr"], c["ssim"]))
        mids = {}
        for k, rs in table:
            for w in whos:
                ok = sorted([r for r in rs[w] if r.complete], key=lambda r: r.wall)
                if ok:
                    mids[k, w] = ok[len(ok) // 2]
        if not mids:
            continue
        L.append("")
        L.append("CPU split by process kind (median-wall run, s, sampled from /proc every %d ms), and peak PSS of "
                 "each kind (MB; each kind's own peak, so they add up to more than the tree's):"
                 % int(SAMPLE_S * 1000))
        L.append("")
        kinds = sorted({kk for r in mids.values() for kk in folded(r.split)})
        L.append("| K | renderer | CPU total (rusage) | " + " | ".join(kinds) + " |")
        L.append("|---|---|---|" + "---|" * len(kinds))
        for (k, w), rr in mids.items():
            f = folded(rr.split)
            L.append("| %d | %s | %.1f | " % (k, NAMES[w], rr.cpu) + " | ".join("%.1f" % f.get(kk, 0.0) for kk in kinds)
                     + " |")
        L.append("")
        pk = sorted({kk for r in mids.values() for kk in folded(r.pss_split)})
        L.append("| K | renderer | peak PSS | " + " | ".join(pk) + " |")
        L.append("|---|---|---|" + "---|" * len(pk))
        for (k, w), rr in mids.items():
            f = folded(rr.pss_split)
            L.append("| %d | %s | %.0f | " % (k, NAMES[w], rr.pss_mb) + " | ".join("%.0f" % f.get(kk, 0.0) for kk in pk)
                     + " |")
    L.append("")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
