/*
 * fb_registry — the process table and the broker's sweep (fb_registry.h).
 *
 * Every liveness check here reads /proc or opens a pidfd, so none is made
 * with the ring lock held (fb_lock.h): register checks the broker and any
 * previous encoder before it takes the lock, the sweep notes suspects
 * under the lock, checks them outside it, and re-takes it to reissue only
 * claims that did not change in between (same generation).
 */
#include "fb_registry.h"
#include "fb_life.h"
#include "fb_lock.h"
#include "fb_proc.h"
#include "fb_util.h"

#include <errno.h>
#include <unistd.h>

struct fb_proc_entry *fb_registry_mine_locked(struct fb_seg *seg)
{
	struct fb_proc_entry *e;

	FB_ASSERT_LOCKED(seg);
	if (!seg->role || seg->proc_index >= FB_MAX_PROCS)
		return NULL;
	e = &seg->hdr->procs[seg->proc_index];
	return e->pid == seg->pid && e->start == seg->start ? e : NULL;
}

/* Encoder entries found dead before the lock was taken, by table index
 * (pid 0: none).  (pid, start time) names one process for ever, so a dead
 * one stays dead once the lock is held. */
struct dead_encoders {
	int32_t pid[FB_MAX_PROCS];
	uint64_t start[FB_MAX_PROCS];
};

/* Without the lock (this reads /proc): which encoder entries name a dead
 * process?  A lock-free look at segment input: an entry torn by a
 * concurrent registration is simply not found dead. */
static void find_dead_encoders(const struct fb_header *h, struct dead_encoders *d)
{
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++) {
		int32_t pid = __atomic_load_n(&h->procs[i].pid, __ATOMIC_RELAXED);
		uint64_t start = __atomic_load_n(&h->procs[i].start, __ATOMIC_RELAXED);

		d->pid[i] = 0;
		if (pid != 0 && __atomic_load_n(&h->procs[i].role, __ATOMIC_RELAXED) == FB_ROLE_ENCODER &&
		    !fb_proc_alive(pid, start)) {
			d->pid[i] = pid;
			d->start[i] = start;
		}
	}
}

/* With the lock held: is there an encoder entry other than the ones D
 * found dead?  One that was not checked (it registered since) counts as
 * alive: two encoders would fight over next_encode. */
static bool live_encoder_locked(struct fb_seg *seg, const struct dead_encoders *d)
{
	const struct fb_header *h = seg->hdr;

	FB_ASSERT_LOCKED(seg);
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++) {
		const struct fb_proc_entry *e = &h->procs[i];

		if (e->pid != 0 && e->role == FB_ROLE_ENCODER &&
		    !(e->pid == d->pid[i] && e->start == d->start[i]))
			return true;
	}
	return false;
}

/* With the lock held: the first free entry, or NULL. */
static struct fb_proc_entry *free_entry_locked(struct fb_seg *seg)
{
	FB_ASSERT_LOCKED(seg);
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++)
		if (seg->hdr->procs[i].pid == 0)
			return &seg->hdr->procs[i];
	return NULL;
}

int fb_ring_register(struct fb_seg *seg, uint32_t role)
{
	struct fb_header *h = seg->hdr;
	uint64_t start = fb_proc_start_time(seg->pid);
	int32_t bpid = h->broker_pid;
	uint64_t bstart = h->broker_start;
	struct fb_proc_entry *free_e = NULL;
	struct dead_encoders dead;
	int fd, rc;

	fd = fb_pidfd_open(bpid, bstart);
	if (fd == -ENOSYS) /* no pidfds: liveness through /proc instead */
		fd = fb_proc_alive(bpid, bstart) ? -1 : -ESRCH;
	if (fd == -ESRCH && (fb_ring_state(seg) == FB_SEG_DONE ||
			     (role == FB_ROLE_PRODUCER && fb_ring_state(seg) == FB_SEG_ABORTED)))
		return 1; /* a late worker: the render is over, broker gone.  (Not
			   * an encoder of an aborted one: its exit 0 means "every
			   * frame written".) */
	if (fd < -1)
		return fd == -ESRCH ? -EOWNERDEAD : fd;
	if (role == FB_ROLE_ENCODER)
		find_dead_encoders(h, &dead);
	rc = fb_lock_take(seg);
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	if (role == FB_ROLE_ENCODER && live_encoder_locked(seg, &dead))
		rc = -EBUSY;
	else if (!(free_e = free_entry_locked(seg)))
		rc = -ENOSPC;
	if (rc) {
		fb_lock_release(seg);
		if (fd >= 0)
			close(fd);
		return rc;
	}
	/* pid last: the broker treats an entry as present once pid != 0. */
	free_e->role = role;
	free_e->start = start;
	free_e->since_ns = fb_now_ns();
	free_e->frames = 0;
	free_e->blocked_ns = 0;
	free_e->pid = seg->pid;
	seg->proc_index = (uint32_t)(free_e - h->procs);
	fb_lock_release(seg);
	seg->role = role;
	seg->start = start;
	seg->broker_fd = fd;
	seg->broker_pid = bpid;
	seg->broker_start = bstart;
	seg->broker_checked_ns = fb_now_ns();
	fb_life_wake(seg, &h->broker, 1);
	return 0;
}

void fb_ring_unregister(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;

	if (!seg->role || fb_lock_take(seg))
		return;
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++)
		if (h->procs[i].pid == seg->pid && h->procs[i].start == seg->start)
			h->procs[i].pid = 0;
	fb_lock_release(seg);
	seg->role = 0;
}

