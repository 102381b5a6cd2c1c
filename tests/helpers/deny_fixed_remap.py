#!/usr/bin/env python3
"""deny_fixed_remap.py CMD ARGS... — run CMD where mremap(2) with
MREMAP_FIXED fails (EPERM), everything else as usual: a seccomp filter,
the one way to make the library fail to put a view back at its address
(fb_publish's -EFAULT after a refused length) without a test-only seam in
the library.  The library moves a view with MREMAP_FIXED only then, for a
slot under 2 MiB.  FB_PRELOAD, if set, becomes CMD's LD_PRELOAD (a
sanitizer runtime for node, which this python must not get).  Exit 3 if
the filter cannot be installed (no seccomp: the caller skips)."""
import ctypes
import os
import platform
import struct
import sys

NR_MREMAP = {"x86_64": 25, "aarch64": 216}
MREMAP_FIXED = 2
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
LD_W_ABS, JEQ_K, JSET_K, RET_K = 0x20, 0x15, 0x45, 0x06
RET_ALLOW, RET_ERRNO = 0x7FFF0000, 0x00050000
EPERM = 1


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def op(code, k, jt=0, jf=0):
    return struct.pack("HBBI", code, jt, jf, k)


def deny():
    nr = NR_MREMAP.get(platform.machine())
    if nr is None:
        return False
    prog = b"".join([
        op(LD_W_ABS, 0),                 # seccomp_data.nr
        op(JEQ_K, nr, 0, 3),
        op(LD_W_ABS, 16 + 3 * 8),        # args[3] (flags), low word
        op(JSET_K, MREMAP_FIXED, 0, 1),
        op(RET_K, RET_ERRNO | EPERM),
        op(RET_K, RET_ALLOW),
    ])
    buf = ctypes.create_string_buffer(prog, len(prog))
    fprog = SockFprog(len(prog) // 8, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
    return (libc.prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) == 0 and
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0) == 0)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: deny_fixed_remap.py CMD ARGS...")
    if not deny():
        sys.exit(3)
    env = dict(os.environ)
    if "FB_PRELOAD" in env:
        env["LD_PRELOAD"] = env.pop("FB_PRELOAD")
    os.execvpe(sys.argv[1], sys.argv[1:], env)
