/*
 * outcome — how the render ends: one exit code and the one line that says
 * why, recorded where the failure happens and never worked out afterwards.
 * The first cause wins (as the segment's own abort does: fb_life_abort_first),
 * so a failure's consequences (producers stopped, the encoder ending early)
 * never replace the failure itself.  A stop request is the one thing that
 * outranks a recorded failure: the exit is 128+N whenever fb-render was
 * asked to stop, so a shell sees the job was interrupted.
 */
#ifndef FB_RENDER_OUTCOME_H
#define FB_RENDER_OUTCOME_H

#include <stdbool.h>

#define OUTCOME_CAUSE_MAX 1024 /* what one fb_err line holds */

/* Who says the cause, and when. */
enum outcome_say {
	OUTCOME_SAY,     /* fb-render says it now: "fb-render: CAUSE" */
	OUTCOME_SAID,    /* it is on stderr already: the child said it (exit 1
			  * or 2), or the spawn that failed did */
	OUTCOME_LATER,   /* nobody has: outcome_finish says it at the end,
			  * unless some cause line is said meanwhile */
	OUTCOME_SEGMENT, /* as LATER, but the cause is the one the segment
			  * records (an abort's); CAUSE if it records none */
};

struct outcome {
	int code;      /* the exit code: FB_EXIT_OK until the first cause */
	bool stopped;  /* code is 128+N: a stop request */
	bool said;     /* some cause line is on stderr: none at the end */
	enum outcome_say say; /* how the recorded cause is to be said */
	char cause[OUTCOME_CAUSE_MAX];
};

/* A cause.  The first one sets the code and the cause; later ones change
 * neither.  OUTCOME_SAY prints it now whether it is the first or not: every
 * failure fb-render sees is one line. */
void outcome_set(struct outcome *o, int code, enum outcome_say say, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A child put a cause line on stderr (it exited 1 or 2) while the render
 * was already ending: its line names the cause, no line of ours is due. */
void outcome_said(struct outcome *o);

/* A stop request by signal SIG: exit 128+SIG (the first request's), over
 * any failure.  Returns true for the first request. */
bool outcome_stop(struct outcome *o, int sig);

/* Is the render failing (or stopped): anything but exit 0? */
bool outcome_failed(const struct outcome *o);

/* The render is over: say the recorded cause if it is a failure nobody
 * has said (OUTCOME_SEGMENT: read through SEG_FD, or -1), and return the
 * exit code. */
int outcome_finish(struct outcome *o, int seg_fd);

#endif
