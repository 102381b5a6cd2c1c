#!/usr/bin/env bash
# t_resume.sh — segmented renders (fb-render --segment), ffmpeg's death
# survived in place, and --resume after every other death.
#
# The reference is always another render of the same frames: the same
# render with --segment 0 (ffv1 is lossless, so decoded frames and pts must
# be identical: ffmpeg's framemd5), or, for x264 (whose keyframes differ),
# an uninterrupted segmented render.  Frames come from an exec: renderer
# (tests/farm/chunk_renderer.py) that logs every frame it renders, so the
# work redone is counted by someone else than the code under test.
# RESUME_KILLS (default 5: one of each role) is the number of deaths in the kill-and-resume
# loop; the hand-run long version is RESUME_FRAMES=12000 RESUME_KILLS=100 (20 deaths
# of each role; a kill waits for a new segment, so fewer frames can end the render
# first: 6000 frames gave out after 81).
. "$(dirname "$0")/../lib.sh"
command -v ffmpeg > /dev/null || skip "ffmpeg not installed"
command -v ffprobe > /dev/null || skip "ffprobe not installed"

RENDERER="exec:python3 $ROOT/tests/farm/chunk_renderer.py"
export RENDER_LOG=$TMP/rendered.log
# render OUT [OPTIONS...]: 64x48 frames from the logging renderer.
render() {
	local out=$1
	shift
	fb-render --size 64x48 --workers 2 --slots 4 --source "$RENDERER" -o "$out" "$@"
}
# render_bg OUT [OPTIONS...] &: the same, fb-render itself the background
# job ($! its pid, the parent of broker, encoder and producers).
render_bg() {
	local out=$1
	shift
	exec fb-render --size 64x48 --workers 2 --slots 4 --source "$RENDERER" -o "$out" "$@"
}
tag() { ffprobe -v error -show_entries format_tags=comment -of csv=p=0 "$1"; }
md5s() { ffmpeg -v error -i "$1" -f framemd5 - | grep -v '^#'; }
same_frames() { [ -n "$(md5s "$1")" ] && [ "$(md5s "$1")" = "$(md5s "$2")" ]; }
rendered() { [ -f "$RENDER_LOG" ] && wc -l < "$RENDER_LOG" || echo 0; }
# child PARENT COMM: the pid of PARENT's child named COMM, if one runs.
child() { (cat /proc/"$1"/task/*/children 2> /dev/null | tr ' ' '\n' | while read -r p; do
	[ -n "$p" ] && [ "$(cat /proc/"$p"/comm 2> /dev/null)" = "$2" ] && echo "$p"; done) | head -1; }
# kill_ffmpeg PID: SIGKILL the ffmpeg writing PID's open segment (its
# encoder's oldest ffmpeg: the next one may be started already); 0 if one
# was killed.
kill_ffmpeg() {
	local ff
	ff=$(child "$(child "$1" fb-encoder)" ffmpeg)
	[ -n "$ff" ] && kill -9 "$ff" 2> /dev/null
}
segments_in() { if [ -f "$1/plan" ]; then awk '/^segment /{n++} END{print n+0}' "$1/plan"; else echo 0; fi; }

# 1. Segments against one output: the same decoded frames and timestamps.
render "$TMP/one.mkv" --frames 100 --segment 0 -- -c:v ffv1 2> "$TMP/one.err"
rc=$?
check "--segment 0: a plain render (exit 0), no work directory" \
	'[ $rc -eq 0 ] && [ ! -e "$TMP/one.mkv.fbsegments" ]'
render "$TMP/seg.mkv" --frames 100 --segment 30 -- -c:v ffv1 2> "$TMP/seg.err"
rc=$?
check "--segment 30: exit 0 ($(tail -1 "$TMP/seg.err"))" '[ $rc -eq 0 ]'
check "--segment 30 (ffv1): every decoded frame and pts as without segments" \
	same_frames "$TMP/seg.mkv" "$TMP/one.mkv"
check "--segment 30: the work directory is gone after the join" '[ ! -e "$TMP/seg.mkv.fbsegments" ]'
check "--segment 30: the closing line counts 3 segments (90:100 goes with 60:90)" 'grep -q "3 segments" "$TMP/seg.err"'
# Segments shorter than the ring (4 slots).
render "$TMP/short.mkv" --frames 100 --segment 3 -- -c:v ffv1 2> "$TMP/short.err"
rc=$?
check "--segment 3 (shorter than the ring): exit 0, the same frames and pts ($(tail -1 "$TMP/short.err"))" \
	'[ $rc -eq 0 ] && same_frames "$TMP/short.mkv" "$TMP/one.mkv"'

# 2. x264: the same frame count and timestamps (the bitstream differs).
render "$TMP/one.mp4" --frames 90 --segment 0 2> /dev/null
render "$TMP/seg.mp4" --frames 90 --segment 25 2> /dev/null
pts() { ffprobe -v error -select_streams v -show_entries packet=pts -of csv=p=0 "$1" | sort -n; }
check "--segment 25 (x264 mp4): 90 frames, the same pts as one output" \
	'[ "$(pts "$TMP/seg.mp4" | wc -l)" = 90 ] && [ "$(pts "$TMP/seg.mp4")" = "$(pts "$TMP/one.mp4")" ]'

# 2b. A --range chunk in segments (fb-farm's chunks): the segments of
#     41:117 joined into that chunk (fb-stitch --chunk), equal to the chunk
#     rendered as one file, tag and timestamps included; killed after its
#     first segment and resumed, the same.
for f in "mkv -c:v ffv1" "mp4 -c:v libx264 -qp 0"; do
	set -- $f
	ext=$1
	shift
	C=(--frames 130 --fps 29.97 --range 41:117)
	RENDER_LOG='' render "$TMP/c1.$ext" "${C[@]}" --segment 0 -- "$@" 2> /dev/null
	render "$TMP/cs.$ext" "${C[@]}" --segment 20 -- "$@" 2> "$TMP/cs.err"
	rc=$?
	check "--range 41:117 --segment 20 (.$ext): exit 0, 4 segments ($(tail -1 "$TMP/cs.err"))" \
		'[ $rc -eq 0 ] && grep -q "4 segments" "$TMP/cs.err"'
	check "--range 41:117 --segment 20 (.$ext): frames, pts and tag as the chunk in one file" \
		'same_frames "$TMP/cs.$ext" "$TMP/c1.$ext" && [ "$(tag "$TMP/cs.$ext")" = "framebroker chunk 41:117/130" ]'
	render_bg "$TMP/ck.$ext" "${C[@]}" --segment 20 --jitter-ms 20 -- "$@" 2> /dev/null &
	rp=$!
	wait_until 60 '[ "$(segments_in "$TMP/ck.$ext.fbsegments")" -ge 1 ] || ! alive $rp'
	kill -9 $rp 2> /dev/null
	wait $rp 2> /dev/null
	render "$TMP/ck.$ext" "${C[@]}" --segment 20 --resume -- "$@" 2> "$TMP/ck.err"
	rc=$?
	check "--range 41:117, killed after a segment, --resume (.$ext): exit 0, the same chunk ($(grep resuming "$TMP/ck.err"))" \
		'[ $rc -eq 0 ] && grep -q "resuming: [1-3] of 4 segments" "$TMP/ck.err" && same_frames "$TMP/ck.$ext" "$TMP/c1.$ext"'
done

# 3. ffmpeg killed twice during a render: in place, each costing a segment.
# The second death waits until the segment the first one hit (as its
# warning names it) is in the plan: two deaths in one segment redo that
# segment once, and the counts below are per segment.  (Counting plan
# lines is not enough: killed between one segment's ffmpeg exit and its
# plan line, the first death hits the next segment's ffmpeg, started
# early, and that segment is still open when the count moves.)
rm -f "$RENDER_LOG"
render_bg "$TMP/k.mkv" --frames 240 --segment 40 --jitter-ms 15 --progress "$TMP/k.progress" \
	-- -c:v ffv1 2> "$TMP/k.err" &
rp=$!
kills=0 hit=
while [ $kills -lt 2 ] && alive $rp; do
	wait_until 60 '! alive $rp || { [ "$(rendered)" -gt $((kills * 60 + 50)) ] &&
		{ [ -z "$hit" ] || grep -q "^segment $hit " "$TMP/k.mkv.fbsegments/plan" 2> /dev/null; }; }'
	alive $rp && kill_ffmpeg $rp && kills=$((kills + 1)) &&
		wait_until 60 '[ "$(grep -c "started again" "$TMP/k.err")" -ge $kills ] || ! alive $rp'
	hit=$(sed -n 's/.* in segment \([0-9]*\):\([0-9]*\), at frame.*started again.*/\1 \2/p' "$TMP/k.err" | tail -1)
done
wait $rp 2> /dev/null
rc=$?
check "ffmpeg SIGKILLed $kills times: the render goes on, exit 0 ($(tail -1 "$TMP/k.err"))" \
	'[ $rc -eq 0 ] && [ $kills -eq 2 ]'
check "ffmpeg SIGKILLed: one warning per death, naming the signal and the segment" \
	'[ "$(grep -c "killed by signal 9.*segment .* started again" "$TMP/k.err")" = 2 ]'
redone=$(($(rendered) - 240))
RENDER_LOG='' render "$TMP/ref240.mkv" --frames 240 --segment 0 -- -c:v ffv1 2> /dev/null
check "ffmpeg SIGKILLed: equal to the uninterrupted render" same_frames "$TMP/k.mkv" "$TMP/ref240.mkv"
check "ffmpeg SIGKILLed: at most a segment and a ring redone per death ($redone frames)" \
	'[ $redone -le $((2 * (40 + 4))) ]'
check "ffmpeg SIGKILLed: the closing line says how many frames were rendered again" \
	'grep -q "2 redone after ffmpeg died: $redone frames rendered again" "$TMP/k.err"'
last() { tac "$TMP/k.progress" | grep -m1 "^$1=" | cut -d= -f2; }
check "ffmpeg SIGKILLed: --progress's last block: 6 segments, 2 redone, $redone frames again" \
	'[ "$(last segments_done)" = 6 ] && [ "$(last segments_redone)" = 2 ] &&
	 [ "$(last frames_rerendered)" = "$redone" ] && [ "$(last progress)" = end ]'

# 3b. Past the budget: --max-restarts 1 and ffmpeg killed twice.
render_bg "$TMP/b.mkv" --frames 240 --segment 40 --jitter-ms 15 --max-restarts 1 \
	-- -c:v ffv1 2> "$TMP/b.err" &
rp=$!
kills=0
wait_until 60 '! alive $rp || [ "$(segments_in "$TMP/b.mkv.fbsegments")" -ge 1 ]'
while [ $kills -lt 2 ] && alive $rp; do
	kill_ffmpeg $rp && kills=$((kills + 1)) &&
		wait_until 60 '[ "$(grep -c "started again" "$TMP/b.err")" -ge $kills ] || ! alive $rp'
done
wait $rp 2> /dev/null
rc=$?
check "ffmpeg killed twice with --max-restarts 1: exit 1 naming the budget ($(grep "max-restarts" "$TMP/b.err" | tail -1))" \
	'[ $kills -eq 2 ] && [ $rc -eq 1 ] && grep -q "killed by signal 9.*1 restarts spent (--max-restarts)" "$TMP/b.err"'
check "past the budget: the finished segments kept for --resume" \
	'[ "$(segments_in "$TMP/b.mkv.fbsegments")" -ge 1 ] && grep -q -- "--resume" "$TMP/b.err"'
rm -rf "$TMP/b.mkv.fbsegments"

# 3c. SIGINT mid-render: exit 130, the finished segments kept (one line),
#     nothing at -o; --resume finishes it, equal to the render in one go.
render_bg "$TMP/i.mkv" --frames 150 --segment 30 --jitter-ms 15 -- -c:v ffv1 2> "$TMP/i.err" &
rp=$!
wait_until 60 '[ "$(segments_in "$TMP/i.mkv.fbsegments")" -ge 1 ] || ! alive $rp'
kill -INT $rp 2> /dev/null
wait $rp 2> /dev/null
rc=$?
check "SIGINT mid-render: exit 130, segments kept, one line saying --resume, no -o ($(tail -1 "$TMP/i.err"))" \
	'[ $rc -eq 130 ] && [ "$(segments_in "$TMP/i.mkv.fbsegments")" -ge 1 ] &&
	 grep -q "run again with --resume" "$TMP/i.err" && [ ! -e "$TMP/i.mkv" ]'
render "$TMP/i.mkv" --frames 150 --segment 30 --resume -- -c:v ffv1 2> "$TMP/i2.err"
rc=$?
RENDER_LOG='' render "$TMP/i1.mkv" --frames 150 --segment 0 -- -c:v ffv1 2> /dev/null
check "SIGINT, then --resume: exit 0, equal to the render in one go" \
	'[ $rc -eq 0 ] && same_frames "$TMP/i.mkv" "$TMP/i1.mkv"'

# 3d. ffmpeg killed at its segment's end.  A PATH ffmpeg wrapper SIGKILLs
#     segment 40:80's ffmpeg once (the real one first, then itself, so
#     nothing is left writing): after its input ended (every frame given:
#     "at frame 80", the next segment's ffmpeg already started but given
#     nothing), or after 36 frames (frames of 640x480, larger than
#     ffmpeg's pipe, so the encoder is still writing the segment).  Each:
#     the output is the uninterrupted render's, a segment and at most a
#     ring redone.
mkdir "$TMP/ffk"
cat > "$TMP/ffk/ffmpeg" << EOF
#!/usr/bin/env python3
import os, signal, subprocess, sys
after = int(os.environ["KILL_AFTER"])  # bytes read, or -1: at the end of the input
p = subprocess.Popen(["$(command -v ffmpeg)"] + sys.argv[1:], stdin=subprocess.PIPE)
armed = sys.argv[-1].endswith(os.environ.get("KILL_SEG", "/seg-0000000040-0000000080.part.mkv")) and \\
    not os.path.exists(os.environ["KILL_MARK"])
n = 0
while True:
    b = os.read(0, 1 << 16 if not armed or after < 0 else min(1 << 16, after - n))
    n += len(b)
    if armed and (not b or n == after):
        open(os.environ["KILL_MARK"], "w").close()
        p.kill()
        p.wait()
        os.kill(os.getpid(), signal.SIGKILL)
    if not b:
        break
    p.stdin.write(b)
p.stdin.close()
sys.exit(p.wait())
EOF
chmod +x "$TMP/ffk/ffmpeg"
RENDER_LOG='' render "$TMP/ref120.mkv" --size 640x480 --frames 120 --segment 0 -- -c:v ffv1 2> /dev/null
RENDER_LOG='' render "$TMP/ref120l.mkv" --frames 120 --segment 0 -- -c:v ffv1 2> /dev/null
for when in end 36; do
	rm -f "$RENDER_LOG"
	after=-1 what="after its input ended" past='[ "${at:-0}" = 80 ]' n=240 size=64x48 ref=ref240
	if [ $when != end ]; then
		after=$((when * 640 * 480 * 4)) what="after $when frames" n=120 size=640x480 ref=ref120
		past='[ "${at:-0}" -ge 76 ] && [ "${at:-0}" -le 80 ]'
	fi
	KILL_AFTER=$after KILL_MARK=$TMP/ffk/done.$when PATH="$TMP/ffk:$PATH" \
		render "$TMP/f.mkv" --size $size --frames $n --segment 40 -- -c:v ffv1 2> "$TMP/f.err"
	rc=$?
	at=$(sed -n 's/.*segment 40:80, at frame \([0-9]*\).*started again.*/\1/p' "$TMP/f.err")
	redone=$(($(rendered) - n))
	check "ffmpeg killed $what: exit 0, one restart, at frame ${at:-?} ($(tail -1 "$TMP/f.err"))" \
		'[ $rc -eq 0 ] && [ -f "$TMP/ffk/done.$when" ] && [ "$(grep -c "started again" "$TMP/f.err")" = 1 ] && eval "$past"'
	check "ffmpeg killed $what: equal to the uninterrupted render" same_frames "$TMP/f.mkv" "$TMP/$ref.mkv"
	check "ffmpeg killed $what: a segment and at most a ring redone ($redone frames)" \
		'[ $redone -ge 36 ] && [ $redone -le $((40 + 4)) ]'
	rm -f "$TMP/f.mkv"
done

# 3e. The last segment's ffmpeg killed after its input ended.  The
#     encoder holds the render's last frames until their segment is
#     verified; on ffmpeg's death it must shut fresh claims (the rewind's
#     first step) before it gives them back, or the producers see every
#     frame emitted, exit 0 for good, and the segment it rewinds to is
#     never rendered (a stress run hung so).  FB_FAULT stops the encoder
#     right after it gave them back; the producers are given the time to
#     leave (each gone or asleep), then it goes on.
rm -f "$RENDER_LOG"
KILL_AFTER=-1 KILL_SEG=/seg-0000000080-0000000120.part.mkv KILL_MARK=$TMP/ffk/done.last \
	FB_FAULT=encoder:ffmpeg-died:80:stop FB_FAULT_ONCE=$TMP/fault.last PATH="$TMP/ffk:$PATH" \
	render_bg "$TMP/l.mkv" --frames 120 --segment 40 -- -c:v ffv1 2> "$TMP/l.err" &
pid=$!
enc_stopped() { local e; e=$(child $pid fb-encoder) && [ -n "$e" ] && [ "$(sed 's/.*) //' /proc/"$e"/stat | cut -c1)" = T ]; }
producers_still() { # every fb-producer of the render gone or asleep
	local p
	for p in $(cat /proc/$pid/task/*/children 2> /dev/null); do
		[ "$(cat /proc/"$p"/comm 2> /dev/null)" != fb-producer ] || sleeping "$p" || return 1
	done
}
wait_until 60 enc_stopped
stopped=$?
wait_until 10 producers_still
kill -CONT "$(child $pid fb-encoder)" 2> /dev/null
wait_until 60 "! alive $pid" || kill -9 $pid 2> /dev/null
wait $pid
rc=$?
check "last segment's ffmpeg killed after its input ended: the encoder stopped there (fault fired)" \
	'[ $stopped -eq 0 ] && [ -f "$TMP/fault.last" ] && [ -f "$TMP/ffk/done.last" ]'
check "...then exit 0, one restart, at frame 120 ($(tail -1 "$TMP/l.err"))" \
	'[ $rc -eq 0 ] && [ "$(grep -c "segment 80:120, at frame 120.*started again" "$TMP/l.err")" = 1 ]'
check "...equal to the uninterrupted render" same_frames "$TMP/l.mkv" "$TMP/ref120l.mkv"
rm -f "$TMP/l.mkv"

# 4. ffmpeg refusing (an exit status, not a crash): the render ends at once,
#    saying so; the segments before are kept and --resume finishes it.
mkdir "$TMP/ff"
cat > "$TMP/ff/ffmpeg" << EOF
#!/usr/bin/env bash
# The third segment's ffmpeg (its output, the last argument, names it).
case "\${@: -1}" in
*/seg-0000000060-0000000090.part.mkv) echo "[error] No space left on device" >&2; exit 1 ;;
esac
exec $(command -v ffmpeg) "\$@"
EOF
chmod +x "$TMP/ff/ffmpeg"
rm -f "$RENDER_LOG"
PATH="$TMP/ff:$PATH" render "$TMP/d.mkv" --frames 150 --segment 30 -- -c:v ffv1 2> "$TMP/d.err"
rc=$?
check "ffmpeg exits 1 in segment 3: exit 1, not restarted ($(grep -v '^fb-render: .* kept' "$TMP/d.err" | tail -1))" \
	'[ $rc -eq 1 ] && grep -q "status 1.*not restarted" "$TMP/d.err" && ! grep -q "started again" "$TMP/d.err"'
check "ffmpeg exits 1: 2 segments kept in the work directory ($(segments_in "$TMP/d.mkv.fbsegments")), one line saying --resume ($(grep -c -- --resume "$TMP/d.err"))" \
	'[ "$(segments_in "$TMP/d.mkv.fbsegments")" = 2 ] && grep -q -- "--resume" "$TMP/d.err"'
render "$TMP/d.mkv" --frames 150 --segment 30 --resume -- -c:v ffv1 2> "$TMP/d2.err"
rc=$?
check "--resume: exit 0 ($(tail -1 "$TMP/d2.err"))" '[ $rc -eq 0 ]'
RENDER_LOG='' render "$TMP/ref150.mkv" --frames 150 --segment 0 -- -c:v ffv1 2> /dev/null
check "--resume: equal to the uninterrupted render" same_frames "$TMP/d.mkv" "$TMP/ref150.mkv"
check "--resume: only the missing frames rendered again ($(rendered) for 150)" \
	'[ "$(rendered)" -le $((150 + 30 + 4)) ]'

# 5. Kill and resume: SIGKILL fb-render, the broker, the encoder, ffmpeg or
#    a producer at random moments, resume until done.
frames=${RESUME_FRAMES:-1200} want=${RESUME_KILLS:-5} L=${RESUME_SEGMENT:-40}
out=$TMP/loop.mp4 work=$TMP/loop.mp4.fbsegments
rm -f "$RENDER_LOG"
kills=0 runs=0 roles="" rc=1
while [ $runs -lt $((want * 2 + 3)) ]; do
	resume=()
	[ -d "$work" ] && resume=(--resume)
	render_bg "$out" --frames "$frames" --segment "$L" --jitter-ms 8 "${resume[@]}" 2> "$TMP/loop.err" &
	rp=$!
	runs=$((runs + 1))
	while [ $kills -lt "$want" ]; do
		before=$(segments_in "$work")
		wait_until 120 '! alive $rp || [ "$(segments_in "$work")" -gt "$before" ]' && alive $rp || break
		sleep "0.$((RANDOM % 2))$((RANDOM % 10))"
		case $((kills % 5)) in # every role in turn
		0) victim=$rp name=fb-render ;;
		1) victim=$(child $rp fb-broker) name=broker ;;
		2) victim=$(child $rp fb-encoder) name=encoder ;;
		3) victim=$(child "$(child $rp fb-encoder)" ffmpeg) name=ffmpeg ;; # the oldest: the open segment's
		4) victim=$(child $rp fb-producer) name=producer ;;
		esac
		[ -n "$victim" ] && kill -9 "$victim" 2> /dev/null || continue
		kills=$((kills + 1))
		roles="$roles $name"
		# ffmpeg and a producer are survived in place: the same run goes on.
		case $name in ffmpeg | producer) ;; *) break ;; esac
	done
	wait $rp 2> /dev/null
	rc=$?
	sed 's/^/#   /' "$TMP/loop.err" | grep -v "^#   fb-producer" | tail -2
	[ $rc -eq 0 ] && break
done
redone=$(($(rendered) - frames))
echo "# kill and resume: $kills deaths ($roles), $runs runs, $(rendered) frames rendered for $frames"
check "kill and resume: done after $kills deaths, every role in turn ($(tail -1 "$TMP/loop.err"))" \
	'[ $rc -eq 0 ] && [ $kills -eq "$want" ]'
RENDER_LOG='' render "$TMP/loopref.mp4" --frames "$frames" --segment "$L" 2> /dev/null
check "kill and resume: the output's frames equal an uninterrupted segmented render's" \
	'[ "$(md5s "$out")" = "$(md5s "$TMP/loopref.mp4")" ]'
check "kill and resume: at most a segment and a ring redone per death ($redone frames for $kills)" \
	'[ $redone -le $((kills * (L + 4 + 2))) ]'
check_clean "segments and resume"
finish
