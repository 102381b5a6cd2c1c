/* fb_attach — a worker program's attach: the library's validated attach,
 * its refusal put in one line and an exit code. */
#include "fb_attach.h"

#include <errno.h>
#include <string.h>

#include "fb_args.h"

int fb_seg_attach_worker(const char *prog, const char *name, int fd, int timeout_ms,
			 struct fb_seg **out)
{
	const char *why = NULL;
	char buf[FB_NAME_MAX + 256];
	int rc = fb_seg_attach_wait(name, fd, timeout_ms, out, &why);

	if (rc == 0)
		return 0;
	if (fd < 0 && fb_shm_refused(rc)) {
		fb_err(prog, "cannot attach to segment %s: %s%s", name,
		       fb_shm_refusal(name, rc, buf, sizeof(buf)),
		       rc == -EPERM ? ": a worker attaches by name only to a segment of its own user "
				      "that nobody else can write" : "");
		return FB_EXIT_USAGE;
	}
	fb_err(prog, "cannot attach to segment %s: %s", name, why ? why : strerror(-rc));
	/* -EXDEV: --fd and --name name two objects; nothing was touched. */
	return fb_shm_refused(rc) || rc == -EXDEV ? FB_EXIT_USAGE : FB_EXIT_RUNTIME;
}
