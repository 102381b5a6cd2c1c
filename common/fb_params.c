/* fb_params — parse and check the render geometry options. */
#include "fb_params.h"
#include "fb_pixfmt.h"
#include "fb_util.h"

#include <errno.h>
#include <string.h>

void fb_params_default(struct fb_params *p)
{
	p->width = 1280;
	p->height = 720;
	p->pix_fmt = FB_PIX_RGBA;
	p->fps = 30;
	p->slots = 8;
	p->frames = 300;
	p->frame_format = FB_FRAME_RAW;
	p->slot_bytes = 0;
	p->range_first = p->range_end = 0;
}

/* "A:B", two decimal frame indices: 0 or -EINVAL.  Bounds are checked in
 * fb_params_geom, once --frames is known too. */
static int parse_range(const char *arg, uint64_t *a, uint64_t *b)
{
	const char *colon = strchr(arg, ':');
	char first[32];
	size_t n;

	if (!colon || (n = (size_t)(colon - arg)) == 0 || n >= sizeof(first))
		return -EINVAL;
	memcpy(first, arg, n);
	first[n] = '\0';
	if (fb_parse_u64(first, 0, FB_MAX_FRAMES - 1, a) ||
	    fb_parse_u64(colon + 1, 1, FB_MAX_FRAMES, b))
		return -EINVAL;
	return 0;
}

static int bad(const char *prog, const char *opt, const char *arg, const char *range)
{
	fb_err(prog, "invalid --%s '%s': expected %s", opt, arg, range);
	return -EINVAL;
}

int fb_params_set(struct fb_params *p, const char *opt, const char *arg, const char *prog)
{
	uint64_t v;

	if (strcmp(opt, "size") == 0) {
		if (fb_parse_size(arg, FB_MAX_SIDE, &p->width, &p->height))
			return bad(prog, opt, arg, "WxH, each side 1..16384");
	} else if (strcmp(opt, "pix-fmt") == 0) {
		p->pix_fmt = fb_pixfmt_parse(arg);
		if (!p->pix_fmt)
			return bad(prog, opt, arg, fb_pixfmt_names());
	} else if (strcmp(opt, "fps") == 0) {
		if (fb_parse_u64(arg, 1, FB_MAX_FPS, &v))
			return bad(prog, opt, arg, "an integer 1..1000");
		p->fps = (uint32_t)v;
	} else if (strcmp(opt, "frames") == 0) {
		if (fb_parse_u64(arg, 1, FB_MAX_FRAMES, &p->frames))
			return bad(prog, opt, arg, "an integer 1..2^40");
	} else if (strcmp(opt, "range") == 0) {
		if (parse_range(arg, &p->range_first, &p->range_end))
			return bad(prog, opt, arg, "A:B, frames A..B-1 of the render");
	} else if (strcmp(opt, "frame-format") == 0) {
		p->frame_format = fb_frame_format_parse(arg);
		if (p->frame_format == FB_FRAME_END_)
			return bad(prog, opt, arg, "raw, png or jpeg");
	} else if (strcmp(opt, "slot-bytes") == 0) {
		if (fb_parse_u64(arg, 1, FB_MAX_SEGMENT, &p->slot_bytes))
			return bad(prog, opt, arg, "a byte count 1..2^36");
	} else if (strcmp(opt, "slots") == 0) {
		if (fb_parse_u64(arg, 1, FB_MAX_SLOTS, &v))
			return bad(prog, opt, arg, "an integer 1..256");
		p->slots = (uint32_t)v;
	} else {
		return 0;
	}
	return 1;
}

int fb_params_geom(const struct fb_params *p, struct fb_geom *g, const char *prog)
{
	uint64_t count = p->frames;
	int rc;

	if (p->range_end) {
		if (p->range_first >= p->range_end || p->range_end > p->frames) {
			fb_err(prog, "--range %llu:%llu is not a part of a %llu-frame render "
			       "(need A < B <= --frames)", (unsigned long long)p->range_first,
			       (unsigned long long)p->range_end, (unsigned long long)p->frames);
			return -EINVAL;
		}
		count = p->range_end - p->range_first;
	}
	rc = fb_geom_init(g, p->width, p->height, p->pix_fmt, p->slots, p->fps, count);
	if (rc == 0 && p->range_end)
		rc = fb_geom_set_range(g, p->range_first, p->frames);

	if (rc == 0 && p->frame_format == FB_FRAME_RAW && p->slot_bytes) {
		fb_err(prog, "--slot-bytes is for encoded frames (--frame-format png or jpeg): "
		       "a raw slot holds exactly one %llu-byte frame",
		       (unsigned long long)g->frame_bytes);
		return -EINVAL;
	}
	if (rc == 0)
		rc = fb_geom_set_format(g, p->frame_format, p->slot_bytes);
	if (rc == -EFBIG && p->frame_format != FB_FRAME_RAW)
		fb_err(prog, "%u slots of %llu bytes do not fit the %llu GiB segment limit", p->slots,
		       (unsigned long long)g->slot_bytes, (unsigned long long)(FB_MAX_SEGMENT >> 30));
	else if (rc == -EFBIG)
		fb_err(prog, "%ux%u %s x %u slots does not fit the %llu GiB segment limit",
		       p->width, p->height, fb_pixfmt_name(p->pix_fmt), p->slots,
		       (unsigned long long)(FB_MAX_SEGMENT >> 30));
	else if (rc)
		fb_err(prog, "invalid render parameters");
	return rc;
}
