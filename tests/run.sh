#!/usr/bin/env bash
# Run the tests: the cmocka unit tests, each integration script
# (tests/AREA/t_*.sh), the fuzzer, the model and the stress test.  Ends with
# the names of the failing tests (and their "not ok" lines), the skipped
# scripts and why, then one closing line "tests: N passed, N failed";
# exits non-zero on any failure.  Each script's wall time is printed after
# it ("-- t_x.sh: N s").  Assumes the build is done (make test does it).
#
# FB_TIER= which part (make test TIER=...):
#   all          everything (the default)
#   compiler     what the compiler and its sanitizers can change: the unit
#                tests, stress, and the scripts of the areas in COMPILER
#                below (CI runs this part once more under ASan + UBSan)
#   independent  the rest, which no compiler flag changes: the model, the
#                fuzzer (its own clang ASan build whatever CC is), and the
#                scripts of the other areas (build, chrome, farm, harness)
#   quick        make quick: the unit tests, the scripts in QUICK, 10 s of
#                stress
# TESTS="a.sh b.sh": run only these scripts (no unit/fuzz/model/stress),
# whatever FB_TIER says.  TEST_TIMEOUT=S: a script's time limit (600 s).
#
# A script that cannot run here (not root, no tmux, a sanitizer build it
# does not apply to) exits 77 after "# SKIP t_x.sh: why" (lib.sh's skip):
# counted as skipped, neither passed nor failed.
#
# The machine is shared: this run cleans up only after itself.  Every process
# it starts carries FB_TEST_RUN=$RUN in its environment (tests/helpers/procs.py finds
# them, orphans included); each script gets TID fbt<pid>n<i> (lib.sh), so a
# script killed for hanging can still have its segments removed; the unit
# tests, fb-stress and the fuzzer name their segments by their own pid.
set -u
cd "$(dirname "$0")/.."
RUN=fbrun$$r$RANDOM
export FB_TEST_RUN=$RUN
TIMEOUT=${TEST_TIMEOUT:-600}
TIER=${FB_TIER:-all}
# The areas whose scripts a compiler or sanitizer can change; the others
# (build, chrome, farm, harness) are compiler-independent.
COMPILER="unit protocol launcher encoder bindings adversary"
# make quick: the core protocol and crash promises (and 10 s of stress), a
# few minutes in all.
QUICK="tests/protocol/t_crash.sh tests/protocol/t_raw_identity.sh tests/protocol/t_pidreuse.sh
	tests/protocol/t_hygiene.sh tests/protocol/t_scripted.sh tests/launcher/t_failures.sh
	tests/launcher/t_bad_input.sh tests/launcher/t_attach.sh tests/encoder/t_ffmpeg.sh
	tests/encoder/t_vmsplice.sh"
case $TIER in
all | compiler | independent | quick) ;;
*) echo "run.sh: FB_TIER=$TIER: not all, compiler, independent or quick" >&2; exit 2 ;;
esac
passed=0
failed=0
failures=() # one entry per failing test: its name, then its "not ok" lines
skips=()    # one entry per skipped script: "NAME: why"
log=$(mktemp)
pidf=$(mktemp)
trap 'rm -f "$log" "$pidf"' EXIT

# run_timed CMD...: run CMD (bounded by $TIMEOUT) with its output shown and
# kept in $log; sets rc (124/137: it hung and was killed) and tpid (its pid).
run_timed() {
	local tp tl
	: > "$pidf"
	# Into a file, not a pipe: a process the test left behind holding its
	# stdout must not keep us waiting for an EOF.
	timeout --kill-after=10 "$TIMEOUT" bash -c 'echo $$ > "$0"; exec "$@"' "$pidf" "$@" > "$log" 2>&1 < /dev/null &
	tp=$!
	tail -n +1 -f --pid=$tp "$log" &
	tl=$!
	wait $tp
	rc=$?
	wait $tl
	tpid=$(cat "$pidf")
}

# Whatever the last test left running of this run (nothing else carries our
# tag), still there after 3 s: SIGKILL it.  Returns 1 if there was something.
reap_leftovers() {
	local left
	for _ in $(seq 30); do
		left=$(python3 tests/helpers/procs.py "FB_TEST_RUN=$RUN" $$)
		[ -n "$left" ] || return 0
		sleep 0.1
	done
	echo "!! $1 left processes running (killed): $(tr '\n' ';' <<< "$left")"
	python3 tests/helpers/procs.py "FB_TEST_RUN=$RUN" $$ --kill
	return 1
}

