/*
 * fb-broker — creates, owns and supervises the shared frame segment.
 *
 * It creates the segment exclusively (replacing a stale one whose broker is
 * dead: create.c), reports readiness, then supervises until the render ends
 * (the encoder marks it DONE, or anyone ABORTs it) or a signal asks it to
 * stop (supervise.c, over the watch set of watch.c); on every path it
 * unlinks the segment before it exits.
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
 * This file is the process's life around those: options, the signals
 * (blocked before anything exists), the watcher thread, readiness, the end.
 */
#include "broker.h"
#include "fb_cli.h"
#include "fb_params.h"
#include "fb_args.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

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


/* One pidfd per worker: let the soft descriptor limit reach the hard one. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
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
	rc = broker_create(o.name, &g, &seg);
	if (rc == -EEXIST)
		return FB_EXIT_USAGE; /* broker_create said why */
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
	code = broker_supervise(&b, sfd, w.efd);
	end_broker(seg, &w, tid, &b, sfd);
	return code;
}
