/*
 * fb_ring — the slot protocol: claim, publish, unclaim (producers), acquire
 * and release (the encoder).  The lock is fb_lock.c, the life cycle
 * fb_life.c, the process table and the broker's sweep fb_registry.c.
 *
 * Every read or write of a slot's words and of next_claim/next_encode
 * happens with the lock held, and the mutex's acquire/release is what
 * orders a slot's pixel data (READY is stored after the pixels, EMPTY
 * after the bytes are out: docs/ARCHITECTURE.md, "Memory ordering").  The
 * life-cycle word is also read without the lock (atomic acquire) to decide
 * quickly whether to go on.  Each critical section writes the slot's state
 * word after its other words, and the counters after the state word, so a
 * holder that dies between two stores leaves what fb_lock.c's repair can
 * finish.  The broker's liveness (a poll) is checked before the lock is
 * taken and acted on inside it: no syscall runs under the lock (fb_lock.h).
 */
#include "fb_ring.h"
#include "fb_fault.h"
#include "fb_pixfmt.h"
#include "fb_spin.h"
#include "fb_util.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>

int fb_ring_corrupt_unlock(struct fb_seg *seg, const char *what)
{
	char reason[FB_REASON_MAX];
	bool first;

	FB_ASSERT_LOCKED(seg);
	snprintf(reason, sizeof(reason), "segment corrupt: %s", what);
	first = fb_life_abort_first(seg, reason);
	fb_lock_release(seg);
	fb_life_wake_all(seg, fb_life_sleepers(seg->hdr));
	return first ? -EPROTO : -ECANCELED;
}

/* With the lock held, after fb_life_broker_lost() said so before the lock
 * was taken: release it and abort. */
static int broker_died_unlock(struct fb_seg *seg)
{
	FB_ASSERT_LOCKED(seg);
	fb_lock_release(seg);
	return fb_life_broker_died(seg);
}

/* With the lock held: the counters are shared input, so check their
 * relation before using them. */
static bool counters_ok_locked(const struct fb_seg *seg)
{
	const struct fb_header *h = seg->hdr;

	FB_ASSERT_LOCKED(seg);
	return h->next_encode <= h->next_claim &&
	       h->next_claim <= seg->geom.total_frames &&
	       h->next_claim - h->next_encode <= seg->geom.slot_count &&
	       h->reissue_pending <= seg->geom.slot_count && h->rewind <= 1;
}

/* With the lock held: write our ownership into M — every word but state,
 * which the caller stores last (a death in between leaves the slot as it
 * was for everyone else). */
static void own_slot_locked(struct fb_seg *seg, struct fb_slot_meta *m)
{
	FB_ASSERT_LOCKED(seg);
	m->owner = seg->pid;
	m->owner_start = seg->start;
	m->length = 0;
	m->generation++;
	m->claimed_ns = fb_now_ns();
}

/* With the lock held, after a claim that had to wait since WAIT_FROM (0:
 * it did not wait): add the wait to our blocked time, for fb-stat. */
static void account_wait_locked(struct fb_seg *seg, uint64_t wait_from)
{
	struct fb_proc_entry *e;

	FB_ASSERT_LOCKED(seg);
	e = wait_from ? fb_registry_mine_locked(seg) : NULL;
	if (e)
		e->blocked_ns += fb_now_ns() - wait_from;
}

/* With the lock held: fill C from slot S, which the caller just marked
 * CLAIMED. */
static void take_slot_locked(struct fb_seg *seg, uint32_t s, struct fb_claim *c)
{
	struct fb_slot_meta *m = &seg->hdr->slots[s];

	FB_ASSERT_LOCKED(seg);
	c->frame = m->frame;
	c->slot = s;
	c->generation = m->generation;
	c->data = fb_seg_slot(seg, s);
}

/* With the lock held: the REISSUE slot with the lowest frame (the encoder may
 * be waiting for it), or -1.  Its words are checked like any other input. */
static int find_reissue_locked(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint32_t S = seg->geom.slot_count;
	int best = -1;

	FB_ASSERT_LOCKED(seg);
	for (uint32_t s = 0; s < S; s++) {
		struct fb_slot_meta *m = &h->slots[s];

		if (m->state != FB_SLOT_REISSUE)
			continue;
		if (m->frame < h->next_encode || m->frame >= h->next_claim || m->frame % S != s)
			return -2;
		if (best < 0 || m->frame < h->slots[best].frame)
			best = (int)s;
	}
	return best;
}

