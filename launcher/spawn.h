/*
 * spawn — start a framebroker program as a supervised child of fb-render:
 * in the render's process group (so one killpg reaches it and anything it
 * starts), with a parent-death signal (so it stops if fb-render is killed),
 * and with fb-render's blocked signals unblocked again.
 */
#ifndef FB_SPAWN_H
#define FB_SPAWN_H

#include <sys/types.h>

/*
 * Fork and exec PATH with ARGV.  PGID 0 starts a new process group led by the
 * child; otherwise the child joins PGID.  KEEP_FD (or -1) is left open across
 * exec.  Returns the child's pid or -errno.  If exec fails the child prints
 * why and exits 127.
 */
pid_t fb_spawn(const char *path, char *const argv[], pid_t pgid, int keep_fd);

#endif
