#!/usr/bin/env bash
# Scale-out without Slurm: fb-render --range chunks, fb-stitch, fb-farm --local.
# Frames are judged against ffmpeg reading the raw source itself (lossless
# RGB H.264 decodes to exactly the source bytes) and against one fb-render
# of the whole range; fb-stitch's refusals are each provoked on purpose.
. "$(dirname "$0")/../lib.sh"
echo "# t_farm.sh"

W=160 H=120 N=60 FPS=30
LOSSLESS=(-c:v libx264rgb -qp 0)
GEOM=(--size ${W}x$H --pix-fmt rgb24 --fps $FPS --frames $N --workers 2)
FB=$(frame_bytes rgb24 $W $H)
gen_bytes $((FB * N)) farm > "$TMP/src.rgb"
RAW=(--source "raw:$TMP/src.rgb")

# The frames' hashes as ffmpeg decodes FILE (rgb24), one per line; and the
# same for the raw source read by ffmpeg alone — framebroker not involved.
hashes() { frames_md5 -i "$1" | awk -F, '{ print $6 }'; }
frames_md5 -f rawvideo -pix_fmt rgb24 -s ${W}x$H -r $FPS -i "$TMP/src.rgb" |
	awk -F, '{ print $6 }' > "$TMP/src.md5"
check "reference: $N source frames hashed by ffmpeg" '[ $(wc -l < "$TMP/src.md5") -eq $N ]'
# pts, duration and hash of every frame: what "the same video" means
fmd5() { frames_md5 -i "$1"; }

# ---- one fb-render of the whole render: what every chunked render must equal
fb-render "${GEOM[@]}" "${RAW[@]}" -o "$TMP/whole.mp4" -- "${LOSSLESS[@]}"
rc=$?
check "whole render: exit 0" '[ $rc -eq 0 ]'
hashes "$TMP/whole.mp4" > "$TMP/whole.md5"
check "whole render: frames equal the source's" cmp -s "$TMP/whole.md5" "$TMP/src.md5"
fmd5 "$TMP/whole.mp4" > "$TMP/whole.fmd5"

# ---- chunk mode
fb-render "${GEOM[@]}" "${RAW[@]}" --range 17:41 -o "$TMP/c.mp4" -- "${LOSSLESS[@]}"
rc=$?
check "--range 17:41: exit 0" '[ $rc -eq 0 ]'
check "--range 17:41: tagged 'framebroker chunk 17:41/$N'" \
	'[ "$(ffprobe -v error -show_entries format_tags=comment -of csv=p=0 "$TMP/c.mp4")" = "framebroker chunk 17:41/$N" ]'
check "--range 17:41: holds source frames 17..40 (the source sees absolute indices)" \
	'[ "$(hashes "$TMP/c.mp4")" = "$(sed -n 18,41p "$TMP/src.md5")" ]'
check "--range 17:41: starts with a keyframe" \
	'[[ $(ffprobe -v error -read_intervals %+#1 -show_entries packet=flags -of csv=p=0 "$TMP/c.mp4" | head -1) == K* ]]'
# fb-stat says what a chunk is, and shows the render's frame numbers
fb-render --size 64x48 --frames 100 --range 40:90 --delay-ms 60 --workers 1 --name "/$TID-st" \
	-o "$TMP/st.mp4" 2> /dev/null &
wait_until 10 'fb-stat "/$TID-st" --json > "$TMP/st.json" 2> /dev/null'
fb-stat "/$TID-st" > "$TMP/st.txt" 2> /dev/null
check "fb-stat --json of a chunk: chunk, first_frame 40, render_frames 100, frames 50" \
	'python3 -c "import json,sys; d = json.load(open(sys.argv[1])); sys.exit(not (d[\"chunk\"] and d[\"first_frame\"] == 40 and d[\"render_frames\"] == 100 and d[\"frames\"] == 50))" "$TMP/st.json"'
check "fb-stat --json of a chunk: slots hold frames 40..89 (not ring indices)" \
	'python3 -c "import json,sys; d = json.load(open(sys.argv[1])); f = [s[\"frame\"] for s in d[\"slots\"] if s[\"state\"] != \"empty\"]; sys.exit(not f or not all(40 <= x < 90 for x in f))" "$TMP/st.json"'
check "fb-stat of a chunk: 'chunk frames 40:90 of a 100-frame render'" 'grep -q "chunk *frames 40:90 of a 100-frame render" "$TMP/st.txt"'
wait
rm -f "$TMP/st.mp4"

