/*
 * supervise.c — fb-broker's supervision loop: one poll(2) over the
 * signalfd, the watcher thread's eventfd and a pidfd per watched worker,
 * with a timeout equal to the nearest deadline.  Deaths are events; hangs
 * are not (a stopped process sends nothing), so every pass also runs the
 * hang checks: claims past --frame-timeout, an encoder that emits nothing
 * while frames wait (--encoder-timeout), and the broker's own pauses,
 * which must not count against anyone.  The watch set is watch.c.
 */
#include "broker.h"
#include "fb_args.h"
#include "fb_proc.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Kill producers over --frame-timeout; return the poll timeout in ms until
 * the next deadline. */
static int enforce_timeouts(struct broker *b)
{
	struct fb_reissue late[16];
	uint64_t next, now = fb_now_ns();
	/* Claims that lived through a pause of the broker get their deadline
	 * moved by it (note_pause), until every such claim's has passed. */
	uint64_t ext = b->paused_ns && now < b->resumed_ns + b->frame_timeout_ns ? b->paused_ns : 0;
	ssize_t n = fb_ring_overdue(b->seg, b->frame_timeout_ns + ext, late, 16, &next);

	if (n < 0) {
		broker_lock_stuck(b);
		return 100;
	}
	for (ssize_t i = 0; i < n; i++) {
		size_t j;

		for (j = 0; j < b->nw && !(b->w[j].e.pid == late[i].owner &&
					    b->w[j].e.start == late[i].owner_start); j++)
			;
		if (j == b->nw) {
			/* Not a worker of ours.  A dead one's claim is swept
			 * below; a live one we may not kill: stop the render. */
			char why[FB_REASON_MAX];

			snprintf(why, sizeof(why),
				 "frame %llu is held past --frame-timeout by pid %d, which is not a registered producer",
				 (unsigned long long)fb_geom_frame(&b->seg->geom, late[i].frame),
				 (int)late[i].owner);
			if (fb_proc_alive(late[i].owner, late[i].owner_start) &&
			    fb_ring_abort(b->seg, why))
				fb_err(PROG, "%s", why);
			continue;
		}
		if (b->w[j].killed)
			continue;
		fb_warn(PROG, "frame %llu: producer %d held it over --frame-timeout %us; killing it",
		       (unsigned long long)fb_geom_frame(&b->seg->geom, late[i].frame),
		       (int)late[i].owner, b->frame_timeout_s);
		broker_kill(b, &b->w[j]);
	}
	if (n > 0)
		broker_on_death(b, &(struct fb_proc_entry){ .pid = 0, .role = FB_ROLE_PRODUCER });
	if (next == UINT64_MAX)
		return (int)(b->frame_timeout_ns / 1000000);
	now = fb_now_ns();
	return next <= now ? 0 : (int)((next - now) / 1000000) + 1;
}

/*
 * --encoder-timeout, the broker's half: an encoder that makes no progress
 * while frames wait for it — stopped (SIGSTOP, SIGTTOU), or looping — sends
 * no event, and the encoder's own timeout only covers an ffmpeg that reads
 * nothing.  Frames wait for the encoder when the slot of next_encode holds
 * that frame READY (it could take it) or ENCODING (it holds it: it is
 * pushing it to ffmpeg); a CLAIMED one waits for its producer instead,
 * which --frame-timeout covers.
 *
 * These words are read without the lock, word by word, as fb_stats.c does:
 * no ring call gives them to the broker (fb_ring.c is not the broker's),
 * and a stopped encoder may hold the lock.  They are hints: a misread can
 * only restart the count, and a kill needs the same answer on every look
 * for the whole timeout.  Someone scribbling them can at worst get the
 * render aborted, which any writer of the segment can do anyway.
 *
 * The stall is counted in looks at most FB_WATCHDOG_MS apart: a gap longer
 * than that means the broker itself was stopped (Ctrl-Z of the whole
 * render) or starved, and counts as one look, so `fg` never finds an
 * encoder "timed out" over the time everything was stopped.
 */
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)
#define FB_ENC_GRACE_NS (10ull * 1000000000ull)

