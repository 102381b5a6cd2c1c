/* attached — what an attach: producer is held to (attached.h). */
#include "attached.h"
#include "fb_args.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#define PROG "fb-render"

/*
 * fb-producer's codes are promises it keeps; a user's program may not: 0
 * with frames left (or a program that is no producer at all: an exec:
 * renderer given as attach: reads EOF from /dev/null), 3 while the render
 * runs, 1 or 2 without a word — each would leave the render waiting for
 * frames nobody renders, or failing with no cause.  So each is judged
 * here, and said.
 */
bool attach_exit_fails(const struct children *ch, const struct child *k, int status,
		       char *cause, size_t len)
{
	const char *name = children_name(ch, k->role);
	int code = WEXITSTATUS(status);
	char why[FB_REASON_MAX + 64];

	if (code == FB_EXIT_OK && !fb_stats_frames_left(ch->seg_fd, k->pid))
		return false;
	if (code != FB_EXIT_OK && fb_stats_cause_fd(ch->seg_fd, why, sizeof(why)))
		return false; /* aborted indeed (by this program's fb_fail, say, before it
			       * exited 1 without a word): the recorded cause is said
			       * when the broker reports the abort */
	if (code == FB_EXIT_OK)
		snprintf(cause, len, "%s (pid %d) exited 0 while frames remain: a producer exits 0 "
			 "only after fb_claim() returned 0 (exit 4 asks for a replacement)",
			 name, (int)k->pid);
	else if (code == FB_EXIT_ABORTED)
		snprintf(cause, len, "%s (pid %d) exited 3 (\"aborted elsewhere\") but the render "
			 "was not aborted", name, (int)k->pid);
	else
		snprintf(cause, len, "%s (pid %d) exited with status %d", name, (int)k->pid, code);
	return true;
}

int attach_watch_start(struct attach_watch *w, int fd, const char *name, char *cause,
		       size_t len)
{
	const char *why = NULL;
	int rc;

	*w = (struct attach_watch){ 0 };
	w->st = malloc(sizeof(*w->st));
	if (!w->st) {
		snprintf(cause, len, "cannot watch the attach: producers: %s", strerror(ENOMEM));
		return -1;
	}
	rc = fb_seg_attach_readonly_fd(fd, name, &w->seg, &why);
	if (rc) {
		snprintf(cause, len, "cannot watch the attach: producers: segment %s: %s", name,
			 why ? why : strerror(-rc));
		attach_watch_stop(w);
		return -1;
	}
	return 0;
}

void attach_watch_stop(struct attach_watch *w)
{
	if (w->seg)
		fb_seg_detach(w->seg);
	free(w->st);
	w->seg = NULL;
	w->st = NULL;
}

/* Is PID a registered producer that has published no frame yet? */
static bool registered_idle(const struct fb_stats *st, pid_t pid)
{
	for (uint32_t i = 0; i < st->nprocs && i < FB_MAX_PROCS; i++)
		if (st->proc[i].pid == pid && st->proc[i].role == FB_ROLE_PRODUCER)
			return st->proc[i].frames == 0;
	return false;
}

int attach_watch_linger(struct attach_watch *w, const struct children *ch, uint64_t now,
			int *timeout)
{
	bool any = false;
	int sig = 0;

	for (size_t i = 2; i < ch->nkids; i++)
		any |= ch->kids[i].role == ROLE_PRODUCER && ch->kids[i].running;
	if (!any)
		return 0;
	if (!w->linger_deadline) {
		w->linger_deadline = now + ATTACH_LINGER_MS * 1000000ull;
	} else if (now >= w->linger_deadline) {
		for (size_t i = 2; i < ch->nkids && !w->linger_termed; i++) {
			const struct child *k = &ch->kids[i];

			if (k->role != ROLE_PRODUCER || !k->running)
				continue;
			/* One that attached but never published a frame was still
			 * starting (a browser opening its page) when the others
			 * finished: ending it is no news.  One that rendered and
			 * lingers, or a wrapper whose worker was another process, is. */
			if (w->st && registered_idle(w->st, k->pid))
				fb_debug(PROG, "%s (pid %d) published no frame and is still starting; ending it",
					 children_name(ch, k->role), (int)k->pid);
			else
				fb_warn(PROG, "%s (pid %d) still running %d s after the last frame "
					"was written; ending it", children_name(ch, k->role), (int)k->pid,
					ATTACH_LINGER_MS / 1000);
		}
		sig = w->linger_termed ? SIGKILL : SIGTERM;
		w->linger_termed = true;
		w->linger_deadline = now + ATTACH_LINGER_MS * 1000000ull;
	}
	*timeout = *timeout < 100 ? *timeout : 100;
	return sig;
}

