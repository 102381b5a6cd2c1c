"""tests/bindings/python/test_adversary.py — attacks from outside that once broke a
promise of the binding: a forked child writing through a view it inherited
(into a slot the parent's ring had handed to the next frame), and publish
lengths ctypes would silently wrap (2**64 + n published as n).  One slot
(--slots 1): every frame is rendered in the same slot."""
import errno
import os

import numpy as np
import pytest

import framebroker

W, H = 16, 4
SIZE = W * H * 4


def test_forked_child_cannot_scribble(render):
    r = render("--size", f"{W}x{H}", "--frames", "2", "--slots", "1")
    go_r, go_w = os.pipe()
    said_r, said_w = os.pipe()
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        arr = p.array()
        view[:] = b"\x11" * SIZE
        pid = os.fork()
        if pid == 0:  # the child: wait for the parent's next frame, then write
            status = 1
            try:
                os.read(go_r, 1)
                seen = bytes(view[:4])
                view[:] = b"\xEE" * SIZE
                arr[...] = 0xEE
                os.write(said_w, seen)
                status = 0
            finally:
                os._exit(status)
        p.publish()
        frame, view1 = p.claim()  # frame 1, in the same slot
        view1[:] = b"\x22" * SIZE
        os.write(go_w, b"x")
        _, status = os.waitpid(pid, 0)
        assert os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
        # The child's copy of the view was cut: it read zeros, not the slot.
        assert os.read(said_r, 4) == b"\0" * 4
        assert bytes(view1) == b"\x22" * SIZE
        p.publish()
        del arr
    for fd in (go_r, go_w, said_r, said_w):
        os.close(fd)
    assert r.wait() == (0, 0)
    assert r.output() == b"\x11" * SIZE + b"\x22" * SIZE


def test_publish_lengths_never_wrap(render):
    r = render("--size", f"{W}x{H}", "--frame-format", "png", "--slot-bytes", "4096",
               "--frames", "1")
    img = bytes(range(256)) * 2  # any bytes: the sink is raw
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        view[:len(img)] = img
        for bad in (2**64 + 5, 2**64, -1, 5.0, True, "5", None.__class__):
            with pytest.raises(framebroker.FramebrokerError, match="not a byte count") as e:
                p.publish(bad)
            assert e.value.errno == errno.EINVAL and p.frame == frame
        p.publish(np.int64(len(img)))  # numpy's integers are integers
    assert r.wait() == (0, 0)
    assert r.output() == img


def test_name_with_nul_is_refused(render):
    r = render("--size", f"{W}x{H}", "--frames", "1")
    # ctypes passes a char* up to the NUL: this would attach to r.name.
    with pytest.raises(framebroker.FramebrokerError, match="NUL") as e:
        framebroker.attach(r.name + "\0/other", timeout=0)
    assert e.value.errno == errno.EINVAL
    with framebroker.attach(r.name) as p:  # the render itself is untouched
        frame, view = p.claim()
        view[:] = b"\x44" * SIZE
        p.publish()
    assert r.wait() == (0, 0)
    assert r.output() == b"\x44" * SIZE