static void check_encoder(struct broker *b)
{
	const struct fb_header *h = b->seg->hdr;
	const struct fb_geom *g = &b->seg->geom;
	uint64_t now = fb_now_ns(), dt = now - b->enc_looked_ns, e, limit;
	uint64_t timeout = (uint64_t)b->encoder_timeout_s * 1000000000ull;
	const struct fb_slot_meta *m;
	struct watched *enc = NULL;
	char why[FB_REASON_MAX];
	uint32_t st;
	bool stopped;
	char ps;

	b->enc_looked_ns = now;
	if (dt > 2ull * FB_WATCHDOG_MS * 1000000ull)
		dt = FB_WATCHDOG_MS * 1000000ull;
	e = PEEK(h->next_encode);
	if (e >= g->total_frames) {
		b->enc_stall_ns = 0;
		return;
	}
	m = &h->slots[e % g->slot_count];
	st = PEEK(m->state);
	if (e != b->enc_seen || PEEK(m->frame) != e ||
	    (st != FB_SLOT_READY && st != FB_SLOT_ENCODING) || PEEK(h->next_encode) != e) {
		b->enc_seen = e;
		b->enc_stall_ns = 0;
		return;
	}
	b->enc_stall_ns += dt;
	for (size_t i = 0; i < b->nw && !enc; i++)
		if (b->w[i].e.role == FB_ROLE_ENCODER)
			enc = &b->w[i];
	if (!enc || enc->killed)
		return; /* no encoder of ours (yet): its death aborts anyway */
	ps = fb_proc_state(enc->e.pid);
	stopped = ps == 'T' || ps == 't';
	/* A running encoder whose ffmpeg reads nothing says so itself at
	 * --encoder-timeout, naming ffmpeg and killing it (the broker does not
	 * know ffmpeg): give it ample time to — its clock may start later
	 * than ours (it filled ffmpeg's pipe first).  Only an encoder that
	 * runs and still does nothing for twice that, plus 10 s, is killed
	 * here: a backstop. */
	limit = stopped ? timeout : 2 * timeout + FB_ENC_GRACE_NS;
	if (b->enc_stall_ns < limit)
		return;
	snprintf(why, sizeof(why),
		 "fb-encoder (pid %d) emitted nothing for %u s while frame %llu waited for it "
		 "(--encoder-timeout)%s; killed it",
		 (int)enc->e.pid, (unsigned)(b->enc_stall_ns / 1000000000ull),
		 (unsigned long long)fb_geom_frame(g, e),
		 stopped ? "; it was stopped (state T)" : "; it was running, not stopped");
	if (fb_ring_abort(b->seg, why))
		fb_err(PROG, "%s", why);
	broker_kill(b, enc);
}

/*
 * Was the broker itself stopped (Ctrl-Z stops the whole render; `fg`
 * resumes it)?  Its passes are at most a poll timeout plus a few lock
 * waits apart; a longer gap is a pause, and the clock went on meanwhile:
 * without this, every claim would be past --frame-timeout on resume and
 * every producer killed for a hang that was only the user's Ctrl-Z.
 * Claims that lived through the pause get its length added to their
 * deadline (enforce_timeouts).  A broker starved on a loaded machine
 * counts as paused too, which only makes it more lenient.
 */
#define FB_PAUSE_SLACK_MS 1000

static void note_pause(struct broker *b)
{
	uint64_t now = fb_now_ns(), expect;

	expect = (uint64_t)(b->pass_timeout_ms + FB_PAUSE_SLACK_MS) * 1000000ull;
	if (b->pass_ns && now - b->pass_ns > expect) {
		uint64_t gap = now - b->pass_ns - (uint64_t)b->pass_timeout_ms * 1000000ull;

		/* An earlier pause whose claims may still be live adds up. */
		if (b->paused_ns && now < b->resumed_ns + b->frame_timeout_ns)
			b->paused_ns += gap;
		else
			b->paused_ns = gap;
		b->resumed_ns = now;
		fb_debug(PROG, "resumed after a pause of %llu ms: frame deadlines moved by it",
			 (unsigned long long)(gap / 1000000));
	}
	b->pass_ns = now;
}

/* Supervise until the render ends or a signal arrives; return the exit code. */
int broker_supervise(struct broker *b, int sfd, int efd)
{
	struct pollfd *pfd = b->pfd;

	for (;;) {
		int timeout, rc;

		if (b->retry) { /* after a lock timeout: redo what was skipped */
			b->retry = false;
			broker_watch_new(b);
		}
		/* Deaths are events; hangs are not (a stopped process sends
		 * nothing), so hang checks — frame deadlines and a lock held
		 * too long — also run at least once a second. */
		note_pause(b);
		timeout = enforce_timeouts(b);
		check_encoder(b);
		if (timeout > FB_WATCHDOG_MS)
			timeout = FB_WATCHDOG_MS;
		if (b->retry && timeout > 100)
			timeout = 100;
		b->pass_timeout_ms = timeout;

		pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		pfd[1] = (struct pollfd){ .fd = efd, .events = POLLIN };
		for (size_t i = 0; i < b->nw; i++)
			pfd[2 + i] = (struct pollfd){ .fd = b->w[i].fd, .events = POLLIN };
		rc = poll(pfd, 2 + b->nw, timeout);
		if (rc < 0) {
			if (errno == EINTR)
				continue;
			fb_err(PROG, "poll: %s", strerror(errno));
			fb_ring_abort(b->seg, "broker: poll failed");
			return FB_EXIT_RUNTIME;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			char why[64];

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			snprintf(why, sizeof(why), "broker stopped by signal %u", si.ssi_signo);
			fb_ring_abort(b->seg, why);
			return 128 + (int)si.ssi_signo;
		}
		/* Deaths first (from the end, as unwatch moves the last entry).
		 * Entries without a pidfd (fd -1, ignored by poll) are checked
		 * through /proc on every pass. */
		for (size_t i = b->nw; i-- > 0;)
			if (b->w[i].fd >= 0 ? pfd[2 + i].revents != 0
					    : !fb_proc_alive(b->w[i].e.pid, b->w[i].e.start))
				broker_unwatch(b, i);
		if (pfd[1].revents & POLLIN) {
			uint64_t cnt;

			if (read(efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
				fb_err(PROG, "eventfd read: %s", strerror(errno));
			broker_watch_new(b);
		}
		if (fb_ring_state(b->seg) != FB_SEG_RUNNING)
			return fb_ring_state(b->seg) == FB_SEG_DONE ? FB_EXIT_OK : FB_EXIT_ABORTED;
	}
}