ssize_t fb_ring_procs(struct fb_seg *seg, struct fb_proc_entry *out, size_t max)
{
	struct fb_header *h = seg->hdr;
	size_t n = 0;
	int rc = fb_lock_take_for(seg, FB_BROKER_LOCK_MS);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < FB_MAX_PROCS && n < max; i++)
		if (h->procs[i].pid != 0)
			out[n++] = h->procs[i];
	fb_lock_release(seg);
	return (ssize_t)n;
}

/* With the lock held: is (PID, START) a registered producer? */
static bool registered_producer_locked(struct fb_seg *seg, int32_t pid, uint64_t start)
{
	const struct fb_header *h = seg->hdr;

	FB_ASSERT_LOCKED(seg);
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++)
		if (h->procs[i].pid == pid && h->procs[i].start == start &&
		    h->procs[i].role == FB_ROLE_PRODUCER)
			return true;
	return false;
}

/* A claim whose owner is not registered, noted under the lock. */
struct suspect {
	uint32_t slot;
	int32_t owner;
	uint64_t owner_start, generation;
	bool dead;
};

/* With the lock held: drop DEAD's entry (matched on (pid, start), so a new
 * process that reused the pid keeps its own registration), then note in
 * SUS every CLAIMED slot whose owner is not a registered producer. */
static size_t note_suspects_locked(struct fb_seg *seg, const struct fb_proc_entry *dead,
				   struct suspect *sus)
{
	struct fb_header *h = seg->hdr;
	size_t nsus = 0;

	FB_ASSERT_LOCKED(seg);
	if (dead)
		for (uint32_t i = 0; i < FB_MAX_PROCS; i++)
			if (h->procs[i].pid == dead->pid && h->procs[i].start == dead->start)
				h->procs[i].pid = 0;
	for (uint32_t s = 0; s < seg->geom.slot_count; s++) {
		const struct fb_slot_meta *m = &h->slots[s];

		if (m->state == FB_SLOT_CLAIMED &&
		    !registered_producer_locked(seg, m->owner, m->owner_start))
			sus[nsus++] = (struct suspect){ s, m->owner, m->owner_start, m->generation, false };
	}
	return nsus;
}

/* With the lock held: every suspect found dead whose slot still holds the
 * same claim goes back to the pool (REISSUE); up to MAX described in OUT.
 * Returns how many. */
static size_t reissue_dead_locked(struct fb_seg *seg, const struct suspect *sus, size_t nsus,
				  struct fb_reissue *out, size_t max)
{
	struct fb_header *h = seg->hdr;
	size_t n = 0;

	FB_ASSERT_LOCKED(seg);
	for (size_t i = 0; i < nsus; i++) {
		struct fb_slot_meta *m = &h->slots[sus[i].slot];

		/* Unchanged since we looked (same claim), and its owner dead. */
		if (!sus[i].dead || m->state != FB_SLOT_CLAIMED ||
		    m->generation != sus[i].generation)
			continue;
		if (n < max) {
			out[n].frame = m->frame;
			out[n].owner = m->owner;
			out[n].owner_start = m->owner_start;
		}
		n++;
		m->owner = 0;
		m->state = FB_SLOT_REISSUE;
		h->reissue_pending++;
		h->reissued++;
	}
	return n;
}

ssize_t fb_ring_sweep(struct fb_seg *seg, const struct fb_proc_entry *dead,
		      struct fb_reissue *out, size_t max)
{
	struct suspect sus[FB_MAX_SLOTS];
	size_t nsus, n;
	int rc = fb_lock_take_for(seg, FB_BROKER_LOCK_MS);

	if (rc)
		return rc;
	nsus = note_suspects_locked(seg, dead, sus);
	fb_lock_release(seg);
	/* Outside the lock (this reads /proc): only a claim whose owner is
	 * provably dead goes back to the pool — never one a live process may
	 * still write into.  Live unregistered owners are left to
	 * fb_ring_overdue's deadline. */
	for (size_t i = 0; i < nsus; i++)
		sus[i].dead = !fb_proc_alive(sus[i].owner, sus[i].owner_start);
	if (nsus == 0 || (rc = fb_lock_take_for(seg, FB_BROKER_LOCK_MS)) != 0)
		return rc ? rc : 0;
	n = reissue_dead_locked(seg, sus, nsus, out, max);
	fb_lock_release(seg);
	if (n)
		fb_life_wake(seg, &seg->hdr->space, (uint32_t)n);
	return (ssize_t)n;
}

ssize_t fb_ring_overdue(struct fb_seg *seg, uint64_t timeout_ns, struct fb_reissue *late,
			size_t max, uint64_t *next_deadline)
{
	struct fb_header *h = seg->hdr;
	uint64_t now = fb_now_ns();
	size_t n = 0;
	int rc;

	*next_deadline = UINT64_MAX;
	rc = fb_lock_take_for(seg, FB_BROKER_LOCK_MS);
	if (rc)
		return rc;
	for (uint32_t s = 0; s < seg->geom.slot_count; s++) {
		const struct fb_slot_meta *m = &h->slots[s];
		uint64_t deadline;

		if (m->state != FB_SLOT_CLAIMED)
			continue;
		/* claimed_ns is written by the producer: a value from the
		 * future is clamped, so it cannot postpone its deadline. */
		deadline = (m->claimed_ns > now ? now : m->claimed_ns) + timeout_ns;
		if (deadline <= now) {
			if (n < max) {
				late[n].frame = m->frame;
				late[n].owner = m->owner;
				late[n].owner_start = m->owner_start;
				n++;
			}
		} else if (deadline < *next_deadline) {
			*next_deadline = deadline;
		}
	}
	fb_lock_release(seg);
	return (ssize_t)n;
}
