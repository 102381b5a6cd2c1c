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
 * Errors are negative errno values; fb_strerror() names every one below,
 * and man/framebroker.3 lists which call returns which:
 *	-ENOENT		no segment of that name (after waiting timeout_ms)
 *	-EAGAIN		fb_attach: the segment still being created when timeout_ms
 *			ran out; fb_claim_timed(p, 0, ...): no frame free right now
 *	-ETIMEDOUT	fb_claim_timed: no frame became free within timeout_ms
 *	-EPROTO		not a framebroker segment of this version, or corrupt
 *	-EMEDIUMTYPE	what sits at the name is no segment: a FIFO, a directory, a
 *			device, a symlink (refused at once; nothing is opened that
 *			could block)
 *	-EPERM		the segment belongs to another user, or its mode lets others
 *			write it: a producer attaches by name only to a segment of
 *			its own user that nobody else could have forged
 *	-EACCES		another user's segment we may not open
 *	-EBADF		fb_attach_fd: FD is no open descriptor
 *	-EXDEV		fb_attach_fd (and fb_attach(NULL) through FB_FD): the
 *			descriptor is another object than the segment of its name
 *	-EOWNERDEAD	its broker is gone
 *	-ENOSPC		the render's process table is full
 *	-ECANCELED	the render was aborted (by a signal, a failure elsewhere,
 *			fb_fail), or is over (fb_fail)
 *	-ESTALE		the claim is no longer ours (we were too slow: reissued)
 *	-EINVAL		a bad argument (NULL, a length over the slot, no claim
 *			held, a malformed FB_FAULT)
 *	-EDESTADDRREQ	fb_attach(NULL, ...) and FB_SEGMENT is not set
 *	-EFAULT		the claim's view (fb_claim_view) could not be cut off its
 *			slot: the frame is still claimed (see fb_claim_view)
 *	-ENOMEM, ...	from the system
 *
 * Timeouts are milliseconds, and mean the same in every call: < 0 waits as
 * long as it takes, 0 does not wait at all, > 0 waits at most that long.
 *
 * Waiting in an event loop: fb_claim_fd() gives a descriptor to poll(2)
 * for POLLIN, and fb_claim_timed(p, 0, ...) claims without blocking:
 *
 *	int fd = fb_claim_fd(p);
 *	for (;;) {
 *		int rc = fb_claim_timed(p, 0, &frame, &pixels);
 *		if (rc == -EAGAIN) { poll fd with your other descriptors; continue; }
 *		if (rc <= 0) break;		// 0: done; < 0: failed
 *		render(frame, pixels); fb_publish(p, frame_bytes);
 *	}
 *
 * How the wait works, and why it steals no other producer's wake-up: the
 * ring's semaphores carry no state, only wake-ups, and the encoder posts one
 * per freed slot, to as many producers as have said they sleep.  A claim
 * that cannot succeed at once (fb_claim_timed with a timeout >= 0, while
 * the descriptor exists or the timeout is > 0) leaves a library thread
 * asleep in the ordinary blocking claim on the handle's behalf: it is
 * counted as a sleeping producer exactly like one blocked in fb_claim(), and
 * the wake-up it takes it uses to claim the frame — for this handle.  Then
 * the descriptor becomes readable and the next fb_claim_timed (or fb_claim)
 * returns that frame at once.  Nothing polls the segment, and no wake-up
 * meant for another producer is consumed without a frame being claimed.
 * The frame is this process's from the moment the thread claimed it: its
 * --frame-timeout runs from then, so collect it soon after the descriptor
 * becomes readable (fb_detach gives it back).  The descriptor is readable
 * at all other times (when a claim is worth trying); it is the handle's,
 * close-on-exec, closed by fb_detach.
 *
 * One producer handle per process, used from one thread (the library's own
 * waiting thread, above, blocks every signal); a child forked
 * after fb_attach must attach on its own (the handle knows its pid).  The
 * handle is opaque; the segment's layout is not part of this interface.
 */
#ifndef FRAMEBROKER_H
#define FRAMEBROKER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FB_VERSION_MAJOR 0
#define FB_VERSION_MINOR 9
#define FB_VERSION_PATCH 0

/* One number per version, ordered as versions are: 0.9.0 is 0x000900. */
#define FB_VERSION_NUMBER(maj, min, patch) \
	((((unsigned long)(maj)) << 16) | (((unsigned long)(min)) << 8) | (unsigned long)(patch))
