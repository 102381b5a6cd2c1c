/*
 * fb_ring — the claim / publish / consume / release protocol on a segment.
 *
 * Truth lives in the per-slot words and the two counters in the header, all
 * read and written under the header's robust process-shared mutex (the
 * lock: fb_lock.h, which also states the naming rule for lock contracts).
 * The three semaphores carry no state: they only wake sleepers, and every
 * sleeper re-checks the words under the lock when it wakes (and at least
 * every FB_WAIT_SLICE_MS, so a wake-up lost to a dying process costs a
 * slice, not the render).  The life cycle (fb_life.h) and the process
 * registry with the broker's sweep (fb_registry.h) are their own modules;
 * this header includes theirs, so one include still reaches every ring
 * call.  Rules, invariants and the deadlock-freedom argument:
 * docs/ARCHITECTURE.md.
 */
#ifndef FB_RING_H
#define FB_RING_H

#include "fb_segment.h"
#include "fb_life.h"
#include "fb_lock.h"
#include "fb_registry.h"

#include <stdbool.h>
#include <sys/types.h>

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
 * (the render is then aborted with a reason), -EOWNERDEAD when the broker
 * died, -EAGAIN instead of sleeping when SEG->nowait is set.
 */
int fb_ring_claim(struct fb_seg *seg, struct fb_claim *c);

/*
 * Producer: hand the claimed frame to the encoder; LENGTH bytes of the slot
 * are valid.  -ESTALE if the claim is no longer ours, -EINVAL for a length
 * the format does not allow (raw: exactly one frame; png/jpeg: 1..slot
 * bytes) — the claim stays ours —, -ECANCELED if aborted.
 */
int fb_ring_publish(struct fb_seg *seg, const struct fb_claim *c, uint64_t length);

/*
 * Producer: give the claimed frame back unrendered (state REISSUE, exactly
 * as if its producer had died), for the next claim.  -ESTALE if the claim
 * is no longer ours, -ECANCELED if aborted.
 */
int fb_ring_unclaim(struct fb_seg *seg, const struct fb_claim *c);

/* A frame the encoder holds: its slot's data, valid until released. */
struct fb_frame_ref {
	uint64_t frame;
	const unsigned char *data;
	uint64_t length;
};

/*
 * Encoder: take FRAME as soon as it is published, plus up to MAX-1 frames
 * after it that are published already, marking them ENCODING; OUT[0..n)
 * describes them.  FRAME is the first frame the encoder does not hold yet:
 * it holds every frame from next_encode up to FRAME (taken, not released),
 * so it may keep frames while a sink still reads them (vmsplice) and take
 * the next ones.  Waits at most WAIT_MS (< 0: as long as it takes).
 * Returns n >= 1, -EAGAIN (the wait ran out, or SEG->nowait), -ECANCELED,
 * -EPROTO, -EOWNERDEAD, or -EINVAL (MAX 0 or FRAME past the end).
 */
int fb_ring_acquire(struct fb_seg *seg, uint64_t frame, struct fb_frame_ref *out,
		    uint32_t max, int wait_ms);

/*
 * Encoder: the N oldest frames it holds, FRAME (== next_encode) onwards,
 * are out of the slots: free the slots and wake a producer per slot.
 */
int fb_ring_release(struct fb_seg *seg, uint64_t frame, uint32_t n);

/* With the lock held: abort for a broken invariant and say which
 * ("segment corrupt: WHAT"); releases the lock, then wakes everyone.
 * -EPROTO (ours was the first abort) or -ECANCELED.  For the ring's own
 * steps (fb_ring.c, fb_rewind.c). */
int fb_ring_corrupt_unlock(struct fb_seg *seg, const char *what);

#endif
