#!/usr/bin/env bash
# --source attach:CMD: the K producers are a program linked with
# libframebroker (examples/producer.c, built here against the build tree),
# started by fb-render with FB_SEGMENT and the inherited FB_FD, attaching
# with fb_attach(NULL, ...).  The output is checked byte for byte against
# the example's ramp computed here (byte j of frame f is (7f + j) mod 251);
# a producer killed mid-render costs a reissue and nothing else; exit 4 is
# a restart within --max-restarts; a missing command is refused; exit 0
# with frames left fails rather than hangs, and so does every other way a
# user's program can leave the render waiting: exit 3 or a silent 1/2, never
# attaching, attaching and never claiming, lingering after the last frame.
. "$(dirname "$0")/../lib.sh"

san=()
[ -n "${FB_SAN:-}" ] && san=(-fsanitize="$FB_SAN")
"${FB_CC:-cc}" -std=c11 -Wall -Wextra -Werror "${san[@]}" -I"$ROOT/include" \
	-o "$TMP/producer" "$ROOT/examples/producer.c" -L"$ROOT/build/lib" -lframebroker \
	-Wl,-rpath,"$ROOT/build/lib" 2> "$TMP/cc.log"
check "examples/producer.c builds against build/lib/libframebroker.so" \
	'[ -x "$TMP/producer" ] || { cat "$TMP/cc.log"; false; }'
check "it runs against the build tree's .so" \
	'ldd "$TMP/producer" | grep -q "libframebroker.so.0 => $ROOT/build/lib/"'

# want FRAMES W H: the ramp of FRAMES rgb24 frames, computed independently.
want() {
	python3 - "$1" $(($2 * $3 * 3)) > "$TMP/want.raw" << 'PY'
import sys
n, size = int(sys.argv[1]), int(sys.argv[2])
out = sys.stdout.buffer
for f in range(n):
    out.write(bytes((f * 7 + j) % 251 for j in range(size)))
PY
}
W=96 H=64
want 60 $W $H

fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 --slots 4 \
	--source attach:"$TMP/producer" --sink raw -o "$TMP/a.raw" 2> "$TMP/err.a"
rc=$?
check "attach:producer, K=2: exit 0, output exact ($(tr '\n' '~' < "$TMP/err.a"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/a.raw" "$TMP/want.raw"'
check "... and one closing line, naming no fb-producer" \
	'[ "$(wc -l < "$TMP/err.a")" -eq 1 ] && grep -q "^fb-render: wrote " "$TMP/err.a"'

# The producers really were the example, with the segment in their
# environment: a wrapper records what it got, then becomes the producer.
cat > "$TMP/wrap.sh" << EOF
#!/bin/sh
echo "\$\$ seg=\$FB_SEGMENT fd=\$FB_FD fdkind=\$(readlink /proc/self/fd/\$FB_FD)" >> "$TMP/seen"
exec "$TMP/producer"
EOF
chmod +x "$TMP/wrap.sh"
fb-render --name /$TID-env --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 \
	--source attach:"$TMP/wrap.sh" --sink raw -o "$TMP/b.raw" 2> "$TMP/err.b"
rc=$?
check "each producer got FB_SEGMENT=/$TID-env and an open FB_FD on it ($(tr '\n' '~' < "$TMP/seen"))" \
	'[ $rc -eq 0 ] && [ "$(wc -l < "$TMP/seen")" -eq 2 ] &&
	 [ "$(grep -c "seg=/$TID-env fd=[0-9]* fdkind=/dev/shm/$TID-env" "$TMP/seen")" -eq 2 ] &&
	 cmp -s "$TMP/b.raw" "$TMP/want.raw"'

# attach:sh:CMD, like sh:CMD: through sh -c.
fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 \
	--source "attach:sh:exec '$TMP/producer'" --sink raw -o "$TMP/c.raw" 2> "$TMP/err.c"
rc=$?
check "attach:sh:'exec producer': exit 0, output exact ($(tr '\n' '~' < "$TMP/err.c"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/c.raw" "$TMP/want.raw"'

