#!/usr/bin/env bash
# Crash-isolated rendering: a producer killed at any protocol step, killed
# at random, or hung, costs one frame's redo — the output stays
# byte-identical to the input — and ffmpeg, encoder and broker failures end
# everything within their deadlines.
. "$(dirname "$0")/../lib.sh"

W=160 H=120 FMT=rgb24
F=$(frame_bytes $FMT $W $H)
gen_bytes $((F * 1500)) crash > "$TMP/src.raw"
geo=(--size ${W}x${H} --pix-fmt $FMT --source raw:"$TMP/src.raw" --sink raw)

# same_as_src OUT N: OUT equals the first N frames of the source.
same_as_src() { cmp -s "$1" <(head -c $(($2 * F)) "$TMP/src.raw"); }

# --- the kill matrix: FB_FAULT kills a producer at each step, frame 7 ----
for step in before-claim claim after-claim mid-render after-render publish after-publish; do
	# --delay-ms: the death must be seen before the render is over, or
	# fb-render rightly has nothing left to restart.
	FB_FAULT=producer:$step:7 FB_FAULT_ONCE=$TMP/fault.m$step fb-render "${geo[@]}" --frames 30 --workers 3 --slots 3 --delay-ms 5 \
		-o "$TMP/m.raw" --name /$TID-m$step 2> "$TMP/err"
	rc=$?
	if [ $rc -eq 0 ] && same_as_src "$TMP/m.raw" 30 &&
		grep -q "killed by signal 9 (Killed); starting a replacement (restart 1 of 10)" "$TMP/err"; then
		ok "killed at $step: output exact, restart logged"
	else
		not_ok "killed at $step: rc=$rc $(tr '\n' '~' < "$TMP/err")"
	fi
	case $step in
	claim|after-claim|mid-render|after-render|publish)
		check "killed at $step: broker reissued frame 7" \
			grep -q "died holding frame 7; frame reissued" "$TMP/err" ;;
	esac
done
check_clean "kill matrix"

# The encoder killed at its steps: the render fails cleanly.
for step in after-acquire after-write; do
	FB_FAULT=encoder:$step:5 FB_FAULT_ONCE=$TMP/fault.e$step fb-render "${geo[@]}" --frames 30 --workers 2 \
		-o "$TMP/e.raw" --name /$TID-e$step 2> "$TMP/err"
	rc=$?
	check "encoder killed at $step: exit 1 naming it ($(tr '\n' '~' < "$TMP/err"))" \
		'[ $rc -eq 1 ] && grep -q "fb-encoder (pid [0-9]*) killed by signal 9" "$TMP/err"' 
	check_clean "encoder killed at $step"
done

# A malformed fault spec is a usage error, not a silent no-op: a step of
# no role, or a role with no steps (broker, render: a typo there would
# test nothing as surely as one in the step).
for spec in producer:nowhere:1 broker:typo:x render:after-claim:1; do
	FB_FAULT=$spec FB_FAULT_ONCE=$TMP/fault.bad fb-render "${geo[@]}" --frames 3 --workers 1 \
		-o "$TMP/x.raw" --name /$TID-badfault 2> "$TMP/err"
	rc=$?
	check "malformed FB_FAULT=$spec: exit 2 ($(head -1 "$TMP/err"))" \
		'[ $rc -eq 2 ] && grep -q "invalid FB_FAULT" "$TMP/err"'
done
check_clean "malformed FB_FAULT"
# Fire-once needs its marker (lib/fb_fault.h): none named, or one that is
# there already (a fault fired there before: this render would test
# nothing), is a usage error too, said before anything starts.
rm -f "$TMP/x.raw"
FB_FAULT=producer:after-claim:1 fb-render "${geo[@]}" --frames 3 --workers 1 -o "$TMP/x.raw" \
	--name /$TID-nomark 2> "$TMP/err"
rc=$?
check "FB_FAULT without FB_FAULT_ONCE: exit 2 ($(head -1 "$TMP/err"))" \
	'[ $rc -eq 2 ] && grep -q "needs FB_FAULT_ONCE" "$TMP/err" && [ ! -e "$TMP/x.raw" ]'
