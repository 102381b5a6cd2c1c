"""tests/bindings/python/test_supervision.py — Python producers under fb-render
--source attach:, supervised like any other: a frame given back
(abort_claim, exit 4) is rendered by another producer; a producer SIGKILLed
mid-frame costs exactly one reissue (read from the render's --progress).
Expected bytes: conftest.ramp, pure Python."""
import os

from conftest import PY, ramp

PRODUCER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ramp_producer.py")
W, H, N = 48, 32, 40
SIZE = W * H * 3


def progress(path):
    last = {}
    with open(path) as f:
        for line in f:
            k, v = line.rstrip("\n").split("=", 1)
            last[k] = v
    return last


def published(log):
    with open(log) as f:
        return [tuple(map(int, line.split())) for line in f]


def run(fb_render, tmp_path, **env):
    out, prog = tmp_path / "out.raw", tmp_path / "progress"
    env = dict(PY_LOG=str(tmp_path / "log"), PY_LOCK=str(tmp_path / "lock"), **env)
    rc, err = fb_render("--size", f"{W}x{H}", "--pix-fmt", "rgb24", "--frames", str(N),
                        "--workers", "2", "--slots", "3", "--sink-jitter-ms", "4",
                        "--progress", str(prog), "--source", f"attach:{PY} {PRODUCER}",
                        "--sink", "raw", "-o", str(out), env=env)
    with open(tmp_path / "lock" / "pid") as f:
        victim, frame = map(int, f.read().split())
    return rc, err, out.read_bytes(), progress(prog), published(tmp_path / "log"), victim, frame


def test_abort_goes_to_another_producer(fb_render, tmp_path):
    rc, err, data, last, log, victim, frame = run(fb_render, tmp_path, PY_ABORT="5")
    assert rc == 0, err
    assert data == ramp(N, SIZE)
    assert frame == 5
    by = [pid for pid, f in log if f == 5]
    assert len(by) == 1 and by[0] != victim  # rendered once, by another producer
    assert "exited with status 4; starting a replacement" in err
    assert sorted(f for _, f in log) == list(range(N))  # every frame published once
    # A frame given back is not a reissue of a dead owner's: "reissued" stays 0.
    assert last["progress"] == "end" and last["restarts"] == "1" and last["reissued"] == "0", last


def test_sigkill_mid_frame_costs_one_reissue(fb_render, tmp_path):
    rc, err, data, last, log, victim, frame = run(fb_render, tmp_path, PY_KILL="7")
    assert rc == 0, err
    assert data == ramp(N, SIZE)
    assert f"producer {victim} died holding frame 7; frame reissued" in err, err
    assert last["progress"] == "end"
    assert last["reissued"] == "1", last  # exactly one frame redone
    assert int(last["restarts"]) <= 1
    assert sorted(f for _, f in log) == list(range(N))
    assert victim not in [pid for pid, _ in log if _ == 7]
