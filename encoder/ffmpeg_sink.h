/*
 * ffmpeg_sink — an ffmpeg child fed raw frames on its stdin.  Spawned from an
 * argv (never a shell); its stderr goes to an anonymous memfd so the encoder
 * can quote ffmpeg's last lines when it fails without ever having to drain a
 * pipe while it writes frames.
 */
#ifndef FB_FFMPEG_SINK_H
#define FB_FFMPEG_SINK_H

#include "fb_segment.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* How a --range chunk's container comment begins; scripts/fb-stitch reads it. */
#define FB_CHUNK_TAG "framebroker chunk "

/*
 * How ffmpeg proves it took every frame, through any wrapper (a shell
 * script, nice, a shim: the process we start need not be ffmpeg).  After
 * the render's N frames the encoder writes an end marker: frames of zeros
 * (raw) or copies of the last image (PNG, JPEG; ffmpeg_sink_marker_frames),
 * which ffmpeg is told to drop by
 * the input option -t (N frames long).  An ffmpeg that still wants input
 * after frame N-1 reads the marker and decodes at least its first frame;
 * one whose output options (-t, -frames) ended the output before has no
 * reason to read further, and exits 0 all the same.  Its final statistics
 * ("Input stream #0:0 (video): ... F frames decoded", or P packets read
 * for a stream copy) say which: they are read from FFREPORT's report, a
 * memfd ffmpeg opens by its /proc path and writes at level verbose
 * whatever -loglevel the user adds, else from stderr.
 */
struct ffmpeg_sink {
	pid_t pid;
	int pid_fd; /* pidfd of ffmpeg (readable once it exited), or -1 (ENOSYS) */
	int in_fd;  /* write end of ffmpeg's stdin: O_NONBLOCK, 1 MiB if allowed */
	int err_fd; /* memfd holding ffmpeg's stderr */
	int rep_fd; /* memfd holding ffmpeg's report (FFREPORT) */
	uint64_t frames; /* the render's frames (this chunk's), before the marker */
	/* After ffmpeg_sink_finish: ffmpeg's count (-1: none) and where it
	 * was read ("report", "stderr", or NULL). */
	long long decoded;
	const char *stats_from;
	bool stopped; /* a stop request came while finish waited for it */
	/* After ffmpeg_sink_finish: the signal that killed it, 0 if it exited
	 * (or if we killed it: a timeout or a stop is no crash). */
	int signo;
};

/*
 * Frames in the end marker of G's render.  Raw frames: 1 (ffmpeg 5.1 reads
 * and decodes them one at a time).  PNG and JPEG: 16, as ffmpeg's
 * frame-threaded decoders (16 threads at most when automatic) hold up to
 * 15 packets before a frame comes out: an ffmpeg whose output ended at
 * frame N-1 may read 15 frames past it, never 16.  ffmpeg stops reading
 * the marker once a frame of it reaches the trim, so the rest may stay
 * unread.
 */
int ffmpeg_sink_marker_frames(const struct fb_geom *g);

/*
 * Start ffmpeg reading rawvideo of geometry G from its stdin (G's
 * total_frames, then the end marker), with
 * OUT_OPTS[0..N_OPTS) (NULL: the default x264 options) then "-y OUTPUT".
 * AUDIO (or NULL) is muxed in as the audio track, padded with silence or
 * cut so the output lasts exactly as long as the video.  A chunk's output
 * (G->chunk) gets the comment FB_CHUNK_TAG "A:B/N": frames A..B-1 of N.
 * An OUTPUT beginning with '-' (but not "-", stdout) is passed as
 * "./OUTPUT": a file name, never an option.
 * Returns 0 or -errno (-ENOENT: no ffmpeg on PATH, -ENAMETOOLONG).
 */
int ffmpeg_sink_start(struct ffmpeg_sink *s, const struct fb_geom *g,
		      char *const *out_opts, int n_opts, const char *output, const char *audio);

/*
 * Close ffmpeg's stdin (it reads what is left in the pipe, then EOF, and
 * finishes the file) and reap it, killing it if it has not exited within
 * TIMEOUT_MS, or within GRACE_MS of STOP_FD (or -1) becoming readable
 * (then s->stopped).  Returns 0 if it exited 0, its statistics count more than
 * the render's frames (the end marker: see above) and it logged no error.
 * Otherwise fills WHY with "ffmpeg exited with status N", "ffmpeg killed
 * by signal N", "ffmpeg exited 0 but stopped reading its input after N of
 * M frames" (or "... before its end, after all M frames"), "ffmpeg exited
 * 0 but reported errors" or "... its final statistics are missing", then
 * its last error lines (or its last "frame=" line), and returns -1.  No
 * guess about its process tree: a wrapper costs nothing.
 */
int ffmpeg_sink_finish(struct ffmpeg_sink *s, int timeout_ms, int stop_fd, int grace_ms,
		       char *why, size_t why_len);

/* Append ": " and ffmpeg's last error lines (see above) to WHY. */
void ffmpeg_sink_quote(const struct ffmpeg_sink *s, char *why, size_t why_len);

/* SIGKILL ffmpeg and reap it: one that is not wanted (no input given). */
void ffmpeg_sink_kill(struct ffmpeg_sink *s);

/* Close what finish left open (the memfds). */
void ffmpeg_sink_free(struct ffmpeg_sink *s);

#endif
