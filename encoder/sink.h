/*
 * sink — where the encoder's frames go, and when their slots may be reused.
 *
 * Two ways to hand frames to a file descriptor:
 *
 *  copy      writev(2).  When the call returns the kernel has copied the
 *            bytes, so the frames' slots are free at once.  Any descriptor.
 *
 *  splice    vmsplice(2), only into a pipe the encoder owns (ffmpeg's
 *            stdin).  The pipe takes references to the slot's pages instead
 *            of a copy, so the bytes are not "out" when the call returns:
 *            they are out once the reader has read them.  The sink keeps
 *            each frame's end offset in the byte stream and compares it with
 *            bytes pushed minus FIONREAD (bytes still in the pipe); only a
 *            frame the reader has wholly consumed is reported done, and only
 *            then may its slot be released — a producer can never overwrite
 *            pages that are still in the pipe.  This rests on the reader
 *            copying with read(2), as ffmpeg does; a reader that spliced
 *            the pages onward (tee(2), splice(2)) would take references
 *            out of the pipe uncopied.  The encoder splices only into the
 *            ffmpeg it started itself, and FB_VMSPLICE=0 turns it off.
 *
 * A descriptor opened O_NONBLOCK (ffmpeg's pipe) is waited on with poll, so
 * a reader that stalls is a timeout, and a broker or a reader that dies
 * (their pidfds, the pipe's POLLERR) ends every wait at once; a blocking
 * one (a file, stdout) just blocks in writev.
 */
#ifndef FB_SINK_H
#define FB_SINK_H

#include "fb_ring.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* vmsplice only pays for frames of at least this many bytes: below it the
 * copy is cheaper than pinning pages, and a pipe holds few small frames. */
#define SINK_SPLICE_MIN (64u * 1024u)

struct sink {
	int fd;
	bool splice;     /* vmsplice mode (see above) */
	int timeout_ms;  /* the reader made no progress for this long: -ETIMEDOUT */
	int broker_fd;   /* a pidfd watched while waiting (-EOWNERDEAD), or -1 */
	int reader_fd;   /* the reader's pidfd (-ECHILD once it exited), or -1;
			  * sink_init sets -1, the owner of the reader sets it */
	int stop_fd;     /* readable once we are asked to stop (a signalfd):
			  * every wait ends with -EINTR; -1 (sink_init): none */
	int jitter_ms;   /* stress tests: sleep 0..J ms per frame */
	unsigned int seed;
	uint64_t pushed;    /* bytes handed to fd so far */
	/* Frames pushed but not yet reported done, oldest first: a ring of
	 * their end offsets (splice) or just a count (copy). */
	uint64_t *ends;
	uint32_t cap, head, count;
	uint64_t consumed_seen; /* splice: last consumed offset, for the timeout */
	uint64_t progress_ns;   /* when it last moved */
	uint64_t wait_ns;       /* sink_wait's current poll step (backs off) */
};

/*
 * Set K up to feed FD.  SPLICE asks for vmsplice mode (the caller decides:
 * FD must be a pipe it owns); it is dropped silently if the kernel refuses
 * vmsplice on the first frame.  MAX_HELD bounds the frames held at once
 * (the ring's slot count).  0 or -ENOMEM.
 */
int sink_init(struct sink *k, int fd, bool splice, uint32_t max_held, int timeout_ms,
	      int broker_fd, int jitter_ms);

/* Hand frames F[0..N) to the descriptor, in order.  0, -ETIMEDOUT (the
 * reader took nothing for timeout_ms), -EOWNERDEAD (the broker died while
 * we waited), -ECHILD (the reader's pidfd says it exited), or -errno
 * (-EPIPE: the reader is gone). */
int sink_push(struct sink *k, const struct fb_frame_ref *f, uint32_t n);

/* How many of the oldest pushed frames are out — their slots may be reused
 * — and forget them. */
uint32_t sink_done(struct sink *k);

/* Splice mode: wait a little for the reader to consume more.  0, or the
 * errors of sink_push.  A reader that exited after consuming every byte
 * pushed is 0 here: the frames are out (its exit status is the owner's
 * business). */
int sink_wait(struct sink *k);

/* Without waiting: is the reader gone?  0, -EPIPE (the pipe has no reader:
 * POLLERR/POLLHUP), -ECHILD (reader_fd says it exited) or -EOWNERDEAD.
 * The encoder calls it between its short waits on the ring, so a reader
 * that dies while no frame comes is noticed within one wait. */
int sink_check(const struct sink *k);

/* Copy LEN bytes of BUF to the descriptor (writev, whatever the mode: BUF
 * is the caller's, no slot), waiting as sink_push does: its errors.  No
 * frame is tracked: call it once every frame is done. */
int sink_write(struct sink *k, const void *buf, size_t len);

void sink_free(struct sink *k);

#endif