/*
 * Spin hints (fb_spin.h): lock-free peeks at words the lock guards.  A torn
 * or stale answer costs at most a wasted lock round trip or a sleep, because
 * the caller decides under the lock; __atomic loads only keep the compiler
 * from hoisting the reads out of the spin loop.
 */
static uint64_t peek64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Producer: might a claim succeed now? */
static bool claim_may_succeed(const void *arg)
{
	const struct fb_seg *seg = arg;
	const struct fb_header *h = seg->hdr;
	uint64_t claim = peek64(&h->next_claim), encode = peek64(&h->next_encode);

	return atomic_load_explicit(&h->state, memory_order_relaxed) != FB_SEG_RUNNING ||
	       __atomic_load_n(&h->reissue_pending, __ATOMIC_RELAXED) != 0 ||
	       encode >= seg->geom.total_frames ||
	       (claim < seg->geom.total_frames && claim - encode < seg->geom.slot_count);
}

/* A claim's waiting: whether it slept on space (a waiter to count off) or
 * spun already, and since when it has waited (0: not yet), for fb-stat. */
struct claim_wait {
	bool slept, spun;
	uint64_t from;
};

/*
 * Take the lock for a claim, and check that it may go on: the render
 * RUNNING, its broker alive (LOST: fb_life_broker_lost() before the lock),
 * the counters sane.  0 with the lock held; else, the lock released, 1
 * (the render is over: no frame) or -errno (aborted, broker gone, corrupt).
 */
static int lock_claim(struct fb_seg *seg, bool lost, struct claim_wait *w)
{
	struct fb_header *h = seg->hdr;
	int rc = fb_lock_take(seg);

	if (rc)
		return rc;
	if (w->slept && h->space_waiters > 0)
		h->space_waiters--;
	w->slept = false;
	if (atomic_load(&h->state) != FB_SEG_RUNNING) {
		bool aborted = atomic_load(&h->state) == FB_SEG_ABORTED;

		fb_lock_release(seg);
		return aborted ? -ECANCELED : 1;
	}
	if (lost)
		return broker_died_unlock(seg);
	if (!counters_ok_locked(seg))
		return fb_ring_corrupt_unlock(seg, "claim/encode counters out of range");
	return 0;
}

/* With the lock held: claim into C the REISSUE slot of the lowest frame.
 * 1 claimed, 0 none, -1 a corrupt slot (the caller aborts). */
static int claim_reissue_locked(struct fb_seg *seg, struct fb_claim *c, uint64_t wait_from)
{
	struct fb_header *h = seg->hdr;
	struct fb_slot_meta *m;
	int s = find_reissue_locked(seg);

	FB_ASSERT_LOCKED(seg);
	if (s == -2)
		return -1;
	if (s < 0) {
		h->reissue_pending = 0; /* count was wrong: no such slot */
		return 0;
	}
	m = &h->slots[s];
	own_slot_locked(seg, m);
	m->state = FB_SLOT_CLAIMED;
	if (h->reissue_pending > 0)
		h->reissue_pending--;
	account_wait_locked(seg, wait_from);
	take_slot_locked(seg, (uint32_t)s, c);
	return 1;
}

/* With the lock held: claim into C frame F = next_claim, which lies in the
 * window, into its slot F % S.  0, or -1 if that slot is not EMPTY (the
 * caller aborts).  The fault points are the two inside the lock. */
static int claim_next_locked(struct fb_seg *seg, uint64_t f, struct fb_claim *c,
			     uint64_t wait_from)
{
	uint32_t s = (uint32_t)(f % seg->geom.slot_count);
	struct fb_slot_meta *m = &seg->hdr->slots[s];

	FB_ASSERT_LOCKED(seg);
	if (m->state != FB_SLOT_EMPTY)
		return -1;
	fb_fault_point(seg->fault, FB_STEP_BEFORE_CLAIM, f);
	m->frame = f;
	own_slot_locked(seg, m);
	m->state = FB_SLOT_CLAIMED;
	fb_fault_point(seg->fault, FB_STEP_CLAIM, f);
	seg->hdr->next_claim = f + 1;
	account_wait_locked(seg, wait_from);
	take_slot_locked(seg, s, c);
	return 0;
}

/* With the lock held, every frame out: release it and pass the wake-up on,
 * so every sleeping producer gets to see that and exit.  Returns 0. */
