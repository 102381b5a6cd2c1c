/*
 * join — fb-stitch over the segments (join.h).  Its stderr comes through a
 * pipe, so a failure is one line of ours quoting its last ("joining the
 * segments failed: ..."), not its line and then ours.
 */
#include "join.h"
#include "spawn.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARGS 10 /* fb-stitch --log-level warning --frames R [--chunk A:B] -o OUTPUT ... NULL */

/* fb-stitch's argv: the options, then each segment's path in frame order
 * (one allocation: the pointers, then the strings). */
static char **stitch_argv(const struct workdir *w, const struct fb_plan *p, const char *output,
			  char *frames, char *chunk)
{
	size_t each = strlen(w->path) + 64, n = 0;
	char **argv = malloc((ARGS + p->prefix) * sizeof(char *) + p->prefix * each), *s;

	if (!argv)
		return NULL;
	s = (char *)(argv + ARGS + p->prefix);
	argv[n++] = "fb-stitch";
	argv[n++] = "--log-level";
	argv[n++] = "warning";
	argv[n++] = "--frames";
	argv[n++] = frames;
	if (chunk) { /* a --range render: its segments make that chunk */
		argv[n++] = "--chunk";
		argv[n++] = chunk;
	}
	argv[n++] = "-o";
	argv[n++] = (char *)output;
	for (size_t i = 0; i < p->prefix; i++, s += each) {
		char name[64];

		fb_plan_segment_name(name, sizeof(name), p->segs[i].first, p->segs[i].end, w->ext,
				     false);
		snprintf(s, each, "%s/%s", w->path, name);
		argv[n++] = s;
	}
	argv[n] = NULL;
	return argv;
}

/* Spawn it with its stderr into a pipe we read. */
static int spawn_stitch(struct join *j, const char *path, char **argv, char *cause, size_t len)
{
	int pfd[2];

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(cause, len, "cannot join the segments: pipe: %s", strerror(errno));
		return -1;
	}
	j->pid = fb_spawn_stderr(path, argv, 0, pfd[1]);
	close(pfd[1]);
	if (j->pid < 0) {
		snprintf(cause, len, "cannot start %s: %s", path, strerror((int)-j->pid));
		close(pfd[0]);
		j->pid = 0;
		return -1;
	}
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	j->err_fd = pfd[0];
	return 0;
}

int join_start(struct join *j, const char *bindir, const struct workdir *w, const char *output,
	       char *cause, size_t len)
{
	char why[512], frames[24], chunk[48], path[PATH_MAX];
	struct fb_plan p;
	char **argv;
	int e;

	memset(j, 0, sizeof(*j));
	j->err_fd = -1;
	if (fb_plan_load(w->fd, w->render, false, "fb-render", &p, why, sizeof(why))) {
		snprintf(cause, len, "joining the segments failed: %s/plan: %s", w->path, why);
		return -1;
	}
	if (p.start != w->end) {
		snprintf(cause, len, "joining the segments failed: %s holds frames %" PRIu64 "..%" PRIu64
			 " of %" PRIu64 ":%" PRIu64 " (a segment is missing or changed)", w->path,
			 w->first, p.start, w->first, w->end);
		fb_plan_free(&p);
		return -1;
	}
	snprintf(frames, sizeof(frames), "%" PRIu64, w->frames);
	snprintf(path, sizeof(path), "%s/fb-stitch", bindir);
	snprintf(chunk, sizeof(chunk), "%" PRIu64 ":%" PRIu64, w->first, w->end);
	argv = stitch_argv(w, &p, output, frames,
			   w->chunk ? chunk : NULL);
	j->segments = p.prefix;
	fb_plan_free(&p);
	if (!argv) {
		snprintf(cause, len, "cannot join the segments: %s", strerror(ENOMEM));
		return -1;
	}
	argv[0] = path;
	e = spawn_stitch(j, path, argv, cause, len);
	free(argv);
	return e;
}

void join_read(struct join *j)
{
	char buf[4096];
	ssize_t n;

	while (j->err_fd >= 0 && (n = read(j->err_fd, buf, sizeof(buf))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno == EAGAIN)
				return;
			break;
		}
		for (ssize_t i = 0; i < n; i++) {
			if (buf[i] == '\n') {
				memcpy(j->last, j->line, j->got);
				j->last[j->got] = '\0';
				j->got = 0;
			} else if (j->got + 1 < sizeof(j->line)) {
				j->line[j->got++] = buf[i];
			}
		}
	}
	if (j->got) { /* a last line without '\n' */
		memcpy(j->last, j->line, j->got);
		j->last[j->got] = '\0';
		j->got = 0;
	}
	close(j->err_fd);
	j->err_fd = -1;
}
