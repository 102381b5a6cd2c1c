/*
 * fb_geom — the segment's geometry: computed from a render's parameters
 * (fb_geom_*, the broker's and the option parsers'), and recomputed from a
 * header to validate it (fb_seg_validate, everyone attaching).  One
 * arithmetic for both, so what validation accepts is exactly what creation
 * makes; the frame-rate helpers sit here because the rate is part of it.
 */
#include "fb_segment.h"
#include "fb_pixfmt.h"
#include "fb_util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096;
}

/* Round V up to a multiple of A (a power of two); 0 on overflow. */
static uint64_t align_up(uint64_t v, uint64_t a)
{
	if (v > UINT64_MAX - (a - 1))
		return 0;
	return (v + a - 1) & ~(a - 1);
}

int fb_geom_init(struct fb_geom *g, uint32_t w, uint32_t h, uint32_t fmt,
		 uint32_t slots, uint32_t fps, uint64_t frames)
{
	uint64_t pg = page_size();

	if (w < 1 || w > FB_MAX_SIDE || h < 1 || h > FB_MAX_SIDE ||
	    !fb_pixfmt_name(fmt) || slots < 1 || slots > FB_MAX_SLOTS ||
	    fps < 1 || fps > FB_MAX_FPS || frames < 1 || frames > FB_MAX_FRAMES)
		return -EINVAL;
	memset(g, 0, sizeof(*g));
	g->width = w;
	g->height = h;
	g->pix_fmt = fmt;
	g->slot_count = slots;
	g->fps_num = fps;
	g->fps_den = 1;
	g->total_frames = frames;
	g->first_frame = 0;
	g->render_frames = frames;
	g->frame_bytes = fb_frame_bytes(fmt, w, h);
	g->slot_bytes = g->frame_bytes;
	g->slot_stride = align_up(g->slot_bytes, pg);
	g->data_offset = align_up(sizeof(struct fb_header), pg);
	/* Sides <= 16384 and slots <= 256 keep this far from 2^64, but the
	 * cap below is what keeps a request from eating the machine. */
	if (g->frame_bytes == 0 || g->slot_stride == 0 ||
	    g->slot_stride > (FB_MAX_SEGMENT - g->data_offset) / slots)
		return -EFBIG;
	g->segment_size = g->data_offset + g->slot_stride * slots;
	return 0;
}

int fb_geom_set_fps(struct fb_geom *g, uint32_t num, uint32_t den)
{
	if (num < 1 || den < 1 || den > FB_MAX_FPS_DEN || num > FB_MAX_FPS_NUM ||
	    num > (uint64_t)FB_MAX_FPS * den ||
	    fb_gcd_u64(num, den) != 1)
		return -EINVAL;
	g->fps_num = num;
	g->fps_den = den;
	return 0;
}

const char *fb_fps_str(char *buf, size_t len, uint32_t num, uint32_t den)
{
	if (den == 1)
		snprintf(buf, len, "%u", num);
	else
		snprintf(buf, len, "%u/%u", num, den);
	return buf;
}

uint32_t fb_fps_rounded(uint32_t num, uint32_t den)
{
	uint32_t r = den ? (uint32_t)(((uint64_t)num * 2 + den) / (2 * (uint64_t)den)) : 0;

	/* At least 1: a program that divides by it (fb_geometry.fps was an
	 * integer >= 1 before rates were fractions) must not divide by 0
	 * at 0.4 fps. */
	return r ? r : 1;
}

uint64_t fb_fps_frames_us(uint64_t frames, uint32_t num, uint32_t den)
{
	uint64_t q, r;

	if (num == 0)
		return UINT64_MAX;
	/* FRAMES * DEN * 10^6 / NUM overflows 64 bits for long renders at
	 * small rates: split FRAMES * DEN (< 2^64: frames <= 2^40, den <=
	 * 2^20) into whole seconds and a remainder below NUM. */
	if (den && frames > UINT64_MAX / den)
		return UINT64_MAX;
	q = frames * den / num;
	r = frames * den % num;
	if (q > (UINT64_MAX - 1000000) / 1000000)
		return UINT64_MAX;
	return q * 1000000 + r * 1000000 / num;
}

