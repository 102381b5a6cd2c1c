/*
 * fb_rewind — taking back frames the encoder already released (ABI 10).
 *
 * A segmented render (fb-render --segment) writes its output as segments,
 * one ffmpeg each.  When a segment's ffmpeg dies, the frames of that
 * segment it was given are lost with it, though the ring released their
 * slots long ago: they must be rendered again.  The window cannot simply
 * move back — the slots ahead of it hold frames in flight, and a slot
 * claimed by a live producer is written until that producer publishes —
 * so a rewind is two steps:
 *
 *   fb_ring_rewind_begin  rewind = 1: no fresh claim is handed out (frames
 *                         taken back from dead producers still are), and
 *                         no producer takes "every frame out" for an exit;
 *   (the encoder acquires and releases, unwritten, every frame in flight)
 *   fb_ring_rewind_to     once nothing is in flight (next_encode ==
 *                         next_claim, no REISSUE, every slot EMPTY):
 *                         next_claim = next_encode = the segment's first
 *                         frame, rewind = 0, every sleeping producer woken.
 *
 * The window only moves back while no slot is occupied, so every ring
 * invariant (one slot per frame, at most S in flight, in order) holds as
 * before, the order restarting at the segment's first frame.  model/ring.pml
 * checks it (MAXREWINDS), with a variant that rewinds without the drain.
 */
#ifndef FB_REWIND_H
#define FB_REWIND_H

#include "fb_segment.h"

#include <stdbool.h>
#include <stdint.h>

/* Encoder: stop fresh claims for a rewind.  0, -ECANCELED (aborted),
 * -EPROTO, -EOWNERDEAD. */
int fb_ring_rewind_begin(struct fb_seg *seg);

/*
 * Encoder, after fb_ring_rewind_begin and once it holds no frame: move the
 * window back to ring index FRAME (≤ next_encode) if nothing is in flight
 * any more.  0 done; -EAGAIN frames are still in flight (acquire and
 * release them, then call again); -EINVAL no rewind begun or FRAME ahead;
 * -ECANCELED, -EPROTO, -EOWNERDEAD as for release.
 */
int fb_ring_rewind_to(struct fb_seg *seg, uint64_t frame);

/* Encoder: a segment's ffmpeg finished and was verified (REDONE: the
 * segment had been started before), for fb-stat; display only. */
void fb_ring_count_segment(struct fb_seg *seg, bool redone);

#endif
