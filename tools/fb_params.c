/* fb_params — parse and check the render geometry options. */
#include "fb_params.h"
#include "fb_pixfmt.h"
#include "fb_args.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

void fb_params_default(struct fb_params *p)
{
	p->width = 1280;
	p->height = 720;
	p->pix_fmt = FB_PIX_RGBA;
	p->fps_num = 30;
	p->fps_den = 1;
	p->fps_ntsc = NULL;
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

/* M*1000/1001 rounded to K decimals, times 10^K (TEN_K): round half up of
 * M * 10^(K+3) / 1001, never a tie (1001 is odd, the numerator doubled is
 * even). */
static uint64_t ntsc_rounded(uint64_t m, uint64_t ten_k)
{
	return (2 * m * 1000 * ten_k + 1001) / 2002;
}

/* The M whose M*1000/1001, rounded to the decimals of TEN_K, is V/TEN_K,
 * or 0.  V/TEN_K <= FB_MAX_FPS + 1, so M is at most about 1002. */
static uint64_t ntsc_match(uint64_t v, uint64_t ten_k)
{
	uint64_t m0 = (v * 1001 + ten_k * 500) / (ten_k * 1000);

	for (uint64_t m = m0 > 0 ? m0 - 1 : 0; m <= m0 + 1; m++)
		if (m > 0 && ntsc_rounded(m, ten_k) == v)
			return m;
	return 0;
}

/*
 * The decimal S = "HEAD.F" (F: what follows the dot) as the fraction
 * *N / *D, or as the broadcast rate M*1000/1001 it rounds to (*NTSC set).
 * 0; 1 for a syntax error; -EINVAL with WHY for too many decimals or a
 * value that is ambiguous.
 */
static int parse_decimal(const char *s, const char *head, const char *f, uint64_t *n,
			 uint64_t *d, int *ntsc, char *why, size_t len)
{
	size_t k = strspn(f, "0123456789");
	uint64_t ip, fp = 0, m, g;

	if (k == 0 || f[k] != '\0' || fb_parse_u64(head, 0, 1000000000000ull, &ip))
		return 1;
	if (k > 6) {
		snprintf(why, len, "expected at most 6 decimals (or a fraction N/D)");
		return -EINVAL;
	}
	*d = 1;
	for (size_t i = 0; i < k; i++) {
		fp = fp * 10 + (uint64_t)(f[i] - '0');
		*d *= 10;
	}
	*n = ip * *d + fp;
	/* Only a value in range can be a broadcast rate; range errors
	 * are reported by the caller, on the exact value. */
	if (fp == 0 || *n > (uint64_t)(FB_MAX_FPS + 1) * *d)
		return 0;
	m = ntsc_match(*n, *d);
	if (m && k >= 2) {
		*n = m * 1000;
		*d = 1001;
		*ntsc = 1;
	} else if (m) {
		g = fb_gcd_u64(*n, *d);
		snprintf(why, len, "ambiguous: give %llu000/1001 for the broadcast rate "
			 "(%.5g fps) or %llu/%llu for exactly %s fps",
			 (unsigned long long)m, (double)m * 1000.0 / 1001.0,
			 (unsigned long long)(*n / g), (unsigned long long)(*d / g), s);
		return -EINVAL;
	}
	return 0;
}

#define FPS_SYNTAX "expected N, N/D or a decimal (30, 30000/1001, 29.97, 12.5)"

int fb_fps_parse(const char *s, uint32_t *num, uint32_t *den, int *ntsc, char *why, size_t len)
{
	const char *slash = strchr(s, '/'), *dot = strchr(s, '.');
	uint64_t n, d = 1, g;
	char head[32];
	size_t k;

	*ntsc = 0;
	if (slash || dot) { /* N/D or I.F: split at the one separator */
		const char *sep = slash ? slash : dot;

		k = (size_t)(sep - s);
		if ((slash && dot) || k == 0 || k >= sizeof(head) || strchr(sep + 1, *sep))
			goto syntax;
		memcpy(head, s, k);
		head[k] = '\0';
	}
	if (!slash && !dot) {
		if (fb_parse_u64(s, 0, UINT64_MAX, &n))
			goto syntax;
	} else if (slash) {
		if (fb_parse_u64(head, 0, UINT64_MAX, &n) || fb_parse_u64(slash + 1, 0, UINT64_MAX, &d))
			goto syntax;
		if (d == 0) {
			snprintf(why, len, "expected N/D with D at least 1 (a denominator of 0 is no rate)");
			return -EINVAL;
		}
	} else {
		int rc = parse_decimal(s, head, dot + 1, &n, &d, ntsc, why, len);

		if (rc > 0)
			goto syntax;
		if (rc < 0)
			return rc;
	}
	/* n/d > FB_MAX_FPS, by division: FB_MAX_FPS * d may not fit */
	if (n == 0 || n / d > FB_MAX_FPS || (n / d == FB_MAX_FPS && n % d)) {
		snprintf(why, len, "expected a rate above 0 and at most %u fps", FB_MAX_FPS);
		return -EINVAL;
	}
	g = fb_gcd_u64(n, d);
	n /= g;
	d /= g;
	if (d > FB_MAX_FPS_DEN || n > FB_MAX_FPS_NUM) {
		snprintf(why, len, "expected a numerator of at most %u and a denominator of at most %u "
			 "once reduced, which ffmpeg takes exactly (it is %llu/%llu)", FB_MAX_FPS_NUM,
			 FB_MAX_FPS_DEN, (unsigned long long)n, (unsigned long long)d);
		return -EINVAL;
	}
	*num = (uint32_t)n;
	*den = (uint32_t)d;
	return 0;
syntax:
	snprintf(why, len, FPS_SYNTAX);
	return -EINVAL;
}

static int bad(const char *prog, const char *opt, const char *arg, const char *range)
{
	fb_err(prog, "invalid --%s '%s': expected %s", opt, arg, range);
	return -EINVAL;
}

/* The one table of these options; val is the index fb_params_set_index
 * takes (fb_cli.c offsets it into the program's getopt table). */
enum { P_SIZE, P_PIX_FMT, P_FPS, P_FRAMES, P_RANGE, P_SLOTS, P_FRAME_FORMAT, P_SLOT_BYTES, P_END_ };
static const struct option opts_params[P_END_] = {
	{ "size", required_argument, NULL, P_SIZE },
	{ "pix-fmt", required_argument, NULL, P_PIX_FMT },
	{ "fps", required_argument, NULL, P_FPS },
	{ "frames", required_argument, NULL, P_FRAMES },
	{ "range", required_argument, NULL, P_RANGE },
	{ "slots", required_argument, NULL, P_SLOTS },
	{ "frame-format", required_argument, NULL, P_FRAME_FORMAT },
	{ "slot-bytes", required_argument, NULL, P_SLOT_BYTES },
};

const struct option *fb_params_options(size_t *n)
{
	*n = P_END_;
	return opts_params;
}

int fb_params_set_index(struct fb_params *p, size_t i, const char *arg, const char *prog)
{
	const char *opt = i < P_END_ ? opts_params[i].name : "?";
	uint64_t v;

	switch (i) {
	case P_SIZE:
		if (fb_parse_size(arg, FB_MAX_SIDE, &p->width, &p->height))
			return bad(prog, opt, arg, "WxH, each side 1..16384");
		break;
	case P_PIX_FMT:
		p->pix_fmt = fb_pixfmt_parse(arg);
		if (!p->pix_fmt)
			return bad(prog, opt, arg, fb_pixfmt_names());
		break;
	case P_FPS: {
		char why[160];
		int ntsc;

		if (fb_fps_parse(arg, &p->fps_num, &p->fps_den, &ntsc, why, sizeof(why))) {
			fb_err(prog, "invalid --fps '%s': %s", arg, why);
			return -EINVAL;
		}
		p->fps_ntsc = ntsc ? arg : NULL;
		break;
	}
	case P_FRAMES:
		if (fb_parse_u64(arg, 1, FB_MAX_FRAMES, &p->frames))
			return bad(prog, opt, arg, "an integer 1..2^40");
		break;
	case P_RANGE:
		if (parse_range(arg, &p->range_first, &p->range_end))
			return bad(prog, opt, arg, "A:B, frames A..B-1 of the render");
		break;
	case P_FRAME_FORMAT:
		p->frame_format = fb_frame_format_parse(arg);
		if (p->frame_format == FB_FRAME_END_)
			return bad(prog, opt, arg, "raw, png or jpeg");
		break;
	case P_SLOT_BYTES:
		if (fb_parse_u64(arg, 1, FB_MAX_SEGMENT, &p->slot_bytes))
			return bad(prog, opt, arg, "a byte count 1..2^36");
		break;
	case P_SLOTS:
		if (fb_parse_u64(arg, 1, FB_MAX_SLOTS, &v))
			return bad(prog, opt, arg, "an integer 1..256");
		p->slots = (uint32_t)v;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

int fb_params_set(struct fb_params *p, const char *opt, const char *arg, const char *prog)
{
	for (size_t i = 0; i < P_END_; i++)
		if (strcmp(opts_params[i].name, opt) == 0)
			return fb_params_set_index(p, i, arg, prog) ? -EINVAL : 1;
	return 0;
}

int fb_params_argv(const struct fb_params *p, char **argv, struct fb_params_argv_buf *b)
{
	int n = 0;

	snprintf(b->size, sizeof(b->size), "%ux%u", p->width, p->height);
	fb_fps_str(b->fps, sizeof(b->fps), p->fps_num, p->fps_den); /* exact: "30000/1001" */
	snprintf(b->frames, sizeof(b->frames), "%llu", (unsigned long long)p->frames);
	snprintf(b->slots, sizeof(b->slots), "%u", p->slots);
	argv[n++] = "--size";
	argv[n++] = b->size;
	argv[n++] = "--pix-fmt";
	argv[n++] = (char *)fb_pixfmt_name(p->pix_fmt);
	argv[n++] = "--fps";
	argv[n++] = b->fps;
	argv[n++] = "--frames";
	argv[n++] = b->frames;
	if (p->range_end) {
		snprintf(b->range, sizeof(b->range), "%llu:%llu", (unsigned long long)p->range_first,
			 (unsigned long long)p->range_end);
		argv[n++] = "--range";
		argv[n++] = b->range;
	}
	argv[n++] = "--slots";
	argv[n++] = b->slots;
	argv[n++] = "--frame-format";
	argv[n++] = (char *)fb_frame_format_name(p->frame_format);
	if (p->slot_bytes) {
		snprintf(b->slot_bytes, sizeof(b->slot_bytes), "%llu", (unsigned long long)p->slot_bytes);
		argv[n++] = "--slot-bytes";
		argv[n++] = b->slot_bytes;
	}
	return n;
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
	rc = fb_geom_init(g, p->width, p->height, p->pix_fmt, p->slots, 1, count);
	if (rc == 0)
		rc = fb_geom_set_fps(g, p->fps_num, p->fps_den);
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
	/* A decimal read as a broadcast rate is a guess made for the user:
	 * say so (the exact value would have been another rate). */
	if (rc == 0 && p->fps_ntsc && fb_log_enabled(FB_LOG_INFO))
		dprintf(STDERR_FILENO, "%s: --fps %s taken as %u/%u\n", prog, p->fps_ntsc,
			p->fps_num, p->fps_den);
	return rc;
}
