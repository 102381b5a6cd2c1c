/*
 * spawn — start a framebroker program as a supervised child of fb-render:
 * in the render's process group (so one killpg reaches it and anything it
 * starts), with a parent-death signal (so it stops if fb-render is killed),
 * and with fb-render's blocked signals unblocked again.  The other end of a
 * child's life is orphans.h's; Ctrl-Z for the whole tree, tree.h's.
 */
#ifndef FB_SPAWN_H
#define FB_SPAWN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * Fork and exec PATH with ARGV.  PGID 0 starts a new process group led by the
 * child; otherwise the child joins PGID.  KEEP_FD (or -1) is left open across
 * exec.  Returns the child's pid or -errno.  If exec fails the child prints
 * why and exits 127.
 *
 * The child has no controlling terminal (TIOCNOTTY), nor has anything it
 * starts (ffmpeg, renderer commands, a browser): the render's group is
 * never the terminal's foreground group, so with `stty tostop` a line
 * written to the terminal would stop the writer (SIGTTOU), and a read of
 * it, or a tcsetattr, would too.  The kernel sends these only to processes
 * whose controlling terminal it is, so now the writes go through, whatever
 * the program does with its signal dispositions (Node resets SIGTTOU to
 * the default at start-up: ignoring it, as we also still do, is not
 * enough), and an open of /dev/tty fails (ENXIO).  The child stays in the
 * render's session and group: Ctrl-Z (signals_job_stop) and killpg reach it as before.
 */
pid_t fb_spawn(const char *path, char *const argv[], pid_t pgid, int keep_fd);

/* fb_spawn, with the child's stderr on ERR_FD (fb-render reads what
 * fb-stitch says, to say it in one line of its own). */
pid_t fb_spawn_stderr(const char *path, char *const argv[], pid_t pgid, int err_fd);

/*
 * The same for a program that is not one of ours (--source attach:CMD): FILE
 * is looked up on PATH unless it holds a '/' (execvpe), ENVP is its whole
 * environment, its stdin is /dev/null and its stdout goes to our stderr —
 * fb-render's stdout may be the video itself (-o -), which a stray printf
 * must not corrupt.  A failed exec prints why and exits 127.
 */
pid_t fb_spawn_cmd(const char *file, char *const argv[], char *const envp[], pid_t pgid,
		   int keep_fd);

#endif
