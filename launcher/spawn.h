/*
 * spawn — start a framebroker program as a supervised child of fb-render:
 * in the render's process group (so one killpg reaches it and anything it
 * starts), with a parent-death signal (so it stops if fb-render is killed),
 * and with fb-render's blocked signals unblocked again.  And the other end
 * of a child's life: as a child subreaper, fb-render inherits every orphan
 * of its tree (a renderer's helpers, setsid'd or not); fb_orphans_step ends
 * them once the render is over.
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

/*
 * The same for a program that is not one of ours (--source attach:CMD): FILE
 * is looked up on PATH unless it holds a '/' (execvpe), ENVP is its whole
 * environment, its stdin is /dev/null and its stdout goes to our stderr —
 * fb-render's stdout may be the video itself (-o -), which a stray printf
 * must not corrupt.  A failed exec prints why and exits 127.
 */
pid_t fb_spawn_cmd(const char *file, char *const argv[], char *const envp[], pid_t pgid,
		   int keep_fd);

/*
 * This process's children right now (running, stopped or zombie), at most
 * MAX of them into OUT; returns how many there are (may exceed MAX).  From
 * /proc/self/task/T/children, or by scanning /proc where that file does
 * not exist.  A child that appears or exits while this runs may be missed:
 * callers ask again.
 */
size_t fb_list_children(pid_t *out, size_t max);

/* Ending the children that are left (orphans adopted as subreaper). */
struct fb_orphans {
	uint64_t since_ns; /* first step; 0: not started */
	pid_t *termed;     /* children already sent SIGTERM */
	size_t n, cap;
	size_t killed;     /* SIGKILLs sent, for the caller's message */
};

/*
 * One step, every few ms until waitpid says ECHILD: each child seen for
 * the first time gets SIGTERM (and SIGCONT, so a stopped one can act on
 * it); once GRACE_NS has passed since the first step, every child left
 * gets SIGKILL.  Whatever session or process group it moved to, a child
 * is ours to end; and until it is reaped (by the caller, after this step),
 * its pid cannot name another process, so no signal goes astray.
 */
void fb_orphans_step(struct fb_orphans *o, uint64_t now_ns, uint64_t grace_ns);

void fb_orphans_free(struct fb_orphans *o);

/*
 * Ctrl-Z reaching the whole tree: a renderer's helper, a browser a worker
 * launched detached (its own session and group), is out of reach of the
 * killpg(SIGSTOP) of the render's group, but as subreaper fb-render keeps
 * every one of them among its descendants.  fb_tree_stop SIGSTOPs each
 * descendant outside process group PGID that is not stopped already, and
 * walks /proc again until a walk finds nobody new (one may fork before its
 * stop takes effect); fb_tree_cont continues exactly those.  A pid is
 * signalled only if it is still the process the walk saw (its start time,
 * checked through a pidfd): a pid reused meanwhile is somebody else's.
 */
struct fb_tree_stop {
	pid_t *pid;
	unsigned long long *start;
	size_t n, cap;
};

void fb_tree_stop(struct fb_tree_stop *s, pid_t pgid);
void fb_tree_cont(struct fb_tree_stop *s);
void fb_tree_free(struct fb_tree_stop *s);

#endif
