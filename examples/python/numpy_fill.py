#!/usr/bin/env python3
"""examples/python/numpy_fill.py — the cheapest numpy renderer, two ways:
every byte of frame i is i mod 256 (what fb-render --source fill draws in C),
so make bench can compare the transports with the render held constant.

    fb-render --source 'attach:/usr/bin/python3 examples/python/numpy_fill.py' ...  # into the slot
    fb-render --source 'exec:/usr/bin/python3 examples/python/numpy_fill.py --exec' ...  # a pipe

--keep (attach:): keep each frame's array past publish, as a render loop
that binds `a = p.array()` does: the stale array is then cut off the slot
every frame (the library's revocable view; what that costs, make bench
measures, and docs/performance.md "The revocable view").
--exec: the exec: protocol (frame indices on stdin, FB_FRAME_BYTES bytes of
each frame on stdout), the frame filled in a numpy array and written from it.
"""
import os
import sys

import numpy as np


def exec_mode():
    frame = np.empty(int(os.environ["FB_FRAME_BYTES"]), dtype=np.uint8)
    out = sys.stdout.buffer
    for line in sys.stdin:
        frame.fill(int(line) & 0xFF)
        out.write(frame.data)
        out.flush()


def attach_mode(keep):
    try:
        import framebroker
    except ImportError:  # from the source tree
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                        "bindings", "python"))
        import framebroker
    with framebroker.attach() as p:
        a = None
        for frame, view in p:
            if keep:
                a = p.array()  # alive at publish: cut off the slot there
                a.fill(frame & 0xFF)
            else:
                p.array().fill(frame & 0xFF)  # gone before publish
            p.publish()


if __name__ == "__main__":
    exec_mode() if sys.argv[1:] == ["--exec"] else attach_mode(sys.argv[1:] == ["--keep"])
