/*
 * fb_ring — the slot protocol.  Memory ordering: every read or write of a
 * slot's words and of next_claim/next_encode happens with the robust mutex
 * held, and the mutex's acquire/release is what orders a slot's pixel data:
 *
 *   producer: writes pixels -> lock, state=READY, unlock (release)
 *   encoder:  lock (acquire), sees READY -> reads pixels
 *   encoder:  write(2) has copied the pixels -> lock, state=EMPTY, unlock
 *   producer: lock (acquire), sees EMPTY, claims -> overwrites pixels
 *
 * So no pixel is read while written.  The life cycle word `state` is also
 * read without the lock (atomic acquire) to decide quickly whether to go on.
 *
 * Each critical section writes the slot's state word after the slot's other
 * words, and the counters after the state word, so a holder that dies
 * between two stores leaves a state repair_words() can finish.
 */
#include "fb_ring.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void wake(sem_t *s, uint32_t n)
{
	while (n--)
		sem_post(s);
}

/* Sleep on S for at most MS milliseconds.  Wake-ups are hints, so a timeout
 * or a signal is as good as a post: the caller re-checks the words either
 * way. */
static void sleep_on(sem_t *s, int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	(void)sem_clockwait(s, CLOCK_MONOTONIC, &ts);
}

/*
 * A claim that died after marking its slot CLAIMED but before advancing
 * next_claim: finish it, so the frame is not handed out twice.
 */
static void repair_words(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint64_t f = h->next_claim;

	if (f < seg->geom.total_frames) {
		struct fb_slot_meta *m = &h->slots[f % seg->geom.slot_count];

		if (m->state != FB_SLOT_EMPTY && m->frame == f)
			h->next_claim = f + 1;
	}
}

static int ring_lock(struct fb_seg *seg)
{
	int rc = pthread_mutex_lock(&seg->hdr->lock);

	if (rc == EOWNERDEAD) {
		repair_words(seg);
		seg->hdr->lock_repairs++;
		rc = pthread_mutex_consistent(&seg->hdr->lock);
	}
	return -rc;
}

static void ring_unlock(struct fb_seg *seg)
{
	pthread_mutex_unlock(&seg->hdr->lock);
}

/* With the lock held: move RUNNING to ABORTED, keeping the first reason.
 * Returns how many producers to wake. */
static uint32_t abort_locked(struct fb_seg *seg, const char *reason)
{
	struct fb_header *h = seg->hdr;

	if (atomic_load(&h->state) == FB_SEG_RUNNING) {
		snprintf(h->reason, sizeof(h->reason), "%s", reason);
		atomic_store_explicit(&h->state, FB_SEG_ABORTED, memory_order_release);
	}
	/* +1: a producer between "waiters++" and sleeping counts too. */
	return h->space_waiters + 1;
}

static void wake_all(struct fb_seg *seg, uint32_t producers)
{
	wake(&seg->hdr->space, producers);
	wake(&seg->hdr->filled, 1);
	wake(&seg->hdr->broker, 1);
}

/* With the lock held: abort for a broken invariant and say which. */
static int corrupt_locked(struct fb_seg *seg, const char *what)
{
	char reason[FB_REASON_MAX];
	uint32_t n;

	snprintf(reason, sizeof(reason), "segment corrupt: %s", what);
	n = abort_locked(seg, reason);
	ring_unlock(seg);
	wake_all(seg, n);
	return -EPROTO;
}

/* The counters are shared input: check their relation before using them. */
static bool counters_ok(const struct fb_seg *seg)
{
	const struct fb_header *h = seg->hdr;

	return h->next_encode <= h->next_claim &&
	       h->next_claim <= seg->geom.total_frames &&
	       h->next_claim - h->next_encode <= seg->geom.slot_count;
}

uint32_t fb_ring_state(const struct fb_seg *seg)
{
	return atomic_load_explicit(&seg->hdr->state, memory_order_acquire);
}

int fb_ring_claim(struct fb_seg *seg, struct fb_claim *c)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	bool slept = false;
	int rc;

	for (;;) {
		uint64_t f;

		rc = ring_lock(seg);
		if (rc)
			return rc;
		if (slept && h->space_waiters > 0)
			h->space_waiters--;
		slept = false;
		if (atomic_load(&h->state) != FB_SEG_RUNNING) {
			bool aborted = atomic_load(&h->state) == FB_SEG_ABORTED;

			ring_unlock(seg);
			return aborted ? -ECANCELED : 0;
		}
		if (!counters_ok(seg))
			return corrupt_locked(seg, "claim/encode counters out of range");
		f = h->next_claim;
		if (f >= g->total_frames) {
			/* Nothing left: pass the wake-up on so every sleeping
			 * producer gets to see that and exit. */
			bool chain = h->space_waiters > 0;

			ring_unlock(seg);
			if (chain)
				sem_post(&h->space);
			return 0;
		}
		/* The window: frame f may take slot f % S only while
		 * f < next_encode + S, i.e. once frame f - S has been emitted. */
		if (f - h->next_encode < g->slot_count) {
			uint32_t s = (uint32_t)(f % g->slot_count);
			struct fb_slot_meta *m = &h->slots[s];

			if (m->state != FB_SLOT_EMPTY)
				return corrupt_locked(seg, "slot in the claim window is not empty");
			m->frame = f;
			m->owner = seg->pid;
			m->length = 0;
			m->generation++;
			m->state = FB_SLOT_CLAIMED;
			h->next_claim = f + 1;
			c->frame = f;
			c->slot = s;
			c->generation = m->generation;
			c->data = fb_seg_slot(seg, s);
			ring_unlock(seg);
			return 1;
		}
		h->space_waiters++;
		ring_unlock(seg);
		sleep_on(&h->space, FB_WAIT_SLICE_MS);
		slept = true;
	}
}

