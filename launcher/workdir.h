/*
 * workdir — a segmented render's work directory, fb-render's side of it
 * (the format and its checks are tools/fb_plan.h's): is the render
 * segmented and how long is a segment, the render line, the directory
 * refused, made or resumed before the first child, and what is left of it
 * once the render is over.
 */
#ifndef FB_RENDER_WORKDIR_H
#define FB_RENDER_WORKDIR_H

#include "options.h"
#include "fb_plan.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

struct workdir {
	int fd;              /* the directory; -1: the render is not segmented */
	char path[PATH_MAX];
	uint64_t seg_frames, frames; /* L and R */
	uint64_t first, end; /* the frames this render writes: its --range, or 0:R */
	bool chunk;          /* a --range render: its join is that chunk (fb-stitch --chunk) */
	uint64_t start;      /* the first frame left to render (a resume's) */
	char ext[FB_PLAN_EXT_MAX + 1];
	char render[FB_PLAN_LINE_MAX + 1];
};

/*
 * Decide whether O's render is segmented (--segment, or the default) and
 * check its work directory: the refusals (exit 2, one line) of an option
 * that cannot be joined, of a directory that is not ours to use, of a plan
 * there without --resume or made for another render.  Unless DRY
 * (--check), make the directory and its plan, or repair a resumed one
 * (fb_plan_load) and set O's --range to the frames left; O->seg_frames
 * and O->seg_dir say it to the encoder.  An exit code: 0 to go on.
 */
int workdir_prepare(struct workdir *w, struct render_opts *o, const struct fb_geom *g,
		    bool dry);

/* fb-render --plan-check DIR: one "FIRST END" line per valid segment on
 * stdout, exit 0; or the refusal, exit 2.  Nothing is changed. */
int workdir_plan_check(const char *dir);

/* Segments M of a render: ceil(R / L). */
uint64_t workdir_segments(const struct workdir *w);

/*
 * The render is over.  A plan that cannot be read: keep the directory as it
 * is (one line).  JOINED: remove the segments, the plan and the
 * directory.  Else keep the directory if it holds a finished segment
 * (one line: "N of M segments kept in DIR; run again with --resume"),
 * and remove it otherwise.  Closes W->fd.
 */
void workdir_end(struct workdir *w, bool joined);

#endif
