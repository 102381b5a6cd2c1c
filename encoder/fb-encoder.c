/*
 * fb-encoder — drains the ring strictly in frame order into a sink: an
 * ffmpeg child's stdin, or a raw file (or stdout).  Frames go out straight
 * from their slots, a run of published frames per call (sink.h): copied by
 * writev, or — into ffmpeg, for large frames — spliced by reference with
 * vmsplice.  A slot is released only once its bytes are out of it: when
 * writev returned (the kernel copied them), or when ffmpeg has read them
 * (splice).  A slow sink stops releases, which blocks producers: that chain
 * is the whole back-pressure mechanism.
 */
#include "fb_cli.h"
#include "fb_fault.h"
#include "fb_output.h"
#include "fb_pixfmt.h"
#include "fb_ring.h"
#include "fb_args.h"
#include "fb_attach.h"
#include "ffmpeg_sink.h"
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define PROG "fb-encoder"

struct encoder_opts {
	char name[FB_NAME_MAX + 1];
	const char *output;
	int raw; /* 1: --sink raw */
	int attach_timeout_ms;
	int seg_fd; /* --fd: inherited segment descriptor, or -1 */
	int timeout_ms; /* --encoder-timeout */
	int jitter_ms;  /* --jitter-ms: a random 0..J ms sleep per frame */
	const char *audio; /* --audio FILE, or NULL */
	char **ff_opts; /* after "--", or NULL for the defaults */
	int n_ff_opts;
};

/* Frames taken per acquire: one lock round trip and one sink call each. */
#define BATCH_MAX 64

/* While the encoder holds frames ffmpeg has not read yet, it waits for new
 * ones at most this long before looking whether it can free the old ones. */
#define HOLD_WAIT_MS 1

/* Otherwise it waits on the ring in slices of this long, and looks between
 * them whether ffmpeg is still there: a slow or hung frame must not hide
 * ffmpeg's death (the ring's wait cannot watch ffmpeg's pidfd itself). */
#define RING_SLICE_MS 100
/* Asked to stop by SIGTERM: how long ffmpeg may take to finish the file
 * before it is killed (fb-render, if alive, allows 30 s in all). */
#define TERM_GRACE_MS 10000

/* Where frames go: a raw fd, or ffmpeg's stdin. */
struct output {
	int fd;
	struct ffmpeg_sink ff; /* ff.pid > 0: ffmpeg */
	struct sink k;
	uint64_t taken; /* frames pushed into k */
	/* ffmpeg: a copy of the last frame, the end marker's (ffmpeg_sink.h) */
	char *marker;
	size_t marker_len;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " --name /SEGMENT [--sink ffmpeg|raw] [-o OUTPUT]\n"
		"                  [--attach-timeout MS] [--fd N] [--encoder-timeout SEC] [--audio FILE]\n"
		"                  [-- FFMPEG_OUTPUT_OPTIONS...]\n"
		"Drain SEGMENT's frames in order into ffmpeg (default) or a raw file.\n"
		"-o OUTPUT, --output OUTPUT   output path, '-' for stdout (default out.mp4)\n"
		"--sink raw      write the raw frames themselves, no ffmpeg\n"
		"--encoder-timeout SEC  fail if ffmpeg reads nothing for this long (default 600)\n"
		"--audio FILE    mux FILE's first audio stream in: padded with silence or cut\n"
		"                to the video's length (ffmpeg's apad and -shortest)\n"
		"--jitter-ms J   sleep a random 0..J ms per frame: a slow sink (stress tests)\n"
		"--attach-timeout wait this long for the segment to appear (default 5000)\n"
		"--fd N          use the already open segment descriptor N (fb-render does)\n"
		"--log-level L   quiet, error, warning, info (default) or debug\n"
		"--version       print the version; --help: this text\n"
		"Default ffmpeg output options: -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p\n"
		"Exit: 0 every frame written, 1 runtime error, 2 usage error, 3 render aborted,\n"
		"143 stopped by SIGTERM (ffmpeg's input closed first: the file is finished).\n");
}

