/*
 * fb_ring — the slot protocol.  Memory ordering: every read or write of a
 * slot's words and of next_claim/next_encode happens with the robust mutex
 * held, and the mutex's acquire/release is what orders a slot's pixel data:
 *
 *   producer: writes pixels -> lock, state=READY, unlock (release)
 *   encoder:  lock (acquire), sees READY -> reads pixels
 *   encoder:  write(2) has copied the pixels -> lock, state=EMPTY, unlock
 *   producer: lock (acquire), sees EMPTY, claims -> overwrites pixels
 *
 * So no pixel is read while written.  The life cycle word `state` is also
 * read without the lock (atomic acquire) to decide quickly whether to go on.
 *
 * Each critical section writes the slot's state word after the slot's other
 * words, and the counters after the state word, so a holder that dies
 * between two stores leaves a state repair_words() can finish.
 */
#include "fb_ring.h"
#include "fb_fault.h"
#include "fb_guard.h"
#include "fb_pixfmt.h"
#include "fb_proc.h"
#include "fb_util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static bool abort_claim(struct fb_seg *seg, const char *reason);

/* A semaphore whose futex flag word was scribbled makes glibc abort the
 * process inside sem_post/sem_wait: never hand one to it. */
static bool sem_usable(struct fb_seg *seg, sem_t *s)
{
	if (fb_guard_sem_ok(seg, s))
		return true;
	abort_claim(seg, "segment corrupt: a semaphore scribbled (its futex flags changed)");
	return false;
}

static void wake(struct fb_seg *seg, sem_t *s, uint32_t n)
{
	while (n-- && sem_usable(seg, s))
		sem_post(s);
}