int fb_geom_set_format(struct fb_geom *g, uint32_t frame_format, uint64_t slot_bytes)
{
	uint64_t pg = page_size();

	if (!fb_frame_format_name(frame_format) || (frame_format == FB_FRAME_RAW && slot_bytes))
		return -EINVAL;
	if (frame_format == FB_FRAME_RAW)
		return 0;
	/* A PNG stores at worst each row (plus its filter byte) in 5-byte
	 * framed blocks of at most 64 KiB, plus its own headers. */
	if (slot_bytes == 0)
		slot_bytes = g->frame_bytes + g->height + g->frame_bytes / 8192 * 8 + 65536;
	if (slot_bytes > FB_MAX_SEGMENT)
		return -EFBIG;
	g->frame_format = frame_format;
	g->slot_bytes = slot_bytes;
	g->slot_stride = align_up(slot_bytes, pg);
	if (g->slot_stride == 0 || g->slot_stride > (FB_MAX_SEGMENT - g->data_offset) / g->slot_count)
		return -EFBIG;
	g->segment_size = g->data_offset + g->slot_stride * g->slot_count;
	return 0;
}

int fb_geom_set_range(struct fb_geom *g, uint64_t first, uint64_t render_frames)
{
	if (render_frames > FB_MAX_FRAMES || first > render_frames ||
	    g->total_frames > render_frames - first)
		return -EINVAL;
	g->first_frame = first;
	g->render_frames = render_frames;
	g->chunk = 1;
	return 0;
}

int fb_seg_validate(const struct fb_header *h, uint64_t file_size,
		    struct fb_geom *g, const char **why)
{
	struct fb_geom want;
	const char *dummy;

	if (!why)
		why = &dummy;
	if (file_size < sizeof(*h)) {
		*why = "segment smaller than its header";
		return -EPROTO;
	}
	if (h->magic != FB_MAGIC) {
		*why = "bad magic (not a framebroker segment)";
		return -EPROTO;
	}
	if (h->abi_version != FB_ABI_VERSION) {
		*why = "unsupported ABI version";
		return -EPROTO;
	}
	if (h->header_size != sizeof(*h)) {
		*why = "header size mismatch";
		return -EPROTO;
	}
	/* Recompute every derived field from the primary ones and demand
	 * equality: a corrupt stride or offset can then never reach mmap
	 * arithmetic. */
	if (fb_geom_init(&want, h->width, h->height, h->pix_fmt, h->slot_count,
			 1, h->total_frames) ||
	    fb_geom_set_fps(&want, h->fps_num, h->fps_den) ||
	    fb_geom_set_format(&want, h->frame_format,
			       h->frame_format == FB_FRAME_RAW ? 0 : h->slot_bytes) ||
	    h->slot_bytes != want.slot_bytes) {
		*why = "geometry out of range";
		return -EPROTO;
	}
	/* A chunk's frames lie inside its render; a whole render's range is
	 * the ring's own (fb_geom_init's defaults). */
	if (h->chunk > 1 ||
	    (h->chunk && fb_geom_set_range(&want, h->first_frame, h->render_frames)) ||
	    want.first_frame != h->first_frame || want.render_frames != h->render_frames) {
		*why = "frame range out of bounds";
		return -EPROTO;
	}
	if (h->frame_bytes != want.frame_bytes || h->slot_stride != want.slot_stride ||
	    h->data_offset != want.data_offset || h->segment_size != want.segment_size) {
		*why = "derived geometry inconsistent";
		return -EPROTO;
	}
	if (want.segment_size > file_size) {
		*why = "slots extend past the end of the segment";
		return -EPROTO;
	}
	if (h->broker_pid <= 0 || h->broker_start == 0) {
		*why = "bad broker pid";
		return -EPROTO;
	}
	*g = want;
	return 0;
}