static int parse_args(int argc, char **argv, struct encoder_opts *o)
{
	static const struct option own[] = {
		{ "jitter-ms", required_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_sink_opts sink;
	struct fb_cli cli = { .prog = PROG, .usage = usage, .shortopts = "+o:", .own = own,
			      .groups = FB_OPTS_NAME | FB_OPTS_ATTACH | FB_OPTS_SINK, .name = o->name,
			      .seg_fd = &o->seg_fd, .attach_timeout_ms = &o->attach_timeout_ms,
			      .sink = &sink };
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = fb_cli_next(&cli, argc, argv)) > 0) { /* 'j' */
		if (fb_opt_u64(PROG, "jitter-ms", cli.arg, 0, 3600000, &v))
			return -1;
		o->jitter_ms = (int)v;
	}
	if (c < 0 || fb_cli_end(&cli, argc, argv, &o->ff_opts, &o->n_ff_opts))
		return -1;
	o->raw = sink.raw;
	o->output = sink.output;
	o->audio = sink.audio;
	o->timeout_ms = (int)sink.encoder_timeout_s * 1000;
	if (!o->name[0]) {
		fb_err(PROG, "--name is required");
		return -1;
	}
	if (o->audio && o->raw) {
		fb_err(PROG, "--audio needs the ffmpeg sink, not --sink raw");
		return -1;
	}
	return 0;
}

/* vmsplice into ffmpeg's pipe, unless the frames are small or the user
 * turned it off (FB_VMSPLICE=0, for measuring what it buys). */
static bool want_splice(const struct fb_seg *seg)
{
	const char *env = getenv("FB_VMSPLICE");

	return seg->geom.slot_bytes >= SINK_SPLICE_MIN && !(env && strcmp(env, "0") == 0);
}

/* Open the output.  0, or -1 with the message printed. */
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

