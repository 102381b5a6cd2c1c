"""framebroker — Python producers for a framebroker render, over
libframebroker.so through ctypes (standard library only; numpy is imported
only by Producer.array()).

    import framebroker
    with framebroker.attach() as p:          # started by fb-render --source attach:
        for frame, view in p:                # view: the slot itself, writable
            render(frame, view)
            p.publish()

Stale views.  Each claim's view (and Producer.array()) is over the
library's revocable view of the slot (fb_claim_view, framebroker(3)): a
second mapping of the slot's pages, so writes through it are writes into
the slot (zero copy).  When the claim ends (publish, abort_claim, a new
claim, detach) the view is released; if nothing else refers to the memory
the binding says so (fb_view_drop) and the library keeps the mapping for
the slot's next claim; if anything still does (a numpy array, a PIL image,
a slice of the view), the library cuts it off the slot before the frame is
handed on.  A stale array then reads zeros and writes into memory nobody
else sees; it is unmapped (fb_view_free) once the last object over it is
freed.  See docs/python.md.
"""
import collections
import ctypes
import errno
import operator
import os
import weakref

__all__ = ["attach", "Producer", "Geometry", "FramebrokerError", "Canceled", "Stale",
           "library_path", "version"]

# The library version this binding needs: every call below is declared by
# framebroker.h 0.9.0 (fps_num/fps_den since 0.7, fb_version_number since
# 0.8, the revocable slot view fb_claim_view/fb_view_* since 0.9).
NEEDS = (0, 9, 0)
SONAME = "libframebroker.so.0"

Geometry = collections.namedtuple(
    "Geometry", "width height pix_fmt fps frames frame_bytes slot_bytes frame_format "
    "first end fps_num fps_den slots")


class FramebrokerError(OSError):
    """A framebroker call failed, or the binding was used wrongly; .errno is
    the error number (EINVAL for misuse), .strerror the library's message."""


class Canceled(FramebrokerError):
    """The render was aborted (ECANCELED); the message holds fb_reason()."""


class Stale(FramebrokerError):
    """The claim is no longer ours (ESTALE): held too long, reissued."""


def _error(err, what, reason=None):
    """The exception for -ERR from WHAT (a library errno, positive)."""
    cls = {errno.ECANCELED: Canceled, errno.ESTALE: Stale}.get(err, FramebrokerError)
    msg = what if reason is None else f"{what}: {reason}"
    return cls(err, msg)


class _Geom(ctypes.Structure):
    # struct fb_geometry, include/framebroker.h, in its order.
    _fields_ = [("width", ctypes.c_uint32), ("height", ctypes.c_uint32),
                ("pix_fmt", ctypes.c_char_p), ("fps", ctypes.c_uint32),
                ("slots", ctypes.c_uint32), ("frames", ctypes.c_uint64),
                ("frame_bytes", ctypes.c_uint64), ("frame_format", ctypes.c_char_p),
                ("slot_bytes", ctypes.c_uint64), ("first", ctypes.c_uint64),
                ("end", ctypes.c_uint64), ("fps_num", ctypes.c_uint32),
                ("fps_den", ctypes.c_uint32), ("reserved", ctypes.c_uint64 * 5)]


def _candidates():
    """Where libframebroker is looked for, in order: $FRAMEBROKER_LIB, the
    build tree this package sits in (<repo>/build/lib), the installed soname."""
    env = os.environ.get("FRAMEBROKER_LIB")
    if env:
        return [env]
    here = os.path.dirname(os.path.abspath(__file__))
    tree = os.path.join(here, "..", "..", "..", "build", "lib", SONAME)
    out = [os.path.normpath(tree)] if os.path.exists(tree) else []
    return out + [SONAME]


def library_path():
    """The library attach() would load (a path, or the soname for the
    dynamic linker's search)."""
    return _candidates()[0]