static int all_out_unlock(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	bool chain;

	FB_ASSERT_LOCKED(seg);
	chain = h->space_waiters > 0;
	fb_lock_release(seg);
	if (chain)
		fb_life_wake(seg, &h->space, 1);
	return 0;
}

/* With the lock held, nothing to claim yet: release it and wait for space
 * — one spin per wait, then sleep: the encoder usually frees a slot within
 * microseconds, far sooner than a futex round trip.  0 (look again), or
 * -EAGAIN for a handle that must not wait (seg->nowait). */
static int wait_space_unlock(struct fb_seg *seg, struct claim_wait *w)
{
	struct fb_header *h = seg->hdr;

	FB_ASSERT_LOCKED(seg);
	if (__atomic_load_n(&seg->nowait, __ATOMIC_ACQUIRE)) {
		fb_lock_release(seg);
		return -EAGAIN;
	}
	if (!w->from)
		w->from = fb_now_ns();
	if (!w->spun) {
		fb_lock_release(seg);
		w->spun = true;
		fb_spin_until(&seg->spin, claim_may_succeed, seg);
		return 0;
	}
	h->space_waiters++;
	fb_lock_release(seg);
	fb_life_sleep_on(seg, &h->space, FB_WAIT_SLICE_MS);
	w->slept = true;
	return 0;
}

int fb_ring_claim(struct fb_seg *seg, struct fb_claim *c)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	struct claim_wait w = { false, false, 0 };
	int rc;

	for (;;) {
		/* A poll (or /proc): before the lock, acted on under it. */
		bool lost = fb_life_broker_lost(seg);
		uint64_t f;
		bool open;

		rc = lock_claim(seg, lost, &w);
		if (rc)
			return rc > 0 ? 0 : rc;
		f = h->next_claim;
		/* The window: frame f may take slot f % S only while
		 * f < next_encode + S, i.e. once frame f - S has been emitted. */
		open = f < g->total_frames && f - h->next_encode < g->slot_count;
		/* A rewind (fb_rewind.h) shuts it to fresh claims until the
		 * frames in flight are drained; and nobody is done during one,
		 * since the frames of its segment are to be rendered again. */
		open = open && !h->rewind;
		/* Frames taken back from dead producers go first: the encoder
		 * may be waiting for one, and its slot is already its own.  The
		 * count is segment input, so when the window is shut the slots
		 * are searched anyway: a scribbled count of 0 cannot strand a
		 * REISSUE slot (and the render) forever. */
		if (h->reissue_pending > 0 || !open) {
			rc = claim_reissue_locked(seg, c, w.from);
			if (rc < 0)
				return fb_ring_corrupt_unlock(seg, "reissued slot holds a frame outside the window");
			if (rc > 0)
				break;
		}
		if (f >= g->total_frames && h->next_encode >= g->total_frames && !h->rewind)
			return all_out_unlock(seg);
		/* All claimed but some not yet emitted: stay, in case one is
		 * reissued (its producer dies) and nobody else is left. */
		if (open) {
			if (claim_next_locked(seg, f, c, w.from))
				return fb_ring_corrupt_unlock(seg, "slot in the claim window is not empty");
			break;
		}
		rc = wait_space_unlock(seg, &w);
		if (rc)
			return rc;
	}
	fb_lock_release(seg);
	return 1;
}

/* Is LENGTH a valid payload: exactly one raw frame, or an encoded image
 * that fits its slot?  The one rule for publish and acquire alike. */
static bool length_fits(const struct fb_geom *g, uint64_t length)
{
	if (g->frame_format == FB_FRAME_RAW)
		return length == g->frame_bytes;
	return length > 0 && length <= g->slot_bytes;
}

/*
 * Take the lock and check that claim C is still ours: its slot CLAIMED by
 * this process for the same frame and generation (a claim taken back from
 * us and handed out again fails the generation check).  0 with the lock
 * held and *M our slot; else the lock is released: -EINVAL (a slot out of
 * range), -ECANCELED (aborted), -ESTALE (not ours any more), or a lock error.
 */
static int lock_own_claim(struct fb_seg *seg, const struct fb_claim *c, struct fb_slot_meta **m)
{
	struct fb_header *h = seg->hdr;
	int rc;

	if (c->slot >= seg->geom.slot_count)
		return -EINVAL;
	rc = fb_lock_take(seg);
	if (rc)
		return rc;
	if (atomic_load(&h->state) == FB_SEG_ABORTED) {
		fb_lock_release(seg);
		return -ECANCELED;
	}
	*m = &h->slots[c->slot];
	if ((*m)->state != FB_SLOT_CLAIMED || (*m)->owner != seg->pid ||
	    (*m)->frame != c->frame || (*m)->generation != c->generation) {
		fb_lock_release(seg);
		return -ESTALE;
	}
	return 0;
}