: > "$TMP/fault.stale"
FB_FAULT=producer:after-claim:1 FB_FAULT_ONCE=$TMP/fault.stale fb-render "${geo[@]}" --frames 3 \
	--workers 1 -o "$TMP/x.raw" --name /$TID-stale 2> "$TMP/err"
rc=$?
check "FB_FAULT_ONCE naming an existing file: exit 2 ($(head -1 "$TMP/err"))" \
	'[ $rc -eq 2 ] && grep -q "exists already" "$TMP/err" && [ ! -e "$TMP/x.raw" ]'
check_clean "FB_FAULT markers"

# --- random kills: >= 20 SIGKILLs to random producers in one render ------
fb-render "${geo[@]}" --frames 1500 --workers 4 --slots 4 --delay-ms 8 --max-restarts 200 \
	-o "$TMP/r.raw" --name /$TID-rand 2> "$TMP/err.rand" &
rpid=$!
kills=0
wait_until 10 rendering /$TID-rand
while kill -0 $rpid 2> /dev/null; do
	victim=$(pgrep -f "fb-producer --name /$TID-rand" | shuf -n 1)
	[ -n "$victim" ] && kill -KILL "$victim" 2> /dev/null && kills=$((kills + 1))
	sleep 0.08 # the kills' pace: the test
done
wait $rpid
rc=$?
restarts=$(grep -c "starting a replacement" "$TMP/err.rand")
check "random kills: exit 0 after $kills kills, $restarts restarts" '[ $rc -eq 0 ] && [ "$kills" -ge 20 ]' 
check "random kills: restarts logged for the kills ($restarts >= 20)" [ "$restarts" -ge 20 ]
check "random kills: output byte-identical" same_as_src "$TMP/r.raw" 1500
check_clean "random kills"

# --- a hung producer: SIGSTOP, frame reissued after --frame-timeout ------
# The producer that claims frame 50 stops itself holding it (FB_FAULT
# ...:stop): a fixed point.  (It used to be a registered producer found by
# fb-stat and SIGSTOPped by the test; under load that one could be between
# frames, holding nothing to time out, or gone already.)
FB_FAULT=producer:after-claim:50:stop FB_FAULT_ONCE=$TMP/fault.hang \
	fb-render "${geo[@]}" --frames 200 --workers 2 --slots 3 --delay-ms 10 --frame-timeout 1 \
	-o "$TMP/h.raw" --name /$TID-hang 2> "$TMP/err.hang" &
rpid=$!
victim=
stopped_producer() {
	local p
	for p in $(own_pids --match "fb-producer"); do
		[ "$(awk '{ print $3 }' "/proc/$p/stat" 2> /dev/null)" = T ] && victim=$p && return 0
	done
	return 1
}
wait_until 60 stopped_producer
wait $rpid
rc=$?
check "SIGSTOPped producer: exit 0 ($(tr '\n' '~' < "$TMP/err.hang"))" [ $rc -eq 0 ]
check "SIGSTOPped producer: timeout logged with frame and pid ($victim)" \
	grep -q "frame 50: producer $victim held it over --frame-timeout 1s; killing it" "$TMP/err.hang"
check "SIGSTOPped producer: output byte-identical" same_as_src "$TMP/h.raw" 200
check_clean "hung producer"

# --- a producer stopped after its last frame, holding nothing ------------
# The broker has nothing to time out (no claim, no lock); the render
# completes without it, and fb-render must not wait for it forever (it
# did): continued and ended 2 s after the last frame, with a line.
t0=$(date +%s%N)
FB_FAULT=producer:after-publish:5:stop FB_FAULT_ONCE=$TMP/fault.idle timeout 60 fb-render "${geo[@]}" \
	--frames 60 --workers 2 --delay-ms 5 -o "$TMP/idle.raw" --name /$TID-idle 2> "$TMP/err.idle"
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "a producer stopped after its frames: exit 0 in $ms ms, ended with a line ($(tr '\n' '~' < "$TMP/err.idle"))" \
	'[ $rc -eq 0 ] && [ -e "$TMP/fault.idle" ] && grep -q "still running 2 s after the last frame was written; ending it" "$TMP/err.idle"'