int fb_ring_publish(struct fb_seg *seg, const struct fb_claim *c, uint64_t length)
{
	struct fb_header *h = seg->hdr;
	struct fb_slot_meta *m;
	bool wake_encoder;
	int rc;

	if (c->slot >= seg->geom.slot_count || length > seg->geom.slot_stride)
		return -EINVAL;
	rc = ring_lock(seg);
	if (rc)
		return rc;
	if (atomic_load(&h->state) == FB_SEG_ABORTED) {
		ring_unlock(seg);
		return -ECANCELED;
	}
	m = &h->slots[c->slot];
	if (m->state != FB_SLOT_CLAIMED || m->owner != seg->pid ||
	    m->frame != c->frame || m->generation != c->generation) {
		ring_unlock(seg);
		return -ESTALE;
	}
	m->length = length;
	m->state = FB_SLOT_READY;
	wake_encoder = h->encoder_waiting && c->frame == h->next_encode;
	if (wake_encoder)
		h->encoder_waiting = 0;
	ring_unlock(seg);
	if (wake_encoder)
		sem_post(&h->filled);
	return 0;
}

int fb_ring_acquire(struct fb_seg *seg, uint64_t frame,
		    const unsigned char **data, uint64_t *length)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	uint32_t s = (uint32_t)(frame % g->slot_count);
	struct fb_slot_meta *m = &h->slots[s];
	int rc;

	for (;;) {
		rc = ring_lock(seg);
		if (rc)
			return rc;
		if (atomic_load(&h->state) == FB_SEG_ABORTED) {
			ring_unlock(seg);
			return -ECANCELED;
		}
		/* Only the encoder moves next_encode, so it must be FRAME. */
		if (!counters_ok(seg) || h->next_encode != frame)
			return corrupt_locked(seg, "encode counter moved under the encoder");
		/* The window guarantees slot s holds frame FRAME or nothing. */
		if (m->state != FB_SLOT_EMPTY && m->frame != frame)
			return corrupt_locked(seg, "slot holds a frame outside the window");
		if (m->state == FB_SLOT_READY) {
			if (m->length != g->frame_bytes)
				return corrupt_locked(seg, "published length is not the frame size");
			m->state = FB_SLOT_ENCODING;
			*data = fb_seg_slot(seg, s);
			*length = m->length;
			ring_unlock(seg);
			return 0;
		}
		h->encoder_waiting = 1;
		ring_unlock(seg);
		sleep_on(&h->filled, FB_WAIT_SLICE_MS);
	}
}

int fb_ring_release(struct fb_seg *seg, uint64_t frame)
{
	struct fb_header *h = seg->hdr;
	struct fb_slot_meta *m = &h->slots[frame % seg->geom.slot_count];
	bool wake_producer;
	int rc;

	rc = ring_lock(seg);
	if (rc)
		return rc;
	if (m->state != FB_SLOT_ENCODING || m->frame != frame || h->next_encode != frame)
		return corrupt_locked(seg, "released slot was not being encoded");
	m->owner = 0;
	m->state = FB_SLOT_EMPTY;
	h->next_encode = frame + 1;
	wake_producer = h->space_waiters > 0;
	ring_unlock(seg);
	if (wake_producer)
		sem_post(&h->space);
	return 0;
}

void fb_ring_finish(struct fb_seg *seg)
{
	uint32_t n = 0;

	if (ring_lock(seg) == 0) {
		if (atomic_load(&seg->hdr->state) == FB_SEG_RUNNING)
			atomic_store_explicit(&seg->hdr->state, FB_SEG_DONE,
					      memory_order_release);
		n = seg->hdr->space_waiters + 1;
		ring_unlock(seg);
	}
	wake_all(seg, n);
}

void fb_ring_abort(struct fb_seg *seg, const char *reason)
{
	uint32_t n = 1;

	if (ring_lock(seg) == 0) {
		n = abort_locked(seg, reason);
		ring_unlock(seg);
	} else if (atomic_load(&seg->hdr->state) == FB_SEG_RUNNING) {
		/* The lock is unrecoverable; still make everybody stop. */
		atomic_store(&seg->hdr->state, FB_SEG_ABORTED);
	}
	wake_all(seg, n);
}

uint32_t fb_ring_broker_wait(struct fb_seg *seg, int timeout_ms)
{
	if (fb_ring_state(seg) == FB_SEG_RUNNING)
		sleep_on(&seg->hdr->broker, timeout_ms);
	return fb_ring_state(seg);
}
