/*
 * fb_registry — the segment's process table (hdr->procs): who is attached
 * as what, so the broker can supervise it; and the broker's two ways of
 * taking frames back (fb_ring_sweep for the dead, fb_ring_overdue for the
 * hung).  fb_ring.h includes this header.
 */
#ifndef FB_REGISTRY_H
#define FB_REGISTRY_H

#include "fb_segment.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

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

/* With the lock held: this process's registry entry, if it is still ours
 * (the table is segment input like everything else), else NULL. */
struct fb_proc_entry *fb_registry_mine_locked(struct fb_seg *seg);

/*
 * Broker-side calls below never wait for the lock longer than
 * FB_BROKER_LOCK_MS: they return -ETIMEDOUT instead, and the broker asks
 * fb_ring_lock_owner() who is sitting on it (a stopped worker).
 */

/* Broker: copy up to MAX registered entries into OUT; returns the count. */
ssize_t fb_ring_procs(struct fb_seg *seg, struct fb_proc_entry *out, size_t max);

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
