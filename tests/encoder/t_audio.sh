#!/usr/bin/env bash
# --audio FILE: the render comes out a finished video with sound.  The video
# decides the length: a shorter audio is padded with silence, a longer one
# cut (ffmpeg's apad + -shortest).  Bad audio input fails cleanly.
. "$(dirname "$0")/../lib.sh"

ffmpeg -v error -f lavfi -i sine=frequency=440:duration=1 -y "$TMP/short.wav"
ffmpeg -v error -f lavfi -i sine=frequency=440:duration=5 -y "$TMP/long.wav"
for a in short long; do
	fb-render --size 160x120 --frames 60 --fps 30 --audio "$TMP/$a.wav" -o "$TMP/$a.mp4" \
		--name /$TID-$a 2> "$TMP/err"
	rc=$?
	info=$(ffprobe -v error -count_frames -show_entries stream=codec_type,nb_read_frames,duration \
		-of csv=p=0 "$TMP/$a.mp4" | tr '\n' ' ')
	check "$a audio: exit 0; h264 60 frames + aac lasting the video's 2 s ($info)" python3 -c '
import sys
rows = [r.split(",") for r in sys.argv[2].split()]
v = [r for r in rows if r[0] == "video"][0]
a = [r for r in rows if r[0] == "audio"][0]
assert sys.argv[1] == "0" and int(v[2]) == 60 and abs(float(a[1]) - 2.0) < 0.1, rows' "$rc" "$info"
done

fb-render --audio "$TMP/none.wav" --name /$TID-x -o "$TMP/x.mp4" 2> "$TMP/err"
rc=$?
check "missing audio file: exit 2 ($(cat "$TMP/err"))" '[ $rc -eq 2 ] && [ ! -e "$TMP/x.mp4" ]'
fb-render --audio "$TMP/short.wav" --sink raw --name /$TID-y -o "$TMP/y.raw" 2> "$TMP/err"
rc=$?
check "--audio with --sink raw: exit 2 ($(cat "$TMP/err"))" '[ $rc -eq 2 ]'
echo "not audio" > "$TMP/bad.wav"
fb-render --size 64x48 --frames 10 --audio "$TMP/bad.wav" --name /$TID-z -o "$TMP/z.mp4" 2> "$TMP/err"
rc=$?
check "unreadable audio: exit 1 quoting ffmpeg ($(head -c 160 "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "ffmpeg exited with status" "$TMP/err"'

check_clean "audio"
finish
