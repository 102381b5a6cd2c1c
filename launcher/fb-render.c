/*
 * fb-render — the main job in one command.  It checks every option before
 * anything is created, then starts fb-broker, waits until the segment exists,
 * starts fb-encoder and K fb-producer processes, and supervises them until
 * the output is complete.  Every child lives in one process group and has a
 * parent-death signal; fb-render is a child subreaper, so even ffmpeg (the
 * encoder's child) is reaped here.  On every path — success, a failed child,
 * SIGINT/SIGTERM — every process is gone and the segment unlinked before
 * fb-render exits.
 *
 * This file is the program: its options and preflight (options.c,
 * preflight.c), what must exist before the first child (the signalfd, the
 * render's private directory), the supervisor's loop (supervisor.c), and
 * what is left to do once no child is: the exit code and its cause
 * (outcome.c), the closing line.
 */
#include "preflight.h"
#include "supervisor.h"
#include "signals.h"
#include "tmpdir.h"
#include "workdir.h"
#include "fb_args.h"
#include "fb_params.h"
#include "fb_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#define PROG "fb-render"

/* Open the --progress file without ever waiting: a FIFO with no reader
 * is ENXIO at once instead of an open(2) that blocks fb-render (signals
 * and all) until someone reads.  Writes stay non-blocking: a block the
 * reader has no room for is dropped (status.c). */
static FILE *open_progress(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

/* FB_RENDER_PID=our pid, in the environment every child inherits. */
static int export_render_pid(void)
{
	char pid[24];

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (setenv("FB_RENDER_PID", pid, 1) == 0)
		return 0;
	fb_err(PROG, "cannot set FB_RENDER_PID: %s", strerror(errno));
	return -1;
}

/* Everything the render needs before its first child: where our programs
 * are, the --progress stream, the children's table, the signals, the
 * subreaper, FB_TMPDIR (in TMP, under TMP_BASE).  0, or the exit code to
 * leave with (said). */
static int setup(struct render *r, struct fb_tmpdir *tmp, const char *tmp_base)
{
	const struct render_opts *o = r->o;
	int code;

	if (children_init(&r->ch, o)) {
		fb_err(PROG, "cannot locate my own binary: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	if (o->progress) {
		r->progress = strcmp(o->progress, "-") == 0 ? stdout : open_progress(o->progress);
		if (!r->progress) {
			fb_err(PROG, "cannot write --progress %s: %s", o->progress,
			       errno == ENXIO ? "a FIFO nobody reads" : strerror(errno));
			return FB_EXIT_USAGE;
		}
	}
	if (children_alloc(&r->ch)) {
		fb_err(PROG, "out of memory");
		return FB_EXIT_RUNTIME;
	}
	r->sfd = signals_open();
	if (r->sfd < 0) {
		children_free(&r->ch);
		return FB_EXIT_RUNTIME;
	}
	/* Orphans (ffmpeg when the encoder dies) become ours to reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Every child learns who supervises it: a worker whose broker dies
	 * leaves the saying of it to us (fb-producer), so the user reads
	 * one line, not one per worker that noticed first. */
	if (export_render_pid()) {
		children_free(&r->ch);
		close(r->sfd);
		return FB_EXIT_RUNTIME;
	}
	/* Before the first child, so every one of them gets FB_TMPDIR. */
	code = fb_tmpdir_make(tmp, tmp_base, PROG);
	if (code) {
		children_free(&r->ch);
		close(r->sfd);
		return code;
	}
	fb_tmpdir_sweep(tmp_base, PROG); /* what renders that died left */
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t start_ns = fb_now_ns();
	struct render_opts o;
	struct render r = { .o = &o, .sfd = -1, .ready_fd = -1 };
	struct fb_tmpdir tmp = { .fd = -1 };
	struct workdir work;
	struct fb_geom g;
	char tmp_base[PATH_MAX], more[128] = "";
	uint64_t again = 0;
	uint32_t redone = 0;
	int code;

	if (options_parse(argc, argv, &o))
		return FB_EXIT_USAGE;
	if (o.plan_check) /* fb-farm's question: nothing rendered */
		return workdir_plan_check(o.plan_check);
	if (fb_params_geom(&o.params, &g, PROG))
		return FB_EXIT_USAGE;
	code = options_preflight(&o, &g);
	if (!code)
		code = fb_tmpdir_base(tmp_base, sizeof(tmp_base), PROG);
	/* Last of the checks: from here on, the work directory may exist. */
	if (!code)
		code = workdir_prepare(&work, &o, &g, o.check_only);
	if (code || o.check_only)
		return code;
	if (work.fd >= 0)
		r.work = &work;
	code = setup(&r, &tmp, tmp_base);
	if (code) {
		workdir_end(&work, false);
		return code;
	}
	supervise(&r);
	supervise_end(&r);
	/* supervise() returned on ECHILD: nobody is left to write there. */
	fb_tmpdir_remove(&tmp, PROG);
	if (r.progress && r.progress != stdout)
		fclose(r.progress);
	code = outcome_finish(&r.out, r.ch.seg_fd);
	fb_stats_redone(r.ch.seg_fd, &redone, &again);
	children_free(&r.ch);
	close(r.sfd);
	/* Joined: the segments go; else they stay if one is finished. */
	workdir_end(&work, code == FB_EXIT_OK && r.joined);
	if (r.joined)
		snprintf(more, sizeof(more), ", %zu segment%s", r.join.segments,
			 r.join.segments == 1 ? "" : "s");
	if (r.joined && again)
		snprintf(more + strlen(more), sizeof(more) - strlen(more),
			 " (%u redone after ffmpeg died: %llu frames rendered again)", redone,
			 (unsigned long long)again);
	/* Only now, when every process is gone and the file complete. */
	if (code == FB_EXIT_OK)
		status_summary(o.sink.output, &g, fb_now_ns() - start_ns, more);
	return code;
}
