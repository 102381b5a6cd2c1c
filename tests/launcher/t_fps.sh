#!/usr/bin/env bash
# Rational frame rates: --fps 30000/1001, 24000/1001 and the decimal 29.97
# reach ffmpeg exactly (ffprobe's r_frame_rate, avg_frame_rate, time base,
# and every packet's pts: i * 1001, computed here, and what ffmpeg alone
# makes of a lavfi source at that rate); an exec: renderer sees the rate in
# FB_FPS, FB_FPS_NUM, FB_FPS_DEN; fb-stat and --progress show it; bad values
# are refused with one line and nothing left; and a 4-chunk fb-farm render
# at 30000/1001 equals one fb-render frame by frame, pts included, in MP4
# and in Matroska (milliseconds: pts = round(i * 1001 / 30), computed here).
. "$(dirname "$0")/../lib.sh"
echo "# t_fps.sh"

W=64 H=48
# packet pts of FILE's video, in presentation order, one per line
pts() { ffprobe -v error -select_streams v:0 -show_entries packet=pts -of csv=p=0 -- "$1" | sort -n; }
# one stream field of FILE
field() { ffprobe -v error -select_streams v:0 -show_entries "stream=$2" -of csv=p=0 -- "$1"; }
# 0, STEP, 2*STEP, ... : N lines, computed without framebroker
steps() { awk -v n="$1" -v s="$2" 'BEGIN { for (i = 0; i < n; i++) print i * s }'; }

# ---- through fb-render: the exact rational reaches ffmpeg
N=40
fb-render --size ${W}x$H --frames $N --workers 2 --fps 30000/1001 -o "$TMP/ntsc.mp4" 2> "$TMP/err"
rc=$?
check "--fps 30000/1001: exit 0 (rc=$rc)" '[ $rc -eq 0 ]'
check "--fps 30000/1001: r_frame_rate=30000/1001 ($(field "$TMP/ntsc.mp4" r_frame_rate))" \
	'[ "$(field "$TMP/ntsc.mp4" r_frame_rate)" = 30000/1001 ]'
check "--fps 30000/1001: avg_frame_rate=30000/1001 ($(field "$TMP/ntsc.mp4" avg_frame_rate))" \
	'[ "$(field "$TMP/ntsc.mp4" avg_frame_rate)" = 30000/1001 ]'
check "--fps 30000/1001: MP4 time base 1/30000 ($(field "$TMP/ntsc.mp4" time_base))" \
	'[ "$(field "$TMP/ntsc.mp4" time_base)" = 1/30000 ]'
check "--fps 30000/1001: the $N packets' pts are exactly i*1001" \
	'[ "$(pts "$TMP/ntsc.mp4")" = "$(steps $N 1001)" ]'
# ffmpeg alone, a lavfi source at the same rate, the same encoder options
ffmpeg -v error -f lavfi -i "testsrc2=size=${W}x$H:rate=30000/1001" -frames:v $N \
	-c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -y "$TMP/ref.mp4"
check "ffmpeg's own 30000/1001 render: the same rates, time base and pts" \
	'[ "$(field "$TMP/ntsc.mp4" r_frame_rate,avg_frame_rate,time_base)" = "$(field "$TMP/ref.mp4" r_frame_rate,avg_frame_rate,time_base)" ] && [ "$(pts "$TMP/ntsc.mp4")" = "$(pts "$TMP/ref.mp4")" ]'

fb-render --size ${W}x$H --frames $N --workers 2 --fps 24000/1001 -o "$TMP/film.mp4" 2> "$TMP/err"
rc=$?
check "--fps 24000/1001: exit 0, r_frame_rate and avg_frame_rate 24000/1001, time base 1/24000" \
	'[ $rc -eq 0 ] && [ "$(field "$TMP/film.mp4" r_frame_rate,avg_frame_rate,time_base)" = "24000/1001,24000/1001,1/24000" ]'
check "--fps 24000/1001: pts exactly i*1001" '[ "$(pts "$TMP/film.mp4")" = "$(steps $N 1001)" ]'

fb-render --size ${W}x$H --frames $N --workers 2 --fps 29.97 -o "$TMP/dec.mp4" 2> "$TMP/err"
rc=$?
check "--fps 29.97: exit 0 and one line 'fb-render: --fps 29.97 taken as 30000/1001' ($(head -1 "$TMP/err"))" \
	'[ $rc -eq 0 ] && [ "$(grep -c -- "--fps" "$TMP/err")" = 1 ] && grep -qx "fb-render: --fps 29.97 taken as 30000/1001" "$TMP/err"'
check "--fps 29.97: r_frame_rate 30000/1001, pts exactly i*1001" \
	'[ "$(field "$TMP/dec.mp4" r_frame_rate)" = 30000/1001 ] && [ "$(pts "$TMP/dec.mp4")" = "$(steps $N 1001)" ]'