# Through ffmpeg: the same frames, as ffmpeg decodes them from the output.
fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 \
	--source attach:"$TMP/producer" -o "$TMP/d.mkv" -- -c:v ffv1 -pix_fmt rgb24 2> "$TMP/err.d"
rc=$?
ffmpeg -v error -i "$TMP/d.mkv" -f rawvideo -pix_fmt rgb24 - > "$TMP/d.raw" 2> /dev/null
check "attach: into ffmpeg (ffv1): exit 0, decoded frames exact" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/d.raw" "$TMP/want.raw"'

# A producer SIGKILLed inside fb_publish (the library honours FB_FAULT at
# the ring's own steps): its frame is reissued, it is replaced, the output
# is still exact.  A slow encoder (--sink-jitter-ms) keeps frames left when
# fb-render reaps the dead one: 60 frames otherwise end in 10 ms, before a
# replacement is worth starting, and "restart 1" would not be said.
FB_FAULT=producer:publish:17 FB_FAULT_ONCE=$TMP/fault.e fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 --sink-jitter-ms 6 \
	--slots 4 --source attach:"$TMP/producer" --sink raw -o "$TMP/e.raw" 2> "$TMP/err.e"
rc=$?
check "a producer killed in fb_publish of frame 17: exit 0, reissued, restart 1, output exact ($(tr '\n' '~' < "$TMP/err.e"))" \
	'[ $rc -eq 0 ] && grep -q "died holding frame 17; frame reissued" "$TMP/err.e" &&
	 grep -q "killed by signal 9.*restart 1 of 10" "$TMP/err.e" && cmp -s "$TMP/e.raw" "$TMP/want.raw"'
# And killed from outside, by the test, once output flows (a slow encoder,
# --sink-jitter-ms, keeps the render going for a couple of seconds).
want 200 $W $H
fb-render --name /$TID-kill --size ${W}x$H --pix-fmt rgb24 --frames 200 --workers 2 --slots 2 \
	--sink-jitter-ms 20 --source attach:"$TMP/producer" --sink raw -o "$TMP/f.raw" 2> "$TMP/err.f" &
rpid=$!
victim=
wait_until 60 'victim=$(own_pids --match "^$TMP/producer" | head -n 1); [ -n "$victim" ] && [ -s "$TMP/f.raw" ]'
[ -n "$victim" ] && kill -KILL "$victim"
wait $rpid
rc=$?
check "a producer SIGKILLed by the test mid-render (pid ${victim:-none}): exit 0, replaced, output exact ($(tr '\n' '~' < "$TMP/err.f"))" \
	'[ -n "$victim" ] && [ $rc -eq 0 ] && grep -q "(pid $victim) killed by signal 9.*restart 1 of 10" "$TMP/err.f" &&
	 cmp -s "$TMP/f.raw" "$TMP/want.raw"'
want 60 $W $H

# Exit 4 ("I gave my frame back, start another"): restarted, counted
# against --max-restarts.  The first two producers started exit 4 at once
# (a lock directory each), the rest are the producer.
cat > "$TMP/flaky.sh" << EOF
#!/bin/sh
mkdir "$TMP/once1" 2> /dev/null && exit 4
mkdir "$TMP/once2" 2> /dev/null && exit 4
exec "$TMP/producer"
EOF
chmod +x "$TMP/flaky.sh"
fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 --max-restarts 2 --sink-jitter-ms 6 \
	--source attach:"$TMP/flaky.sh" --sink raw -o "$TMP/g.raw" 2> "$TMP/err.g"
rc=$?
check "two producers exit 4, --max-restarts 2: exit 0, restarts 1 and 2 of 2, output exact ($(tr '\n' '~' < "$TMP/err.g"))" \
	'[ $rc -eq 0 ] && grep -q "exited with status 4; starting a replacement (restart 1 of 2)" "$TMP/err.g" &&
	 grep -q "restart 2 of 2" "$TMP/err.g" && cmp -s "$TMP/g.raw" "$TMP/want.raw"'
rm -rf "$TMP/once1" "$TMP/once2"
fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 --max-restarts 1 \
	--source attach:"$TMP/flaky.sh" --sink raw -o "$TMP/h.raw" 2> "$TMP/err.h"
