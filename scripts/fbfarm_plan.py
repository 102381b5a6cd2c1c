"""fbfarm_plan — fb-farm's plan: WORK/plan, the one file every chunk and the
stitch read, as a Plan; parse_plan checks a plan read back field by field
(it is input: nothing in it is ever evaluated).

Part of fb-farm (scripts/fb-farm.in), split by concept; the modules import
only downwards: fbfarm_common <- fbfarm_plan <- fbfarm_workdir <-
fbfarm_runs <- fbfarm_status, fbfarm_chunk <- fb-farm.  Standard library
only; installed beside fb-farm (bin/) and into PREFIX/lib/framebroker.
"""
import json
import os

CONTAINERS = ("mp4", "mov", "m4v", "mkv", "webm")
PLAN_FORMAT = "fb-farm plan 1"

# ---- the plan: every chunk and the stitch read it ---------------------------

class Plan:
    """WORK/plan: "render" defines the render (frames, chunks, container,
    fb-render and ffmpeg options) and must match for a resume; "run" holds
    how this submission runs it (output, retries, audio, programs) and is
    rewritten each time."""

    def __init__(self, render, run):
        self.render, self.run = render, run
        self.n, self.k, self.ext = render["frames"], render["chunks"], render["ext"]

    def chunk_range(self, i):
        return i * self.n // self.k, (i + 1) * self.n // self.k

    def chunk_name(self, i):
        return f"chunk-{i:05d}.{self.ext}"

    def to_json(self):
        return json.dumps({"format": PLAN_FORMAT, "render": self.render, "run": self.run},
                          indent=1, sort_keys=True) + "\n"


def _no_duplicates(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"a key given twice ({sorted(k for k in keys if keys.count(k) > 1)[0]})")
    return dict(pairs)


def _bad_constant(name):
    raise ValueError(f"{name} is not JSON")


def _fields(obj, where, spec):
    """Check OBJ has exactly the keys of SPEC, each passing its check."""
    if not isinstance(obj, dict):
        raise ValueError(f"{where} is not an object")
    if set(obj) != set(spec):
        extra, missing = sorted(set(obj) - set(spec)), sorted(set(spec) - set(obj))
        raise ValueError(f"{where}: unknown key {extra[0]!r}" if extra
                         else f"{where}: no {missing[0]!r}")
    for key, check in spec.items():
        why = check(obj[key])
        if why:
            raise ValueError(f"{where}.{key} {why}")


def _int(lo, hi):
    return lambda v: None if type(v) is int and lo <= v <= hi \
        else f"is not an integer in {lo}..{hi}"


def _text(v):
    if not isinstance(v, str) or "\0" in v or len(v) > 65536:
        return "is not a string (without NUL, at most 64 KiB)"
    return None


def _path(v):
    return _text(v) or (None if os.path.isabs(v) else "is not an absolute path")


def _args(v):
    if not isinstance(v, list) or len(v) > 10000:
        return "is not a list of at most 10000 strings"
    return next((f"[{i}] {why}" for i, why in enumerate(map(_text, v)) if why), None)


RENDER_SPEC = {
    "frames": _int(1, 10**13 - 1),
    "chunks": _int(1, 9999999),
    "ext": lambda v: None if isinstance(v, str) and v.lower() in CONTAINERS
    else f"is not one of {', '.join(CONTAINERS)}",
    "render_args": _args,
    "ffmpeg_args": _args,
}
RUN_SPEC = {
    "output": _path,
    "retries": _int(0, 999),
    "audio": lambda v: None if v == "" else _path(v),
    "keep": lambda v: None if isinstance(v, bool) else "is not true or false",
    "fb_render": _path,
    "fb_stitch": _path,
    "stitch_log": lambda v: None if v in ("info", "error") else "is not info or error",
}


def parse_plan(data):
    """The plan in DATA (bytes), checked field by field; ValueError if not."""
    try:
        obj = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates,
                         parse_constant=_bad_constant)
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"not JSON ({str(e).splitlines()[0][:100]})") from None
    except RecursionError:  # "[[[[..." deeper than the parser recurses
        raise ValueError("nested too deeply") from None
    except MemoryError:
        raise ValueError("too large to parse") from None
    if not isinstance(obj, dict) or obj.get("format") != PLAN_FORMAT:
        raise ValueError(f"no \"format\": \"{PLAN_FORMAT}\"")
    _fields(obj, "plan", {"format": lambda v: None, "render": lambda v: None,
                          "run": lambda v: None})
    _fields(obj["render"], "render", RENDER_SPEC)
    _fields(obj["run"], "run", RUN_SPEC)
    if obj["render"]["chunks"] > obj["render"]["frames"]:
        raise ValueError("render.chunks is more than render.frames")
    return Plan(obj["render"], obj["run"])
