"""tests/bindings/python/test_stale.py — a view, an array or an image kept past
publish cannot scribble on the slot once it is reused.  One slot (--slots
1): every frame is rendered in the same slot, so a stale object written
while the next frame is held would land in that frame without the guard."""
import numpy as np
import pytest
from PIL import Image

import framebroker

W, H = 32, 8
SIZE = W * H * 4


def maps_with(addr):
    with open("/proc/self/maps") as f:
        return [line.strip() for line in f
                if int(line.split("-")[0], 16) <= addr < int(line.split("-")[1].split()[0], 16)]


def test_view_released_at_publish(render):
    r = render("--size", f"{W}x{H}", "--frames", "2", "--slots", "1")
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        view[:] = b"\x11" * SIZE
        p.publish()
        with pytest.raises(ValueError, match="released"):
            view[0] = 0xEE
        with pytest.raises(ValueError, match="released"):
            bytes(view)
        frame, view = p.claim()
        view[:] = b"\x22" * SIZE
        p.abort_claim()  # released by abort too
        with pytest.raises(ValueError, match="released"):
            view[0] = 0xEE
        frame, view = p.claim()  # the aborted frame again
        assert frame == 1
        view[:] = b"\x22" * SIZE
        p.publish()
    assert r.wait() == (0, 0)
    assert r.output() == b"\x11" * SIZE + b"\x22" * SIZE


def test_stale_objects_cannot_scribble(render):
    r = render("--size", f"{W}x{H}", "--frames", "3", "--slots", "1")
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        arr = p.array()                                   # an array from the binding
        mine = np.frombuffer(view, dtype=np.uint8)        # an array over the view
        part = view[8:16]                                 # a slice of the view
        img = Image.frombuffer("RGBA", (W, H), view, "raw", "RGBA", 0, 1)
        img.readonly = 0                                  # drawable in place
        arr[...] = 0x11
        addr = arr.ctypes.data
        assert "/dev/shm" + r.name in maps_with(addr)[0]  # the slot, shared
        p.publish()
        # Frame 1 is claimed in the same slot, then every stale object is written.
        frame, view1 = p.claim()
        view1[:] = b"\x22" * SIZE
        arr[...] = 0xEE
        mine[:] = 0xEE
        part[:] = b"\xEE" * 8                              # the view itself could not be
        img.paste((0xEE, 0xEE, 0xEE, 0xEE), (0, 0, W, H))  # released: it has exports
        view[0:4] = b"\xEE" * 4
        # The stale address is private anonymous memory now, not the segment.
        assert r.name not in maps_with(addr)[0]
        assert bytes(view1) == b"\x22" * SIZE
        p.publish()
        del arr, mine, part, img, view
        # Once the last stale object is gone, its stand-in is unmapped.
        assert maps_with(addr) == [] or r.name in maps_with(addr)[0]
        frame, view2 = p.claim()
        view2[:] = b"\x33" * SIZE
        p.publish()
    assert r.wait() == (0, 0)
    assert r.output() == b"\x11" * SIZE + b"\x22" * SIZE + b"\x33" * SIZE


def test_held_arrays_leak_no_mapping(render):
    """The cut path every frame (an array kept across publish, as in
    `a = p.array(); ...; p.publish()`): no mapping accumulates."""
    r = render("--size", f"{W}x{H}", "--frames", "300", "--slots", "3")
    with framebroker.attach(r.name) as p:
        kept = []
        for frame, view in p:
            a = p.array()
            a[...] = frame & 0xFF
            kept.append(a)  # alive at publish: cut
            p.publish()
            kept = kept[-2:]  # the older ones die: their stand-ins go
        with open("/proc/self/maps") as f:
            n = sum(1 for line in f if r.name in line)
        assert n <= 1 + p.geometry.slots
    assert r.wait() == (0, 0)
    assert r.output() == b"".join(bytes([f & 0xFF]) * SIZE for f in range(300))


def test_released_view_is_kept_not_cut(render):
    """Nothing holds the memory at publish: the binding says so
    (fb_view_drop) and the slot's next claim gets the same mapping back,
    still the segment; something holds it: cut, the next claim gets
    another address.  An array kept across a refused length stays the
    slot (the claim goes on: nothing is cut)."""
    r = render("--size", f"{W}x{H}", "--frames", "4", "--slots", "1")
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        addr = p.array().ctypes.data  # the array dies at once
        view[:] = b"\x11" * SIZE
        p.publish()
        frame, view = p.claim()
        assert p.array().ctypes.data == addr
        assert "/dev/shm" + r.name in maps_with(addr)[0]
        arr = p.array()
        arr[...] = 0x22
        with pytest.raises(framebroker.FramebrokerError, match="refused"):
            p.publish(SIZE + 1)
        assert arr.ctypes.data == addr and "/dev/shm" + r.name in maps_with(addr)[0]
        arr[...] = 0x23  # still the slot: this is frame 1
        p.publish()  # arr alive: cut
        assert r.name not in maps_with(addr)[0]
        frame, view = p.claim()
        assert p.array().ctypes.data != addr
        view[:] = b"\x33" * SIZE
        p.abort_claim()
        frame, view = p.claim()  # given back, claimed again: the same mapping
        assert bytes(view) == b"\x33" * SIZE
        view[:] = b"\x34" * SIZE
        p.publish()
        frame, view = p.claim()
        view[:] = b"\x44" * SIZE
        p.publish()
        del arr
    assert r.wait() == (0, 0)
    assert r.output() == b"\x11" * SIZE + b"\x23" * SIZE + b"\x34" * SIZE + b"\x44" * SIZE