rc=$?
check "the same with --max-restarts 1: exit 1, no restarts left, no 'wrote' line ($(tr '\n' '~' < "$TMP/err.h"))" \
	'[ $rc -eq 1 ] && grep -q "exited with status 4; no restarts left (--max-restarts 1)" "$TMP/err.h" &&
	 ! grep -q "wrote" "$TMP/err.h"'

# Commands that cannot run: refused before anything starts, exit 2, as
# fb-producer's exec: renderer is.
mkdir "$TMP/a-directory" # searchable, so access(X_OK) passes it; execve would not
for cmd in "$TMP/no-such-program" "$TMP/want.raw" no-such-program-$TID "$TMP/a-directory"; do
	fb-render --name /$TID-bad --size ${W}x$H --frames 10 --source attach:"$cmd" --sink raw \
		-o "$TMP/i.raw" 2> "$TMP/err.i"
	rc=$?
	check "attach:$(basename "$cmd"): exit 2, one line naming it ($(cat "$TMP/err.i"))" \
		'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err.i")" -eq 1 ] &&
		 grep -qF "producer command '\''$cmd'\'' not found" "$TMP/err.i" && [ ! -e /dev/shm/$TID-bad ]'
done
fb-render --size ${W}x$H --frames 10 --source attach: --sink raw -o "$TMP/i.raw" 2> "$TMP/err.i"
rc=$?
check "attach: with no command: exit 2 ($(cat "$TMP/err.i"))" '[ $rc -eq 2 ] && grep -q "invalid --source" "$TMP/err.i"'
# exec: renderer mistaken for a library program: reads EOF on /dev/null,
# exits 0 with every frame left.  A failure with a cause, not a hang.
timeout 60 fb-render --size ${W}x$H --frames 10 --source attach:true --sink raw -o "$TMP/j.raw" 2> "$TMP/err.j"
rc=$?
check "a producer that exits 0 with frames left: exit 1, says so ($(tr '\n' '~' < "$TMP/err.j"))" \
	'[ $rc -eq 1 ] && grep -q "exited 0 while frames remain" "$TMP/err.j"'
# Any other status fails the render, naming it.
fb-render --size ${W}x$H --frames 10 --source "attach:sh:exit 7" --sink raw -o "$TMP/k.raw" 2> "$TMP/err.k"
rc=$?
check "a producer that exits 7: exit 1, named ($(tr '\n' '~' < "$TMP/err.k"))" \
	'[ $rc -eq 1 ] && grep -q "exited with status 7" "$TMP/err.k"'

# A user's program keeps none of fb-producer's promises by itself; each
# way of breaking them is bounded and said (an adversary's findings):
# exit 3 while the render runs, exit 1 or 2 without a word.
for st in 3 1 2; do
	timeout 60 fb-render --size ${W}x$H --frames 10 --workers 1 --source "attach:sh:exit $st" \
		--sink raw -o "$TMP/n.raw" 2> "$TMP/err.n"
	rc=$?
	check "a producer that exits $st at once: exit 1 (not a hang), the status named ($(tr '\n' '~' < "$TMP/err.n"))" \
		'[ $rc -eq 1 ] && grep -q "(pid [0-9]*) exited.* $st" "$TMP/err.n"'
done
# One that never attaches: killed after --frame-timeout, replaced, and
# the render fails once --max-restarts is spent.
t0=$EPOCHREALTIME
timeout 60 fb-render --size ${W}x$H --frames 10 --workers 1 --frame-timeout 1 --max-restarts 1 \
	--source "attach:sh:exec sleep 100" --sink raw -o "$TMP/o.raw" 2> "$TMP/err.o"
