"""tests/bindings/python/test_misuse.py — bad use raises a clear exception and never
corrupts the render: publish or abort without a claim, a length the library
refuses (fb_publish's own check), claim after the end or after detach, the
loop body forgetting to publish.  Every render's output is then checked."""
import errno

import pytest

import framebroker

W, H = 16, 8
SIZE = W * H * 4


def test_misuse_raw(render):
    r = render("--size", f"{W}x{H}", "--frames", "3", "--slots", "2")
    with framebroker.attach(r.name) as p:
        with pytest.raises(framebroker.FramebrokerError, match="without a claim") as e:
            p.publish()
        assert e.value.errno == errno.EINVAL
        with pytest.raises(framebroker.FramebrokerError, match="without a claim"):
            p.abort_claim()
        with pytest.raises(framebroker.FramebrokerError, match="without a claim"):
            p.array()
        frame, view = p.claim()
        view[:] = b"\x01" * SIZE
        for bad in (SIZE + 1, SIZE - 1, 0):
            with pytest.raises(framebroker.FramebrokerError, match="refused") as e:
                p.publish(bad)  # the library's rule: a raw frame is exactly its size
            assert e.value.errno == errno.EINVAL and p.frame == frame
        with pytest.raises(ValueError):
            view[0] = 1  # the old view was released; the claim is still ours
        assert bytes(p.view) == b"\x01" * SIZE  # what was written is still there
        p.publish()
        with pytest.raises(framebroker.FramebrokerError, match="without a claim"):
            p.publish()  # twice
        for frame, view in p:
            view[:] = bytes([frame + 1]) * SIZE
            p.publish()
        with pytest.raises(framebroker.FramebrokerError, match="after the last frame"):
            p.claim()
    with pytest.raises(framebroker.FramebrokerError, match="detached"):
        p.claim()
    p.detach()  # twice is fine
    assert r.wait() == (0, 0)
    assert r.output() == b"\x01" * SIZE + b"\x02" * SIZE + b"\x03" * SIZE


def test_length_over_the_slot_png(render):
    r = render("--size", f"{W}x{H}", "--frame-format", "png", "--slot-bytes", "4096",
               "--frames", "1")
    png = bytes(range(256)) * 4  # any bytes: the sink is raw
    with framebroker.attach(r.name) as p:
        frame, view = p.claim()
        assert len(view) == 4096
        with pytest.raises(IndexError):
            view[4096] = 0  # the view ends at the slot
        view[:len(png)] = png
        with pytest.raises(framebroker.FramebrokerError, match="1..4096") as e:
            p.publish(4097)
        assert e.value.errno == errno.EINVAL
        with pytest.raises(framebroker.FramebrokerError, match="not a byte count"):
            p.publish(-1)
        p.publish(len(png))
    assert r.wait() == (0, 0)
    assert r.output() == png


def test_loop_body_must_publish(render):
    r = render("--size", f"{W}x{H}", "--frames", "2", "--slots", "2")
    with framebroker.attach(r.name) as p:
        with pytest.raises(framebroker.FramebrokerError, match="neither published nor aborted"):
            for frame, view in p:
                view[:] = b"\x05" * SIZE  # and no publish: given back, then the error
        assert p.frame is None
        for frame, view in p:
            view[:] = bytes([frame + 7]) * SIZE
            p.publish()
    assert r.wait() == (0, 0)
    assert r.output() == b"\x07" * SIZE + b"\x08" * SIZE


def test_claim_again_gives_back(render):
    r = render("--size", f"{W}x{H}", "--frames", "2", "--slots", "2")
    with framebroker.attach(r.name) as p:
        f0, v0 = p.claim()
        v0[:] = b"\xAA" * SIZE
        f1, v1 = p.claim()  # frame 0 given back first (as fb_claim does)
        with pytest.raises(ValueError):
            v0[0] = 1
        assert f1 in (0, 1)
        v1[:] = bytes([f1 + 1]) * SIZE
        p.publish()
        f2, v2 = p.claim()  # the other one
        assert {f1, f2} == {0, 1}
        v2[:] = bytes([f2 + 1]) * SIZE
        p.publish()
        assert p.claim() is None
    assert r.wait() == (0, 0)
    assert r.output() == b"\x01" * SIZE + b"\x02" * SIZE


def test_canceled(render):
    r = render("--size", f"{W}x{H}", "--frames", "5")
    with framebroker.attach(r.name) as p:
        p.claim()
        assert p.fail("test_canceled: giving up on purpose") is True
        with pytest.raises(framebroker.Canceled, match="giving up on purpose") as e:
            p.publish()
        assert e.value.errno == errno.ECANCELED and isinstance(e.value, OSError)
        assert p.fail("again") is False
    enc, brk = r.wait()
    assert enc != 0