fb-render "${GEOM[@]}" --range 30:20 -o "$TMP/x.mp4" 2> "$TMP/err"
rc=$?
check "--range 30:20: exit 2, one line" '[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q "range 30:20" "$TMP/err"'
fb-render "${GEOM[@]}" --range 0:61 -o "$TMP/x.mp4" 2> "$TMP/err"
rc=$?
check "--range past --frames: exit 2" '[ $rc -eq 2 ] && grep -q "not a part of a $N-frame render" "$TMP/err"'
check "bad ranges created nothing" '[ ! -e "$TMP/x.mp4" ]'

# ---- fb-farm --local: K chunks, stitched; equal to the whole render
for K in 1 4 7; do
	fb-farm --local --chunks $K "${GEOM[@]}" "${RAW[@]}" -o "$TMP/farm$K.mp4" \
		-- "${LOSSLESS[@]}" 2> "$TMP/farm.err"
	rc=$?
	check "fb-farm --local --chunks $K: exit 0" '[ $rc -eq 0 ]'
	fmd5 "$TMP/farm$K.mp4" > "$TMP/farm.fmd5"
	check "fb-farm --chunks $K: every frame, pts and duration equal the whole render's" \
		cmp -s "$TMP/farm.fmd5" "$TMP/whole.fmd5"
	check "fb-farm --chunks $K: frames equal the source's (ffmpeg alone)" \
		'[ "$(hashes "$TMP/farm$K.mp4")" = "$(cat "$TMP/src.md5")" ]'
	check "fb-farm --chunks $K: work directory removed" '[ ! -e "$TMP/farm$K.mp4.fbfarm" ]'
done

# The default encoder (lossy x264) and the test card: frames in order
# (decoded from the picture itself), and a keyframe at every chunk start.
fb-farm --local --chunks 3 --size 320x240 --frames 45 -o "$TMP/card.mp4" 2> "$TMP/farm.err"
rc=$?
check "default x264, 3 chunks: exit 0" '[ $rc -eq 0 ]'
check "default x264: the card's frame numbers read 0..44 in order" \
	'[ "$(ffmpeg -v error -i "$TMP/card.mp4" -f rawvideo -pix_fmt gray - | python3 "$ROOT/tests/helpers/decode_band.py" 320 240 | tr "\n" " ")" = "$(seq -s " " 0 44) " ]'
check "default x264: keyframes at 0, 15, 30 (closed GOP per chunk)" \
	'ffprobe -v error -show_entries packet=pts,flags -of csv=p=0 "$TMP/card.mp4" | sort -n | awk -F, "\$2 ~ /K/ { print NR - 1 }" | tr "\n" " " | grep -q "^0 15 30 "'

# ---- resume: only the missing chunk is rendered again
FARM=(--local --chunks 4 --keep "${GEOM[@]}" "${RAW[@]}" -o "$TMP/res.mp4" -- "${LOSSLESS[@]}")
fb-farm "${FARM[@]}" 2> "$TMP/farm.err"
check "first run: does not say resuming" '! grep -q resuming "$TMP/farm.err"'
rm -f "$TMP/res.mp4" "$TMP/res.mp4.fbfarm/chunk-00002.mp4"
touch -d '1 hour ago' "$TMP"/res.mp4.fbfarm/chunk-0000[013].mp4
fb-farm "${FARM[@]}" 2> "$TMP/farm.err"
rc=$?
check "resume: exit 0, says once 'resuming: 3 of 4 chunks'" \
	'[ $rc -eq 0 ] && [ $(grep -c resuming "$TMP/farm.err") -eq 1 ] && grep -q "resuming: 3 of 4 chunks" "$TMP/farm.err"'
check "resume: only chunk 2 re-rendered" \
	'[ -z "$(find "$TMP/res.mp4.fbfarm" -name "chunk-0000[013].mp4" -newer "$TMP/src.rgb")" ] && [ -n "$(find "$TMP/res.mp4.fbfarm" -name chunk-00002.mp4 -newer "$TMP/src.rgb")" ]'
check "resume: output equals the whole render" '[ "$(fmd5 "$TMP/res.mp4")" = "$(cat "$TMP/whole.fmd5")" ]'
fb-farm --local --chunks 4 --keep "${GEOM[@]}" --source fill -o "$TMP/res.mp4" 2> "$TMP/err"
rc=$?
check "another render in the same work dir: exit 2, named" '[ $rc -eq 2 ] && grep -q "plan of a different render" "$TMP/err"'