/* CLOCK_MONOTONIC, MS milliseconds from now: an absolute deadline. */
static struct timespec deadline_in(int ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

/* Sleep on S for at most MS milliseconds.  Wake-ups are hints, so a timeout
 * or a signal is as good as a post: the caller re-checks the words either
 * way.  0 if posted. */
static int sleep_on(struct fb_seg *seg, sem_t *s, int ms)
{
	struct timespec ts = deadline_in(ms);

	if (!sem_usable(seg, s))
		return -1; /* the render is aborted: the caller sees it at once */
	return sem_clockwait(s, CLOCK_MONOTONIC, &ts);
}

/*
 * A claim that died after marking its slot CLAIMED but before advancing
 * next_claim: finish it, so the frame is not handed out twice.
 */
static void repair_words(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint64_t f = h->next_claim;

	if (f < seg->geom.total_frames) {
		struct fb_slot_meta *m = &h->slots[f % seg->geom.slot_count];

		if (m->state != FB_SLOT_EMPTY && m->frame == f)
			h->next_claim = f + 1;
	}
}

/* The segment itself is unusable (WHY): abort the render with it.
 * -EPROTO if this was the cause of the abort (the caller may say so),
 * -ECANCELED if the render had ended already. */
static int unusable(struct fb_seg *seg, const char *why)
{
	bool first = abort_claim(seg, why);

	return first ? -EPROTO : -ECANCELED;
}

/* Before touching the lock: is the segment still what it was (size, no
 * SIGBUS taken, the mutex's and semaphores' glibc words intact)?  0, or
 * what unusable() returns. */
static int segment_sound(struct fb_seg *seg)
{
	char why[FB_REASON_MAX];

	if (!fb_guard_verify(seg, why, sizeof(why)))
		return 0;
	return unusable(seg, why);
}

/* RC from a lock call: on EOWNERDEAD (the holder died inside a critical
 * section) finish what it left half done and mark the mutex consistent.
 * Any error but a timeout means the mutex's words are garbage. */
static int locked(struct fb_seg *seg, int rc)
{
	char why[FB_REASON_MAX];

	if (rc == EOWNERDEAD) {
		repair_words(seg);
		seg->hdr->lock_repairs++;
		rc = pthread_mutex_consistent(&seg->hdr->lock);
		if (rc) {
			pthread_mutex_unlock(&seg->hdr->lock);
			snprintf(why, sizeof(why), "segment corrupt: ring mutex scribbled (%s)",
				 strerror(rc));
			return unusable(seg, why);
		}
	}
	if (rc == 0) {
		fb_guard_lock_taken(seg);
		return 0;
	}
	if (rc == ETIMEDOUT)
		return -ETIMEDOUT;
	snprintf(why, sizeof(why), "segment corrupt: ring mutex unusable (%s)", strerror(rc));
	return unusable(seg, why);
}

/* A lock wait ran a whole slice.  Does the lock word name a holder that
 * does not exist?  A real holder's death hands the lock on (robust
 * futex): a dead tid without the owner-died bit was written by somebody. */
static int holder_sound(struct fb_seg *seg)
{
	int32_t owner = fb_ring_lock_owner(seg);
	char why[FB_REASON_MAX];

	if (owner == seg->pid) {
		/* We are waiting, so we do not hold it: written by somebody. */
		snprintf(why, sizeof(why), "segment corrupt: ring lock word names us (pid %d) while we wait for it",
			 (int)owner);
		return unusable(seg, why);
	}
	if (owner <= 0 || kill(owner, 0) == 0 || errno != ESRCH ||
	    fb_ring_lock_owner(seg) != owner)
		return 0;
	if (((unsigned)*(const volatile int *)&seg->hdr->lock & 0x40000000u) != 0)
		return 0; /* owner died: the next lock call gets EOWNERDEAD */
	snprintf(why, sizeof(why), "segment corrupt: ring lock held by pid %d, which does not exist",
		 (int)owner);
	return unusable(seg, why);
}

static bool broker_lost(struct fb_seg *seg);
static void wake_all(struct fb_seg *seg, uint32_t producers);
static uint32_t sleepers(const struct fb_header *h);

/*
 * Critical sections are a few dozen instructions, so a lock that is busy is
 * almost always free again within a few hundred nanoseconds.  A robust
 * mutex does not spin by itself: contended, it goes straight to the kernel
 * (a futex wait, and a futex wake at the holder's unlock), which at small
 * frames cost more than the frame.  So try a little first, where another
 * CPU can be running the holder.
 */
#define LOCK_SPIN_TRIES 200

static int ring_lock(struct fb_seg *seg)
{
	int rc = segment_sound(seg);

	if (rc)
		return rc;
	if (fb_spin_enabled(&seg->spin)) {
		for (int i = 0; i < LOCK_SPIN_TRIES; i++) {
			rc = pthread_mutex_trylock(&seg->hdr->lock);
			if (rc != EBUSY)
				return locked(seg, rc);
			fb_cpu_relax();
		}
	}
	/* A slice at a time: a holder that never lets go (stopped, or a lock
	 * word somebody scribbled) must not keep us from seeing the render
	 * end, the broker die or the segment go bad. */
	for (;;) {
		struct timespec ts = deadline_in(FB_WAIT_SLICE_MS);

		rc = locked(seg, pthread_mutex_clocklock(&seg->hdr->lock, CLOCK_MONOTONIC, &ts));
		if (rc != -ETIMEDOUT)
			return rc;
		if (atomic_load(&seg->hdr->state) == FB_SEG_ABORTED)
			return -ECANCELED;
		if (broker_lost(seg)) {
			char why[FB_REASON_MAX];

			snprintf(why, sizeof(why), "broker (pid %d) died", (int)seg->broker_pid);
			abort_claim(seg, why);
			wake_all(seg, sleepers(seg->hdr));
			return -EOWNERDEAD;
		}
		rc = segment_sound(seg);
		if (!rc)
			rc = holder_sound(seg);
		if (rc)
			return rc;
	}
}

/*
 * The broker's lock: never wait forever.  A worker stopped (SIGSTOP) inside
 * a critical section keeps the mutex, and the kernel's robust-futex handoff
 * only happens at death; the supervisor must stay free to notice and kill
 * it (fb_ring_lock_owner).  -ETIMEDOUT after MS.
 */
static int ring_lock_for(struct fb_seg *seg, int ms)
{
	struct timespec ts = deadline_in(ms);

	int rc = segment_sound(seg);

	seg->lock_owner_before = 0; /* lock_stuck(): no wait, nobody to blame */
	if (rc)
		return rc;
	seg->lock_owner_before = fb_ring_lock_owner(seg);
	return locked(seg, pthread_mutex_clocklock(&seg->hdr->lock, CLOCK_MONOTONIC, &ts));
}

int32_t fb_ring_lock_owner(const struct fb_seg *seg)
{
	/* The robust-futex ABI (kernel Documentation/locking/robust-futex-ABI)
	 * keeps the holder's thread id in the futex word's low 30 bits; glibc
	 * uses the mutex's first int as that word.  Our workers are single
	 * threaded, so the thread id is the pid. */
	const volatile int *word = (const volatile int *)&seg->hdr->lock;

	return (int32_t)((unsigned)*word & 0x3fffffffu);
}

static void ring_unlock(struct fb_seg *seg)
{
	bool links_ok = fb_guard_lock_release(seg);

	if (pthread_mutex_unlock(&seg->hdr->lock) != 0 || !links_ok) {
		abort_claim(seg, "segment corrupt: ring mutex scribbled while held");
		wake_all(seg, sleepers(seg->hdr));
	}
}

/* With the lock held: how many producers to wake so that every sleeper
 * sees a change.  The count is segment input: bounded by the most processes
 * that can be registered, or a scribbled value would have us post 2^32
 * times.  +1: a producer between "waiters++" and sleeping counts too. */
static uint32_t sleepers(const struct fb_header *h)
{
	return (h->space_waiters < FB_MAX_PROCS ? h->space_waiters : FB_MAX_PROCS) + 1;
}

/* With the lock held: move to ABORTED, keeping the first reason (*FIRST
 * tells whether this call was it, if FIRST is not NULL).  Returns how many
 * producers to wake. */
static uint32_t abort_locked(struct fb_seg *seg, const char *reason, bool *first)
{
	bool won = abort_claim(seg, reason);

	if (first)
		*first = won;
	return sleepers(seg->hdr);
}

/*
 * Every life-cycle change is one CAS on the state word, lock or no lock: a
 * process that cannot take the lock (its holder stopped, the mutex
 * scribbled) still stops the render, and an abort and fb_ring_finish can
 * never both win.  Anything but DONE and ABORTED — RUNNING, or a value
 * somebody scribbled — may become ABORTED.  The winner alone writes
 * reason[], then publishes it (release store on reason_ready), so the first
 * reason stays.  True if this call won.
 */
static bool abort_claim(struct fb_seg *seg, const char *reason)
{
	struct fb_header *h = seg->hdr;
	uint32_t cur = atomic_load_explicit(&h->state, memory_order_acquire);

	while (cur != FB_SEG_DONE && cur != FB_SEG_ABORTED) {
		if (atomic_compare_exchange_weak(&h->state, &cur, FB_SEG_ABORTED)) {
			snprintf(h->reason, sizeof(h->reason), "%s", reason);
			atomic_store_explicit(&h->reason_ready, 1, memory_order_release);
			return true;
		}
	}
	return false;
}

static void wake_all(struct fb_seg *seg, uint32_t producers)
{
	wake(seg, &seg->hdr->space, producers);
	wake(seg, &seg->hdr->filled, 1);
	wake(seg, &seg->hdr->broker, 1);
}

/* With the lock held: abort for a broken invariant and say which. */
static int corrupt_locked(struct fb_seg *seg, const char *what)
{
	char reason[FB_REASON_MAX];
	uint32_t n;

	bool first;

	snprintf(reason, sizeof(reason), "segment corrupt: %s", what);
	n = abort_locked(seg, reason, &first);
	ring_unlock(seg);
	wake_all(seg, n);
	return first ? -EPROTO : -ECANCELED;
}

/* The counters are shared input: check their relation before using them. */
static bool counters_ok(const struct fb_seg *seg)
{
	const struct fb_header *h = seg->hdr;

	return h->next_encode <= h->next_claim &&
	       h->next_claim <= seg->geom.total_frames &&
	       h->next_claim - h->next_encode <= seg->geom.slot_count &&
	       h->reissue_pending <= seg->geom.slot_count;
}

/*
 * Workers: has the broker died?  Checked at most every FB_BROKER_CHECK_MS
 * (the clock read is a vDSO call, so the common case costs no syscall).
 */
static bool broker_lost(struct fb_seg *seg)
{
	struct pollfd p = { .fd = seg->broker_fd, .events = POLLIN };
	uint64_t now;

	if (seg->broker_pid <= 0) /* not registered (or the broker itself) */
		return false;
	now = fb_now_ns();
	if (now - seg->broker_checked_ns < FB_BROKER_CHECK_MS * 1000000ull)
		return false;
	seg->broker_checked_ns = now;
	if (seg->broker_fd < 0) /* no pidfds here */
		return !fb_proc_alive(seg->broker_pid, seg->broker_start);
	return poll(&p, 1, 0) > 0;
}

/* With the lock held, after broker_lost(): abort and say why. */
static int broker_lost_locked(struct fb_seg *seg)
{
	char reason[FB_REASON_MAX];
	uint32_t n;

	snprintf(reason, sizeof(reason), "broker (pid %d) died", (int)seg->hdr->broker_pid);
	n = abort_locked(seg, reason, NULL);
	ring_unlock(seg);
	wake_all(seg, n);
	return -EOWNERDEAD;
}

/* With the lock held: write our ownership into M — every word but state,
 * which the caller stores last (a death in between leaves the slot as it
 * was for everyone else). */
static void own_slot(struct fb_seg *seg, struct fb_slot_meta *m)
{
	m->owner = seg->pid;
	m->owner_start = seg->start;
	m->length = 0;
	m->generation++;
	m->claimed_ns = fb_now_ns();
}

/* With the lock held: this process's registry entry, if it is still ours
 * (the table is segment input like everything else). */
static struct fb_proc_entry *my_entry(struct fb_seg *seg)
{
	struct fb_proc_entry *e;

	if (!seg->role || seg->proc_index >= FB_MAX_PROCS)
		return NULL;
	e = &seg->hdr->procs[seg->proc_index];
	return e->pid == seg->pid && e->start == seg->start ? e : NULL;
}

/* With the lock held, after a claim that had to wait since WAIT_FROM (0:
 * it did not wait): add the wait to our blocked time, for fb-stat. */
static void account_wait(struct fb_seg *seg, uint64_t wait_from)
{
	struct fb_proc_entry *e = wait_from ? my_entry(seg) : NULL;

	if (e)
		e->blocked_ns += fb_now_ns() - wait_from;
}

/* Fill C from slot S, which the caller just marked CLAIMED. */
static void take_slot(struct fb_seg *seg, uint32_t s, struct fb_claim *c)
{
	struct fb_slot_meta *m = &seg->hdr->slots[s];

	c->frame = m->frame;
	c->slot = s;
	c->generation = m->generation;
	c->data = fb_seg_slot(seg, s);
}

/* With the lock held: the REISSUE slot with the lowest frame (the encoder may
 * be waiting for it), or -1.  Its words are checked like any other input. */
static int find_reissue(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint32_t S = seg->geom.slot_count;
	int best = -1;

	for (uint32_t s = 0; s < S; s++) {
		struct fb_slot_meta *m = &h->slots[s];

		if (m->state != FB_SLOT_REISSUE)
			continue;
		if (m->frame < h->next_encode || m->frame >= h->next_claim || m->frame % S != s)
			return -2;
		if (best < 0 || m->frame < h->slots[best].frame)
			best = (int)s;
	}
	return best;
}

/*
 * Spin hints (fb_spin.h): lock-free peeks at words the lock guards.  A torn
 * or stale answer costs at most a wasted lock round trip or a sleep, because
 * the caller decides under the lock; __atomic loads only keep the compiler
 * from hoisting the reads out of the spin loop.
 */
static uint64_t peek64(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* Producer: might a claim succeed now? */
static bool claim_may_succeed(const void *arg)
{
	const struct fb_seg *seg = arg;
	const struct fb_header *h = seg->hdr;
	uint64_t claim = peek64(&h->next_claim), encode = peek64(&h->next_encode);

	return atomic_load_explicit(&h->state, memory_order_relaxed) != FB_SEG_RUNNING ||
	       __atomic_load_n(&h->reissue_pending, __ATOMIC_RELAXED) != 0 ||
	       encode >= seg->geom.total_frames ||
	       (claim < seg->geom.total_frames && claim - encode < seg->geom.slot_count);
}

uint32_t fb_ring_state(const struct fb_seg *seg)
{
	return atomic_load_explicit(&seg->hdr->state, memory_order_acquire);
}

int fb_ring_claim(struct fb_seg *seg, struct fb_claim *c)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	bool slept = false, spun = false;
	uint64_t wait_from = 0;
	int rc;

	for (;;) {
		uint64_t f;
		bool open;

		rc = ring_lock(seg);
		if (rc)
			return rc;
		if (slept && h->space_waiters > 0)
			h->space_waiters--;
		slept = false;
		if (atomic_load(&h->state) != FB_SEG_RUNNING) {
			bool aborted = atomic_load(&h->state) == FB_SEG_ABORTED;

			ring_unlock(seg);
			return aborted ? -ECANCELED : 0;
		}
		if (broker_lost(seg))
			return broker_lost_locked(seg);
		if (!counters_ok(seg))
			return corrupt_locked(seg, "claim/encode counters out of range");
		f = h->next_claim;
		/* The window: frame f may take slot f % S only while
		 * f < next_encode + S, i.e. once frame f - S has been emitted. */
		open = f < g->total_frames && f - h->next_encode < g->slot_count;
		/* Frames taken back from dead producers go first: the encoder
		 * may be waiting for one, and its slot is already its own.  The
		 * count is segment input, so when the window is shut the slots
		 * are searched anyway: a scribbled count of 0 cannot strand a
		 * REISSUE slot (and the render) forever. */
		if (h->reissue_pending > 0 || !open) {
			int s = find_reissue(seg);

			if (s == -2)
				return corrupt_locked(seg, "reissued slot holds a frame outside the window");
			if (s >= 0) {
				struct fb_slot_meta *m = &h->slots[s];

				own_slot(seg, m);
				m->state = FB_SLOT_CLAIMED;
				if (h->reissue_pending > 0)
					h->reissue_pending--;
				account_wait(seg, wait_from);
				take_slot(seg, (uint32_t)s, c);
				ring_unlock(seg);
				return 1;
			}
			h->reissue_pending = 0; /* count was wrong: no such slot */
		}
		if (f >= g->total_frames && h->next_encode >= g->total_frames) {
			/* Every frame is out: pass the wake-up on so every
			 * sleeping producer gets to see that and exit. */
			bool chain = h->space_waiters > 0;

			ring_unlock(seg);
			if (chain)
				wake(seg, &h->space, 1);
			return 0;
		}
		/* All claimed but some not yet emitted: stay, in case one is
		 * reissued (its producer dies) and nobody else is left. */
		if (open) {
			uint32_t s = (uint32_t)(f % g->slot_count);
			struct fb_slot_meta *m = &h->slots[s];

			if (m->state != FB_SLOT_EMPTY)
				return corrupt_locked(seg, "slot in the claim window is not empty");
			fb_fault_point(seg, FB_STEP_BEFORE_CLAIM, f);
			m->frame = f;
			own_slot(seg, m);
			m->state = FB_SLOT_CLAIMED;
			fb_fault_point(seg, FB_STEP_CLAIM, f);
			h->next_claim = f + 1;
			account_wait(seg, wait_from);
			take_slot(seg, s, c);
			ring_unlock(seg);
			return 1;
		}
		if (seg->nowait) {
			ring_unlock(seg);
			return -EAGAIN;
		}
		if (!wait_from)
			wait_from = fb_now_ns();
		/* One spin per wait, then sleep: the encoder usually frees a
		 * slot within microseconds, far sooner than a futex round trip. */
		if (!spun) {
			ring_unlock(seg);
			spun = true;
			fb_spin_until(&seg->spin, claim_may_succeed, seg);
			continue;
		}
		h->space_waiters++;
		ring_unlock(seg);
		sleep_on(seg, &h->space, FB_WAIT_SLICE_MS);
		slept = true;
	}
}

/* Is LENGTH a valid payload: exactly one raw frame, or an encoded image
 * that fits its slot?  The one rule for publish and acquire alike. */
static bool length_fits(const struct fb_geom *g, uint64_t length)
{
	if (g->frame_format == FB_FRAME_RAW)
		return length == g->frame_bytes;
	return length > 0 && length <= g->slot_bytes;
}

/*
 * Take the lock and check that claim C is still ours: its slot CLAIMED by
 * this process for the same frame and generation (a claim taken back from
 * us and handed out again fails the generation check).  0 with the lock
 * held and *M our slot; else the lock is released: -EINVAL (a slot out of
 * range), -ECANCELED (aborted), -ESTALE (not ours any more), or a lock error.
 */
static int lock_own_claim(struct fb_seg *seg, const struct fb_claim *c, struct fb_slot_meta **m)
{
	struct fb_header *h = seg->hdr;
	int rc;

	if (c->slot >= seg->geom.slot_count)
		return -EINVAL;
	rc = ring_lock(seg);
	if (rc)
		return rc;
	if (atomic_load(&h->state) == FB_SEG_ABORTED) {
		ring_unlock(seg);
		return -ECANCELED;
	}
	*m = &h->slots[c->slot];
	if ((*m)->state != FB_SLOT_CLAIMED || (*m)->owner != seg->pid ||
	    (*m)->frame != c->frame || (*m)->generation != c->generation) {
		ring_unlock(seg);
		return -ESTALE;
	}
	return 0;
}

int fb_ring_publish(struct fb_seg *seg, const struct fb_claim *c, uint64_t length)
{
	struct fb_header *h = seg->hdr;
	struct fb_proc_entry *e;
	struct fb_slot_meta *m;
	bool wake_encoder;
	int rc;

	if (!length_fits(&seg->geom, length))
		return -EINVAL;
	rc = lock_own_claim(seg, c, &m);
	if (rc == -EPROTO)
		return -ECANCELED; /* the segment went bad: the cause is recorded in it */
	if (rc)
		return rc;
	m->length = length;
	fb_fault_point(seg, FB_STEP_PUBLISH, c->frame);
	m->state = FB_SLOT_READY;
	e = my_entry(seg);
	if (e)
		e->frames++;
	wake_encoder = h->encoder_waiting && c->frame == h->encoder_wants;
	if (wake_encoder)
		h->encoder_waiting = 0;
	ring_unlock(seg);
	if (wake_encoder)
		wake(seg, &h->filled, 1);
	return 0;
}

int fb_ring_unclaim(struct fb_seg *seg, const struct fb_claim *c)
{
	struct fb_header *h = seg->hdr;
	struct fb_slot_meta *m;
	int rc = lock_own_claim(seg, c, &m);

	if (rc == -EPROTO)
		return -ECANCELED; /* the segment went bad: the cause is recorded in it */
	if (rc)
		return rc;
	/* The same move the broker's sweep makes for a dead owner. */
	m->owner = 0;
	m->state = FB_SLOT_REISSUE;
	h->reissue_pending++;
	ring_unlock(seg);
	wake(seg, &h->space, 1);
	return 0;
}

/* With the lock held: may the encoder take FRAME now?  It holds (ENCODING)
 * every frame in [next_encode, FRAME), so FRAME lies in the window and, if
 * it is not the first, the frame before it must be one of ours. */
static const char *take_check(struct fb_seg *seg, uint64_t frame)
{
	const struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	const struct fb_slot_meta *prev = &h->slots[(frame - 1) % g->slot_count];
	const struct fb_slot_meta *m = &h->slots[frame % g->slot_count];

	if (!counters_ok(seg) || frame < h->next_encode || frame - h->next_encode >= g->slot_count)
		return "encode counter moved under the encoder";
	if (frame > h->next_encode && (prev->state != FB_SLOT_ENCODING || prev->frame != frame - 1))
		return "a frame the encoder holds changed under it";
	/* The window guarantees the slot holds FRAME or nothing, and a frame
	 * the encoder has not taken is never ENCODING. */
	if (m->state != FB_SLOT_EMPTY && m->frame != frame)
		return "slot holds a frame outside the window";
	if (m->state != FB_SLOT_EMPTY && m->state != FB_SLOT_CLAIMED &&
	    m->state != FB_SLOT_READY && m->state != FB_SLOT_REISSUE)
		return "slot of the encoder's next frame is in an impossible state";
	return NULL;
}

/* With the lock held: mark FRAME (READY, checked) ENCODING into *OUT. */
static void take_frame(struct fb_seg *seg, uint64_t frame, struct fb_frame_ref *out)
{
	uint32_t s = (uint32_t)(frame % seg->geom.slot_count);
	struct fb_slot_meta *m = &seg->hdr->slots[s];

	m->state = FB_SLOT_ENCODING;
	out->frame = frame;
	out->data = fb_seg_slot(seg, s);
	out->length = m->length;
}

/* With the lock held: is FRAME's slot READY with a valid length (exactly
 * one raw frame, or an encoded image that fits its slot)?  -1 when its
 * length is corrupt. */
static int frame_ready(const struct fb_seg *seg, uint64_t frame)
{
	const struct fb_slot_meta *m = &seg->hdr->slots[frame % seg->geom.slot_count];

	if (m->state != FB_SLOT_READY || m->frame != frame)
		return 0;
	return length_fits(&seg->geom, m->length) ? 1 : -1;
}

/* Encoder spin hint: the frame it waits for, and where. */
struct want {
	const struct fb_seg *seg;
	uint64_t frame;
};

/* Encoder: might its next frame be ready now? */
static bool frame_may_be_ready(const void *arg)
{
	const struct want *w = arg;
	const struct fb_header *h = w->seg->hdr;
	const struct fb_slot_meta *m = &h->slots[w->frame % w->seg->geom.slot_count];

	return atomic_load_explicit(&h->state, memory_order_relaxed) != FB_SEG_RUNNING ||
	       __atomic_load_n(&m->state, __ATOMIC_RELAXED) == FB_SLOT_READY;
}

int fb_ring_acquire(struct fb_seg *seg, uint64_t frame, struct fb_frame_ref *out,
		    uint32_t max, int wait_ms)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	struct want w = { seg, frame };
	uint64_t give_up = wait_ms < 0 ? UINT64_MAX : fb_now_ns() + (uint64_t)wait_ms * 1000000ull;
	bool spun = false;
	const char *bad;
	int rc, ready;

	if (max == 0 || frame >= g->total_frames)
		return -EINVAL;
	for (;;) {
		uint64_t now;
		uint32_t n = 0;

		rc = ring_lock(seg);
		if (rc)
			return rc;
		if (atomic_load(&h->state) == FB_SEG_ABORTED) {
			ring_unlock(seg);
			return -ECANCELED;
		}
		if (broker_lost(seg))
			return broker_lost_locked(seg);
		bad = take_check(seg, frame);
		if (bad)
			return corrupt_locked(seg, bad);
		/* FRAME, then as many after it as are READY already: one lock
		 * round trip and one sink call for a whole run of frames. */
		while (n < max && frame + n < g->total_frames &&
		       frame + n - h->next_encode < g->slot_count &&
		       (ready = frame_ready(seg, frame + n)) != 0) {
			if (ready < 0)
				return corrupt_locked(seg, "published length does not fit the frame format");
			take_frame(seg, frame + n, &out[n]);
			n++;
		}
		if (n > 0) {
			ring_unlock(seg);
			return (int)n;
		}
		now = fb_now_ns();
		if (seg->nowait || now >= give_up) {
			ring_unlock(seg);
			return -EAGAIN;
		}
		if (!spun) {
			ring_unlock(seg);
			spun = true;
			fb_spin_until(&seg->spin, frame_may_be_ready, &w);
			continue;
		}
		h->encoder_waiting = 1;
		h->encoder_wants = frame;
		ring_unlock(seg);
		sleep_on(seg, &h->filled, give_up - now < FB_WAIT_SLICE_MS * 1000000ull ?
			 (int)((give_up - now + 999999) / 1000000) : FB_WAIT_SLICE_MS);
	}
}

