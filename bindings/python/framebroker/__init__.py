"""framebroker — Python producers for a framebroker render, over
libframebroker.so through ctypes (standard library only; numpy is imported
only by Producer.array()).

    import framebroker
    with framebroker.attach() as p:          # started by fb-render --source attach:
        for frame, view in p:                # view: the slot itself, writable
            render(frame, view)
            p.publish()

Stale views.  Each claim's view (and Producer.array()) is over a private
alias of the slot: a second mapping of the slot's pages made with
mremap(old_size=0), so writes through it are writes into the slot (zero
copy).  When the claim ends (publish, abort_claim, a new claim, detach) the
view is released, and if anything still refers to the memory (a numpy array,
a PIL image, a slice of the view) the alias is cut off the slot before the
frame is handed on: its page tables move to a fresh alias of the slot
(mremap MREMAP_DONTUNMAP, no fault on the next claim) and the old address
becomes anonymous private memory (mmap MAP_FIXED).  A stale array then
reads zeros and writes into memory nobody else sees; it is unmapped once
the last object over it is freed.  See docs/python.md.
"""
import collections
import ctypes
import errno
import mmap
import operator
import os
import weakref

__all__ = ["attach", "Producer", "Geometry", "FramebrokerError", "Canceled", "Stale",
           "library_path", "version"]

# The library version this binding needs: every call below is declared by
# framebroker.h 0.8.0 (fps_num/fps_den since 0.7, fb_version_number, ...).
NEEDS = (0, 8, 0)
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
            ("fb_detach", None, [P]),
            ("fb_strerror", ctypes.c_char_p, [ctypes.c_int]),
            ("fb_attach_strerror", ctypes.c_char_p,
             [ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t]),
            ("fb_version", ctypes.c_char_p, [])):
        f = getattr(lib, name)
        f.restype, f.argtypes = res, args
    return lib, path


def version():
    """The linked library's "MAJOR.MINOR.PATCH"."""
    return _load()[0].fb_version().decode()


class _Mem:
    """The mapping calls the stale-view guard needs (libc through ctypes;
    PyDLL: the GIL is held, they never block)."""
    MREMAP_MAYMOVE, MREMAP_DONTUNMAP = 1, 4

    def __init__(self):
        c = ctypes.PyDLL(None, use_errno=True)
        self.mremap = c.mremap
        self.mremap.restype = ctypes.c_void_p
        self.mremap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t, ctypes.c_int,
                                ctypes.c_void_p]
        self.mmap = c.mmap
        self.mmap.restype = ctypes.c_void_p
        self.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int,
                              ctypes.c_int, ctypes.c_long]
        self.munmap = c.munmap
        self.munmap.restype = ctypes.c_int
        self.munmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t]
        self.failed = ctypes.c_void_p(-1).value

    def check(self, addr, what):
        if addr is None or addr == self.failed:
            e = ctypes.get_errno()
            raise FramebrokerError(e, f"{what}: {os.strerror(e)}")
        return addr

    def alias(self, addr, span):
        """A second mapping of the shared pages at ADDR."""
        return self.check(self.mremap(addr, 0, span, self.MREMAP_MAYMOVE, None),
                          "mremap (alias of a slot)")

    def anon(self, addr, span):
        """Replace whatever is mapped at ADDR by private anonymous memory."""
        flags = mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS | 0x10  # MAP_FIXED
        got = self.check(self.mmap(addr, span, mmap.PROT_READ | mmap.PROT_WRITE, flags, -1, 0),
                         "mmap (cutting a stale view off its slot)")
        if got != addr:
            raise FramebrokerError(errno.EFAULT, "mmap MAP_FIXED moved the mapping")

    def move(self, addr, span):
        """Move ADDR's mapping, page tables and all, to a new address,
        leaving ADDR mapped (MREMAP_DONTUNMAP); None if the kernel cannot."""
        got = self.mremap(addr, span, span, self.MREMAP_MAYMOVE | self.MREMAP_DONTUNMAP, None)
        return None if got is None or got == self.failed else got


def _forked(ref):
    """In a child forked (os.fork, multiprocessing) from a process holding
    a Producer: the aliases were inherited as *shared* mappings of the slots,
    so a view or array the child still has would write into a slot the
    parent's ring hands to other frames.  Cut every one of them here: they
    read zeros and write only the child's own memory.  If the cut fails,
    unmap instead (a stale write then faults, it never lands in a slot)."""
    p = ref()
    if p is None or p._p is None:
        return
    for addr in p._aliases.values():
        try:
            p._mem.anon(addr, p._span)
        except FramebrokerError:
            p._mem.munmap(addr, p._span)
    p._aliases = {}


def _claim_ended(mem, addr, span):
    """Finalizer of a cut view's memory: unmap its anonymous stand-in."""
    mem.munmap(addr, span)


