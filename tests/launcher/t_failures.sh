#!/usr/bin/env bash
# Failure paths of the core: stop requests and dying processes end the
# render fast, with the documented exit code and a one-line cause, and
# leave no process and no segment.  (Producer death is survived: see
# tests/protocol/t_crash.sh.)
. "$(dirname "$0")/../lib.sh"

# A long, slow render to interfere with: 1000 frames through x264 at 100 fps
# realtime takes ~10 s.
long=(--size 320x240 --fps 100 --frames 1000 --workers 2 --slots 4)

start_render() { # NAME OUTPUT [extra args...]
	local name=$1 out=$2
	shift 2
	fb-render "${long[@]}" --name /$TID-$name -o "$out" "$@" -- -vf realtime \
		-c:v libx264 -preset ultrafast -pix_fmt yuv420p 2> "$TMP/err.$name" &
	RPID=$!
	# wait until frames flow: the encoder has taken 20, ffmpeg has written
	wait_until 10 "rendering /$TID-$name 20 && [ -s '$out' ]"
}

# finish_render NAME WANT_RC DESC [LIMIT_MS]: wait (bounded) and check the
# exit code, and that everything ended within LIMIT_MS (the deadline the
# crash-isolation spec sets: 1 s for encoder/ffmpeg failures, 2 s for the
# broker's death).
finish_render() {
	local name=$1 want=$2 desc=$3 limit=${4:-5000} rc t0 ms
	t0=$(date +%s%N)
	wait_until 2 "! alive $RPID"
	wait $RPID
	rc=$?
	ms=$(( ($(date +%s%N) - t0) / 1000000 ))
	check "$desc: exit $rc (want $want) in $ms ms (limit $limit); stderr: $(tr '\n' '~' < "$TMP/err.$name")" \
		'[ $rc -eq "$want" ] && [ $ms -le $limit ]'
}

for sig in INT TERM; do
	start_render $sig "$TMP/$sig.mp4"
	kill -$sig $RPID
	want=$([ $sig = INT ] && echo 130 || echo 143)
	finish_render $sig $want "SIG$sig to fb-render"
	n=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$TMP/$sig.mp4")
	check "after SIG$sig the partial mp4 is playable ($n frames)" '[ -n "$n" ] && [ "$n" -gt 0 ] && [ "$n" -lt 1000 ]' 
	check_clean "SIG$sig"
done

# SIGINT while a slow x264 preset is the bottleneck: the encoder is blocked
# on ffmpeg's pipe when the stop comes; ffmpeg must still finish the file.
# (100 s of video would be segmented by default; a stopped segmented render
# keeps its segments for --resume instead: tests/launcher/t_resume.sh.)
fb-render --size 1280x720 --frames 3000 --segment 0 --workers 2 --name /$TID-slow -o "$TMP/slow.mp4" \
	-- -c:v libx264 -preset slow -pix_fmt yuv420p 2> "$TMP/err.slow" &
RPID=$!
# back-pressure: past x264's look-ahead, the encoder asleep on the full pipe
blocked() {
	local e
	e=$(pgrep -f "fb-encoder --name /$TID-slow") && rendering /$TID-slow 60 && sleeping $e
}
wait_until 60 blocked
kill -INT $RPID
wait $RPID
rc=$?
n=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames -of csv=p=0 "$TMP/slow.mp4")
check "SIGINT under back-pressure: exit 130, quiet, playable mp4 ($n frames; $(cat "$TMP/err.slow"))" \
	'[ $rc -eq 130 ] && [ ! -s "$TMP/err.slow" ] && [ -n "$n" ] && [ "$n" -gt 0 ]'
check_clean "SIGINT under back-pressure"

