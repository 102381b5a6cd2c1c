#!/usr/bin/python3
"""make bench-chrome: framebroker's Chrome workers vs `hyperframes render`.

One composition (bench/chrome/setup.sh: hyperframes' blank template,
animated, 1920x1080, 30 fps, BENCH_CHROME_DURATION s, default 5 = 150
frames), rendered by
  hf  `hyperframes render --workers K` (its CLI, Node 22, Debian chromium)
  fb  `fb-render --workers K --frame-format jpeg --source attach:node
       html/worker.mjs PAGE` with hyperframes' own ffmpeg output
       options (libx264 medium crf 16 ...), PAGE = the page hyperframes
       serves Chrome for that project (setup.sh, hf_page.mjs)
alternately (hf, fb, hf, fb ...), BENCH_RUNS times each (default 3), for
K = 1, 2, 4; medians (min-max).  Per run: frames/s (frames / wall, spawn to
reap), CPU s (user+sys of the whole process tree: getrusage(RUSAGE_CHILDREN)
across the run, the harness being a child subreaper so orphaned Chrome
processes are reaped and counted here too), peak RSS and peak PSS summed over
every process of the tree (RSS from /proc/PID/statm every BENCH_SAMPLE_MS,
default 100; PSS from /proc/PID/smaps_rollup every BENCH_PSS_MS, default
500: it costs ~3 ms of CPU per Chrome process), and the CPU split by process kind (/proc/PID/
stat at the same samples).  Then the same at K=2 with one Chrome renderer
SIGKILLed after a third of the clean run's median wall time (the busiest
--type=renderer process of the run's own tree): time to finish, exit code,
frames in the output (ffprobe).  Then the two K=2 outputs compared with
ffmpeg's psnr and ssim filters.

Prints the tables and writes bench/results/chrome.md and chrome.json
(BENCH_RESULTS=DIR elsewhere).  Options: --quick (1 s, K = 1 2, one run:
checks the harness, figures mean nothing), --only hf|fb, --ks 1,2,
--no-kill, --no-compare.  Benchmarks report; they never fail on a figure.
"""
import argparse
import ctypes
import json
import os
import re
import resource
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
SAMPLE_S = int(os.environ.get("BENCH_SAMPLE_MS", "100")) / 1000.0
# smaps_rollup costs ~3 ms of CPU per Chrome process (it walks every
# mapping; Chrome has thousands): PSS every BENCH_PSS_MS, default 500 ms,
# so the sampler takes ~5 % of a core, not ~30 %.  RSS (statm) and CPU
# (stat) are cheap: every sample.
PSS_EVERY = max(1, int(int(os.environ.get("BENCH_PSS_MS", "500")) / 1000.0 / SAMPLE_S + 0.5))
FPS = 30
W, H = 1920, 1080
TICK = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

# hyperframes' own encoder arguments after `-i -` (read from /proc during
# `hyperframes render` 0.8.170, quality "looks", the default): the fb side
# is given exactly these, so both encode the same way.  hyperframes then
# remuxes with -movflags +faststart; fb's ffmpeg does that in one go.
HF_FFMPEG_OUT = [
    "-c:v", "libx264", "-preset", "medium", "-crf", "16", "-bf", "0",
    "-x264-params", "aq-mode=3:aq-strength=0.8:deblock=1,1:colorprim=bt709:transfer=bt709:colormatrix=bt709",
    "-colorspace:v", "bt709", "-color_primaries:v", "bt709", "-color_trc:v", "bt709", "-color_range", "tv",
    "-vf", "scale=in_color_matrix=bt601:in_range=pc:flags=neighbor+accurate_rnd,format=gbrp,"
           "scale=out_color_matrix=bt709:out_range=tv:flags=neighbor",
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
            samples=sampler.samples)
    if rc != 0 and kill_at is None:
        with open(log, errors="replace") as f:
            tail = f.read()[-1500:]
        sys.exit("bench_chrome: %s failed (exit %d): %s\n...%s" % (who, rc, " ".join(argv), tail))
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


# ---- the two renderers -----------------------------------------------------

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


