#!/usr/bin/env python3
"""examples/draw.py — a Python render loop as a framebroker renderer:

    fb-render --pix-fmt rgb24 --source exec:'python3 examples/draw.py' ...

Reads frame indices (one per line) on stdin; for each writes one rgb24 frame
of FB_WIDTH x FB_HEIGHT to stdout: a disc moving across a gradient, so the
frame number is visible.  Pure Python, no third-party modules.
"""
import math
import os
import sys

W, H = int(os.environ["FB_WIDTH"]), int(os.environ["FB_HEIGHT"])
if os.environ.get("FB_PIX_FMT", "rgb24") != "rgb24":
    sys.exit("draw.py: renders rgb24 only (use --pix-fmt rgb24)")
FRAMES = max(1, int(os.environ.get("FB_FRAMES", "1")))


def frame(n):
    cx = (n * 7) % W
    cy = H / 2 + (H / 3) * math.sin(2 * math.pi * n / FRAMES)
    r2 = (min(W, H) / 6) ** 2
    row = bytearray(3 * W)
    out = bytearray()
    for y in range(H):
        for x in range(W):
            inside = (x - cx) ** 2 + (y - cy) ** 2 <= r2
            row[3 * x:3 * x + 3] = (255, 255, 255) if inside else (
                (x * 255) // W, (y * 255) // H, (n * 5) % 256)
        out += row
    return bytes(out)


for line in sys.stdin:
    sys.stdout.buffer.write(frame(int(line)))
    sys.stdout.buffer.flush()
