/*
 * fb_params — the render parameters shared by fb-render and fb-broker
 * (--size, --pix-fmt, --fps, --frames, --range, --slots): defaults, parsing with a
 * one-line error naming the option, and the final geometry check.
 */
#ifndef FB_PARAMS_H
#define FB_PARAMS_H

#include "fb_segment.h"

struct fb_params {
	uint32_t width, height, pix_fmt, fps, slots, frame_format;
	uint64_t frames, slot_bytes;
	uint64_t range_first, range_end; /* --range A:B; range_end 0: the whole render */
};

/* 1280x720 rgba, 30 fps, 300 frames, 8 slots, raw frames. */
void fb_params_default(struct fb_params *p);

/*
 * If OPT (a long option name without dashes) is one of those above (size,
 * pix-fmt, fps, frames, range, slots, frame-format, slot-bytes), parse
 * ARG into P and return 1, or print "PROG: ..." and return -EINVAL.  Returns
 * 0 for any other option name.
 */
int fb_params_set(struct fb_params *p, const char *opt, const char *arg, const char *prog);

/*
 * Compute the geometry, printing a one-line error on failure.  With --range
 * A:B the ring carries B-A frames, which producers draw as frames A..B-1 of
 * the --frames N render.  0 or -errno.
 */
int fb_params_geom(const struct fb_params *p, struct fb_geom *g, const char *prog);

#endif