fb-render --size ${W}x$H --frames 4 --fps 29.97 --log-level warning -o "$TMP/quiet.mp4" 2> "$TMP/err"
check "--fps 29.97 --log-level warning: no info line" '[ ! -s "$TMP/err" ]'
fb-render --size ${W}x$H --frames 8 --fps 12.5 -o "$TMP/exact.mp4" 2> "$TMP/err"
check "--fps 12.5: exact 25/2, said nothing ($(field "$TMP/exact.mp4" r_frame_rate))" \
	'[ "$(field "$TMP/exact.mp4" r_frame_rate)" = 25/2 ] && ! grep -q "taken as" "$TMP/err"'

# Rates ffmpeg would otherwise re-guess (it took 119.88 and 240000/1001 for
# 120 and 240 in MP4 until the output got -r too): r_frame_rate as asked.
for r in 120000/1001 240000/1001 119 123.456 1/7; do
	fb-render --log-level warning --size ${W}x$H --frames 12 --fps $r -o "$TMP/odd.mp4" 2> "$TMP/err"
	rc=$?
	want=$(python3 -c "from fractions import Fraction as F; f = F('$r'); print(f'{f.numerator}/{f.denominator}')")
	got=$(field "$TMP/odd.mp4" r_frame_rate)
	check "--fps $r: r_frame_rate $want (ffprobe: $got)" '[ $rc -eq 0 ] && [ "$got" = "$want" ]'
done

# ---- an exec: renderer sees the rate
cat > "$TMP/envr.sh" << 'EOF'
#!/bin/sh
# records the FB_FPS* variables it was given; sends grey frames
env | grep '^FB_FPS' | sort > "$ENV_OUT.$$"
while read -r i; do head -c "$FB_FRAME_BYTES" /dev/zero; done
EOF
chmod +x "$TMP/envr.sh"
ENV_OUT=$TMP/fbenv fb-render --size ${W}x$H --pix-fmt gray --frames 6 --workers 2 --fps 30000/1001 \
	--source "exec:$TMP/envr.sh" -o "$TMP/env.mp4"
rc=$?
envs=$(cat "$TMP"/fbenv.* 2> /dev/null | sort -u | tr '\n' ' ')
check "exec: renderer: FB_FPS=30000/1001 FB_FPS_DEN=1001 FB_FPS_NUM=30000 ($envs)" \
	'[ $rc -eq 0 ] && [ "$envs" = "FB_FPS=30000/1001 FB_FPS_DEN=1001 FB_FPS_NUM=30000 " ]'
rm -f "$TMP"/fbenv.*
ENV_OUT=$TMP/fbenv fb-render --size ${W}x$H --pix-fmt gray --frames 3 --workers 1 --fps 30 \
	--source "exec:$TMP/envr.sh" -o "$TMP/env.mp4"
envs=$(cat "$TMP"/fbenv.* 2> /dev/null | sort -u | tr '\n' ' ')
check "exec: renderer at --fps 30: plain FB_FPS=30, FB_FPS_NUM=30, FB_FPS_DEN=1 ($envs)" \
	'[ "$envs" = "FB_FPS=30 FB_FPS_DEN=1 FB_FPS_NUM=30 " ]'

# ---- fb-stat and --progress show the rational
N=60
name=/$TID-st
fb-render --size ${W}x$H --frames $N --workers 1 --delay-ms 25 --fps 30000/1001 --name $name \
	-o "$TMP/st.mp4" --progress "$TMP/progress" 2> "$TMP/err" &
pid=$!
wait_until 10 'fb-stat $name --json > "$TMP/st.json" 2> /dev/null'
fb-stat $name > "$TMP/st.txt" 2> /dev/null
wait $pid
rc=$?
check "fb-stat --json: fps_num 30000, fps_den 1001, fps a number near 29.97003" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["fps_num"] == 30000 and d["fps_den"] == 1001, d
assert isinstance(d["fps"], float) and abs(d["fps"] - 30000 / 1001) < 1e-5, d["fps"]' "$TMP/st.json"
check "fb-stat text: '30000/1001 fps' ($(head -1 "$TMP/st.txt"))" 'head -1 "$TMP/st.txt" | grep -q " 30000/1001 fps (29.97)$"'
# frame N starts at N * 1001 / 30000 s: in microseconds, rounded down
us=$(python3 -c "print($N * 1001 * 1000000 // 30000)")
# speed is the emitted rate over 30000/1001
check "--progress: exit 0; frame_rate=30000/1001 in every block, the last out_time_us=$us" \
	'[ $rc -eq 0 ] && python3 "$ROOT/tests/helpers/progress.py" "$TMP/progress" \
		"blocks and last[\"progress\"] == \"end\"" \
		"all(b[\"frame_rate\"] == \"30000/1001\" for b in blocks)" \
		"last[\"frame\"] == \"$N\" and last[\"out_time_us\"] == \"$us\"" \
		"last[\"out_time\"] == \"00:00:%02d.%06d\" % ($us // 1000000, $us % 1000000)" \
		"all(abs(float(b[\"speed\"][:-1]) - float(b[\"fps\"]) * 1001 / 30000) < 0.006 for b in blocks)"'

