/*
 * signals — how fb-render waits: every signal it reacts to is blocked and
 * taken synchronously from a signalfd, polled together with at most one
 * descriptor (the broker's ready pipe), so a stop request is seen at any
 * moment and never interrupts a system call.  And Ctrl-Z for the whole
 * tree (signals_job_stop).
 */
#ifndef FB_RENDER_SIGNALS_H
#define FB_RENDER_SIGNALS_H

#include "tree.h"
#include "status.h"

#include <stdbool.h>
#include <sys/types.h>

/* Block SIGCHLD, SIGTSTP, SIGCONT, SIGTTOU and every signal whose default
 * would end fb-render, and open the signalfd that takes them (but
 * SIGTTOU); ignore SIGPIPE.  The descriptor, or -1 (said). */
int signals_open(void);

/* Wait up to TIMEOUT_MS for a signal on SFD, or for FD (if >= 0) to be
 * readable (*READABLE, if READABLE).  Returns the signal taken, or 0. */
int signals_wait(int sfd, int fd, int timeout_ms, bool *readable);

/* Ctrl-Z: stop the render's group PGID and every descendant that left it
 * (recorded in TREE), then fb-render itself; once continued, continue
 * them all.  STATUS: the progress line, ended first. */
void signals_job_stop(pid_t pgid, struct fb_tree_stop *tree, struct status *status);

#endif
