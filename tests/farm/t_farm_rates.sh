#!/usr/bin/env bash
# fb-farm at any rate fb-render accepts, into MP4 and Matroska (issue 21
# item 4): `fb-farm --chunks 2 --fps 0.1 -o x.mkv` rendered every chunk and
# then fb-stitch refused its own join ("timestamps are uneven": a Matroska
# chunk with B-frames reports no start time, and was shifted twice).  Each
# farm is compared with one fb-render of the same frames — every frame's
# pts, dts, duration and hash as ffprobe -show_frames and ffmpeg's framemd5
# read the single render, and the decoded frames against ffmpeg reading the
# raw source itself — never with what fb-stitch says.
. "$(dirname "$0")/../lib.sh"
echo "# t_farm_rates.sh"

W=64 H=48 N=12
FB=$(frame_bytes rgb24 $W $H)
gen_bytes $((FB * N)) rates > "$TMP/src.rgb"
LOSSLESS=(-c:v libx264rgb -qp 0)
# every frame as ffprobe decodes it: timestamps and geometry (not key_frame
# or side data: each chunk starts with a keyframe and x264's SEI)
frames() { ffprobe -v error -select_streams v:0 -show_entries \
	frame=pts,pkt_dts,pkt_duration,best_effort_timestamp,width,height,pix_fmt:stream=time_base \
	-of default=nw=1 "$1" | grep -E '^(pts|pkt_dts|pkt_duration|best_effort_timestamp|width|height|pix_fmt|time_base)='; }
packets() { ffprobe -v error -select_streams v:0 -show_entries packet=pts,dts,duration -of csv=p=0 "$1"; }
hashes() { frames_md5 "$@" | awk -F, '{ print $6 }'; }
hashes -f rawvideo -pix_fmt rgb24 -s ${W}x$H -i "$TMP/src.rgb" > "$TMP/src.md5"

for fps in 0.1 1/7 1001000/999999 30000/1001; do
	for ext in mp4 mkv; do
		G=(--size ${W}x$H --pix-fmt rgb24 --fps $fps --frames $N --workers 2 --source "raw:$TMP/src.rgb")
		rm -rf "$TMP/farm.$ext" "$TMP/farm.$ext.fbfarm" "$TMP/one.$ext"
		fb-render "${G[@]}" -o "$TMP/one.$ext" -- "${LOSSLESS[@]}" 2> /dev/null
		rc=$?
		fb-farm --local --chunks 2 "${G[@]}" -o "$TMP/farm.$ext" -- "${LOSSLESS[@]}" 2> "$TMP/err"
		frc=$?
		check "--fps $fps .$ext: one fb-render and fb-farm --chunks 2 exit 0 ($rc, $frc: $(tail -1 "$TMP/err"))" \
			'[ $rc -eq 0 ] && [ $frc -eq 0 ]'
		check "--fps $fps .$ext: every frame's pts, dts, duration equal the single render's (ffprobe -show_frames)" \
			'[ "$(frames "$TMP/farm.$ext")" = "$(frames "$TMP/one.$ext")" ] && [ $(frames "$TMP/one.$ext" | grep -c "^pts=") -eq $N ]'
		check "--fps $fps .$ext: every packet's pts, dts, duration equal the single render's" \
			'[ "$(packets "$TMP/farm.$ext")" = "$(packets "$TMP/one.$ext")" ]'
		check "--fps $fps .$ext: framemd5 (timestamps and hashes) equal the single render's" \
			'[ "$(frames_md5 -i "$TMP/farm.$ext")" = "$(frames_md5 -i "$TMP/one.$ext")" ]'
		check "--fps $fps .$ext: the frames are the source's (ffmpeg alone)" \
			'[ "$(hashes -i "$TMP/farm.$ext")" = "$(cat "$TMP/src.md5")" ]'
	done
done

# The issue's own command: the default encoder (x264 with B-frames, lossy,
# so each chunk's frames are its own encode): the join is accepted and every
# packet sits at the single render's pts.
for fps in 0.1 1/7 1001000/999999 30000/1001; do
	for ext in mkv mp4; do
		rm -rf "$TMP/x.$ext" "$TMP/x.$ext.fbfarm" "$TMP/y.$ext"
		fb-farm --local --chunks 2 --fps $fps --size ${W}x$H --frames $N -o "$TMP/x.$ext" 2> "$TMP/err"
		frc=$?
		fb-render --fps $fps --size ${W}x$H --frames $N -o "$TMP/y.$ext" 2> /dev/null
		check "default x264, --fps $fps -o x.$ext: exit 0 ($(tail -1 "$TMP/err"))" '[ $frc -eq 0 ]'
		check "default x264, --fps $fps .$ext: the packets' pts equal the single render's" \
			'[ "$(packets "$TMP/x.$ext" | cut -d, -f1 | sort -n)" = "$(packets "$TMP/y.$ext" | cut -d, -f1 | sort -n)" ]'
	done
done

# WebM at 0.1 fps, where ffprobe's r_frame_rate is a guess (1000/1)
G=(--size ${W}x$H --pix-fmt rgb24 --fps 0.1 --frames $N --source "raw:$TMP/src.rgb")
VP9=(-c:v libvpx-vp9 -lossless 1 -pix_fmt yuv444p -row-mt 0)
fb-render "${G[@]}" -o "$TMP/one.webm" -- "${VP9[@]}" 2> /dev/null
fb-farm --local --chunks 3 "${G[@]}" -o "$TMP/farm.webm" -- "${VP9[@]}" 2> "$TMP/err"
frc=$?
check "--fps 0.1 .webm (lossless VP9), 3 chunks: exit 0 ($(tail -1 "$TMP/err"))" '[ $frc -eq 0 ]'
check "--fps 0.1 .webm: framemd5 and every frame's timestamps equal the single render's" \
	'[ "$(frames_md5 -i "$TMP/farm.webm")" = "$(frames_md5 -i "$TMP/one.webm")" ] && [ "$(frames "$TMP/farm.webm")" = "$(frames "$TMP/one.webm")" ]'

check_clean "t_farm_rates"
finish
