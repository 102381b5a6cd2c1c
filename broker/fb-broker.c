/*
 * fb-broker — creates and owns the shared frame segment.
 *
 * It creates the segment exclusively, reports readiness, then sleeps until
 * the render ends (the encoder marks it DONE, or anyone ABORTs it) or a
 * signal asks it to stop; on every path it unlinks the segment before it
 * exits.  Waiting is event driven: a small thread sleeps on the segment's
 * broker semaphore and turns its wake-ups into an eventfd the main thread
 * polls together with a signalfd.
 */
#include "fb_params.h"
#include "fb_ring.h"
#include "fb_util.h"

#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define PROG "fb-broker"

struct broker_opts {
	struct fb_params params;
	const char *name;
	int ready_fd; /* -1: none */
};

struct watcher {
	struct fb_seg *seg;
	int efd;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " --name /SEGMENT [--size WxH] [--pix-fmt FMT] [--fps N]\n"
		"                 [--frames N] [--slots S] [--ready-fd FD]\n"
		"Create the shared frame segment SEGMENT, own it for the render and unlink it\n"
		"at the end.  Defaults: 1280x720 rgba, 30 fps, 300 frames, 8 slots.\n"
		"--ready-fd FD: write \"ready\\n\" to FD (then close it) once the segment exists.\n"
		"Exit: 0 render done, 1 runtime error, 2 usage error, 3 render aborted,\n"
		"128+N stopped by signal N.\n");
}

static int parse_args(int argc, char **argv, struct broker_opts *o)
{
	static const struct option longopts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 0 },
		{ "pix-fmt", required_argument, NULL, 0 },
		{ "fps", required_argument, NULL, 0 },
		{ "frames", required_argument, NULL, 0 },
		{ "slots", required_argument, NULL, 0 },
		{ "ready-fd", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t v;
	int c, idx;

	fb_params_default(&o->params);
	o->name = NULL;
	o->ready_fd = -1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		switch (c) {
		case 0:
			if (fb_params_set(&o->params, longopts[idx].name, optarg, PROG) < 0)
				return -1;
			break;
		case 'n':
			o->name = optarg;
			break;
		case 'r':
			if (fb_parse_u64(optarg, 0, 1 << 20, &v)) {
				fb_err(PROG, "invalid --ready-fd '%s'", optarg);
				return -1;
			}
			o->ready_fd = (int)v;
			break;
		case 'h':
			usage(stdout);
			exit(FB_EXIT_OK);
		default:
			fb_err(PROG, "unknown or incomplete option '%s'", argv[optind - 1]);
			return -1;
		}
	}
	if (optind < argc) {
		fb_err(PROG, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (!o->name || fb_seg_name_check(o->name)) {
		fb_err(PROG, "--name must be a segment name like /fb-render (got '%s')",
		       o->name ? o->name : "");
		return -1;
	}
	return 0;
}

/* Thread: turn life-cycle changes into eventfd wake-ups for poll(). */
static void *watch_state(void *arg)
{
	struct watcher *w = arg;
	uint64_t one = 1;

	while (fb_ring_broker_wait(w->seg, 1000) == FB_SEG_RUNNING)
		;
	if (write(w->efd, &one, sizeof(one)) < 0)
		fb_err(PROG, "eventfd write: %s", strerror(errno));
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

/* Sleep until the render ends or a signal arrives; return the exit code. */
static int supervise(struct fb_seg *seg, int sfd, int efd)
{
	struct pollfd pfd[2] = { { .fd = sfd, .events = POLLIN }, { .fd = efd, .events = POLLIN } };

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			fb_err(PROG, "poll: %s", strerror(errno));
			fb_ring_abort(seg, "broker: poll failed");
			return FB_EXIT_RUNTIME;
		}
		if (pfd[0].revents & POLLIN) {
			struct signalfd_siginfo si;
			char why[64];

			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			snprintf(why, sizeof(why), "broker stopped by signal %u", si.ssi_signo);
			fb_ring_abort(seg, why);
			return 128 + (int)si.ssi_signo;
		}
		if (pfd[1].revents & POLLIN)
			return fb_ring_state(seg) == FB_SEG_DONE ? FB_EXIT_OK : FB_EXIT_ABORTED;
	}
}

int main(int argc, char **argv)
{
	struct broker_opts o;
	struct fb_geom g;
	struct fb_seg *seg;
	struct watcher w;
	pthread_t tid;
	sigset_t set;
	int rc, sfd, code;

	if (parse_args(argc, argv, &o) || fb_params_geom(&o.params, &g, PROG))
		return FB_EXIT_USAGE;
	sfd = signal_fd(&set);
	w.efd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || w.efd < 0) {
		fb_err(PROG, "signalfd/eventfd: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	rc = fb_seg_create(o.name, &g, &seg);
	if (rc == -EEXIST) {
		fb_err(PROG, "segment %s already exists", o.name);
		return FB_EXIT_USAGE;
	}
	if (rc) {
		fb_err(PROG, "cannot create segment %s (%llu bytes): %s", o.name,
		       (unsigned long long)g.segment_size, strerror(-rc));
		return FB_EXIT_RUNTIME;
	}
	w.seg = seg;
	rc = pthread_create(&tid, NULL, watch_state, &w);
	if (rc) {
		fb_err(PROG, "pthread_create: %s", strerror(rc));
		fb_seg_unlink(o.name);
		return FB_EXIT_RUNTIME;
	}
	if (o.ready_fd >= 0) {
		if (fb_write_all(o.ready_fd, "ready\n", 6))
			fb_err(PROG, "ready-fd %d: %s", o.ready_fd, strerror(errno));
		close(o.ready_fd);
	}
	code = supervise(seg, sfd, w.efd);
	/* Unlink first: the name is what outlives us.  Mapped processes keep
	 * their mapping until they exit. */
	fb_seg_unlink(o.name);
	/* The watcher thread may still sleep on the semaphore; exit() ends it
	 * without destroying what it uses. */
	exit(code);
}
