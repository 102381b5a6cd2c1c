/* status — fb-render's progress line and --progress blocks (status.h). */
#include "status.h"
#include "fb_args.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void status_start(struct status *s, int fd, const char *name, FILE *progress)
{
	const char *why;

	/* The line is a notice: --log-level warning or below hides it. */
	*s = (struct status){ .progress = progress,
			      .tty = isatty(STDERR_FILENO) == 1 && fb_log_enabled(FB_LOG_INFO) };
	if (!s->tty && !progress)
		return;
	s->st = malloc(sizeof(*s->st));
	if (!s->st || fb_seg_attach_readonly_fd(fd, name, &s->seg, &why)) {
		free(s->st);
		s->st = NULL;
		s->seg = NULL;
	}
}

/* "1:02:03" or "2:03" for S seconds. */
static void clock_str(char *buf, size_t len, double s)
{
	unsigned long t = s > 0 && s < 1e9 ? (unsigned long)(s + 0.5) : 0;

	if (t >= 3600)
		snprintf(buf, len, "%lu:%02lu:%02lu", t / 3600, t / 60 % 60, t % 60);
	else
		snprintf(buf, len, "%lu:%02lu", t / 60, t % 60);
}

static void draw_line(struct status *s, bool final)
{
	const struct fb_geom *g = &s->seg->geom;
	const struct fb_stats *st = s->st;
	double left = st->fps > 0 ? (double)(g->total_frames - st->emitted) / st->fps : 0;
	double rate = (double)g->fps_num / (double)g->fps_den;
	char eta[32], fps[32], segs[64] = "";

	clock_str(eta, sizeof(eta), left);
	if (st->segments_done || st->segments_redone)
		snprintf(segs, sizeof(segs), "  segments %u (%u redone)", st->segments_done,
			 st->segments_redone);
	fb_fps_str(fps, sizeof(fps), g->fps_num, g->fps_den);
	fprintf(stderr, "\rfb-render: frame %llu/%llu (%.0f%%)  %.1f fps  %.2fx of %s  ETA %s  "
		"slots %u/%u full  producers %u  restarts %u%s\033[K%s",
		(unsigned long long)st->emitted, (unsigned long long)g->total_frames,
		100.0 * (double)st->emitted / (double)g->total_frames, st->fps,
		st->fps / rate, fps, final ? "0:00" : eta, g->slot_count - st->slots_by_state[0],
		g->slot_count, st->producers, st->restarts, segs, final ? "\n" : "");
	s->line_drawn = !final;
}

/* One block, one write(2), and only if the reader has room now: a stalled
 * --progress reader must never stall the supervision loop (signals,
 * restarts, deadlines), so a block it is not ready for is dropped.  The
 * last block (progress=end) is always written. */
static void write_block(struct status *s, bool final)
{
	const struct fb_geom *g = &s->seg->geom;
	const struct fb_stats *st = s->st;
	/* Exact: frame i starts at i * den / num s (no rounded rate). */
	uint64_t us = fb_fps_frames_us(st->emitted, g->fps_num, g->fps_den);
	struct pollfd pf = { .fd = fileno(s->progress), .events = POLLOUT };
	char buf[1024], rate[32];
	int n;

	if (!final && poll(&pf, 1, 0) != 1)
		return;
	n = snprintf(buf, sizeof(buf),
		"frame=%llu\ntotal_frames=%llu\nframe_rate=%s\nfps=%.2f\nspeed=%.3fx\nout_time_us=%llu\n"
		"out_time=%02llu:%02llu:%02llu.%06llu\nelapsed_s=%.3f\nslots_full=%u\n"
		"slots_empty=%u\nproducers=%u\nrestarts=%u\nreissued=%llu\nblocked_share=%.4f\n"
		"segments_done=%u\nsegments_redone=%u\nframes_rerendered=%llu\nprogress=%s\n",
		(unsigned long long)st->emitted, (unsigned long long)g->total_frames,
		fb_fps_str(rate, sizeof(rate), g->fps_num, g->fps_den), st->fps,
		st->fps * (double)g->fps_den / (double)g->fps_num, (unsigned long long)us, (unsigned long long)(us / 3600000000ull),
		(unsigned long long)(us / 60000000ull % 60), (unsigned long long)(us / 1000000ull % 60),
		(unsigned long long)(us % 1000000ull), (double)st->elapsed_ns / 1e9,
		g->slot_count - st->slots_by_state[0], st->slots_by_state[0], st->producers,
		st->restarts, (unsigned long long)st->reissued, st->blocked_share,
		st->segments_done, st->segments_redone, (unsigned long long)st->frames_rerendered,
		final ? "end" : "continue");
	if (n > 0 && write(pf.fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1) < 0 &&
	    errno != EAGAIN && !s->progress_failed) {
		/* Progress is a side channel: its failure must not fail the
		 * render, but must not pass unsaid either (ENOSPC, EPIPE). */
		fb_warn("fb-render", "--progress: %s; no more progress blocks", strerror(errno));
		s->progress_failed = true;
	}
}

