/*
 * fb-broker — creates, owns and supervises the shared frame segment.
 *
 * It creates the segment exclusively (replacing a stale one whose broker is
 * dead), reports readiness, then supervises until the render ends (the
 * encoder marks it DONE, or anyone ABORTs it) or a signal asks it to stop;
 * on every path it unlinks the segment before it exits.
 *
 * Supervision is event driven, one poll(2) over:
 *   - a signalfd (SIGINT/SIGTERM/SIGHUP),
 *   - an eventfd fed by a thread asleep on the segment's broker semaphore
 *     (posted when a worker registers or the life cycle changes),
 *   - a pidfd per registered worker: readable the moment it dies,
 * with a timeout equal to the nearest --frame-timeout deadline.  A dead
 * producer's claimed frames are reissued; a hung one is killed first; a
 * dead encoder aborts the render.
 *
 * Over 500 lines: one process's whole life, whose parts share the watch
 * set and the view of the segment (creation and stale replacement,
 * readiness, the supervision loop, verification of whom it signals).  The
 * part to move out first, should it grow, is creation with stale
 * replacement (replace_stale, refused, create_segment), which shares the
 * least.
 */
#include "fb_cli.h"
#include "fb_params.h"
#include "fb_proc.h"
#include "fb_ring.h"
#include "fb_args.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define PROG "fb-broker"
#define FB_WATCHDOG_MS 1000
#define FB_STUCK_WAITS 3 /* timed-out lock waits in a row before a running holder counts as stuck */

struct broker_opts {
	struct fb_params params;
	char name[FB_NAME_MAX + 1];
	int ready_fd; /* -1: none */
	uint32_t frame_timeout_s;
	uint32_t encoder_timeout_s;
};

struct watcher {
	struct fb_seg *seg;
	int efd;
	atomic_int stop; /* private: the shared state word could be rewritten */
};

/* A registered worker the broker holds a pidfd on (fd -1: no pidfds on
 * this system), verified at registration to be a process that maps this
 * very segment (maps_segment): only these are ever signalled. */
struct watched {
	struct fb_proc_entry e;
	int fd;
	bool killed; /* SIGKILLed for a timeout; death not yet seen */
};

struct broker {
	struct fb_seg *seg;
	uint64_t frame_timeout_ns;
	uint32_t frame_timeout_s;
	struct watched w[FB_MAX_PROCS];
	size_t nw;
	/* Registry entries naming a live process that does not map the
	 * segment (scribbled, or a worker we cannot inspect): never watched,
	 * never signalled; remembered so each is judged and reported once. */
	struct fb_proc_entry rejected[FB_MAX_PROCS];
	size_t nrejected;
	uint32_t encoder_timeout_s;
	/* Encoder progress (check_encoder): the next_encode last seen, how
	 * long it has stood still while frames waited for the encoder, and
	 * when we last looked. */
	uint64_t enc_seen, enc_stall_ns, enc_looked_ns;
	/* The broker's own pauses (Ctrl-Z of the whole render, SIGSTOP): how
	 * long the last ones lasted and when it resumed (note_pause). */
	uint64_t paused_ns, resumed_ns, pass_ns;
	int pass_timeout_ms;
	bool retry; /* a call timed out on the ring lock: look again soon */
	int32_t stuck_owner; /* who held the lock through the last timed-out wait */
	unsigned stuck_count; /* ...and through how many in a row */
	/* scratch space, here rather than on the stack: */
	struct fb_proc_entry cur[FB_MAX_PROCS];
	struct fb_proc_entry cur2[FB_MAX_PROCS]; /* a second look (still_registered) */
	struct pollfd pfd[2 + FB_MAX_PROCS];
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " --name /SEGMENT [--size WxH] [--pix-fmt FMT] [--fps N]\n"
		"                 [--frames N] [--range A:B] [--slots S] [--frame-format raw|png|jpeg]\n"
		"                 [--slot-bytes N] [--ready-fd FD] [--frame-timeout SEC]\n"
		"                 [--encoder-timeout SEC]\n"
		"Create the shared frame segment SEGMENT, own it for the render and unlink it\n"
		"at the end.  Defaults: 1280x720 rgba, 30 fps, 300 frames, 8 slots, raw frames.\n"
		"--range A:B: the ring carries frames A..B-1 of the --frames N render (a chunk\n"
		"for fb-stitch; producers draw the frame's number in the whole render).\n"
		"--frame-format png|jpeg: each frame is one encoded image of at most\n"
		"--slot-bytes bytes (default: room for any PNG of the raw frame).\n"
		"--ready-fd FD: write \"ready\\n\" to FD (then close it) once the segment exists.\n"
		"--frame-timeout SEC: kill a producer that holds a frame longer (default 60);\n"
		"its frame is reissued.  A dead producer's frame is reissued at once.\n"
		"--encoder-timeout SEC: kill the encoder and abort the render when frames wait\n"
		"for it and it emits none for this long if it is stopped (twice as long plus\n"
		"10 s if it runs: its own ffmpeg timeout speaks first; default 600).\n"
		"An existing segment whose broker is dead is replaced; a live one is refused.\n"
		"--log-level L: quiet, error, warning, info (default) or debug; --version;\n"
		"--help: this text.\n"
		"Exit: 0 render done, 1 runtime error, 2 usage error, 3 render aborted,\n"
		"128+N stopped by signal N.\n");
}