# ---- fb-farm --run-chunk WORK: the chunk's index from an array runner
noidx() { env -u SLURM_ARRAY_TASK_ID -u JOB_COMPLETION_INDEX -u AWS_BATCH_JOB_ARRAY_INDEX \
	-u CLOUD_RUN_TASK_INDEX "$@"; }
# Each engine's variable renders its chunk: the file made again, its frames
# those of the whole render's range (ffmpeg's md5 of each decoded frame).
md5s() { fmd5 "$1" | awk -F', *' '{ print $NF }'; }
i=0
for v in JOB_COMPLETION_INDEX SLURM_ARRAY_TASK_ID AWS_BATCH_JOB_ARRAY_INDEX CLOUD_RUN_TASK_INDEX; do
	i=$(((i + 1) % 4)) # 1, 2, 3, 0
	c=$TMP/res.mp4.fbfarm/chunk-0000$i.mp4
	rm -f "$c"
	noidx $v=$i fb-farm --run-chunk "$TMP/res.mp4.fbfarm" > "$TMP/out" 2>&1
	rc=$?
	check "--run-chunk WORK, $v=$i: renders chunk $i (frames $((i * 15)):$((i * 15 + 15))), exactly" \
		'[ $rc -eq 0 ] && grep -q "chunk $i: frames $((i * 15)):$((i * 15 + 15)) of $N" "$TMP/out" && [ "$(md5s "$c")" = "$(awk -F", *" "{ print \$NF }" "$TMP/whole.fmd5" | sed -n "$((i * 15 + 1)),$((i * 15 + 15))p")" ]'
	noidx $v=$i fb-farm --run-chunk "$TMP/res.mp4.fbfarm" > "$TMP/out" 2>&1
	rc=$?
	check "...run again: chunk $i already rendered, left alone" '[ $rc -eq 0 ] && grep -q "chunk $i (frames .*) already rendered" "$TMP/out"'
done
noidx SLURM_ARRAY_TASK_ID=1 CLOUD_RUN_TASK_INDEX=2 fb-farm --run-chunk "$TMP/res.mp4.fbfarm" 2> "$TMP/err"
rc=$?
check "--run-chunk WORK with two indices that disagree: exit 2, naming both" \
	'[ $rc -eq 2 ] && grep -q "ambiguous: SLURM_ARRAY_TASK_ID=1, CLOUD_RUN_TASK_INDEX=2" "$TMP/err"'
noidx fb-farm --run-chunk "$TMP/res.mp4.fbfarm" 2> "$TMP/err"
rc=$?
check "--run-chunk WORK with no index at all: exit 2" '[ $rc -eq 2 ] && grep -q "no chunk index" "$TMP/err"'
noidx fb-farm --run-chunk "$TMP/res.mp4.fbfarm" --index 4 2> "$TMP/err"
rc=$?
check "--run-chunk WORK --index 4 of 4 chunks: exit 2" '[ $rc -eq 2 ] && grep -q "bad chunk index .4." "$TMP/err"'

# ---- a chunk killed once (fb-render SIGKILLed mid-chunk) is rerun; exact
export KILL_AT=20 KILL_MARK=$TMP/killed
REND=(--source "exec:$ROOT/tests/farm/chunk_renderer.py")
fb-render "${GEOM[@]}" "${REND[@]}" -o "$TMP/rend.mp4" -- "${LOSSLESS[@]}" 2> /dev/null
rc=$?
check "the test renderer's kill works: fb-render SIGKILLed (137), marker made" '[ $rc -eq 137 ] && [ -e "$KILL_MARK" ]'

fb-render "${GEOM[@]}" "${REND[@]}" -o "$TMP/rend.mp4" -- "${LOSSLESS[@]}"
rc=$?
check "renderer reference: exit 0" '[ $rc -eq 0 ]'
rm -f "$KILL_MARK"
fb-farm --local --chunks 4 --keep "${GEOM[@]}" "${REND[@]}" -o "$TMP/kill.mp4" \
	-- "${LOSSLESS[@]}" 2> "$TMP/farm.err"