/* Could a producer claim a frame right now: one up for reissue, or the next
 * new frame with its slot (frame mod S) empty?  Then a producer that does
 * not is idle, not held back by the encoder. */
static bool claimable(const struct fb_stats *st, const struct fb_geom *g)
{
	if (st->slots_by_state[FB_SLOT_REISSUE] > 0)
		return true;
	return st->claimed < g->total_frames &&
	       st->slot[st->claimed % g->slot_count].state == FB_SLOT_EMPTY;
}

static bool registered(const struct fb_stats *st, pid_t pid)
{
	for (uint32_t i = 0; i < st->nprocs && i < FB_MAX_PROCS; i++)
		if (st->proc[i].pid == pid && st->proc[i].role == FB_ROLE_PRODUCER)
			return true;
	return false;
}

void attach_watch_look(struct attach_watch *w)
{
	fb_stats_read(w->seg, w->st);
}

/* A program that has not registered within --frame-timeout of its start:
 * the broker supervises only producers that registered. */
struct child *attach_watch_unattached(const struct attach_watch *w, struct children *ch,
				      uint64_t now)
{
	uint64_t limit = (uint64_t)ch->o->frame_timeout_s * 1000000000ull;

	for (size_t i = 2; i < ch->nkids; i++) {
		struct child *k = &ch->kids[i];

		if (k->role != ROLE_PRODUCER || !k->running || k->attached)
			continue;
		k->attached = registered(w->st, k->pid);
		/* NOW was read before this tick's reap, which may have started
		 * K just now. */
		if (!k->attached && now > k->started_ns && now - k->started_ns > limit) {
			fb_warn(PROG, "%s (pid %d) has not attached within --frame-timeout %u s; killing it",
				children_name(ch, k->role), (int)k->pid, ch->o->frame_timeout_s);
			k->attached = true; /* said once; its death is a crash like any */
			return k;
		}
	}
	return NULL;
}

/*
 * What the broker cannot see, because it supervises only producers that
 * registered and claims they hold: a program that never attaches (above:
 * killed after --frame-timeout and replaced, like a producer stuck in a
 * frame), and producers that attached and let frames wait in free slots
 * for --frame-timeout without claiming (the render fails: replacing them
 * would not help).  Reads the watch's view (display counters, never
 * trusted beyond these decisions).
 */
bool attach_watch_stalled(struct attach_watch *w, const struct children *ch, uint64_t now,
			  char *cause, size_t len)
{
	uint64_t limit = (uint64_t)ch->o->frame_timeout_s * 1000000000ull;
	const struct fb_stats *st = w->st;
	const struct fb_seg *seg = w->seg;

	if (st->claimed != w->stall_claimed || st->emitted != w->stall_emitted ||
	    !claimable(st, &seg->geom) || st->producers == 0 || !w->stall_since_ns) {
		w->stall_claimed = st->claimed;
		w->stall_emitted = st->emitted;
		w->stall_since_ns = now;
		return false;
	}
	if (now <= w->stall_since_ns || now - w->stall_since_ns <= limit)
		return false;
	snprintf(cause, len, "frame %llu has waited --frame-timeout %u s in a free slot with no "
		 "producer claiming it (%s: attached, but not calling fb_claim()?)",
		 (unsigned long long)(seg->geom.first_frame + st->claimed), ch->o->frame_timeout_s,
		 ch->producer_label);
	return true;
}
