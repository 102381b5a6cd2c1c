/*
 * fb_rewind — the rewind of a segmented render's ring (fb_rewind.h): the
 * encoder takes back frames it released, once nothing is in flight.
 */
#include "fb_rewind.h"
#include "fb_ring.h"
#include "fb_util.h"

#include <errno.h>

/* Take the lock for a rewind step: 0 held, else -errno (as release). */
static int lock_rewind(struct fb_seg *seg)
{
	int rc = fb_lock_take(seg);

	return rc == -EPROTO ? -ECANCELED : rc; /* the cause is recorded in the segment */
}

int fb_ring_rewind_begin(struct fb_seg *seg)
{
	int rc = lock_rewind(seg);

	if (rc)
		return rc;
	seg->hdr->rewind = 1;
	fb_lock_release(seg);
	return 0;
}

/* With the lock held: is anything in flight or held?  The words are input:
 * a slot not EMPTY while the counters say nothing is in flight is read as
 * "in flight" only if it is a REISSUE or CLAIMED one the counters explain;
 * anything else is corruption (-EPROTO from the caller). */
static int in_flight_locked(const struct fb_seg *seg)
{
	const struct fb_header *h = seg->hdr;

	FB_ASSERT_LOCKED(seg);
	if (h->next_encode > h->next_claim || h->next_claim > seg->geom.total_frames)
		return -1;
	if (h->next_encode != h->next_claim || h->reissue_pending != 0)
		return 1;
	for (uint32_t s = 0; s < seg->geom.slot_count; s++)
		if (h->slots[s].state != FB_SLOT_EMPTY)
			return -1;
	return 0;
}

int fb_ring_rewind_to(struct fb_seg *seg, uint64_t frame)
{
	struct fb_header *h = seg->hdr;
	uint32_t wake_n;
	int busy, rc = lock_rewind(seg);

	if (rc)
		return rc;
	if (h->rewind != 1 || frame > h->next_encode) {
		fb_lock_release(seg);
		return -EINVAL;
	}
	busy = in_flight_locked(seg);
	if (busy < 0)
		return fb_ring_corrupt_unlock(seg, "a slot is occupied with nothing in flight");
	if (busy) {
		fb_lock_release(seg);
		return -EAGAIN;
	}
	/* Counters before the flag: a holder that dies in between leaves a
	 * rewind still begun, which the next call finishes. */
	h->frames_rerendered += h->next_encode - frame;
	h->next_encode = frame;
	h->next_claim = frame;
	h->rewind = 0;
	wake_n = h->space_waiters;
	fb_lock_release(seg);
	fb_life_wake(seg, &h->space, wake_n);
	return 0;
}

void fb_ring_count_segment(struct fb_seg *seg, bool redone)
{
	if (lock_rewind(seg))
		return;
	seg->hdr->segments_done++;
	if (redone)
		seg->hdr->segments_redone++;
	fb_lock_release(seg);
}
