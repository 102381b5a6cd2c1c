/*
 * fb_fault — deterministic fault injection for tests.  Private to this
 * tree: not in include/framebroker.h, not exported by libframebroker.so
 * (lib/framebroker.map), and nothing of it in the segment's layout.
 *
 *   FB_FAULT=ROLE:STEP:FRAME[:stop]  FB_FAULT_ONCE=/ABSOLUTE/PATH
 *   e.g. FB_FAULT=producer:after-claim:37 FB_FAULT_ONCE=$TMP/fault.1
 *
 * makes the first process of ROLE that reaches STEP for frame FRAME kill
 * itself with SIGKILL — or, with ":stop", stop itself with SIGSTOP (a hung
 * process) — once, so the replacement that takes the frame over survives.
 *
 * Once: a process about to fire first creates the marker FB_FAULT_ONCE
 * (open O_CREAT|O_EXCL|O_NOFOLLOW), and only the one that created it fires;
 * every later one, a replacement or another worker reaching the frame after
 * its reissue, finds it there and goes on.  The marker is a file the test
 * names, in a directory of its own that it removes (tests/lib.sh's $TMP):
 * it outlives the processes it concerns, as a word in the segment did, but
 * the segment carries nothing for tests.  A marker that cannot be created
 * for any reason but EEXIST fires nothing (the test, which expects a death,
 * sees none and fails): firing without one could fire in every worker.
 * fb-render refuses to start with a marker that exists already (a stale one
 * would silently test nothing), and FB_FAULT without FB_FAULT_ONCE is
 * malformed.  So is any ROLE but producer or encoder (no other has a
 * step), a STEP not of ROLE, or a FRAME that is no number.
 *
 * Steps, in protocol order:
 *
 *   producer  before-claim   in fb_ring_claim, lock held, nothing written yet
 *             claim          in fb_ring_claim, lock held, slot words written,
 *                            next_claim not yet advanced
 *             after-claim    claimed, no byte rendered
 *             mid-render     half the frame's bytes rendered (fb-producer
 *                            only: fb_fault_mid_render)
 *             after-render   rendered, not yet published
 *             publish        in fb_ring_publish, lock held, length written,
 *                            state not yet READY
 *             after-publish  published
 *   encoder   after-acquire  frame taken for writing, nothing written
 *             after-write    written to the sink, slot not yet released
 *             ffmpeg-died    (segmented) FRAME is the first of the segment whose
 *                            ffmpeg was killed: the rewind begun and the
 *                            frames ffmpeg held given back, the window not
 *                            yet moved back (encoder/segments.c)
 *
 * The library (lib/framebroker.c, lib/fb_ring.c) marks every producer step
 * but mid-render, so fb-producer and any library producer die at the same
 * points; fb-encoder marks the encoder's.
 */
#ifndef FB_FAULT_H
#define FB_FAULT_H

#include <stddef.h>
#include <stdint.h>

enum fb_fault_step {
	FB_STEP_BEFORE_CLAIM = 1,
	FB_STEP_CLAIM,
	FB_STEP_AFTER_CLAIM,
	FB_STEP_MID_RENDER,
	FB_STEP_AFTER_RENDER,
	FB_STEP_PUBLISH,
	FB_STEP_AFTER_PUBLISH,
	FB_STEP_AFTER_ACQUIRE,
	FB_STEP_AFTER_WRITE,
	FB_STEP_FFMPEG_DIED,
};

/* An armed fault (fb_fault.c); a process holds at most one, in its segment
 * handle (struct fb_seg's fault, freed by fb_seg_detach). */
struct fb_fault;

/*
 * The one reader of FB_FAULT and FB_FAULT_ONCE, for every program and the
 * library.  ROLE FB_ROLE_PRODUCER or FB_ROLE_ENCODER (fb_segment.h): *OUT
 * (OUT may be NULL: check only) is the fault when it names a step of ROLE,
 * else NULL.  ROLE 0 checks only, and also that the marker does not exist
 * yet (fb-render, before any process runs).  Returns 0, -ENOMEM, -EINVAL
 * (malformed: a typo must not silently test nothing) or -EEXIST (ROLE 0:
 * the marker exists), with WHY (WHY_LEN bytes; NULL: not wanted) the
 * one-line message.  Free *OUT with free().
 */
int fb_fault_from_env(uint32_t role, struct fb_fault **out, char *why, size_t why_len);

/* Die here if F (NULL: none armed) names STEP and FRAME and this process
 * creates its marker.  FRAME is the ring index (the frame number, except in
 * a --range chunk, where it counts from the chunk's first frame). */
void fb_fault_point(const struct fb_fault *f, uint32_t step, uint64_t frame);

/* The mid-render step of producer P's current claim (nothing without one).
 * In lib/framebroker.c, which holds the claim; fb-producer, linked with the
 * internal archive, calls it.  Not exported by libframebroker. */
struct fb_producer;
void fb_fault_mid_render(struct fb_producer *p);

#endif
