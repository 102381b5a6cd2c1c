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
#include <stdint.h>
#include <sys/types.h>

/* How a --range chunk's container comment begins; scripts/fb-stitch reads it. */
#define FB_CHUNK_TAG "framebroker chunk "

struct ffmpeg_sink {
	pid_t pid;
	int pid_fd; /* pidfd of ffmpeg (readable once it exited), or -1 (ENOSYS) */
	int in_fd;  /* write end of ffmpeg's stdin: O_NONBLOCK, 1 MiB if allowed */
	int err_fd; /* memfd holding ffmpeg's stderr */
};

/*
 * Start ffmpeg reading rawvideo of geometry G from its stdin, with
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
 * Close ffmpeg's stdin (it then finishes the file) and reap it, killing it
 * if it has not exited within TIMEOUT_MS.  SENT is the bytes written to its
 * stdin, UNREAD those of them still in the pipe (never read).  Returns 0 if
 * it exited 0 having read all SENT bytes: none unread and, when its final
 * statistics say (ffmpeg runs at -loglevel level+verbose into the memfd),
 * all SENT bytes demuxed from pipe:0 — ffmpeg's read-ahead takes bytes of
 * frames it then drops when -frames or -t ends the output.  Otherwise
 * fills WHY with "ffmpeg exited with status N", "ffmpeg killed by signal
 * N" or "ffmpeg exited 0 but stopped reading its input after N of M
 * bytes", then its last error
 * lines (or its last "frame=" line), and returns -1.
 */
int ffmpeg_sink_finish(struct ffmpeg_sink *s, uint64_t sent, uint64_t unread, int timeout_ms,
		       char *why, size_t why_len);

/*
 * Is ffmpeg blocked reading its stdin (a thread of it in read(0, ...), by
 * /proc/PID/task/TID/syscall)?  1 yes, 0 no, -1 cannot tell.  With every
 * byte read, that is the proof it still wants input: an ffmpeg whose output
 * options (-t, -frames) ended the output finishes without reading again.
 */
int ffmpeg_sink_reading(const struct ffmpeg_sink *s);

/* Append ": " and ffmpeg's last error lines (see above) to WHY. */
void ffmpeg_sink_quote(const struct ffmpeg_sink *s, char *why, size_t why_len);

/* Close what finish left open (the stderr memfd). */
void ffmpeg_sink_free(struct ffmpeg_sink *s);

#endif