class Bench:
    def __init__(self, args):
        self.args = args
        self.dur = 1 if args.quick else int(os.environ.get("BENCH_CHROME_DURATION", "5"))
        self.frames = self.dur * FPS
        self.proj = os.path.join(CACHE, "proj-%ds" % self.dur)
        self.page = os.path.join(self.proj, "fb-index.html")
        self.env, vals = load_env()
        self.node22, self.hf = vals["NODE22"], vals["HF"]
        self.tmp = tempfile.mkdtemp(prefix="fb-bench-chrome.", dir=os.environ.get("TMPDIR", "/tmp"))
        # The same browser binary on both sides (BENCH_CHROME=new: Debian's
        # chromium, new headless, what hyperframes is pointed at; shell:
        # Debian's chromium-headless-shell for both, which the worker
        # prefers when it is installed).
        self.engine = os.environ.get("BENCH_CHROME", "new")
        if self.engine not in ("new", "shell"):
            sys.exit("bench_chrome: BENCH_CHROME=%s: new or shell" % self.engine)
        if self.engine == "shell":
            self.env["HYPERFRAMES_BROWSER_PATH"] = "/usr/lib/chromium/chromium-headless-shell"
        src = os.environ.get("BENCH_FB_SOURCE",
                             "attach:node html/worker.mjs --quality 100 --engine {engine} {page}")
        self.fb_source = src.format(page=self.page, engine=self.engine)

    def hf_argv(self, k, out):
        # --no-browser-gpu: this machine has no GPU, hyperframes would end
        # up in software GL anyway, after a probe browser per render.
        return [self.node22, self.hf, "render", "--workers", str(k), "--fps", str(FPS),
                "--no-browser-gpu", "--quiet", "-o", out]

    def fb_argv(self, k, out):
        return [os.path.join(ROOT, "bin", "fb-render"), "--workers", str(k), "--size", "%dx%d" % (W, H),
                "--fps", str(FPS), "--frames", str(self.frames), "--frame-format", "jpeg",
                "--source", self.fb_source, "--log-level", "warning", "-o", out, "--"] + HF_FFMPEG_OUT

    def one(self, who, k, tag, kill_at=None):
        out = os.path.join(self.tmp, "%s-k%d-%s.mp4" % (who, k, tag))
        if who == "hf":
            return run("hf", self.hf_argv(k, out), self.proj, self.env, out, self.frames, kill_at)
        return run("fb", self.fb_argv(k, out), ROOT, self.env, out, self.frames, kill_at)


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def summary(runs, attr):
    xs = [getattr(r, attr) for r in runs]
    return med(xs), min(xs), max(xs)


def fmt3(t, nd=1):
    m, lo, hi = t
    return "%.*f (%.*f-%.*f)" % (nd, m, nd, lo, nd, hi)


