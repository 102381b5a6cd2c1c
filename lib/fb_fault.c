/* fb_fault — FB_FAULT=ROLE:STEP:FRAME parsing and the kill points. */
#include "fb_fault.h"
#include "fb_util.h"

#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>

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
};

int fb_fault_parse(const char *spec, uint32_t role, struct fb_fault *out)
{
	char buf[96], *step, *frame, *mode;
	uint32_t want_role;
	uint64_t f;

	memset(out, 0, sizeof(*out));
	if (!spec || !*spec)
		return 0;
	if (strlen(spec) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, spec);
	step = strchr(buf, ':');
	frame = step ? strchr(step + 1, ':') : NULL;
	if (!frame)
		return -EINVAL;
	*step++ = '\0';
	*frame++ = '\0';
	mode = strchr(frame, ':');
	if (mode) {
		*mode++ = '\0';
		if (strcmp(mode, "stop") != 0)
			return -EINVAL;
	}
	if (strcmp(buf, "producer") == 0)
		want_role = FB_ROLE_PRODUCER;
	else if (strcmp(buf, "encoder") == 0)
		want_role = FB_ROLE_ENCODER;
	else if (strcmp(buf, "broker") == 0 || strcmp(buf, "render") == 0)
		return 0; /* for other programs; nothing to arm here */
	else
		return -EINVAL;
	if (fb_parse_u64(frame, 0, UINT64_MAX, &f))
		return -EINVAL;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		if (strcmp(steps[i].name, step) != 0)
			continue;
		if (steps[i].role != want_role)
			return -EINVAL;
		if (want_role == role) {
			out->role = role;
			out->step = steps[i].step;
			out->frame = f;
			out->sig = mode ? SIGSTOP : SIGKILL;
		}
		return 0;
	}
	return -EINVAL;
}

void fb_fault_point(struct fb_seg *seg, uint32_t step, uint64_t frame)
{
	uint32_t zero = 0;

	if (seg->fault.role == 0 || seg->fault.step != step || seg->fault.frame != frame)
		return;
	if (atomic_compare_exchange_strong(&seg->hdr->fault_fired, &zero, 1))
		raise(seg->fault.sig);
}
