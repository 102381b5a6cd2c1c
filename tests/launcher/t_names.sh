#!/usr/bin/env bash
# Segment names as users write them: "tour" and "/tour" are one segment (as
# for shm_open(3)) in fb-render, fb-stat, fb-broker, fb-producer and
# fb-encoder; each says, once, when it added the '/', and --log-level
# warning silences that; bad names are refused with exit 2 and one line.
# (The library's fb_attach: tests/bindings/t_library.sh and bin/test_unit.)
. "$(dirname "$0")/../lib.sh"

# fb-render without the '/', looked at by fb-stat both ways while it runs.
fb-render --name "$TID-plain" --size 64x48 --frames 60 --delay-ms 20 --workers 2 --sink raw \
	-o "$TMP/render.raw" 2> "$TMP/render.err" &
render=$!
wait_until 10 rendering /$TID-plain 0
fb-stat "$TID-plain" > "$TMP/stat1" 2> "$TMP/stat1.err"
rc1=$?
fb-stat "/$TID-plain" > "$TMP/stat2" 2> "$TMP/stat2.err"
rc2=$?
wait $render
rc=$?
check "fb-render --name $TID-plain: exit 0, $((64 * 48 * 4 * 60)) bytes out (rc=$rc)" \
	'[ $rc -eq 0 ] && [ "$(stat -c %s "$TMP/render.raw")" -eq $((64 * 48 * 4 * 60)) ]'
check "fb-render says once which name it used" \
	'[ "$(grep -c "segment name .$TID-plain. taken as /$TID-plain" "$TMP/render.err")" -eq 1 ]'
check "fb-stat $TID-plain finds /$TID-plain (rc=$rc1)" \
	'[ $rc1 -eq 0 ] && grep -q "^/$TID-plain " "$TMP/stat1" && grep -q "taken as /$TID-plain" "$TMP/stat1.err"'
check "fb-stat /$TID-plain finds the same render and says nothing about its name (rc=$rc2)" \
	'[ $rc2 -eq 0 ] && grep -q "^/$TID-plain " "$TMP/stat2" && ! grep -q "taken as" "$TMP/stat2.err"'

# The programs by hand, every one given the name without its '/'; the fill
# source's bytes (frame i: every byte i mod 256) computed here.
W=32 H=16 N=20
fb-broker --name "$TID-hand" --size ${W}x$H --frames $N --ready-fd 3 3> "$TMP/ready" 2> "$TMP/broker.err" &
broker=$!
wait_until 10 '[ -s "$TMP/ready" ]'
fb-producer --name "$TID-hand" --source fill 2> "$TMP/producer.err" &
producer=$!
timeout 60 fb-encoder --name "$TID-hand" --sink raw -o "$TMP/hand.raw" 2> "$TMP/encoder.err"
rc=$?
wait $producer
rp=$?
wait $broker
rb=$?
python3 -c '
import sys
w, h, n = map(int, sys.argv[1:4])
sys.stdout.buffer.write(b"".join(bytes([i % 256]) * (w * h * 4) for i in range(n)))
' $W $H $N > "$TMP/want.raw"
check "fb-broker, fb-producer, fb-encoder all given $TID-hand: exits $rb $rp $rc, output exact" \
	'[ $rb -eq 0 ] && [ $rp -eq 0 ] && [ $rc -eq 0 ] && cmp -s "$TMP/hand.raw" "$TMP/want.raw"'
for p in broker producer encoder; do
	check "fb-$p says which name it used" 'grep -q "taken as /$TID-hand" "$TMP/$p.err"'
done

# A descriptor and a name that are two objects (an adversary's finding: the
# producer rendered into B while every message named A): refused, exit 2,
# B untouched.  A descriptor on no segment: "not a framebroker segment",
# not "still being created".
for x in A B; do
	fb-broker --name "/$TID-$x" --size ${W}x$H --frames $N --ready-fd 3 3> "$TMP/ready.$x" 2> /dev/null &
	eval "broker_$x=\$!"
done
wait_until 10 '[ -s "$TMP/ready.A" ] && [ -s "$TMP/ready.B" ]'
fb-producer --name "/$TID-A" --fd 5 --source fill 5<> "/dev/shm/$TID-B" 2> "$TMP/err"
rc=$?
check "fb-producer --name A --fd (B): exit 2, one line ($(cat "$TMP/err"))" \
	'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q "another object than the segment of that name" "$TMP/err"'
head -c 100000 /dev/zero > "$TMP/plain"
fb-producer --name "/$TID-gone" --fd 5 --source fill 5< "$TMP/plain" 2> "$TMP/err"
rc=$?
check "fb-producer --fd on a plain file (its name unlinked, as after a short render): exit 1, 'not a framebroker segment' ($(cat "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "not a framebroker segment" "$TMP/err"'
kill "$broker_A" "$broker_B" 2> /dev/null
wait "$broker_A" "$broker_B" 2> /dev/null

fb-render --log-level warning --name "$TID-quiet" --size 32x16 --frames 5 --sink raw \
	-o "$TMP/q.raw" 2> "$TMP/quiet.err"
rc=$?
check "--log-level warning: the name line is silenced (rc=$rc)" \
	'[ $rc -eq 0 ] && ! grep -q "taken as" "$TMP/quiet.err"'
# ... wherever --log-level stands: the note waits for the options' end.
fb-render --name "$TID-quiet2" --log-level warning --size 32x16 --frames 5 --sink raw \
	-o "$TMP/q2.raw" 2> "$TMP/quiet2.err"
rc=$?
check "--name X --log-level warning (in that order): silenced too (rc=$rc; $(head -1 "$TMP/quiet2.err"))" \
	'[ $rc -eq 0 ] && [ ! -s "$TMP/quiet2.err" ]'

# Names that are no names, with or without the '/': refused before anything exists.
for bad in "" "/" "." ".." "a/b" "/$TID/x" "a b" "$(printf 'x%.0s' $(seq 200))"; do
	for prog in "fb-render --frames 2 --size 32x16 --sink raw -o $TMP/bad.raw --name" "fb-stat" \
		"fb-broker --name"; do
		# shellcheck disable=SC2086
		$prog "$bad" > /dev/null 2> "$TMP/err"
		rc=$?
		check "${prog%% *} refuses name '${bad:0:20}': exit 2, one line ($(head -c 90 "$TMP/err"))" \
			'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" -eq 1 ] && grep -q "invalid" "$TMP/err"'
	done
done
check "nothing was written for a refused name" '[ ! -e "$TMP/bad.raw" ]'
check_clean "names"
finish
