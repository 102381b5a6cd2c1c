/*
 * watch.c — fb-broker's watch set: the registered workers it holds a pidfd
 * on, admitted only once verified to map this very segment (a registry
 * entry is segment input: a scribbled pid must never be signalled), their
 * deaths swept (claims reissued; the encoder's aborts the render), and the
 * kills — of a worker past a deadline, or of one stuck holding the ring
 * lock.  Called by supervise.c; calls only the library.
 */
#include "broker.h"
#include "fb_proc.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define FB_STUCK_WAITS 3 /* timed-out lock waits in a row before a running holder counts as stuck */

/*
 * Does process PID map the segment (device DEV, inode INO)?  Every worker
 * maps it before it registers, and an innocent process named by a
 * scribbled registry entry does not: this is what makes a pid from the
 * segment a worker the broker may supervise and, if it hangs, kill.  A
 * /proc/PID/maps we cannot read (another user's process, out of
 * descriptors) proves nothing, so it counts as "no".
 */
enum maps { MAPS_YES, MAPS_NO, MAPS_NONE };

/* Does PID map the object (DEV, INO)?  MAPS_NONE: its maps are readable
 * and empty — a process past exit_mm() on its way out (a worker that has
 * just finished), or a kernel thread. */
static enum maps maps_of(pid_t pid, uint64_t dev, uint64_t ino)
{
	char path[64], *line = NULL;
	size_t cap = 0;
	bool found = false, any = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return MAPS_NO;
	while (!found && getline(&line, &cap, f) > 0) {
		unsigned maj, min;
		unsigned long long i;

		any = true;
		/* start-end perms offset maj:min inode path */
		if (sscanf(line, "%*s %*s %*s %x:%x %llu", &maj, &min, &i) == 3)
			found = i == ino && makedev(maj, min) == (dev_t)dev;
	}
	free(line);
	fclose(f);
	return found ? MAPS_YES : any ? MAPS_NO : MAPS_NONE;
}

static bool maps_segment(pid_t pid, uint64_t dev, uint64_t ino)
{
	return maps_of(pid, dev, ino) == MAPS_YES;
}

/* SIGKILL watched worker W: through its pidfd, or — without pidfds — by
 * pid, only after re-checking that this pid is still the process we
 * verified (start time) and still maps the segment.  (Without pidfds a
 * pid could in theory be reused between that check and kill(); pidfds
 * close that race, and every kernel since 5.3 has them.) */
void broker_kill(struct broker *b, struct watched *w)
{
	int rc = 0;

	if (w->fd >= 0)
		rc = (int)syscall(SYS_pidfd_send_signal, w->fd, SIGKILL, NULL, 0);
	else if (fb_proc_alive(w->e.pid, w->e.start) &&
		 maps_segment(w->e.pid, b->seg->dev, b->seg->ino))
		rc = kill(w->e.pid, SIGKILL);
	if (rc < 0 && errno != ESRCH) {
		fb_warn(PROG, "cannot kill %d: %s; will retry", (int)w->e.pid, strerror(errno));
		return;
	}
	w->killed = true;
}

/*
 * A broker-side call gave up on the ring lock: somebody has held it far
 * longer than any critical section takes — a worker stopped (SIGSTOP) or
 * frozen inside one.  Kill it; its death hands the lock on (robust mutex)
 * and is then swept like any other.
 */
void broker_lock_stuck(struct broker *b)
{
	int32_t owner = fb_ring_lock_owner(b->seg);
	char why[FB_REASON_MAX];
	char st;

	b->retry = true;
	/* Only a holder that held it through the whole wait, and is stopped
	 * — or has held it through FB_STUCK_WAITS waits in a row, far beyond
	 * any preemption — is stuck.  A busy lock changing hands, or a holder
	 * merely descheduled on an overloaded machine, is not. */
	if (owner == 0 || owner != b->seg->lock_owner_before) {
		b->stuck_count = 0;
		return;
	}
	b->stuck_count = owner == b->stuck_owner ? b->stuck_count + 1 : 1;
	b->stuck_owner = owner;
	st = fb_proc_state(owner);
	if (st != 'T' && st != 't' && b->stuck_count < FB_STUCK_WAITS)
		return;
	for (size_t j = 0; j < b->nw; j++) {
		if (b->w[j].e.pid != owner)
			continue;
		if (!b->w[j].killed) {
			fb_warn(PROG, "%s %d has held the ring lock over %d ms (stopped?); killing it",
			       b->w[j].e.role == FB_ROLE_ENCODER ? "encoder" : "producer",
			       (int)owner, FB_BROKER_LOCK_MS);
			broker_kill(b, &b->w[j]);
		}
		return;
	}
	/* Not a worker of ours: nothing we may kill.  Stop the render. */
	snprintf(why, sizeof(why), "ring lock held by pid %d, which is not a registered worker",
		 (int)owner);
	if (fb_ring_abort(b->seg, why))
		fb_err(PROG, "%s", why);
}