/* Is fb-render a background job of the terminal on stderr (`&`, `bg`)?  Then
 * the line would be drawn over whatever the shell shows now (and with `stty
 * tostop` would stop fb-render).  A terminal we cannot ask (not our
 * controlling one): draw, as before. */
static bool in_background(void)
{
	pid_t fg = tcgetpgrp(STDERR_FILENO);

	return fg > 0 && fg != getpgrp();
}

void status_tick(struct status *s, bool final)
{
	uint64_t now = fb_now_ns();

	if (!s->seg)
		return;
	fb_stats_read(s->seg, s->st);
	/* Aborted (a worker's fb_fail, the broker): failed already, though
	 * no exit says so yet; its cause may be on the terminal now. */
	if (s->st->state == FB_SEG_ABORTED)
		status_quiet(s);
	if (s->tty && !in_background())
		draw_line(s, final);
	if (s->progress && !s->progress_failed &&
	    (final || now - s->last_block_ns >= 500000000ull)) {
		write_block(s, final);
		s->last_block_ns = now;
	}
}

void status_break_line(struct status *s)
{
	if (s->line_drawn) {
		fputc('\n', stderr);
		s->line_drawn = false;
	}
}

void status_quiet(struct status *s)
{
	status_break_line(s);
	s->tty = false;
}

void status_stop(struct status *s)
{
	fb_seg_detach(s->seg);
	free(s->st);
	s->seg = NULL;
	s->st = NULL;
}

/* "812 bytes", "45.3 kB", "2.1 MB", "1.25 GB" (powers of 1000, as ls -h --si). */
static void size_str(char *buf, size_t len, uint64_t n)
{
	if (n < 1000)
		snprintf(buf, len, "%llu bytes", (unsigned long long)n);
	else if (n < 1000000)
		snprintf(buf, len, "%.1f kB", (double)n / 1e3);
	else if (n < 1000000000)
		snprintf(buf, len, "%.1f MB", (double)n / 1e6);
	else
		snprintf(buf, len, "%.2f GB", (double)n / 1e9);
}

/* OUTPUT as one line can show it: control characters (a newline, an
 * escape sequence in a file name) become '?'; UTF-8 passes. */
static void shown_path(char *buf, size_t len, const char *path)
{
	size_t n = 0;

	for (; n + 1 < len && path[n]; n++) {
		unsigned char c = (unsigned char)path[n];

		buf[n] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[n] = '\0';
}

void status_summary(const char *output, const struct fb_geom *g, uint64_t elapsed_ns,
		    const char *more)
{
	bool to_stdout = strcmp(output, "-") == 0;
	double secs = (double)elapsed_ns / 1e9, fps;
	char range[96] = "", size[48] = "", took[32], shown[PATH_MAX];
	struct stat st;

	if (!fb_log_enabled(FB_LOG_INFO))
		return;
	if (g->chunk)
		snprintf(range, sizeof(range), " (%llu..%llu of %llu)",
			 (unsigned long long)g->first_frame,
			 (unsigned long long)(g->first_frame + g->total_frames - 1),
			 (unsigned long long)g->render_frames);
	/* A pipe or terminal has no size to tell. */
	if ((to_stdout ? fstat(STDOUT_FILENO, &st) : stat(output, &st)) == 0 &&
	    S_ISREG(st.st_mode)) {
		size[0] = ',';
		size[1] = ' ';
		size_str(size + 2, sizeof(size) - 2, (uint64_t)st.st_size);
	}
	snprintf(took, sizeof(took), "%.*f s", secs < 1 ? 2 : secs < 100 ? 1 : 0, secs);
	fps = secs > 0 ? (double)g->total_frames / secs : 0;
	shown_path(shown, sizeof(shown), to_stdout ? "stdout" : output);
	fb_info("fb-render", "wrote %s: %llu frame%s%s, %ux%u%s in %s (%.*f fps)%s", shown, (unsigned long long)g->total_frames,
		g->total_frames == 1 ? "" : "s", range, g->width, g->height, size, took,
		fps < 10 ? 1 : 0, fps, more);
}
