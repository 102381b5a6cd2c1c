#!/bin/sh
# examples/ffmpeg-testsrc.sh — ffmpeg itself as a framebroker renderer:
#
#   fb-render --source exec:examples/ffmpeg-testsrc.sh ...
#
# For each frame index N read from stdin, renders frame N of ffmpeg's
# testsrc2 pattern at the render's geometry (FB_WIDTH, FB_HEIGHT, FB_FPS,
# FB_PIX_FMT, set by fb-producer) and writes it to stdout: raw bytes, or one
# PNG or JPEG image when the render carries encoded frames (FB_FRAME_FORMAT).
# Seeking is by frame number (select), so any producer can render any frame.
set -eu
case ${FB_FRAME_FORMAT:-raw} in
png) out="-f image2pipe -c:v png -pix_fmt rgb24" ;;
jpeg) out="-f image2pipe -c:v mjpeg -pix_fmt yuvj420p -q:v 3" ;;
*) out="-f rawvideo -pix_fmt $FB_PIX_FMT" ;;
esac
while read -r n; do
	# shellcheck disable=SC2086
	ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=${FB_WIDTH}x${FB_HEIGHT}:rate=${FB_FPS}" \
		-vf "select=eq(n\\,$n)" -frames:v 1 $out -
done
