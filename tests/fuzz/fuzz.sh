#!/usr/bin/env bash
# Run the libFuzzer target for FUZZ_SECONDS (make fuzz: 300; make check: 20)
# on a corpus kept under build/fuzz/corpus.  A crash, a sanitizer report or
# a hang (-timeout) fails it and leaves the input as build/fuzz/crash-*.
# Prints "fuzz: N passed, N failed".
set -u
bin=${1:-build/fuzz/fuzz_ring}
dir=$(dirname "$bin")
mkdir -p "$dir/corpus"
# Inputs that once found a bug run first, every time.
# fuzz_ring names its segment /fbfuzz-PID and unlinks it at once; should it
# die in between, only that name (its pid's) is removed here, no one else's.
fuzz() { "$bin" "$@" & pid=$!; wait $pid; rc=$?; rm -f "/dev/shm/fbfuzz-$pid" 2> /dev/null; return $rc; }
if ! fuzz -timeout=10 tests/fuzz/regress/* > "$dir/regress.log" 2>&1; then
	tail -20 "$dir/regress.log"
	echo "fuzz: 0 passed, 1 failed"
	exit 1
fi
fuzz -max_total_time="${FUZZ_SECONDS:-20}" -timeout=10 -rss_limit_mb=2048 \
	-artifact_prefix="$dir/" -print_final_stats=1 "$dir/corpus" > "$dir/fuzz.log" 2>&1
rc=$?
grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb)' "$dir/fuzz.log"
if [ $rc -eq 0 ]; then
	echo "fuzz: 1 passed, 0 failed"
else
	tail -30 "$dir/fuzz.log"
	echo "fuzz: 0 passed, 1 failed"
fi
exit $rc
