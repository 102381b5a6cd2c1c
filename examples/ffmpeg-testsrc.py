#!/usr/bin/env python3
"""examples/ffmpeg-testsrc.py — ffmpeg itself as a framebroker renderer:

    fb-render --source exec:examples/ffmpeg-testsrc.py ...

For each frame index N read from stdin, writes frame N of ffmpeg's testsrc2
pattern at the render's geometry (FB_WIDTH, FB_HEIGHT, FB_FPS, FB_PIX_FMT,
FB_FRAMES, set by fb-producer) to stdout: raw bytes, or one PNG or JPEG
image when the render carries encoded frames (FB_FRAME_FORMAT).

One ffmpeg runs for the whole render, not one per frame: it streams frames
from the first index asked for, and this script skips the ones other
producers render.  A producer is handed increasing indices (each claim takes
the next frame in line), except a frame given back by a dead producer and
reissued to this one: an index behind the stream restarts ffmpeg there.
Standard library only.
"""
import os
import subprocess
import sys

W, H = os.environ["FB_WIDTH"], os.environ["FB_HEIGHT"]
FPS = os.environ.get("FB_FPS", "30")
FRAMES = int(os.environ.get("FB_FRAMES", "1"))
KIND = os.environ.get("FB_FRAME_FORMAT", "raw")
FRAME_BYTES = int(os.environ.get("FB_FRAME_BYTES", "0"))
OUTPUT = {
    "png": ["-f", "image2pipe", "-c:v", "png", "-pix_fmt", "rgb24"],
    "jpeg": ["-f", "image2pipe", "-c:v", "mjpeg", "-pix_fmt", "yuvj420p", "-q:v", "3"],
}.get(KIND, ["-f", "rawvideo", "-pix_fmt", os.environ.get("FB_PIX_FMT", "rgba")])


class Stream:
    """ffmpeg's output from frame START on, read one frame at a time."""

    def __init__(self, start):
        self.next = start
        self.proc = subprocess.Popen(
            ["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi",
             "-i", f"testsrc2=size={W}x{H}:rate={FPS}",
             "-vf", f"select=gte(n\\,{start})", "-frames:v", str(FRAMES - start)]
            + OUTPUT + ["-"], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self.out = self.proc.stdout
        self.buf = b""

    def _need(self, n):
        while len(self.buf) < n:
            more = self.out.read1(1 << 16)
            if not more:
                sys.exit(f"ffmpeg-testsrc.py: ffmpeg ended before frame {self.next}")
            self.buf += more

    def _take(self, n):
        self._need(n)
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def _png(self):
        # Signature, then chunks (length, type, data, CRC) up to IEND.
        parts = [self._take(8)]
        while True:
            head = self._take(8)
            parts += [head, self._take(int.from_bytes(head[:4], "big") + 4)]
            if head[4:] == b"IEND":
                return b"".join(parts)

    def _jpeg(self):
        # SOI, then marker segments (FF, type, 2-byte length) up to SOS; in
        # the entropy-coded data after it an FF is a stuffed byte (FF 00), a
        # restart marker (FF D0..D7), or the EOI (FF D9) that ends it.
        pos = 2
        while True:
            self._need(pos + 4)
            kind, length = self.buf[pos + 1], int.from_bytes(self.buf[pos + 2:pos + 4], "big")
            pos += 2 + length
            if kind == 0xDA:
                break
        while True:
            self._need(pos + 2)
            i = self.buf.find(b"\xff", pos, len(self.buf) - 1)
            if i < 0:
                pos = len(self.buf) - 1
                self._need(len(self.buf) + 1)
                continue
            kind = self.buf[i + 1]
            if kind == 0xD9:
                return self._take(i + 2)
            pos = i + 2

    def frame(self):
        data = self._png() if KIND == "png" else self._jpeg() if KIND == "jpeg" \
            else self._take(FRAME_BYTES)
        self.next += 1
        return data

    def close(self):
        self.proc.kill()
        self.proc.wait()


def main():
    stream = None
    for line in sys.stdin:
        n = int(line)
        if stream is None or n < stream.next:
            if stream:
                stream.close()
            stream = Stream(n)
        while stream.next < n:
            stream.frame()
        sys.stdout.buffer.write(stream.frame())
        sys.stdout.buffer.flush()
    if stream:
        stream.close()


main()
