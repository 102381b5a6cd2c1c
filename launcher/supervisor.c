/*
 * supervisor — fb-render's one loop (supervisor.h): the loop, each phase's
 * step, stopping, signals, and acting on what the modules below report.
 * One file of some 370 lines rather than a few smaller ones, because every
 * step may end the render (begin_stop) and only this file may: split, the
 * phases would have to call back into the loop that calls them.
 */
#include "supervisor.h"
#include "exits.h"
#include "signals.h"
#include "fb_args.h"
#include "fb_proc.h"

#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define NOW (-1) /* a step's answer: step again at once, without waiting */
#define MS 1000000ull

/* A child someone stopped (SIGSTOP) cannot end: continue it, so it sees
 * the abort or the SIGTERM now, not at the grace's SIGKILL.  Only the
 * stopped ones (state T): a SIGCONT to the whole group, under ASan, left
 * the broker deaf to its SIGTERM in 3 of 60 stops of a render waiting
 * for a FIFO reader (cause not found; none of ours handles SIGCONT). */
static void continue_stopped(const struct children *ch)
{
	for (size_t i = 0; i < ch->nkids; i++) {
		const struct child *k = &ch->kids[i];

		if (k->running && k->pid > 0 && fb_proc_state(k->pid) == 'T')
			kill(k->pid, SIGCONT);
	}
}

/* Ask everything to stop: the broker aborts the segment, which wakes and
 * stops producers and encoder (the encoder closes ffmpeg's input so the file
 * written so far is finished).  Without a broker, signal the group. */
static void begin_stop(struct render *r)
{
	struct child *b = children_broker(&r->ch);

	if (r->stopping)
		return;
	r->stopping = true;
	r->stop_deadline = fb_now_ns() + STOP_GRACE_MS * MS;
	if (b && b->running)
		kill(b->pid, SIGTERM);
	else if (r->ch.pgid > 0)
		killpg(r->ch.pgid, SIGTERM);
	continue_stopped(&r->ch);
}

/* The render fails, for CAUSE (said as SAY says): end it. */
static void fail(struct render *r, enum outcome_say say, const char *cause)
{
	outcome_set(&r->out, FB_EXIT_RUNTIME, say, "%s", cause);
	begin_stop(r);
}

/* A signal taken from the signalfd. */
static void on_signal(struct render *r, int sig)
{
	struct child *b = children_broker(&r->ch);
	bool first;

	switch (sig) {
	case SIGTSTP: /* Ctrl-Z */
		signals_job_stop(r->ch.pgid, &r->tree_stopped, &r->status);
		watch_reset(&r->bw);
		break;
	case SIGCONT: /* we were stopped by something else: so was nobody else, or
		       * the group was, and now goes on with us */
		if (r->ch.pgid > 0)
			killpg(r->ch.pgid, SIGCONT);
		watch_reset(&r->bw);
		break;
	case SIGCHLD: /* the reap will tell */
		break;
	default: /* SIGINT, SIGTERM, SIGHUP and every other signal whose
		  * default would end us (signals.c): a stop */
		first = outcome_stop(&r->out, sig);
		if (!first && r->ch.pgid > 0) /* asked twice: now */
			killpg(r->ch.pgid, SIGKILL);
		begin_stop(r);
		/* A broker that was not ready and is being ended anyway. */
		if (first && r->phase == PHASE_ABANDON)
			kill(b->pid, SIGKILL);
		break;
	}
}

/* One look at the broker (watch.h).  Stopped for good: one line, and the
 * render ends as after a failure (the broker is continued, so it can act
 * on the SIGTERM); stopped again while it ends, the group is SIGKILLed. */
static void look_at_broker(struct render *r)
{
	struct child *b = children_broker(&r->ch);
	char cause[128];

	switch (watch_broker(&r->bw, b ? b->pid : 0, b && b->running, fb_now_ns())) {
	case WATCH_OK:
		break;
	case WATCH_STILL_STOPPED:
		killpg(r->ch.pgid, SIGKILL);
		break;
	case WATCH_STOPPED:
		status_break_line(&r->status);
		snprintf(cause, sizeof(cause), "fb-broker (pid %d) is stopped; nobody supervises the render",
			 (int)b->pid);
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY, "%s", cause);
		if (r->stopping)
			kill(b->pid, SIGTERM);
		begin_stop(r);
		killpg(r->ch.pgid, SIGCONT);
		break;
	}
}

/* Before ready: make sure the broker ends.  It was asked to stop (SIGTERM,
 * and SIGCONT in case it is stopped), or it is leaving by itself; past
 * READY_GRACE_MS, or at a stop request, it is SIGKILLed. */