def _load():
    """Load the library and declare the calls used; a FramebrokerError
    naming every place tried when none loads or it is too old."""
    tried = []
    for path in _candidates():
        try:
            lib = ctypes.CDLL(path, use_errno=True)
            break
        except OSError as e:
            tried.append(f"{path}: {e}")
    else:
        raise FramebrokerError(errno.ENOENT, "libframebroker not found (set FRAMEBROKER_LIB, "
                               "build the tree, or install it): " + "; ".join(tried))
    try:
        lib.fb_version_number.restype = ctypes.c_ulong
        have = lib.fb_version_number()
    except AttributeError:
        have = 0
    need = (NEEDS[0] << 16) | (NEEDS[1] << 8) | NEEDS[2]
    if have < need:
        raise FramebrokerError(errno.EPROTO, f"{path} is version "
                               f"{have >> 16}.{(have >> 8) & 255}.{have & 255}; this binding "
                               f"needs {'.'.join(map(str, NEEDS))} or later")
    P, u64p, vp = ctypes.c_void_p, ctypes.POINTER(ctypes.c_uint64), ctypes.POINTER(ctypes.c_void_p)
    for name, res, args in (
            ("fb_attach", ctypes.c_int, [ctypes.c_char_p, ctypes.c_int, vp]),
            ("fb_claim", ctypes.c_int, [P, u64p, vp]),
            ("fb_publish", ctypes.c_int, [P, ctypes.c_uint64]),
            ("fb_abort_claim", ctypes.c_int, [P]),
            ("fb_fail", ctypes.c_int, [P, ctypes.c_char_p]),
            ("fb_reason", ctypes.c_int, [P, ctypes.c_char_p, ctypes.c_size_t]),
            ("fb_get_geometry", None, [P, ctypes.POINTER(_Geom)]),
            ("fb_claim_view", ctypes.c_int, [P, vp]),
            ("fb_view_drop", ctypes.c_int, [P]),
            ("fb_view_free", ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint64]),
            ("fb_view_cut_all", ctypes.c_int, [P]),
            ("fb_detach", ctypes.c_int, [P]),
            ("fb_strerror", ctypes.c_char_p, [ctypes.c_int]),
            ("fb_attach_strerror", ctypes.c_char_p,
             [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]),
            ("fb_version", ctypes.c_char_p, [])):
        try:
            f = getattr(lib, name)
        except AttributeError:
            raise FramebrokerError(errno.EPROTO, f"{path} has no {name}(): this binding "
                                   "needs a newer libframebroker") from None
        f.restype, f.argtypes = res, args
    return lib, path


def version():
    """The linked library's "MAJOR.MINOR.PATCH"."""
    return _load()[0].fb_version().decode()


def _forked(ref):
    """In a child forked (os.fork, multiprocessing) from a process holding
    a Producer: the views were inherited as *shared* mappings of the slots,
    so a view or array the child still has would write into a slot the
    parent's ring hands to other frames.  The library cuts every one of
    them (fb_view_cut_all): they read zeros and write only the child's own
    memory."""
    p = ref()
    if p is None or p._p is None:
        return
    # Its result needs no check: even a held view the library had to
    # unmap (-EFAULT) is safe, as the child never frees it (detach() does
    # nothing in a child).
    p._lib.fb_view_cut_all(p._p)


# (height, width, channels) arrays for raw formats: pix_fmt -> (channels, dtype)
_SHAPES = {"rgba": (4, "u1"), "bgra": (4, "u1"), "rgb24": (3, "u1"), "gray": (1, "u1"),
           "rgb48le": (3, "<u2")}


