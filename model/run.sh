#!/usr/bin/env bash
# Exhaustive spin verification of model/ring.pml (make model).
# The model must verify with no error; each deliberately broken variant
# must be caught.  Prints "model: N passed, N failed".
set -u
cd "$(dirname "$0")" || exit 1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
passed=0
failed=0

verify() { # NAME [-DFLAG...]: prints spin's error count
	local name=$1
	shift
	(cd "$work" && rm -f pan* && spin -a "$@" "$OLDPWD/ring.pml" > /dev/null &&
		cc -O2 -DSAFETY -o pan pan.c 2> /dev/null && ./pan -m200000 > "$name.out" 2>&1)
	grep -oE 'errors: [0-9]+' "$work/$name.out" | grep -oE '[0-9]+$'
}

must_pass() { # NAME WHAT [-DFLAG...]: the search must find no error
	local name=$1 what=$2 errs
	shift 2
	errs=$(verify "$name" "$@")
	grep -E 'states, stored|errors:|elapsed time' "$work/$name.out" | sed 's/^/  /'
	if [ "$errs" = 0 ]; then
		passed=$((passed + 1)); echo "ok - ring.pml$what: no deadlock, no assertion violated"
	else
		failed=$((failed + 1)); echo "not ok - ring.pml$what: ${errs:-no} errors"; cat "$work/$name.out"
	fi
}

must_fail() { # BUG [-DFLAG...]: the broken variant BUG must be caught
	local bug=$1 errs
	shift
	errs=$(verify "$bug" "-D$bug" "$@")
	if [ -n "$errs" ] && [ "$errs" -gt 0 ]; then
		passed=$((passed + 1)); echo "ok - $bug is caught ($(grep -m1 -E 'pan:[0-9]*: |invalid end state|assertion violated' "$work/$bug.out"))"
	else
		failed=$((failed + 1)); echo "not ok - $bug was not caught"
	fi
}

# Two deaths, no rewind: with a rewind too the search grows to 9*10^7
# states (8 GB, two minutes), so the rewind has its own run below.
must_pass ring "" -DMAXREWINDS=0
# A live producer giving a frame back (fb_abort_claim): with one death
# rather than two, or the search outgrows a CI run (10^8 states).
must_pass unclaim " with unclaim" -DMAXUNCLAIMS=1 -DMAXDEATHS=1 -DMAXREWINDS=0
# ffmpeg's death survived in place (fb_ring_rewind_begin / _to): one
# rewind and one producer death, which may fall inside the rewind.
must_pass rewind " with rewind" -DMAXREWINDS=1 -DMAXDEATHS=1
must_fail BUG_WINDOW -DMAXREWINDS=0
must_fail BUG_NO_REISSUE_WAKE -DMAXREWINDS=0
must_fail BUG_REWIND_NO_DRAIN -DMAXREWINDS=1 -DMAXDEATHS=1
must_fail BUG_RELEASE_BEFORE_REWIND -DMAXREWINDS=1 -DMAXDEATHS=0
echo "model: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
