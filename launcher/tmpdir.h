/*
 * tmpdir — the render's private directory: made with mkdtemp in $TMPDIR
 * (default /tmp) as fb-render-PID-XXXXXX, mode 0700, before any child
 * starts, and named to every child in FB_TMPDIR (a Chrome worker's profile,
 * a producer's scratch files); removed with everything in it once every
 * child has been reaped.  The removal follows no symlink and crosses no
 * mount: whatever a child left there (symlinks to files outside, FIFOs,
 * sockets, read-only or very deep directories) goes, and nothing outside.
 */
#ifndef FB_TMPDIR_H
#define FB_TMPDIR_H

#include <limits.h>
#include <stddef.h>

struct fb_tmpdir {
	char path[PATH_MAX]; /* "" until made */
	int fd;              /* the directory itself (O_CLOEXEC), or -1 */
};

/* Is $TMPDIR (or /tmp) a directory one can make entries in?  Its absolute
 * path into BASE.  0, or FB_EXIT_USAGE after one line (--check asks this
 * too: it makes nothing). */
int fb_tmpdir_base(char *base, size_t len, const char *prog);

/* Make the directory under BASE and export FB_TMPDIR.  0, or the exit
 * code after one line: FB_EXIT_USAGE if $TMPDIR itself is unusable,
 * FB_EXIT_RUNTIME otherwise (out of space, of descriptors). */
int fb_tmpdir_make(struct fb_tmpdir *t, const char *base, const char *prog);

/* Remove it and all it holds (once no child is left to write there); a
 * failure is one warning, never a changed exit code.  Idempotent. */
void fb_tmpdir_remove(struct fb_tmpdir *t, const char *prog);

/*
 * Remove what renders that died (SIGKILL, a crash: nothing of theirs could
 * clean up) left in BASE: directories named fb-render-PID-XXXXXX, ours,
 * 0700, not changed for FB_TMPDIR_SWEEP_AGE_S, and not locked — every
 * fb-render holds an flock on its own until it dies, which, unlike its
 * pid, means the same in every pid namespace sharing BASE (a container's
 * pid 10 is some other process here).  The age covers the instant between
 * mkdtemp and the lock; a PID alive here is skipped too (an fb-render of
 * before the lock takes none).  At most FB_TMPDIR_SWEEP_MAX per call; silent
 * (--log-level debug names each).
 */
#define FB_TMPDIR_SWEEP_AGE_S 60
#define FB_TMPDIR_SWEEP_MAX 64
void fb_tmpdir_sweep(const char *base, const char *prog);

#endif
