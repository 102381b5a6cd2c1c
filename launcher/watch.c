/* watch — is the broker stopped for good (watch.h)? */
#include "watch.h"
#include "fb_proc.h"

/*
 * "Continuously" means on every tick for BROKER_STOPPED_MS, with no gap of
 * a second between ticks (a gap means fb-render itself was stopped, e.g.
 * with the whole job: start over).  A debugger's stop (state t) is left
 * alone.
 */
enum watch watch_broker(struct broker_watch *w, pid_t pid, bool running, uint64_t now)
{
	bool gap = now - w->last_ns > 1000000000ull;

	w->last_ns = now;
	if (!pid || !running || fb_proc_state(pid) != 'T') {
		w->stopped_ns = 0;
		return WATCH_OK;
	}
	if (gap || !w->stopped_ns) {
		w->stopped_ns = now;
		return WATCH_OK;
	}
	if (now - w->stopped_ns < BROKER_STOPPED_MS * 1000000ull)
		return WATCH_OK;
	w->stopped_ns = 0;
	if (w->reported)
		return WATCH_STILL_STOPPED;
	w->reported = true;
	return WATCH_STOPPED;
}

void watch_reset(struct broker_watch *w)
{
	w->stopped_ns = 0;
}
