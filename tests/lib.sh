# tests/lib.sh — shared helpers for the integration tests (sourced).
#
# Every test gets a private temp dir and a segment-name prefix; an EXIT trap
# kills whatever the test started and removes its segments even when the
# test fails.  check_clean asserts that nothing is left behind.
#
# The machine is shared (other checkouts, a second make check, people's own
# renders): a test judges and cleans up only what is its own —
#  * processes: those whose environment holds FB_TEST_TAG=$TID (exported
#    here, inherited by every child: orphans, setsid'ed ones, Slurm jobs),
#    those descending from the test's shell, and zombies whose parent is one
#    of these (tests/helpers/procs.py); never a pgrep/pkill by name;
#  * segments: /dev/shm/$TID and /dev/shm/$TID-* only.  A render started as
#    plain `fb-render` (PATH) or by fb-farm without --name gets
#    --name /$TID-autoPID from a shim ($TMP/shim/fb-render), so even its
#    segment is recognisably the test's.  To exercise the default name,
#    call "$BIN/fb-render" directly (then judge that segment yourself).
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN=$ROOT/bin
# tests/run.sh hands each script a run-unique TID (so it can clean up after a
# script it had to kill); alone, the shell's pid.  Not inherited further: a
# test run from inside a test gets its own.
TID=${FB_TEST_TID:-fbt$$}
unset FB_TEST_TID
TMP=$(mktemp -d "/tmp/$TID.XXXXXX")
PASS=0
FAIL=0
export FB_TEST_TAG=$TID FB_TEST_BIN=$BIN
mkdir "$TMP/shim"
cat > "$TMP/shim/fb-render" << 'SHIM'
#!/usr/bin/env bash
# tests/lib.sh: a test's render without --name gets a name of the test's own.
for a in "$@"; do
	case $a in --name | --name=*) exec "$FB_TEST_BIN/fb-render" "$@" ;; --) break ;; esac
done
exec "$FB_TEST_BIN/fb-render" --name "/$FB_TEST_TAG-auto$$" "$@"
SHIM
chmod +x "$TMP/shim/fb-render"
export FB_RENDER=$TMP/shim/fb-render # fb-farm's chunks
export PATH="$TMP/shim:$BIN:$PATH"

# own_procs [--fb] [--match REGEX]: this test's processes (not its shell),
# one "PID STATE COMM ARGV" line each; --match filters on the command line
# like pgrep -f.  own_pids: the same, pids only.
own_procs() { python3 "$ROOT/tests/helpers/procs.py" "FB_TEST_TAG=$TID" $$ "$@"; }
own_pids() { own_procs "$@" | cut -d' ' -f1; }
# own_kill [--match REGEX]: SIGKILL this test's processes (those matching).
own_kill() { own_procs --kill "$@"; }
# This test's segments, by name.
own_segments() { (cd /dev/shm && ls -d -- "$TID" "$TID"-* 2> /dev/null) || true; }