/* Is this header at least version MAJ.MIN.PATCH?  (For the library linked
 * at run time, compare fb_version_number() instead.) */
#define FB_CHECK_VERSION(maj, min, patch) \
	(FB_VERSION_NUMBER(FB_VERSION_MAJOR, FB_VERSION_MINOR, FB_VERSION_PATCH) >= \
	 FB_VERSION_NUMBER(maj, min, patch))

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
 * Attach through FD, an open descriptor of the segment (inherited: what
 * fb-producer --fd does), and register as fb_attach does.  NAME is the
 * segment's name, for messages only (NULL: FB_SEGMENT, else "/fd-N").  FD
 * stays the caller's: the handle needs it no longer once this returns (close
 * it or keep it).  No wait: the descriptor is the segment, ready or not
 * (-EAGAIN while its broker still initialises it).  0 or -errno.
 */
int fb_attach_fd(int fd, const char *name, fb_producer **out);

/*
 * fb_strerror for an attach to NAME that failed with ERR, as a program says
 * it: for a refusal (-EMEDIUMTYPE, -EPERM, -EACCES) what sits at the name
 * and whose it is ("/dev/shm/x is a FIFO, not a shared-memory segment"),
 * written into BUF (LEN bytes); otherwise fb_strerror(ERR).  Never NULL.
 */
const char *fb_attach_strerror(const char *name, int err, char *buf, size_t len);

/*
 * Claim the next frame: *FRAME gets its index in the render (geometry's
 * first..end-1: render that frame), *DATA its slot (geometry's
 * slot_bytes writable bytes, page aligned).  Blocks while the ring is full.
 * Returns 1 (claimed), 0 (no frame left: every frame is out), or -errno.
 * Claiming again before publishing gives the held frame back first.
 * fb_claim(p, f, d) is fb_claim_timed(p, -1, f, d).
 */
int fb_claim(fb_producer *p, uint64_t *frame, void **data);

/*
 * fb_claim, waiting at most TIMEOUT_MS for a free slot: < 0 as long as it
 * takes, 0 not at all (-EAGAIN when no frame is free now), > 0 at most that
 * long (-ETIMEDOUT).  After -EAGAIN (with the descriptor of fb_claim_fd in
 * use) or -ETIMEDOUT the handle goes on waiting by itself (see "Waiting in
 * an event loop" above): the frame it then gets is returned by the next
 * claim call.  1, 0 or -errno as fb_claim.
 */
int fb_claim_timed(fb_producer *p, int timeout_ms, uint64_t *frame, void **data);

/*
 * A descriptor to poll(2) for POLLIN: readable when a claim is worth trying
 * — always, except after fb_claim_timed said -EAGAIN or -ETIMEDOUT, until a
 * frame is claimed for this handle (or the render ends).  Owned by the
 * handle (do not read or close it).  >= 0, or -errno.
 */
int fb_claim_fd(fb_producer *p);

/* Hand the claimed frame to the encoder: LENGTH bytes of the slot are the
 * frame (the raw frame size for raw renders).  0 or -errno. */
int fb_publish(fb_producer *p, uint64_t length);

/* Give the claimed frame back unrendered, for another producer (or this
 * one, later).  0, or -EINVAL if nothing is claimed, or -errno (-ESTALE,
 * -ECANCELED). */
int fb_abort_claim(fb_producer *p);