check "a producer stopped after its frames: output exact" same_as_src "$TMP/idle.raw" 60
check_clean "stopped after its frames"

# --- a producer stopped while it holds the ring lock -----------------------
# Everybody else queues on the mutex, which only a death hands on: the
# broker must notice (its lock waits are bounded) and kill the holder.
# Frame 150 lies well after start-up, when no event would wake the broker:
# its once-a-second watchdog has to find the stuck lock (long before the
# 60 s frame timeout).
for step in before-claim claim publish; do
	t0=$(date +%s%N)
	FB_FAULT=producer:$step:150:stop FB_FAULT_ONCE=$TMP/fault.s$step fb-render "${geo[@]}" --frames 200 --workers 3 --slots 3 \
		--delay-ms 5 -o "$TMP/s.raw" --name /$TID-s$step 2> "$TMP/err.stop"
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "stopped in the lock at $step: exit 0 in $ms ms, holder killed ($(tr '\n' '~' < "$TMP/err.stop"))" \
		'[ $rc -eq 0 ] && [ $ms -lt 10000 ] && grep -q "has held the ring lock over 500 ms (stopped?); killing it" "$TMP/err.stop"'
	check "stopped in the lock at $step: output exact" same_as_src "$TMP/s.raw" 200
	check_clean "stopped in the lock at $step"
done

# --- too many deaths: past --max-restarts the render fails clearly -------
fb-render "${geo[@]}" --frames 400 --workers 2 --delay-ms 10 --max-restarts 2 \
	-o "$TMP/x.raw" --name /$TID-max 2> "$TMP/err.max" &
rpid=$!
for _ in 1 2 3 4 5 6; do
	# a producer of the render (the first or a replacement) runs, or it ended
	wait_until 10 "pgrep -f 'fb-producer --name /$TID-max' > /dev/null || ! alive $rpid"
	pkill -KILL -f "fb-producer --name /$TID-max"
done
wait $rpid
rc=$?
check "past --max-restarts: exit 1 ($(tail -1 "$TMP/err.max"))" \
	'[ $rc -eq 1 ] && grep -q "no restarts left (--max-restarts 2)" "$TMP/err.max"' 
check_clean "max restarts"

# --- ffmpeg stops reading: --encoder-timeout ------------------------------
fb-render --size 160x120 --frames 500 --workers 2 --encoder-timeout 1 -o "$TMP/t.mp4" \
	--name /$TID-stall -- -c:v libx264 -preset ultrafast 2> "$TMP/err.stall" &
rpid=$!
ff=
ffmpeg_runs() { epid=$(pgrep -f "fb-encoder --name /$TID-stall") && ff=$(pgrep -P "$epid" ffmpeg); }
wait_until 10 ffmpeg_runs
kill -STOP "$ff"
t0=$(date +%s%N)
wait $rpid
rc=$?
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "stalled ffmpeg: exit 1 in $ms ms ($(cat "$TMP/err.stall"))" \
	'[ $rc -eq 1 ] && grep -q "ffmpeg read nothing for 1 s (--encoder-timeout)" "$TMP/err.stall" && [ $ms -lt 5000 ]' 
check_clean "stalled ffmpeg"

# --- only one encoder per segment -----------------------------------------
fb-render "${geo[@]}" --frames 300 --workers 1 --delay-ms 10 -o "$TMP/one.raw" \
	--name /$TID-enc 2> /dev/null &
rpid=$!
wait_until 10 rendering /$TID-enc
fb-encoder --name /$TID-enc --sink raw -o "$TMP/two.raw" 2> "$TMP/err"
check "a second encoder is refused ($(cat "$TMP/err"))" grep -q "another encoder is attached" "$TMP/err"
wait $rpid
check "the render itself completes" same_as_src "$TMP/one.raw" 300
check_clean "second encoder"