rc=$?
secs=$(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.1f", b - a }')
check "a producer that never attaches: killed after --frame-timeout 1, replaced once, exit 1 in ${secs} s ($(tr '\n' '~' < "$TMP/err.o"))" \
	'[ $rc -eq 1 ] && [ "$(grep -c "has not attached within --frame-timeout 1 s; killing it" "$TMP/err.o")" -eq 2 ] &&
	 grep -q "restart 1 of 1" "$TMP/err.o" && grep -q "no restarts left" "$TMP/err.o"'
# The watch of attach: programs reads the segment through a view of its
# own, not the status line's (which exists only when something is shown):
# with every read-only shared mapping refused to fb-render alone (an
# LD_PRELOAD shim; the other programs map the segment writable), the
# render must fail at once, saying why — not wait forever for a program
# that never attaches, watched by nobody (it used to: the watch ran only
# if the status line had got its view).
cat > "$TMP/noview.c" << 'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/types.h>
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *(*real)(void *, size_t, int, int, int, off_t) =
		(void *(*)(void *, size_t, int, int, int, off_t))dlsym(RTLD_NEXT, "mmap");

	if (fd >= 0 && (flags & MAP_SHARED) && !(prot & PROT_WRITE) &&
	    strcmp(program_invocation_short_name, "fb-render") == 0) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return real(addr, len, prot, flags, fd, off);
}
EOF
"${FB_CC:-cc}" -shared -fPIC -o "$TMP/noview.so" "$TMP/noview.c" -ldl 2> "$TMP/cc.nv"
check "the no-view shim builds ($(head -c 200 "$TMP/cc.nv"))" '[ -s "$TMP/noview.so" ]'
t0=$EPOCHREALTIME
LD_PRELOAD=$TMP/noview.so ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	timeout 30 fb-render --size ${W}x$H --frames 10 --workers 1 --frame-timeout 1 \
	--source "attach:sh:exec sleep 100" --sink raw -o "$TMP/nv.raw" 2> "$TMP/err.nv"