/*
 * Revocable views, for bindings.  *DATA of fb_claim is the slot itself:
 * fine for code that stops writing when it publishes.  A binding that
 * hands the slot to code it does not control — a Node Buffer, a numpy
 * array, which may be kept past publish, or still be written by an I/O in
 * flight — hands out a view instead: a second mapping of the claimed
 * slot's pages (writes through it are writes into the slot, zero copy),
 * which the library cuts off the slot when the claim ends (fb_publish,
 * fb_abort_claim, the next claim, fb_detach), before the frame can be
 * anyone else's.  The view's address then holds private memory of the
 * caller's (the "stand-in": it reads zeros, and a write lands nowhere; if
 * the system refuses that memory, an access faults instead), to unmap with
 * fb_view_free once nothing refers to it.  A view nothing refers to any
 * more (the binding dropped every object over it) is not cut: say so with
 * fb_view_drop before the claim ends, and it is kept for the slot's next
 * claim, at no cost.  The cut costs about 15 us for an 8 MB slot (its page
 * tables move, they are not rebuilt); see docs/performance.md.
 *
 * The view of the claimed frame's slot (slot_bytes bytes at *VIEW, page
 * aligned): the same address until the claim ends; calling it again undoes
 * fb_view_drop.  0, -EINVAL (no claim held), or -errno from the system.
 * fb_publish refusing a length (-EINVAL, the claim goes on) leaves the view
 * as it was, at the same address.  A claim-ending call that cannot cut the
 * view (the system refusing even an inaccessible mapping) returns -EFAULT
 * and does nothing: the frame and its view stay.  The one other -EFAULT:
 * fb_publish refused the length and could not put the view back: the claim
 * goes on, its old view is a stand-in, fb_claim_view gives a new one.
 */
int fb_claim_view(fb_producer *p, void **view);

/* Nothing refers to the claim's view any more: keep it for the slot's next
 * claim instead of cutting it when the claim ends.  0, or -EINVAL (no view
 * held). */
int fb_view_drop(fb_producer *p);

/* Unmap a view that was cut off its slot (the stand-in), once nothing
 * refers to it; SLOT_BYTES is the render's geometry slot_bytes.  Needs no
 * handle: the producer may be detached by then.  0 or -errno (-EINVAL for
 * NULL, a misaligned address or 0 bytes). */
int fb_view_free(void *view, uint64_t slot_bytes);

/* In a child forked from the process holding P: the child's copies of the
 * views still map the parent's slots, so cut them all — the claim's becomes
 * a stand-in (the child's, for fb_view_free), the kept ones are unmapped.
 * The child must not use P otherwise (it attaches on its own).  0, -EINVAL
 * (NULL), or -EFAULT: the claim's view could not be cut (the system
 * refused even to make it inaccessible), so the library unmapped it (or,
 * if even that failed, left it): it is NOT the caller's — never
 * fb_view_free it (the range may hold something else by then). */
int fb_view_cut_all(fb_producer *p);

/*
 * Fail the whole render, with REASON (one line) as its cause: for a frame
 * this producer can never deliver (an encoded image larger than its slot,
 * a source file too short).  The first failure wins: 0 if this call ended
 * the render with REASON, -ECANCELED if it had ended already (aborted, or
 * done), -EINVAL for a NULL argument.  Claims and publishes then return
 * -ECANCELED everywhere.
 */
int fb_fail(fb_producer *p, const char *reason);

/*
 * Why the render was aborted, into BUF (LEN bytes, NUL-terminated, printable
 * ASCII only: it is read from the segment): the first fb_fail reason, or a
 * failure elsewhere ("broker (pid N) died"), or "render aborted (no cause
 * recorded)".  0, or -EINVAL.
 */
int fb_reason(const fb_producer *p, char *buf, size_t len);

/* The broker supervising the render: its pid, and a descriptor (a pidfd,
 * owned by the handle) that becomes readable when it dies, to poll while
 * waiting on something else; -1 without pidfds.  -EINVAL for NULL. */
int fb_broker_pid(const fb_producer *p);
int fb_broker_fd(const fb_producer *p);

/* Fill *G with the render's geometry (zeroes for a NULL P). */
void fb_get_geometry(const fb_producer *p, struct fb_geometry *g);

/* Give back any claimed frame (one the waiting thread holds too: it is
 * stopped first, within 250 ms), unregister, unmap, free.  NULL is fine.
 * The claim's view is cut first (a stand-in of the caller's, as when a claim
 * ends), the kept views unmapped.  0, or -EFAULT as fb_view_cut_all: the
 * claim's view could not be cut and is not the caller's to fb_view_free.
 * The handle is gone either way. */
int fb_detach(fb_producer *p);

/* A message for an error returned above (ERR < 0); never NULL. */
const char *fb_strerror(int err);

/* "MAJOR.MINOR.PATCH" of the library actually linked. */
const char *fb_version(void);

/* The same as numbers; fb_version_number() is FB_VERSION_NUMBER of them. */
unsigned fb_version_major(void);
unsigned fb_version_minor(void);
unsigned fb_version_patch(void);
unsigned long fb_version_number(void);

#ifdef __cplusplus
}
#endif

#endif
