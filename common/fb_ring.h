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

#include <stdbool.h>
#include <sys/types.h>

#define FB_WAIT_SLICE_MS 250
#define FB_BROKER_CHECK_MS 100
#define FB_BROKER_LOCK_MS 500 /* broker-side functions give up on the lock after this */

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

/* Encoder: every frame is out and the sink closed cleanly. */
void fb_ring_finish(struct fb_seg *seg);

/*
 * Anyone: stop the render, recording REASON (first abort wins), and wake
 * every sleeper.  Takes no lock: a CAS on the state word claims the abort,
 * so it works with the lock held by a stopped process or scribbled.
 * Idempotent; does nothing once DONE.  Returns true if this call moved the
 * render to ABORTED and its reason is the cause; false too when the
 * segment itself went bad (truncated, scribbled: fb_guard.h) — that is
 * then the recorded reason.
 */
bool fb_ring_abort(struct fb_seg *seg, const char *reason);

/* Copy the abort reason into BUF: bounded, NUL-terminated, anything but
 * printable ASCII replaced (it is segment input); "render aborted (no cause
 * recorded)" when the segment holds none. */
void fb_ring_reason(const struct fb_seg *seg, char *buf, size_t len);

/* Lock-free read of the life cycle state (enum fb_seg_state). */
uint32_t fb_ring_state(const struct fb_seg *seg);

/*
 * Broker: sleep on the broker semaphore for at most TIMEOUT_MS.  Returns 1
 * if woken by a post (a registration, or a life-cycle change: every change
 * of the state word posts it), 0 on timeout.
 */
int fb_ring_broker_wait(struct fb_seg *seg, int timeout_ms);

/* Wake fb_ring_broker_wait (unless the semaphore is scribbled). */
void fb_ring_broker_wake(struct fb_seg *seg);

/*
 * Workers: register this process under ROLE (enum fb_role) so the broker
 * supervises it, and open a pidfd on the broker so a dead broker is noticed.
 * Returns 0; 1 if the render is already DONE (or, for a producer, ABORTED)
 * and its broker gone (nothing to do: exit 0); -EOWNERDEAD if the broker is gone (a stale segment);
 * -EBUSY for a second live encoder; -ENOSPC if the table is full.
 */
int fb_ring_register(struct fb_seg *seg, uint32_t role);

/* Workers, on a clean exit: drop the registration. */
void fb_ring_unregister(struct fb_seg *seg);

/*
 * Broker-side calls below never wait for the lock longer than
 * FB_BROKER_LOCK_MS: they return -ETIMEDOUT instead, and the broker asks
 * fb_ring_lock_owner() who is sitting on it (a stopped worker).
 */

/* Broker: copy up to MAX registered entries into OUT; returns the count. */
ssize_t fb_ring_procs(struct fb_seg *seg, struct fb_proc_entry *out, size_t max);

/* The pid holding the ring lock right now, or 0.  After a broker-side call
 * returned -ETIMEDOUT, SEG->lock_owner_before is who held it when the wait
 * began: the same pid means it held the lock throughout. */
int32_t fb_ring_lock_owner(const struct fb_seg *seg);

/* A frame taken back from a producer. */
struct fb_reissue {
	uint64_t frame;
	int32_t owner;
	uint64_t owner_start;
};

/*
 * Broker: DEAD (NULL: none) has died — drop its registration (matched on pid
 * and start time); then every CLAIMED slot whose owner is neither a
 * registered producer nor alive becomes REISSUE, and a producer is woken
 * for it.  Up to MAX of them are described in OUT; returns how many were
 * reissued.
 */
ssize_t fb_ring_sweep(struct fb_seg *seg, const struct fb_proc_entry *dead,
		      struct fb_reissue *out, size_t max);

/*
 * Broker: the frames claimed longer than TIMEOUT_NS ago (up to MAX, in
 * LATE; returns the count).  *NEXT_DEADLINE gets the earliest deadline among
 * the other claims (UINT64_MAX if none).
 */
ssize_t fb_ring_overdue(struct fb_seg *seg, uint64_t timeout_ns, struct fb_reissue *late,
			size_t max, uint64_t *next_deadline);

#endif