static int parse_args(int argc, char **argv, struct broker_opts *o)
{
	static const struct option own[] = {
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "frame-timeout", required_argument, NULL, 't' },
		{ "encoder-timeout", required_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_cli cli = { .prog = PROG, .usage = usage, .own = own,
			      .groups = FB_OPTS_NAME | FB_OPTS_PARAMS, .name = o->name,
			      .params = &o->params };
	uint64_t v;
	int c;

	fb_params_default(&o->params);
	o->name[0] = 0;
	o->ready_fd = -1;
	o->frame_timeout_s = 60;
	o->encoder_timeout_s = 600;
	while ((c = fb_cli_next(&cli, argc, argv)) > 0) {
		const char *opt = c == 'r' ? "ready-fd" : c == 't' ? "frame-timeout" : "encoder-timeout";

		if (fb_opt_u64(PROG, opt, cli.arg, c == 'r' ? 0 : 1, c == 'r' ? 1 << 20 : 86400, &v))
			return -1;
		if (c == 'r')
			o->ready_fd = (int)v;
		else
			*(c == 't' ? &o->frame_timeout_s : &o->encoder_timeout_s) = (uint32_t)v;
	}
	if (c < 0 || fb_cli_end(&cli, argc, argv, NULL, NULL))
		return -1;
	if (!o->name[0]) {
		fb_err(PROG, "--name is required: the segment to create, e.g. --name /my-render");
		return -1;
	}
	return 0;
}

/* Thread: turn life-cycle changes into eventfd wake-ups for poll(). */
static void *watch_state(void *arg)
{
	struct watcher *w = arg;
	uint64_t one = 1;

	while (!atomic_load(&w->stop)) {
		if (fb_ring_broker_wait(w->seg, 1000) &&
		    write(w->efd, &one, sizeof(one)) < 0)
			fb_err(PROG, "eventfd write: %s", strerror(errno));
	}
	return NULL;
}

static int signal_fd(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGHUP);
	/* Blocked before the thread starts, so only signalfd ever sees them. */
	if (pthread_sigmask(SIG_BLOCK, set, NULL))
		return -1;
	return signalfd(-1, set, SFD_CLOEXEC);
}

/*
 * Does process PID map the segment (device DEV, inode INO)?  Every worker
 * maps it before it registers, and an innocent process named by a
 * scribbled registry entry does not: this is what makes a pid from the
 * segment a worker the broker may supervise and, if it hangs, kill.  A
 * /proc/PID/maps we cannot read (another user's process, out of
 * descriptors) proves nothing, so it counts as "no".
 */
