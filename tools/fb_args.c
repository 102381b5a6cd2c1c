/* fb_args — what the programs' command lines share: --version, --log-level,
 * integer and WxH options, the "--" terminator.  Not in the library. */
#include "fb_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void fb_exit_version(const char *prog)
{
	printf("%s %s\n", prog, FB_VERSION_STRING);
	exit(FB_EXIT_OK);
}

int fb_set_log_level(const char *prog, const char *name)
{
	if (fb_log_level_parse(name) < 0) {
		fb_err(prog, "invalid --log-level '%s': expected quiet, error, warning, info or debug",
		       name);
		return -1;
	}
	setenv("FB_LOG_LEVEL", name, 1);
	return 0;
}

int fb_opt_u64(const char *prog, const char *opt, const char *arg, uint64_t min, uint64_t max,
	       uint64_t *out)
{
	if (fb_parse_u64(arg, min, max, out) == 0)
		return 0;
	fb_err(prog, "invalid --%s '%s': expected an integer %llu..%llu", opt, arg,
	       (unsigned long long)min, (unsigned long long)max);
	return -1;
}

int fb_parse_size(const char *s, uint32_t max_side, uint32_t *w, uint32_t *h)
{
	char buf[64];
	char *x;
	uint64_t vw, vh;
	int rc;

	if (strlen(s) >= sizeof(buf))
		return -ERANGE;
	strcpy(buf, s);
	x = strchr(buf, 'x');
	if (!x)
		return -EINVAL;
	*x = '\0';
	rc = fb_parse_u64(buf, 1, max_side, &vw);
	if (rc == 0)
		rc = fb_parse_u64(x + 1, 1, max_side, &vh);
	if (rc)
		return rc;
	*w = (uint32_t)vw;
	*h = (uint32_t)vh;
	return 0;
}

int fb_ended_at_dashdash(char *const *argv, int next, const char *last_arg)
{
	return next > 0 && strcmp(argv[next - 1], "--") == 0 && argv[next - 1] != last_arg;
}

bool fb_supervised(void)
{
	uint64_t pid;

	return fb_parse_u64(getenv("FB_RENDER_PID"), 1, INT32_MAX, &pid) == 0 &&
	       (pid_t)pid == getppid();
}
