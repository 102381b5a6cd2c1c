"""fbfarm_workdir — fb-farm's work directory: opened only if it is fb-farm's
own (a real directory of the user's that no one else can write, below
directories no one else can change), else refused (exit 2); the plan read
from and written to it; its logs directory and the logs in it, opened
relative to the checked descriptor; the finished chunks in it, judged on a
resume; and what fb-farm put there removed.

Also PROG and say(), the one-line messages every fb-farm module prints
(fb-farm's -q, which silences its info lines, stays in fb-farm itself).
Imports fbfarm_common and fbfarm_plan only.
"""
import json
import os
import pwd
import re
import stat
import sys

from fbfarm_common import (Fail, capture, check_safe_dir, first_line, owner_mode,
                           parse_chunk_tag, shown)
from fbfarm_plan import parse_plan

PROG = "fb-farm"
O_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def say(msg, err=False):
    print(f"{PROG}: {shown(msg)}", file=sys.stderr if err else sys.stdout, flush=True)


# ---- the work directory: fb-farm's own, or refused --------------------------

def me():
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return f"uid {os.geteuid()}"


def check_ours(st, what):
    """Refuse (exit 2) WHAT unless STAT says only we can change it."""
    if st.st_uid != os.geteuid() or st.st_mode & 0o022:
        raise Fail(2, f"{what} is not safe to use ({owner_mode(st)}): fb-farm uses only "
                      f"one owned by {me()} that no one else can write; chmod go-w it if it "
                      "is yours, or give another --work-dir")


def check_parents(work):
    """Refuse (exit 2) a work directory below a directory another user
    could change (the safe-path rule, fbfarm_common.unsafe_dir): there
    they could rename the work directory away and put their own in its
    place, with a symlink where fb-render or slurmd will write, after
    fb-farm has checked it."""
    check_safe_dir(os.path.dirname(os.path.abspath(work)), f"work directory {work}", PROG)


def open_work(work):
    """A descriptor of the work directory WORK, refused (exit 2, naming
    owner and mode) unless it is a real directory of ours: never through a
    symbolic link, never one another user could have put files in."""
    check_parents(work)
    try:
        fd = os.open(work, O_DIR)
    except OSError as e:
        try:
            st = os.lstat(work)
        except OSError:
            raise Fail(2, f"cannot open work directory {work}: {e.strerror}") from None
        if stat.S_ISLNK(st.st_mode):
            raise Fail(2, f"work directory {work} is a symbolic link ({owner_mode(st)}): "
                          "fb-farm uses only a real directory of its own; remove it, or give "
                          "another --work-dir") from None
        if not stat.S_ISDIR(st.st_mode):
            raise Fail(2, f"work directory {work} is not a directory ({owner_mode(st)})") from None
        raise Fail(2, f"cannot open work directory {work}: {e.strerror}") from None
    check_ours(os.fstat(fd), f"work directory {work}")
    return fd


def open_logs(wfd, work, create):
    """The logs directory inside the work directory, as a descriptor."""
    if create:
        try:
            os.mkdir("logs", 0o700, dir_fd=wfd)
        except FileExistsError:
            pass
    try:
        fd = os.open("logs", O_DIR, dir_fd=wfd)
    except OSError as e:
        raise Fail(2, f"cannot open {work}/logs: {e.strerror}") from None
    check_ours(os.fstat(fd), f"{work}/logs")
    return fd