# --- the last frames' holder hangs after every other producer is done -----
# (no fb-render, so no replacement): the producer that is left must stay to
# take the reissued frame, or the render would hang.
fb-broker --name /$TID-last --size ${W}x${H} --pix-fmt $FMT --frames 20 --slots 4 \
	--frame-timeout 1 2> "$TMP/err.last" &
bpid=$!
fb-encoder --name /$TID-last --sink raw -o "$TMP/last.raw" 2>> "$TMP/err.last" &
epid=$!
# The first producer stops itself (FB_FAULT ...:stop) once it has
# published frame 13, holding no frame, with frames left for it to take:
# a fixed point, not a race against a loaded machine (it used to be
# SIGSTOPped after 14 frames were seen, and under load it could have
# rendered all 20 by then, leaving the hanging one alone: a hang).
FB_FAULT=producer:after-publish:13:stop FB_FAULT_ONCE=$TMP/fault.last \
	fb-producer --name /$TID-last --source raw:"$TMP/src.raw" --delay-ms 50 2>> "$TMP/err.last" &
p1=$!
stopped() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2> /dev/null)" = T ]; }
wait_until 60 stopped $p1
fb-producer --name /$TID-last --source raw:"$TMP/src.raw" --delay-ms 30000 2>> "$TMP/err.last" &
p2=$!
holds() { # PID NAME: a slot of NAME is claimed by PID
	fb-stat "$2" --json 2> /dev/null | python3 -c 'import json, sys
sys.exit(not any(s["owner"] == int(sys.argv[1]) for s in json.load(sys.stdin)["slots"]))' "$1"
}
wait_until 60 holds $p2 /$TID-last
kill -CONT $p1
# Bounded: a hang here is a failure, not a stuck suite.
wait_until 120 "! kill -0 $epid 2> /dev/null" || kill -KILL $epid $p1 $p2 $bpid 2> /dev/null
{ wait $epid; } 2> /dev/null
rc=$?
check "hung last producer, no launcher: encoder completes ($(tr '\n' '~' < "$TMP/err.last"))" \
	'[ $rc -eq 0 ] && grep -q "held it over --frame-timeout 1s" "$TMP/err.last"'
check "hung last producer, no launcher: output exact" same_as_src "$TMP/last.raw" 20
{ wait; } 2> /dev/null
check_clean "hung last producer"

# --- a producer that fails deliberately is not restarted -----------------
cp "$TMP/src.raw" "$TMP/trunc.raw"
fb-render "${geo[@]/$TMP\/src.raw/$TMP/trunc.raw}" --frames 300 --workers 2 --delay-ms 10 \
	-o "$TMP/tr.raw" --name /$TID-trunc 2> "$TMP/err.trunc" &
rpid=$!
wait_until 10 rendering /$TID-trunc
truncate -s $((100 * F)) "$TMP/trunc.raw"
wait $rpid
rc=$?
check "raw source truncated mid-render: exit 1, cause names the frame, no restart ($(tr '\n' '~' < "$TMP/err.trunc"))" \
	'[ $rc -eq 1 ] && grep -q "reading frame [0-9]* of .*: file too short" "$TMP/err.trunc" && ! grep -q "replacement" "$TMP/err.trunc"'
check_clean "truncated source"

# --- a broker killed while reserving a big segment leaves it stale -------
fb-broker --name /$TID-big --size 4096x4096 --slots 16 --frames 1 2> /dev/null &
bpid=$!
wait_until 5 '[ -e /dev/shm/$TID-big ]' # reserving its memory
kill -KILL $bpid
{ wait $bpid; } 2> /dev/null
existed=$([ -e /dev/shm/$TID-big ] && echo yes || echo no)
fb-render "${geo[@]}" --frames 5 --workers 1 -o "$TMP/big.raw" --name /$TID-big 2> "$TMP/err"
rc=$?
check "name of a broker killed mid-creation is reusable (left behind: $existed; $(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && { [ $existed = no ] || grep -qE "replaced (stale|abandoned) segment /$TID-big" "$TMP/err"; }'
check_clean "broker killed mid-creation"

