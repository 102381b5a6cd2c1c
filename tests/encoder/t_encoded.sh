#!/usr/bin/env bash
# Encoded frames (--frame-format png|jpeg, --slot-bytes) and 16-bit raw
# formats (rgb48le, yuv420p10le).  A PNG render is pixel-exact against the
# source frames; a JPEG render plays with the right frame count; a frame
# larger than its slot fails the render naming the frame and both sizes,
# never truncated; malformed images count as a renderer failure.
. "$(dirname "$0")/../lib.sh"

R=$ROOT/examples/ffmpeg-testsrc.py
ffmpeg -v error -f lavfi -i testsrc2=size=160x120:rate=30 -frames:v 16 -f rawvideo -pix_fmt rgb24 \
	-y "$TMP/ref.rgb"

fb-render --size 160x120 --frames 16 --workers 2 --slots 3 --frame-format png --source exec:"$R" \
	-o "$TMP/png.mkv" --name /$TID-png -- -c:v ffv1 -pix_fmt rgb24 2> "$TMP/err"
rc=$?
ffmpeg -v error -i "$TMP/png.mkv" -f rawvideo -pix_fmt rgb24 -y "$TMP/png.rgb"
check "PNG frames, lossless output: pixel-exact against testsrc2 (rc=$rc)" \
	'[ $rc -eq 0 ] && cmp -s "$TMP/png.rgb" "$TMP/ref.rgb"'

fb-render --size 160x120 --frames 16 --workers 2 --frame-format jpeg --source exec:"$R" \
	-o "$TMP/jpg.mp4" --name /$TID-jpg 2> "$TMP/err"
rc=$?
nb=$(ffprobe -v error -count_frames -show_entries stream=codec_name,nb_read_frames -of csv=p=0 \
	"$TMP/jpg.mp4")
check "JPEG frames: exit 0, a playable h264 file of 16 frames (ffprobe: $nb)" \
	'[ $rc -eq 0 ] && [ "$nb" = "h264,16" ]'

fb-render --size 160x120 --frames 4 --frame-format png --slot-bytes 1000 --source exec:"$R" \
	-o "$TMP/big.mp4" --name /$TID-big 2> "$TMP/err"
rc=$?
check "frame over its slot: exit 1 naming frame and sizes ($(grep -m1 larger "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -qE "frame [0-9]+ is a [0-9]+-byte png, larger than its 1000-byte slot" "$TMP/err"'

# A renderer whose images are followed by stray bytes, or are not images.
ffmpeg -v error -f lavfi -i testsrc2=size=64x48 -frames:v 1 -f image2pipe -c:v png - > "$TMP/one.png"
fb-render --size 64x48 --frames 3 --workers 1 --frame-format png --max-restarts 1 \
	--source "sh:while read n; do cat '$TMP/one.png'; printf x; done" \
	-o "$TMP/x.mp4" --name /$TID-stray 2> "$TMP/err"
rc=$?
check "bytes after the image: renderer failure, then exit 1 ($(grep -m1 renderer "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -qE "not one whole png|stray bytes" "$TMP/err"'
fb-render --size 64x48 --frames 3 --frame-format jpeg --max-restarts 0 \
	--source "sh:while read n; do cat '$TMP/one.png'; done" \
	-o "$TMP/x.mp4" --name /$TID-notjpeg 2> "$TMP/err"
rc=$?
check "a PNG where a JPEG belongs: exit 1 ($(grep -m1 renderer "$TMP/err"))" \
	'[ $rc -eq 1 ] && grep -q "not one whole jpeg" "$TMP/err"'

# Usage errors: nothing created.
for args in "--frame-format gif" "--slot-bytes 5000" "--frame-format png" \
	"--frame-format png --slot-bytes 0"; do
	# shellcheck disable=SC2086
	fb-render $args --name /$TID-u -o "$TMP/u.mp4" 2> "$TMP/err"
	rc=$?
	check "fb-render $args: exit 2, one line ($(cat "$TMP/err"))" \
		'[ $rc -eq 2 ] && [ "$(wc -l < "$TMP/err")" = 1 ] && [ ! -e /dev/shm/$TID-u ]'
done

# 16-bit raw formats: the bytes go through unchanged, and ffmpeg reads the
# render exactly as it reads the source file.
for fmt in rgb48le yuv420p10le; do
	F=$(frame_bytes $fmt 66 34)
	gen_bytes $((F * 12)) "hdr$fmt" > "$TMP/$fmt.src"
	fb-render --size 66x34 --pix-fmt $fmt --frames 12 --workers 3 --slots 2 \
		--source raw:"$TMP/$fmt.src" --sink raw -o "$TMP/$fmt.out" --name /$TID-$fmt
	check "$fmt: raw render is byte-identical ($F bytes a frame)" cmp -s "$TMP/$fmt.src" "$TMP/$fmt.out"
	fb-render --size 66x34 --pix-fmt $fmt --frames 12 --source raw:"$TMP/$fmt.src" \
		-o "$TMP/$fmt.md5" --name /$TID-m$fmt -- -f framemd5
	ffmpeg -v error -f rawvideo -pix_fmt $fmt -s 66x34 -framerate 30 -i "$TMP/$fmt.src" \
		-f framemd5 -y "$TMP/$fmt.ref.md5"
	check "$fmt: framemd5 equals ffmpeg reading the file" \
		'diff -q <(grep -v "^#" "$TMP/'$fmt'.md5") <(grep -v "^#" "$TMP/'$fmt'.ref.md5") > /dev/null'
	fb-render --size 256x64 --pix-fmt $fmt --frames 30 --workers 2 -o "$TMP/card.mkv" \
		--name /$TID-c$fmt -- -c:v ffv1
	ffmpeg -v error -i "$TMP/card.mkv" -f rawvideo -pix_fmt gray - |
		python3 "$ROOT/tests/helpers/decode_band.py" 256 64 > "$TMP/idx"
	check "$fmt: the test card's order decodes" diff -q "$TMP/idx" <(seq 0 29)
done

check_clean "encoded"
finish