static int to_abandon(struct render *r)
{
	pid_t pid = children_broker(&r->ch)->pid;

	close(r->ready_fd);
	r->ready_fd = -1;
	kill(pid, SIGTERM); /* harmless if it is already leaving */
	kill(pid, SIGCONT);
	r->broker_kill_at = fb_now_ns() + READY_GRACE_MS * MS;
	r->phase = PHASE_ABANDON;
	return NOW;
}

/* The segment exists: start the encoder and the producers. */
static int to_run(struct render *r)
{
	char cause[OUTCOME_CAUSE_MAX];

	close(r->ready_fd);
	r->ready_fd = -1;
	if (children_start_workers(&r->ch, cause, sizeof(cause)))
		fail(r, OUTCOME_SAY, cause);
	else if (r->o->attach &&
		 attach_watch_start(&r->aw, r->ch.seg_fd, r->o->name, cause, sizeof(cause)))
		fail(r, OUTCOME_SAY, cause);
	status_start(&r->status, r->ch.seg_fd, r->o->name, r->progress);
	r->phase = PHASE_RUN;
	return NOW;
}

/* Waiting for the broker's "ready": it will not come if the broker closes
 * the pipe, we are asked to stop, the broker stays stopped, or
 * READY_TIMEOUT_MS passes.  Signals are taken all along: a broker busy
 * reserving gigabytes, or stopped, must not make Ctrl-C wait. */
static int step_ready(struct render *r)
{
	if (r->stopping)
		return to_abandon(r);
	if (r->ready_readable) {
		r->ready_readable = false;
		switch (children_read_ready(r->ready_fd, r->ready_buf, &r->ready_got)) {
		case READY_YES:
			return to_run(r);
		case READY_NO:
			return to_abandon(r);
		case READY_WAIT:
			return STATUS_TICK_MS;
		}
	}
	look_at_broker(r);
	if (r->stopping)
		return to_abandon(r);
	if (fb_now_ns() >= r->ready_deadline) {
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY,
			    "fb-broker (pid %d) did not have segment %s ready within %d s",
			    (int)children_broker(&r->ch)->pid, r->o->name, READY_TIMEOUT_MS / 1000);
		begin_stop(r);
		return to_abandon(r);
	}
	return STATUS_TICK_MS;
}

static int step_abandon(struct render *r)
{
	struct child *b = children_broker(&r->ch);
	pid_t got = waitpid(b->pid, &r->broker_status, WNOHANG);
	bool error = got < 0 && errno != EINTR;

	if (error) {
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY, "waitpid: %s", strerror(errno));
		r->broker_status = 1 << 8; /* "exited with status 1" */
	}
	if (got == b->pid || error) {
		b->running = false;
		r->phase = PHASE_DRAIN;
		return NOW;
	}
	if (fb_now_ns() >= r->broker_kill_at) {
		kill(b->pid, SIGKILL);
		r->broker_kill_at = UINT64_MAX;
	}
	return 50;
}

/* The broker gave up (or was killed, or we were asked to stop, or it
 * stopped) before the segment was ready: why, unless a cause is known. */
static void broker_not_ready(struct render *r)
{
	int status = r->broker_status;
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;

	if (outcome_failed(&r->out))
		return;
	if (code == FB_EXIT_USAGE || code == FB_EXIT_RUNTIME)
		outcome_set(&r->out, code, OUTCOME_SAID, "fb-broker exited with status %d", code);
	else
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY, "fb-broker failed to start");
}

/* Without a broker, encoder or producer left: end whatever else is left of
 * the tree (a broker-to-be that forked, say) and reap it all. */
static int step_drain(struct render *r)
{
	struct child *k;
	int status;
	enum reap got;

	while ((got = children_reap(&r->ch, &k, &status)) == REAP_OURS || got == REAP_OTHER)
		;
	if (got == REAP_ALL_GONE) {
		fb_orphans_free(&r->orphans);
		broker_not_ready(r);
		r->phase = PHASE_OVER;
		return NOW;
	}
	fb_orphans_step(&r->orphans, fb_now_ns(), ORPHAN_GRACE_MS * MS);
	return 50;
}

