#!/usr/bin/env python3
"""examples/python/numpy_waves.py — numpy renders raw frames straight into
the slots (framebroker's Python binding, zero copy):

    fb-render --source 'attach:/usr/bin/python3 examples/python/numpy_waves.py' -o waves.mp4

Frame f, pixel (x, y): three triangle waves moving at different speeds,
tri(v) = min(|v mod 512 - 256|, 255) (integers, so a test can recompute
every byte): red tri(4x + 6f), green tri(3y + 4f), blue tri(2x + 2y + 10f),
alpha 255.  rgba, bgra (the same colours) or rgb24.
"""
import os
import sys

try:
    import numpy as np
except ImportError:
    sys.exit(f"numpy_waves.py: {sys.executable} has no numpy: run it with an interpreter "
             "that has (Debian: /usr/bin/python3 with python3-numpy)")
try:
    import framebroker
except ImportError:  # from the source tree
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                    "bindings", "python"))
    import framebroker

ORDER = {"rgba": (0, 1, 2, 3), "bgra": (2, 1, 0, 3), "rgb24": (0, 1, 2)}


def tri(v, out):
    """min(|v mod 512 - 256|, 255), into OUT (int32), no new frame-sized array."""
    np.remainder(v, 512, out=out)
    out -= 256
    np.abs(out, out=out)
    np.minimum(out, 255, out=out)
    return out


def main():
    with framebroker.attach(sys.argv[1] if len(sys.argv) > 1 else None) as p:
        g = p.geometry
        if g.pix_fmt not in ORDER or g.frame_format != "raw":
            sys.exit(f"numpy_waves.py: renders raw rgba, bgra or rgb24, not {g.frame_format} "
                     f"{g.pix_fmt}")
        order = ORDER[g.pix_fmt]
        x = np.arange(g.width, dtype=np.int32)[None, :]
        y = np.arange(g.height, dtype=np.int32)[:, None]
        zrow, zcol = np.zeros_like(x), np.zeros_like(y)
        tmp = np.empty((g.height, g.width), dtype=np.int32)  # one, reused every frame
        for frame, view in p:
            a = p.array()  # (height, width, channels) over the slot itself
            f = np.int32(frame)
            # Each wave: a row term plus a column term, broadcast into TMP.
            for ch, row, col in ((0, 4 * x + 6 * f, zcol), (1, zrow, 3 * y + 4 * f),
                                 (2, 2 * x + 10 * f, 2 * y)):
                np.add(row, col, out=tmp)
                a[:, :, order[ch]] = tri(tmp, tmp)
            if len(order) == 4:
                a[:, :, order[3]] = 255
            p.publish()


if __name__ == "__main__":
    main()