class Producer:
    """One producer attached to a render (framebroker.attach()).  Used from
    one thread of the process that attached it."""

    def __init__(self, name=None, timeout=5.0):
        self._lib, self.library = _load()
        self._p = None
        self._pid = os.getpid()
        h = ctypes.c_void_p()
        ms = -1 if timeout is None else int(timeout * 1000)
        cname = None if name is None else os.fsencode(name)
        if cname is not None and b"\0" in cname:
            # ctypes would pass only the part before it: another segment.
            raise FramebrokerError(errno.EINVAL, f"attach({name!r}): a NUL inside the name")
        rc = self._lib.fb_attach(cname, ms, ctypes.byref(h))
        if rc < 0:
            buf = ctypes.create_string_buffer(512)
            msg = (self._lib.fb_attach_strerror(cname, rc, buf, len(buf)) if cname
                   else self._lib.fb_strerror(rc)).decode(errors="replace")
            raise _error(-rc, f"attach({name!r})", msg)
        self._p = h
        g = _Geom()
        self._lib.fb_get_geometry(h, ctypes.byref(g))
        self.geometry = Geometry(
            g.width, g.height, g.pix_fmt.decode(), g.fps, g.frames, g.frame_bytes,
            g.slot_bytes, g.frame_format.decode(), g.first, g.end, g.fps_num, g.fps_den, g.slots)
        self._slot_type = ctypes.c_ubyte * g.slot_bytes
        self._frame = None  # the frame claimed, or None
        self._slot = None   # the ctypes object over its view (exports the buffer)
        self._view = None   # the memoryview handed out
        self._done = False  # claim() returned None
        # A forked child must not inherit writable shared views of the slots.
        os.register_at_fork(after_in_child=lambda r=weakref.ref(self): _forked(r))

    # ---- internals ----
    def _usable(self, what):
        if self._p is None:
            raise FramebrokerError(errno.EINVAL, f"{what}: the producer is detached")
        if os.getpid() != self._pid:
            raise FramebrokerError(errno.EINVAL, f"{what}: a forked child must attach on its own")

    def _raise(self, rc, what):
        reason = self._lib.fb_strerror(rc).decode(errors="replace")
        if rc == -errno.ECANCELED:
            buf = ctypes.create_string_buffer(256)
            if self._lib.fb_reason(self._p, buf, len(buf)) == 0:
                reason += " (" + buf.value.decode(errors="replace") + ")"
        raise _error(-rc, what, reason)

    def _arm(self, slot=None):
        """A memoryview of the held frame's slot, through the library's
        view: over SLOT, the ctypes object of the view at that address if
        something still holds one (so that it stays tracked), else a new one."""
        view = ctypes.c_void_p()
        rc = self._lib.fb_claim_view(self._p, ctypes.byref(view))
        if rc < 0:
            self._raise(rc, "claim() (the slot's view)")
        if slot is None or ctypes.addressof(slot) != view.value:
            slot = self._slot_type.from_address(view.value)
        self._slot = slot
        self._view = memoryview(slot).cast("B")

    def _disarm(self):
        """The claim is about to end: release the view.  If nothing else
        holds its memory, tell the library (it keeps the mapping for the
        slot's next claim); else the call ending the claim cuts it off the
        slot.  Returns (what still holds it or None, its address)."""
        try:
            self._view.release()
        except BufferError:  # something holds a buffer of it: cut
            pass
        ref, addr = weakref.ref(self._slot), ctypes.addressof(self._slot)
        self._view = self._slot = None
        stale = ref()
        if stale is None:
            self._lib.fb_view_drop(self._p)
        return stale, addr

    def _ending(self, call, args=(), goes_on=(-errno.EFAULT,), lost=()):
        """CALL(handle, *ARGS), a library call that ends the held claim,
        around its view: released before (_disarm), and after, a view cut
        off its slot is unmapped once its last object goes (fb_view_free).
        A result in GOES_ON leaves the claim held: armed again (the same
        view, unless the library could not keep it).  A result in LOST:
        the library could not cut the view and unmapped it itself — never
        ours to unmap (the range may be reused).  Returns the result."""
        stale, addr = self._disarm()
        rc = call(self._p, *args)
        if rc in lost:
            self._frame = None
            return rc
        if rc in goes_on:
            self._arm(stale)
            if addr == ctypes.addressof(self._slot):
                return rc  # not cut: the same view goes on, what holds it too
        else:
            self._frame = None
        if stale is not None:
            f = weakref.finalize(stale, self._lib.fb_view_free, addr, self.geometry.slot_bytes)
            f.atexit = False  # at exit the process goes anyway: never unmap under a live object
        return rc

    # ---- the API ----
    @property
    def frame(self):
        """The frame claimed and not yet published or aborted, or None."""
        return self._frame

    @property
    def view(self):
        """The held frame's view (the one claim() returned), or None."""
        return self._view

    def claim(self):
        """Claim the next frame: (frame, memoryview of its slot), or None
        when no frame is left.  Blocks while the ring is full.  A frame
        still held is given back first (as fb_claim does)."""
        self._usable("claim()")
        if self._done:
            raise FramebrokerError(errno.EINVAL, "claim() after the last frame: claim() "
                                   "returned None already")
        frame, data = ctypes.c_uint64(), ctypes.c_void_p()
        args = (ctypes.byref(frame), ctypes.byref(data))
        if self._frame is not None:  # given back by the claim, its view first
            rc = self._ending(self._lib.fb_claim, args)
        else:
            rc = self._lib.fb_claim(self._p, *args)
        if rc < 0:
            self._raise(rc, "claim()")
        if rc == 0:
            self._done = True
            return None
        self._frame = frame.value
        self._arm()
        return self._frame, self._view

    def array(self):
        """The held frame as a numpy array over the slot (zero copy):
        (height, width, channels), uint8 (uint16 for rgb48le).  Raw frames
        of packed formats only."""
        self._usable("array()")
        if self._frame is None:
            raise FramebrokerError(errno.EINVAL, "array() without a claim")
        g = self.geometry
        if g.frame_format != "raw" or g.pix_fmt not in _SHAPES:
            raise FramebrokerError(errno.EINVAL, f"array(): no (height, width, channels) "
                                   f"array for {g.frame_format} {g.pix_fmt} frames; use the view")
        import numpy
        ch, dt = _SHAPES[g.pix_fmt]
        a = numpy.frombuffer(self._slot, dtype=numpy.dtype(dt), count=g.width * g.height * ch)
        return a.reshape(g.height, g.width, ch)

    def publish(self, length=None):
        """Hand the held frame to the encoder: LENGTH bytes of the slot
        (default, and for raw frames the only valid one: frame_bytes)."""
        self._usable("publish()")
        if self._frame is None:
            raise FramebrokerError(errno.EINVAL, "publish() without a claim (claim() first; "
                                   "a frame is published once)")
        if length is None:
            if self.geometry.frame_format != "raw":
                raise FramebrokerError(errno.EINVAL, "publish(): an encoded frame needs its "
                                       "length")
            length = self.geometry.frame_bytes
        try:
            # Any integer (numpy's too); ctypes would wrap one >= 2**64
            # silently (2**64 + 5 published as 5): refused here.
            n = None if isinstance(length, bool) else operator.index(length)
        except TypeError:
            n = None
        if n is None or not 0 <= n < 2**64:
            raise FramebrokerError(errno.EINVAL, f"publish({length!r}): not a byte count")
        length = n
        frame = self._frame
        rc = self._ending(self._lib.fb_publish, (length,), (-errno.EINVAL, -errno.EFAULT))
        if rc == -errno.EINVAL:
            # The library's own check: a bad length leaves the claim ours.
            g = self.geometry
            rule = (f"a raw frame is exactly {g.frame_bytes} bytes" if g.frame_format == "raw"
                    else f"an encoded frame is 1..{g.slot_bytes} bytes")
            raise FramebrokerError(errno.EINVAL, f"publish({length}): refused: {rule}; frame "
                                   f"{self._frame} is still held (p.view: its new view)")
        if rc < 0:
            self._raise(rc, f"publish() of frame {frame}")

    def abort_claim(self):
        """Give the held frame back unrendered, for another producer."""
        self._usable("abort_claim()")
        if self._frame is None:
            raise FramebrokerError(errno.EINVAL, "abort_claim() without a claim")
        frame = self._frame
        rc = self._ending(self._lib.fb_abort_claim)
        if rc < 0:
            self._raise(rc, f"abort_claim() of frame {frame}")

    def fail(self, reason):
        """Fail the whole render with REASON (one line); True if this call
        ended it, False if it had ended already."""
        self._usable("fail()")
        rc = self._lib.fb_fail(self._p, str(reason).encode(errors="replace"))
        if rc not in (0, -errno.ECANCELED):
            self._raise(rc, "fail()")
        return rc == 0

    def detach(self):
        """Give back any held frame, unregister, unmap.  Idempotent."""
        if self._p is None or os.getpid() != self._pid:
            return
        try:
            if self._frame is not None:  # its view cut (or kept) by fb_detach
                self._ending(self._lib.fb_detach, goes_on=(), lost=(-errno.EFAULT,))
            else:
                self._lib.fb_detach(self._p)
        finally:
            self._p = None

    close = detach

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.detach()

    def __del__(self):
        try:
            self.detach()
        except Exception:
            pass

    def __iter__(self):
        """(frame, view) for every frame this producer gets; the body must
        publish() or abort_claim() each one."""
        while True:
            got = self.claim()
            if got is None:
                return
            yield got
            if self._frame == got[0]:
                frame = self._frame
                self.abort_claim()
                raise FramebrokerError(errno.EINVAL, f"frame {frame} was neither published "
                                       "nor aborted in the loop body (given back)")

    def __repr__(self):
        g = self.geometry
        state = "detached" if self._p is None else f"frame {self._frame}" if self._frame \
            is not None else "no claim"
        return f"<framebroker.Producer {g.width}x{g.height} {g.pix_fmt} {state}>"


def attach(name=None, timeout=5.0):
    """Attach to the render NAME (None: the one that started this process,
    from FB_SEGMENT/FB_FD), waiting up to TIMEOUT seconds (None: forever)
    for it to appear.  Returns a Producer."""
    return Producer(name, timeout)