# ---- refusals: exit 2, one line naming --fps, nothing created
for bad in 59.9 0 -1 1/0 abc 30/1001000000 1001 1.2345678 1.999999 999.999999; do
	rm -f "$TMP/bad.mp4"
	fb-render --size ${W}x$H --frames 4 --fps "$bad" --name "/$TID-bad" -o "$TMP/bad.mp4" 2> "$TMP/err"
	rc=$?
	check "--fps $bad: exit 2, one line naming --fps ($(head -1 "$TMP/err")), nothing created" \
		'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && grep -q -- "--fps '\''$bad'\''" "$TMP/err" && [ ! -e "$TMP/bad.mp4" ] && [ ! -e "/dev/shm/$TID-bad" ]'
done
fb-render --fps 59.9 -o "$TMP/bad.mp4" 2> "$TMP/err"
check "--fps 59.9: offers both readings, 60000/1001 and 599/10" \
	'grep -q "ambiguous" "$TMP/err" && grep -q "60000/1001" "$TMP/err" && grep -q "599/10" "$TMP/err"'
fb-broker --name "/$TID-br" --fps 59.9 2> "$TMP/err"
rc=$?
check "fb-broker --fps 59.9: exit 2 too, one line" '[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && [ ! -e "/dev/shm/$TID-br" ]'

# ---- fb-farm: 4 chunks at 30000/1001 equal one render, pts included
N=60 # chunks 0:15 15:30 30:45 45:60: frames 15 and 45 start at 500.5 and 1501.5 ms
GEOM=(--size ${W}x$H --pix-fmt rgb24 --fps 30000/1001 --frames $N --workers 2)
FB=$(frame_bytes rgb24 $W $H)
gen_bytes $((FB * N)) fps > "$TMP/src.rgb"
RAW=(--source "raw:$TMP/src.rgb")
# decoded frames (pts, duration, hash) of ffmpeg reading the raw source itself
frames_md5 -f rawvideo -pix_fmt rgb24 -s ${W}x$H -framerate 30000/1001 -i "$TMP/src.rgb" > "$TMP/src.fmd5"
check "reference: ffmpeg reads $N source frames" '[ $(wc -l < "$TMP/src.fmd5") -eq $N ]'
# Milliseconds (Matroska): frame i at i * 1001 / 30 ms, rounded half up
python3 -c "
from fractions import Fraction as F
import math
for i in range($N): print(math.floor(F(i * 1001, 30) + F(1, 2)))" > "$TMP/ms.pts"
for ext in mp4 mkv; do
	if [ $ext = mp4 ]; then enc=(-c:v libx264rgb -qp 0) want=$(steps $N 1001) tb=1/30000
	else enc=(-c:v ffv1) want=$(cat "$TMP/ms.pts") tb=1/1000; fi
	fb-render "${GEOM[@]}" "${RAW[@]}" -o "$TMP/whole.$ext" -- "${enc[@]}" 2> /dev/null
	rc=$?
	fb-farm --local --chunks 4 "${GEOM[@]}" "${RAW[@]}" -o "$TMP/farm.$ext" -- "${enc[@]}" 2> "$TMP/farm.err"
	frc=$?
	check "$ext: fb-render and fb-farm --chunks 4 exit 0 ($rc, $frc)" '[ $rc -eq 0 ] && [ $frc -eq 0 ]'
	[ $frc -eq 0 ] || sed 's/^/# /' "$TMP/farm.err"
	check "$ext: the single render's frames and pts are the source's (ffmpeg alone)" \
		'[ "$(frames_md5 -i "$TMP/whole.$ext")" = "$(cat "$TMP/src.fmd5")" ]'
	check "$ext: the farm's frames and pts are the source's (ffmpeg alone)" \
		'[ "$(frames_md5 -i "$TMP/farm.$ext")" = "$(cat "$TMP/src.fmd5")" ]'
	check "$ext: r_frame_rate 30000/1001 and time base $tb in both" \
		'[ "$(field "$TMP/farm.$ext" r_frame_rate,time_base)" = "30000/1001,$tb" ] && [ "$(field "$TMP/whole.$ext" r_frame_rate,time_base)" = "30000/1001,$tb" ]'
	check "$ext: the single render's packet pts are exactly the rate's (computed here)" \
		'[ "$(pts "$TMP/whole.$ext")" = "$want" ]'
	pf=$(pts "$TMP/farm.$ext")
	check "$ext: the farm's packet pts equal the single render's, at every frame ($(diff <(echo "$pf") <(pts "$TMP/whole.$ext") | grep -c "^<") differ)" \
		'[ "$pf" = "$want" ]'
done

check_clean "fps"
finish
