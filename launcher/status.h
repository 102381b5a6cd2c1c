/*
 * status — fb-render's live status: a progress line on stderr when stderr
 * is a terminal (frame/total, fps, speed as a multiple of real time, ETA,
 * slots in use, producers, restarts), refreshed 4 times a second; and, with
 * --progress FILE (or -), key=value blocks like ffmpeg's -progress every
 * half second, ending with progress=end, so other tools can follow a render.
 * Both read the segment through a read-only mapping (fb_stats.h).
 */
#ifndef FB_STATUS_H
#define FB_STATUS_H

#include "fb_stats.h"

#include <stdbool.h>
#include <stdio.h>

#define STATUS_TICK_MS 250

struct status {
	struct fb_seg *seg;   /* read-only view, or NULL: nothing to show */
	struct fb_stats *st;
	FILE *progress;       /* --progress target, or NULL */
	bool progress_failed; /* a write failed (said once): no more blocks */
	bool tty;             /* draw the line on stderr */
	bool line_drawn;
	uint64_t last_block_ns;
};

/* Open the view through the segment descriptor FD.  PROGRESS is the already
 * opened --progress stream or NULL.  The view (seg, st) is opened only when
 * something shows it.  A view that cannot be had only means no status;
 * never an error (nothing else depends on it: the watch of attach:
 * producers has a view of its own, attached.h). */
void status_start(struct status *s, int fd, const char *name, FILE *progress);

/* Show what is due; FINAL: the render is over (last line, progress=end). */
void status_tick(struct status *s, bool final);

/* Before another line goes to stderr: end the progress line. */
void status_break_line(struct status *s);

/* The render has failed or is being stopped: end the progress line and
 * never draw it again (a line redrawn under the cause, for the up to 30 s
 * ffmpeg may take to finish, says the render goes on).  --progress blocks
 * go on, to their progress=end. */
void status_quiet(struct status *s);

void status_stop(struct status *s);

/*
 * After a successful render: the one line that says what was written, on
 * stderr whether or not it is a terminal (unless --log-level is below
 * info): "fb-render: wrote out.mp4: 300 frames, 1280x720, 2.1 MB in 3.4 s
 * (88 fps)" and MORE (", 7 segments", or "").  OUTPUT "-" is "stdout" (its
 * size only when it is a regular
 * file); G the render's geometry; ELAPSED_NS fb-render's wall time.
 */
void status_summary(const char *output, const struct fb_geom *g, uint64_t elapsed_ns,
		    const char *more);

#endif
