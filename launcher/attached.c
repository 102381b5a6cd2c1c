/*
 * attached — --source attach:CMD: the producers are CMD itself, a program
 * of the user's linked with libframebroker, started with the segment
 * descriptor in FB_FD.  It is supervised, reissued and replaced like
 * fb-producer, and held to what fb-producer promises by itself: how it may
 * exit, that it attaches and claims, that it leaves once the render is
 * over.
 */
#include "render.h"
#include "fb_stats.h"
#include "fb_args.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* attach:CMD: the producer is CMD itself, started like our programs (the
 * render's group, parent-death signal, the segment descriptor kept open)
 * and supervised, reissued and replaced exactly like fb-producer. */
int render_start_attached(struct render *r)
{
	pid_t pid = fb_spawn_cmd(r->o.src.argv[0], r->o.src.argv, r->attach_env, r->pgid,
				 r->seg_fd);

	if (pid < 0) {
		fb_err(PROG, "cannot start %s: %s", r->producer_label, strerror((int)-pid));
		return -1;
	}
	r->kids[r->nkids++] = (struct child){ .pid = pid, .role = ROLE_PRODUCER, .running = true,
					      .started_ns = fb_now_ns() };
	return 0;
}

/*
 * CMD's environment: ours, with FB_SEGMENT=/NAME and FB_FD=N, the segment
 * descriptor it inherits (what fb_attach(NULL, ...) reads: the descriptor,
 * because a producer started after a short render ended would find the
 * name already unlinked).  0 or -1.
 */
int render_attach_env(struct render *r)
{
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	r->attach_env = calloc(n + 3, sizeof(char *));
	if (!r->attach_env) {
		fb_err(PROG, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FB_SEGMENT=", 11) != 0 && strncmp(environ[i], "FB_FD=", 6) != 0)
			r->attach_env[k++] = environ[i];
	snprintf(r->env_segment, sizeof(r->env_segment), "FB_SEGMENT=%s", r->o.name);
	snprintf(r->env_fd, sizeof(r->env_fd), "FB_FD=%d", r->seg_fd);
	r->attach_env[k++] = r->env_segment;
	r->attach_env[k++] = r->env_fd;
	r->attach_env[k] = NULL;
	return 0;
}

/*
 * attach: a producer that is the user's program exited by itself, with
 * anything but 4 (give the frame back, replace me).  fb-producer's codes
 * are promises it keeps; a user's program may not: 0 with frames left (or
 * a program that is no producer at all: an exec: renderer given as attach:
 * reads EOF from /dev/null), 3 while the render runs, 1 or 2 without a
 * word — each would leave the render waiting for frames nobody renders, or
 * failing with no cause.  So each is judged here, and said.
 */
void render_attach_exited(struct render *r, struct child *k, int status)
{
	int code = WEXITSTATUS(status);
	char cause[FB_REASON_MAX + 64];

	if (r->stopping || r->encoder_ok || r->encoder_gone)
		return;
	if (code == FB_EXIT_OK && !fb_stats_frames_left(r->seg_fd, k->pid))
		return;
	if (code != FB_EXIT_OK && fb_stats_cause_fd(r->seg_fd, cause, sizeof(cause)))
		return; /* aborted indeed (by this program's fb_fail, say, before it
			 * exited 1 without a word): the recorded cause is said
			 * when the broker reports the abort */
	if (code == FB_EXIT_OK)
		fb_err(PROG, "%s (pid %d) exited 0 while frames remain: a producer exits 0 only "
		       "after fb_claim() returned 0 (exit 4 asks for a replacement)",
		       render_role_name(r, k->role), (int)k->pid);
	else if (code == FB_EXIT_ABORTED)
		fb_err(PROG, "%s (pid %d) exited 3 (\"aborted elsewhere\") but the render was not "
		       "aborted", render_role_name(r, k->role), (int)k->pid);
	else
		fb_err(PROG, "%s (pid %d) exited with status %d", render_role_name(r, k->role),
		       (int)k->pid, code);
	r->child_spoke = true;
	render_fail(r);
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

/*
 * attach: what the broker cannot see, because it supervises only producers
 * that registered and claims they hold: a program that never attaches
 * (killed after --frame-timeout and replaced, like a producer stuck in a
 * frame), producers that attached and let frames wait in free slots for
 * --frame-timeout without claiming (the render fails: replacing them would
 * not help), and one that lingers after the last frame (ended).  Reads the
 * status view (display counters, never trusted beyond these decisions).
 */
void render_watch_attached(struct render *r, uint64_t now, int *timeout)
{
	const struct fb_stats *st = r->status.st;
	uint64_t limit = (uint64_t)r->o.frame_timeout_s * 1000000000ull;

	if (!r->o.attach || !r->status.seg || r->stopping || r->encoder_gone)
		return;
	if (r->encoder_ok) {
		bool any = false;

		for (size_t i = 2; i < r->nkids; i++)
			any |= r->kids[i].role == ROLE_PRODUCER && r->kids[i].running;
		if (!any)
			return;
		if (!r->linger_deadline) {
			r->linger_deadline = now + ATTACH_LINGER_MS * 1000000ull;
		} else if (now >= r->linger_deadline) {
			for (size_t i = 2; i < r->nkids; i++) {
				struct child *k = &r->kids[i];

				if (k->role != ROLE_PRODUCER || !k->running)
					continue;
				if (!r->linger_termed)
					fb_warn(PROG, "%s (pid %d) still running %d s after the last frame "
						"was written; ending it", render_role_name(r, k->role), (int)k->pid,
						ATTACH_LINGER_MS / 1000);
				kill(k->pid, r->linger_termed ? SIGKILL : SIGTERM);
			}
			r->linger_termed = true;
			r->linger_deadline = now + ATTACH_LINGER_MS * 1000000ull;
		}
		*timeout = *timeout < 100 ? *timeout : 100;
		return;
	}
	fb_stats_read(r->status.seg, r->status.st);
	for (size_t i = 2; i < r->nkids; i++) {
		struct child *k = &r->kids[i];

		if (k->role != ROLE_PRODUCER || !k->running || k->attached)
			continue;
		k->attached = registered(st, k->pid);
		/* NOW was read before this tick's reap, which may have started
		 * K just now. */
		if (!k->attached && now > k->started_ns && now - k->started_ns > limit) {
			fb_warn(PROG, "%s (pid %d) has not attached within --frame-timeout %u s; killing it",
				render_role_name(r, k->role), (int)k->pid, r->o.frame_timeout_s);
			kill(k->pid, SIGKILL);
			k->attached = true; /* said once; its death is a crash like any */
		}
	}
	if (st->claimed != r->stall_claimed || st->emitted != r->stall_emitted ||
	    !claimable(st, &r->status.seg->geom) || st->producers == 0 || !r->stall_since_ns) {
		r->stall_claimed = st->claimed;
		r->stall_emitted = st->emitted;
		r->stall_since_ns = now;
	} else if (now > r->stall_since_ns && now - r->stall_since_ns > limit) {
		fb_err(PROG, "frame %llu has waited --frame-timeout %u s in a free slot with no "
		       "producer claiming it (%s: attached, but not calling fb_claim()?)",
		       (unsigned long long)(r->status.seg->geom.first_frame + st->claimed),
		       r->o.frame_timeout_s, r->producer_label);
		render_fail(r);
	}
}
