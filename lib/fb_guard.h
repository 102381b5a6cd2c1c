/*
 * fb_guard — surviving a segment that changes under the render.
 *
 * The segment is a file anyone attached can truncate, grow or scribble.
 * Touching a mapped page past a truncated file's end raises SIGBUS, and
 * glibc aborts the process (or hangs it) when the words it keeps inside a
 * process-shared mutex or semaphore are garbage.  Neither may kill a worker:
 * fb-render would take the death for a crash and burn restarts on it.  So:
 *
 *  - fb_guard_watch() installs, once per process, a SIGBUS handler (the
 *    process's one SIGBUS handler: others are chained for faults outside
 *    our mappings).  A fault inside a watched mapping maps private zero
 *    pages over the part of it past the file's end (MAP_FIXED), notes it in
 *    a flag, and returns: the code carries on, reads zeros, and the next
 *    check (fb_guard_verify) reports "segment truncated".
 *  - fb_guard_verify() checks, before the ring uses the lock or a
 *    semaphore, that nothing happened to the segment: no SIGBUS taken, the
 *    file's size unchanged (an fstat at most every FB_GUARD_STAT_MS), the
 *    mutex's kind and each semaphore's futex flag word exactly what
 *    initialisation wrote, the life-cycle word a valid state.
 *  - fb_guard_lock_taken()/fb_guard_lock_release() keep glibc's robust
 *    list pointers inside the mutex (which glibc follows and writes through
 *    at unlock) as this process wrote them.
 *
 * Global state: a small table of watched mappings, read by the signal
 * handler — the one place the project keeps process-wide mutable state
 * outside main, because a signal handler can reach nothing else.
 */
#ifndef FB_GUARD_H
#define FB_GUARD_H

#include "fb_segment.h"

#include <stdbool.h>
#include <stddef.h>

#define FB_GUARD_STAT_MS 100 /* how often fb_guard_verify looks at the file's size */
#define FB_GUARD_MAX 16      /* mappings watched at once per process */

/*
 * Watch SEG's mapping (SEG->base, geom.segment_size bytes) of the shm
 * object FD (duplicated: the caller may close FD).  Installs the SIGBUS
 * handler on first use.  Sets SEG->guard.  0, or -errno (the segment then
 * works unguarded).
 */
int fb_guard_watch(struct fb_seg *seg, int fd);

/* Stop watching SEG's mapping (before it is unmapped). */
void fb_guard_unwatch(struct fb_seg *seg);

/*
 * NULL if SEG looks sound; else a one-line reason ("segment truncated
 * under the render ...", "segment corrupt: ...") in WHY[LEN].  Reads only
 * words on the header's first page and the semaphores (which the handler
 * keeps readable).
 */
const char *fb_guard_verify(struct fb_seg *seg, char *why, size_t len);

/* Has a SIGBUS been taken inside SEG's mapping, or its size been seen changed? */
bool fb_guard_tripped(const struct fb_seg *seg);

/* Is semaphore S's futex flag word what sem_init(pshared) wrote?  True
 * where the layout is not known (not glibc). */
bool fb_guard_sem_ok(const struct fb_seg *seg, const sem_t *s);

/* Is the ring mutex's kind what init_sync wrote? */
bool fb_guard_mutex_ok(const struct fb_seg *seg);

/* Right after taking the ring lock: remember the robust-list links glibc
 * wrote into it.  Before releasing it: put them back if they changed;
 * returns false if they had (somebody scribbled the mutex). */
void fb_guard_lock_taken(struct fb_seg *seg);
bool fb_guard_lock_release(struct fb_seg *seg);

#endif
