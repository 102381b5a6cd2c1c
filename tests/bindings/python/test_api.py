"""tests/bindings/python/test_api.py — the binding against live renders: geometry,
frames byte-exact (expected bytes computed here in pure Python), arrays over
the slot, zero copy (the bytes written through the view are the bytes the
encoder emits; tracemalloc flat over 1,000 1080p frames)."""
import errno
import os
import tracemalloc

import numpy as np
import pytest

import framebroker
from conftest import notes


def test_geometry(render):
    r = render("--size", "96x64", "--pix-fmt", "rgb24", "--fps", "30000/1001",
               "--frames", "12", "--range", "4:10", "--slots", "3")
    with framebroker.attach(r.name) as p:
        g = p.geometry
        assert (g.width, g.height, g.pix_fmt, g.frame_format) == (96, 64, "rgb24", "raw")
        assert (g.fps, g.fps_num, g.fps_den) == (30, 30000, 1001)
        assert (g.frames, g.first, g.end, g.slots) == (12, 4, 10, 3)
        assert g.frame_bytes == g.slot_bytes == 96 * 64 * 3
        got = []
        for frame, view in p:
            assert len(view) == g.slot_bytes and not view.readonly and view.format == "B"
            got.append(frame)
            view[:] = bytes([frame]) * len(view)
            p.publish()
        assert got == list(range(4, 10))  # the render's frame numbers, the chunk's only
    assert r.wait() == (0, 0)
    assert r.output() == b"".join(bytes([f]) * (96 * 64 * 3) for f in range(4, 10))


def test_png_geometry(render):
    r = render("--size", "32x16", "--frame-format", "png", "--slot-bytes", "5000",
               "--frames", "2")
    with framebroker.attach(r.name) as p:
        g = p.geometry
        assert (g.frame_format, g.slot_bytes, g.frame_bytes) == ("png", 5000, 32 * 16 * 4)
        p.claim()
        with pytest.raises(framebroker.FramebrokerError) as e:
            p.array()  # an encoded frame has no pixel array
        assert e.value.errno == errno.EINVAL
        with pytest.raises(framebroker.FramebrokerError):
            p.publish()  # an encoded frame's length must be given


def test_frames_byte_exact_in_order(render):
    w, h, n = 64, 48, 20
    r = render("--size", f"{w}x{h}", "--frames", str(n), "--slots", "4")
    size = w * h * 4
    with framebroker.attach(r.name) as p:
        j = np.arange(size, dtype=np.int64)
        for frame, view in p:
            a = p.array()
            assert a.shape == (h, w, 4) and a.dtype == np.uint8
            a.reshape(-1)[:] = (frame * 31 + j * 7) % 256
            p.publish()
    assert r.wait() == (0, 0)
    want = b"".join(bytes((f * 31 + k * 7) % 256 for k in range(size)) for f in range(n))
    assert r.output() == want


@pytest.mark.parametrize("fmt,shape,dtype", [("rgba", (5, 7, 4), np.uint8),
                                             ("bgra", (5, 7, 4), np.uint8),
                                             ("rgb24", (5, 7, 3), np.uint8),
                                             ("gray", (5, 7, 1), np.uint8),
                                             ("rgb48le", (5, 7, 3), np.dtype("<u2"))])
def test_array_shapes(render, fmt, shape, dtype):
    r = render("--size", "7x5", "--pix-fmt", fmt, "--frames", "1")
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        a = p.array()
        assert a.shape == shape and a.dtype == dtype
        a[...] = np.arange(a.size, dtype=a.dtype).reshape(shape)  # little-endian for rgb48le
        want = np.arange(a.size, dtype=dtype).reshape(shape).tobytes()
        assert bytes(view[:len(want)]) == want  # the array is the view's memory
        p.publish()
    assert r.wait() == (0, 0)
    assert r.output() == want


def test_yuv420p_has_no_array(render):
    r = render("--size", "8x8", "--pix-fmt", "yuv420p", "--frames", "1")
    with framebroker.attach(r.name) as p:
        p.claim()
        with pytest.raises(framebroker.FramebrokerError, match="yuv420p"):
            p.array()