def compare(a, b):
    res = {}
    for filt in ("psnr", "ssim"):
        p = subprocess.run(["ffmpeg", "-hide_banner", "-nostats", "-i", a, "-i", b,
                            "-lavfi", "[0][1]%s" % filt, "-f", "null", "-"], capture_output=True, text=True)
        line = [x for x in p.stderr.splitlines() if "Parsed_%s" % filt in x]
        res[filt] = line[-1].split("] ", 1)[-1] if line else "failed: " + p.stderr[-300:]
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", choices=("hf", "fb", "hyperframes", "framebroker"))
    ap.add_argument("--ks", default=None)
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--no-compare", action="store_true")
    args = ap.parse_args()
    only = {"hyperframes": "hf", "framebroker": "fb"}.get(args.only, args.only)
    whos = [only] if only else ["hf", "fb"]
    runs_n = 1 if args.quick else int(os.environ.get("BENCH_RUNS", "3"))
    # One kill run each by default: hyperframes, as shipped, waits out its
    # CDP protocol timeout (300 s) before it redoes a dead worker's frames.
    kill_n = int(os.environ.get("BENCH_KILL_RUNS", "1"))
    ks = [int(x) for x in (args.ks or ("1,2" if args.quick else "1,2,4")).split(",")]

    env = dict(os.environ)
    env["BENCH_CHROME_DURATION"] = str(1 if args.quick else int(os.environ.get("BENCH_CHROME_DURATION", "5")))
    subprocess.run(["sh", os.path.join(HERE, "setup.sh"), CACHE], check=True, env=env)
    if "fb" in whos and not os.path.exists(os.path.join(ROOT, "examples", "chrome", "worker.mjs")) \
            and "BENCH_FB_SOURCE" not in os.environ:
        sys.exit("bench_chrome: html/worker.mjs is missing (merge the Chrome worker, "
                 "or run --only hyperframes)")
    become_subreaper()
    b = Bench(args)
    print("bench-chrome: %dx%d, %d fps, %d frames (%d s), runs %d, K %s, %s; scratch %s"
          % (W, H, FPS, b.frames, b.dur, runs_n, ks, " vs ".join(whos), b.tmp), flush=True)

    results = {"frames": b.frames, "size": "%dx%d" % (W, H), "fps": FPS, "runs": runs_n,
               "quick": args.quick, "machine": machine(), "engine": b.engine, "clean": {}, "kill": {}, "compare": {}}
    table = []
    for k in ks:
        rs = {w: [] for w in whos}
        for i in range(runs_n):
            for w in whos:
                r = b.one(w, k, "r%d" % i)
                rs[w].append(r)
                print("  K=%d %s run %d: %.1f s, %.2f frames/s, CPU %.1f s, RSS %.0f MB, PSS %.0f MB, %d frames%s"
                      % (k, w, i + 1, r.wall, r.fps, r.cpu, r.rss_mb, r.pss_mb, r.frames,
                         "" if r.leftovers == 0 else ", %d leftover processes killed" % r.leftovers), flush=True)
        results["clean"][k] = {w: [vars(r) for r in rs[w]] for w in whos}
        table.append((k, rs))

    kill_rows = []
    if not args.no_kill:
        k = 2 if 2 in ks else ks[0]
        ref = dict((kk, rs) for kk, rs in table)[k]
        krs = {w: [] for w in whos}
        for i in range(kill_n):
            for w in whos:
                at = med([r.wall for r in ref[w]]) / 3.0
                r = b.one(w, k, "kill%d" % i, kill_at=at)
                krs[w].append(r)
                print("  K=%d %s kill run %d: renderer %s killed at %.1f s; finished in %.1f s, exit %d, %d/%d frames"
                      % (k, w, i + 1, r.killed, r.killed_at or -1, r.wall, r.rc, r.frames, b.frames), flush=True)
        results["kill"][k] = {w: [vars(r) for r in krs[w]] for w in whos}
        kill_rows.append((k, ref, krs))

    if not args.no_compare and len(whos) == 2:
        k = 2 if 2 in ks else ks[0]
        rs = dict(table)[k]
        results["compare"] = compare(rs["hf"][-1].out, rs["fb"][-1].out)
        results["compare"]["files"] = [rs["hf"][-1].out, rs["fb"][-1].out]

    md = report(b, whos, table, kill_rows, results)
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
    la = os.getloadavg()
    return {"cpus": os.cpu_count(), "model": model, "loadavg_at_start": "%.2f %.2f %.2f" % la,
            "chromium": subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True,
                                       text=True).stdout.strip()}


