"""tests/bindings/python/conftest.py — fixtures for the binding's pytest suite: live
renders of the real programs (bin/fb-broker + bin/fb-encoder, or
bin/fb-render), each under a segment name of this run's own
(/$FB_TEST_TAG-pyN: tests/lib.sh cleans those too), stopped and unlinked at
teardown even when a test fails.  Only processes started here are touched.
"""
import itertools
import os
import signal
import subprocess
import sys
import time

import pytest

# tests/bindings/python/ -> the checkout
ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".."))
BIN = os.path.join(ROOT, "bin")
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))
TAG = os.environ.get("FB_TEST_TAG") or f"fbpy{os.getpid()}"
PY = os.environ.get("FB_PYTHON") or sys.executable  # the interpreter for producer scripts
_names = itertools.count()
# The programs' environment: a sanitizer build's programs carry their own
# (static) ASan runtime, and refuse a second one preloaded, as Python here
# needs it (tests/bindings/t_python.sh); producer scripts get it back through PY.
C_ENV = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}


def notes(line):
    """A figure for the test's log (t_python.sh prints FB_PY_NOTES)."""
    path = os.environ.get("FB_PY_NOTES")
    if path:
        with open(path, "a") as f:
            f.write(line + "\n")


class Render:
    """One live render: a broker and an encoder (raw sink into OUT)."""

    def __init__(self, tmp, args, out=None):
        self.name = f"/{TAG}-py{next(_names)}"
        self.out = out or str(tmp / (self.name[1:] + ".raw"))
        self.procs = []
        r, w = os.pipe()
        self.broker = subprocess.Popen([os.path.join(BIN, "fb-broker"), "--name", self.name,
                                        "--ready-fd", str(w)] + list(args),
                                       pass_fds=(w,), stderr=subprocess.PIPE, env=C_ENV)
        os.close(w)
        self.procs.append(self.broker)
        with os.fdopen(r) as f:
            ready = f.read()
        assert ready == "ready\n", f"fb-broker did not start: {self.broker.stderr.read()}"
        self.encoder = subprocess.Popen([os.path.join(BIN, "fb-encoder"), "--name", self.name,
                                         "--sink", "raw", "-o", self.out],
                                        stderr=subprocess.PIPE, env=C_ENV)
        self.procs.append(self.encoder)

    def wait(self, timeout=60):
        """The encoder's and the broker's exit codes once the render ends."""
        rc = self.encoder.wait(timeout), self.broker.wait(timeout)
        return rc

    def output(self):
        with open(self.out, "rb") as f:
            return f.read()

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 5
        for p in self.procs:
            try:
                p.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        try:
            os.unlink("/dev/shm" + self.name)
        except FileNotFoundError:
            pass


@pytest.fixture
def render(tmp_path):
    """render(*broker_args) -> a live Render; all of them stopped at teardown."""
    made = []

    def start(*args, out=None):
        r = Render(tmp_path, args, out)
        made.append(r)
        return r

    yield start
    for r in made:
        r.stop()


@pytest.fixture
def fb_render(tmp_path):
    """fb_render(*args) -> (exit code, stderr) of a whole bin/fb-render run
    under a name of ours; its segment removed should it be left."""
    names = []

    def run(*args, timeout=120, env=None):
        name = f"/{TAG}-py{next(_names)}"
        names.append(name)
        e = dict(C_ENV, **(env or {}))
        p = subprocess.run([os.path.join(BIN, "fb-render"), "--name", name] + list(args),
                           stderr=subprocess.PIPE, text=True, timeout=timeout, env=e)
        return p.returncode, p.stderr

    yield run
    for n in names:
        try:
            os.unlink("/dev/shm" + n)
        except FileNotFoundError:
            pass


def ramp(frames, size, first=0):
    """The bytes of tests/bindings/python/ramp_producer.py, computed here in pure
    Python: byte j of frame f is (7f + j) mod 251."""
    return b"".join(bytes((f * 7 + j) % 251 for j in range(size))
                    for f in range(first, first + frames))