rc=$?
check "killed chunk: exit 0" '[ $rc -eq 0 ]'
check "killed chunk: the kill happened (frame 20, chunk 1)" '[ -e "$KILL_MARK" ] && grep -q "fb-render exit 137" "$TMP/kill.mp4.fbfarm/logs/chunk-1.log"'
check "killed chunk: output equals the whole render" '[ "$(fmd5 "$TMP/kill.mp4")" = "$(fmd5 "$TMP/rend.mp4")" ]'
check "killed chunk: no part file left" '[ -z "$(ls -A "$TMP/kill.mp4.fbfarm" | grep part)" ]'
unset KILL_AT KILL_MARK
# The same with segments of 2 frames, the chunk's fb-render SIGKILLed by
# the test once its first segment is recorded (the renderer holds chunk 1
# at frame 20 until then: HOLD_AT, so a loaded machine cannot finish the
# chunk first): the rerun goes on from its last whole segment (fb-render
# --resume in the chunk's own work directory), so it renders fewer frames
# than the chunk again — counted by the renderer itself (RENDER_LOG).
RENDER_LOG=$TMP/rendered.log HOLD_AT=20 HOLD_MARK=$TMP/hold \
	fb-farm --local --chunks 4 --keep --segment 2 "${GEOM[@]}" "${REND[@]}" \
	-o "$TMP/killseg.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/farm.err" &
fp=$!
seg1=$TMP/killseg.mp4.fbfarm/chunk-00001.segments
victim=
wait_until 120 '[ -e "$TMP/hold.20" ] && grep -q "^segment " "$seg1/plan" 2> /dev/null' &&
	victim=$(own_pids --match "fb-render .*--range 15:30" | head -1)
[ -n "$victim" ] && kill -9 "$victim"
touch "$TMP/hold.go" # a renderer the kill left holding lets go
wait $fp
rc=$?
n=$(wc -l < "$TMP/rendered.log")
check "killed chunk, --segment 2: exit 0, the output equals the whole render" \
	'[ -n "$victim" ] && [ $rc -eq 0 ] && [ "$(fmd5 "$TMP/killseg.mp4")" = "$(fmd5 "$TMP/rend.mp4")" ]'
check "killed chunk, --segment 2: its rerun resumed from its segments ($(grep -o "resuming: [^,]*" "$TMP/killseg.mp4.fbfarm/logs/chunk-1.log"))" \
	'grep -q "resuming: [1-9][0-9]* of [0-9]* segments kept" "$TMP/killseg.mp4.fbfarm/logs/chunk-1.log"'
check "killed chunk, --segment 2: $n frames rendered for 60, fewer than a whole chunk again" \
	'[ "$n" -ge 60 ] && [ "$n" -lt 75 ]'
check "killed chunk, --segment 2: no segment directory left once joined" \
	'[ -z "$(ls -A "$TMP/killseg.mp4.fbfarm" | grep segments)" ]'

# ---- a chunk that always fails: exit 1 naming it, no output
FAIL_AT=50 fb-farm --local --chunks 4 --retries 1 "${GEOM[@]}" "${REND[@]}" \
	-o "$TMP/fail.mp4" -- "${LOSSLESS[@]}" 2> "$TMP/err"
rc=$?
check "failing chunk: exit 1" '[ $rc -eq 1 ]'
check "failing chunk: names chunk 3 (frames 45:60), its runs, the cause and its log" \
	'grep -q "chunk 3 (frames 45:60) failed after 2 runs: fb-[a-z]*: .* (log: .*/logs/chunk-3.log)" "$TMP/err" && grep -q "renderer .* at frame 50" "$TMP/fail.mp4.fbfarm/logs/chunk-3.log"'
grep -q "chunk 3 (frames 45:60) failed after 2 runs: fb-" "$TMP/err" || sed 's/^/# stderr: /' "$TMP/err"
check "failing chunk: tried 1 + --retries 1 times" '[ $(grep -c "attempt" "$TMP/fail.mp4.fbfarm/logs/chunk-3.log") -eq 2 ]'

check "failing chunk: no output" '[ ! -e "$TMP/fail.mp4" ]'

