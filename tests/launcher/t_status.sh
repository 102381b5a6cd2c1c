#!/usr/bin/env bash
# Live status: fb-stat reads a running render (text and --json, --watch
# until it ends), fb-render writes --progress blocks; their counters agree
# with what the render produced (frames, restarts).
. "$(dirname "$0")/../lib.sh"

N=120
name=/$TID-st
FB_FAULT=producer:after-claim:30 FB_FAULT_ONCE=$TMP/fault fb-render --size 160x120 --frames $N --workers 2 --slots 4 \
	--delay-ms 15 --name $name -o "$TMP/out.mp4" --progress "$TMP/progress" 2> "$TMP/err" &
pid=$!
wait_until 10 rendering $name 0
fb-stat $name --json --watch --interval 100 > "$TMP/watch.jsonl" 2> "$TMP/watch.err" &
wpid=$!
wait_until 10 rendering $name 10 # producers at work, frames through
fb-stat $name --json > "$TMP/one.json"
fb-stat $name > "$TMP/one.txt"
wait $pid
rc=$?
wait $wpid
wrc=$?
check "render with one producer killed: exit 0 (rc=$rc)" '[ $rc -eq 0 ]'
check "fb-stat --json on the live render is one JSON object, RUNNING, with 4 slots" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["state"] == "RUNNING" and d["frames"] == int(sys.argv[2]) and len(d["slots"]) == 4, d
assert 0 <= d["emitted"] <= d["claimed"] <= d["frames"] and d["producers"], d
assert all(s["state"] in ("EMPTY", "CLAIMED", "READY", "ENCODING", "REISSUE") for s in d["slots"])' \
	"$TMP/one.json" $N
check "text view shows the slots and producers" \
	'grep -q "^slots     4:" "$TMP/one.txt" && grep -q "producer [0-9]*:" "$TMP/one.txt"'
nb=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$TMP/out.mp4")
check "--watch ran to the end; its last sample agrees with the output ($nb frames) and fb-render (1 restart)" \
	python3 -c '
import json, sys
lines = open(sys.argv[1]).read().split("\n")
samples = [json.loads(l) for l in lines if l]
last = samples[-1]
assert int(sys.argv[3]) == 0 and len(samples) >= 3, (sys.argv[3], len(samples))
assert last["state"] == "DONE" and last["emitted"] == int(sys.argv[2]) == last["frames"], last
assert last["restarts"] == 1 and last["reissued"] >= 0, last
em = [s["emitted"] for s in samples]
assert em == sorted(em), em' "$TMP/watch.jsonl" "$nb" $wrc
check "fb-render said restart 1" 'grep -q "restart 1 of 10" "$TMP/err"'
check "--progress: key=value blocks, the last one progress=end with frame=$N and restarts=1" \
	python3 "$ROOT/tests/helpers/progress.py" "$TMP/progress" 'len(blocks) >= 2 and not rest' \
	'all(b["progress"] == "continue" for b in blocks[:-1]) and last["progress"] == "end"' \
	"last['frame'] == '$N' and last['total_frames'] == '$N'" \
	'last["restarts"] == "1" and last["out_time"] == "00:00:04.000000"'

fb-stat /$TID-none 2> "$TMP/err"
rc=$?
check "fb-stat on no render: exit 1, one line ($(cat "$TMP/err"))" \
	'[ $rc -eq 1 ] && [ "$(wc -l < "$TMP/err")" = 1 ]'
fb-stat "no name" 2> "$TMP/err"
rc=$?
check "fb-stat with a bad name: exit 2 ($(cat "$TMP/err"))" '[ $rc -eq 2 ]'
fb-render --progress /nonexistent-dir/p --name /$TID-p -o "$TMP/p.mp4" 2> "$TMP/err"
rc=$?
check "unwritable --progress: exit 2 ($(cat "$TMP/err"))" '[ $rc -eq 2 ]'

check_clean "status"
finish
