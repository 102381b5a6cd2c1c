/*
 * fb_segment — the shared segment: its layout, creation by the broker and
 * validated attachment by everyone else (fb_segment.c).  Its geometry is
 * fb_geom.h, names and the object at a name fb_shm.h; both are included.
 *
 * Layout (all offsets from the start of the shm object):
 *
 *   0                 struct fb_header   identity, geometry, protocol words,
 *                                        the robust lock, the wake-up
 *                                        semaphores, FB_MAX_SLOTS slot records
 *   data_offset       slot 0 data        frame_bytes used, slot_stride reserved
 *   + slot_stride     slot 1 data
 *   ...
 *   + (S-1)*stride    slot S-1 data      ends at segment_size
 *
 * data_offset and slot_stride are multiples of the page size, so every slot
 * starts on its own page.  The geometry is written once, before state becomes
 * RUNNING, and never changes; attach() copies it into private memory after
 * validating it, and no process reads geometry from the segment again — the
 * segment is writable by every attached process, so it is input.
 */
#ifndef FB_SEGMENT_H
#define FB_SEGMENT_H

#include "fb_geom.h"
#include "fb_shm.h"
#include "fb_spin.h"

#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define FB_MAGIC 0x474e495242524246ull /* "FBRBRING" little-endian */
#define FB_ABI_VERSION 10u
#define FB_REASON_MAX 192
#define FB_MAX_PROCS 1040u /* registered workers: 1024 producers, encoder, spare */

/* Segment life cycle (fb_header.state). */
enum fb_seg_state {
	FB_SEG_INIT = 0,    /* broker is still initialising; do not touch */
	FB_SEG_RUNNING = 1, /* frames flow */
	FB_SEG_DONE = 2,    /* encoder emitted every frame and its sink closed cleanly */
	FB_SEG_ABORTED = 3, /* render failed; everybody stops; reason[] says why */
};

/* Slot life cycle (fb_slot_meta.state); see docs/ARCHITECTURE.md. */
enum fb_slot_state {
	FB_SLOT_EMPTY = 0,    /* free: frame f may claim it when f % S == slot */
	FB_SLOT_CLAIMED = 1,  /* a producer (owner) is rendering frame into it */
	FB_SLOT_READY = 2,    /* rendered, length bytes valid, waiting for encoder */
	FB_SLOT_ENCODING = 3, /* encoder is writing it to the sink */
	FB_SLOT_REISSUE = 4,  /* its producer died or hung: frame is up for grabs */
};

/* Roles a process registers under (fb_proc_entry.role). */
enum fb_role {
	FB_ROLE_PRODUCER = 1,
	FB_ROLE_ENCODER = 2,
};

/* A registered (attached) worker; pid 0 marks a free entry. */
struct fb_proc_entry {
	int32_t pid;
	uint32_t role;
	uint64_t start; /* /proc start time: guards against pid reuse */
	/* Counters for fb-stat, written by the process itself under the lock;
	 * display only, never trusted for a decision. */
	uint64_t since_ns;   /* CLOCK_MONOTONIC at registration */
	uint64_t frames;     /* frames published (producers) */
	uint64_t blocked_ns; /* time spent waiting for a free slot (producers) */
};

struct fb_slot_meta {
	uint32_t state;      /* enum fb_slot_state */
	int32_t owner;       /* pid of the claiming producer, 0 when none */
	uint64_t owner_start; /* its /proc start time: (owner, owner_start) survives pid reuse */
	uint64_t frame;      /* frame index held; meaningful unless EMPTY */
	uint64_t length;     /* payload bytes, set at publish */
	uint64_t generation; /* bumped at every claim: a stale publish is detected */
	uint64_t claimed_ns; /* CLOCK_MONOTONIC at claim, for --frame-timeout */
};

struct fb_guard;

struct fb_header {
	/* --- identity and geometry: written once by the broker --- */
	uint64_t magic;
	uint32_t abi_version;
	uint32_t header_size; /* sizeof(struct fb_header) of the writer */
	uint32_t width, height;
	uint32_t pix_fmt;
	uint32_t slot_count;
	uint64_t frame_bytes;
	uint64_t slot_stride;
	uint64_t data_offset;
	uint64_t segment_size;
	uint64_t total_frames; /* frames through this ring: ring indices 0..total-1 */
	uint64_t first_frame;   /* ring index i renders frame first_frame + i ... */
	uint64_t render_frames; /* ... of a render of this many */
	uint32_t chunk;         /* 1: a --range chunk (its output is tagged for fb-stitch) */
	uint32_t seg_ino_lo;    /* the object's own inode (st_ino), low and high halves */
	uint32_t fps_num, fps_den; /* frame rate fps_num/fps_den fps, reduced (ABI 8) */
	uint32_t frame_format; /* enum fb_frame_format */
	int32_t broker_pid;
	uint64_t slot_bytes;   /* slot capacity: frame_bytes (raw) or --slot-bytes */
	uint64_t broker_start; /* /proc start time of broker_pid */

