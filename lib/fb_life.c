/*
 * fb_life — the render's life cycle (RUNNING -> DONE | ABORTED, each move a
 * CAS on the state word, no lock) and the semaphores that wake sleepers
 * when something changed.  See fb_life.h; the protocol on top of it is
 * fb_ring.c, the lock it must not depend on is fb_lock.c.
 */
#include "fb_life.h"
#include "fb_guard.h"
#include "fb_proc.h"
#include "fb_util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>

/* A semaphore whose futex flag word was scribbled makes glibc abort the
 * process inside sem_post/sem_wait: never hand one to it.  The cause is
 * the guard's verdict: a segment truncated past the semaphores reads as
 * zeros there (the guard's page after the SIGBUS), which looks scribbled
 * but is the truncation, and the guard checks that first. */
static bool sem_usable(struct fb_seg *seg, sem_t *s)
{
	char why[FB_REASON_MAX];
	const char *cause;

	if (fb_guard_sem_ok(seg, s))
		return true;
	cause = fb_guard_verify(seg, why, sizeof(why));
	fb_life_abort_first(seg, cause ? cause :
			    "segment corrupt: a semaphore scribbled (its futex flags changed)");
	return false;
}

void fb_life_wake(struct fb_seg *seg, sem_t *s, uint32_t n)
{
	while (n-- && sem_usable(seg, s))
		sem_post(s);
}

void fb_life_wake_all(struct fb_seg *seg, uint32_t producers)
{
	fb_life_wake(seg, &seg->hdr->space, producers);
	fb_life_wake(seg, &seg->hdr->filled, 1);
	fb_life_wake(seg, &seg->hdr->broker, 1);
}

struct timespec fb_life_deadline(int ms)
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

int fb_life_sleep_on(struct fb_seg *seg, sem_t *s, int ms)
{
	struct timespec ts = fb_life_deadline(ms);

	if (!sem_usable(seg, s))
		return -1; /* the render is aborted: the caller sees it at once */
	return sem_clockwait(s, CLOCK_MONOTONIC, &ts);
}

uint32_t fb_life_sleepers(const struct fb_header *h)
{
	uint32_t w = __atomic_load_n(&h->space_waiters, __ATOMIC_RELAXED);

	return (w < FB_MAX_PROCS ? w : FB_MAX_PROCS) + 1;
}

/*
 * Anything but DONE and ABORTED — RUNNING, or a value somebody scribbled —
 * may become ABORTED.  The CAS decides who was first; only then is reason[]
 * written, so a second abort never touches it.
 */
bool fb_life_abort_first(struct fb_seg *seg, const char *reason)
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

bool fb_life_finish_first(struct fb_seg *seg)
{
	uint32_t running = FB_SEG_RUNNING;

	/* Only RUNNING becomes DONE: an abort that came first stays. */
	return atomic_compare_exchange_strong(&seg->hdr->state, &running, FB_SEG_DONE);
}

bool fb_life_broker_lost(struct fb_seg *seg)
{
	struct pollfd p = { .fd = seg->broker_fd, .events = POLLIN };
	uint64_t now;

	if (seg->broker_pid <= 0) /* not registered (or the broker itself) */
		return false;
	/* The clock read is a vDSO call: the common case costs no syscall. */
	now = fb_now_ns();
	if (now - seg->broker_checked_ns < FB_BROKER_CHECK_MS * 1000000ull)
		return false;
	seg->broker_checked_ns = now;
	if (seg->broker_fd < 0) /* no pidfds here */
		return !fb_proc_alive(seg->broker_pid, seg->broker_start);
	return poll(&p, 1, 0) > 0;
}

int fb_life_broker_died(struct fb_seg *seg)
{
	char why[FB_REASON_MAX];

	snprintf(why, sizeof(why), "broker (pid %d) died", (int)seg->broker_pid);
	fb_life_abort_first(seg, why);
	fb_life_wake_all(seg, fb_life_sleepers(seg->hdr));
	return -EOWNERDEAD;
}

uint32_t fb_ring_state(const struct fb_seg *seg)
{
	return atomic_load_explicit(&seg->hdr->state, memory_order_acquire);
}

void fb_ring_finish(struct fb_seg *seg)
{
	fb_life_finish_first(seg);
	fb_life_wake_all(seg, fb_life_sleepers(seg->hdr));
}

bool fb_ring_abort(struct fb_seg *seg, const char *reason)
{
	char why[FB_REASON_MAX];
	const char *bad = fb_guard_verify(seg, why, sizeof(why));
	bool first;

	/* No lock needed: a stopped holder or a scribbled mutex cannot keep
	 * the reason from being recorded.  When the segment itself went bad,
	 * that is the cause, not what the caller saw of it (EFAULT writing out
	 * of a vanished slot, say); the caller then did not find the cause and
	 * is told so. */
	first = fb_life_abort_first(seg, bad ? bad : reason);
	fb_life_wake_all(seg, fb_life_sleepers(seg->hdr));
	return first && !bad;
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

int fb_ring_broker_wait(struct fb_seg *seg, int timeout_ms)
{
	if (!sem_usable(seg, &seg->hdr->broker)) {
		/* (The render is aborted now.)  Sleep anyway: the caller loops. */
		struct timespec ts = { timeout_ms / 1000, (long)(timeout_ms % 1000) * 1000000L };

		nanosleep(&ts, NULL);
		return 1;
	}
	return fb_life_sleep_on(seg, &seg->hdr->broker, timeout_ms) == 0;
}

void fb_ring_broker_wake(struct fb_seg *seg)
{
	fb_life_wake(seg, &seg->hdr->broker, 1);
}