cleanup() {
	own_kill 2> /dev/null
	rm -f /dev/shm/"$TID" /dev/shm/"$TID"-* 2> /dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
# check DESCRIPTION COMMAND [ARG...]: pass if the command succeeds.
# check DESCRIPTION 'CONDITION': with one string, it is eval'ed, so compound
# conditions (a && b) are judged whole — pass them single-quoted.
check() {
	local d=$1
	shift
	if [ $# -eq 1 ]; then
		if eval "$1"; then ok "$d"; else not_ok "$d"; fi
	elif "$@"; then ok "$d"; else not_ok "$d"; fi
}

# wait_until SECONDS COMMAND [ARG...] | wait_until SECONDS 'CONDITION':
# poll (every 50 ms) until the command succeeds, at most SECONDS (a
# decimal); 0 once it did, 1 if the deadline passed first.  A test waits
# for the state it asserts this way, never for a fixed time: under load
# (another suite, renders beside it) any fixed sleep is sometimes too
# short.  Deadlines are generous: they only bound a failure.  One string is
# eval'ed, as in check — inside wait_until, where $1 is not the caller's:
# pass a function's arguments as CMD ARG... or through a local variable.
wait_until() {
	local end=$((${EPOCHREALTIME/[.,]/} + $(awk -v s="$1" 'BEGIN { printf "%d", s * 1000000 }')))
	shift
	for (( ; ; )); do
		if [ $# -eq 1 ]; then eval "$1" && return 0; else "$@" && return 0; fi
		[ "${EPOCHREALTIME/[.,]/}" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# alive PID: PID exists (a zombie too).  wait_until 5 "! alive $pid".
alive() { kill -0 "$1" 2> /dev/null; }

# sleeping PID...: every PID is asleep (state S: blocked in a wait, not
# running and not stopped) — a process that has reached its wait.
sleeping() {
	local p st
	for p; do
		st=$(sed 's/.*) //' /proc/"$p"/stat 2> /dev/null) || return 1
		[ "${st%% *}" = S ] || return 1
	done
}

# rendering NAME [N]: the render on segment NAME runs and its encoder has
# taken at least N frames (default 1) — broker, producers and encoder are
# attached and the frames flow, as fb-stat reads the segment.  The state
# most tests wait for before they disturb a render.
rendering() {
	local j
	j=$("$BIN/fb-stat" "$1" --json 2> /dev/null) || return 1
	[[ $j =~ \"state\":\"RUNNING\".*\"emitted\":([0-9]+) ]] && [ "${BASH_REMATCH[1]}" -ge "${2:-1}" ]
}

# Nothing of ours may survive a test: no segment, no process, no zombie —
# of ours (see the top): someone else's live render, zombie or segment is
# none of our business and never fails us.
check_clean() {
	local what=$1 left procs
	# Exits and reaping (by init, for orphans) are not instant, the less
	# so on a loaded machine: up to 10 s (a leftover costs the wait).
	clean_now() {
		left=$(own_segments)
		procs=$(own_procs --fb)
		[ -z "$left$procs" ]
	}
	wait_until 10 clean_now
	if [ -z "$left" ] && [ -z "$procs" ]; then
		ok "$what: no segment, process or zombie left"
	else
		not_ok "$what: left behind: $(echo $left) $(echo "$procs" | tr '\n' ';')"
		own_kill --fb 2> /dev/null
		rm -f /dev/shm/"$TID" /dev/shm/"$TID"-* 2> /dev/null
	fi
}

# Deterministic bytes not produced by framebroker: N bytes from seed S.
gen_bytes() {
	python3 -c '
import hashlib, sys
n, seed = int(sys.argv[1]), sys.argv[2].encode()
out = sys.stdout.buffer
i = 0
while n > 0:
    b = hashlib.sha256(seed + i.to_bytes(8, "little")).digest() * 128
    out.write(b[:n]); n -= len(b[:n]); i += 1
' "$1" "$2"
}

# frames_md5 [FFMPEG_INPUT_OPTIONS...] -i INPUT: one line per video frame of
# INPUT as ffmpeg decodes it to rgb24 (framemd5: stream, dts, pts, duration,
# size, md5; comments dropped).  ffmpeg is the judge, not framebroker.
frames_md5() { ffmpeg -v error "$@" -map 0:v -f framemd5 -pix_fmt rgb24 - | grep -v '^#'; }

# Bytes of one frame: frame_bytes FMT W H (mirrors ffmpeg rawvideo sizing).
frame_bytes() {
	case $1 in
	rgba|bgra) echo $(($2 * $3 * 4)) ;;
	rgb24) echo $(($2 * $3 * 3)) ;;
	gray) echo $(($2 * $3)) ;;
	yuv420p) echo $(($2 * $3 + 2 * (($2 + 1) / 2) * (($3 + 1) / 2))) ;;
	rgb48le) echo $(($2 * $3 * 6)) ;;
	yuv420p10le) echo $((2 * ($2 * $3 + 2 * (($2 + 1) / 2) * (($3 + 1) / 2)))) ;;
	esac
}

finish() {
	echo "# $(basename "$0"): $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

# skip WHY...: this script cannot run here — not root, no tmux, no Slurm, a
# sanitizer build it does not apply to.  Says so in the one line run.sh
# looks for, "# SKIP t_x.sh: WHY", and exits 77 (automake's code for a
# skipped test): counted apart, neither a pass nor a failure.  For a whole
# script, early; one case a script cannot run among others it can is an
# `ok "# skip: ..."` line instead.  A check that already failed still
# fails the script.
skip() {
	echo "# SKIP $(basename "$0"): $*"
	[ $((PASS + FAIL)) -eq 0 ] || finish || exit 1
	exit 77
}
