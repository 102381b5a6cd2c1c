/*
 * ffmpeg_argv — the command line fb-encoder starts ffmpeg with: the input
 * as the segment's geometry describes it (rawvideo of a pixel format, or
 * one PNG/JPEG per frame) at the render's exact rate, trimmed to the
 * render's frames (so the end marker, ffmpeg_sink.h, is read and dropped),
 * an optional audio track cut to the video, the user's output options, a
 * --range chunk's tag and timestamps, and the output name.  Pure: no
 * process is started here (ffmpeg_sink.c does that).
 */
#ifndef FB_FFMPEG_ARGV_H
#define FB_FFMPEG_ARGV_H

#include "fb_geom.h"

#include <limits.h>

#define FFMPEG_MAX_OUT_OPTS 64
#define FFMPEG_FIXED_ARGS 19 /* "ffmpeg" ... "-t" D "-i" "pipe:0", and the output's "-r" FPS */
#define FFMPEG_AUDIO_ARGS 11 /* "-i" AUDIO "-map" ... "-shortest" */
#define FFMPEG_CHUNK_ARGS 4  /* "-itsoffset" T "-metadata" "comment=framebroker chunk A:B/N" */

/* An argv and the strings it points into. */
struct ffmpeg_argv {
	char *v[FFMPEG_FIXED_ARGS + FFMPEG_AUDIO_ARGS + FFMPEG_MAX_OUT_OPTS + FFMPEG_CHUNK_ARGS +
		3]; /* + "-y" OUTPUT NULL */
	int n;
	char size[32], fps[32], tag[96], offset[48], dur[48], outname[PATH_MAX + 2];
};

/*
 * Fill A (NULL-terminated A->v) for geometry G, OUT_OPTS[0..N_OPTS) (NULL:
 * the default x264 options), OUTPUT and AUDIO (or NULL), as
 * ffmpeg_sink_start (ffmpeg_sink.h) describes.  0, -E2BIG (more than
 * FFMPEG_MAX_OUT_OPTS options) or -ENAMETOOLONG.
 */
int ffmpeg_argv_build(struct ffmpeg_argv *a, const struct fb_geom *g, char *const *out_opts,
		      int n_opts, const char *output, const char *audio);

#endif
