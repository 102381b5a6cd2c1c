/*
 * fb_life — the render's life cycle and the wake-ups that announce changes.
 *
 * The life-cycle word hdr->state goes INIT -> RUNNING (fb_segment.c, once,
 * before anyone attaches) and then RUNNING -> DONE | ABORTED here, each
 * move one compare-and-swap that needs no lock: a process that cannot take
 * the ring lock (its holder stopped, the mutex scribbled) still stops the
 * render, and an abort racing fb_ring_finish cannot overwrite it — exactly
 * one of them wins.  The three semaphores (space, filled, broker) carry no
 * state; they only wake sleepers, who re-check the words under the lock.
 * fb_ring.h includes this header (its calls kept their fb_ring_ names).
 */
#ifndef FB_LIFE_H
#define FB_LIFE_H

#include "fb_segment.h"

#include <semaphore.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

/* A sleeper (for a slot, a frame, the lock) re-checks at least this often,
 * so a wake-up lost to a dying process costs a slice, not the render. */
#define FB_WAIT_SLICE_MS 250
/* A worker polls the broker's pidfd at most this often (fb_life_broker_lost). */
#define FB_BROKER_CHECK_MS 100

/* CLOCK_MONOTONIC, MS milliseconds from now: an absolute deadline. */
struct timespec fb_life_deadline(int ms);

/* Lock-free: move to ABORTED unless DONE or ABORTED already (one CAS).  The
 * winner alone writes REASON, then publishes it (release store on
 * reason_ready), so the first reason stays.  True if this call won. */
bool fb_life_abort_first(struct fb_seg *seg, const char *reason);

/* Lock-free: move RUNNING -> DONE (one CAS).  True if this call won. */
bool fb_life_finish_first(struct fb_seg *seg);

/* How many producers to wake so that every sleeper sees a change: the
 * waiter count is segment input, read without the lock and bounded by the
 * registry size (+1: a producer between "waiters++" and sleeping). */
uint32_t fb_life_sleepers(const struct fb_header *h);

/* Post S N times (stops, and aborts the render, if S was scribbled). */
void fb_life_wake(struct fb_seg *seg, sem_t *s, uint32_t n);

/* Wake PRODUCERS producers, the encoder and the broker. */
void fb_life_wake_all(struct fb_seg *seg, uint32_t producers);

/* Sleep on S for at most MS milliseconds (a timeout or a signal is as good
 * as a post: the caller re-checks).  0 if posted. */
int fb_life_sleep_on(struct fb_seg *seg, sem_t *s, int ms);

/* Workers: has the broker died?  Polls its pidfd (or /proc without pidfds)
 * at most every FB_BROKER_CHECK_MS, false in between.  A syscall: never
 * call it with the ring lock held. */
bool fb_life_broker_lost(struct fb_seg *seg);

/* After fb_life_broker_lost(): abort with "broker (pid N) died", wake
 * everyone, return -EOWNERDEAD.  Lock-free. */
int fb_life_broker_died(struct fb_seg *seg);

/* The calls the workers and the broker make. */

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

#endif
