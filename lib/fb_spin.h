/*
 * fb_spin — adaptive spin-before-sleep for the ring's two waits (a producer
 * waiting for a free slot, the encoder waiting for the next frame).
 *
 * Why: sleeping on a semaphore costs the sleeper a futex wait and the waker a
 * futex wake, plus two context switches — several microseconds, which at
 * small frames is most of a frame's budget (make bench, "handoff").  When the
 * other side is running on another core, the condition usually comes true
 * within a microsecond or two, so a short spin avoids the whole round trip.
 *
 * Adaptive, because spinning is waste when the wait is long (a slow renderer,
 * a slow ffmpeg) or when the process we wait for shares our core: a spin that
 * ran out halves the next budget, one that succeeded doubles it, within
 * [FB_SPIN_MIN_NS, FB_SPIN_MAX_NS].  After the spin it yields the CPU a few
 * times (sched_yield) before giving up: with more runnable processes than
 * CPUs (4 producers on 2 cores) the one we wait for is often queued behind
 * us, and a yield hands it the CPU without a futex round trip.  With one
 * usable CPU (affinity mask) it never spins.
 * The state is private to the process (struct fb_seg), never shared.
 */
#ifndef FB_SPIN_H
#define FB_SPIN_H

#include <stdbool.h>
#include <stdint.h>

#define FB_SPIN_MIN_NS 1000u
#define FB_SPIN_MAX_NS 64000u

struct fb_spin {
	uint32_t budget_ns; /* 0: never spin (one CPU, or FB_SPIN=0) */
};

/* Tell the CPU this is a spin loop: on x86 `pause` keeps the loop from
 * starving a sibling hyper-thread and avoids a memory-order flush on exit. */
static inline void fb_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

/* False on one CPU (or FB_SPIN=0): nobody else can run while we spin. */
static inline bool fb_spin_enabled(const struct fb_spin *sp)
{
	return sp->budget_ns != 0;
}

/* Set the initial budget: 0 on a single CPU or when the environment says
 * FB_SPIN=0 (for measuring what spinning buys); FB_SPIN_MAX_NS / 4 else. */
void fb_spin_init(struct fb_spin *sp);

/*
 * Spin until READY(ARG) returns true or the budget (then the yields) runs out.  READY reads
 * shared words without the lock, so its answer is only a hint: the caller
 * re-checks under the lock either way.  Returns READY's last answer.
 */
bool fb_spin_until(struct fb_spin *sp, bool (*ready)(const void *arg), const void *arg);

#endif