enum maps { MAPS_YES, MAPS_NO, MAPS_NONE };

/* Does PID map the object (DEV, INO)?  MAPS_NONE: its maps are readable
 * and empty — a process past exit_mm() on its way out (a worker that has
 * just finished), or a kernel thread. */
static enum maps maps_of(pid_t pid, uint64_t dev, uint64_t ino)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	bool found = false, any = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return MAPS_NO;
	while (!found && getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		unsigned long long i;

		any = true;
		/* start-end perms offset maj:min inode path */
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &i) == 3)
			found = i == ino && makedev(maj, min) == (dev_t)dev;
	}
	free(line);
	fclose(f);
	return found ? MAPS_YES : any ? MAPS_NO : MAPS_NONE;
}

static bool maps_segment(pid_t pid, uint64_t dev, uint64_t ino)
{
	return maps_of(pid, dev, ino) == MAPS_YES;
}

/* SIGKILL watched worker W: through its pidfd, or — without pidfds — by
 * pid, only after re-checking that this pid is still the process we
 * verified (start time) and still maps the segment.  (Without pidfds a
 * pid could in theory be reused between that check and kill(); pidfds
 * close that race, and every kernel since 5.3 has them.) */
static void kill_worker(struct broker *b, struct watched *w)
{
	int rc = 0;

	if (w->fd >= 0)
		rc = (int)syscall(SYS_pidfd_send_signal, w->fd, SIGKILL, NULL, 0);
	else if (fb_proc_alive(w->e.pid, w->e.start) &&
		 maps_segment(w->e.pid, b->seg->dev, b->seg->ino))
		rc = kill(w->e.pid, SIGKILL);
	if (rc < 0 && errno != ESRCH) {
		fb_warn(PROG, "cannot kill %d: %s; will retry", (int)w->e.pid, strerror(errno));
		return;
	}
	w->killed = true;
}

/*
 * A broker-side call gave up on the ring lock: somebody has held it far
 * longer than any critical section takes — a worker stopped (SIGSTOP) or
 * frozen inside one.  Kill it; its death hands the lock on (robust mutex)
 * and is then swept like any other.
 */
static void lock_stuck(struct broker *b)
{
	int32_t owner = fb_ring_lock_owner(b->seg);
	char why[FB_REASON_MAX];
	char st;

	b->retry = true;
	/* Only a holder that held it through the whole wait, and is stopped
	 * — or has held it through FB_STUCK_WAITS waits in a row, far beyond
	 * any preemption — is stuck.  A busy lock changing hands, or a holder
	 * merely descheduled on an overloaded machine, is not. */
	if (owner == 0 || owner != b->seg->lock_owner_before) {
		b->stuck_count = 0;
		return;
	}
	b->stuck_count = owner == b->stuck_owner ? b->stuck_count + 1 : 1;
	b->stuck_owner = owner;
	st = fb_proc_state(owner);
	if (st != 'T' && st != 't' && b->stuck_count < FB_STUCK_WAITS)
		return;
	for (size_t j = 0; j < b->nw; j++) {
		if (b->w[j].e.pid != owner)
			continue;
		if (!b->w[j].killed) {
			fb_warn(PROG, "%s %d has held the ring lock over %d ms (stopped?); killing it",
			       b->w[j].e.role == FB_ROLE_ENCODER ? "encoder" : "producer",
			       (int)owner, FB_BROKER_LOCK_MS);
			kill_worker(b, &b->w[j]);
		}
		return;
	}
	/* Not a worker of ours: nothing we may kill.  Stop the render. */
	snprintf(why, sizeof(why), "ring lock held by pid %d, which is not a registered worker",
		 (int)owner);
	if (fb_ring_abort(b->seg, why))
		fb_err(PROG, "%s", why);
}

