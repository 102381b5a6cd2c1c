#!/usr/bin/env bash
# fb-render against an adversary (issue 12, items 1, 2, 4, 9, 11): a broker
# that is stuck or stopped before or after ready, a renderer leaving helper
# processes behind (setsid'd, TERM-proof), Ctrl-Z and `stty tostop` on a
# real terminal, SIGKILL of fb-render at any moment, a scribbled header.
# Every wait here is bounded; bounds are generous (2 cores, shared).
. "$(dirname "$0")/../lib.sh"

# Processes of ours for segment NAME (argv names it; ffmpeg's names $TMP).
procs_of() { pgrep -f -- "--name $1( |\$)" || true; }
none_of() { [ -z "$(procs_of "$1")" ] && [ ! -e "/dev/shm$1" ]; }
# wait_gone NAME SECONDS: until nothing of NAME is left, at most SECONDS.
wait_gone() { wait_until "$2" none_of "$1"; }
# bounded_wait PID SECONDS: wait for our background PID; 124 if it did not end.
bounded_wait() {
	local pid=$1
	wait_until "$2" '! kill -0 "$pid" 2> /dev/null'
	if kill -0 "$1" 2> /dev/null; then
		kill -KILL "$1" 2> /dev/null
		wait "$1" 2> /dev/null
		return 124
	fi
	wait "$1"
}
alive_pids() { local p out=; for p in "$@"; do kill -0 "$p" 2> /dev/null && out="$out $p"; done; echo "$out"; }

# ---- item 2: a renderer's helpers (setsid'd, in our group, TERM-proof)
cat > "$TMP/helpers.sh" << 'SH'
setsid sleep 1000 < /dev/null > /dev/null 2>&1 &
echo $! >> "$HELPERS"
sleep 1000 < /dev/null > /dev/null 2>&1 &
echo $! >> "$HELPERS"
setsid sh -c 'trap "" TERM; exec sleep 1000' < /dev/null > /dev/null 2>&1 &
echo $! >> "$HELPERS"
exec python3 -c '
import os, sys
n = int(os.environ["FB_FRAME_BYTES"])
for line in sys.stdin:
    sys.stdout.buffer.write(bytes([int(line) % 256]) * n)
    sys.stdout.flush()
'
SH
for how in ok fail; do
	export HELPERS=$TMP/helpers.$how
	: > "$HELPERS"
	fault=
	[ $how = fail ] && fault=encoder:after-write:5
	t0=$(date +%s%N)
	FB_FAULT=$fault FB_FAULT_ONCE=$TMP/fault.h$how fb-render --size 64x48 --frames 30 --workers 2 --source "sh:. '$TMP/helpers.sh'" \
		--sink raw -o "$TMP/h.$how.raw" --name /$TID-h$how 2> "$TMP/err.h$how" &
	bounded_wait $! 60
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	want=$([ $how = ok ] && echo 0 || echo 1)
	# (limits here tell "at once" from "after a helper's 1000 s, or a fake
	# broker's 60 s", with a loaded machine's slack)
	check "renderer leaving helpers ($how): exit $rc (want $want) in $ms ms, not after a helper (limit 30 s)" \
		'[ $rc -eq $want ] && [ $ms -lt 30000 ]'
	# (ended by the render's end; gone once the kernel has reaped them)
	wait_until 10 '[ -z "$(alive_pids $(cat "$HELPERS"))" ]'
	left=$(alive_pids $(cat "$HELPERS"))
	check "renderer leaving helpers ($how): none of its $(wc -l < "$HELPERS") helpers survives (left:$left)" \
		'[ "$(wc -l < "$HELPERS")" -ge 6 ] && [ -z "$left" ]'
	[ -n "$left" ] && kill -KILL $left 2> /dev/null
	check "renderer leaving helpers ($how): nothing of the render left" 'wait_gone /$TID-h$how 10'
done
unset HELPERS

# ---- item 1: a broker that never says ready and ignores SIGTERM (as the
# real one does while it reserves memory): Ctrl-C still ends fb-render.
# A copy of fb-render runs a fake fb-broker from its own directory.
mkdir -p "$TMP/fake"
cp "$BIN/fb-render" "$TMP/fake/fb-render"
printf '#!/bin/sh\ntrap "" INT TERM HUP\necho $$ > "%s/fake.pid"\nexec sleep 60\n' "$TMP" > "$TMP/fake/fb-broker"
chmod +x "$TMP/fake/fb-broker"
for sig in INT TERM; do
	rm -f "$TMP/fake.pid"
	"$TMP/fake/fb-render" --size 64x48 --frames 10 --sink raw -o "$TMP/f.raw" --name /$TID-f$sig 2> "$TMP/err.f" &
	rpid=$!
	wait_until 60 '[ -s "$TMP/fake.pid" ]' # (it ignores the signals before it writes it)
	t0=$(date +%s%N)
	kill -$sig $rpid
	bounded_wait $rpid 40
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	want=$([ $sig = INT ] && echo 130 || echo 143)
	fake=$(cat "$TMP/fake.pid" 2> /dev/null)
	check "SIG$sig while waiting for ready (broker ignores TERM): exit $rc (want $want) in $ms ms (limit 20 s)" \
		'[ $rc -eq $want ] && [ $ms -lt 20000 ]'
	check "SIG$sig while waiting for ready: the stuck broker is gone" '[ -n "$fake" ] && [ -z "$(alive_pids $fake)" ]'
	[ -n "$fake" ] && kill -KILL $fake 2> /dev/null
