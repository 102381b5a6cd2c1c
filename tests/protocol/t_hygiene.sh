#!/usr/bin/env bash
# Resource hygiene: the long-lived processes (fb-broker, fb-render) hold the
# same number of file descriptors after 3000 frames and a run of producer
# deaths and restarts as they did at the start; nothing is left behind.
. "$(dirname "$0")/../lib.sh"

F=$(frame_bytes gray 64 48)
gen_bytes $((F * 3000)) hygiene > "$TMP/src.raw"
fdcount() { ls "/proc/$1/fd" 2> /dev/null | wc -l; }

fb-render --size 64x48 --pix-fmt gray --frames 3000 --workers 3 --delay-ms 3 --max-restarts 100 \
	--source raw:"$TMP/src.raw" --sink raw -o "$TMP/out.raw" --name /$TID-h 2> "$TMP/err" &
rpid=$!
sleep 0.4
bpid=$(pgrep -f "fb-broker --name /$TID-h")
b0=$(fdcount "$bpid")
r0=$(fdcount $rpid)
for _ in 1 2 3 4 5 6; do
	pkill -KILL -f "fb-producer --name /$TID-h" # all of them at once
	sleep 0.25
done
sleep 0.3
b1=$(fdcount "$bpid")
r1=$(fdcount $rpid)
wait $rpid
rc=$?
check "render with 6 rounds of producer deaths: exit 0 ($(grep -c replacement "$TMP/err") restarts)" [ $rc -eq 0 ]
check "output byte-identical" cmp -s "$TMP/out.raw" "$TMP/src.raw"
check "fb-broker descriptors: $b0 at start, $b1 after the restarts" '[ -n "$b0" ] && [ "$b0" -gt 0 ] && [ "$b0" = "$b1" ]'
check "fb-render descriptors: $r0 at start, $r1 after the restarts" '[ -n "$r0" ] && [ "$r0" -gt 0 ] && [ "$r0" = "$r1" ]'
check_clean "hygiene"
finish
