/*
 * join — a segmented render's last step: fb-stitch joins the work
 * directory's segments, in frame order, into the -o output (its checked,
 * lossless join: scripts/fb-stitch.in).  Started and read here; waited
 * for, stopped and judged by the supervisor, whose loop it is part of.
 */
#ifndef FB_RENDER_JOIN_H
#define FB_RENDER_JOIN_H

#include "outcome.h"
#include "workdir.h"

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct join {
	pid_t pid;        /* fb-stitch (it leads its own group), 0 before */
	int err_fd;       /* its stderr, read here; -1 once it is closed */
	bool readable;    /* the supervisor's poll saw err_fd readable */
	size_t segments;  /* how many it joins */
	char line[OUTCOME_CAUSE_MAX]; /* the line it is writing ... */
	size_t got;
	char last[OUTCOME_CAUSE_MAX]; /* ... and the last one it finished */
};

/* Start BINDIR/fb-stitch on W's segments (the plan must cover every frame)
 * into OUTPUT.  0, or -1 with CAUSE (nothing started). */
int join_start(struct join *j, const char *bindir, const struct workdir *w, const char *output,
	       char *cause, size_t len);

/* Read what fb-stitch wrote so far (its last line is the cause if it
 * fails); at its end the descriptor is closed. */
void join_read(struct join *j);

#endif
