/*
 * output — one output of fb-encoder (output.h): open it, drain a span of
 * frames into it, finish it.  Frames go out straight from their slots, a
 * run of published frames per call (sink.h): copied by writev, or — into
 * ffmpeg, for large frames — spliced by reference with vmsplice.  A slot is
 * released only once its bytes are out of it: when writev returned (the
 * kernel copied them), or when ffmpeg has read them (splice).  A slow sink
 * stops releases, which blocks producers: that chain is the whole
 * back-pressure mechanism.
 */
#include "output.h"
#include "fb_fault.h"
#include "fb_pixfmt.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Frames taken per acquire: one lock round trip and one sink call each. */
#define BATCH_MAX 64

/* While the encoder holds frames ffmpeg has not read yet, it waits for new
 * ones at most this long before looking whether it can free the old ones. */
#define HOLD_WAIT_MS 1

/* Otherwise it waits on the ring in slices of this long, and looks between
 * them whether ffmpeg is still there: a slow or hung frame must not hide
 * ffmpeg's death (the ring's wait cannot watch ffmpeg's pidfd itself). */
#define RING_SLICE_MS 100
/* vmsplice into ffmpeg's pipe, unless the frames are small or the user
 * turned it off (FB_VMSPLICE=0, for measuring what it buys). */
static bool want_splice(const struct fb_seg *seg)
{
	const char *env = getenv("FB_VMSPLICE");

	return seg->geom.slot_bytes >= SINK_SPLICE_MIN && !(env && strcmp(env, "0") == 0);
}

/*
 * Open the raw output.  A FIFO is opened without blocking: one nobody
 * reads yet (ENXIO) is waited for in 100 ms steps that watch the render,
 * so an abort (SIGINT to fb-render) or the broker's death ends the wait,
 * and --encoder-timeout bounds it; a plain open(2) would sleep in the
 * kernel, deaf to all of that.  Returns the descriptor (blocking again),
 * -ECANCELED if the render ended meanwhile, or -1 (said why).
 */