/* A watched worker died (or its pid no longer names it). */
static void on_death(struct broker *b, const struct fb_proc_entry *e)
{
	struct fb_reissue r[16];
	char why[FB_REASON_MAX];
	ssize_t n;

	if (fb_ring_state(b->seg) != FB_SEG_RUNNING)
		return; /* nothing left to save */
	if (e->role == FB_ROLE_ENCODER) {
		if (fb_ring_state(b->seg) == FB_SEG_RUNNING) {
			snprintf(why, sizeof(why), "encoder (pid %d) died", (int)e->pid);
			fb_ring_abort(b->seg, why);
		}
		return;
	}
	n = fb_ring_sweep(b->seg, e->pid ? e : NULL, r, 16);
	if (n == -ETIMEDOUT) {
		lock_stuck(b); /* the entry stays registered: swept on retry */
		return;
	}
	for (ssize_t i = 0; i < n && i < 16; i++)
		fb_warn(PROG, "producer %d died holding frame %llu; frame reissued",
		       (int)r[i].owner, (unsigned long long)fb_geom_frame(&b->seg->geom, r[i].frame));
}

static void unwatch(struct broker *b, size_t i)
{
	struct fb_proc_entry e = b->w[i].e;

	if (b->w[i].fd >= 0)
		close(b->w[i].fd);
	b->w[i] = b->w[--b->nw];
	on_death(b, &e);
}

/* Open a pidfd for every newly registered worker.  Entries are segment
 * input: one whose (pid, start) names no live process is treated as dead,
 * which also removes it from the table. */
/* Is (PID, START) still in the registry?  (A worker that finished
 * unregisters, then unmaps: between our snapshot and our look at its
 * maps it may have done both.)  When the lock cannot be had: yes. */
static bool still_registered(struct broker *b, const struct fb_proc_entry *e)
{
	struct fb_proc_entry *now = b->cur2;
	ssize_t n = fb_ring_procs(b->seg, now, FB_MAX_PROCS);

	if (n < 0)
		return true;
	for (ssize_t i = 0; i < n; i++)
		if (now[i].pid == e->pid && now[i].start == e->start)
			return true;
	return false;
}

