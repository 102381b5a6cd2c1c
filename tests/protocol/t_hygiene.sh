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
# Our own processes only: fb-render's children, never a pkill by pattern.
producers() { pgrep -P $rpid -x fb-producer; }
# all three producers running (the first ones, or after a round of deaths
# their replacements), the render going on
all_three() { [ "$(producers | wc -l)" -eq 3 ] && rendering /$TID-h; }
wait_until 10 all_three
bpid=$(pgrep -P $rpid -x fb-broker)
b0=$(fdcount "$bpid")
r0=$(fdcount $rpid)
# replaced: none of the producers in $old runs any more (gone, or a
# zombie), and three others do
replaced() {
	local p
	for p in $old; do
		[[ "$(sed 's/.*) //' /proc/$p/stat 2> /dev/null)" == [^Z]* ]] && return 1
	done
	all_three
}
for _ in 1 2 3 4 5 6; do
	old=$(producers)
	kill -KILL $old # all of them at once
	wait_until 10 replaced
done
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