# ---- Matroska chunks (ffv1): the tag and the millisecond time base
fb-farm --local --chunks 3 "${GEOM[@]}" "${RAW[@]}" -o "$TMP/m k v.mkv" -- -c:v ffv1 2> "$TMP/err"
rc=$?
check "fb-farm into 'm k v.mkv' (ffv1): exit 0" '[ $rc -eq 0 ]'
check "mkv: frames equal the source's" '[ "$(hashes "$TMP/m k v.mkv")" = "$(cat "$TMP/src.md5")" ]'
fb-render "${GEOM[@]}" "${RAW[@]}" -o "$TMP/whole.mkv" -- -c:v ffv1
check "mkv: every frame, pts and duration equal one fb-render's" '[ "$(fmd5 "$TMP/m k v.mkv")" = "$(fmd5 "$TMP/whole.mkv")" ]'
fb-farm --local --chunks 3 --frames 30 -o "$TMP/x.ts" 2> "$TMP/err"
rc=$?
check "a container that drops the chunk tag (.ts): exit 2 before rendering" '[ $rc -eq 2 ] && grep -q "keeps fb-render.s chunk tag" "$TMP/err" && [ ! -e "$TMP/x.ts.fbfarm" ]'

# ---- a --work-dir holding the user's files is refused, never emptied
mkdir "$TMP/mine" && echo precious > "$TMP/mine/notes.txt"
fb-farm --local --chunks 2 --frames 10 --size 64x48 --work-dir "$TMP/mine" -o "$TMP/wd.mp4" 2> "$TMP/err"
rc=$?
check "--work-dir with other files in it: exit 2, named" '[ $rc -eq 2 ] && grep -q "not empty and holds no fb-farm plan" "$TMP/err"'
check "--work-dir: the user's file is untouched" '[ "$(cat "$TMP/mine/notes.txt")" = precious ]'
mkdir "$TMP/wd" && echo precious > "$TMP/wd/notes.txt"
fb-farm --local --chunks 2 --frames 10 --size 64x48 --work-dir "$TMP/wd" -o "$TMP/wd/out.mp4" 2> "$TMP/err"
rc=$?
check "--work-dir = the output's directory: exit 2" '[ $rc -eq 2 ] && [ "$(cat "$TMP/wd/notes.txt")" = precious ]'
mkdir "$TMP/empty"
fb-farm --local --chunks 2 --frames 10 --size 64x48 --work-dir "$TMP/empty" -o "$TMP/wd.mp4" 2> "$TMP/err"
rc=$?
check "--work-dir empty: used, then removed after the stitch" '[ $rc -eq 0 ] && [ -s "$TMP/wd.mp4" ] && [ ! -e "$TMP/empty" ]'

# ---- fb-farm --local inside a Slurm job must not requeue that job
mkdir "$TMP/stub" && printf '#!/bin/sh
echo "$@" >> %q
' "$TMP/scontrol.calls" > "$TMP/stub/scontrol"
chmod +x "$TMP/stub/scontrol"
SLURM_ARRAY_JOB_ID=777 SLURM_ARRAY_TASK_ID=3 SLURM_JOB_ID=780 FAIL_AT=7 PATH="$TMP/stub:$PATH" \
	fb-farm --local --chunks 2 --retries 0 --size 64x48 --frames 10 --pix-fmt rgb24 "${REND[@]}" \
	-o "$TMP/nested.mp4" 2> "$TMP/err"
rc=$?
check "--local inside a Slurm job: the failed chunk fails (exit 1), scontrol never called" \
	'[ $rc -eq 1 ] && [ ! -e "$TMP/scontrol.calls" ]'

# ---- SIGTERM to fb-farm --local stops every chunk's whole tree
# (chunks of 2000 frames at 20 ms: minutes, so none ends before the
# signal however loaded the machine)
fb-farm --local --chunks 2 --size 64x48 --frames 4000 --delay-ms 20 -o "$TMP/term.mp4" 2> /dev/null &
farm=$!
two_chunks() { [ "$(own_pids --match "$BIN/fb-render .*--range" | wc -l)" -ge 2 ]; }
wait_until 120 two_chunks
check "SIGTERM: two chunk renders were running" two_chunks
kill -TERM $farm
wait $farm
rc=$?
check "SIGTERM: fb-farm exits 143" '[ $rc -eq 143 ]'
none_left() { [ -z "$(own_pids --match "$BIN/fb-(render|farm)|fb-farm --run-chunk")" ]; }
wait_until 30 none_left
check "SIGTERM: no chunk render, fb-farm or ffmpeg left" none_left
check "SIGTERM: no chunk renamed into place afterwards" '[ -z "$(ls "$TMP/term.mp4.fbfarm" | grep "^chunk-")" ]'