int fb_ring_release(struct fb_seg *seg, uint64_t frame, uint32_t n)
{
	struct fb_header *h = seg->hdr;
	const struct fb_geom *g = &seg->geom;
	uint32_t wake_n;
	int rc;

	if (n == 0 || n > g->slot_count)
		return -EINVAL;
	rc = ring_lock(seg);
	if (rc == -EPROTO)
		return -ECANCELED; /* the segment went bad: the cause is recorded in it */
	if (rc)
		return rc;
	if (h->next_encode != frame)
		return corrupt_locked(seg, "released slot was not being encoded");
	for (uint32_t i = 0; i < n; i++) {
		const struct fb_slot_meta *m = &h->slots[(frame + i) % g->slot_count];

		if (m->state != FB_SLOT_ENCODING || m->frame != frame + i)
			return corrupt_locked(seg, "released slot was not being encoded");
	}
	for (uint32_t i = 0; i < n; i++) {
		struct fb_slot_meta *m = &h->slots[(frame + i) % g->slot_count];

		m->owner = 0;
		m->state = FB_SLOT_EMPTY;
	}
	h->next_encode = frame + n;
	/* One producer per freed slot, at most as many as sleep. */
	wake_n = h->space_waiters < n ? h->space_waiters : n;
	ring_unlock(seg);
	wake(seg, &h->space, wake_n);
	return 0;
}

