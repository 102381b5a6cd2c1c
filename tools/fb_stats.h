/*
 * fb_stats — a snapshot of a live render for people and tools (fb-stat,
 * fb-render's progress line and -progress).  Read without the lock: an
 * observer must never stall a render, so each word is read on its own and
 * counters may be a moment apart.  Every value is segment input: indices
 * are bounded and states named only when valid.
 */
#ifndef FB_STATS_H
#define FB_STATS_H

#include "fb_segment.h"

#include <stdio.h>
#include <sys/types.h>

struct fb_stats_slot {
	uint32_t state; /* enum fb_slot_state, as read (fb_stats_slot_state names it) */
	uint64_t frame; /* the render's frame number: first_frame + ring index */
	int32_t owner;
};

struct fb_stats_proc {
	int32_t pid;
	uint32_t role;
	uint64_t frames, blocked_ns, alive_ns;
};

struct fb_stats {
	uint32_t state;               /* enum fb_seg_state */
	uint64_t elapsed_ns;          /* since the render began */
	uint64_t emitted, claimed;    /* next_encode, next_claim */
	uint64_t reissued;
	uint32_t restarts;
	uint32_t segments_done, segments_redone; /* a segmented render's (fb_rewind.h) */
	uint64_t frames_rerendered;              /* released once, rendered again */
	uint32_t slots_by_state[5];   /* EMPTY, CLAIMED, READY, ENCODING, REISSUE */
	struct fb_stats_slot slot[FB_MAX_SLOTS];
	uint32_t nprocs;              /* entries in proc[] */
	struct fb_stats_proc proc[FB_MAX_PROCS];
	uint32_t producers;           /* registered producers */
	int32_t encoder_pid;          /* 0 if none registered */
	double fps;                   /* frames emitted per second since the start */
	double blocked_share;         /* of the live producers' time, waiting for a slot */
};

void fb_stats_read(const struct fb_seg *seg, struct fb_stats *st);

/*
 * Why did the render of the segment open as FD end badly?  Read through the
 * descriptor (pread, fstat: no mapping, so a truncated object cannot SIGBUS
 * the caller): the abort reason the first aborter recorded, else a size
 * that is not the one the segment was made with.  Writes a one-line cause
 * into BUF (sanitized: segment input) and returns 1, or returns 0 when
 * neither tells anything.
 */
int fb_stats_cause_fd(int fd, char *buf, size_t len);

/*
 * fb-render, which holds the segment open as FD but maps none of it for
 * itself (a truncated object must not SIGBUS the supervisor), reads and
 * writes it through these two; both read the header with pread and
 * validate it (fb_seg_validate) before trusting any word of it.
 *
 * fb_stats_frames_left: could a replacement for the producer DEAD still do
 * anything?  1 if frames are unclaimed, up for reissue, or held by DEAD;
 * 0 if none is.  Read without the lock: an unchanging copy is not needed,
 * every transition that matters moves toward "yes" (CLAIMED by the dead
 * pid, then REISSUE) and both count.  When in doubt (unreadable, not a
 * valid segment, counters out of range): 1.
 */
int fb_stats_frames_left(int fd, pid_t dead);

/* fb_stats_unemitted: are frames not yet emitted by the encoder?  In a
 * segmented render those may still come back (a rewind, lib/fb_rewind.h),
 * so a producer that dies is replaced until the last segment is written.
 * When in doubt: 1. */
int fb_stats_unemitted(int fd);

/* fb_stats_redone: a segmented render's segments redone after their
 * ffmpeg died and the frames rendered again for them (0 when FD is not a
 * valid segment). */
void fb_stats_redone(int fd, uint32_t *segments, uint64_t *frames);

/*
 * fb_stats_set_restarts: record N replacement producers started in the
 * header's display counter (fb-stat, the status line).  0, or -errno
 * (-EINVAL: FD is no valid segment; nothing written).
 */
int fb_stats_set_restarts(int fd, uint32_t n);

/* "EMPTY", "CLAIMED", ...; "?" for a value no slot may hold. */
const char *fb_stats_slot_state(uint32_t state);

/* "INIT", "RUNNING", "DONE", "ABORTED", or "?". */
const char *fb_stats_seg_state(uint32_t state);

/* The snapshot as one JSON object (no newline), for fb-stat --json. */
void fb_stats_json(FILE *out, const char *name, const struct fb_geom *g,
		   const struct fb_stats *st);

#endif
