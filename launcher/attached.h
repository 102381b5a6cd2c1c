/*
 * attached — --source attach:CMD: the producers are CMD itself, a program
 * of the user's linked with libframebroker, started with the segment
 * descriptor in FB_FD (children.c starts them).  They are supervised,
 * reissued and replaced like fb-producer, and held here to what
 * fb-producer promises by itself: how it may exit, that it attaches and
 * claims, that it leaves once the render is over.  These functions judge
 * and report, and send no signal: each answer is a verdict (the render
 * fails, these producers are signalled) that the supervisor carries out,
 * as with exits.h.
 *
 * The watch reads the segment through a read-only view of its own, not
 * the status line's: the status is drawn only when something shows it,
 * and a view it could not have must never leave a program that never
 * attaches running forever.
 */
#ifndef FB_RENDER_ATTACHED_H
#define FB_RENDER_ATTACHED_H

#include "children.h"
#include "fb_stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Producers still running this long after the last frame was written get
 * SIGTERM (continued first if stopped), then SIGKILL as long again later:
 * attach: ones are the user's programs (an exec: renderer that lingers is
 * cut off by its fb-producer the same way), and an fb-producer stopped
 * before it registered is nothing the broker knows of — without this the
 * render, complete, waited for it forever. */
#define ATTACH_LINGER_MS 2000

struct attach_watch {
	struct fb_seg *seg;       /* the watch's read-only view, or NULL */
	struct fb_stats *st;      /* ... and what it read this tick */
	uint64_t linger_deadline; /* when lingering producers are ended, or 0 */
	bool linger_termed;       /* ... SIGTERM sent; SIGKILL at the next deadline */
	uint64_t stall_claimed, stall_emitted, stall_since_ns; /* last progress */
};

/* Open the watch's view of the segment through its descriptor FD (named
 * NAME).  0, or -1 with CAUSE: the render cannot be watched, so it must
 * fail rather than risk waiting forever for a program that never attaches. */
int attach_watch_start(struct attach_watch *w, int fd, const char *name, char *cause,
		       size_t len);

void attach_watch_stop(struct attach_watch *w);

/* Producer K (the user's program) exited by itself with STATUS, anything
 * but 4 (give the frame back, replace me) or a signal, while the render
 * runs.  True if that fails the render: CAUSE says why. */
bool attach_exit_fails(const struct children *ch, const struct child *k, int status,
		       char *cause, size_t len);

/* After the last frame was written (the encoder finished), with producers
 * still running: the signal every running producer must now get (SIGTERM
 * first, SIGKILL ATTACH_LINGER_MS later; the first one said here), or 0
 * while their time lasts.  May shorten *TIMEOUT.  Any render's producers:
 * W without a view (not attach:) judges every lingerer worth a warning. */
int attach_watch_linger(struct attach_watch *w, const struct children *ch, uint64_t now,
			int *timeout);

/* While frames are being rendered: read the segment (once per tick, before
 * the two below). */
void attach_watch_look(struct attach_watch *w);

/* The next producer that has not registered within --frame-timeout of its
 * start, or NULL: the supervisor SIGKILLs it (its death is then a crash
 * like any).  Said here, once: it is counted as attached from then on, so
 * calling this until NULL yields each one once. */
struct child *attach_watch_unattached(const struct attach_watch *w, struct children *ch,
				      uint64_t now);

/* True if frames have waited in free slots with no producer claiming them
 * for --frame-timeout: that fails the render, CAUSE says why. */
bool attach_watch_stalled(struct attach_watch *w, const struct children *ch, uint64_t now,
			  char *cause, size_t len);

#endif
