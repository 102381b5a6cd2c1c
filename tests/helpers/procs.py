#!/usr/bin/env python3
"""List (or kill) the processes that belong to one test, and no others.

usage: procs.py VAR=VALUE ROOTPID [--fb] [--match REGEX] [--kill]

A process is the test's own when its environment holds exactly VAR=VALUE
(lib.sh exports FB_TEST_TAG=$TID, run.sh FB_TEST_RUN=...; every child
inherits it, orphans and setsid'ed ones included, in any session), when it
descends from ROOTPID, or when its parent is the test's own (zombies have no
readable environment, but their parent names them).  Processes of other
users, other checkouts and other runs never match: nothing here goes by a
program's name alone.  ROOTPID itself and this scanner's own ancestors
(the shell that asked) are never listed.

--fb      only framebroker programs and ffmpeg (comm or argv[0] named fb-*
          or ffmpeg), and zombies whose parent is one: what check_clean judges
--match   only those whose command line (space-joined argv) matches REGEX
--kill    SIGKILL them instead of listing; without --match, repeats until
          none is left (a process may fork while we scan), at most 20
          rounds; with --match once, like pkill (a replacement started
          afterwards is not a target)
Prints one line per process: PID STATE COMM ARGV.
"""
import os, re, signal, sys, time


def scan(marker, root):
    procs = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        pid = int(d)
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2:].split()
        state, ppid = fields[0], int(fields[1])
        try:
            with open(f"/proc/{d}/environ", "rb") as f:
                tagged = marker in f.read().split(b"\0")
        except OSError:
            tagged = False  # another user's, or gone
        try:
            with open(f"/proc/{d}/cmdline", "rb") as f:
                argv = [a.decode(errors="replace") for a in f.read().split(b"\0")[:-1]]
        except OSError:
            argv = []
        procs[pid] = (ppid, state, comm, argv, tagged)
    own = {p for p, v in procs.items() if v[4]} | {root}
    grew = True
    while grew:  # close under "child of": descendants and zombies
        new = {p for p, v in procs.items() if v[0] in own} - own
        own |= new
        grew = bool(new)
    me = os.getpid()
    while me in procs and me != root:  # the shell(s) that asked, up to root
        own.discard(me)
        me = procs[me][0]
    own.discard(os.getpid())
    own.discard(root)
    return procs, own


def is_fb(comm, argv):
    names = [comm] + ([os.path.basename(argv[0])] if argv else [])
    return any(n.startswith("fb-") or n == "ffmpeg" for n in names)


def select(marker, root, fb, match):
    procs, own = scan(marker, root)
    out = []
    for pid in sorted(own):
        ppid, state, comm, argv, _ = procs[pid]
        if fb and not is_fb(comm, argv):
            parent = procs.get(ppid)
            if not (state == "Z" and parent and is_fb(parent[2], parent[3])):
                continue
        if match and not re.search(match, " ".join(argv)):
            continue
        out.append((pid, state, comm, argv))
    return out


def main():
    args = sys.argv[1:]
    if len(args) < 2 or "=" not in args[0]:
        sys.exit(__doc__)
    marker, root = args[0].encode(), int(args[1])
    fb = "--fb" in args
    kill = "--kill" in args
    match = args[args.index("--match") + 1] if "--match" in args else None
    if not kill:
        for pid, state, comm, argv in select(marker, root, fb, match):
            print(pid, state, comm, " ".join(argv) or "-")
        return
    for _ in range(1 if match else 20):
        victims = [p for p, state, _, _ in select(marker, root, fb, match) if state != "Z"]
        if not victims:
            return
        for pid in victims:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.05)


if __name__ == "__main__":
    main()
