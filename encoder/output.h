/*
 * output — one output of fb-encoder: a raw file (or stdout) or one ffmpeg
 * child, and the drain of a span of the ring's frames into it, in order,
 * straight from the slots (sink.h).  A plain render has one output for all
 * its frames; a segmented one (segments.h) one ffmpeg per segment.
 */
#ifndef FB_ENCODER_OUTPUT_H
#define FB_ENCODER_OUTPUT_H

#include "fb_ring.h"
#include "ffmpeg_sink.h"
#include "sink.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROG "fb-encoder"

/* fb-encoder's options. */
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
	uint64_t segment_frames; /* --segment-frames L: 0, one output */
	const char *segment_dir; /* --segment-dir: the work directory */
	uint32_t max_restarts;   /* --max-restarts: ffmpeg restarts in place */
};

/* Asked to stop by SIGTERM: how long ffmpeg may take to finish the file
 * before it is killed (fb-render, if alive, allows 30 s in all). */
#define TERM_GRACE_MS 10000

/* Where frames go: a raw fd, or ffmpeg's stdin. */
struct output {
	int fd;
	struct ffmpeg_sink ff; /* ff.pid > 0: ffmpeg */
	struct sink k;
	uint64_t taken; /* frames acquired: the next ring index to take */
	uint64_t freed; /* frames released: [freed, taken) are held */
	uint64_t sunk;  /* frames whose bytes are out (sink_done): freed ≤ sunk ≤ taken */
	/* ffmpeg: a copy of the span's last frame, the end marker's (ffmpeg_sink.h) */
	char *marker;
	size_t marker_len;
};

/*
 * Open OUT: the raw output (O->output), or ffmpeg writing PATH for the
 * frames of geometry G (the render's, or a segment's: ffmpeg_sink_start).
 * STOP_FD is SIGTERM's signalfd, watched in every wait.  0; -2 the render
 * ended while a FIFO waited for its reader; -1 said why.
 */
int output_open(struct output *out, const struct encoder_opts *o, const struct fb_seg *seg,
		const struct fb_geom *g, const char *path, int stop_fd);

/*
 * Push ring frames [OUT->taken, TO) in order, releasing each once its
 * bytes are out — all but frame TO-1 when HOLD_END (it stays ENCODING, so
 * no producer can take the render for done before its last segment is
 * verified).  Into ffmpeg, the end marker follows.  0, -ECANCELED (aborted
 * elsewhere), or another -errno with WHY filled; -EPIPE/-ECHILD: ffmpeg
 * left.
 */
int output_drain(struct fb_seg *seg, struct output *out, uint64_t to, bool hold_end, char *why,
		 size_t why_len);

/* Release every frame OUT holds (its sink is gone: nothing reads them). */
int output_release_held(struct fb_seg *seg, struct output *out);

/*
 * Close ffmpeg's stdin and judge its end (ffmpeg_sink_finish) after
 * output_drain returned RC.  Returns RC, or -EIO with WHY replaced by
 * ffmpeg's cause; OUT->ff.signo then says whether a signal killed it.
 */
int output_finish_ffmpeg(struct output *out, const struct encoder_opts *o, int rc, char *why,
			 size_t why_len);

/* Has SIGTERM come (STOP_FD, a signalfd, readable), or does it within
 * MS?  Left pending: every later wait sees it too. */
bool output_stop_requested(int stop_fd, int ms);

/* OUT's ffmpeg is not wanted (it was given no frame): killed, reaped,
 * its file left for the next start to remove; then output_close. */
void output_abandon(struct output *out);

/* Close what OUT holds (not the frames: output_release_held). */
void output_close(struct output *out);

#endif