# (height, width, channels) arrays for raw formats: pix_fmt -> (channels, dtype)
_SHAPES = {"rgba": (4, "u1"), "bgra": (4, "u1"), "rgb24": (3, "u1"), "gray": (1, "u1"),
           "rgb48le": (3, "<u2")}


class Producer:
    """One producer attached to a render (framebroker.attach()).  Used from
    one thread of the process that attached it."""

    def __init__(self, name=None, timeout=5.0):
        self._lib, self.library = _load()
        self._mem = _Mem()
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
        self._span = -(-g.slot_bytes // mmap.PAGESIZE) * mmap.PAGESIZE
        self._slot_type = ctypes.c_ubyte * g.slot_bytes
        self._aliases = {}  # slot address -> our alias of it (page tables built)
        self._frame = None  # the frame claimed, or None
        self._data = None   # its slot's address
        self._slot = None   # the ctypes object over the alias (exports the buffer)
        self._view = None   # the memoryview handed out
        self._done = False  # claim() returned None
        self._broken = None  # why the handle may no longer be used
        # A forked child must not inherit writable shared views of the slots.
        os.register_at_fork(after_in_child=lambda r=weakref.ref(self): _forked(r))

    # ---- internals ----
    def _usable(self, what):
        if self._p is None:
            raise FramebrokerError(errno.EINVAL, f"{what}: the producer is detached")
        if os.getpid() != self._pid:
            raise FramebrokerError(errno.EINVAL, f"{what}: a forked child must attach on its own")
        if self._broken:
            raise FramebrokerError(errno.EFAULT, f"{what}: {self._broken}")

    def _raise(self, rc, what):
        reason = self._lib.fb_strerror(rc).decode(errors="replace")
        if rc == -errno.ECANCELED:
            buf = ctypes.create_string_buffer(256)
            if self._lib.fb_reason(self._p, buf, len(buf)) == 0:
                reason += " (" + buf.value.decode(errors="replace") + ")"
        raise _error(-rc, what, reason)

    def _arm(self):
        """A view of the held frame's slot, through our alias of it."""
        addr = self._aliases.get(self._data)
        if addr is None:
            addr = self._aliases[self._data] = self._mem.alias(self._data, self._span)
        self._slot = self._slot_type.from_address(addr)
        self._view = memoryview(self._slot).cast("B")

    def _disarm(self):
        """The claim ends: release the view; if anything still holds the
        memory, cut it off the slot before the frame goes anywhere."""
        if self._slot is None:
            return
        try:
            self._view.release()
        except BufferError:  # something holds a buffer of it: cut below
            pass
        ref = weakref.ref(self._slot)
        self._view = self._slot = None
        stale = ref()
        if stale is None:
            return  # nothing refers to the alias: keep it for the slot's next claim
        addr = self._aliases.pop(self._data)
        moved = self._mem.move(addr, self._span)
        try:
            self._mem.anon(addr, self._span)
        except FramebrokerError as e:
            self._broken = f"a stale view could not be cut off its slot ({e.strerror})"
            raise
        if moved is not None:
            self._aliases[self._data] = moved
        weakref.finalize(stale, _claim_ended, self._mem, addr, self._span)

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
        if self._frame is not None:
            self._disarm()
            self._frame = None
        frame, data = ctypes.c_uint64(), ctypes.c_void_p()
        rc = self._lib.fb_claim(self._p, ctypes.byref(frame), ctypes.byref(data))
        if rc < 0:
            self._raise(rc, "claim()")
        if rc == 0:
            self._done = True
            return None
        self._frame, self._data = frame.value, data.value
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
        self._disarm()
        rc = self._lib.fb_publish(self._p, length)
        if rc == -errno.EINVAL:
            # The library's own check: a bad length leaves the claim ours.
            self._arm()
            g = self.geometry
            rule = (f"a raw frame is exactly {g.frame_bytes} bytes" if g.frame_format == "raw"
                    else f"an encoded frame is 1..{g.slot_bytes} bytes")
            raise FramebrokerError(errno.EINVAL, f"publish({length}): refused: {rule}; frame "
                                   f"{self._frame} is still held (p.view: its new view)")
        frame, self._frame = self._frame, None
        if rc < 0:
            self._raise(rc, f"publish() of frame {frame}")

    def abort_claim(self):
        """Give the held frame back unrendered, for another producer."""
        self._usable("abort_claim()")
        if self._frame is None:
            raise FramebrokerError(errno.EINVAL, "abort_claim() without a claim")
        self._disarm()
        frame, self._frame = self._frame, None
        rc = self._lib.fb_abort_claim(self._p)
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
            if self._frame is not None:
                self._disarm()
                self._frame = None
        finally:
            self._lib.fb_detach(self._p)
            self._p = None
            for addr in self._aliases.values():
                self._mem.munmap(addr, self._span)
            self._aliases.clear()

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
