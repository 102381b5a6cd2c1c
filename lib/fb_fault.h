/*
 * fb_fault — deterministic fault injection for tests.
 *
 *   FB_FAULT=ROLE:STEP:FRAME[:stop]    e.g. FB_FAULT=producer:after-claim:37
 *
 * makes the first process of ROLE that reaches STEP for frame FRAME kill
 * itself with SIGKILL — or, with ":stop", stop itself with SIGSTOP (a hung
 * process) — once per segment (a flag in the segment), so the replacement
 * that takes the frame over survives.  Steps, in protocol order:
 *
 *   producer  before-claim   in fb_ring_claim, lock held, nothing written yet
 *             claim          in fb_ring_claim, lock held, slot words written,
 *                            next_claim not yet advanced
 *             after-claim    claimed, no byte rendered
 *             mid-render     half the frame's bytes rendered
 *             after-render   rendered, not yet published
 *             publish        in fb_ring_publish, lock held, length written,
 *                            state not yet READY
 *             after-publish  published
 *   encoder   after-acquire  frame taken for writing, nothing written
 *             after-write    written to the sink, slot not yet released
 */
#ifndef FB_FAULT_H
#define FB_FAULT_H

#include "fb_segment.h"

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
};

/*
 * Parse SPEC (the FB_FAULT value, may be NULL) for a process of ROLE into
 * OUT (OUT->role stays 0 when SPEC names another role, or ROLE is 0 — a
 * syntax check only).  Returns 0, or -EINVAL for a malformed spec (the
 * caller reports it: a typo must not silently test nothing).
 */
int fb_fault_parse(const char *spec, uint32_t role, struct fb_fault *out);

/* Die here if the armed fault names STEP and FRAME and has not fired yet.
 * FRAME is the ring index (the frame number, except in a --range chunk,
 * where it counts from the chunk's first frame). */
void fb_fault_point(struct fb_seg *seg, uint32_t step, uint64_t frame);

#endif