def test_view_is_the_slot_zero_copy(render):
    """Random bytes written through the view come out of the encoder as
    they are; the view's memory is a mapping of the segment (no copy)."""
    w, h, n = 320, 240, 6
    r = render("--size", f"{w}x{h}", "--frames", str(n), "--slots", "2")
    frames = [os.urandom(w * h * 4) for _ in range(n)]
    with framebroker.attach(r.name) as p:
        for frame, view in p:
            view[:] = frames[frame]
            addr = np.frombuffer(view, dtype=np.uint8).ctypes.data
            with open("/proc/self/maps") as f:
                maps = [line for line in f if int(line.split("-")[0], 16) <= addr
                        < int(line.split("-")[1].split()[0], 16)]
            # a shared mapping of the render's segment, not private memory
            assert len(maps) == 1 and maps[0].split()[1][3] == "s" and r.name in maps[0]
            p.publish()
    assert r.wait() == (0, 0)
    assert r.output() == b"".join(frames)


def test_tracemalloc_flat_over_1000_1080p_frames(render):
    w, h, n = 1920, 1080, 1000
    r = render("--size", f"{w}x{h}", "--frames", str(n + 1), "--slots", "4", out="/dev/null")
    with framebroker.attach(r.name) as p:
        # Warm up (first-use allocations of the binding and numpy), then measure.
        frame, view = p.claim()
        p.array().fill(frame & 0xFF)
        p.publish()
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        for frame, view in p:
            p.array().fill(frame & 0xFF)
            p.publish()
        peak = tracemalloc.get_traced_memory()[1] - base
        # The assertion can fail: a single copy of a frame shows.
        frame_bytes = w * h * 4
        tracemalloc.stop()
        with open("/proc/self/maps") as f:
            mappings = sum(1 for line in f if r.name in line)
    notes(f"tracemalloc peak over {n} 1080p rgba frames: {peak} bytes "
          f"(a frame is {frame_bytes}); {mappings} mappings of the segment left before detach")
    assert peak < 64 * 1024, peak
    assert mappings <= 1 + p.geometry.slots  # the segment, one alias per slot: nothing leaks
    assert r.wait() == (0, 0)


def test_tracemalloc_sees_a_copy(render):
    """The control for the test above: one bytes(view) of a 1080p frame is
    seen by tracemalloc (so "flat" means no copy, not a blind tracer)."""
    r = render("--size", "1920x1080", "--frames", "1", out="/dev/null")
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        tracemalloc.start()
        copy = bytes(view)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        del copy
        p.publish()
    assert peak >= 1920 * 1080 * 4


def test_attach_errors(tmp_path):
    with pytest.raises(framebroker.FramebrokerError) as e:
        framebroker.attach(f"/no-such-{os.getpid()}", timeout=0.1)
    assert e.value.errno == errno.ENOENT and "no such segment" in str(e.value)
    env = dict(os.environ)
    os.environ.pop("FB_SEGMENT", None)
    try:
        with pytest.raises(framebroker.FramebrokerError) as e:
            framebroker.attach()
        assert e.value.errno == errno.EDESTADDRREQ and "FB_SEGMENT" in str(e.value)
    finally:
        os.environ.clear()
        os.environ.update(env)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    name = f"/{os.environ.get('FB_TEST_TAG', 'fbpy')}-pyfifo{os.getpid()}"
    os.symlink(fifo, "/dev/shm" + name)
    try:
        with pytest.raises(framebroker.FramebrokerError) as e:
            framebroker.attach(name, timeout=0.1)
        assert e.value.errno == errno.EMEDIUMTYPE
    finally:
        os.unlink("/dev/shm" + name)


def test_library_lookup(monkeypatch):
    monkeypatch.setenv("FRAMEBROKER_LIB", "/nonexistent/libframebroker.so.0")
    assert framebroker.library_path() == "/nonexistent/libframebroker.so.0"
    with pytest.raises(framebroker.FramebrokerError, match="not found"):
        framebroker.attach("/x", timeout=0)
    monkeypatch.delenv("FRAMEBROKER_LIB")
    # From the source tree: the build tree's library, found by the package's path.
    assert framebroker.library_path().endswith("/build/lib/libframebroker.so.0")
    assert framebroker.version().count(".") == 2