static void watch_new(struct broker *b)
{
	struct fb_proc_entry *cur = b->cur;
	ssize_t n = fb_ring_procs(b->seg, cur, FB_MAX_PROCS);

	if (n < 0) {
		lock_stuck(b);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		bool known = false, rejected = false;
		enum maps maps;
		int fd;

		for (size_t j = 0; j < b->nw && !known; j++)
			known = b->w[j].e.pid == cur[i].pid && b->w[j].e.start == cur[i].start;
		if (known)
			continue;
		for (size_t j = 0; j < b->nrejected && !rejected; j++)
			rejected = b->rejected[j].pid == cur[i].pid &&
				   b->rejected[j].start == cur[i].start;
		if (rejected) {
			/* Never ours to watch; once it is gone, drop it
			 * (its claims are swept as any dead owner's). */
			if (!fb_proc_alive(cur[i].pid, cur[i].start))
				on_death(b, &cur[i]);
			continue;
		}
		if (cur[i].role != FB_ROLE_PRODUCER && cur[i].role != FB_ROLE_ENCODER)
			cur[i].role = FB_ROLE_PRODUCER; /* unknown role: sweep as producer */
		fd = fb_pidfd_open(cur[i].pid, cur[i].start);
		if (fd == -ENOSYS) /* no pidfds: watched by /proc on the watchdog tick */
			fd = fb_proc_alive(cur[i].pid, cur[i].start) ? -1 : -ESRCH;
		if (fd == -ESRCH) { /* gone, or the pid names someone else now */
			on_death(b, &cur[i]);
			continue;
		}
		if (fd < -1) {
			/* Out of descriptors, say: the worker is not known dead,
			 * so its claims stay its own; retried at the next event. */
			fb_warn(PROG, "cannot watch %s %d yet: %s",
			       cur[i].role == FB_ROLE_ENCODER ? "encoder" : "producer",
			       (int)cur[i].pid, strerror(-fd));
			continue;
		}
		/* Alive, and the pidfd (if any) now pins it: is it a worker at
		 * all?  The entry is segment input; only a process that maps
		 * this segment is supervised — and so ever signalled. */
		maps = maps_of(cur[i].pid, b->seg->dev, b->seg->ino);
		if (maps == MAPS_NONE && !fb_proc_kernel_thread(cur[i].pid)) {
			/* A worker exiting (its memory already gone, its
			 * entry not yet): judge it again shortly, when it is
			 * either gone (swept) or — never, in practice — back. */
			if (fd >= 0)
				close(fd);
			b->retry = true;
			continue;
		}
		if (maps != MAPS_YES && !still_registered(b, &cur[i])) {
			if (fd >= 0) /* it left: nothing to watch, nothing to say */
				close(fd);
			continue;
		}
		if (maps != MAPS_YES) {
			if (fd >= 0)
				close(fd);
			fb_warn(PROG, "registry entry names pid %d, which does not map this segment: "
				"not a worker; never signalled", (int)cur[i].pid);
			if (b->nrejected < FB_MAX_PROCS)
				b->rejected[b->nrejected++] = cur[i];
			continue;
		}
		if (b->nw == FB_MAX_PROCS) { /* a dead one not yet unwatched */
			if (fd >= 0)
				close(fd);
			continue;
		}
		b->w[b->nw++] = (struct watched){ .e = cur[i], .fd = fd };
	}
	/* Claims by pids that never registered are reissued too. */
	on_death(b, &(struct fb_proc_entry){ .pid = 0, .role = FB_ROLE_PRODUCER });
}

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
		lock_stuck(b);
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
		kill_worker(b, &b->w[j]);
	}
	if (n > 0)
		on_death(b, &(struct fb_proc_entry){ .pid = 0, .role = FB_ROLE_PRODUCER });
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
	kill_worker(b, enc);
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
static int supervise(struct broker *b, int sfd, int efd)
{
	struct pollfd *pfd = b->pfd;

	for (;;) {
		int timeout, rc;

		if (b->retry) { /* after a lock timeout: redo what was skipped */
			b->retry = false;
			watch_new(b);
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
				unwatch(b, i);
		if (pfd[1].revents & POLLIN) {
			uint64_t cnt;

			if (read(efd, &cnt, sizeof(cnt)) < 0 && errno != EAGAIN)
				fb_err(PROG, "eventfd read: %s", strerror(errno));
			watch_new(b);
		}
		if (fb_ring_state(b->seg) != FB_SEG_RUNNING)
			return fb_ring_state(b->seg) == FB_SEG_DONE ? FB_EXIT_OK : FB_EXIT_ABORTED;
	}
}

/* One pidfd per worker: let the soft descriptor limit reach the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * NAME exists and its broker is dead: unlink and create it again.  Two
 * brokers may find the same stale segment; an exclusive flock on the old
 * object, and a check that the name still names that object, let exactly
 * one of them replace it.  Returns 0, -EAGAIN (the name changed under us:
 * look again) or -EEXIST (another broker is replacing it right now).
 */
static int create_once(const struct broker_opts *o, const struct fb_geom *g,
		       struct fb_seg **seg);

static int replace_stale(const char *name, const struct fb_geom *g, struct fb_seg **seg)
{
	struct stat held, now;
	int fd = fb_shm_open(name, O_RDWR, 0, &held), fd2, rc;

	if (fd < 0)
		return fd == -ENOENT ? -EAGAIN : fd;
	if (held.st_uid != geteuid()) { /* another user's, stale or not: not ours to remove */
		close(fd);
		return -EPERM;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -EEXIST;
	}
	fd2 = fb_shm_open(name, O_RDONLY, 0, &now);
	rc = fd2 >= 0 && held.st_dev == now.st_dev && held.st_ino == now.st_ino;
	if (fd2 >= 0)
		close(fd2);
	/* Judge again, now that nobody can be creating or replacing this very
	 * object (creators hold its flock until it names them): it may be a
	 * winner's fresh segment rather than the stale one we saw. */
	if (rc) {
		int32_t owner;
		int alive = fb_seg_owner_alive_fd(fd, &owner);

		rc = alive == 0 || alive == -EAGAIN;
	}
	/* Only the very object we judged: never a name that now names
	 * another render's segment. */
	if (!rc || fb_seg_unlink_same(name, (uint64_t)held.st_dev, (uint64_t)held.st_ino)) {
		close(fd);
		return -EAGAIN;
	}
	rc = fb_seg_create(name, g, seg);
	close(fd); /* releases the flock: latecomers now see our segment */
	return rc == -EEXIST ? -EAGAIN : rc;
}

/* What sits at NAME is not ours to take (not a regular file, another
 * user's): say what it is; -EEXIST makes it exit 2. */
static int refused(const char *name, int rc)
{
	char why[FB_NAME_MAX + 256];

	fb_err(PROG, "segment %s: %s; remove it or choose another --name", name,
	       fb_seg_refusal(name, rc, why, sizeof(why)));
	return -EEXIST;
}

/* Create NAME; a stale segment (its broker dead) is replaced, saying so. */
static int create_segment(const struct broker_opts *o, const struct fb_geom *g,
			  struct fb_seg **seg)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		int rc = create_once(o, g, seg);

		if (rc != -EAGAIN)
			return rc;
	}
	fb_err(PROG, "segment %s keeps changing under us; giving up", o->name);
	return -EEXIST;
}

