"""fbfarm_status — fb-farm --status WORK [--json]: each chunk's state, frames
done and an ETA, from the plan, the chunk files and the run records and
progress files (fbfarm_runs) only, as a table or as JSON.

Imports fbfarm_common, fbfarm_workdir and fbfarm_runs only.
"""
import json
import os
import sys
import time

from fbfarm_common import Fail, shown
from fbfarm_runs import STALE_S, ended_how, open_logs_ro, read_progress, read_runs
from fbfarm_workdir import chunk_done, open_work, read_plan


def chunk_status(plan, wfd, logs, i, now, notes):
    a, b = plan.chunk_range(i)
    runs = read_runs(logs, i, notes)
    c = {"index": i, "first_frame": a, "end_frame": b, "frames": b - a, "state": "pending",
         "frames_done": 0, "host": None, "job": None, "stalled": False,
         "progress_age_s": None, "runs": len(runs), "requeued": len(runs) > 1,
         "earlier_runs": [{"host": r["host"], "job": r["job"], "attempt": r["attempt"],
                           "rc": r["rc"], "ended": ended_how(r)} for r in runs[:-1]],
         "rc": None, "ended": None}
    last = runs[-1] if runs else None
    if last:
        c["host"], c["job"] = last["host"], last["job"] or None
    if chunk_done(wfd, plan.chunk_name(i)):
        c["state"], c["frames_done"] = "done", b - a
    elif last is None:
        pass
    elif last["end"] is not None:
        c["state"], c["rc"], c["ended"] = "failed", last["rc"], ended_how(last)
    else:
        c["state"] = "running"
        frame, mtime = read_progress(logs, i, b - a, notes)
        c["frames_done"] = frame or 0
        seen = mtime if mtime is not None else last["start"]
        c["progress_age_s"] = round(max(0.0, now - seen), 1)
        c["stalled"] = now - seen > STALE_S
    return c, runs


def farm_status(plan, wfd, work):
    now = time.time()
    notes = []
    logs = open_logs_ro(wfd, notes)
    chunks, starts, ends = [], [], []
    try:
        for i in range(plan.k):
            c, runs = chunk_status(plan, wfd, logs, i, now, notes)
            chunks.append(c)
            starts += [r["start"] for r in runs]
            ends += [r["end"] for r in runs if r["end"] is not None]
    finally:
        if logs is not None:
            os.close(logs)
    count = {s: sum(c["state"] == s for c in chunks) for s in ("done", "running", "failed",
                                                                "pending")}
    done = sum(c["frames_done"] for c in chunks)
    first = min(starts) if starts else None
    # until now while a chunk runs; else until the last run ended
    until = now if count["running"] or not ends else max(ends)
    elapsed = max(0.0, until - first) if first is not None else None
    if done >= plan.n:
        eta = 0.0
    elif done > 0 and elapsed:
        eta = (plan.n - done) * elapsed / done
    else:
        eta = None
    return {"work_dir": work, "frames_total": plan.n, "frames_done": done,
            "chunks_total": plan.k, "chunks_done": count["done"],
            "chunks_running": count["running"], "chunks_failed": count["failed"],
            "chunks_pending": count["pending"],
            "chunks_requeued": sum(c["requeued"] for c in chunks),
            "chunks_stalled": sum(c["stalled"] for c in chunks),
            "first_start": first, "elapsed_s": None if elapsed is None else round(elapsed, 1),
            "eta_s": None if eta is None else round(eta, 1), "notes": notes, "chunks": chunks}


def clock(s):
    s = int(s + 0.5)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def chunk_line(c):
    if c["state"] == "running":
        text = f"running on {c['host']}" + (f" (job {c['job']})" if c["job"] else "") + \
            f": {c['frames_done']} of {c['frames']} frames"
        if c["stalled"]:
            text += f", stalled? (no progress for {c['progress_age_s']:.0f} s)"
    elif c["state"] == "failed":
        text = f"failed: its run on {c['host']}" + (f" (job {c['job']})" if c["job"] else "") + \
            f" {c['ended']}"
    else:
        text = c["state"]
    for n, r in enumerate(c["earlier_runs"], 1):
        text += f"; run {n} on {r['host']}" + (f" (job {r['job']})" if r["job"] else "") + \
            f" {r['ended']}"
    if c["requeued"]:
        text += f" ({c['runs']} runs)"
    return text


def show_status(s):
    pct = 100 * s["frames_done"] // s["frames_total"]
    eta = "unknown" if s["eta_s"] is None else clock(s["eta_s"])
    elapsed = "-" if s["elapsed_s"] is None else clock(s["elapsed_s"])
    out = [f"work dir  {shown(s['work_dir'])}",
           f"chunks    {s['chunks_done']} done, {s['chunks_running']} running"
           + (f" ({s['chunks_stalled']} stalled?)" if s["chunks_stalled"] else "")
           + f", {s['chunks_failed']} failed, {s['chunks_pending']} pending of "
           f"{s['chunks_total']}; {s['chunks_requeued']} requeued",
           f"frames    {s['frames_done']} of {s['frames_total']} ({pct}%)  elapsed {elapsed}  "
           f"ETA {eta}"]
    wide = max(len(f"{c['first_frame']}:{c['end_frame']}") for c in s["chunks"])
    iw = len(str(s["chunks_total"] - 1))
    for c in s["chunks"]:
        rng = f"{c['first_frame']}:{c['end_frame']}"
        out.append(f"chunk {c['index']:>{iw}}  frames {rng:<{wide}}  {shown(chunk_line(c))}")
    out += [f"note      {shown(n)}" for n in s["notes"]]
    return "\n".join(out) + "\n"


def status_main(argv):
    """fb-farm --status WORK [--json]"""
    work, as_json, rest = None, False, list(argv)
    while rest:
        a = rest.pop(0)
        if a == "--status" and work is None:
            if not rest or rest[0].startswith("--"):
                raise Fail(2, "--status needs the work directory (usage: fb-farm --status WORK "
                              "[--json])")
            work = rest.pop(0)
        elif a == "--json":
            as_json = True
        else:
            raise Fail(2, f"--status: unexpected argument '{a}' (usage: fb-farm --status WORK "
                          "[--json])")
    if work is None:
        raise Fail(2, "--status needs the work directory")
    work = os.path.abspath(work)
    wfd = open_work(work)
    plan = read_plan(wfd, work)
    s = farm_status(plan, wfd, work)
    sys.stdout.write(json.dumps(s, sort_keys=True) + "\n" if as_json else show_status(s))
    return 0