# ---- usage errors: exit 2, nothing made
for bad in "--chunks 0" "--chunks 61" "--chunks x" "--range 0:5 --chunks 2" "--chunks 2 --size 0x0" \
	"--chunks 2 --retries -1" "--chunks 2 --jobs 0"; do
	# shellcheck disable=SC2086
	fb-farm --local $bad --frames $N -o "$TMP/bad.mp4" 2> "$TMP/err"
	rc=$?
	check "fb-farm $bad: exit 2, one line" '[ $rc -eq 2 ] && [ $(wc -l < "$TMP/err") -eq 1 ]'
done
fb-farm --local --chunks 2 2> "$TMP/err"
rc=$?
check "fb-farm without -o: exit 2" '[ $rc -eq 2 ] && grep -q "no output" "$TMP/err"'
check "usage errors made no bad.mp4 work dir" '[ ! -e "$TMP/bad.mp4.fbfarm" ] && [ ! -e "$TMP/bad.mp4" ]'

# ---- fb-stitch refuses what would not be the render
C=$TMP/res.mp4.fbfarm
c0=$C/chunk-00000.mp4 c1=$C/chunk-00001.mp4 c2=$C/chunk-00002.mp4 c3=$C/chunk-00003.mp4
refuse() { # refuse DESCRIPTION PATTERN CHUNK...
	local d=$1 p=$2
	shift 2
	fb-stitch -o "$TMP/st.mp4" "$@" 2> "$TMP/err"
	rc=$?
	check "fb-stitch refuses $d: exit 3, one line naming it" \
		'[ $rc -eq 3 ] && [ $(wc -l < "$TMP/err") -eq 1 ] && grep -q -- "$p" "$TMP/err"'
	check "fb-stitch refuses $d: no output, no partial file" \
		'[ ! -e "$TMP/st.mp4" ] && [ -z "$(ls -A "$TMP" | grep fb-stitch)" ]'
}
refuse "a missing chunk" "frames 30:45 are missing" "$c0" "$c1" "$c3"
refuse "a missing first chunk" "frames 0:15 are missing" "$c1" "$c2" "$c3"
refuse "a missing last chunk" "frames 45:60 are missing" "$c0" "$c1" "$c2"
refuse "a chunk file that is not there" "chunk 2 ($TMP/none.mp4) is missing" "$c0" "$TMP/none.mp4" "$c2" "$c3"
refuse "reordered chunks" "out of order.*in frame order they are: $c0 $c1 $c2 $c3" "$c1" "$c0" "$c2" "$c3"
refuse "a repeated chunk" "chunks overlap or are out of order" "$c0" "$c1" "$c1" "$c2" "$c3"
ffmpeg -v error -i "$c2" -frames:v 10 -c copy -metadata "comment=framebroker chunk 30:45/60" "$TMP/short.mp4"
refuse "a short chunk" "is short: 10 of the 15 frames 30:45" "$c0" "$c1" "$TMP/short.mp4" "$c3"
head -c 3000 "$c2" > "$TMP/trunc.mp4"
refuse "a truncated chunk" "chunk 3 ($TMP/trunc.mp4) is not a readable video" "$c0" "$c1" "$TMP/trunc.mp4" "$c3"
fb-render "${GEOM[@]}" "${RAW[@]}" --range 30:45 -o "$TMP/yuv.mp4" -- -c:v libx264 -qp 0 -pix_fmt yuv444p
refuse "a chunk encoded differently" "does not match chunk 1" "$c0" "$c1" "$TMP/yuv.mp4" "$c3"
fb-render "${GEOM[@]}" "${RAW[@]}" --range 30:45 -o "$TMP/fps.mp4" --fps 25 -- "${LOSSLESS[@]}"
refuse "a chunk at another frame rate" "does not match chunk 1" "$c0" "$c1" "$TMP/fps.mp4" "$c3"
fb-render "${GEOM[@]}" --frames 90 "${RAW[@]}" --range 30:45 -o "$TMP/n90.mp4" -- "${LOSSLESS[@]}"
refuse "a chunk of another render" "belongs to a 90-frame render" "$c0" "$c1" "$TMP/n90.mp4" "$c3"
ffmpeg -v error -i "$c2" -c copy -output_ts_offset 0.2333 -metadata "comment=framebroker chunk 30:45/60" "$TMP/off.mp4"
refuse "a chunk stamped neither from 0 nor at its frames' time" "starts at 0.233.* s, neither at 0 nor where frame 30" \
	"$c0" "$c1" "$TMP/off.mp4" "$c3"
