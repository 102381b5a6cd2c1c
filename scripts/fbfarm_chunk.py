"""fbfarm_chunk — what the engines run: fb-farm --run-chunk WORK (one chunk
of the plan, its fb-render retried or its Slurm task requeued, every
attempt in the chunk's run record) and fb-farm --run-stitch WORK (fb-stitch
of every chunk, then the work directory cleaned).

Imports fbfarm_common, fbfarm_workdir and fbfarm_runs only.
"""
import os
import re
import socket
import subprocess
import sys
import time

from fbfarm_common import Fail, Interrupted, call
from fbfarm_runs import INDEX_VARS, RunRecord, engine_job, fresh_progress
from fbfarm_workdir import (chunk_done, clean_work, open_log_at, open_logs, open_work,
                            read_plan, say, with_suppressed)


# ---- a chunk, and the stitch ------------------------------------------------

def chunk_index(given):
    """The chunk this --run-chunk renders: --index, else the array index the
    scheduler set (Slurm, Kubernetes Indexed Job, AWS Batch, Cloud Run)."""
    if given is None:
        found = [(v, os.environ[v]) for v in INDEX_VARS if os.environ.get(v, "") != ""]
        if not found:
            raise Fail(2, "--run-chunk: no chunk index: give --index I, or run it as an array "
                          f"task ({', '.join(INDEX_VARS)})")
        if len({v for _, v in found}) > 1:
            raise Fail(2, "--run-chunk: the array index is ambiguous: "
                          + ", ".join(f"{k}={v}" for k, v in found))
        given = found[0][1]
    return given


def chunk_segments(plan, work, i):
    """fb-render's options for chunk I's segments: one work directory per
    chunk, resumed by every run of it (fb-render's own plan and checks: a
    rerun keeps the segments that are whole and renders the rest)."""
    args = plan.render["render_args"]
    seg = next((v for k, v in zip(args[::2], args[1::2]) if k == "--segment"), "0")
    if re.fullmatch(r"0+s?", seg, re.ASCII):
        return []
    return ["--work-dir", os.path.join(work, f"chunk-{i:05d}.segments"), "--resume"]


def run_chunk(plan, wfd, work, i, slurm_requeue, job=""):
    """Render chunk I unless it exists.  A task of the Slurm array fb-farm
    submitted (SLURM_REQUEUE) requeues itself on failure while retries are
    left; any other run simply tries again.  Every attempt is a start and
    an end line in the chunk's run record (JOB: the engine's name for this
    run), its fb-render writing WORK/logs/chunk-0000I.progress."""
    a, b = plan.chunk_range(i)
    name = plan.chunk_name(i)
    out = os.path.join(work, name)
    host = socket.gethostname()
    retries = plan.run["retries"]
    restarts = 0
    if slurm_requeue and re.fullmatch(r"[0-9]{1,6}", os.environ.get("SLURM_RESTART_COUNT", ""),
                                      re.ASCII):
        restarts = int(os.environ["SLURM_RESTART_COUNT"])
    ff = plan.render["ffmpeg_args"]
    tried = 0
    record = None
    while True:
        if chunk_done(wfd, name):
            say(f"chunk {i} (frames {a}:{b}) already rendered: {out}")
            return 0
        record = record or RunRecord(wfd, work, i, job)
        attempt = restarts + tried + 1
        # Per run: a stale or concurrent run of this chunk (an orphan, a
        # requeue after a node failure) never writes the same file.
        part = f".chunk-{i:05d}.part.{re.sub(r'[^A-Za-z0-9._-]', '_', host)}.{os.getpid()}" \
               f".{plan.ext}"
        say(f"chunk {i}: frames {a}:{b} of {plan.n} on {host} (attempt {attempt})")
        progress = fresh_progress(wfd, work, i)
        argv = [plan.run["fb_render"]] + plan.render["render_args"] + \
            ["--range", f"{a}:{b}"] + (["--progress", progress] if progress else []) + \
            chunk_segments(plan, work, i) + \
            ["-o", os.path.join(work, part)] + (["--"] + ff if ff else [])
        record.start(attempt)
        try:
            rc = call(argv, stdin=subprocess.DEVNULL)
        except Interrupted as e:
            record.end(attempt, e.code, how="interrupted")
            with_suppressed(os.unlink, part, dir_fd=wfd)
            raise
        record.end(attempt, rc)
        if rc == 0 and with_suppressed(os.rename, part, name, src_dir_fd=wfd, dst_dir_fd=wfd):
            say(f"chunk {i} done: {out}")
            return 0
        with_suppressed(os.unlink, part, dir_fd=wfd)
        say(f"chunk {i} (frames {a}:{b}) failed: fb-render exit {rc}", err=True)
        if rc == 2:  # a usage error fails again: no retry
            return 2
        if slurm_requeue:
            if restarts >= retries:
                return 1
            say(f"chunk {i}: requeued (retry {restarts + 1} of {retries})", err=True)
            task = f"{os.environ.get('SLURM_ARRAY_JOB_ID', '')}_" \
                   f"{os.environ.get('SLURM_ARRAY_TASK_ID', '')}"
            # Slurm kills this run and queues the task again.
            if call(["scontrol", "requeue", task], stdin=subprocess.DEVNULL) != 0:
                return 1
            time.sleep(60)  # killed before this ends; should it not be, fail
            return 1
        tried += 1
        if tried > retries:
            return 1