void fb_ring_finish(struct fb_seg *seg)
{
	uint32_t running = FB_SEG_RUNNING;

	/* A CAS, like abort_claim: whichever comes first stays. */
	atomic_compare_exchange_strong(&seg->hdr->state, &running, FB_SEG_DONE);
	wake_all(seg, sleepers(seg->hdr));
}

bool fb_ring_abort(struct fb_seg *seg, const char *reason)
{
	char why[FB_REASON_MAX];
	const char *bad = fb_guard_verify(seg, why, sizeof(why));
	bool first;

	/* No lock needed (abort_claim): a stopped holder or a scribbled mutex
	 * cannot keep the reason from being recorded.  When the segment
	 * itself went bad, that is the cause, not what the caller saw of it
	 * (EFAULT writing out of a vanished slot, say); the caller then did
	 * not find the cause and is told so. */
	first = abort_claim(seg, bad ? bad : reason);
	wake_all(seg, sleepers(seg->hdr));
	return first && !bad;
}

int fb_ring_broker_wait(struct fb_seg *seg, int timeout_ms)
{
	if (!sem_usable(seg, &seg->hdr->broker)) {
		/* (The render is aborted now.)  Sleep anyway: the caller loops. */
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return 1;
	}
	return sleep_on(seg, &seg->hdr->broker, timeout_ms) == 0;
}

