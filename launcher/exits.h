/*
 * exits — what one child's exit means for the render.  The supervisor
 * reaps a child and hands its status here with what it knows of the
 * render (struct exit_facts); this returns a verdict and does nothing
 * else: the supervisor acts on it (stops the render, records the cause,
 * starts a replacement).
 *
 * The exit codes (fb_args.h): 1 and 2 mean the child printed its one-line
 * cause; 3 that it stopped because somebody else aborted the render; only
 * a producer killed by a signal, or one whose renderer died (4), is a crash
 * to recover from: one that exits 1 failed deliberately (it read a short
 * raw file, say) and a replacement would fail the same way.
 */
#ifndef FB_RENDER_EXITS_H
#define FB_RENDER_EXITS_H

#include "children.h"
#include "outcome.h"

#include <stdbool.h>

/* What the supervisor knows when a child exits. */
struct exit_facts {
	bool stopping;     /* the render is ending (a failure, a stop request, an abort) */
	bool aborted;      /* ... because the broker reported it aborted */
	bool killed;       /* ... and past its grace: the group was SIGKILLed */
	bool said;         /* some cause line is on stderr already */
	bool encoder_done; /* the encoder exited 0: every frame is in the output */
	bool encoder_gone; /* it exited otherwise: no frame can be emitted now */
};

enum exit_act {
	EXIT_NOTHING, /* expected, or a consequence of what is under way */
	EXIT_ABORTED, /* the broker reports the render aborted: it ends */
	EXIT_REPLACE, /* a producer crashed while frames may remain */
	EXIT_FAIL,    /* the render fails (CAUSE): stop it */
	EXIT_CAUSE,   /* CAUSE is why the render, already ending, fails */
};

struct verdict {
	enum exit_act act;
	enum outcome_say say; /* EXIT_FAIL, EXIT_CAUSE: who says CAUSE */
	bool child_said;      /* the child printed its own cause line */
	char how[96];         /* "killed by signal 9 (Killed)", "exited with status 1" */
	char cause[OUTCOME_CAUSE_MAX];
};

/* Child K of CH exited with wait status STATUS: the verdict into *V. */
void exit_judge(const struct children *ch, const struct exit_facts *f, const struct child *k,
		int status, struct verdict *v);

#endif
