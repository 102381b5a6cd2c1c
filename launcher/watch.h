/*
 * watch — does the broker still supervise?  One that stays stopped
 * (SIGSTOP: state T) watches no deaths and no deadlines, so a dead
 * producer's frame would wait for ever.  Looked at on every tick of the
 * supervisor; it reports, the supervisor acts.
 */
#ifndef FB_RENDER_WATCH_H
#define FB_RENDER_WATCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* A broker stopped (state T) this long, while fb-render itself runs,
 * supervises nothing: the render is ended. */
#define BROKER_STOPPED_MS 3000

struct broker_watch {
	uint64_t last_ns;    /* last look */
	uint64_t stopped_ns; /* first look that found it stopped, or 0 */
	bool reported;       /* WATCH_STOPPED was returned once */
};

enum watch {
	WATCH_OK,
	WATCH_STOPPED,       /* stopped for BROKER_STOPPED_MS: end the render */
	WATCH_STILL_STOPPED, /* stopped that long again while it ends */
};

/* One look at broker PID (0: none; RUNNING: not reaped yet) at NOW. */
enum watch watch_broker(struct broker_watch *w, pid_t pid, bool running, uint64_t now);

/* fb-render was stopped and continued (with the job, say): start over. */
void watch_reset(struct broker_watch *w);

#endif
