/*
 * fb_params — the render parameters shared by fb-render and fb-broker
 * (--size, --pix-fmt, --fps, --frames, --range, --slots, --frame-format,
 * --slot-bytes): their one option table (fb_cli.c merges it into each
 * program's getopt table), defaults, parsing with a one-line error naming
 * the option, the way back to an argv (fb-render starts the broker with
 * it), and the final geometry check.
 */
#ifndef FB_PARAMS_H
#define FB_PARAMS_H

#include "fb_geom.h"

#include <getopt.h>

struct fb_params {
	uint32_t width, height, pix_fmt, slots, frame_format;
	uint32_t fps_num, fps_den;   /* --fps, reduced */
	const char *fps_ntsc;        /* the --fps decimal read as N*1000/1001, or NULL */
	uint64_t frames, slot_bytes;
	uint64_t range_first, range_end; /* --range A:B; range_end 0: the whole render */
};

/*
 * A --fps value S: "N", "N/D" (reduced by their gcd) or a decimal "I.F"
 * with 1..6 decimals.  A decimal of 2 or more decimals that is M*1000/1001
 * rounded to that many decimals, for an integer M (29.97, 23.976, 59.94,
 * 29.970, 119.88), is that broadcast rate: *NTSC is set to 1.  A decimal of
 * one decimal that such a rate also rounds to (59.9: 59.94) is refused as
 * ambiguous.  Any other decimal is taken exactly (12.5 = 25/2), and so is
 * one whose decimals are all 0 (30.00 = 30, never 29.97).  The result is
 * reduced, with 1 <= *DEN <= FB_MAX_FPS_DEN, *NUM <= FB_MAX_FPS_NUM and
 * 0 < *NUM / *DEN <= FB_MAX_FPS.
 * 0, or -EINVAL with WHY (LEN bytes) saying what is expected or why it is
 * refused, in words that follow "invalid --fps 'S': ".
 */
int fb_fps_parse(const char *s, uint32_t *num, uint32_t *den, int *ntsc, char *why, size_t len);

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
 * The options above as a getopt_long table of *N entries (no terminator):
 * entry i has val i, which fb_params_set_index takes.
 */
const struct option *fb_params_options(size_t *n);

/* fb_params_set for entry I of fb_params_options(): 0, or -EINVAL with the
 * message printed. */
int fb_params_set_index(struct fb_params *p, size_t i, const char *arg, const char *prog);

/* What fb_params_argv needs: the value strings it points argv at. */
struct fb_params_argv_buf {
	char size[32], fps[32], frames[24], range[48], slots[16], slot_bytes[24];
};
/* Entries fb_params_argv writes at most (no terminator). */
#define FB_PARAMS_ARGV_MAX 16

/*
 * P back into options that fb_params_set reads as P again ("--size",
 * "1280x720", "--fps", "30000/1001", ...; --range and --slot-bytes only
 * when set): at most FB_PARAMS_ARGV_MAX entries into ARGV, pointing into
 * BUF and static strings.  Returns how many were written.
 */
int fb_params_argv(const struct fb_params *p, char **argv, struct fb_params_argv_buf *buf);

/*
 * Compute the geometry, printing a one-line error on failure (and, at
 * --log-level info, one line when a decimal --fps was read as a broadcast
 * rate: "--fps 29.97 taken as 30000/1001").  With --range
 * A:B the ring carries B-A frames, which producers draw as frames A..B-1 of
 * the --frames N render.  0 or -errno.
 */
int fb_params_geom(const struct fb_params *p, struct fb_geom *g, const char *prog);

#endif
