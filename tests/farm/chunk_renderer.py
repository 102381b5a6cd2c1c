#!/usr/bin/env python3
"""An exec: renderer for the scale-out tests (fb-producer --source exec:...).

Frame i is deterministic bytes of i, so any two renders of a frame agree.
With KILL_AT=F and KILL_MARK=PATH it crashes the render once: asked for
frame F while PATH does not exist, it creates PATH and SIGKILLs fb-render
(its producer's parent), as the OOM killer or a dying node would.  With
FAIL_AT=F it always exits when asked for frame F (a chunk that cannot be
rendered).  With RENDER_LOG=PATH it appends each frame index it is asked
for to PATH (one line each, before drawing it): the work a render did,
counted outside framebroker.  With HOLD_AT=F[,F...] and HOLD_MARK=PATH it stops
once at each such frame, mid-chunk, for the test to act (look at the node,
kill it): asked for frame F while PATH.F does not exist, it writes its host
name to PATH.F and waits until PATH.go exists or it is killed (at most
HOLD_SECONDS, default 600).  With SHM_LOG=PATH it appends, on its first
frame, one line of what it sees of /dev/shm, where its render's ring is:
"HOSTNAME DEVICE SIZE NAME...", SIZE the file system's bytes (t_k8s.sh:
each pod has its own, of the size its manifest gives)."""
import os
import signal
import socket
import sys
import time

w, h = int(os.environ["FB_WIDTH"]), int(os.environ["FB_HEIGHT"])
size = int(os.environ["FB_FRAME_BYTES"])
kill_at, mark = os.environ.get("KILL_AT"), os.environ.get("KILL_MARK")
fail_at = os.environ.get("FAIL_AT")
holds = set(os.environ.get("HOLD_AT", "").split(",")) - {""}
hold_mark = os.environ.get("HOLD_MARK")
log = os.environ.get("RENDER_LOG")
shm_log = os.environ.get("SHM_LOG")
out = sys.stdout.buffer
for line in sys.stdin:
    i = int(line)
    if shm_log:
        vfs = os.statvfs("/dev/shm")
        seen = " ".join(sorted(os.listdir("/dev/shm")))
        fd = os.open(shm_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, f"{os.uname().nodename} {os.stat('/dev/shm').st_dev} "
                     f"{vfs.f_blocks * vfs.f_frsize} {seen}\n".encode())
        os.close(fd)
        shm_log = None
    if log:
        fd = os.open(log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        os.write(fd, b"%d\n" % i)
        os.close(fd)
    if fail_at is not None and i == int(fail_at):
        sys.exit(1)
    if kill_at is not None and i == int(kill_at) and not os.path.exists(mark):
        open(mark, "w").close()
        with open(f"/proc/{os.getppid()}/stat") as f:
            render_pid = int(f.read().rsplit(")", 1)[1].split()[1])
        os.kill(render_pid, signal.SIGKILL)
    if str(i) in holds and not os.path.exists(f"{hold_mark}.{i}"):
        with open(f"{hold_mark}.{i}.tmp", "w") as f:
            f.write(socket.gethostname() + "\n")
        os.rename(f"{hold_mark}.{i}.tmp", f"{hold_mark}.{i}")
        end = time.monotonic() + int(os.environ.get("HOLD_SECONDS", "600"))
        while not os.path.exists(hold_mark + ".go") and time.monotonic() < end:
            time.sleep(0.05)
    row = bytes((i * 7 + x * 3) & 255 for x in range(size // h))
    frame = b"".join(row[y % 251:] + row[: y % 251] for y in range(h))
    out.write(frame + bytes(size - len(frame)))
    out.flush()