# kill_one NAME PATTERN WANT_MSG LIMIT_MS: SIGKILL one process of a running render.
kill_one() {
	local name=$1 pat=$2 msg=$3 limit=$4 pid
	start_render "$name" "$TMP/$name.mp4"
	pid=$(pgrep -f "$pat" | head -1)
	[ -n "$pid" ] && kill -KILL "$pid"
	finish_render "$name" 1 "SIGKILL $name" "$limit"
	check "SIGKILL $name: one-line cause naming it" \
		'[ "$(wc -l < "$TMP/err.$name")" -eq 1 ] && grep -q "$msg" "$TMP/err.$name"' 
	check_clean "SIGKILL $name"
}
kill_one encoder "fb-encoder --name /$TID-encoder" "fb-encoder (pid [0-9]*) killed by signal 9" 1000
kill_one broker "fb-broker --name /$TID-broker" "fb-broker (pid [0-9]*) killed by signal 9" 2000
# The broker's death seen by the producers first: fb-render is stopped
# while the broker is SIGKILLed, and continued only once every producer has
# noticed and exited (a zombie fb-render cannot reap yet).  Still one line:
# a producer under fb-render (FB_RENDER_PID, its parent) leaves the saying
# to it.  (Without that, each producer printed "broker (pid N) died".)
start_render first "$TMP/first.mp4"
prods=$(pgrep -f "fb-producer --name /$TID-first" | tr '\n' ' ')
bpid=$(pgrep -f "fb-broker --name /$TID-first" | head -1)
gone_or_zombie() { # PID...: each has exited (a zombie) or is gone
	local p
	for p in "$@"; do
		[ ! -e /proc/$p/stat ] || [ "$(cut -d' ' -f3 /proc/$p/stat 2> /dev/null)" = Z ] || return 1
	done
}
kill -STOP $RPID
kill -KILL "$bpid"
wait_until 30 "gone_or_zombie $prods"
kill -CONT $RPID
finish_render first 1 "broker SIGKILLed, producers first ($(wc -w <<< "$prods") producers)" 2000
check "broker SIGKILLed, producers first: one line naming the broker" \
	'[ "$(wc -l < "$TMP/err.first")" -eq 1 ] && grep -q "fb-broker (pid $bpid) killed by signal 9" "$TMP/err.first"'
check_clean "broker SIGKILLed, producers first"

# The encoder stopped (SIGSTOP) when the broker is SIGKILLed: fb-render
# continues what it ends, so the render ends within the broker's 2 s, not
# at the 30 s grace's SIGKILL.
start_render stopped "$TMP/stopped.mp4"
epid=$(pgrep -f "fb-encoder --name /$TID-stopped" | head -1)
bpid=$(pgrep -f "fb-broker --name /$TID-stopped" | head -1)
kill -STOP "$epid"
wait_until 10 "[ \"\$(cut -d' ' -f3 /proc/$epid/stat)\" = T ]"
kill -KILL "$bpid"
finish_render stopped 1 "SIGKILL broker, encoder stopped" 2000
check "SIGKILL broker, encoder stopped: one line naming the broker" \
	'[ "$(wc -l < "$TMP/err.stopped")" -eq 1 ] && grep -q "fb-broker (pid $bpid) killed by signal 9" "$TMP/err.stopped"'
check_clean "SIGKILL broker, encoder stopped"

# ffmpeg: the encoder's child, found by its parent.
start_render ffmpeg "$TMP/ff.mp4"
epid=$(pgrep -f "fb-encoder --name /$TID-ffmpeg")
kill -KILL "$(pgrep -P "$epid" ffmpeg)"
finish_render ffmpeg 1 "SIGKILL ffmpeg" 1000
check "SIGKILL ffmpeg: cause names ffmpeg and the signal" grep -q "ffmpeg killed by signal 9" "$TMP/err.ffmpeg"
check_clean "SIGKILL ffmpeg"

# A reader that goes away: SIGPIPE must not kill anything silently.
fb-render --size 320x240 --frames 500 --sink raw -o - --name /$TID-pipe 2> "$TMP/err.pipe" | head -c 1 > /dev/null
rc=${PIPESTATUS[0]}
check "raw sink into 'head -c 1': exit 1 ($(cat "$TMP/err.pipe"))" '[ "$rc" -eq 1 ] && grep -q "Broken pipe" "$TMP/err.pipe"' 
check_clean "closed reader"

# fb-render itself SIGKILLed: the parent-death signal stops every child and
# the broker unlinks the segment.
start_render orphan "$TMP/orphan.mp4"
disown $RPID # no job notice for the SIGKILL below
kill -KILL $RPID
none_left() { ! pgrep -f "fb-[a-z]* --name /$TID-orphan" > /dev/null; }
wait_until 2 none_left
check "SIGKILL fb-render: children gone within 2 s" none_left
check_clean "SIGKILL fb-render"

finish
