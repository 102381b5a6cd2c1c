/*
 * children — fb-render's children and the table of them: start the broker
 * (with the pipe its "ready" comes through), open the segment it made and
 * start the encoder and the producers (fb-producer, or an attach: program)
 * with its descriptor, reap them one exit at a time, replace a producer
 * that crashed while the restart budget lasts, end what is left.  It acts
 * on children only when asked and decides nothing about the render: every
 * exit goes back to the caller (the supervisor), which judges it.
 */
#ifndef FB_RENDER_CHILDREN_H
#define FB_RENDER_CHILDREN_H

#include "options.h"

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum role { ROLE_NONE, ROLE_BROKER, ROLE_ENCODER, ROLE_PRODUCER };

struct child {
	pid_t pid;
	enum role role;
	bool running;
	uint64_t started_ns; /* attach: when it was started ... */
	bool attached;       /* ... and whether it has registered since */
};

struct children {
	const struct render_opts *o;
	char bindir[PATH_MAX]; /* where fb-render is: its siblings are there */
	struct child *kids;    /* [0] broker, [1] encoder, [2..] producers */
	size_t nkids;
	pid_t pgid;            /* the render's group: the broker leads it */
	int seg_fd;            /* the segment, inherited by every worker */
	char seg_fd_arg[16];   /* its number, as "--fd" wants it */
	bool seg_known;        /* seg_dev/seg_ino: what seg_fd is (fstat) */
	uint64_t seg_dev, seg_ino;
	uint32_t restarts;
	/* --source attach:CMD: CMD's environment (ours, with FB_SEGMENT and
	 * FB_FD), and how messages name it. */
	char **attach_env;
	char env_segment[16 + FB_NAME_MAX], env_fd[24];
	char producer_label[80];
};

/* Where our own binary is, and how messages name an attach: producer.
 * 0, or -1 with errno (nothing said). */
int children_init(struct children *ch, const struct render_opts *o);

/* Room for every child the render may start (broker, encoder, the
 * producers and every replacement): 0 or -1 (nothing said). */
int children_alloc(struct children *ch);

/* Start the broker; *READY_FD: the pipe its "ready" line comes through.
 * 0, or -1 with CAUSE (nothing started). */
int children_start_broker(struct children *ch, int *ready_fd, char *cause, size_t len);

enum ready { READY_WAIT, READY_YES, READY_NO };

/* FD is readable: read what the broker wrote into BUF (*GOT bytes so far,
 * BUF holds 8).  READY_YES once it said "ready\n", READY_NO if it closed
 * the pipe or said anything else, READY_WAIT for more. */
enum ready children_read_ready(int fd, char *buf, size_t *got);

/* Open the segment (workers attach through the inherited descriptor), and
 * start the encoder and the producers: 0, or -1 with CAUSE. */
int children_start_workers(struct children *ch, char *cause, size_t len);

enum reap { REAP_NONE, REAP_OURS, REAP_OTHER, REAP_ALL_GONE };

/* Reap one exited child, if any: REAP_OURS (*K is the child it was, now
 * not running; *STATUS its wait status), REAP_OTHER (an orphan adopted as
 * subreaper), REAP_NONE (nobody exited), REAP_ALL_GONE (ECHILD). */
enum reap children_reap(struct children *ch, struct child **k, int *status);

/* Is any process we started (broker, encoder, producer) still unreaped? */
bool children_running(const struct children *ch);

/* The broker, or NULL before it was started. */
struct child *children_broker(struct children *ch);

/* Send SIG to every producer still running (SIGTERM: each ends its
 * renderer with it). */
void children_signal_producers(struct children *ch, int sig);

/* How messages name a child of ROLE: "fb-broker", or the attach: program. */
const char *children_name(const struct children *ch, enum role role);

enum replace { REPLACE_DONE, REPLACE_NOT_NEEDED, REPLACE_FAILED };

/* Producer K crashed (HOW: "killed by signal 9 (Killed)"): the broker
 * reissues what it held; start a replacement if frames remain and the
 * restart budget lasts.  Warnings said here; REPLACE_FAILED with CAUSE. */
enum replace children_replace(struct children *ch, const struct child *k, const char *how,
			      char *cause, size_t len);

/* After the last child: unlink the segment if the broker could not (it
 * was killed), close it, free the table. */
void children_free(struct children *ch);

#endif
