/* fb_attach — a worker program's attach to its segment, with the one-line
 * cause and the exit code a refusal means (fb-producer, fb-encoder). */
#ifndef FB_ATTACH_H
#define FB_ATTACH_H

#include "fb_segment.h"

/*
 * A worker's attach (fb-producer, fb-encoder): fb_seg_attach_wait, and on
 * failure print "PROG: cannot attach to segment NAME: WHY" and return the
 * exit code: FB_EXIT_USAGE when what sits at NAME was refused at once
 * (fb_shm_refused: nothing was touched), FB_EXIT_RUNTIME otherwise.  0 on
 * success.
 */
int fb_seg_attach_worker(const char *prog, const char *name, int fd, int timeout_ms,
			 struct fb_seg **out);

#endif