done
# A broker that stops itself before ready: noticed, one line, exit 1.
printf '#!/bin/sh\necho $$ > "%s/fake.pid"\nkill -STOP $$\nexec sleep 60\n' "$TMP" > "$TMP/fake/fb-broker"
rm -f "$TMP/fake.pid"
t0=$(date +%s%N)
"$TMP/fake/fb-render" --size 64x48 --frames 10 --sink raw -o "$TMP/f.raw" --name /$TID-fstop 2> "$TMP/err.fstop" &
bounded_wait $! 60
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
fake=$(cat "$TMP/fake.pid" 2> /dev/null)
check "broker stopped before ready: exit $rc (want 1) in $ms ms (limit 30 s), one line: $(tr '\n' '~' < "$TMP/err.fstop")" \
	'[ $rc -eq 1 ] && [ $ms -lt 30000 ] && [ "$(wc -l < "$TMP/err.fstop")" -eq 1 ] && grep -q "is stopped; nobody supervises" "$TMP/err.fstop"'
check "broker stopped before ready: it is gone" '[ -n "$fake" ] && [ -z "$(alive_pids $fake)" ]'
[ -n "$fake" ] && kill -KILL $fake 2> /dev/null

# ---- item 4: the real broker SIGSTOPped mid-render (alone).
fb-render --size 64x48 --frames 3000 --workers 2 --slots 4 --delay-ms 5 --sink raw -o "$TMP/s.raw" \
	--name /$TID-bstop 2> "$TMP/err.bstop" &
rpid=$!
wait_until 60 '[ -s "$TMP/s.raw" ]'
bpid=$(pgrep -f -- "fb-broker --name /$TID-bstop( |\$)")
t0=$(date +%s%N)
[ -n "$bpid" ] && kill -STOP $bpid
bounded_wait $rpid 60
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "broker SIGSTOPped mid-render: exit $rc (want 1) in $ms ms (limit 30 s), one line: $(tr '\n' '~' < "$TMP/err.bstop")" \
	'[ -n "$bpid" ] && [ $rc -eq 1 ] && [ $ms -lt 30000 ] && [ "$(wc -l < "$TMP/err.bstop")" -eq 1 ] &&
	 grep -q "fb-broker (pid $bpid) is stopped; nobody supervises the render" "$TMP/err.bstop"'
check "broker SIGSTOPped mid-render: nothing left" 'wait_gone /$TID-bstop 10'
[ -n "$bpid" ] && kill -KILL $bpid 2> /dev/null

# ---- item 4: on a terminal (a pty, bash with job control).  Ctrl-Z stops
# the whole render, fg resumes it; with stty tostop a worker's warning to
# the terminal does not stop anything.
cat > "$TMP/tty_job.py" << 'PY'
import os, pty, sys, time, re, signal
mode, name, cmd = sys.argv[1], sys.argv[2], sys.argv[3]
pid, fd = pty.fork()
if pid == 0:
    os.execvp("bash", ["bash", "--norc", "--noprofile", "-i"])
buf = b""
def read_for(secs, until=None):
    global buf
    end = time.time() + secs
    while time.time() < end:
        import select
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                d = os.read(fd, 65536)
            except OSError:
                return False
            buf += d
        if until and re.search(until, buf):
            return True
    return False
def procs():
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            cl = open("/proc/%s/cmdline" % p, "rb").read().split(b"\0")
            st = open("/proc/%s/stat" % p).read()
        except OSError:
            continue
        if ("--name" in [c.decode(errors="replace") for c in cl]) and name.encode() in cl:
            out[int(p)] = st[st.rindex(")") + 2]
    return out
read_for(1)
os.write(fd, b"PS1='$ '; stty -echo\n")
if mode == "tostop":
    os.write(fd, b"stty tostop\n")
read_for(1)
# Under job control a stopped job ends the command list (RC=148): after
# Ctrl-Z the status is asked for after fg.
os.write(fd, cmd.encode() + (b"\n" if mode == "ctrlz" else b"; echo RC=$?\n"))
# until the render runs: broker, encoder, producers exist
end = time.time() + 20
while time.time() < end and len(procs()) < 4:
    read_for(0.05)
