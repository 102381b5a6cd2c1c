/*
 * ffmpeg_sink — an ffmpeg child fed raw frames on its stdin.  Spawned from an
 * argv (never a shell); its stderr goes to an anonymous memfd so the encoder
 * can quote ffmpeg's last lines when it fails without ever having to drain a
 * pipe while it writes frames.
 */
#ifndef FB_FFMPEG_SINK_H
#define FB_FFMPEG_SINK_H

#include "fb_segment.h"

#include <stddef.h>
#include <sys/types.h>

/* How a --range chunk's container comment begins; scripts/fb-stitch reads it. */
#define FB_CHUNK_TAG "framebroker chunk "

struct ffmpeg_sink {
	pid_t pid;
	int in_fd;  /* write end of ffmpeg's stdin: O_NONBLOCK, 1 MiB if allowed */
	int err_fd; /* memfd holding ffmpeg's stderr */
};

/*
 * Start ffmpeg reading rawvideo of geometry G from its stdin, with
 * OUT_OPTS[0..N_OPTS) (NULL: the default x264 options) then "-y OUTPUT".
 * AUDIO (or NULL) is muxed in as the audio track, padded with silence or
 * cut so the output lasts exactly as long as the video.  A chunk's output
 * (G->chunk) gets the comment FB_CHUNK_TAG "A:B/N": frames A..B-1 of N.
 * Returns 0 or -errno (-ENOENT: no ffmpeg on PATH).
 */
int ffmpeg_sink_start(struct ffmpeg_sink *s, const struct fb_geom *g,
		      char *const *out_opts, int n_opts, const char *output, const char *audio);

/*
 * Close ffmpeg's stdin (it then finishes the file) and reap it, killing it
 * if it has not exited within TIMEOUT_MS.  Returns 0 if it exited 0;
 * otherwise fills WHY with "ffmpeg exited with status N" or "ffmpeg killed
 * by signal N" and its last stderr lines, and returns -1.
 */
int ffmpeg_sink_finish(struct ffmpeg_sink *s, int timeout_ms, char *why, size_t why_len);

#endif
