/*
 * fb_shm — segment names, and the object that sits at a name in /dev/shm:
 * opened only if it is a regular file, judged (whose, writable by whom),
 * described when refused, unlinked only if it is the very object meant.
 * Nothing here reads a segment's contents (that is fb_segment.h).
 */
#ifndef FB_SHM_H
#define FB_SHM_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FB_NAME_MAX 200

/* A POSIX shm name: "/" then 1..FB_NAME_MAX-1 of [A-Za-z0-9._-].  0 or -EINVAL. */
int fb_shm_name_check(const char *name);

/* A name as users write it, with or without its leading '/': the canonical
 * "/name" into OUT.  0 (given canonical), 1 (the '/' was added: say so), or
 * -EINVAL (OUT then holds nothing usable). */
int fb_shm_name_canon(const char *in, char out[FB_NAME_MAX + 1]);

/* The same for a program's argument WHAT ("--name", "segment name"): 0, or
 * -1 with the one-line error printed for PROG; an added '/' is said at info
 * level, so the user sees which name was used. */
int fb_shm_name_arg(const char *prog, const char *what, const char *in, char out[FB_NAME_MAX + 1]);

/* Where glibc's shm_open keeps names: NAME is the file FB_SHM_DIR NAME. */
#define FB_SHM_DIR "/dev/shm"

/*
 * The one way every program opens a segment name: shm_open(NAME, FLAGS |
 * O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, MODE), then fstat.
 * /dev/shm is world-writable and names may be predictable, so anything may
 * sit at NAME: a symlink (refused by O_NOFOLLOW), a FIFO (O_NONBLOCK: the
 * open cannot wait for a writer that never comes), a directory, a socket or
 * a device (looked at with lstat first, so it is not even opened: opening
 * a device can act).  Anything but a regular file is refused with
 * -FB_ENOTSEG.  On success returns the descriptor and fills *ST (may be
 * NULL).  -errno otherwise.
 */
#define FB_ENOTSEG EMEDIUMTYPE
int fb_shm_open(const char *name, int flags, mode_t mode, struct stat *st);

/* lstat(2) of NAME's file in FB_SHM_DIR (a symlink is not followed).
 * 0, -EINVAL for a bad name, or -errno (-ENOENT: no such name). */
int fb_shm_lstat(const char *name, struct stat *st);

/* What NAME's fstat MODE is, for messages: "a FIFO", "a directory", ... */
const char *fb_file_kind(mode_t mode);

/*
 * May a worker attach by name to the object ST describes?  Only to a
 * regular file owned by our effective uid and writable by nobody else: a
 * name is only a claim, and a segment another user made (or could have
 * rewritten) would have us render into their memory, or trust their
 * header and kill the pids it names.  0, -FB_ENOTSEG, or -EPERM.
 */
int fb_shm_check_owner(const struct stat *st);

/* Is RC (from an attach or fb_shm_open) a refusal of what sits at the
 * name — not a segment, not ours (-EPERM), not readable (-EACCES)? */
static inline int fb_shm_refused(int rc)
{
	return rc == -FB_ENOTSEG || rc == -EPERM || rc == -EACCES;
}

/*
 * A one-line explanation, in BUF, of why NAME was refused (RC as in
 * fb_shm_refused), as NAME is now: "/dev/shm/x is a FIFO, not a
 * shared-memory segment", "/dev/shm/x belongs to user nobody (uid 65534),
 * not to user root (uid 0); mode 0600", "/dev/shm/x is writable by
 * everyone (mode 0666)".  Returns BUF.
 */
const char *fb_shm_refusal(const char *name, int rc, char *buf, size_t len);

/*
 * A default segment name, "/PREFIX-PID-XXXXXXXX": the pid for humans, and
 * 32 random bits (getrandom) because pids are not unique on a machine —
 * every container's first process is pid 1, and containers may share
 * /dev/shm.  PREFIX: letters, digits, '-'.  Writes BUF (FB_NAME_MAX + 1).
 */
void fb_shm_default_name(char *buf, size_t len, const char *prefix);

/*
 * Unlink NAME only if it still names the object (DEV, INO): whoever
 * created a segment knows its inode, and must never remove a name that now
 * names another render's segment.  0, -ESTALE if NAME names another
 * object, or -errno (-ENOENT: already gone).
 */
int fb_shm_unlink_same(const char *name, uint64_t dev, uint64_t ino);

/* Remove the name unconditionally: tests only.  0 or -errno. */
int fb_shm_unlink(const char *name);

#endif