	/* --- life cycle: read without the lock, written under it --- */
	_Atomic uint32_t state; /* moved by CAS only: RUNNING -> DONE | ABORTED */
	_Atomic uint32_t reason_ready; /* 1 once the aborter wrote reason[] (release) */
	uint32_t seg_ino_hi;    /* with seg_ino_lo, written with the identity: a copy
				 * of the segment, or another object at the name,
				 * does not pass for ours (fb_seg_unlink_owned) */
	uint32_t reserved2;

	/* --- protocol state: only under lock --- */
	pthread_mutex_t lock; /* PTHREAD_PROCESS_SHARED | PTHREAD_MUTEX_ROBUST */
	uint64_t next_claim;  /* next never-claimed frame index */
	uint64_t next_encode; /* next frame the encoder emits */
	uint32_t space_waiters;   /* producers asleep (or about to be) on space */
	uint32_t encoder_waiting; /* encoder asleep (or about to be) on filled */
	uint64_t encoder_wants;   /* ...for this frame: its publish posts filled */
	uint64_t lock_repairs;    /* times a holder died holding the lock */
	uint64_t reissued;        /* frames taken back from dead or hung producers */
	uint64_t start_ns;        /* CLOCK_MONOTONIC when the render began (display) */
	_Atomic uint32_t restarts; /* replacement producers started (fb-render; display) */
	uint32_t reissue_pending; /* slots in state REISSUE */
	uint32_t rewind;          /* 1: the encoder drains for a rewind (fb_rewind.c,
				   * ABI 10): no fresh claim, nobody is done */
	/* Display counters of a segmented render, written by the encoder
	 * (fb_ring_count_segment): never trusted for a decision. */
	uint32_t segments_done;     /* segments whose ffmpeg finished and was verified */
	uint32_t segments_redone;   /* segments started again after their ffmpeg died */
	uint32_t reserved3;
	uint64_t frames_rerendered; /* frames released once, rendered again (rewinds) */
	char reason[FB_REASON_MAX]; /* NUL-terminated cause of ABORTED */
	struct fb_slot_meta slots[FB_MAX_SLOTS];
	struct fb_proc_entry procs[FB_MAX_PROCS];

	/* --- wake-ups only: no state is carried by a semaphore's count --- */
	sem_t space;  /* posted when a slot frees: wakes a producer */
	sem_t filled; /* posted when the encoder's next frame is ready */
	sem_t broker; /* posted when the life cycle changes */
};

struct fb_fault;

/* An attachment: private bookkeeping plus the mapping. */
struct fb_seg {
	struct fb_header *hdr;
	unsigned char *base;
	struct fb_geom geom;
	int32_t pid; /* getpid() at attach: the owner id this process writes */
	uint64_t dev, ino; /* the shm object's identity (creator only) */
	int lock_fd; /* creator: the object, flock(LOCK_EX)ed for the creator's life
		      * (-1 otherwise): proof that its broker lives, valid in
		      * any pid namespace, where a pid read from the header is not */
	uint32_t role; /* registered role, 0 if none */
	uint64_t start; /* our /proc start time, written with our claims */
	int broker_fd; /* pidfd on the broker; -1: none (the broker itself, or no pidfds) */
	int32_t broker_pid; /* private copies, read once at registration */
	uint64_t broker_start;
	uint64_t broker_checked_ns; /* last liveness check */
	int nowait; /* claim/acquire return -EAGAIN instead of sleeping; set by one
		     * thread (fb_detach stopping the claim-ahead thread) while
		     * another reads it: __atomic accesses only */
	int32_t lock_owner_before; /* lock holder when a timed lock wait began */
	int lock_held; /* this handle holds the ring lock (FB_ASSERT_LOCKED, fb_lock.h) */
	struct fb_spin spin; /* this process's adaptive spin budget (fb_spin.h) */
	uint32_t proc_index; /* our entry in hdr->procs once registered */
	int readonly;        /* fb_seg_attach_readonly: nothing may be written */
	struct fb_guard *guard; /* SIGBUS/scribble watch of this mapping (fb_guard.h) */
	struct fb_fault *fault; /* a test's armed fault (fb_fault.h), NULL: none; freed by detach */
	char name[FB_NAME_MAX + 1];
};

