"""fbfarm_common — what fb-farm and fb-stitch share (standard library only).

Installed beside them in the build tree (bin/) and into PREFIX/lib/framebroker
by `make install`; each script puts the directory it finds it in first on
sys.path (they run with python3 -I: neither PYTHONPATH nor the current
directory can substitute another module for this one).

Nothing here runs a shell: every child gets an argument list.
"""
import contextlib
import os
import re
import pwd
import signal
import stat
import subprocess
import sys
import tempfile

# The chunk tag fb-render --range writes into the container's comment, and
# the one fb-stitch reads: "framebroker chunk A:B/N" (frames A..B-1 of N).
CHUNK_TAG = "framebroker chunk "
LOG_LEVELS = {"quiet": 0, "error": 1, "warning": 1, "info": 2, "debug": 3}


class Fail(Exception):
    """A documented failure: exit CODE after one line "PROG: MESSAGE"."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Interrupted(Exception):
    """SIGINT or SIGTERM arrived: exit 130 or 143 once cleaned up."""

    def __init__(self, code):
        super().__init__(code)
        self.code = code


def shown(text):
    """TEXT for a message: one line, whatever its bytes (a control
    character, a newline included, as \\xNN)."""
    return re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", str(text))


def owner_mode(st):
    """"owner NAME, mode 0NNN" of a stat result, for a message."""
    try:
        name = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        name = f"uid {st.st_uid}"
    return f"owner {name}, mode {stat.S_IMODE(st.st_mode):04o}"


def unsafe_dir(path):
    """The safe-path rule (OpenSSH's StrictModes, sudo's): PATH, resolved,
    and every directory above it must be owned by root or by us and be
    writable by no one else -- unless it has the sticky bit (/tmp), where
    others may add entries but only an entry's owner may rename or remove
    it, so only the entry below it matters (and the rule checks that one
    in turn).  Anyone else who can write a directory on the way could
    rename what we checked away and put a symbolic link in its place after
    we looked; a child that opens a file by path (ffmpeg) would follow it.
    Returns (directory, its stat) of the first one that fails, else None.
    Directories that do not exist yet are not judged: whoever makes them
    judges them once made."""
    real = os.path.realpath(path)
    d = "/"
    for part in [""] + [p for p in real.split("/") if p]:
        d = os.path.join(d, part)
        try:
            st = os.stat(d)
        except OSError:
            return None
        if st.st_uid not in (0, os.geteuid()) or \
                (st.st_mode & 0o022 and not st.st_mode & stat.S_ISVTX):
            return d, st
    return None


def check_safe_dir(path, what, prog):
    """Raise Fail(2) naming the first directory of PATH that breaks the
    safe-path rule (see unsafe_dir), its owner and its mode."""
    bad = unsafe_dir(path)
    if bad:
        d, st = bad
        raise Fail(2, f"{what} is inside {d} ({owner_mode(st)}), which another user could "
                      f"change: {prog} writes only below directories owned by root or by you "
                      "that no one else can write (or that have the sticky bit); use a private "
                      "subdirectory (mkdir -m 700)")


def _raise_interrupted(signum, _frame):
    # Ignore a second signal while the first one's cleanup runs.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Interrupted(130 if signum == signal.SIGINT else 143)


def catch_signals():
    """SIGINT and SIGTERM raise Interrupted wherever the program is."""
    signal.signal(signal.SIGINT, _raise_interrupted)
    signal.signal(signal.SIGTERM, _raise_interrupted)


@contextlib.contextmanager
def signals_held():
    """No Interrupted inside: a child started and recorded is one unit."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def run_main(prog, main, argv, say_errors=lambda: True):
    """Run MAIN(ARGV), turning Fail and Interrupted into exit codes."""
    catch_signals()
    try:
        return main(argv)
    except Fail as e:
        if say_errors():
            print(f"{prog}: {shown(e.message)}", file=sys.stderr, flush=True)
        return e.code
    except Interrupted as e:
        return e.code
    except BrokenPipeError:
        return 1


def exit_status(returncode):
    """A shell's $? for a child's returncode: 128 + N when signal N ended it."""
    return 128 - returncode if returncode < 0 else returncode


def last_line(text, skip=None):
    """The last non-blank line of TEXT (not matching regex SKIP), or ""."""
    for line in reversed(text.splitlines()):
        if line.strip() and not (skip and re.search(skip, line)):
            return line.strip()
    return ""


def first_line(text, default=""):
    """The first non-blank line of TEXT, or DEFAULT."""
    return next((line.strip() for line in text.splitlines() if line.strip()), default)


def capture(argv, timeout=None, stdin_data=None, limit=1 << 20, env=None):
    """Run ARGV; return (exit status, stdout, stderr), each at most LIMIT bytes.

    The output goes to unlinked temporary files, not pipes: a child of a
    wrapper script (one that a timeout does not end) may keep what it
    inherited open, and a pipe would make us wait for it.  The child runs in
    a process group of its own, which a timeout (status 124) or an interrupt
    kills whole.  A missing program is status 127."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            with signals_held():
                p = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_data is not None
                                     else subprocess.DEVNULL, stdout=out, stderr=err,
                                     start_new_session=True, env=env)
        except OSError as e:
            return 127, "", f"{argv[0]}: {e.strerror}"
        status = None
        try:
            if stdin_data is not None:
                try:
                    p.stdin.write(stdin_data.encode())
                    p.stdin.close()
                except BrokenPipeError:
                    pass
            try:
                status = exit_status(p.wait(timeout))
            except subprocess.TimeoutExpired:
                status = 124
        finally:
            if status is None or status == 124:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        texts = []
        for f in (out, err):
            f.seek(0)
            texts.append(f.read(limit).decode(errors="replace"))
        return status, texts[0], texts[1]


def call(argv, **popen_args):
    """Run ARGV in our own process group (a terminal's Ctrl-C reaches it too)
    and return its exit status (127: it could not be started, said on
    stderr).  Interrupted, it is sent SIGTERM and waited for first."""
    try:
        with signals_held():
            p = subprocess.Popen(argv, **popen_args)
    except OSError as e:
        print(f"{shown(argv[0])}: {e.strerror}", file=sys.stderr, flush=True)
        return 127
    try:
        return exit_status(p.wait())
    except Interrupted:
        with contextlib.suppress(ProcessLookupError):
            p.terminate()
        p.wait()
        raise


def parse_rational(text):
    """ "30000/1001" or "30" as (num, den) with both > 0, or None."""
    m = re.fullmatch(r"([0-9]{1,12})(?:/([0-9]{1,12}))?", text or "", re.ASCII)
    if not m:
        return None
    num, den = int(m.group(1)), int(m.group(2) or 1)
    return (num, den) if num > 0 and den > 0 else None


def parse_chunk_tag(comment):
    """(A, B, N) from a chunk's comment "framebroker chunk A:B/N", or None."""
    m = re.fullmatch(re.escape(CHUNK_TAG) + r"([0-9]{1,13}):([0-9]{1,13})/([0-9]{1,13})",
                     comment or "", re.ASCII)
    return tuple(int(g) for g in m.groups()) if m else None