static int open_output(const struct encoder_opts *o, const struct fb_seg *seg, struct output *out)
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
		rc = ffmpeg_sink_start(&out->ff, &seg->geom, o->ff_opts, o->n_ff_opts, o->output,
				       o->audio);
		if (rc == -ENOENT) {
			fb_err(PROG, "ffmpeg not found on PATH");
			return -1;
		}
		if (rc == -ENAMETOOLONG) {
			fb_err(PROG, "output name too long: %s", o->output);
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
		     int n)
{
	const struct fb_frame_ref *last = &f[n - 1];

	if (out->ff.pid <= 0 || last->frame != seg->geom.total_frames - 1)
		return 0;
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

/*
 * Write every frame in order.  TAKEN counts the frames acquired, FREED those
 * released; the encoder holds [FREED, TAKEN), at most one ring's worth.  It
 * never sleeps on the ring for long while it holds frames ffmpeg may finish
 * reading (their slots are what producers wait for).  0, -ECANCELED
 * (aborted elsewhere), or another -errno with WHY filled.
 */
static int drain(struct fb_seg *seg, struct output *out, char *why, size_t why_len)
{
	const uint64_t total = seg->geom.total_frames;
	const uint32_t slots = seg->geom.slot_count;
	struct fb_frame_ref batch[BATCH_MAX];
	uint64_t taken = 0, freed = 0;
	int rc, n;

	while (freed < total) {
		uint32_t done = sink_done(&out->k), room;

		if (done > 0) {
			rc = fb_ring_release(seg, freed, done);
			if (rc) {
				snprintf(why, why_len, "releasing frame %llu: %s",
					 (unsigned long long)freed, strerror(-rc));
				return rc;
			}
			freed += done;
			continue;
		}
		room = slots - (uint32_t)(taken - freed);
		if (taken == total || room == 0) {
			rc = sink_wait(&out->k);
			if (rc)
				return sink_error(seg, out, rc, freed, why, why_len);
			continue;
		}
		n = fb_ring_acquire(seg, taken, batch, room < BATCH_MAX ? room : BATCH_MAX,
				    taken > freed ? HOLD_WAIT_MS : RING_SLICE_MS);
		if (n == -EAGAIN) {
			rc = sink_check(&out->k);
			if (rc)
				return sink_error(seg, out, rc, taken, why, why_len);
			continue;
		}
		if (n < 0)
			return acquire_error(seg, n, taken, why, why_len);
		if (keep_last(out, seg, batch, n)) {
			snprintf(why, why_len, "copying frame %llu: %s",
				 (unsigned long long)(total - 1), strerror(ENOMEM));
			return -ENOMEM;
		}
		for (int i = 0; i < n; i++)
			fb_fault_point(seg->fault, FB_STEP_AFTER_ACQUIRE, batch[i].frame);
		rc = sink_push(&out->k, batch, (uint32_t)n);
		if (rc)
			return sink_error(seg, out, rc, taken, why, why_len);
		for (int i = 0; i < n; i++)
			fb_fault_point(seg->fault, FB_STEP_AFTER_WRITE, batch[i].frame);
		taken += (uint64_t)n;
		out->taken = taken;
	}
	/* No need to wait for ffmpeg to read it all: closing its stdin takes
	 * nothing out of the pipe, EOF comes after the last byte. */
	if (out->ff.pid > 0 && out->marker) {
		rc = write_marker(out, seg);
		if (rc)
			return sink_error(seg, out, rc, taken, why, why_len);
	}
	return 0;
}

/* Has SIGTERM come (STOP_FD, a signalfd, readable), or does it within
 * MS?  Left pending: every later wait sees it too. */
static bool stop_requested(int stop_fd, int ms)
{
	struct pollfd pf = { .fd = stop_fd, .events = POLLIN };

	return poll(&pf, 1, ms) == 1;
}

/*
 * Close ffmpeg's stdin and judge its end (ffmpeg_sink_finish) after drain
 * returned RC.  Returns RC, or -EIO with WHY replaced by ffmpeg's cause.
 */
static int finish_ffmpeg(struct output *out, const struct encoder_opts *o, int rc, char *why,
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

/* Drain, then close the sink.  Returns the exit code. */
static int encode(struct fb_seg *seg, const struct encoder_opts *o, int stop_fd)
{
	char why[FB_REASON_MAX] = "";
	struct output out = { .marker = NULL };
	int rc;

	rc = open_output(o, seg, &out);
	if (rc == -2)
		return FB_EXIT_ABORTED; /* the render ended while we waited for a reader */
	if (rc) {
		fb_ring_abort(seg, "encoder could not open its sink");
		return FB_EXIT_RUNTIME;
	}
	out.taken = 0;
	out.k.stop_fd = stop_fd;
	rc = drain(seg, &out, why, sizeof(why));
	if (rc == -EOWNERDEAD && stop_requested(stop_fd, 200))
		rc = -EINTR; /* a live fb-render saw the broker die first: it names the cause */
	if (out.ff.pid <= 0) {
		if (out.fd != STDOUT_FILENO && close(out.fd) < 0 && rc == 0) {
			snprintf(why, sizeof(why), "closing %s: %s", o->output, strerror(errno));
			rc = -EIO;
		}
	} else {
		rc = finish_ffmpeg(&out, o, rc, why, sizeof(why));
	}
	free(out.marker);
	sink_free(&out.k);
	if (rc == -ECANCELED)
		return FB_EXIT_ABORTED;
	if (rc == -EINTR) {
		/* Whoever sent SIGTERM knows why (fb-render says so): the
		 * cause is theirs to print, one line per failure. */
		fb_ring_abort(seg, "fb-encoder stopped by SIGTERM");
		fb_debug(PROG, "stopped by SIGTERM at frame %llu; the output is finished as far as it got",
			 (unsigned long long)out.taken);
		return 128 + SIGTERM;
	}
	if (rc) {
		fb_ring_abort(seg, why);
		/* The broker's death, under fb-render: fb-render says it, once
		 * (it reaps the broker before us). */
		if (rc == -EOWNERDEAD && fb_supervised())
			fb_debug(PROG, "%s", why);
		else
			fb_err(PROG, "%s", why);
		return FB_EXIT_RUNTIME;
	}
	fb_ring_finish(seg);
	return FB_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct encoder_opts o;
	struct fb_seg *seg;
	char refusal[4352];
	sigset_t term;
	int rc, code, stop_fd;

	if (parse_args(argc, argv, &o))
		return FB_EXIT_USAGE;
	/* Before anything is touched: -o must not be an input or a segment. */
	if (!o.raw && fb_output_names_fd(o.output)) {
		fb_err(PROG, "refusing -o %s: " FB_OUTPUT_FD_REFUSAL, o.output);
		return FB_EXIT_USAGE;
	}
	if (!o.raw && fb_output_forges_stats(o.output)) {
		fb_reason_copy(refusal, sizeof(refusal), o.output, strlen(o.output));
		fb_err(PROG, "refusing -o %s: " FB_OUTPUT_FORGES_REFUSAL, refusal);
		return FB_EXIT_USAGE;
	}
	if (fb_output_check(o.output, &(struct fb_output_input){ "the --audio file", o.audio },
			    o.audio ? 1 : 0, o.name, refusal, sizeof(refusal))) {
		fb_err(PROG, "refusing -o %s: %s", o.output, refusal);
		return FB_EXIT_USAGE;
	}
	/* A closed reader must be an error we report, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	code = fb_seg_attach_worker(PROG, o.name, o.seg_fd, o.attach_timeout_ms, &seg);
	if (code) /* 2: what sits at the name was refused (not a segment, not ours) */
		return code;
	rc = fb_fault_from_env(FB_ROLE_ENCODER, &seg->fault, refusal, sizeof(refusal));
	if (rc) { /* malformed is a usage error; out of memory is not */
		fb_err(PROG, "%s", refusal);
		fb_seg_detach(seg);
		return rc == -ENOMEM ? FB_EXIT_RUNTIME : FB_EXIT_USAGE;
	}
	rc = fb_ring_register(seg, FB_ROLE_ENCODER);
	if (rc == 1) { /* the render is already over */
		fb_seg_detach(seg);
		return FB_EXIT_OK;
	}
	if (rc == -EOWNERDEAD && fb_ring_state(seg) == FB_SEG_ABORTED) {
		/* Aborted, and its broker gone, before we could register (a
		 * producer's fb_fail at its first claim, say): aborted
		 * elsewhere, as in drain(); the cause is the segment's, said
		 * by whoever started the render, not "a stale segment". */
		fb_seg_detach(seg);
		return FB_EXIT_ABORTED;
	}
	if (rc) {
		fb_err(PROG, "cannot register with segment %s: %s", o.name,
		       rc == -EOWNERDEAD ? "its broker is gone (stale segment)" :
		       rc == -EBUSY ? "another encoder is attached" : strerror(-rc));
		fb_seg_detach(seg);
		return FB_EXIT_RUNTIME;
	}
	/* SIGTERM (fb-render's death signal, or a plain kill) stops us the
	 * way an abort does: ffmpeg's input is closed so the file is
	 * finished, and ffmpeg is bounded — dying at once would leave an
	 * ffmpeg blocked on its output (a FIFO nobody reads) forever. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	if (sigprocmask(SIG_BLOCK, &term, NULL) < 0 ||
	    (stop_fd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK)) < 0) {
		fb_err(PROG, "signalfd: %s", strerror(errno));
		fb_ring_unregister(seg);
		fb_seg_detach(seg);
		return FB_EXIT_RUNTIME;
	}
	code = encode(seg, &o, stop_fd);
	close(stop_fd);
	fb_ring_unregister(seg);
	fb_seg_detach(seg);
	return code;
}