def read_plan(wfd, work):
    """The plan in WORK, or exit 2 with one line saying why it is unusable."""
    try:
        fd = os.open("plan", os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
                     dir_fd=wfd)
    except FileNotFoundError:
        raise Fail(2, f"{work} has no plan (was it made by fb-farm?)") from None
    except OSError as e:
        raise Fail(2, f"{work}/plan cannot be read: {e.strerror}") from None
    with os.fdopen(fd, "rb") as f:
        st = os.fstat(f.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise Fail(2, f"{work}/plan is not a regular file; remove it or give another "
                          "--work-dir")
        check_ours(st, f"{work}/plan")
        data = f.read((1 << 20) + 1)
    try:
        if len(data) > 1 << 20:
            raise ValueError("larger than 1 MiB")
        return parse_plan(data)
    except ValueError as e:
        raise Fail(2, f"{work}/plan is not a plan this fb-farm wrote ({e}); remove it or "
                      "give another --work-dir") from None


def write_plan(wfd, work, plan):
    """WORK/plan, replaced whole (a new file renamed over it)."""
    tmp = f".plan.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600, dir_fd=wfd)
        with os.fdopen(fd, "w") as f:
            f.write(plan.to_json())
        os.rename(tmp, "plan", src_dir_fd=wfd, dst_dir_fd=wfd)
    except OSError as e:
        with_suppressed(os.unlink, tmp, dir_fd=wfd)
        raise Fail(1, f"cannot write the plan in {work}: {e.strerror}") from None


def with_suppressed(fn, *args, **kw):
    try:
        fn(*args, **kw)
        return True
    except OSError:
        return False


def chunk_done(wfd, name):
    try:
        st = os.stat(name, dir_fd=wfd, follow_symlinks=False)
    except OSError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_size > 0


def chunk_flaw(path, plan, i):
    """Why the finished chunk PATH is not chunk I of PLAN ("" if it is):
    its tag must name its range of the render and it must hold that many
    frames (a file truncated or damaged after its rename fails here)."""
    a, b = plan.chunk_range(i)
    rc, out, err = capture(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets",
                            "-show_entries", "stream=nb_read_packets:format_tags", "-of", "json",
                            "file:" + path], timeout=600, limit=1 << 20)
    if rc == 127:
        return ""  # no ffprobe here: the stitch, which needs it, will judge
    try:
        d = json.loads(out) if rc == 0 else None
    except ValueError:
        d = None
    if not d:
        return f"ffprobe cannot read it: {first_line(err, f'exit {rc}')}"
    tags = {k.lower(): v for k, v in ((d.get("format") or {}).get("tags") or {}).items()}
    tag = parse_chunk_tag(tags.get("comment", ""))
    if not tag:
        return "it has no chunk tag (truncated or damaged)"
    if tag != (a, b, plan.n):
        return f"its tag is not 'framebroker chunk {a}:{b}/{plan.n}'"
    frames = str(((d.get("streams") or [{}])[0]).get("nb_read_packets", ""))
    if frames != str(b - a):
        return f"it holds {frames or 'no'} frames, not the {b - a} of frames {a}:{b}"
    return ""


def chunk_sound(w, plan, i):
    """A resume: is chunk I rendered and whole?  A damaged one is removed
    (one line saying which and why) so that it is rendered again."""
    name = plan.chunk_name(i)
    if not chunk_done(w.fd, name):
        return False
    why = chunk_flaw(os.path.join(w.path, name), plan, i)
    if not why:
        return True
    say(f"chunk {i} ({w.path}/{name}) is damaged: {why}; rendering it again", err=True)
    if not with_suppressed(os.unlink, name, dir_fd=w.fd):
        raise Fail(1, f"cannot remove the damaged chunk {w.path}/{name}")
    return False


def clean_work(wfd, work, plan, remove_dir=True):
    """Remove what fb-farm put in WORK, and WORK if that leaves it empty:
    never anything else a user's --work-dir may hold."""
    ours = re.compile(r"plan|\.plan\.[0-9]+\.tmp|chunk-[0-9]+\." + re.escape(plan.ext)
                      + r"|\.chunk-[0-9]+\.part\..*")
    for name in os.listdir(wfd):
        if ours.fullmatch(name):
            with_suppressed(os.unlink, name, dir_fd=wfd)
    try:
        lfd = os.open("logs", O_DIR, dir_fd=wfd)
    except OSError:
        lfd = None
    if lfd is not None:
        try:
            if os.fstat(lfd).st_uid == os.geteuid():
                for name in os.listdir(lfd):
                    if re.fullmatch(r"chunk-[0-9]+\.(log|runs|progress)|stitch\.log", name):
                        with_suppressed(os.unlink, name, dir_fd=lfd)
        finally:
            os.close(lfd)
        with_suppressed(os.rmdir, "logs", dir_fd=wfd)
    if remove_dir:
        with_suppressed(os.rmdir, work)


def open_log_at(logs, work, name):
    """NAME in the logs directory LOGS (a descriptor) of WORK, opened
    O_APPEND|O_CREAT|O_NOFOLLOW relative to it, mode 0600."""
    try:
        fd = os.open(name, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
                     | os.O_CLOEXEC, 0o600, dir_fd=logs)
    except OSError as e:
        raise Fail(2, f"cannot open the log {work}/logs/{name}: {e.strerror}") from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
        os.close(fd)
        raise Fail(2, f"the log {work}/logs/{name} is not a plain file of its own")
    try:
        check_ours(st, f"the log {work}/logs/{name}")
    except Fail:
        os.close(fd)
        raise
    return fd