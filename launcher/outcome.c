/* outcome — the render's exit code and its cause, first cause wins (outcome.h). */
#include "outcome.h"
#include "fb_args.h"
#include "fb_stats.h"

#include <stdarg.h>
#include <stdio.h>

#define PROG "fb-render"

void outcome_set(struct outcome *o, int code, enum outcome_say say, const char *fmt, ...)
{
	char cause[OUTCOME_CAUSE_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cause, sizeof(cause), fmt, ap);
	va_end(ap);
	if (say == OUTCOME_SAY)
		fb_err(PROG, "%s", cause);
	if (say == OUTCOME_SAY || say == OUTCOME_SAID)
		o->said = true;
	if (o->code != FB_EXIT_OK)
		return;
	o->code = code;
	o->say = say;
	snprintf(o->cause, sizeof(o->cause), "%s", cause);
}

void outcome_said(struct outcome *o)
{
	o->said = true;
}

bool outcome_stop(struct outcome *o, int sig)
{
	if (o->stopped)
		return false;
	o->stopped = true;
	o->code = 128 + sig;
	return true;
}

bool outcome_failed(const struct outcome *o)
{
	return o->code != FB_EXIT_OK;
}

int outcome_finish(struct outcome *o, int seg_fd)
{
	char cause[FB_REASON_MAX + 64];

	if (o->code == FB_EXIT_OK || o->stopped || o->said)
		return o->code;
	o->said = true;
	if (o->say == OUTCOME_SEGMENT && seg_fd >= 0 &&
	    fb_stats_cause_fd(seg_fd, cause, sizeof(cause)))
		fb_err(PROG, "%s", cause);
	else
		fb_err(PROG, "%s", o->cause);
	return o->code;
}
