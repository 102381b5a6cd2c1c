/*
 * fb-encoder — drains the ring strictly in frame order into a sink: an
 * ffmpeg child's stdin, or a raw file (or stdout) — one output for the
 * whole render (output.h), or one ffmpeg per segment (segments.h).  The
 * options, the attach and registration, SIGTERM as a stop, the exit code.
 */
#include "fb_cli.h"
#include "fb_fault.h"
#include "fb_output.h"
#include "fb_args.h"
#include "fb_attach.h"
#include "output.h"
#include "segments.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

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
		"--segment-frames L --segment-dir DIR  one ffmpeg per L frames, each writing\n"
		"                DIR/seg-FIRST-END.EXT, recorded in DIR/plan (fb-render --segment)\n"
		"--max-restarts N  segments: ffmpeg killed by a signal is started again, the\n"
		"                segment's frames rendered again, N times in all (default 0)\n"
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
		{ "segment-frames", required_argument, NULL, 'L' },
		{ "segment-dir", required_argument, NULL, 'D' },
		{ "max-restarts", required_argument, NULL, 'R' },
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
	while ((c = fb_cli_next(&cli, argc, argv)) > 0) {
		if (c == 'D') {
			o->segment_dir = cli.arg;
			continue;
		}
		if (fb_opt_u64(PROG, c == 'j' ? "jitter-ms" : c == 'L' ? "segment-frames" : "max-restarts",
			       cli.arg, c == 'L' ? 1 : 0, c == 'L' ? UINT64_MAX / 2 : c == 'j' ? 3600000 : 1000000,
			       &v))
			return -1;
		if (c == 'j')
			o->jitter_ms = (int)v;
		else if (c == 'L')
			o->segment_frames = v;
		else
			o->max_restarts = (uint32_t)v;
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
	if (!o->segment_frames != !o->segment_dir) {
		fb_err(PROG, "--segment-frames and --segment-dir go together");
		return -1;
	}
	if (o->segment_frames && (o->raw || o->audio || strcmp(o->output, "-") == 0)) {
		fb_err(PROG, "segments need the ffmpeg sink, a file -o and no --audio");
		return -1;
	}
	if (o->audio && o->raw) {
		fb_err(PROG, "--audio needs the ffmpeg sink, not --sink raw");
		return -1;
	}
	return 0;
}

/* One output for every frame: drain, then close it.  0 or -errno (WHY
 * filled; -ENOTCONN: it could not be opened, said already).  *AT: the
 * frames taken. */
static int encode_whole(struct fb_seg *seg, const struct encoder_opts *o, int stop_fd, char *why,
			size_t why_len, uint64_t *at)
{
	struct output out = { .fd = -1 };
	int rc;

	rc = output_open(&out, o, seg, &seg->geom, o->output, stop_fd);
	if (rc)
		return rc == -2 ? -ECANCELED : -ENOTCONN;
	rc = output_drain(seg, &out, seg->geom.total_frames, false, why, why_len);
	if (rc == -EOWNERDEAD && output_stop_requested(stop_fd, 200))
		rc = -EINTR; /* a live fb-render saw the broker die first: it names the cause */
	if (out.ff.pid <= 0) {
		if (out.fd != STDOUT_FILENO && close(out.fd) < 0 && rc == 0) {
			snprintf(why, why_len, "closing %s: %s", o->output, strerror(errno));
			rc = -EIO;
		}
		out.fd = -1;
	} else {
		rc = output_finish_ffmpeg(&out, o, rc, why, why_len);
	}
	*at = out.taken;
	output_close(&out);
	return rc;
}

/* Encode (in segments, or whole), then close.  Returns the exit code. */
static int encode(struct fb_seg *seg, const struct encoder_opts *o, int stop_fd)
{
	char why[FB_REASON_MAX] = "";
	uint64_t at = 0;
	int rc;

	if (o->segment_frames)
		rc = segments_encode(seg, o, stop_fd, why, sizeof(why), &at);
	else
		rc = encode_whole(seg, o, stop_fd, why, sizeof(why), &at);
	if (rc == -ECANCELED)
		return FB_EXIT_ABORTED;
	if (rc == -ENOTCONN) {
		fb_ring_abort(seg, "encoder could not open its sink");
		return FB_EXIT_RUNTIME;
	}
	if (rc == -EINTR) {
		/* Whoever sent SIGTERM knows why (fb-render says so): the
		 * cause is theirs to print, one line per failure. */
		fb_ring_abort(seg, "fb-encoder stopped by SIGTERM");
		fb_debug(PROG, "stopped by SIGTERM at frame %llu; the output is finished as far as it got",
			 (unsigned long long)at);
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