void fb_ring_broker_wake(struct fb_seg *seg)
{
	wake(seg, &seg->hdr->broker, 1);
}

int fb_ring_register(struct fb_seg *seg, uint32_t role)
{
	struct fb_header *h = seg->hdr;
	uint64_t start = fb_proc_start_time(seg->pid);
	int32_t bpid = h->broker_pid;
	uint64_t bstart = h->broker_start;
	struct fb_proc_entry *free_e = NULL;
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
	rc = ring_lock(seg);
	if (rc) {
		if (fd >= 0)
			close(fd);
		return rc;
	}
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++) {
		struct fb_proc_entry *e = &h->procs[i];

		if (e->pid == 0 && !free_e)
			free_e = e;
		/* One encoder: two would fight over next_encode. */
		if (role == FB_ROLE_ENCODER && e->pid != 0 && e->role == FB_ROLE_ENCODER &&
		    fb_proc_alive(e->pid, e->start)) {
			ring_unlock(seg);
			if (fd >= 0)
				close(fd);
			return -EBUSY;
		}
	}
	if (!free_e) {
		ring_unlock(seg);
		if (fd >= 0)
			close(fd);
		return -ENOSPC;
	}
	/* pid last: the broker treats an entry as present once pid != 0. */
	free_e->role = role;
	free_e->start = start;
	free_e->since_ns = fb_now_ns();
	free_e->frames = 0;
	free_e->blocked_ns = 0;
	free_e->pid = seg->pid;
	seg->proc_index = (uint32_t)(free_e - h->procs);
	ring_unlock(seg);
	seg->role = role;
	seg->start = start;
	seg->broker_fd = fd;
	seg->broker_pid = bpid;
	seg->broker_start = bstart;
	seg->broker_checked_ns = fb_now_ns();
	wake(seg, &h->broker, 1);
	return 0;
}

