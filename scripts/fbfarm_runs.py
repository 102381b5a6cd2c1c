"""fbfarm_runs — each chunk's run record and progress file: written by every
run of a chunk (fb-farm --run-chunk) and read back, as untrusted input, by
fb-farm --status (fbfarm_status) and by fb-farm's lines on the chunks it
rendered again.  Also the array index variables the engines set
(INDEX_VARS) and the engine's name for a run (engine_job).

Imports fbfarm_common and fbfarm_workdir only.
"""
import os
import re
import socket
import stat
import time

from fbfarm_common import owner_mode
from fbfarm_workdir import O_DIR, open_log_at, open_logs, say, with_suppressed

INDEX_VARS = ("SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX",
              "CLOUD_RUN_TASK_INDEX")

# ---- progress: each chunk's run record (fb-farm --status: fbfarm_status) ----
#
# WORK/logs/chunk-0000I.runs: one "start" line when a run of chunk I begins
# an attempt, one "end" line when that attempt's fb-render has exited (a
# start with no end: the run died without a word — its node, a SIGKILL).
# WORK/logs/chunk-0000I.progress: that run's fb-render --progress blocks
# (in logs/, not beside the chunk files: "chunk-*" there are chunks).  Both
# are read back by --status (and the redo lines) as untrusted input.

STALE_S = 30
RUNS_LIMIT = 1 << 20
LINE_LIMIT = 1024
PROGRESS_TAIL = 16384
_RUN_LINE = re.compile(r"(start|end)((?: [a-z]{1,16}=[A-Za-z0-9._:@/+-]{0,255}){1,16})", re.ASCII)
_PROGRESS_LINE = re.compile(r"([a-z_]{1,32})=([ -~]{0,200})", re.ASCII)


def token(v):
    """V as one field of a run record: no blank, no '=', at most 255."""
    return re.sub(r"[^A-Za-z0-9._:@/+-]", "_", str(v))[:255]


def runs_name(i):
    return f"chunk-{i:05d}.runs"


def progress_name(i):
    return f"chunk-{i:05d}.progress"


def engine_job(from_env):
    """The engine's name for this run, when an engine gave the index:
    Slurm's ARRAYJOB_TASK, a Kubernetes pod's name, AWS Batch's job id,
    Cloud Run's execution/task; "" for fb-farm --local (--index given)."""
    env = os.environ
    if not from_env:
        return ""
    var = next((v for v in INDEX_VARS if env.get(v, "") != ""), "")
    if var == "SLURM_ARRAY_TASK_ID":
        job = f"{env.get('SLURM_ARRAY_JOB_ID', '')}_{env[var]}" \
            if env.get("SLURM_ARRAY_JOB_ID") else env.get("SLURM_JOB_ID", "")
    elif var == "JOB_COMPLETION_INDEX":
        job = env.get("HOSTNAME", "")
    elif var == "AWS_BATCH_JOB_ARRAY_INDEX":
        job = env.get("AWS_BATCH_JOB_ID", "")
    elif var == "CLOUD_RUN_TASK_INDEX":
        job = f"{env.get('CLOUD_RUN_EXECUTION', '')}/{env[var]}"
    else:
        job = ""
    return token(job)


class RunRecord:
    """Chunk I's run record, opened for appending (O_APPEND, O_NOFOLLOW,
    relative to the checked work directory: open_log_at's rules)."""

    def __init__(self, wfd, work, i, job):
        logs = open_logs(wfd, work, create=True)
        try:
            self.fd = open_log_at(logs, work, runs_name(i))
        finally:
            os.close(logs)
        self.host, self.job, self.pid = token(socket.gethostname()), job, os.getpid()

    def write(self, line):
        # One write(2) per line: O_APPEND keeps concurrent runs' lines whole.
        # A record that cannot be written must not fail the render.
        with_suppressed(os.write, self.fd, line.encode())

    def start(self, attempt):
        self.write(f"start time={time.time():.3f} host={self.host} job={self.job} "
                   f"pid={self.pid} attempt={attempt}\n")

    def end(self, attempt, rc, how="exit"):
        self.write(f"end time={time.time():.3f} host={self.host} pid={self.pid} "
                   f"attempt={attempt} rc={rc} how={how}\n")


def fresh_progress(wfd, work, i):
    """WORK/logs/chunk-0000I.progress made anew (whatever was there removed, a
    symbolic link too, never followed), mode 0600, for this run's fb-render
    --progress; its path, or None (one line; the render goes on without)."""
    name = progress_name(i)
    logs = open_logs(wfd, work, create=True)
    try:
        try:
            os.unlink(name, dir_fd=logs)
        except FileNotFoundError:
            pass
        os.close(os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                         | os.O_NONBLOCK | os.O_CLOEXEC, 0o600, dir_fd=logs))
    except OSError as e:
        say(f"chunk {i}: no progress file ({work}/logs/{name}: {e.strerror})", err=True)
        return None
    finally:
        os.close(logs)
    return os.path.join(work, "logs", name)


