/*
 * attached — --source attach:CMD: the producers are CMD itself, a program
 * of the user's linked with libframebroker, started with the segment
 * descriptor in FB_FD (children.c starts them).  They are supervised,
 * reissued and replaced like fb-producer, and held here to what
 * fb-producer promises by itself: how it may exit, that it attaches and
 * claims, that it leaves once the render is over.  These functions judge
 * and report; the supervisor decides what the render does about it.
 */
#ifndef FB_RENDER_ATTACHED_H
#define FB_RENDER_ATTACHED_H

#include "children.h"
#include "fb_stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* attach: producers still running this long after the last frame was
 * written get SIGTERM, then SIGKILL as long again later (an exec: renderer
 * that lingers is cut off by its fb-producer the same way): they are the
 * user's programs, so fb-render bounds what fb-producer never does. */
#define ATTACH_LINGER_MS 2000

struct attach_watch {
	uint64_t linger_deadline; /* when lingering producers are ended, or 0 */
	bool linger_termed;       /* ... SIGTERM sent; SIGKILL at the next deadline */
	uint64_t stall_claimed, stall_emitted, stall_since_ns; /* last progress */
};

/* Producer K (the user's program) exited by itself with STATUS, anything
 * but 4 (give the frame back, replace me) or a signal, while the render
 * runs.  True if that fails the render: CAUSE says why. */
bool attach_exit_fails(const struct children *ch, const struct child *k, int status,
		       char *cause, size_t len);

/* After the last frame was written (the encoder finished): end producers
 * that linger; may shorten *TIMEOUT. */
void attach_watch_linger(struct attach_watch *w, struct children *ch, uint64_t now,
			 int *timeout);

/* While frames are being rendered, through the status view SEG/ST: kill a
 * program that never attaches (its death is then a crash like any).  True
 * if frames wait in free slots with no producer claiming them for
 * --frame-timeout: that fails the render, CAUSE says why. */
bool attach_watch_stalled(struct attach_watch *w, struct children *ch, const struct fb_seg *seg,
			  struct fb_stats *st, uint64_t now, char *cause, size_t len);

#endif
