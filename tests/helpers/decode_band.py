#!/usr/bin/env python3
"""Decode the frame-index bit band of fb-render's test card.

Reads gray (1 byte per pixel) WxH frames on stdin, as written by
`ffmpeg -i VIDEO -f rawvideo -pix_fmt gray -`, and prints one decoded index
per frame.  Independent of framebroker's code: it only knows the card's
documented layout (32 blocks across the top band, bit 31 leftmost, white=1)
and samples the middle of each block, so mild lossy-codec noise is fine.
"""
import sys

w, h = int(sys.argv[1]), int(sys.argv[2])
band = h // 16 if h >= 16 else 1
row = band // 2
data = sys.stdin.buffer.read()
size = w * h
for f in range(len(data) // size):
    line = data[f * size + row * w: f * size + (row + 1) * w]
    v = 0
    for bit in range(32):
        x = (2 * bit + 1) * w // 64  # middle of block `bit`
        v = (v << 1) | (1 if line[x] >= 128 else 0)
    print(v)