def read_input(dfd, name, what, notes, limit, tail=False):
    """NAME in directory DFD as bytes (at most LIMIT: its first, or with
    TAIL its last), with its stat; (None, None) when it is missing, and a
    note when it is not a regular file of ours (never followed)."""
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dfd)
    except FileNotFoundError:
        return None, None
    except OSError as e:
        try:
            link = stat.S_ISLNK(os.stat(name, dir_fd=dfd, follow_symlinks=False).st_mode)
        except OSError:
            link = False
        notes.append(f"{what} is a symbolic link: not followed, not read" if link
                     else f"{what} cannot be read: {e.strerror}")
        return None, None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):  # checked before fdopen: a directory there raises
        os.close(fd)
        notes.append(f"{what} is not a regular file: not read")
        return None, None
    with os.fdopen(fd, "rb") as f:
        if st.st_uid != os.geteuid() or st.st_mode & 0o022:
            notes.append(f"{what} is not safe to read ({owner_mode(st)}): not read")
            return None, None
        if tail and st.st_size > limit:
            f.seek(st.st_size - limit)
        data = f.read(limit + (0 if tail else 1))
    if not tail and len(data) > limit:
        notes.append(f"{what} is larger than {limit >> 20} MiB: only its first {limit >> 20} "
                     "MiB read")
        data = data[:limit]
    return data, st


def unreadable(count, what):
    return f"{count} unreadable line{'s' if count != 1 else ''} in {what}"


def read_runs(logs, i, notes):
    """Chunk I's runs, in the order they started: dicts of start, host,
    job, pid, attempt, and (once ended) end, rc, how.  Lines that are not
    a record's are counted in NOTES, never trusted."""
    runs = []
    if logs is None:
        return runs
    data, _ = read_input(logs, runs_name(i), runs_name(i), notes, RUNS_LIMIT)
    if not data:
        return runs
    bad = 0
    lines = data.split(b"\n")
    if lines[-1] == b"":
        lines.pop()
    for raw in lines:
        m = _RUN_LINE.fullmatch(raw.decode("ascii", "replace")) if len(raw) <= LINE_LIMIT \
            else None
        f = dict(re.findall(r" ([a-z]+)=(\S*)", m.group(2))) if m else {}
        try:
            t = float(f["time"])
            # what --run-chunk writes: a pid of Linux's range, attempts from 1
            if not (re.fullmatch(r"[1-9][0-9]{0,6}", f["pid"], re.ASCII) and
                    re.fullmatch(r"[1-9][0-9]{0,5}", f["attempt"], re.ASCII)):
                raise ValueError
            pid, attempt = int(f["pid"]), int(f["attempt"])
            if not (0 <= t < 1e11) or t != t:
                raise ValueError
            if m.group(1) == "start":
                runs.append({"start": t, "host": f["host"], "job": f.get("job", ""),
                             "pid": pid, "attempt": attempt, "end": None, "rc": None,
                             "how": None})
                continue
            rc = int(f["rc"])
            how = f.get("how", "exit")
            if how not in ("exit", "interrupted") or not 0 <= rc <= 255:
                raise ValueError
            # the latest run of the same process and attempt not ended yet
            run = next(r for r in reversed(runs) if r["end"] is None and
                       (r["host"], r["pid"], r["attempt"]) == (f["host"], pid, attempt))
            run.update(end=t, rc=rc, how=how)
        except (KeyError, ValueError, StopIteration):
            bad += 1
    if bad:
        notes.append(unreadable(bad, runs_name(i)))
    return runs


def read_progress(logs, i, frames, notes):
    """The last whole block of chunk I's progress file: (frame, its mtime)
    or (None, mtime or None).  FRAMES: the chunk's frame count, which the
    block's total_frames must be."""
    name = progress_name(i)
    data, st = read_input(logs, name, name, notes, PROGRESS_TAIL, tail=True) \
        if logs is not None else (None, None)
    if data is None:
        return None, None
    lines = data.split(b"\n")
    if st.st_size > PROGRESS_TAIL:
        lines = lines[1:] if len(lines) > 1 else [b"x"]  # the first is cut; none: one huge line
    if lines and lines[-1] == b"":
        lines.pop()
    bad, block, frame = 0, {}, None
    for raw in lines:
        m = _PROGRESS_LINE.fullmatch(raw.decode("ascii", "replace"))
        if not m:
            bad += 1
            continue
        block[m.group(1)] = m.group(2)
        if m.group(1) == "progress":
            f, t = block.get("frame", ""), block.get("total_frames", "")
            if re.fullmatch(r"[0-9]{1,13}", f) and t == str(frames) and int(f) <= frames:
                frame = int(f)
            block = {}
    if bad:
        notes.append(unreadable(bad, name))
    return frame, st.st_mtime


def ended_how(run):
    """Why RUN ended, for a message."""
    if run["end"] is None:
        return "ended without a word (the node or the process died)"
    if run["how"] == "interrupted":
        return f"was stopped (exit {run['rc']})"
    return f"ended with fb-render exit {run['rc']}"


def run_where(run):
    return run["host"] + (f" (job {run['job']})" if run["job"] else "")


def open_logs_ro(wfd, notes=None):
    """The logs directory for reading (None if there is none yet, or it is
    not a directory of ours: then no run is known, and NOTES, if given,
    says why)."""
    try:
        fd = os.open("logs", O_DIR, dir_fd=wfd)
    except FileNotFoundError:
        return None
    except OSError as e:
        if notes is not None:
            try:
                link = stat.S_ISLNK(os.stat("logs", dir_fd=wfd, follow_symlinks=False).st_mode)
            except OSError:
                link = False
            notes.append("logs is a symbolic link: not followed, no run record read" if link
                         else f"logs cannot be read ({e.strerror}): no run record read")
        return None
    st = os.fstat(fd)
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        os.close(fd)
        if notes is not None:
            notes.append(f"logs is not safe to read ({owner_mode(st)}): no run record read")
        return None
    return fd
