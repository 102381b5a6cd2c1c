/*
 * fb_lock — taking, repairing and releasing the ring lock (fb_lock.h; the
 * naming rule for lock contracts is written there).
 *
 * The mutex's acquire/release is what orders a slot's pixel data between
 * processes (docs/ARCHITECTURE.md, "Memory ordering"); this file only makes
 * sure every process gets it, or learns why it cannot: a dead holder
 * (EOWNERDEAD: finish its half-done claim, mark the mutex consistent), a
 * stopped one (sliced waits that keep watching the render), scribbled
 * words (the render is aborted with the cause).
 */
#include "fb_lock.h"
#include "fb_guard.h"
#include "fb_life.h"
#include "fb_spin.h"

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void fb_lock_assert_failed(const char *func)
{
	fprintf(stderr, "framebroker: internal error: %s called without the ring lock\n", func);
	abort();
}

/*
 * A claim that died after marking its slot CLAIMED but before advancing
 * next_claim: finish it, so the frame is not handed out twice.  (Each
 * critical section writes a slot's state word after its other words, and
 * the counters after the state word, so this is all a death can leave.)
 */
static void repair_words_locked(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint64_t f = h->next_claim;

	FB_ASSERT_LOCKED(seg);
	if (f < seg->geom.total_frames) {
		struct fb_slot_meta *m = &h->slots[f % seg->geom.slot_count];

		if (m->state != FB_SLOT_EMPTY && m->frame == f)
			h->next_claim = f + 1;
	}
}

/* The segment itself is unusable (WHY): abort the render with it.
 * -EPROTO if this was the cause of the abort (the caller may say so),
 * -ECANCELED if the render had ended already. */
static int unusable(struct fb_seg *seg, const char *why)
{
	return fb_life_abort_first(seg, why) ? -EPROTO : -ECANCELED;
}

/* Before touching the lock: is the segment still what it was (size, no
 * SIGBUS taken, the mutex's and semaphores' glibc words intact)?  0, or
 * what unusable() returns. */
static int segment_sound(struct fb_seg *seg)
{
	char why[FB_REASON_MAX];

	if (!fb_guard_verify(seg, why, sizeof(why)))
		return 0;
	return unusable(seg, why);
}

/* RC from a lock call: on EOWNERDEAD (the holder died inside a critical
 * section) finish what it left half done and mark the mutex consistent.
 * Any error but a timeout means the mutex's words are garbage.  0: held. */
static int lock_result(struct fb_seg *seg, int rc)
{
	char why[FB_REASON_MAX];

	if (rc == EOWNERDEAD) {
		seg->lock_held = 1; /* ours, inconsistent: repair it */
		repair_words_locked(seg);
		seg->hdr->lock_repairs++;
		rc = pthread_mutex_consistent(&seg->hdr->lock);
		if (rc) {
			seg->lock_held = 0;
			pthread_mutex_unlock(&seg->hdr->lock);
			snprintf(why, sizeof(why), "segment corrupt: ring mutex scribbled (%s)",
				 strerror(rc));
			return unusable(seg, why);
		}
	}
	if (rc == 0) {
		seg->lock_held = 1;
		fb_guard_lock_taken(seg);
		return 0;
	}
	if (rc == ETIMEDOUT)
		return -ETIMEDOUT;
	snprintf(why, sizeof(why), "segment corrupt: ring mutex unusable (%s)", strerror(rc));
	return unusable(seg, why);
}

/* A lock wait ran a whole slice.  Does the lock word name a holder that
 * does not exist?  A real holder's death hands the lock on (robust
 * futex): a dead tid without the owner-died bit was written by somebody. */
