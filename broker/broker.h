/*
 * broker.h — what fb-broker's files share: its name in messages, the
 * supervision record (struct broker: the watch set and the clocks of the
 * hang checks), and the calls between the files.  Calls only go down:
 *
 *   fb-broker.c   main: options, signals, the watcher thread, the end
 *     ├─ create.c     the segment: exclusive creation, stale replacement
 *     └─ supervise.c  the loop: poll, frame and encoder deadlines, pauses
 *          └─ watch.c     the watch set: pidfds, deaths, kills, stuck lock
 */
#ifndef FB_BROKER_H
#define FB_BROKER_H

#include "fb_ring.h"
#include "fb_util.h"

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROG "fb-broker"
#define FB_WATCHDOG_MS 1000 /* hang checks run at least this often */

/* A registered worker the broker holds a pidfd on (fd -1: no pidfds on
 * this system), verified at registration to be a process that maps this
 * very segment (watch.c): only these are ever signalled. */
struct watched {
	struct fb_proc_entry e;
	int fd;
	bool killed; /* SIGKILLed for a timeout; death not yet seen */
};

struct broker {
	struct fb_seg *seg;
	uint64_t frame_timeout_ns;
	uint32_t frame_timeout_s;
	struct watched w[FB_MAX_PROCS];
	size_t nw;
	/* Registry entries naming a live process that does not map the
	 * segment (scribbled, or a worker we cannot inspect): never watched,
	 * never signalled; remembered so each is judged and reported once. */
	struct fb_proc_entry rejected[FB_MAX_PROCS];
	size_t nrejected;
	uint32_t encoder_timeout_s;
	/* Encoder progress (check_encoder): the next_encode last seen, how
	 * long it has stood still while frames waited for the encoder, and
	 * when we last looked. */
	uint64_t enc_seen, enc_stall_ns, enc_looked_ns;
	/* The broker's own pauses (Ctrl-Z of the whole render, SIGSTOP): how
	 * long the last ones lasted and when it resumed (note_pause). */
	uint64_t paused_ns, resumed_ns, pass_ns;
	int pass_timeout_ms;
	bool retry; /* a call timed out on the ring lock: look again soon */
	int32_t stuck_owner; /* who held the lock through the last timed-out wait */
	unsigned stuck_count; /* ...and through how many in a row */
	/* scratch space, here rather than on the stack: */
	struct fb_proc_entry cur[FB_MAX_PROCS];
	struct fb_proc_entry cur2[FB_MAX_PROCS]; /* a second look (still_registered) */
	struct pollfd pfd[2 + FB_MAX_PROCS];
};

/* create.c: create segment NAME of geometry G, replacing a stale one (its
 * broker dead), saying so.  0 with *SEG; -EEXIST when it must not be taken
 * (a live broker's, another user's, not a segment, or one that keeps
 * changing under us: said why, exit 2), else -errno. */
int broker_create(const char *name, const struct fb_geom *g, struct fb_seg **seg);

/* supervise.c: supervise B until the render ends or a signal arrives on
 * SFD (EFD: the watcher thread's eventfd); the exit code. */
int broker_supervise(struct broker *b, int sfd, int efd);

/* watch.c: pidfds on newly registered workers (only those that map the
 * segment; see there), and their claims reissued when they die. */
void broker_watch_new(struct broker *b);

/* watch.c: watched worker I died: drop it and sweep its claims. */
void broker_unwatch(struct broker *b, size_t i);

/* watch.c: the sweep of a dead process E (pid 0: claims by pids that never
 * registered); an encoder's death aborts the render. */
void broker_on_death(struct broker *b, const struct fb_proc_entry *e);

/* watch.c: SIGKILL watched worker W (verified first without pidfds). */
void broker_kill(struct broker *b, struct watched *w);

/* watch.c: a broker-side ring call timed out on the lock: kill a stuck
 * holder (stopped, or holding it too long), or abort if it is no worker. */
void broker_lock_stuck(struct broker *b);

#endif
