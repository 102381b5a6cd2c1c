/* fb_spin — adaptive spin-before-sleep (see fb_spin.h). */
#include "fb_spin.h"
#include "fb_util.h"

#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* CPUs this process may run on (its affinity mask, which a container's
 * cpuset narrows), not merely those online. */
static int usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0)
		return CPU_COUNT(&set);
	return (int)sysconf(_SC_NPROCESSORS_ONLN);
}

void fb_spin_init(struct fb_spin *sp)
{
	const char *env = getenv("FB_SPIN");

	sp->budget_ns = FB_SPIN_MAX_NS / 4;
	if (usable_cpus() < 2 || (env && strcmp(env, "0") == 0))
		sp->budget_ns = 0;
}

bool fb_spin_until(struct fb_spin *sp, bool (*ready)(const void *arg), const void *arg)
{
	uint64_t start, now;

	if (sp->budget_ns == 0)
		return false;
	start = fb_now_ns();
	for (;;) {
		/* A clock read (vDSO, ~20 ns) every few pauses, not every one. */
		for (int i = 0; i < 16; i++) {
			if (ready(arg)) {
				if (sp->budget_ns < FB_SPIN_MAX_NS)
					sp->budget_ns *= 2;
				return true;
			}
			fb_cpu_relax();
		}
		now = fb_now_ns();
		if (now - start >= sp->budget_ns)
			break;
	}
	for (int i = 0; i < 4; i++) {
		sched_yield();
		if (ready(arg))
			return true;
	}
	if (sp->budget_ns > FB_SPIN_MIN_NS)
		sp->budget_ns /= 2;
	return false;
}