static int holder_sound(struct fb_seg *seg)
{
	int32_t owner = fb_ring_lock_owner(seg);
	char why[FB_REASON_MAX];

	if (owner == seg->pid) {
		/* We are waiting, so we do not hold it: written by somebody. */
		snprintf(why, sizeof(why), "segment corrupt: ring lock word names us (pid %d) while we wait for it",
			 (int)owner);
		return unusable(seg, why);
	}
	if (owner <= 0 || kill(owner, 0) == 0 || errno != ESRCH ||
	    fb_ring_lock_owner(seg) != owner)
		return 0;
	if (((unsigned)*(const volatile int *)&seg->hdr->lock & 0x40000000u) != 0)
		return 0; /* owner died: the next lock call gets EOWNERDEAD */
	snprintf(why, sizeof(why), "segment corrupt: ring lock held by pid %d, which does not exist",
		 (int)owner);
	return unusable(seg, why);
}

/*
 * Critical sections are a few dozen instructions, so a lock that is busy is
 * almost always free again within a few hundred nanoseconds.  A robust
 * mutex does not spin by itself: contended, it goes straight to the kernel
 * (a futex wait, and a futex wake at the holder's unlock), which at small
 * frames cost more than the frame.  So try a little first, where another
 * CPU can be running the holder.
 */
#define LOCK_SPIN_TRIES 200

int fb_lock_take(struct fb_seg *seg)
{
	int rc = segment_sound(seg);

	if (rc)
		return rc;
	if (fb_spin_enabled(&seg->spin)) {
		for (int i = 0; i < LOCK_SPIN_TRIES; i++) {
			rc = pthread_mutex_trylock(&seg->hdr->lock);
			if (rc != EBUSY)
				return lock_result(seg, rc);
			fb_cpu_relax();
		}
	}
	/* A slice at a time: a holder that never lets go (stopped, or a lock
	 * word somebody scribbled) must not keep us from seeing the render
	 * end, the broker die or the segment go bad.  Between slices we hold
	 * nothing, so the checks may poll and read /proc. */
	for (;;) {
		struct timespec ts = fb_life_deadline(FB_WAIT_SLICE_MS);

		rc = lock_result(seg, pthread_mutex_clocklock(&seg->hdr->lock, CLOCK_MONOTONIC, &ts));
		if (rc != -ETIMEDOUT)
			return rc;
		if (atomic_load(&seg->hdr->state) == FB_SEG_ABORTED)
			return -ECANCELED;
		if (fb_life_broker_lost(seg))
			return fb_life_broker_died(seg);
		rc = segment_sound(seg);
		if (!rc)
			rc = holder_sound(seg);
		if (rc)
			return rc;
	}
}

int fb_lock_take_for(struct fb_seg *seg, int ms)
{
	struct timespec ts = fb_life_deadline(ms);
	int rc = segment_sound(seg);

	seg->lock_owner_before = 0; /* broker_lock_stuck(): no wait, nobody to blame */
	if (rc)
		return rc;
	seg->lock_owner_before = fb_ring_lock_owner(seg);
	return lock_result(seg, pthread_mutex_clocklock(&seg->hdr->lock, CLOCK_MONOTONIC, &ts));
}

int32_t fb_ring_lock_owner(const struct fb_seg *seg)
{
	/* The robust-futex ABI (kernel Documentation/locking/robust-futex-ABI)
	 * keeps the holder's thread id in the futex word's low 30 bits; glibc
	 * uses the mutex's first int as that word.  Our workers are single
	 * threaded, so the thread id is the pid. */
	const volatile int *word = (const volatile int *)&seg->hdr->lock;

	return (int32_t)((unsigned)*word & 0x3fffffffu);
}

void fb_lock_release(struct fb_seg *seg)
{
	bool links_ok;

	FB_ASSERT_LOCKED(seg);
	links_ok = fb_guard_lock_release(seg);
	seg->lock_held = 0;
	if (pthread_mutex_unlock(&seg->hdr->lock) != 0 || !links_ok) {
		fb_life_abort_first(seg, "segment corrupt: ring mutex scribbled while held");
		fb_life_wake_all(seg, fb_life_sleepers(seg->hdr));
	}
}
