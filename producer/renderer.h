/*
 * renderer — an external program as the producer's renderer (--source
 * exec:CMD / sh:CMD).  The producer starts it once and then, per claimed
 * frame, writes the frame's index as a decimal line to its stdin and reads
 * exactly one frame's bytes from its stdout straight into the slot.
 *
 * The renderer gets the geometry in its environment: FB_WIDTH, FB_HEIGHT,
 * FB_PIX_FMT (ffmpeg's name), FB_FPS, FB_FRAMES, FB_FRAME_BYTES, and
 * FB_FRAME_FORMAT (raw, png, jpeg) with FB_SLOT_BYTES, the most an encoded
 * frame may take.  Its stderr
 * is the producer's.  It dies with the producer (PR_SET_PDEATHSIG), so a
 * producer killed for a hang takes its renderer along.
 */
#ifndef FB_RENDERER_H
#define FB_RENDERER_H

#include "framebroker.h"

#include <stddef.h>
#include <sys/types.h>

struct renderer {
	pid_t pid;
	int pid_fd;  /* pidfd on it: readable once it exits; -1 without pidfds */
	int watch_fd; /* the caller's: readable means stop waiting (the broker's pidfd), or -1 */
	int to_fd;   /* its stdin */
	int from_fd; /* its stdout */
};

/* Start ARGV with geometry G.  0, or -errno (-ENOENT: no such program),
 * with nothing left running. */
int renderer_start(struct renderer *r, char *const *argv, const struct fb_geometry *g);

/* Ask for FRAME and read its LEN bytes into BUF.  0; -EPIPE if the renderer
 * is gone (or closed its stdin); -ECHILD if it died while we waited for the
 * frame — seen through its pid at once, even when a child of it still
 * holds its stdout open (so EOF would never come); -EIO if its output
 * ended inside a frame; -EOWNERDEAD if WATCH_FD became readable (the broker
 * died) while we waited;
 * -EOVERFLOW if, before we asked, it had written bytes nobody asked for
 * (more than one frame last time: its frames would be shifted). */
int renderer_frame(struct renderer *r, uint64_t frame, void *buf, uint64_t len);

/*
 * Ask for FRAME as one encoded image (FORMAT FB_FRAME_PNG or FB_FRAME_JPEG)
 * and read it into BUF, which holds CAP bytes; *LEN gets its size.  The
 * image's own structure says where it ends (PNG chunks up to IEND; JPEG
 * segments up to EOI).  0; -EPIPE, -EIO or -EOVERFLOW as renderer_frame;
 * -EBADMSG if it is not such an image or bytes follow its end; -EFBIG if it
 * is larger than CAP (*LEN then gets its size as far as it was read, up to
 * 16 MiB past CAP).  -ECHILD as renderer_frame.
 */
int renderer_image(struct renderer *r, uint32_t format, uint64_t frame, unsigned char *buf,
		   uint64_t cap, uint64_t *len);

/* Close its stdin (its cue to exit), give it up to 1 s, SIGKILL it after
 * that, reap it; HOW gets "exited with status N" or "was killed by signal N". */
void renderer_stop(struct renderer *r, char *how, size_t how_len);

#endif
