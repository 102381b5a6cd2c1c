#!/usr/bin/env bash
# Run every test: the cmocka unit tests, then each integration script.
# Prints one closing line "N passed, N failed" and exits non-zero on any
# failure.  Assumes `make all bin/test_unit` has run (make check does).
set -u
cd "$(dirname "$0")/.."
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT

count() { # add the "X passed, Y failed" of the last summary line in $log
	local line
	line=$(grep -E '[0-9]+ passed, [0-9]+ failed' "$log" | tail -1)
	if [ -z "$line" ]; then
		failed=$((failed + 1))
		echo "!! $1 printed no summary"
		return
	fi
	passed=$((passed + $(sed -E 's/.* ([0-9]+) passed.*/\1/' <<< "$line")))
	failed=$((failed + $(sed -E 's/.* ([0-9]+) failed.*/\1/' <<< "$line")))
}

echo "== unit tests (cmocka)"
bin/test_unit > "$log" 2>&1
rc=$?
cat "$log"
u_pass=$(grep -oE 'PASSED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
u_fail=$(grep -oE 'FAILED  \] [0-9]+' "$log" | grep -oE '[0-9]+$' || echo 0)
[ $rc -eq 0 ] || [ "$u_fail" != 0 ] || u_fail=1
passed=$((passed + u_pass))
failed=$((failed + u_fail))
pkill -KILL -x test_unit 2>/dev/null
rm -f /dev/shm/fbunit-* 2>/dev/null

for t in tests/t_*.sh; do
	echo "== $t"
	timeout --kill-after=10 600 "$t" 2>&1 | tee "$log"
	count "$t"
done

echo "== fuzz (FUZZ_SECONDS=${FUZZ_SECONDS:-20})"
FUZZ_SECONDS=${FUZZ_SECONDS:-20} tests/fuzz.sh build/fuzz/fuzz_ring 2>&1 | tee "$log"
count "fuzz"

echo "== model (spin)"
model/run.sh 2>&1 | tee "$log"
count "model"

echo "== stress (STRESS_SECONDS=${STRESS_SECONDS:-20})"
STRESS_SECONDS=${STRESS_SECONDS:-20} timeout --kill-after=10 600 bin/fb-stress 2>&1 | tee "$log"
count "stress"
rm -f /dev/shm/fbstress-* 2>/dev/null

echo "tests: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