def run_stitch(plan, wfd, work):
    files = [os.path.join(work, plan.chunk_name(i)) for i in range(plan.k)]
    run = plan.run
    argv = [run["fb_stitch"], "--log-level", run["stitch_log"], "--frames", str(plan.n)] + \
        (["--audio", run["audio"]] if run["audio"] else []) + ["-o", run["output"], "--"] + files
    rc = call(argv, stdin=subprocess.DEVNULL)
    if rc == 0 and not run["keep"]:
        clean_work(wfd, work, plan)
    return rc


def internal_main(argv):
    """--run-chunk WORK [I] [--index I] [--slurm-requeue] [--log]
    | --run-stitch WORK [--log]"""
    what = argv[0]
    rest = argv[1:]
    if not rest:
        raise Fail(2, f"{what} needs the work directory")
    work, rest = rest[0], rest[1:]
    index, requeue, log = None, False, False
    while rest:
        if rest[0] == "--index" and len(rest) >= 2 and what == "--run-chunk":
            index, rest = rest[1], rest[2:]
        elif rest[0] == "--slurm-requeue" and what == "--run-chunk":
            requeue, rest = True, rest[1:]
        elif rest[0] == "--log":
            log, rest = True, rest[1:]
        elif what == "--run-chunk" and index is None and not rest[0].startswith("-"):
            index, rest = rest[0], rest[1:]  # the positional form of older versions
        else:
            raise Fail(2, f"{what}: unexpected argument '{rest[0]}'")
    wfd = open_work(work)
    from_env = index is None
    if what == "--run-chunk":
        index = chunk_index(index)
        if not re.fullmatch(r"[0-9]{1,7}", index, re.ASCII):
            raise Fail(2, f"--run-chunk: bad chunk index '{index}'")
    if log:
        log_to(wfd, work, f"chunk-{int(index)}.log" if what == "--run-chunk" else "stitch.log")
    plan = read_plan(wfd, work)
    if what == "--run-stitch":
        return run_stitch(plan, wfd, work)
    if int(index) >= plan.k:
        raise Fail(2, f"--run-chunk: bad chunk index '{index}'")
    return run_chunk(plan, wfd, work, int(index), requeue, engine_job(from_env))


def log_to(wfd, work, name):
    """--log: our standard output and error (and every child's) appended
    to WORK/logs/NAME, opened safely relative to the checked directory."""
    logs = open_logs(wfd, work, create=True)
    try:
        fd = open_log_at(logs, work, name)
    finally:
        os.close(logs)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
