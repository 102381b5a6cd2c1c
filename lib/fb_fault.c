/* fb_fault — FB_FAULT/FB_FAULT_ONCE read once, and the kill points
 * (fb_fault.h says what they mean). */
#include "fb_fault.h"
#include "fb_segment.h" /* FB_ROLE_* */
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct fb_fault {
	uint32_t step;
	int sig; /* SIGKILL, or SIGSTOP for ":stop" */
	uint64_t frame;
	char once[]; /* the marker: whoever creates it fires */
};

static const struct {
	const char *name;
	uint32_t role, step;
} steps[] = {
	{ "before-claim", FB_ROLE_PRODUCER, FB_STEP_BEFORE_CLAIM },
	{ "claim", FB_ROLE_PRODUCER, FB_STEP_CLAIM },
	{ "after-claim", FB_ROLE_PRODUCER, FB_STEP_AFTER_CLAIM },
	{ "mid-render", FB_ROLE_PRODUCER, FB_STEP_MID_RENDER },
	{ "after-render", FB_ROLE_PRODUCER, FB_STEP_AFTER_RENDER },
	{ "publish", FB_ROLE_PRODUCER, FB_STEP_PUBLISH },
	{ "after-publish", FB_ROLE_PRODUCER, FB_STEP_AFTER_PUBLISH },
	{ "after-acquire", FB_ROLE_ENCODER, FB_STEP_AFTER_ACQUIRE },
	{ "after-write", FB_ROLE_ENCODER, FB_STEP_AFTER_WRITE },
	{ "ffmpeg-died", FB_ROLE_ENCODER, FB_STEP_FFMPEG_DIED },
};

/* What FB_FAULT's value SPEC says: *ROLE, *STEP, *FRAME, *SIG.  0 or
 * -EINVAL.  Only producers and encoders have steps (the table above): any
 * other role, a step of another role, or a frame that is no number is
 * malformed, whoever reads it — a typo must not silently test nothing. */
static int parse_spec(const char *spec, uint32_t *role, uint32_t *step, uint64_t *frame, int *sig)
{
	char buf[96], *s, *f, *mode;

	*role = 0;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	s = strchr(buf, ':');
	f = s ? strchr(s + 1, ':') : NULL;
	if (!f)
		return -EINVAL;
	*s++ = '\0';
	*f++ = '\0';
	mode = strchr(f, ':');
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "stop") != 0)
			return -EINVAL;
	}
	*sig = mode ? SIGSTOP : SIGKILL;
	if (strcmp(buf, "producer") == 0)
		*role = FB_ROLE_PRODUCER;
	else if (strcmp(buf, "encoder") == 0)
		*role = FB_ROLE_ENCODER;
	else
		return -EINVAL;
	if (fb_parse_u64(f, 0, UINT64_MAX, frame))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (strcmp(steps[i].name, s) == 0) {
			*step = steps[i].step;
			return steps[i].role == *role ? 0 : -EINVAL;
		}
	return -EINVAL;
}

/* Say FMT into WHY (may be NULL); return RC. */
__attribute__((format(printf, 4, 5)))
static int refuse(int rc, char *why, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (why && len) {
		va_start(ap, fmt);
		vsnprintf(why, len, fmt, ap);
		va_end(ap);
		/* The environment's text is shown: one line, whatever it holds
		 * (a newline in FB_FAULT must not forge a line of its own). */
		for (char *c = why; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				*c = '?';
	}
	return rc;
}

int fb_fault_from_env(uint32_t role, struct fb_fault **out, char *why, size_t why_len)
{
	const char *spec = getenv("FB_FAULT"), *once = getenv("FB_FAULT_ONCE");
	uint32_t want = 0, step = 0;
	uint64_t frame = 0;
	struct stat st;
	int sig = 0;

	if (out)
		*out = NULL;
	if (!spec || !*spec)
		return 0;
	if (parse_spec(spec, &want, &step, &frame, &sig))
		return refuse(-EINVAL, why, why_len, "invalid FB_FAULT '%.96s': expected "
			      "ROLE:STEP:FRAME[:stop] (steps in lib/fb_fault.h)", spec);
	if (!once || once[0] != '/')
		return refuse(-EINVAL, why, why_len, "FB_FAULT=%.96s needs FB_FAULT_ONCE=/ABSOLUTE/PATH: "
			      "the marker file whose creator fires (lib/fb_fault.h)", spec);
	if (role == 0 && lstat(once, &st) == 0)
		return refuse(-EEXIST, why, why_len, "FB_FAULT_ONCE=%.200s exists already: a fault "
			      "fired there before (remove it, or name a new marker)", once);
	if (role != want || !out)
		return 0;
	*out = malloc(sizeof(**out) + strlen(once) + 1);
	if (!*out)
		return refuse(-ENOMEM, why, why_len, "FB_FAULT: %s", strerror(ENOMEM));
	(*out)->step = step;
	(*out)->frame = frame;
	(*out)->sig = sig;
	strcpy((*out)->once, once);
	return 0;
}

void fb_fault_point(const struct fb_fault *f, uint32_t step, uint64_t frame)
{
	int fd;

	if (!f || f->step != step || f->frame != frame)
		return;
	fd = open(f->once, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return; /* fired already (EEXIST), or cannot prove we are first */
	close(fd);
	raise(f->sig);
}