ffmpeg -v error -i "$c2" -c copy -metadata "comment=framebroker chunk 30:30/60" "$TMP/none.mp4"
refuse "a chunk tagged with no frames" "tagged with no frames of a render (30:30/60)" "$c0" "$c1" "$TMP/none.mp4" "$c3"
rm -f "$TMP/none.mp4"
refuse "a file that is not a chunk" "is not a framebroker chunk" "$TMP/whole.mp4"
ffmpeg -v error -f lavfi -i anullsrc -t 1 "$TMP/a.m4a"
ffmpeg -v error -i "$c2" -i "$TMP/a.m4a" -map 0 -map 1 -c copy -metadata "comment=framebroker chunk 30:45/60" "$TMP/av.mp4"
refuse "a chunk with an audio stream" "has 2 streams" "$c0" "$c1" "$TMP/av.mp4" "$c3"
fb-stitch --frames 50 -o "$TMP/st.mp4" "$c0" "$c1" "$c2" "$c3" 2> "$TMP/err"
rc=$?
check "fb-stitch --frames 50 of a 60-frame render: exit 3" '[ $rc -eq 3 ] && grep -q "not the --frames 50" "$TMP/err"'
fb-stitch -o "$TMP/st.mp4" 2> "$TMP/err"
rc=$?
check "fb-stitch with no chunks: exit 2" '[ $rc -eq 2 ]'
fb-stitch -o - "$c0" 2> "$TMP/err"
rc=$?
check "fb-stitch -o -: exit 2" '[ $rc -eq 2 ]'

# and joins the right ones, with audio when asked
fb-stitch --audio "$TMP/a.m4a" -o "$TMP/st.mp4" "$c0" "$c1" "$c2" "$c3" 2> "$TMP/err"
rc=$?
check "fb-stitch --audio: exit 0" '[ $rc -eq 0 ]'
check "fb-stitch --audio: video frames equal the whole render's" '[ "$(hashes "$TMP/st.mp4")" = "$(cat "$TMP/whole.md5")" ]'
check "fb-stitch --audio: an audio stream as long as the video (2 s, padded)" \
	'python3 -c "import sys; sys.exit(abs(float(sys.argv[1]) - 2.0) > 0.05)" "$(ffprobe -v error -select_streams a:0 -show_entries stream=duration -of csv=p=0 "$TMP/st.mp4")"'

# A resume checks each chunk already there (its tag and frame count) and
# renders a damaged one again, saying which and why: a truncated chunk, or
# another chunk's file in its place, used to count as rendered forever.
DR=(--local --chunks 3 --frames 6 --size 64x48 --pix-fmt rgb24)
fb-farm -q "${DR[@]}" --keep -o "$TMP/dmg.mp4" 2> "$TMP/err"
rm -f "$TMP/dmg.mp4"
truncate -s 1500 "$TMP/dmg.mp4.fbfarm/chunk-00001.mp4"
cp "$TMP/dmg.mp4.fbfarm/chunk-00000.mp4" "$TMP/dmg.mp4.fbfarm/chunk-00002.mp4"
fb-farm "${DR[@]}" -o "$TMP/dmg.mp4" 2> "$TMP/err"
rc=$?
check "resume with a truncated chunk 1 and chunk 0's file as chunk 2: exit 0 ($(tail -c 200 "$TMP/err"))" '[ $rc -eq 0 ]'
check "...one line for each, saying which and why" \
	'grep -q "^fb-farm: chunk 1 (.*chunk-00001.mp4) is damaged: .*; rendering it again$" "$TMP/err" &&
	 grep -q "^fb-farm: chunk 2 (.*chunk-00002.mp4) is damaged: its tag is not .framebroker chunk 4:6/6.; rendering it again$" "$TMP/err" &&
	 grep -q "resuming: 1 of 3 chunks are already rendered" "$TMP/err"'
check "...the output is the whole render (6 frames)" \
	'[ "$(ffprobe -v error -count_packets -show_entries stream=nb_read_packets -of csv=p=0 "$TMP/dmg.mp4")" = 6 ]'
rm -rf "$TMP/dmg.mp4" "$TMP/dmg.mp4.fbfarm"

check_clean "t_farm"
finish