# --- two brokers racing to replace one abandoned segment: one wins --------
wins=0
for i in 1 2 3 4 5 6; do
	: > /dev/shm/$TID-race   # an object with no identity: "abandoned"
	fb-broker --name /$TID-race --frames 5 --size 16x16 2> /dev/null &
	a=$!
	sleep 0.00$i # the second one's head start: the test
	fb-broker --name /$TID-race --frames 5 --size 16x16 2> /dev/null &
	b=$!
	# the race settled: the loser has exited (a winner waits for workers)
	at_most_one() { ! { alive $a && alive $b; }; }
	wait_until 10 at_most_one
	alive=0
	for p in $a $b; do kill -0 $p 2> /dev/null && alive=$((alive + 1)); done
	[ $alive -eq 1 ] && wins=$((wins + 1))
	kill -TERM $a $b 2> /dev/null
	{ wait $a $b; } 2> /dev/null
	rm -f /dev/shm/$TID-race
done
check "two brokers racing for an abandoned name: exactly one runs ($wins of 6 rounds)" [ $wins -eq 6 ]
check_clean "broker race"

# --- attaching by name while the broker is still reserving memory --------
fb-producer --name /$TID-early --attach-timeout 10000 2> "$TMP/err.early" &
ppid=$!
wait_until 5 sleeping $ppid # waiting for a segment that is not there yet
fb-broker --name /$TID-early --size 4096x4096 --slots 16 --frames 2 2>> "$TMP/err.early" &
fb-encoder --name /$TID-early --attach-timeout 10000 --sink raw -o /dev/null 2>> "$TMP/err.early"
rc=$?
wait $ppid
prc=$?
{ wait; } 2> /dev/null
check "workers started before a slow broker attach once it is ready ($(cat "$TMP/err.early"))" \
	'[ $rc -eq 0 ] && [ $prc -eq 0 ]'
check_clean "early workers"

# --- broker death without fb-render: workers notice within 2 s -----------
fb-broker --name /$TID-b --size ${W}x${H} --pix-fmt $FMT --frames 1000 &
bpid=$!
disown $bpid # no job notice when it is SIGKILLed below
wait_until 5 '[ -e /dev/shm/$TID-b ]'
for _ in 1 2; do fb-producer --name /$TID-b --source raw:"$TMP/src.raw" --delay-ms 5 2> /dev/null & done
fb-encoder --name /$TID-b -o "$TMP/b.mp4" -- -vf realtime -c:v libx264 -preset ultrafast \
	-pix_fmt yuv420p 2> "$TMP/err.b" &
wait_until 10 rendering /$TID-b 2
kill -KILL $bpid
t0=$(date +%s%N)
gone() { ! pgrep -f -- "--name /$TID-b" > /dev/null && ! pgrep -f "$TMP/b.mp4" > /dev/null; }
wait_until 3 gone
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "broker SIGKILLed: producers, encoder and ffmpeg gone in $ms ms (<= 2000)" gone
check "broker SIGKILLed: encoder says so ($(cat "$TMP/err.b"))" grep -q "broker (pid $bpid) died" "$TMP/err.b"
{ wait; } 2> /dev/null
check "the dead broker's segment is still there (stale)" [ -e /dev/shm/$TID-b ]
fb-render "${geo[@]}" --frames 10 --workers 2 -o "$TMP/stale.raw" --name /$TID-b 2> "$TMP/err"
rc=$?
check "stale segment replaced, saying so in one line ($(cat "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$(grep -vc "^fb-render: wrote " "$TMP/err")" -eq 1 ] && grep -q "replaced stale segment /$TID-b" "$TMP/err"' 
check "render over the replaced segment is exact" same_as_src "$TMP/stale.raw" 10
check_clean "broker death"

finish