/* Act on the verdict on child K's exit (exits.h). */
static void child_exited(struct render *r, struct child *k, int status)
{
	struct exit_facts f;
	struct verdict v;
	char cause[OUTCOME_CAUSE_MAX];

	/* A child that failed or was killed has said (or fb-render is about
	 * to say) something: end the status line first.  Not for a clean
	 * exit, nor for an orphan: each break makes the next tick draw the
	 * line anew below, so the final line would be printed once per
	 * exiting child. */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		status_break_line(&r->status);
	if (k->role == ROLE_ENCODER && WIFEXITED(status) && WEXITSTATUS(status) == FB_EXIT_OK) {
		r->encoder = ENCODER_DONE;
	} else if (k->role == ROLE_ENCODER) {
		/* Without the encoder no frame can be emitted any more, so the
		 * producers' work is lost either way: end them now rather than
		 * wait for one asleep in a 20 s frame or blocked on a hung
		 * renderer to notice the abort. */
		r->encoder = ENCODER_GONE;
		children_signal_producers(&r->ch, SIGTERM);
	}
	f = (struct exit_facts){ .stopping = r->stopping, .aborted = r->aborted,
				 .killed = r->stop_deadline == UINT64_MAX, .said = r->out.said,
				 .encoder_done = r->encoder == ENCODER_DONE,
				 .encoder_gone = r->encoder == ENCODER_GONE };
	exit_judge(&r->ch, &f, k, status, &v);
	if (v.child_said)
		outcome_said(&r->out);
	switch (v.act) {
	case EXIT_NOTHING:
		break;
	case EXIT_ABORTED: /* workers normally see it and leave; one stuck on
			    * the ring lock would not: arm the deadline that
			    * ends in a SIGKILL of the group */
		r->stopping = r->aborted = true;
		r->stop_deadline = fb_now_ns() + STOP_GRACE_MS * MS;
		break;
	case EXIT_REPLACE:
		if (children_replace(&r->ch, k, v.how, cause, sizeof(cause)) == REPLACE_FAILED)
			fail(r, OUTCOME_SAY, cause);
		break;
	case EXIT_FAIL:
		fail(r, v.say, v.cause);
		break;
	case EXIT_CAUSE:
		outcome_set(&r->out, FB_EXIT_RUNTIME, v.say, "%s", v.cause);
		break;
	}
}

/* attach: what the broker cannot see (attached.h), through the watch's
 * own view of the segment; its verdicts are carried out here. */
static void watch_attached(struct render *r, uint64_t now)
{
	char cause[OUTCOME_CAUSE_MAX];
	struct child *k;

	if (!r->o->attach || !r->aw.seg || r->stopping || r->encoder != ENCODER_RUNNING)
		return;
	attach_watch_look(&r->aw);
	while ((k = attach_watch_unattached(&r->aw, &r->ch, now)))
		kill(k->pid, SIGKILL);
	if (attach_watch_stalled(&r->aw, &r->ch, now, cause, sizeof(cause)))
		fail(r, OUTCOME_SAY, cause);
}

/* Every frame is written (the encoder finished) and producers still run:
 * bounded (attached.h, ATTACH_LINGER_MS), whatever the source. */
static void end_lingering(struct render *r, uint64_t now, int *timeout)
{
	int sig;

	if (r->stopping || r->encoder != ENCODER_DONE)
		return;
	if (r->aw.seg)
		attach_watch_look(&r->aw); /* whose frames: a lingerer or a late starter */
	sig = attach_watch_linger(&r->aw, &r->ch, now, timeout);
	if (sig) {
		children_signal_producers(&r->ch, sig);
		continue_stopped(&r->ch); /* a stopped one takes its SIGTERM now */
	}
}

/* Every frame is in the segments: fb-stitch joins them into -o. */
static int to_join(struct render *r)
{
	char cause[OUTCOME_CAUSE_MAX];

	fb_orphans_free(&r->orphans);
	memset(&r->orphans, 0, sizeof(r->orphans));
	r->phase = PHASE_OVER;
	if (join_start(&r->join, r->ch.bindir, r->work, r->o->sink.output, cause, sizeof(cause))) {
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY, "%s", cause);
		return NOW;
	}
	r->ch.pgid = r->join.pid; /* its group: a stop or Ctrl-Z reaches its ffmpeg */
	r->phase = PHASE_JOIN;
	return NOW;
}

/* fb-stitch has exited (STATUS): joined, or the render fails with its
 * last line.  A stop request outranks it anyway (outcome.h). */
static void joined(struct render *r, int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		r->joined = true;
		return;
	}
	join_read(&r->join);
	if (r->stopping) /* we ended it: the stop is the cause, and says itself */
		return;
	if (r->join.last[0])
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY, "joining the segments failed: %s",
			    r->join.last);
	else if (WIFEXITED(status))
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY,
			    "joining the segments failed: fb-stitch exited with status %d",
			    WEXITSTATUS(status));
	else
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY,
			    "joining the segments failed: fb-stitch was killed by signal %d",
			    WTERMSIG(status));
}

/* Waiting for fb-stitch, its stderr read as it comes; once it is reaped,
 * what it left running (an ffmpeg, adopted) is ended as orphans are. */
