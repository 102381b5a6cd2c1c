/*
 * supervisor — fb-render's one loop, and the render it owns.  It starts
 * the broker, waits for the segment, starts the workers and supervises
 * them until no child is left: every wait of fb-render is this loop's
 * (signals taken from the signalfd, polled with the broker's ready pipe),
 * every decision is made here.  What it calls — children (start, reap,
 * replace), exits (what an exit means), attached (what an attach: program
 * is held to), watch (is the broker stopped), outcome (the exit code and
 * its cause), status — reports back and never calls up.
 */
#ifndef FB_RENDER_SUPERVISOR_H
#define FB_RENDER_SUPERVISOR_H

#include "attached.h"
#include "children.h"
#include "join.h"
#include "options.h"
#include "outcome.h"
#include "orphans.h"
#include "tree.h"
#include "status.h"
#include "watch.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* After a stop begins, how long ffmpeg may take to finish the file (a slow
 * x264 preset flushes its lookahead) before the group is SIGKILLed.  A
 * second SIGINT/SIGTERM kills at once. */
#define STOP_GRACE_MS 30000
/* Once the broker, encoder and producers are gone, what is left of the
 * tree (a renderer's helpers, adopted as subreaper) gets SIGTERM and this
 * long before SIGKILL: the render's end must not wait for a helper. */
#define ORPHAN_GRACE_MS 1000
/* The segment exists within milliseconds (posix_fallocate of gigabytes
 * takes seconds); a broker that is alive, running and still not ready
 * after this long will not be. */
#define READY_TIMEOUT_MS 120000
/* Before ready, a stop request gives the broker this long to leave by
 * itself (it sees SIGTERM once the segment is made) before SIGKILL. */
#define READY_GRACE_MS 2000

/* Where the render is; the loop does what the phase asks. */
enum phase {
	PHASE_READY,   /* the broker makes the segment: wait for its "ready" */
	PHASE_ABANDON, /* it will not be ready: end it, collect its exit */
	PHASE_DRAIN,   /* ... and reap whatever else is left of the tree */
	PHASE_RUN,     /* broker, encoder, producers: until no child is left */
	PHASE_JOIN,    /* segmented: fb-stitch joins the segments (join.h) */
	PHASE_OVER,
};

enum encoder_state { ENCODER_RUNNING, ENCODER_DONE, ENCODER_GONE };

struct render {
	const struct render_opts *o;
	struct children ch;
	struct outcome out;
	struct status status;
	FILE *progress; /* --progress stream, or NULL */
	int sfd;        /* signalfd of the blocked signals (signals.h) */
	enum phase phase;
	bool stopping;  /* the render is ending: workers were told */
	bool aborted;   /* ... because the broker reported it aborted */
	uint64_t stop_deadline; /* then the group is SIGKILLed; UINT64_MAX: it was */
	enum encoder_state encoder;
	/* PHASE_READY: the broker's pipe and what came through it */
	int ready_fd;
	bool ready_readable;
	char ready_buf[8];
	size_t ready_got;
	uint64_t ready_deadline;
	/* PHASE_ABANDON: the broker's SIGKILL, and its exit */
	uint64_t broker_kill_at;
	int broker_status;
	struct broker_watch bw;
	struct attach_watch aw;
	struct fb_orphans orphans;
	struct fb_tree_stop tree_stopped; /* Ctrl-Z: stopped outside the group */
	/* A segmented render (workdir.h; NULL: not segmented): the join. */
	struct workdir *work;
	struct join join;
	int join_status;
	bool joined;    /* fb-stitch wrote -o: the directory can go */
};

/* Start the broker and supervise the render until no child is left (a
 * segmented render: then join the segments; with every frame in them
 * already, only that).  R
 * holds the options, the children's table (children_init, _alloc), the
 * signalfd and the --progress stream; R->out says how the render ended. */
void supervise(struct render *r);

/* After supervise: the last status line (if the render succeeded) and the
 * last --progress block. */
void supervise_end(struct render *r);

#endif
