#!/bin/sh
# examples/ffmpeg-testsrc.sh — ffmpeg itself as a framebroker renderer:
#
#   fb-render --source exec:examples/ffmpeg-testsrc.sh ...
#
# For each frame index N read from stdin, renders frame N of ffmpeg's
# testsrc2 pattern at the render's geometry (FB_WIDTH, FB_HEIGHT, FB_FPS,
# FB_PIX_FMT, set by fb-producer) and writes its raw bytes to stdout.
# Seeking is by frame number (select), so any producer can render any frame.
set -eu
while read -r n; do
	ffmpeg -nostdin -v error -f lavfi -i "testsrc2=size=${FB_WIDTH}x${FB_HEIGHT}:rate=${FB_FPS}" \
		-vf "select=eq(n\\,$n)" -frames:v 1 -f rawvideo -pix_fmt "$FB_PIX_FMT" -
done
