/*
 * orphans — the other end of a child's life: as a child subreaper,
 * fb-render inherits every orphan of its tree (a renderer's helpers,
 * setsid'd or not, ffmpeg when the encoder dies); once the render is over,
 * fb_orphans_step ends them rather than waiting for them.
 */
#ifndef FB_RENDER_ORPHANS_H
#define FB_RENDER_ORPHANS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

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

#endif