int fb_ring_publish(struct fb_seg *seg, const struct fb_claim *c, uint64_t length)
{
	struct fb_header *h = seg->hdr;
	struct fb_proc_entry *e;
	struct fb_slot_meta *m;
	bool wake_encoder;
	int rc;

	if (!length_fits(&seg->geom, length))
		return -EINVAL;
	rc = lock_own_claim(seg, c, &m);
	if (rc == -EPROTO)
		return -ECANCELED; /* the segment went bad: the cause is recorded in it */
	if (rc)
		return rc;
	m->length = length;
	fb_fault_point(seg->fault, FB_STEP_PUBLISH, c->frame);
	m->state = FB_SLOT_READY;
	e = fb_registry_mine_locked(seg);
	if (e)
		e->frames++;
	wake_encoder = h->encoder_waiting && c->frame == h->encoder_wants;
	if (wake_encoder)
		h->encoder_waiting = 0;
	fb_lock_release(seg);
	if (wake_encoder)
		fb_life_wake(seg, &h->filled, 1);
	return 0;
}

int fb_ring_unclaim(struct fb_seg *seg, const struct fb_claim *c)
{
	struct fb_header *h = seg->hdr;
	struct fb_slot_meta *m;
	int rc = lock_own_claim(seg, c, &m);

	if (rc == -EPROTO)
		return -ECANCELED; /* the segment went bad: the cause is recorded in it */
	if (rc)
		return rc;
	/* The same move the broker's sweep makes for a dead owner. */
	m->owner = 0;
	m->state = FB_SLOT_REISSUE;
	h->reissue_pending++;
	fb_lock_release(seg);
	fb_life_wake(seg, &h->space, 1);
	return 0;
}

/* With the lock held: may the encoder take FRAME now?  It holds (ENCODING)
 * every frame in [next_encode, FRAME), so FRAME lies in the window and, if
 * it is not the first, the frame before it must be one of ours. */
static const char *take_check_locked(struct fb_seg *seg, uint64_t frame)
{
	const struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	const struct fb_slot_meta *prev = &h->slots[(frame - 1) % g->slot_count];
	const struct fb_slot_meta *m = &h->slots[frame % g->slot_count];

	FB_ASSERT_LOCKED(seg);
	if (!counters_ok_locked(seg) || frame < h->next_encode || frame - h->next_encode >= g->slot_count)
		return "encode counter moved under the encoder";
	if (frame > h->next_encode && (prev->state != FB_SLOT_ENCODING || prev->frame != frame - 1))
		return "a frame the encoder holds changed under it";
	/* The window guarantees the slot holds FRAME or nothing, and a frame
	 * the encoder has not taken is never ENCODING. */
	if (m->state != FB_SLOT_EMPTY && m->frame != frame)
		return "slot holds a frame outside the window";
	if (m->state != FB_SLOT_EMPTY && m->state != FB_SLOT_CLAIMED &&
	    m->state != FB_SLOT_READY && m->state != FB_SLOT_REISSUE)
		return "slot of the encoder's next frame is in an impossible state";
	return NULL;
}

/* With the lock held: mark FRAME (READY, checked) ENCODING into *OUT. */
static void take_frame_locked(struct fb_seg *seg, uint64_t frame, struct fb_frame_ref *out)
{
	uint32_t s = (uint32_t)(frame % seg->geom.slot_count);
	struct fb_slot_meta *m = &seg->hdr->slots[s];

	FB_ASSERT_LOCKED(seg);
	m->state = FB_SLOT_ENCODING;
	out->frame = frame;
	out->data = fb_seg_slot(seg, s);
	out->length = m->length;
}

/* With the lock held: is FRAME's slot READY with a valid length (exactly
 * one raw frame, or an encoded image that fits its slot)?  -1 when its
 * length is corrupt. */
static int frame_ready_locked(const struct fb_seg *seg, uint64_t frame)
{
	const struct fb_slot_meta *m = &seg->hdr->slots[frame % seg->geom.slot_count];

	FB_ASSERT_LOCKED(seg);
	if (m->state != FB_SLOT_READY || m->frame != frame)
		return 0;
	return length_fits(&seg->geom, m->length) ? 1 : -1;
}