void fb_ring_unregister(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;

	if (!seg->role || ring_lock(seg))
		return;
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++)
		if (h->procs[i].pid == seg->pid && h->procs[i].start == seg->start)
			h->procs[i].pid = 0;
	ring_unlock(seg);
	seg->role = 0;
}

ssize_t fb_ring_procs(struct fb_seg *seg, struct fb_proc_entry *out, size_t max)
{
	struct fb_header *h = seg->hdr;
	size_t n = 0;
	int rc = ring_lock_for(seg, FB_BROKER_LOCK_MS);

	if (rc)
		return rc;
	for (uint32_t i = 0; i < FB_MAX_PROCS && n < max; i++)
		if (h->procs[i].pid != 0)
			out[n++] = h->procs[i];
	ring_unlock(seg);
	return (ssize_t)n;
}

/* With the lock held: is (PID, START) a registered producer? */
static bool registered_producer(const struct fb_header *h, int32_t pid, uint64_t start)
{
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

ssize_t fb_ring_sweep(struct fb_seg *seg, const struct fb_proc_entry *dead,
		      struct fb_reissue *out, size_t max)
{
	struct fb_header *h = seg->hdr;
	struct suspect sus[FB_MAX_SLOTS];
	size_t nsus = 0, n = 0;
	int rc = ring_lock_for(seg, FB_BROKER_LOCK_MS);

	if (rc)
		return rc;
	/* The dead process's entry: matched on (pid, start), so a new process
	 * that reused the pid keeps its own registration. */
	if (dead)
		for (uint32_t i = 0; i < FB_MAX_PROCS; i++)
			if (h->procs[i].pid == dead->pid && h->procs[i].start == dead->start)
				h->procs[i].pid = 0;
	for (uint32_t s = 0; s < seg->geom.slot_count; s++) {
		const struct fb_slot_meta *m = &h->slots[s];

		if (m->state == FB_SLOT_CLAIMED && !registered_producer(h, m->owner, m->owner_start))
			sus[nsus++] = (struct suspect){ s, m->owner, m->owner_start, m->generation, false };
	}
	ring_unlock(seg);
	/* Outside the lock (this reads /proc): only a claim whose owner is
	 * provably dead goes back to the pool — never one a live process may
	 * still write into.  Live unregistered owners are left to
	 * fb_ring_overdue's deadline. */
	for (size_t i = 0; i < nsus; i++)
		sus[i].dead = !fb_proc_alive(sus[i].owner, sus[i].owner_start);
	if (nsus == 0 || (rc = ring_lock_for(seg, FB_BROKER_LOCK_MS)) != 0)
		return rc ? rc : 0;
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
	ring_unlock(seg);
	if (n)
		wake(seg, &h->space, (uint32_t)n);
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
	rc = ring_lock_for(seg, FB_BROKER_LOCK_MS);
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
	ring_unlock(seg);
	return (ssize_t)n;
}

void fb_ring_reason(const struct fb_seg *seg, char *buf, size_t len)
{
	const struct fb_header *h = seg->hdr;

	if (atomic_load_explicit(&h->state, memory_order_acquire) != FB_SEG_ABORTED ||
	    atomic_load_explicit(&h->reason_ready, memory_order_acquire) != 1) {
		snprintf(buf, len, "%s", "render aborted (no cause recorded)");
		return;
	}
	fb_reason_copy(buf, len, h->reason, sizeof(h->reason));
}
