/*
 * tree — Ctrl-Z for every descendant of fb-render, those that left the
 * render's process group included (fb_tree_stop, fb_tree_cont).
 */
#ifndef FB_RENDER_TREE_H
#define FB_RENDER_TREE_H

#include <stddef.h>
#include <sys/types.h>

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
