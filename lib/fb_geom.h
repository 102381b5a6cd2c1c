/*
 * fb_geom — what a render looks like in memory: frame and slot sizes, the
 * segment's size and offsets, the frame rate and a --range chunk's place,
 * derived from the render's parameters by one arithmetic (fb_geom.c) that
 * creation and validation share.  Option parsing (tools/fb_params) needs
 * this and not the segment's layout, so it is a header of its own.
 */
#ifndef FB_GEOM_H
#define FB_GEOM_H

#include <stddef.h>
#include <stdint.h>

#define FB_MAX_SLOTS 256u
#define FB_MAX_SIDE 16384u
#define FB_MAX_FPS 1000u
/* A frame rate is the reduced fraction fps_num/fps_den, in (0, FB_MAX_FPS].
 * den <= 10^6 holds every decimal --fps takes (6 decimals) and every
 * N*1000/1001.  num <= 1001000: ffmpeg reads -framerate and -r as a
 * number and takes the nearest fraction of terms up to 1001000
 * (av_parse_video_rate), so a larger one (1999999/1000000) would silently
 * become another rate (2). */
#define FB_MAX_FPS_DEN 1000000u
#define FB_MAX_FPS_NUM 1001000u
#define FB_MAX_FRAMES (1ull << 40)

/* Geometry: a private, validated copy of the header's fixed fields. */
struct fb_geom {
	uint32_t width, height, pix_fmt, slot_count, frame_format;
	uint32_t fps_num, fps_den; /* the frame rate, a reduced fraction (fb_geom_set_fps) */
	uint64_t frame_bytes; /* one raw frame */
	uint64_t slot_bytes;  /* what a slot holds: frame_bytes, or an encoded frame's cap */
	uint64_t slot_stride, data_offset, segment_size, total_frames;
	uint64_t first_frame, render_frames; /* see struct fb_header */
	uint32_t chunk;
};

/*
 * Fill G from the render parameters, computing frame size, stride and the
 * total segment size.  -EINVAL for a parameter out of range, -EFBIG when the
 * segment would not fit in memory (size overflow, or over FB_MAX_SEGMENT).
 */
#define FB_MAX_SEGMENT (64ull << 30)
int fb_geom_init(struct fb_geom *g, uint32_t w, uint32_t h, uint32_t fmt,
		 uint32_t slots, uint32_t fps, uint64_t frames);

/*
 * The frame rate NUM/DEN fps (fb_geom_init sets FPS/1).  Only the reduced
 * form is taken, so every process shows one spelling of a rate: -EINVAL
 * unless gcd(NUM, DEN) = 1, 1 <= DEN <= FB_MAX_FPS_DEN and 0 < NUM/DEN <=
 * FB_MAX_FPS.
 */
int fb_geom_set_fps(struct fb_geom *g, uint32_t num, uint32_t den);

/* The rate as ffmpeg writes it, into BUF: "30000/1001", or "30" when DEN is 1. */
const char *fb_fps_str(char *buf, size_t len, uint32_t num, uint32_t den);

/* NUM/DEN rounded to the nearest integer (halves up): what a plain
 * integer "fps" shows. */
uint32_t fb_fps_rounded(uint32_t num, uint32_t den);

/* When frame FRAMES starts, in microseconds (FRAMES * DEN / NUM s), exact
 * to the microsecond (rounded down), saturating at UINT64_MAX. */
uint64_t fb_fps_frames_us(uint64_t frames, uint32_t num, uint32_t den);

/*
 * Make G one chunk of a longer render: its ring indices 0..total_frames-1
 * are frames FIRST.. of a render of RENDER_FRAMES (fb_geom_init sets 0 and
 * total_frames: the whole render, not a chunk).  The ring never sees FIRST:
 * it only changes which frame a producer draws.  -EINVAL unless
 * FIRST + total_frames <= RENDER_FRAMES <= FB_MAX_FRAMES.
 */
int fb_geom_set_range(struct fb_geom *g, uint64_t first, uint64_t render_frames);

/* The render's frame number of ring index I: what users and sources call
 * the frame (they differ in a --range chunk).  Messages use it. */
static inline uint64_t fb_geom_frame(const struct fb_geom *g, uint64_t i)
{
	return g->first_frame + i;
}

/*
 * Encoded frames (FB_FRAME_PNG, FB_FRAME_JPEG): slots of SLOT_BYTES each
 * instead of one raw frame (0: room for any PNG of the raw frame, which
 * stores at worst the raw bytes plus a little framing).  FB_FRAME_RAW takes
 * SLOT_BYTES 0 only.  Recomputes the derived sizes.  0, -EINVAL, -EFBIG.
 */
int fb_geom_set_format(struct fb_geom *g, uint32_t frame_format, uint64_t slot_bytes);

#endif
