/*
 * render — the state fb-render's supervisor and its children's start and
 * reap share (struct render), and the calls between the two halves:
 * fb-render.c is the supervisor (signals, stop, the broker watch, the
 * loop, main); children.c starts the broker, the encoder and the
 * producers, and reaps them (who failed, who is replaced); attached.c is
 * what an attach: producer, a program of the user's, is held to.
 */
#ifndef FB_RENDER_H
#define FB_RENDER_H

#include "options.h"
#include "spawn.h"
#include "status.h"
#include "tmpdir.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#define PROG "fb-render"
/* After a stop begins, how long ffmpeg may take to finish the file (a slow
 * x264 preset flushes its lookahead) before the group is SIGKILLed.  A
 * second SIGINT/SIGTERM kills at once. */
#define STOP_GRACE_MS 30000
/* Once the broker, encoder and producers are gone, what is left of the
 * tree (a renderer's helpers, adopted as subreaper) gets SIGTERM and this
 * long before SIGKILL: the render's end must not wait for a helper. */
#define ORPHAN_GRACE_MS 1000
/* A broker stopped (state T) this long, while fb-render itself runs,
 * supervises nothing: the render is ended. */
#define BROKER_STOPPED_MS 3000
/* The segment exists within milliseconds (posix_fallocate of gigabytes
 * takes seconds); a broker that is alive, running and still not ready
 * after this long will not be. */
#define READY_TIMEOUT_MS 120000
/* Before ready, a stop request gives the broker this long to leave by
 * itself (it sees SIGTERM once the segment is made) before SIGKILL. */
#define READY_GRACE_MS 2000
/* attach: producers are the user's programs, not ours, so fb-render bounds
 * what fb-producer never does: one still running this long after the last
 * frame was written gets SIGTERM, then SIGKILL as long again later (an
 * exec: renderer that lingers is cut off by its fb-producer the same way). */
#define ATTACH_LINGER_MS 2000

enum role { ROLE_NONE, ROLE_BROKER, ROLE_ENCODER, ROLE_PRODUCER };

struct child {
	pid_t pid;
	enum role role;
	bool running;
	uint64_t started_ns; /* attach: when it was started ... */
	bool attached;       /* ... and whether it has registered since */
};

struct render {
	struct render_opts o;
	char bindir[PATH_MAX];
	struct child *kids; /* [0] broker, [1] encoder, [2..] producers */
	size_t nkids;
	int seg_fd;            /* the segment, inherited by every worker */
	bool seg_known;        /* seg_dev/seg_ino: what seg_fd is (fstat) */
	uint64_t seg_dev, seg_ino;
	int sfd;               /* signalfd of the blocked signals */
	char seg_fd_arg[16];   /* its number, as "--fd" wants it */
	uint32_t restarts;
	pid_t pgid;
	bool failed;   /* a child failed: exit 1 */
	int stop_sig;  /* fb-render was asked to stop: exit 128+sig */
	bool stopping; /* shutdown started */
	uint64_t stop_deadline;
	bool encoder_ok;
	bool encoder_gone; /* the encoder exited without finishing: nothing can be emitted now */
	bool aborted; /* the broker reported the render aborted */
	bool child_spoke; /* a child exited 1 or 2: it printed the cause */
	FILE *progress; /* --progress stream, or NULL */
	struct status status;
	uint64_t bw_last_ns;    /* broker watch: last look */
	uint64_t bw_stopped_ns; /* first look that found it stopped, or 0 */
	bool bw_reported;       /* "is stopped" was said */
	struct fb_orphans orphans;
	struct fb_tree_stop tree_stopped; /* Ctrl-Z: stopped outside the group */
	/* --source attach:CMD: CMD's environment (ours, with FB_SEGMENT and
	 * FB_FD), and how messages name it. */
	char **attach_env;
	char env_segment[16 + FB_NAME_MAX], env_fd[24];
	char producer_label[80];
	uint64_t linger_deadline; /* attach: when lingering producers are ended, or 0 */
	bool linger_termed;       /* ... SIGTERM sent; SIGKILL at the next deadline */
	uint64_t stall_claimed, stall_emitted, stall_since_ns; /* attach: last progress */
	struct fb_tmpdir tmp; /* FB_TMPDIR: made before the first child, removed after the last */
};

/* fb-render.c */

/* A child failed: end the render (exit 1). */
void render_fail(struct render *r);

/* A signal taken from the signalfd: stop, Ctrl-Z, continue. */
void render_on_signal(struct render *r, int sig);

/* Wait up to TIMEOUT_MS for a signal, or for FD (if >= 0) to be readable
 * (*READABLE).  Returns the signal taken, or 0. */
int render_wait_event(struct render *r, int fd, int timeout_ms, bool *readable);

/* Does the broker still supervise?  Ends the render if it stays stopped. */
void render_watch_broker(struct render *r);

/* children.c */

/* Start the broker and wait until it says the segment exists.  Returns 0,
 * or the exit code to leave with (the broker printed why). */
int render_start_broker(struct render *r);

/* Open the segment, start the encoder and the producers: 0 or -1. */
int render_start_workers(struct render *r);

/* Reap every exited child.  Returns false once no child of ours is left
 * (ECHILD), including orphans (ffmpeg) reparented to us as subreaper. */
bool render_reap(struct render *r);

/* Is any process we started (broker, encoder, producer) still unreaped? */
bool render_known_running(const struct render *r);

/* How messages name a child of ROLE: "fb-broker", or the attach: program. */
const char *render_role_name(const struct render *r, enum role role);

/* attached.c: --source attach:CMD, producers that are the user's programs */

/* Build CMD's environment (FB_SEGMENT, FB_FD): 0 or -1. */
int render_attach_env(struct render *r);

/* Start one: 0 or -1 (said). */
int render_start_attached(struct render *r);

/* One exited by itself with anything but 4 (or a signal): judge it. */
void render_attach_exited(struct render *r, struct child *k, int status);

/* On every supervision tick: what the broker cannot see (a program that
 * never attaches, producers that do not claim, one that lingers); may
 * shorten *TIMEOUT. */
void render_watch_attached(struct render *r, uint64_t now, int *timeout);

#endif