static int create_once(const struct broker_opts *o, const struct fb_geom *g,
		       struct fb_seg **seg)
{
	int32_t owner;
	bool abandoned;
	int rc = fb_seg_create(o->name, g, seg);

	if (rc != -EEXIST)
		return rc;
	/* A creator writes its identity microseconds after shm_open: wait a
	 * little for it before calling the object abandoned. */
	for (int i = 0; i < 50 && (rc = fb_seg_owner_alive(o->name, &owner)) == -EAGAIN; i++)
		usleep(20 * 1000);
	if (rc == 1) {
		fb_err(PROG, "segment %s already exists and its broker (pid %d) is alive",
		       o->name, (int)owner);
		return -EEXIST;
	}
	if (rc < 0 && rc != -EAGAIN && !fb_seg_refused(rc)) {
		fb_err(PROG, "segment %s already exists and is not a framebroker segment of "
		       "this version; remove /dev/shm%s if it is stale", o->name, o->name);
		return -EEXIST;
	}
	if (rc != -EAGAIN && rc != 0)
		return refused(o->name, rc);
	abandoned = rc == -EAGAIN;
	rc = replace_stale(o->name, g, seg);
	if (rc == 0 && abandoned)
		fb_warn(PROG, "replaced abandoned segment %s (its creation never finished)",
		       o->name);
	else if (rc == 0)
		fb_warn(PROG, "replaced stale segment %s (its broker, pid %d, is gone)", o->name,
		       (int)owner);
	else if (rc == -EEXIST)
		fb_err(PROG, "segment %s is held by a live broker (one in another pid namespace, "
		       "or one replacing it right now)", o->name);
	else if (fb_seg_refused(rc))
		return refused(o->name, rc);
	return rc;
}

/* A termination signal that arrived while we were creating the segment:
 * 128 + its number, or 0.  (It stays queued on the signalfd otherwise.) */
