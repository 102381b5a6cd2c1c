#!/usr/bin/env bash
# Through a real ffmpeg: per-frame hashes of a render equal those of ffmpeg
# reading the same raw file directly; a lossless ffv1 render decodes back to
# the exact source bytes; the test card's frame numbers come out in order,
# even through the default lossy x264 output.
. "$(dirname "$0")/../lib.sh"

W=322 H=242 N=24
for fmt in rgba bgra rgb24 gray yuv420p; do
	F=$(frame_bytes $fmt $W $H)
	gen_bytes $((F * N)) "ff$fmt" > "$TMP/src.raw"
	fb-render --size ${W}x${H} --pix-fmt $fmt --fps 25 --frames $N --workers 3 --slots 3 \
		--source raw:"$TMP/src.raw" -o "$TMP/fb.md5" --name /$TID-$fmt -- -f framemd5 2> "$TMP/err"
	rc=$?
	ffmpeg -v error -f rawvideo -pix_fmt $fmt -s ${W}x${H} -framerate 25 -i "$TMP/src.raw" \
		-f framemd5 -y "$TMP/ref.md5"
	if [ $rc -eq 0 ] && [ "$(grep -vc '^#' "$TMP/ref.md5")" = $N ] &&
		diff -q <(grep -v '^#' "$TMP/fb.md5") <(grep -v '^#' "$TMP/ref.md5") > /dev/null; then
		ok "framemd5 equals ffmpeg reading the file directly ($fmt)"
	else
		not_ok "framemd5 $fmt (rc=$rc): $(cat "$TMP/err")"
	fi
done

# ffv1 is lossless: decoding the render gives back the source bytes.
fmt=rgb24
F=$(frame_bytes $fmt $W $H)
gen_bytes $((F * N)) ffv1 > "$TMP/src.raw"
fb-render --size ${W}x${H} --pix-fmt $fmt --frames $N --workers 4 --slots 2 \
	--source raw:"$TMP/src.raw" -o "$TMP/out.mkv" --name /$TID-ffv1 -- -c:v ffv1
ffmpeg -v error -i "$TMP/out.mkv" -f rawvideo -pix_fmt $fmt - > "$TMP/back.raw"
check "ffv1 render decodes to the source bytes" cmp -s "$TMP/back.raw" "$TMP/src.raw"

# The test card, default output (x264 mp4): every frame's index decodes in order.
N=90
fb-render --size 640x360 --frames $N --workers 3 --slots 4 -o "$TMP/card.mp4" --name /$TID-card
ffmpeg -v error -i "$TMP/card.mp4" -f rawvideo -pix_fmt gray - |
	python3 "$ROOT/tests/helpers/decode_band.py" 640 360 > "$TMP/idx"
check "default x264 output holds frames 0..$((N - 1)) in order" diff -q "$TMP/idx" <(seq 0 $((N - 1)))
nb=$(ffprobe -v error -count_frames -show_entries stream=nb_read_frames,codec_name,width,height \
	-of csv=p=0 "$TMP/card.mp4")
check "mp4 is h264 640x360 with $N frames (ffprobe: $nb)" [ "$nb" = "h264,640,360,$N" ]

# The card in every pixel format, lossless: order decodes exactly.
for fmt in rgba bgra rgb24 gray yuv420p; do
	fb-render --size 256x64 --pix-fmt $fmt --frames 40 --workers 2 --slots 3 \
		-o "$TMP/card.mkv" --name /$TID-c$fmt -- -c:v ffv1
	ffmpeg -v error -i "$TMP/card.mkv" -f rawvideo -pix_fmt gray - |
		python3 "$ROOT/tests/helpers/decode_band.py" 256 64 > "$TMP/idx"
	check "test card order decodes ($fmt)" diff -q "$TMP/idx" <(seq 0 39)
done

check_clean "ffmpeg"
finish
