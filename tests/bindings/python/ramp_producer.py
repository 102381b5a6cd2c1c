#!/usr/bin/env python3
"""tests/bindings/python/ramp_producer.py — a producer for the binding's tests, run
by fb-render --source attach:: byte j of frame f is (7f + j) mod 251, written
with numpy through the view.  Records "PID FRAME" per publish in $PY_LOG.
PY_ABORT=N: the first producer to claim frame N gives it back and exits 4.
PY_KILL=N: the first to claim frame N writes half of it and SIGKILLs itself.
PY_LOCK: a directory path, the "first" of both (mkdir is the lock).
"""
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..",
                                "bindings", "python"))
import framebroker  # noqa: E402


def first_time(frame):
    try:
        os.mkdir(os.environ["PY_LOCK"])
    except FileExistsError:
        return False
    with open(os.path.join(os.environ["PY_LOCK"], "pid"), "w") as f:
        f.write(f"{os.getpid()} {frame}\n")
    return True


def main():
    abort = int(os.environ.get("PY_ABORT", "-1"))
    kill = int(os.environ.get("PY_KILL", "-1"))
    log = os.environ.get("PY_LOG")
    with framebroker.attach() as p:
        base = (np.arange(p.geometry.frame_bytes, dtype=np.int64) % 251).astype(np.uint16)
        tmp = np.empty_like(base)
        for frame, view in p:
            a = np.frombuffer(view, dtype=np.uint8)
            if frame == abort and first_time(frame):
                p.abort_claim()
                sys.exit(4)  # "I gave my frame back: start another"
            np.add(base, frame * 7 % 251, out=tmp)
            tmp %= 251
            if frame == kill and first_time(frame):
                a[:len(a) // 2] = tmp[:len(a) // 2]
                os.kill(os.getpid(), signal.SIGKILL)
            a[:] = tmp
            del a
            p.publish()
            if log:
                with open(log, "a") as f:
                    f.write(f"{os.getpid()} {frame}\n")


main()
