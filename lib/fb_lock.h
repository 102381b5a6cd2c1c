/*
 * fb_lock — the ring lock: the header's robust process-shared mutex.
 *
 * Taking it is sliced (FB_WAIT_SLICE_MS at a time) so that a holder that
 * never lets go — stopped, or a lock word somebody scribbled — cannot keep
 * a worker from seeing the render end, the broker die or the segment go
 * bad; an EOWNERDEAD (the holder died inside a critical section) is
 * repaired before the caller sees the lock; the broker's take is bounded
 * (FB_BROKER_LOCK_MS) and fb_ring_lock_owner() tells it who sits on it.
 *
 * Lock contracts are in the names, for every function of fb_lock.c,
 * fb_ring.c and fb_registry.c:
 *
 *   NAME_locked   the caller holds the lock, and still holds it on return.
 *                 Each one starts with FB_ASSERT_LOCKED(seg).
 *   NAME_unlock   the caller holds the lock; NAME releases it, on every
 *                 path, before it returns.
 *   fb_lock_take*, lock_NAME
 *                 take the lock; on success (0) the caller holds it.
 *   anything else needs no lock held and leaves none held: it takes and
 *                 releases the lock itself, or never touches it.
 *
 * Nothing that waits or does I/O (a semaphore, poll, /proc, a pidfd) runs
 * with the lock held; what such a call decides is carried into the
 * critical section as a value.  The exceptions are fb_fault_point (a
 * test's marker file and SIGKILL/SIGSTOP inside the lock, on purpose, and
 * only when a test armed that very step and frame) and fb_now_ns (a
 * vDSO clock read, no syscall).
 */
#ifndef FB_LOCK_H
#define FB_LOCK_H

#include "fb_segment.h"

#include <stdint.h>

#define FB_BROKER_LOCK_MS 500 /* broker-side functions give up on the lock after this */

/*
 * The caller holds the ring lock through SEG: a private flag (seg->lock_held)
 * that fb_lock_take* sets and fb_lock_release clears — never the segment's
 * lock word, which is input anybody may scribble.  Active unless NDEBUG
 * (so in the normal -O2 -g build); a failure is a programming error: one
 * line naming the function, then abort().  One handle is used by one
 * thread at a time (the workers are single threaded).
 */
#ifndef NDEBUG
#define FB_ASSERT_LOCKED(seg) \
	((seg)->lock_held ? (void)0 : fb_lock_assert_failed(__func__))
#else
#define FB_ASSERT_LOCKED(seg) ((void)(seg))
#endif

/* Print "FUNC called without the ring lock" and abort. */
_Noreturn void fb_lock_assert_failed(const char *func);

/*
 * Take the lock, waiting as long as it takes, in slices.  0 with the lock
 * held; else (not held): -ECANCELED (the render was aborted while we
 * waited), -EOWNERDEAD (the broker died: the render is aborted now),
 * -EPROTO (the segment is unusable, and this call recorded that as the
 * abort's reason) or -ECANCELED (unusable, the render had ended already).
 */
int fb_lock_take(struct fb_seg *seg);

/*
 * The broker's take: never wait forever.  A worker stopped (SIGSTOP)
 * inside a critical section keeps the mutex, and the kernel's robust-futex
 * handoff only happens at death; the supervisor must stay free to notice
 * and kill it (fb_ring_lock_owner).  -ETIMEDOUT after MS; SEG->
 * lock_owner_before is who held it when the wait began.
 */
int fb_lock_take_for(struct fb_seg *seg, int ms);

/* Release the lock (the caller holds it).  A mutex scribbled while we held
 * it aborts the render. */
void fb_lock_release(struct fb_seg *seg);

/* The pid holding the ring lock right now, or 0.  After a broker-side call
 * returned -ETIMEDOUT, SEG->lock_owner_before is who held it when the wait
 * began: the same pid means it held the lock throughout. */
int32_t fb_ring_lock_owner(const struct fb_seg *seg);

#endif