/* Encoder spin hint: the frame it waits for, and where. */
struct want {
	const struct fb_seg *seg;
	uint64_t frame;
};

/* Encoder: might its next frame be ready now? */
static bool frame_may_be_ready(const void *arg)
{
	const struct want *w = arg;
	const struct fb_header *h = w->seg->hdr;
	const struct fb_slot_meta *m = &h->slots[w->frame % w->seg->geom.slot_count];

	return atomic_load_explicit(&h->state, memory_order_relaxed) != FB_SEG_RUNNING ||
	       __atomic_load_n(&m->state, __ATOMIC_RELAXED) == FB_SLOT_READY;
}

int fb_ring_acquire(struct fb_seg *seg, uint64_t frame, struct fb_frame_ref *out,
		    uint32_t max, int wait_ms)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	struct want w = { seg, frame };
	uint64_t give_up = wait_ms < 0 ? UINT64_MAX : fb_now_ns() + (uint64_t)wait_ms * 1000000ull;
	bool spun = false;
	const char *bad;
	int rc, ready;

	if (max == 0 || frame >= g->total_frames)
		return -EINVAL;
	for (;;) {
		bool lost = fb_life_broker_lost(seg); /* before the lock, as in claim */
		uint64_t now;
		uint32_t n = 0;

		rc = fb_lock_take(seg);
		if (rc)
			return rc;
		if (atomic_load(&h->state) == FB_SEG_ABORTED) {
			fb_lock_release(seg);
			return -ECANCELED;
		}
		if (lost)
			return broker_died_unlock(seg);
		bad = take_check_locked(seg, frame);
		if (bad)
			return fb_ring_corrupt_unlock(seg, bad);
		/* FRAME, then as many after it as are READY already: one lock
		 * round trip and one sink call for a whole run of frames. */
		while (n < max && frame + n < g->total_frames &&
		       frame + n - h->next_encode < g->slot_count &&
		       (ready = frame_ready_locked(seg, frame + n)) != 0) {
			if (ready < 0)
				return fb_ring_corrupt_unlock(seg, "published length does not fit the frame format");
			take_frame_locked(seg, frame + n, &out[n]);
			n++;
		}
		if (n > 0) {
			fb_lock_release(seg);
			return (int)n;
		}
		now = fb_now_ns();
		if (__atomic_load_n(&seg->nowait, __ATOMIC_ACQUIRE) || now >= give_up) {
			fb_lock_release(seg);
			return -EAGAIN;
		}
		if (!spun) {
			fb_lock_release(seg);
			spun = true;
			fb_spin_until(&seg->spin, frame_may_be_ready, &w);
			continue;
		}
		h->encoder_waiting = 1;
		h->encoder_wants = frame;
		fb_lock_release(seg);
		fb_life_sleep_on(seg, &h->filled, give_up - now < FB_WAIT_SLICE_MS * 1000000ull ?
			 (int)((give_up - now + 999999) / 1000000) : FB_WAIT_SLICE_MS);
	}
}

int fb_ring_release(struct fb_seg *seg, uint64_t frame, uint32_t n)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	uint32_t wake_n;
	int rc;

	if (n == 0 || n > g->slot_count)
		return -EINVAL;
	rc = fb_lock_take(seg);
	if (rc == -EPROTO)
		return -ECANCELED; /* the segment went bad: the cause is recorded in it */
	if (rc)
		return rc;
	if (h->next_encode != frame)
		return fb_ring_corrupt_unlock(seg, "released slot was not being encoded");
	for (uint32_t i = 0; i < n; i++) {
		const struct fb_slot_meta *m = &h->slots[(frame + i) % g->slot_count];

		if (m->state != FB_SLOT_ENCODING || m->frame != frame + i)
			return fb_ring_corrupt_unlock(seg, "released slot was not being encoded");
	}
	for (uint32_t i = 0; i < n; i++) {
		struct fb_slot_meta *m = &h->slots[(frame + i) % g->slot_count];

		m->owner = 0;
		m->state = FB_SLOT_EMPTY;
	}
	h->next_encode = frame + n;
	/* One producer per freed slot, at most as many as sleep. */
	wake_n = h->space_waiters < n ? h->space_waiters : n;
	fb_lock_release(seg);
	fb_life_wake(seg, &h->space, wake_n);
	return 0;
}

