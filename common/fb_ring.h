/*
 * fb_ring — the claim / publish / consume / release protocol on a segment.
 *
 * Truth lives in the per-slot words and the two counters in the header, all
 * read and written under the header's robust process-shared mutex.  The
 * three semaphores carry no state: they only wake sleepers, and every sleeper
 * re-checks the words under the lock when it wakes (and at least every
 * FB_WAIT_SLICE_MS, so a wake-up lost to a dying process costs a slice, not
 * the render).  Rules, invariants and the deadlock-freedom argument:
 * docs/ARCHITECTURE.md.
 */
#ifndef FB_RING_H
#define FB_RING_H

#include "fb_segment.h"

#define FB_WAIT_SLICE_MS 250

/* A frame claimed by a producer. */
struct fb_claim {
	uint64_t frame;
	uint32_t slot;
	uint64_t generation;
	unsigned char *data; /* slot memory: geom.slot_stride bytes writable */
};

/*
 * Producer: claim the next frame, sleeping while the window is full.
 * Returns 1 with *C filled, 0 when no frame is left to claim, -ECANCELED when
 * the render was aborted, -EPROTO when the segment's words are inconsistent
 * (the render is then aborted with a reason).
 */
int fb_ring_claim(struct fb_seg *seg, struct fb_claim *c);

/*
 * Producer: hand the claimed frame to the encoder; LENGTH bytes of the slot
 * are valid.  -ESTALE if the claim is no longer ours, -EINVAL for a length
 * over the slot, -ECANCELED if aborted.
 */
int fb_ring_publish(struct fb_seg *seg, const struct fb_claim *c, uint64_t length);

/*
 * Encoder: wait until FRAME (== the next frame to emit) is published, mark it
 * ENCODING and return its data and length.  Returns 0, -ECANCELED, -EPROTO.
 */
int fb_ring_acquire(struct fb_seg *seg, uint64_t frame,
		    const unsigned char **data, uint64_t *length);

/* Encoder: FRAME's bytes are out; free its slot and wake a producer. */
int fb_ring_release(struct fb_seg *seg, uint64_t frame);

/* Encoder: every frame is out and the sink closed cleanly. */
void fb_ring_finish(struct fb_seg *seg);

/*
 * Anyone: stop the render, recording REASON (first abort wins), and wake
 * every sleeper.  Idempotent; does nothing once DONE.
 */
void fb_ring_abort(struct fb_seg *seg, const char *reason);

/* Lock-free read of the life cycle state (enum fb_seg_state). */
uint32_t fb_ring_state(const struct fb_seg *seg);

/*
 * Broker: sleep until the life cycle leaves RUNNING or TIMEOUT_MS passes.
 * Returns the state seen.
 */
uint32_t fb_ring_broker_wait(struct fb_seg *seg, int timeout_ms);

#endif
