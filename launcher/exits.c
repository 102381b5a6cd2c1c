/* exits — what a child's exit means for the render (exits.h). */
#include "exits.h"
#include "attached.h"
#include "fb_args.h"

#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

/* The verdict on an exit that failed nothing by itself: fine for anyone but
 * the encoder, whose exit without every frame is the render's failure.
 * Its cause, unless one is recorded already: the abort's (said at the end,
 * as the segment records it), or nobody's. */
static void unless_encoder(const struct exit_facts *f, const struct child *k, int code,
			   struct verdict *v)
{
	v->act = EXIT_NOTHING;
	if (k->role != ROLE_ENCODER || code == FB_EXIT_OK)
		return;
	v->act = EXIT_CAUSE;
	if (f->aborted || code == FB_EXIT_ABORTED) {
		v->say = OUTCOME_SEGMENT;
		snprintf(v->cause, sizeof(v->cause), "render aborted (no cause recorded)");
	} else {
		v->say = OUTCOME_LATER;
		snprintf(v->cause, sizeof(v->cause), "render ended before the encoder finished");
	}
}

/* The render is not ending and nothing recovers from this exit. */
static void fail(const struct children *ch, const struct child *k, int code, struct verdict *v)
{
	v->act = EXIT_FAIL;
	snprintf(v->cause, sizeof(v->cause), "%s (pid %d) %s", children_name(ch, k->role),
		 (int)k->pid, v->how);
	/* Exit 1/2: the child printed its cause; 127: spawn printed it. */
	v->say = code == FB_EXIT_RUNTIME || code == FB_EXIT_USAGE || code == 127 ? OUTCOME_SAID
										   : OUTCOME_SAY;
}

void exit_judge(const struct children *ch, const struct exit_facts *f, const struct child *k,
		int status, struct verdict *v)
{
	bool crashed = WIFSIGNALED(status);
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	bool attach = k->role == ROLE_PRODUCER && ch->o->attach;

	memset(v, 0, sizeof(*v));
	if (crashed)
		snprintf(v->how, sizeof(v->how), "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(v->how, sizeof(v->how), "exited with status %d", code);
	/* Our own programs print their cause before exiting 1 or 2; a user's
	 * attach: program may exit 1 after fb_fail() without a word, and then
	 * the cause is the one recorded in the segment, said at the end. */
	v->child_said = (code == FB_EXIT_RUNTIME || code == FB_EXIT_USAGE) && !attach;
	if (k->role == ROLE_BROKER && code == FB_EXIT_ABORTED && !f->stopping) {
		v->act = EXIT_ABORTED;
	} else if (f->aborted && !f->said && !v->child_said && k->role == ROLE_ENCODER && crashed &&
		   !f->killed) {
		/* The broker's "aborted" was reaped first; the encoder's death
		 * (not a kill of ours) is what it aborted for: name it. */
		v->act = EXIT_CAUSE;
		v->say = OUTCOME_SAY;
		snprintf(v->cause, sizeof(v->cause), "%s (pid %d) %s", children_name(ch, k->role),
			 (int)k->pid, v->how);
	} else if (attach && !(crashed || code == FB_EXIT_RENDERER)) {
		v->act = EXIT_NOTHING;
		if (!f->stopping && !f->encoder_done && !f->encoder_gone &&
		    attach_exit_fails(ch, k, status, v->cause, sizeof(v->cause))) {
			v->act = EXIT_FAIL;
			v->say = OUTCOME_SAY;
		}
	} else if (f->stopping || code == FB_EXIT_OK || code == FB_EXIT_ABORTED) {
		unless_encoder(f, k, code, v);
	} else if (k->role == ROLE_PRODUCER && (crashed || code == FB_EXIT_RENDERER)) {
		/* Killed, or its renderer command died (it gave the frame
		 * back), or (attach:) the program itself gave its frame back
		 * and asks for a replacement: the same exit code. */
		v->act = f->encoder_done || f->encoder_gone ? EXIT_NOTHING : EXIT_REPLACE;
	} else {
		fail(ch, k, code, v);
	}
}