static int step_join(struct render *r)
{
	uint64_t now = fb_now_ns();
	int status;
	pid_t pid;

	if (r->join.readable) {
		r->join.readable = false;
		join_read(&r->join);
	}
	if (r->stopping && now >= r->stop_deadline && r->stop_deadline != UINT64_MAX) {
		killpg(r->ch.pgid, SIGKILL);
		r->stop_deadline = UINT64_MAX;
	}
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		if (pid == r->join.pid) {
			r->join.pid = -pid; /* reaped */
			joined(r, status);
		}
	if (pid < 0 && errno == ECHILD) {
		if (r->join.err_fd >= 0)
			join_read(&r->join);
		r->phase = PHASE_OVER;
		return NOW;
	}
	if (r->join.pid < 0)
		fb_orphans_step(&r->orphans, now, ORPHAN_GRACE_MS * MS);
	return r->join.pid < 0 ? 50 : STATUS_TICK_MS;
}

/* Supervising: react to child exits and stop requests until no child is
 * left.  Once broker, encoder and producers are all reaped, any child left
 * is an orphan we adopted (a renderer's helper, in whatever session or
 * group): it is ended (fb_orphans_step) rather than waited for. */
static int step_run(struct render *r)
{
	uint64_t now = fb_now_ns();
	int timeout = STATUS_TICK_MS, status;
	struct child *k;
	enum reap got;

	if (r->stopping && now >= r->stop_deadline) {
		killpg(r->ch.pgid, SIGKILL);
		r->stop_deadline = UINT64_MAX;
	} else if (r->stopping && r->stop_deadline != UINT64_MAX &&
		   r->stop_deadline - now < STATUS_TICK_MS * MS) {
		timeout = (int)((r->stop_deadline - now) / MS) + 1;
	}
	while ((got = children_reap(&r->ch, &k, &status)) == REAP_OURS || got == REAP_OTHER)
		if (got == REAP_OURS)
			child_exited(r, k, status);
	if (got == REAP_ALL_GONE) {
		r->phase = PHASE_OVER;
		return r->work && !outcome_failed(&r->out) && !r->stopping ? to_join(r) : NOW;
	}
	if (children_running(&r->ch)) {
		look_at_broker(r);
		watch_attached(r, now);
		end_lingering(r, now, &timeout);
	} else {
		fb_orphans_step(&r->orphans, now, ORPHAN_GRACE_MS * MS);
		timeout = 50;
	}
	/* The moment the render is known to fail (or is stopped), the line
	 * goes: the cause is the last thing on the terminal. */
	if (r->stopping || outcome_failed(&r->out))
		status_quiet(&r->status);
	status_tick(&r->status, false);
	return timeout;
}

void supervise(struct render *r)
{
	char cause[OUTCOME_CAUSE_MAX];
	int timeout = STATUS_TICK_MS;

	if (r->work && r->work->start >= r->work->end) /* a resume with nothing to render */
		timeout = to_join(r);
	else if (children_start_broker(&r->ch, &r->ready_fd, cause, sizeof(cause))) {
		outcome_set(&r->out, FB_EXIT_RUNTIME, OUTCOME_SAY, "%s", cause);
		r->phase = PHASE_OVER;
		return;
	} else {
		r->phase = PHASE_READY;
		r->ready_deadline = fb_now_ns() + READY_TIMEOUT_MS * MS;
	}
	for (;;) {
		if (timeout != NOW) {
			bool ready = r->phase == PHASE_READY, join = r->phase == PHASE_JOIN;
			int sig = signals_wait(r->sfd, ready ? r->ready_fd : join ? r->join.err_fd : -1,
					       timeout, ready  ? &r->ready_readable
							: join ? &r->join.readable
							       : NULL);

			/* Reaping what is left, a stop request changes nothing. */
			if (sig && r->phase != PHASE_DRAIN)
				on_signal(r, sig);
		}
		switch (r->phase) {
		case PHASE_READY:
			timeout = step_ready(r);
			break;
		case PHASE_ABANDON:
			timeout = step_abandon(r);
			break;
		case PHASE_DRAIN:
			timeout = step_drain(r);
			break;
		case PHASE_RUN:
			timeout = step_run(r);
			break;
		case PHASE_JOIN:
			timeout = step_join(r);
			break;
		case PHASE_OVER:
			return;
		}
	}
}

void supervise_end(struct render *r)
{
	fb_orphans_free(&r->orphans);
	fb_tree_free(&r->tree_stopped);
	if (r->stopping || outcome_failed(&r->out))
		status_quiet(&r->status); /* no final line over the cause */
	status_tick(&r->status, true);
	status_stop(&r->status);
	attach_watch_stop(&r->aw);
}