read_for(0.5)
res = []
if mode == "ctrlz":
    os.write(fd, b"\x1a")
    ok = False
    end = time.time() + 5
    while time.time() < end:
        read_for(0.1)
        ps = procs()
        if len(ps) >= 4 and all(s == "T" for s in ps.values()):
            ok = True
            break
    res.append("stopped=%d:%s" % (ok, procs()))
    read_for(1)
    buf = b""
    os.write(fd, b"fg; echo RC=$?\n")
got = read_for(60, rb"RC=\d+")
m = re.search(rb"RC=(\d+)", buf)
res.append("rc=%s" % (m.group(1).decode() if m else "none"))
print(" ".join(res))
if not got:
    for p in procs():
        try: os.kill(p, signal.SIGKILL)
        except OSError: pass
os.kill(pid, signal.SIGKILL)
PY
F=$(frame_bytes rgba 64 48)
out=$(python3 "$TMP/tty_job.py" ctrlz /$TID-z "fb-render --size 64x48 --frames 200 --workers 2 --slots 4 --delay-ms 10 --sink raw -o $TMP/z.raw --name /$TID-z")
check "Ctrl-Z on a terminal stops fb-render and every child (state T): $out" '[[ $out == *stopped=1* ]]'
check "fg resumes it: exit 0 with all 200 frames ($out, $(stat -c %s "$TMP/z.raw" 2> /dev/null) bytes)" \
	'[[ $out == *rc=0* ]] && [ "$(stat -c %s "$TMP/z.raw")" -eq $((200 * F)) ]'
check "Ctrl-Z / fg: nothing left" 'wait_gone /$TID-z 3'
out=$(python3 "$TMP/tty_job.py" tostop /$TID-t "FB_FAULT=producer:mid-render:20 FB_FAULT_ONCE=$TMP/fault.t fb-render --size 64x48 --frames 100 --workers 2 --slots 4 --delay-ms 5 --sink raw -o $TMP/t.raw --name /$TID-t")
check "stty tostop: a worker's warning to the terminal stops nothing: exit 0 ($out)" \
	'[[ $out == *rc=0* ]] && [ "$(stat -c %s "$TMP/t.raw")" -eq $((100 * F)) ]'
check "stty tostop: nothing left" 'wait_gone /$TID-t 3'

# ---- item 11: the header scribbled and the broker killed (it cannot
# unlink): fb-render knows the inode and unlinks the name anyway.
fb-render --size 64x48 --frames 3000 --workers 2 --slots 4 --delay-ms 5 --sink raw -o "$TMP/c.raw" \
	--name /$TID-scrib 2> "$TMP/err.scrib" &
rpid=$!
# Mid-render: output written, so fb-render holds the segment's descriptor
# and inode.  (Before the broker's "ready" it knows neither, and a header
# scribbled then leaves it no proof the object is its own: it must not
# unlink it.  Waiting a fixed time let a loaded machine land there.)
wait_until 60 '[ -s "$TMP/c.raw" ]'
check "scribbled header: the render is under way first ($(stat -c %s "$TMP/c.raw") bytes out)" '[ -s "$TMP/c.raw" ]'
bpid=$(pgrep -f -- "fb-broker --name /$TID-scrib( |\$)")
dd if=/dev/zero of=/dev/shm/$TID-scrib bs=64 count=1 conv=notrunc status=none
[ -n "$bpid" ] && kill -KILL $bpid
bounded_wait $rpid 20
rc=$?
check "scribbled header, broker killed: exit $rc (want 1)" '[ $rc -eq 1 ]'
check "scribbled header: the name is unlinked all the same" '[ ! -e /dev/shm/$TID-scrib ]'
check "scribbled header: nothing left" 'wait_gone /$TID-scrib 10'

# ---- items 1 and 9: SIGKILL of fb-render at random moments, a large
# segment (1080p x 64 slots, 530 MB): within 10 s (a loaded machine's
# slack) no process of the render is left and nothing in /dev/shm under
# its name.
bad=
for i in 0 1 2 3 4 5 6 7; do
	fb-render --size 1920x1080 --slots 64 --frames 40 --workers 2 --sink raw -o /dev/null \
		--name /$TID-k$i 2> "$TMP/err.k$i" &
	rpid=$!
	disown $rpid
	sleep "0.$(( (i * 137 + RANDOM) % 10 ))$(( RANDOM % 10 ))" # a random moment: the test
	kill -KILL $rpid
	if ! wait_gone /$TID-k$i 10; then
		bad="$bad k$i:[$(procs_of /$TID-k$i | tr '\n' ' ')$(ls /dev/shm | grep -x "$TID-k$i")]"
		kill -KILL $(procs_of /$TID-k$i) 2> /dev/null
		rm -f /dev/shm/$TID-k$i
	fi
done
check "SIGKILL of fb-render at random moments, 530 MB segment: nothing left within 10 s (left:$bad)" '[ -z "$bad" ]'

finish