/*
 * Check a header read from a segment of FILE_SIZE bytes; on success copy
 * its geometry to G (fb_geom.c: the arithmetic creation uses).  Pure
 * function of its inputs (the fuzz target).
 * Returns 0 or a negative errno; *WHY names the failed check.
 */
int fb_seg_validate(const struct fb_header *h, uint64_t file_size,
		    struct fb_geom *g, const char **why);

/*
 * Broker: create NAME exclusively (mode 0600), reserve its memory, initialise
 * the header, lock and semaphores, and mark it RUNNING.  On failure nothing
 * is left behind.  -EEXIST if the name is taken, -ENOSPC if /dev/shm is too
 * small, other -errno from the syscalls.
 */
int fb_seg_create(const char *name, const struct fb_geom *g, struct fb_seg **out);

/*
 * Everyone else: open NAME read-write, validate, map.  *WHY as in validate.
 * A name is refused unless it is a regular file we own that nobody else
 * may write (fb_shm_check_owner): -FB_ENOTSEG, -EPERM.
 */
int fb_seg_attach(const char *name, struct fb_seg **out, const char **why);

/*
 * Attach through an already open segment descriptor FD (kept open by the
 * caller), e.g. one inherited from fb-render: unlike a name, it cannot
 * vanish between the broker finishing and a late worker starting.
 */
int fb_seg_attach_fd(int fd, const char *name, struct fb_seg **out, const char **why);

/*
 * Observers (fb-stat): open NAME read-only and map it PROT_READ, validated
 * like any attach (a non-regular file is -FB_ENOTSEG; another user's
 * segment is read if its mode lets us: looking harms nobody).  The handle
 * must not be passed to any fb_ring call that writes; fb_stats_read
 * (fb_stats.h) is what it is for.
 */
int fb_seg_attach_readonly(const char *name, struct fb_seg **out, const char **why);

/* The same through an open descriptor FD (kept by the caller). */
int fb_seg_attach_readonly_fd(int fd, const char *name, struct fb_seg **out, const char **why);

/* Unmap and free the handle (never unlinks). */
void fb_seg_detach(struct fb_seg *seg);

/*
 * Does the broker that created segment NAME still live?  Returns 1 (alive),
 * 0 (gone: the segment is stale) with *PID set to that broker's pid;
 * -EAGAIN if the object is still smaller than a header and empty or
 * starting with the magic (a creator between shm_open and its first write,
 * or one killed right there); -EPROTO if NAME is not a segment of this
 * framebroker version (any other small object included); -errno if
 * unreadable.
 */
int fb_seg_owner_alive(const char *name, int32_t *pid);

/* The same, for an object already open as FD. */
int fb_seg_owner_alive_fd(int fd, int32_t *pid);

/*
 * A launcher's backstop, for when it does not know the inode: unlink NAME
 * only if it is provably the segment broker BROKER_PID created and that
 * broker is gone.  A pid alone proves nothing (another pid namespace has
 * its own broker of the same pid, perhaps started in the same clock tick,
 * so not even (pid, start time) is unique), so all of: the header names
 * BROKER_PID; the header's inode (written by the creator) is this object's
 * own (a copy, or another object put at the name, is not ours); and no
 * live broker holds the object's flock (every creator holds it for life).
 * 0, -EPERM if not provably ours, or -errno.  Prefer fb_shm_unlink_same.
 */
int fb_seg_unlink_owned(const char *name, int32_t broker_pid);

/* Creator: remove NAME if it still names the object we created (another
 * broker may have replaced a segment we thought ours).  0 or -errno. */
int fb_seg_unlink_mine(const struct fb_seg *seg);

/* Start of slot I's data; I < geom.slot_count. */
static inline unsigned char *fb_seg_slot(const struct fb_seg *seg, uint32_t i)
{
	return seg->base + seg->geom.data_offset + (uint64_t)i * seg->geom.slot_stride;
}


/*
 * Attach through FD, a descriptor inherited from whoever made the segment
 * (fb-render, a script), known as NAME: fb_seg_attach_fd, refusing with
 * -EXDEV a descriptor that is not the object NAME names (when NAME still
 * exists), and with -EPROTO one that is no complete segment (a handed-down
 * segment is never still being made).  FD stays open.
 */
int fb_seg_attach_inherited(int fd, const char *name, struct fb_seg **out, const char **why);

/*
 * How workers attach: through FD when it is >= 0 (inherited from fb-render),
 * else by NAME, retried while the segment does not exist yet or is still
 * being initialised (a script may start workers before the broker is
 * ready), for up to TIMEOUT_MS.
 */
int fb_seg_attach_wait(const char *name, int fd, int timeout_ms, struct fb_seg **out,
		       const char **why);


#endif
