#!/usr/bin/env bash
# Any program as a capture process (--source exec:CMD / sh:CMD): each
# producer runs the command, asks it for frame indices on stdin and reads
# the frames from its stdout.  Checked against references computed without
# framebroker; a renderer killed mid-render costs one frame's redo; a
# renderer that is missing, or sends short frames, fails cleanly.
. "$(dirname "$0")/../lib.sh"

EX=$ROOT/examples

# 1. ffmpeg as the renderer: equal to ffmpeg rendering testsrc2 itself.
fb-render --size 160x120 --fps 30 --frames 12 --workers 2 --slots 3 \
	--source exec:"$EX/ffmpeg-testsrc.py" --sink raw -o "$TMP/ff.raw" --name /$TID-ff 2> "$TMP/err"
rc=$?
ffmpeg -v error -f lavfi -i testsrc2=size=160x120:rate=30 -frames:v 12 -f rawvideo -pix_fmt rgba \
	-y "$TMP/ffref.raw"
check "ffmpeg testsrc2 renderer: output equals ffmpeg's own frames (rc=$rc)" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/ff.raw" "$TMP/ffref.raw"'

# ... and asked out of order, as a producer is when a dead producer's frame
# is reissued to it: an index behind its ffmpeg's stream restarts it there.
fsz=$((160 * 120 * 4))
printf '5\n2\n3\n9\n' | FB_WIDTH=160 FB_HEIGHT=120 FB_PIX_FMT=rgba FB_FPS=30 FB_FRAMES=12 \
	FB_FRAME_BYTES=$fsz "$EX/ffmpeg-testsrc.py" > "$TMP/order.raw"
for i in 5 2 3 9; do dd if="$TMP/ffref.raw" bs=$fsz skip=$i count=1 status=none; done > "$TMP/orderref.raw"
check "ffmpeg-testsrc.py asked 5, 2, 3, 9: ffmpeg's own frames 5, 2, 3, 9" \
	'cmp -s "$TMP/order.raw" "$TMP/orderref.raw"'

# 2. A Python render loop: equal to the script asked for 0..N-1 directly.
export FB_WIDTH=96 FB_HEIGHT=64 FB_PIX_FMT=rgb24 FB_FRAMES=40
seq 0 39 | python3 "$EX/draw.py" > "$TMP/pyref.raw"
unset FB_WIDTH FB_HEIGHT FB_PIX_FMT FB_FRAMES
fb-render --size 96x64 --pix-fmt rgb24 --frames 40 --workers 3 --slots 4 \
	--source "exec:python3 '$EX/draw.py'" --sink raw -o "$TMP/py.raw" --name /$TID-py 2> "$TMP/err"
rc=$?
check "python renderer, 3 producers: output equals the script's own (rc=$rc)" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/py.raw" "$TMP/pyref.raw"'
fb-render --size 96x64 --pix-fmt rgb24 --frames 40 --workers 2 \
	--source "sh:exec python3 '$EX/draw.py' 2>/dev/null" --sink raw -o "$TMP/sh.raw" \
	--name /$TID-sh 2> "$TMP/err"
rc=$?
check "sh:CMD runs through sh -c (rc=$rc)" '[ $rc -eq 0 ] && cmp -s "$TMP/sh.raw" "$TMP/pyref.raw"'

# 3. A renderer killed mid-render: its producer gives the frame back and is
# replaced; the output is still exact.  No renderer outlives the render.
export FB_WIDTH=96 FB_HEIGHT=64 FB_PIX_FMT=rgb24 FB_FRAMES=300
seq 0 299 | python3 "$EX/draw.py" > "$TMP/pyref300.raw"
unset FB_WIDTH FB_HEIGHT FB_PIX_FMT FB_FRAMES
fb-render --size 96x64 --pix-fmt rgb24 --frames 300 --workers 2 --slots 4 --delay-ms 10 \
	--source "exec:python3 '$EX/draw.py'" --sink raw -o "$TMP/kill.raw" --name /$TID-kill \
	2> "$TMP/kill.err" &
pid=$!
wait_until 10 rendering /$TID-kill 5 # renderers running, frames flowing
kill -KILL "$(own_pids --match "python3 $EX/draw.py" | head -1)" # the first renderer of ours
wait $pid
rc=$?
check "renderer SIGKILLed mid-render: exit 0, output exact (rc=$rc)" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/kill.raw" "$TMP/pyref300.raw"'
check "the frame was given back and the producer replaced ($(grep -m1 renderer "$TMP/kill.err"))" \
	'grep -q "frame given back" "$TMP/kill.err" && grep -q "starting a replacement" "$TMP/kill.err"'
no_renderer() { [ -z "$(own_pids --match "$EX/draw.py")" ]; }
wait_until 5 no_renderer
check "no renderer left running" no_renderer

# 4. A producer killed (or timed out) takes its renderer along.
fb-render --size 96x64 --pix-fmt rgb24 --frames 300 --workers 1 --delay-ms 5 \
	--source "exec:python3 '$EX/draw.py'" --sink raw -o "$TMP/k2.raw" --name /$TID-k2 \
	2> "$TMP/k2.err" &
pid=$!
wait_until 10 rendering /$TID-k2 5
own_kill --match "fb-producer --name /$TID-k2"
wait $pid
rc=$?
wait_until 5 no_renderer
check "producer SIGKILLed: replaced, its renderer died with it, render exact (rc=$rc)" \
	'[ $rc -eq 0 ] && grep -q "starting a replacement" "$TMP/k2.err" &&
	 [ -z "$(own_pids --match "$EX/draw.py")" ] && cmp -s "$TMP/k2.raw" "$TMP/pyref300.raw"'

# 5. Bad renderers: clear errors, nothing left behind.
fb-render --source exec:no-such-renderer-xyz --name /$TID-none -o "$TMP/x.mp4" 2> "$TMP/err"
rc=$?
check "missing renderer: exit 2, one line ($(cat "$TMP/err"))" \
	'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && grep -q "no-such-renderer-xyz" "$TMP/err"'
fb-render --source "exec:python3 'unterminated" --name /$TID-q -o "$TMP/x.mp4" 2> "$TMP/err"
rc=$?
check "unterminated quote: exit 2 ($(cat "$TMP/err"))" '[ $rc -eq 2 ]'
# It reads its request first: a renderer that writes before it is asked
# is caught as stray bytes instead, whichever the producer sees first.
fb-render --size 64x48 --frames 10 --max-restarts 2 --source "sh:read n; head -c 10 /dev/zero" \
	--sink raw -o "$TMP/short.raw" --name /$TID-short 2> "$TMP/err"
rc=$?
check "short frames: each a restart, then exit 1 ($(grep -m1 short "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "sent a short frame (12288 bytes expected) at frame" "$TMP/err" &&
	 grep -q "no restarts left" "$TMP/err"'

# A raw renderer that writes one byte too many per frame: its frames would
# all be shifted; the producer sees bytes nobody asked for and stops it.
fb-render --size 64x48 --frames 20 --workers 1 --max-restarts 0 \
	--source "sh:while read n; do head -c 12288 /dev/zero; printf x; done" \
	--sink raw -o "$TMP/stray.raw" --name /$TID-stray 2> "$TMP/err"
rc=$?
check "one byte too many per frame: detected, exit 1 ($(grep -m1 stray "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "stray bytes" "$TMP/err"'

check_clean "exec"
finish
