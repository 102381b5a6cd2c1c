/*
 * framebroker.h — make any program a framebroker capture process.
 *
 * A render started with fb-render (or fb-broker) owns a shared-memory ring
 * of frame slots.  A program linked with libframebroker attaches to it by
 * name (or, started by fb-render --source attach:PROGRAM, with a NULL name:
 * from its environment) and loops:
 *
 *	fb_producer *p;
 *	uint64_t frame;
 *	void *pixels;
 *
 *	if (fb_attach("/my-render", 5000, &p) < 0) ...	// or fb_attach(NULL, ...)
 *	while (fb_claim(p, &frame, &pixels) == 1) {
 *		render(frame, pixels);		// straight into the slot
 *		fb_publish(p, frame_bytes);
 *	}
 *	fb_detach(p);
 *
 * Frames are handed out in order to whoever asks; the encoder writes them
 * out strictly in frame order.  fb_claim() blocks while the ring is full
 * (back-pressure) and returns 0 when no frame is left.  The broker
 * supervises every attached producer: if this process dies holding a frame,
 * the frame is given to another producer; if it holds one longer than the
 * render's --frame-timeout, it is killed.
 *
 * Errors are negative errno values (fb_strerror() names them):
 *	-ENOENT		no segment of that name (after waiting timeout_ms)
 *	-EAGAIN		the segment still being created when timeout_ms ran out
 *	-EPROTO		not a framebroker segment of this version, or corrupt
 *	-EMEDIUMTYPE	what sits at the name is no segment: a FIFO, a directory, a
 *			device, a symlink (refused at once; nothing is opened that
 *			could block)
 *	-EPERM		the segment belongs to another user, or its mode lets others
 *			write it: a producer attaches by name only to a segment of
 *			its own user that nobody else could have forged
 *	-EACCES		another user's segment we may not open
 *	-EOWNERDEAD	its broker is gone
 *	-ECANCELED	the render was aborted (by a signal, a failure elsewhere)
 *	-ESTALE		the claim is no longer ours (we were too slow: reissued)
 *	-EINVAL		a bad argument (a length over the slot, no claim held)
 *	-EDESTADDRREQ	fb_attach(NULL, ...) and FB_SEGMENT is not set
 *	-ENOMEM, ...	from the system
 *
 * One producer handle per process, used from one thread; a child forked
 * after fb_attach must attach on its own (the handle knows its pid).  The
 * handle is opaque; the segment's layout is not part of this interface.
 */
#ifndef FRAMEBROKER_H
#define FRAMEBROKER_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FB_VERSION_MAJOR 0
#define FB_VERSION_MINOR 7
#define FB_VERSION_PATCH 0

typedef struct fb_producer fb_producer;

/* What a render looks like; fixed for its life. */
struct fb_geometry {
	uint32_t width, height;
	const char *pix_fmt;  /* ffmpeg's name: "rgba", "yuv420p", ... */
	uint32_t fps;         /* the frame rate rounded to the nearest integer, at least 1
			       * (29.97: 30; 0.4: 1);
			       * exactly, it is fps_num / fps_den (below) */
	uint32_t slots;       /* ring slots: at most this many frames in flight */
	uint64_t frames;      /* frames in the render: 0 .. frames-1 */
	uint64_t frame_bytes; /* bytes of one raw frame */
	const char *frame_format; /* "raw": publish frame_bytes; "png"/"jpeg":
				   * publish one encoded image's length */
	uint64_t slot_bytes;  /* writable bytes at each claimed frame's pointer */
	uint64_t first, end;  /* this ring renders frames first..end-1 of 0..frames-1:
			       * all of them, or one chunk (fb-render --range A:B) */
	uint32_t fps_num, fps_den; /* the frame rate, a reduced fraction: 30000/1001
				    * for 29.97, 30/1 for 30 (since 0.7; taken from
				    * reserved[0], so the size is unchanged) */
	uint64_t reserved[5]; /* zero; room for later fields without a new soname */
};

/*
 * Attach to the render's segment NAME (letters, digits, '.', '_', '-',
 * with or without a leading "/": "tour" and "/tour" are one segment, as
 * for shm_open), waiting up to TIMEOUT_MS for it to appear, and register this process
 * as a producer.  0 with *OUT set, or -errno (see above).
 *
 * NAME NULL: the render that started this process (fb-render --source
 * attach:PROGRAM) — its name from FB_SEGMENT, and the segment through the
 * descriptor this process inherited, FB_FD (so even a producer started
 * after a short render ended, its name unlinked, attaches and finds no
 * frame left).  The descriptor is kept, close-on-exec: a later
 * fb_attach(NULL, ...) uses it again, programs this one runs do not get it.
 * Without FB_FD, or if it names no open descriptor, by the name.  Started
 * that way, exit 0 once fb_claim() returned 0, or 4 to have the frame you
 * gave back (fb_abort_claim) rendered by a replacement; dying costs the
 * frame held, reissued; any other exit status fails the render.
 */
int fb_attach(const char *name, int timeout_ms, fb_producer **out);

/*
 * Claim the next frame: *FRAME gets its index in the render (geometry's
 * first..end-1: render that frame), *DATA its slot (geometry's
 * slot_bytes writable bytes, page aligned).  Blocks while the ring is full.
 * Returns 1 (claimed), 0 (no frame left: every frame is out), or -errno.
 * Claiming again before publishing gives the held frame back first.
 */
int fb_claim(fb_producer *p, uint64_t *frame, void **data);

/* Hand the claimed frame to the encoder: LENGTH bytes of the slot are the
 * frame (the raw frame size for raw renders).  0 or -errno. */
int fb_publish(fb_producer *p, uint64_t length);

/* Give the claimed frame back unrendered, for another producer (or this
 * one, later).  0, or -EINVAL if nothing is claimed, or -errno. */
int fb_abort_claim(fb_producer *p);

/* Fill *G with the render's geometry. */
void fb_get_geometry(const fb_producer *p, struct fb_geometry *g);

/* Give back any claimed frame, unregister, unmap, free.  NULL is fine. */
void fb_detach(fb_producer *p);

/* A message for an error returned above (ERR < 0); never NULL. */
const char *fb_strerror(int err);

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
const char *fb_version(void);

#ifdef __cplusplus
}
#endif

#endif