static int pending_stop(int sfd)
{
	struct pollfd p = { .fd = sfd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (poll(&p, 1, 0) <= 0 || read(sfd, &si, sizeof(si)) != sizeof(si))
		return 0;
	return 128 + (int)si.ssi_signo;
}

/* Unlink, stop the watcher thread, release everything. */
static void end_broker(struct fb_seg *seg, struct watcher *w, pthread_t tid, struct broker *b,
		       int sfd)
{
	/* Unlink first: the name is what outlives us (mapped processes keep
	 * their mapping until they exit) — unless it names another broker's
	 * segment by now. */
	fb_seg_unlink_mine(seg);
	atomic_store(&w->stop, 1);
	fb_ring_broker_wake(seg); /* or its 1 s timeout: either ends it */
	pthread_join(tid, NULL);
	for (size_t i = 0; i < b->nw; i++)
		if (b->w[i].fd >= 0)
			close(b->w[i].fd);
	fb_seg_detach(seg);
	close(sfd);
	close(w->efd);
}

int main(int argc, char **argv)
{
	struct broker_opts o;
	struct fb_geom g;
	struct fb_seg *seg;
	struct watcher w;
	static struct broker b; /* large (a pidfd table): not on the stack */
	pthread_t tid;
	sigset_t set;
	int rc, sfd, code;

	/* Termination signals are blocked before anything exists, and taken
	 * only through the signalfd: a PDEATHSIG (SIGTERM) from a launcher
	 * killed while we create a large segment must not kill us between
	 * creating the name and unlinking it.  SIGPIPE is ignored: the
	 * launcher reading --ready-fd may be gone, and a write there is an
	 * EPIPE to handle, never a death that leaves the segment behind. */
	sfd = signal_fd(&set);
	signal(SIGPIPE, SIG_IGN);
	if (parse_args(argc, argv, &o) || fb_params_geom(&o.params, &g, PROG))
		return FB_EXIT_USAGE;
	raise_fd_limit();
	w.efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (sfd < 0 || w.efd < 0) {
		fb_err(PROG, "signalfd/eventfd: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	rc = create_segment(&o, &g, &seg);
	if (rc == -EEXIST)
		return FB_EXIT_USAGE; /* create_segment said why */
	if (rc == -EAGAIN)
		rc = -EBUSY;
	if (rc) {
		fb_err(PROG, "cannot create segment %s (%llu bytes): %s", o.name,
		       (unsigned long long)g.segment_size, strerror(-rc));
		return FB_EXIT_RUNTIME;
	}
	w.seg = seg;
	atomic_init(&w.stop, 0);
	rc = pthread_create(&tid, NULL, watch_state, &w);
	if (rc) {
		fb_err(PROG, "pthread_create: %s", strerror(rc));
		fb_seg_unlink_mine(seg);
		return FB_EXIT_RUNTIME;
	}
	b.seg = seg;
	code = pending_stop(sfd);
	if (code == 0 && o.ready_fd >= 0) {
		if (fb_write_all(o.ready_fd, "ready\n", 6)) {
			/* Nobody reads it (EPIPE: the launcher is gone): nobody
			 * will attach either.  Clean up rather than wait. */
			fb_err(PROG, "ready-fd %d: %s", o.ready_fd, strerror(errno));
			code = FB_EXIT_RUNTIME;
		}
		close(o.ready_fd);
	}
	if (code) {
		fb_ring_abort(seg, code == FB_EXIT_RUNTIME ? "broker: its launcher is gone"
							  : "broker stopped by a signal");
		end_broker(seg, &w, tid, &b, sfd);
		return code;
	}
	b.frame_timeout_s = o.frame_timeout_s;
	b.frame_timeout_ns = (uint64_t)o.frame_timeout_s * 1000000000ull;
	b.encoder_timeout_s = o.encoder_timeout_s;
	b.enc_seen = UINT64_MAX;
	b.enc_looked_ns = fb_now_ns();
	b.nw = 0;
	code = supervise(&b, sfd, w.efd);
	end_broker(seg, &w, tid, &b, sfd);
	return code;
}