/* A watched worker died (or its pid no longer names it). */
void broker_on_death(struct broker *b, const struct fb_proc_entry *e)
{
	struct fb_reissue r[16];
	char why[FB_REASON_MAX];
	ssize_t n;

	if (fb_ring_state(b->seg) != FB_SEG_RUNNING)
		return; /* nothing left to save */
	if (e->role == FB_ROLE_ENCODER) {
		if (fb_ring_state(b->seg) == FB_SEG_RUNNING) {
			snprintf(why, sizeof(why), "encoder (pid %d) died", (int)e->pid);
			fb_ring_abort(b->seg, why);
		}
		return;
	}
	n = fb_ring_sweep(b->seg, e->pid ? e : NULL, r, 16);
	if (n == -ETIMEDOUT) {
		broker_lock_stuck(b); /* the entry stays registered: swept on retry */
		return;
	}
	for (ssize_t i = 0; i < n && i < 16; i++)
		fb_warn(PROG, "producer %d died holding frame %llu; frame reissued",
		       (int)r[i].owner, (unsigned long long)fb_geom_frame(&b->seg->geom, r[i].frame));
}

void broker_unwatch(struct broker *b, size_t i)
{
	struct fb_proc_entry e = b->w[i].e;

	if (b->w[i].fd >= 0)
		close(b->w[i].fd);
	b->w[i] = b->w[--b->nw];
	broker_on_death(b, &e);
}

/* Is (PID, START) still in the registry?  (A worker that finished
 * unregisters, then unmaps: between our snapshot and our look at its
 * maps it may have done both.)  When the lock cannot be had: yes. */
static bool still_registered(struct broker *b, const struct fb_proc_entry *e)
{
	struct fb_proc_entry *now = b->cur2;
	ssize_t n = fb_ring_procs(b->seg, now, FB_MAX_PROCS);

	if (n < 0)
		return true;
	for (ssize_t i = 0; i < n; i++)
		if (now[i].pid == e->pid && now[i].start == e->start)
			return true;
	return false;
}

/* Is E (pid, start) in the watch set? */
static bool is_watched(const struct broker *b, const struct fb_proc_entry *e)
{
	for (size_t j = 0; j < b->nw; j++)
		if (b->w[j].e.pid == e->pid && b->w[j].e.start == e->start)
			return true;
	return false;
}

/* Was E judged no worker of ours already? */
static bool is_rejected(const struct broker *b, const struct fb_proc_entry *e)
{
	for (size_t j = 0; j < b->nrejected; j++)
		if (b->rejected[j].pid == e->pid && b->rejected[j].start == e->start)
			return true;
	return false;
}

/* A registry entry E not seen before: watch it (a pidfd, or /proc without
 * pidfds), sweep it if it is dead, or reject it if it does not map the
 * segment.  Entries are segment input: one whose (pid, start) names no
 * live process is treated as dead. */
static void judge_entry(struct broker *b, struct fb_proc_entry *e)
{
	enum maps maps;
	int fd;

	if (e->role != FB_ROLE_PRODUCER && e->role != FB_ROLE_ENCODER)
		e->role = FB_ROLE_PRODUCER; /* unknown role: sweep as producer */
	fd = fb_pidfd_open(e->pid, e->start);
	if (fd == -ENOSYS) /* no pidfds: watched by /proc on the watchdog tick */
		fd = fb_proc_alive(e->pid, e->start) ? -1 : -ESRCH;
	if (fd == -ESRCH) { /* gone, or the pid names someone else now */
		broker_on_death(b, e);
		return;
	}
	if (fd < -1) {
		/* Out of descriptors, say: the worker is not known dead,
		 * so its claims stay its own; retried at the next event. */
		fb_warn(PROG, "cannot watch %s %d yet: %s",
		       e->role == FB_ROLE_ENCODER ? "encoder" : "producer",
		       (int)e->pid, strerror(-fd));
		return;
	}
	/* Alive, and the pidfd (if any) now pins it: is it a worker at
	 * all?  The entry is segment input; only a process that maps
	 * this segment is supervised — and so ever signalled. */
	maps = maps_of(e->pid, b->seg->dev, b->seg->ino);
	if (maps == MAPS_NONE && !fb_proc_kernel_thread(e->pid)) {
		/* A worker exiting (its memory already gone, its
		 * entry not yet): judge it again shortly, when it is
		 * either gone (swept) or — never, in practice — back. */
		if (fd >= 0)
			close(fd);
		b->retry = true;
		return;
	}
	if (maps != MAPS_YES && !still_registered(b, e)) {
		if (fd >= 0) /* it left: nothing to watch, nothing to say */
			close(fd);
		return;
	}
	if (maps != MAPS_YES) {
		if (fd >= 0)
			close(fd);
		fb_warn(PROG, "registry entry names pid %d, which does not map this segment: "
			"not a worker; never signalled", (int)e->pid);
		if (b->nrejected < FB_MAX_PROCS)
			b->rejected[b->nrejected++] = *e;
		return;
	}
	if (b->nw == FB_MAX_PROCS) { /* a dead one not yet unwatched */
		if (fd >= 0)
			close(fd);
		return;
	}
	b->w[b->nw++] = (struct watched){ .e = *e, .fd = fd };
}

void broker_watch_new(struct broker *b)
{
	struct fb_proc_entry *cur = b->cur;
	ssize_t n = fb_ring_procs(b->seg, cur, FB_MAX_PROCS);

	if (n < 0) {
		broker_lock_stuck(b);
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (is_watched(b, &cur[i]))
			continue;
		if (!is_rejected(b, &cur[i]))
			judge_entry(b, &cur[i]);
		else if (!fb_proc_alive(cur[i].pid, cur[i].start))
			/* Never ours to watch; once it is gone, drop it
			 * (its claims are swept as any dead owner's). */
			broker_on_death(b, &cur[i]);
	}
	/* Claims by pids that never registered are reissued too. */
	broker_on_death(b, &(struct fb_proc_entry){ .pid = 0, .role = FB_ROLE_PRODUCER });
}