rc=$?
secs=$(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.1f", b - a }')
check "no read-only view for fb-render: exit 1 in ${secs} s (not a hang), the cause said ($(tr '\n' '~' < "$TMP/err.nv"))" \
	'[ $rc -eq 1 ] && grep -q "cannot watch the attach: producers" "$TMP/err.nv"'
# One that attaches and never claims, frames waiting in free slots: the
# render fails after --frame-timeout, naming the frame.
cat > "$TMP/idle.c" << 'EOF'
#include <framebroker.h>
#include <unistd.h>
int main(void)
{
	fb_producer *p;

	if (fb_attach(NULL, 5000, &p) < 0)
		return 1;
	pause();
	return 0;
}
EOF
"${FB_CC:-cc}" "${san[@]}" -I"$ROOT/include" -o "$TMP/idle" "$TMP/idle.c" -L"$ROOT/build/lib" \
	-lframebroker -Wl,-rpath,"$ROOT/build/lib"
timeout 60 fb-render --size ${W}x$H --frames 10 --workers 2 --frame-timeout 1 \
	--source attach:"$TMP/idle" --sink raw -o "$TMP/p.raw" 2> "$TMP/err.p"
rc=$?
check "producers that attach and never claim: exit 1, frame 0 named ($(tr '\n' '~' < "$TMP/err.p"))" \
	'[ $rc -eq 1 ] && grep -q "frame 0 has waited --frame-timeout 1 s in a free slot" "$TMP/err.p"'
# One that fails the render (fb_fail) and exits at once, 1, 3 or 2,
# without a word of its own: the reason it gave is what fb-render says (it
# used to say nothing: exit 1 was taken for "the child printed its cause").
cat > "$TMP/failer.c" << 'EOF'
#include <framebroker.h>
#include <stdlib.h>
int main(int argc, char **argv)
{
	fb_producer *p;

	if (argc < 2 || fb_attach(NULL, 5000, &p) < 0)
		return 1;
	fb_fail(p, "the failer's own reason");
	fb_detach(p);
	return atoi(argv[1]);
}
EOF
"${FB_CC:-cc}" "${san[@]}" -I"$ROOT/include" -o "$TMP/failer" "$TMP/failer.c" -L"$ROOT/build/lib" \
	-lframebroker -Wl,-rpath,"$ROOT/build/lib"
for st in 1 3 2; do
	for i in 1 2 3; do
		timeout 60 fb-render --size ${W}x$H --frames 10 --workers 1 \
			--source "attach:$TMP/failer $st" --sink raw -o "$TMP/fl.raw" 2> "$TMP/err.fl"
		rc=$?
		[ $rc -eq 1 ] && grep -q "render aborted: the failer's own reason" "$TMP/err.fl" || break
	done
	check "a producer that calls fb_fail and exits $st at once: exit 1, its reason said (3 runs; $(tr '\n' '~' < "$TMP/err.fl"))" \
		'[ $rc -eq 1 ] && grep -q "render aborted: the failer.s own reason" "$TMP/err.fl"'
done
# The race behind one of those runs, made certain: an encoder that comes to
# register after the render was aborted and its broker left is "aborted
# elsewhere" (exit 3, silent: the cause is the segment's), not "a stale
# segment" (exit 1 and a line that hid the real cause).
fb-broker --name "/$TID-late" --size ${W}x$H --frames 10 2> "$TMP/err.lb" &
lb=$!
wait_until 60 '[ -s "/dev/shm/$TID-late" ]' # (else exec 9<> would create it)
exec 9<> "/dev/shm/$TID-late"
FB_SEGMENT="/$TID-late" "$TMP/failer" 1
wait $lb
lbrc=$?
fb-encoder --name "/$TID-late" --fd 9 --sink raw -o "$TMP/late.raw" 2> "$TMP/err.le"
rc=$?
exec 9>&-
check "an encoder registering after an aborted render's broker left: exit 3, no line (broker $lbrc; $(tr '\n' '~' < "$TMP/err.le"))" \
	'[ $lbrc -eq 3 ] && [ $rc -eq 3 ] && [ ! -s "$TMP/err.le" ]'
# One that lingers after its last frame: the render is complete and exits
# 0; the producer is ended (TERM after 2 s), not waited for.
t0=$EPOCHREALTIME
timeout 60 fb-render --size ${W}x$H --pix-fmt rgb24 --frames 60 --workers 2 \
	--source "attach:sh:'$TMP/producer'; exec sleep 100" --sink raw -o "$TMP/q.raw" 2> "$TMP/err.q"
rc=$?
secs=$(awk -v a=$t0 -v b=$EPOCHREALTIME 'BEGIN { printf "%.1f", b - a }')
check "producers that linger after the last frame: exit 0 in ${secs} s, output exact, ended with a line ($(tr '\n' '~' < "$TMP/err.q"))" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/q.raw" "$TMP/want.raw" && grep -q "still running 2 s after the last frame was written; ending it" "$TMP/err.q"'

# fb_attach(NULL) with nothing in the environment: a clear error.
env -u FB_SEGMENT -u FB_FD "$TMP/producer" 2> "$TMP/err.l"
rc=$?
check "the example with no argument and no FB_SEGMENT: exit 1, one line ($(cat "$TMP/err.l"))" \
	'[ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err.l")" -eq 1 ] && grep -q "FB_SEGMENT is not set" "$TMP/err.l"'
# FB_FD not open here: by the name (a render started by hand).
name=/$TID-byname
fb-broker --name $name --size ${W}x$H --pix-fmt rgb24 --frames 60 --slots 3 --ready-fd 3 3> "$TMP/ready" &
broker=$!
wait_until 60 '[ -s "$TMP/ready" ]'
FB_SEGMENT=$name FB_FD=77 "$TMP/producer" & p1=$!
"$TMP/producer" $name & p2=$!
# Both registered before the encoder may end the render: one attaching by
# name after the broker unlinked it would find nothing (under load it can
# start that late).  Without an encoder the 3 slots fill and frames wait.
wait_until 60 'fb-stat $name 2> /dev/null | grep -q "producers 2,"'
timeout 60 fb-encoder --name $name --sink raw -o "$TMP/m.raw"
rc=$?
kill $broker 2> /dev/null
wait $p1; r1=$?
wait $p2; r2=$?
wait $broker
check "FB_SEGMENT with a closed FB_FD attaches by name, beside a NAME-argument copy: encoder $rc, producers $r1 $r2, exact" \
	'[ $rc -eq 0 ] && [ $r1 -eq 0 ] && [ $r2 -eq 0 ] && cmp -s "$TMP/m.raw" "$TMP/want.raw"'

check_clean "attach"
finish
