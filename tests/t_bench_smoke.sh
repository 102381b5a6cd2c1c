#!/usr/bin/env bash
# make bench's harness still works: a quick run (tiny sizes, one run per
# figure) prints every row and writes parseable CSV/JSON and the plots.
# Figures are not judged here — benchmarks report, tests never time.
. "$(dirname "$0")/lib.sh"

BENCH_QUICK=1 BENCH_RUNS=1 BENCH_RESULTS="$TMP/results" "$ROOT/bench/bench.py" > "$TMP/out" 2>&1
rc=$?
check "quick bench run exits 0 (rc=$rc)" '[ $rc -eq 0 ] || { tail -5 "$TMP/out"; false; }'
for what in "transport" "handoff" "into ffmpeg" "end to end" "vs Node.js" "memory" "scaling"; do
	check "table has the '$what' section" grep -q -- "^-- $what\$" "$TMP/out"
done
check "bench.json parses, every row has a figure" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["machine"]["cpus"] >= 1 and len(d["rows"]) >= 20
assert all(r["figure"] is not None for r in d["rows"])' "$TMP/results/bench.json"
check "bench.csv has a header and as many rows" python3 -c '
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == len(json.load(open(sys.argv[2]))["rows"])' \
	"$TMP/results/bench.csv" "$TMP/results/bench.json"
for p in ratios scaling memory; do
	check "$p.png is a PNG" '[ "$(head -c 4 "$TMP/results/'$p'.png" | tail -c 3)" = PNG ]'
done
check_clean "bench"
finish