def report(b, whos, table, kill_rows, results):
    L = []
    m = results["machine"]
    L.append("### Chrome workers vs hyperframes%s" % (" (QUICK: the harness check, figures mean nothing)"
                                                      if results["quick"] else ""))
    L.append("")
    L.append("%s, %d fps, %d frames, JPEG q100 capture, x264 medium crf 16 (hyperframes' own options); "
             "median (min-max) of %d interleaved runs; %d CPUs (%s), load at start %s; %s, engine %s "
             "on both sides."
             % (results["size"], FPS, b.frames, results["runs"], m["cpus"], m["model"], m["loadavg_at_start"],
                m["chromium"], results["engine"]))
    L.append("")
    L.append("| K | renderer | frames/s | CPU s | peak RSS MB | peak PSS MB | fb/hf frames/s | fb/hf PSS |")
    L.append("|---|---|---|---|---|---|---|---|")
    for k, rs in table:
        for w in whos:
            rr = rs[w]
            ratio = ratio_p = ""
            if w == "fb" and "hf" in rs:
                ratio = "%.2fx" % (summary(rr, "fps")[0] / summary(rs["hf"], "fps")[0])
                ratio_p = "%.2fx" % (summary(rr, "pss_mb")[0] / summary(rs["hf"], "pss_mb")[0])
            L.append("| %d | %s | %s | %s | %s | %s | %s | %s |" % (
                k, {"hf": "hyperframes", "fb": "framebroker"}[w], fmt3(summary(rr, "fps"), 2),
                fmt3(summary(rr, "cpu")), fmt3(summary(rr, "rss_mb"), 0), fmt3(summary(rr, "pss_mb"), 0),
                ratio, ratio_p))
    for k, ref, krs in kill_rows:
        L.append("")
        L.append("One Chrome renderer SIGKILLed at 1/3 of the clean median wall time, K=%d:" % k)
        L.append("")
        L.append("| renderer | clean wall s | wall s with the kill | extra s | exit codes | frames in output |")
        L.append("|---|---|---|---|---|---|")
        for w in whos:
            cw = summary(ref[w], "wall")[0]
            kw = summary(krs[w], "wall")
            L.append("| %s | %.1f | %s | %+.1f | %s | %s of %d |" % (
                {"hf": "hyperframes", "fb": "framebroker"}[w], cw, fmt3(kw), kw[0] - cw,
                ",".join(str(r.rc) for r in krs[w]), ",".join(str(r.frames) for r in krs[w]), b.frames))
    c = results.get("compare")
    if c and "psnr" in c:
        L.append("")
        L.append("Frame comparison of the two K=%d outputs (ffmpeg, hyperframes first): psnr %s; ssim %s"
                 % (2 if any(k == 2 for k, _ in table) else table[0][0], c["psnr"], c["ssim"]))
    L.append("")
    L.append("CPU split by process kind (median-wall run, s, sampled from /proc every %d ms):"
             % int(SAMPLE_S * 1000))
    L.append("")
    def folded(split):
        out = {}
        for kk, v in split.items():
            kk = kk if kk.startswith("chrome") or kk in ("node", "ffmpeg") or kk.startswith("fb-") else "other"
            out[kk] = out.get(kk, 0.0) + v
        return out
    mids = {}
    for k, rs in table:
        for w in whos:
            mids[k, w] = sorted(rs[w], key=lambda r: r.wall)[len(rs[w]) // 2]
    kinds = sorted({kk for r in mids.values() for kk in folded(r.split)})
    L.append("| K | renderer | total (rusage) | " + " | ".join(kinds) + " |")
    L.append("|---|---|---|" + "---|" * len(kinds))
    for (k, w), rr in mids.items():
        f = folded(rr.split)
        L.append("| %d | %s | %.1f | " % (k, {"hf": "hyperframes", "fb": "framebroker"}[w], rr.cpu)
                 + " | ".join("%.1f" % f.get(kk, 0.0) for kk in kinds) + " |")
    L.append("")
    L.append("Peak PSS of each process kind (same runs, MB; each kind's own peak, so the kinds add up to "
             "more than the tree's peak):")
    L.append("")
    pk = sorted({kk for r in mids.values() for kk in folded(r.pss_split)})
    L.append("| K | renderer | peak PSS | " + " | ".join(pk) + " |")
    L.append("|---|---|---|" + "---|" * len(pk))
    for (k, w), rr in mids.items():
        f = folded(rr.pss_split)
        L.append("| %d | %s | %.0f | " % (k, {"hf": "hyperframes", "fb": "framebroker"}[w], rr.pss_mb)
                 + " | ".join("%.0f" % f.get(kk, 0.0) for kk in pk) + " |")
    L.append("")
    return "\n".join(L) + "\n"


if __name__ == "__main__":
    main()