# judge NAME: add the last "X passed, Y failed" in $log to the totals; a
# missing summary, a hang or a non-zero exit with no failure counted is one
# failure more.  A failing test is remembered with its failure lines; a
# skipped one (exit 77 and its "# SKIP" line) with its reason.
judge() {
	local name=$1 line p=0 f=0 nok why=
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -n "$line" ]; then
		p=$(sed -E 's/.* ([0-9]+) passed.*/\1/' <<< "$line")
		f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<< "$line")
	fi
	# Its own "not ok" lines count, whatever its summary says: a script
	# cannot report a failure and then pass (or skip) by its closing line.
	nok=$(grep -c '^not ok' "$log")
	if [ "$rc" -eq 77 ] && grep -q '^# SKIP ' "$log" && [ "$f" -eq 0 ] && [ "$nok" -eq 0 ]; then
		skips+=("$name: $(grep -m1 '^# SKIP ' "$log" | sed -E 's/^# SKIP [^:]*: //')")
		passed=$((passed + p))
		return
	fi
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		why="hung: killed after ${TIMEOUT} s"
	elif [ -z "$line" ]; then
		why="printed no summary (exit $rc)"
	elif [ "$nok" -gt 0 ] && [ "$f" -eq 0 ]; then
		why="$nok 'not ok' lines, but its summary says 0 failed"
		f=$((nok - 1))
	elif [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		why="exit $rc with no failed check"
	fi
	[ -z "$why" ] || { echo "!! $name $why"; f=$((f + 1)); }
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$f" -gt 0 ]; then
		failures+=("$name${why:+ ($why)}")
		while IFS= read -r l; do failures+=("    $l"); done < <(grep -E '^(not ok|\[  FAILED  \] [^0-9]|FAIL )' "$log" | cut -c1-300)
	fi
}

# in_tier SCRIPT: whether FB_TIER runs SCRIPT (tests/AREA/t_x.sh).
in_tier() {
	local area
	area=${1#tests/}
	area=${area%%/*}
	case $TIER in
	all) return 0 ;;
	quick) [[ " $(echo $QUICK) " == *" $1 "* ]] ;;
	compiler) [[ " $COMPILER " == *" $area "* ]] ;;
	independent) [[ " $COMPILER " != *" $area "* ]] ;;
	esac
}

# timed NAME CMD...: run_timed CMD, then print NAME's wall time.
timed() {
	local name=$1 t0=$SECONDS
	shift
	run_timed "$@"
	echo "-- $name: $((SECONDS - t0)) s"
}

ONLY=
[ -z "${TESTS:-}" ] || ONLY=1
echo "== tier: $TIER${ONLY:+ (TESTS given: only those scripts)}"
if [ -z "$ONLY" ] && [ "$TIER" != independent ]; then
	echo "== unit tests (cmocka)"
	timed bin/test_unit bin/test_unit
	# One cmocka group per module: the sum of their counts.
	u_pass=$(grep -oE 'PASSED  \] [0-9]+' "$log" | awk '{ s += $NF } END { print s + 0 }')
	u_fail=$(grep -oE 'FAILED  \] [0-9]+' "$log" | awk '{ s += $NF } END { print s + 0 }')
	echo "# unit: $u_pass passed, $u_fail failed" >> "$log"
	judge "bin/test_unit"
	reap_leftovers "bin/test_unit"
	[ -n "$tpid" ] && rm -f /dev/shm/fbunit-"$tpid"-* 2> /dev/null
fi

i=0
for t in ${TESTS:-tests/*/t_*.sh}; do
	[ -n "$ONLY" ] || in_tier "$t" || continue
	i=$((i + 1))
	echo "== $t"
	FB_TEST_TID=fbt$$n$i timed "$t" "$t"
	judge "$t"
	reap_leftovers "$t" || { failed=$((failed + 1)); failures+=("$t (left processes running)"); }
	rm -f /dev/shm/fbt$$n$i /dev/shm/fbt$$n$i-* 2> /dev/null
done

if [ -z "$ONLY" ] && { [ "$TIER" = all ] || [ "$TIER" = independent ]; }; then
	echo "== fuzz (FUZZ_SECONDS=${FUZZ_SECONDS:-20})"
	FUZZ_SECONDS=${FUZZ_SECONDS:-20} timed fuzz tests/fuzz/fuzz.sh build/fuzz/fuzz_ring
	judge "fuzz"
	reap_leftovers "fuzz"

	echo "== model (spin)"
	timed model model/run.sh
	judge "model"
fi

if [ -z "$ONLY" ] && [ "$TIER" != independent ]; then
	secs=${STRESS_SECONDS:-$([ "$TIER" = quick ] && echo 10 || echo 20)}
	echo "== stress (STRESS_SECONDS=$secs)"
	STRESS_SECONDS=$secs timed stress bin/fb-stress
	judge "stress"
	reap_leftovers "stress"
	[ -n "$tpid" ] && rm -f /dev/shm/fbstress-"$tpid"-* 2> /dev/null
fi

if [ ${#failures[@]} -gt 0 ]; then
	echo "== failing tests"
	printf '%s\n' "${failures[@]}"
fi
if [ ${#skips[@]} -gt 0 ]; then
	echo "== skipped tests"
	printf '%s\n' "${skips[@]}"
fi
echo "skipped: ${#skips[@]}, in ${SECONDS} s (tier $TIER)"
echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
