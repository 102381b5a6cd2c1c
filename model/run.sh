#!/usr/bin/env bash
# Exhaustive spin verification of model/ring.pml (make model).
# The model must verify with no error; each deliberately broken variant
# must be caught.  Prints "model: N passed, N failed".
set -u
cd "$(dirname "$0")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

verify() { # NAME [-DFLAG]: prints spin's error count
	local name=$1
	shift
	(cd "$work" && rm -f pan* && spin -a "$@" "$OLDPWD/ring.pml" > /dev/null &&
		cc -O2 -DSAFETY -o pan pan.c 2> /dev/null && ./pan -m200000 > "$name.out" 2>&1)
	grep -oE 'errors: [0-9]+' "$work/$name.out" | grep -oE '[0-9]+$'
}

errs=$(verify ring)
grep -E 'states, stored|errors:' "$work/ring.out" | sed 's/^/  /'
if [ "$errs" = 0 ]; then
	passed=$((passed + 1)); echo "ok - ring.pml: no deadlock, no assertion violated"
else
	failed=$((failed + 1)); echo "not ok - ring.pml: ${errs:-no} errors"; cat "$work/ring.out"
fi
# A live producer giving a frame back (fb_abort_claim): with one death
# rather than two, or the search outgrows a CI run (10^8 states).
errs=$(verify unclaim -DMAXUNCLAIMS=1 -DMAXDEATHS=1)
grep -E 'states, stored' "$work/unclaim.out" | sed 's/^/  /'
if [ "$errs" = 0 ]; then
	passed=$((passed + 1)); echo "ok - ring.pml with unclaim: no deadlock, no assertion violated"
else
	failed=$((failed + 1)); echo "not ok - ring.pml with unclaim: ${errs:-no} errors"; cat "$work/unclaim.out"
fi
for bug in BUG_WINDOW BUG_NO_REISSUE_WAKE; do
	errs=$(verify $bug -D$bug)
	if [ -n "$errs" ] && [ "$errs" -gt 0 ]; then
		passed=$((passed + 1)); echo "ok - $bug is caught ($(grep -m1 -E 'pan:[0-9]*: |invalid end state|assertion violated' "$work/$bug.out"))"
	else
		failed=$((failed + 1)); echo "not ok - $bug was not caught"
	fi
done
echo "model: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