static int open_raw(const struct encoder_opts *o, const struct fb_seg *seg)
{
	uint64_t deadline = fb_now_ns() + (uint64_t)o->timeout_ms * 1000000ull;
	bool said = false;
	int fd, fl;

	for (;;) {
		struct pollfd pf = { .fd = seg->broker_fd, .events = POLLIN };

		fd = open(o->output, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC,
			  0644);
		if (fd >= 0 || errno != ENXIO)
			break;
		if (!said) {
			fb_warn(PROG, "output %s is a FIFO nobody reads yet; waiting for a reader",
				o->output);
			said = true;
		}
		if (fb_ring_state(seg) != FB_SEG_RUNNING)
			return -ECANCELED;
		if (fb_now_ns() >= deadline) {
			fb_err(PROG, "output %s: no reader opened the FIFO within --encoder-timeout",
			       o->output);
			return -1;
		}
		if (poll(&pf, seg->broker_fd >= 0 ? 1 : 0, 100) > 0) {
			fb_err(PROG, "output %s: the broker died while waiting for a reader", o->output);
			return -1;
		}
	}
	if (fd < 0) {
		fb_err(PROG, "cannot open output %s: %s", o->output, strerror(errno));
		return -1;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		fb_err(PROG, "output %s: fcntl: %s", o->output, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

int output_open(struct output *out, const struct encoder_opts *o, const struct fb_seg *seg,
		const struct fb_geom *g, const char *path, int stop_fd)
{
	int rc;

	out->ff.pid = -1;
	out->fd = -1;
	if (o->raw) {
		if (strcmp(o->output, "-") == 0) {
			out->fd = STDOUT_FILENO;
		} else {
			out->fd = open_raw(o, seg);
			if (out->fd < 0)
				return out->fd == -ECANCELED ? -2 : -1;
		}
	} else {
		rc = ffmpeg_sink_start(&out->ff, g, o->ff_opts, o->n_ff_opts, path, o->audio);
		if (rc == -ENOENT) {
			fb_err(PROG, "ffmpeg not found on PATH");
			return -1;
		}
		if (rc == -ENAMETOOLONG) {
			fb_err(PROG, "output name too long: %s", path);
			return -1;
		}
		if (rc) {
			fb_err(PROG, "cannot start ffmpeg: %s", strerror(-rc));
			return -1;
		}
		out->fd = out->ff.in_fd;
	}
	rc = sink_init(&out->k, out->fd, out->ff.pid > 0 && want_splice(seg), seg->geom.slot_count,
		       o->timeout_ms, seg->broker_fd, o->jitter_ms);
	if (out->ff.pid > 0)
		out->k.reader_fd = out->ff.pid_fd; /* every wait watches ffmpeg */
	fb_debug(PROG, "feeding %s by %s", out->ff.pid > 0 ? "ffmpeg" : o->output,
		 out->k.splice ? "vmsplice (slots freed once ffmpeg has read them)" : "writev");
	if (rc) {
		fb_err(PROG, "cannot set up the sink: %s", strerror(-rc));
		return -1;
	}
	out->k.stop_fd = stop_fd;
	return 0;
}

/* Describe a sink error RC at frame F into WHY.  Returns RC, or -ECANCELED
 * when the broker exited because of an abort (a stop request): that is the
 * abort, not a broker crash, and ffmpeg gets to finish. */
static int sink_error(struct fb_seg *seg, const struct output *out, int rc, uint64_t f,
		      char *why, size_t why_len)
{
	if (rc == -EOWNERDEAD && fb_ring_state(seg) == FB_SEG_ABORTED)
		return -ECANCELED;
	if ((rc == -ECHILD || rc == -EPIPE) && out->ff.pid > 0)
		snprintf(why, why_len, "ffmpeg stopped reading at frame %llu", (unsigned long long)f);
	else if (rc == -ETIMEDOUT)
		snprintf(why, why_len, "ffmpeg read nothing for %d s (--encoder-timeout) at frame %llu",
			 out->k.timeout_ms / 1000, (unsigned long long)f);
	else if (rc == -EOWNERDEAD)
		snprintf(why, why_len, "broker (pid %d) died", (int)seg->hdr->broker_pid);
	else
		snprintf(why, why_len, "writing frame %llu: %s", (unsigned long long)f, strerror(-rc));
	return rc;
}

/* Describe an acquire error RC at frame F into WHY; returns RC. */
static int acquire_error(struct fb_seg *seg, int rc, uint64_t f, char *why, size_t why_len)
{
	if (rc == -EPROTO)
		fb_ring_reason(seg, why, why_len);
	else if (rc == -EOWNERDEAD)
		snprintf(why, why_len, "broker (pid %d) died", (int)seg->hdr->broker_pid);
	else if (rc != -ECANCELED)
		snprintf(why, why_len, "waiting for frame %llu: %s", (unsigned long long)f,
			 strerror(-rc));
	return rc;
}

/* Make the end marker's frame when F[0..N) holds frame TOTAL-1: a PNG or
 * JPEG marker must be a whole image in ffmpeg's input format, a copy of
 * that frame (its slot is gone by the time the marker is written); a raw
 * one only a frame's length, zeros: calloc's untouched pages, which cost
 * no memory (read, they map the kernel's zero page) and no copy.  0 or
 * -ENOMEM. */
static int keep_last(struct output *out, const struct fb_seg *seg, const struct fb_frame_ref *f,
		     int n, uint64_t to)
{
	const struct fb_frame_ref *last = &f[n - 1];

	if (out->ff.pid <= 0 || last->frame != to - 1)
		return 0;
	free(out->marker);
	out->marker = calloc(1, last->length ? last->length : 1);
	if (!out->marker)
		return -ENOMEM;
	if (seg->geom.frame_format != FB_FRAME_RAW)
		memcpy(out->marker, last->data, last->length);
	out->marker_len = last->length;
	return 0;
}

/*
 * Every frame is out: write the end marker (ffmpeg_sink.h).  An ffmpeg
 * that leaves (its pidfd, EPIPE) has read all it wanted: its statistics
 * judge it (ffmpeg_sink_finish), and one that read the marker's first
 * frame stops there.  0, or the errors of sink_push (-ETIMEDOUT, ...).
 */
static int write_marker(struct output *out, const struct fb_seg *seg)
{
	int n = ffmpeg_sink_marker_frames(&seg->geom);

	for (int i = 0; i < n; i++) {
		int rc = sink_write(&out->k, out->marker, out->marker_len);

		if (rc == -EPIPE || rc == -ECHILD)
			return 0;
		if (rc)
			return rc;
	}
	return 0;
}

/* Release the frames whose bytes the sink says are out, up to KEEP (the
 * frames before it).  0 or -errno with WHY filled. */
static int release_done(struct fb_seg *seg, struct output *out, uint64_t keep, char *why,
			size_t why_len)
{
	uint64_t upto;
	int rc;

	out->sunk += sink_done(&out->k);
	upto = out->sunk < keep ? out->sunk : keep;
	if (upto <= out->freed)
		return 0;
	rc = fb_ring_release(seg, out->freed, (uint32_t)(upto - out->freed));
	if (rc) {
		snprintf(why, why_len, "releasing frame %llu: %s", (unsigned long long)out->freed,
			 strerror(-rc));
		return rc;
	}
	out->freed = upto;
	return 0;
}

/* Take the next frames (at most up to TO) and push them.  0 or -errno. */
static int take_and_push(struct fb_seg *seg, struct output *out, uint64_t to, char *why,
			 size_t why_len)
{
	const uint32_t room = seg->geom.slot_count - (uint32_t)(out->taken - out->freed);
	uint64_t want = to - out->taken < room ? to - out->taken : room;
	struct fb_frame_ref batch[BATCH_MAX];
	int rc, n;

	n = fb_ring_acquire(seg, out->taken, batch, want < BATCH_MAX ? (uint32_t)want : BATCH_MAX,
			    out->taken > out->freed ? HOLD_WAIT_MS : RING_SLICE_MS);
	if (n == -EAGAIN) {
		rc = sink_check(&out->k);
		return rc ? sink_error(seg, out, rc, out->taken, why, why_len) : 0;
	}
	if (n < 0)
		return acquire_error(seg, n, out->taken, why, why_len);
	if (keep_last(out, seg, batch, n, to)) {
		snprintf(why, why_len, "copying frame %llu: %s", (unsigned long long)(to - 1),
			 strerror(ENOMEM));
		return -ENOMEM;
	}
	/* Held from here on, pushed or not: a restart releases them. */
	out->taken += (uint64_t)n;
	for (int i = 0; i < n; i++)
		fb_fault_point(seg->fault, FB_STEP_AFTER_ACQUIRE, batch[i].frame);
	rc = sink_push(&out->k, batch, (uint32_t)n);
	if (rc)
		return sink_error(seg, out, rc, batch[0].frame, why, why_len);
	for (int i = 0; i < n; i++)
		fb_fault_point(seg->fault, FB_STEP_AFTER_WRITE, batch[i].frame);
	return 0;
}

/*
 * The encoder holds [freed, taken), at most one ring's worth.  It never
 * sleeps on the ring for long while it holds frames ffmpeg may finish
 * reading (their slots are what producers wait for).
 */
int output_drain(struct fb_seg *seg, struct output *out, uint64_t to, bool hold_end, char *why,
		 size_t why_len)
{
	const uint64_t keep = hold_end ? to - 1 : to;
	int rc;

	for (;;) {
		rc = release_done(seg, out, keep, why, why_len);
		if (rc)
			return rc;
		if (out->sunk >= to)
			break;
		if (out->taken == to || out->taken - out->freed == seg->geom.slot_count) {
			rc = sink_wait(&out->k);
			if (rc)
				return sink_error(seg, out, rc, out->freed, why, why_len);
			continue;
		}
		rc = take_and_push(seg, out, to, why, why_len);
		if (rc)
			return rc;
	}
	/* No need to wait for ffmpeg to read it all: closing its stdin takes
	 * nothing out of the pipe, EOF comes after the last byte. */
	if (out->ff.pid > 0 && out->marker) {
		rc = write_marker(out, seg);
		if (rc)
			return sink_error(seg, out, rc, out->taken, why, why_len);
	}
	return 0;
}

int output_release_held(struct fb_seg *seg, struct output *out)
{
	int rc = 0;

	if (out->taken > out->freed)
		rc = fb_ring_release(seg, out->freed, (uint32_t)(out->taken - out->freed));
	if (rc == 0)
		out->freed = out->sunk = out->taken;
	return rc;
}

bool output_stop_requested(int stop_fd, int ms)
{
	struct pollfd pf = { .fd = stop_fd, .events = POLLIN };

	return poll(&pf, 1, ms) == 1;
}

int output_finish_ffmpeg(struct output *out, const struct encoder_opts *o, int rc, char *why,
			 size_t why_len)
{
	bool gone = rc == -EPIPE || rc == -ECHILD; /* ffmpeg left early */
	char ffwhy[FB_REASON_MAX];

	/* A gone ffmpeg has exited or is exiting: give it the time to say
	 * why; after our own failure, a second; asked to stop (SIGTERM:
	 * fb-render died, say), TERM_GRACE_MS to finish the file — nobody
	 * else may be left to bound it. */
	if (ffmpeg_sink_finish(&out->ff, gone ? 3000 : rc == -EINTR ? TERM_GRACE_MS :
			       rc && rc != -ECANCELED ? 1000 : o->timeout_ms,
			       out->k.stop_fd, TERM_GRACE_MS, ffwhy, sizeof(ffwhy))) {
		/* ffmpeg's own cause beats our EPIPE. */
		if (rc == 0 || gone) {
			snprintf(why, why_len, "%s", ffwhy);
			rc = -EIO;
		}
	} else if (rc == 0) {
		fb_debug(PROG, "ffmpeg (pid %d) exited 0 having decoded %lld frames of its input "
			 "(the render's %llu, then the end marker), by its %s",
			 (int)out->ff.pid, out->ff.decoded, (unsigned long long)out->ff.frames,
			 out->ff.stats_from);
	}
	ffmpeg_sink_free(&out->ff);
	/* Asked to stop while ffmpeg finished (every frame was in its pipe):
	 * a stop like any other, its cause whoever sent it. */
	if (out->ff.stopped && rc == 0)
		rc = -EINTR;
	return rc;
}

void output_close(struct output *out)
{
	if (out->ff.pid <= 0 && out->fd >= 0 && out->fd != STDOUT_FILENO)
		close(out->fd);
	out->fd = -1;
	free(out->marker);
	out->marker = NULL;
	sink_free(&out->k);
}

void output_abandon(struct output *out)
{
	if (out->ff.pid > 0) {
		ffmpeg_sink_kill(&out->ff);
		ffmpeg_sink_free(&out->ff);
	}
	output_close(out);
}
