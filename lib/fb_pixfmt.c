/* fb_pixfmt — pixel format names and frame sizes. */
#include "fb_pixfmt.h"

#include <string.h>

static const char *const names[FB_PIX_END_] = {
	[FB_PIX_RGBA] = "rgba",
	[FB_PIX_BGRA] = "bgra",
	[FB_PIX_RGB24] = "rgb24",
	[FB_PIX_GRAY] = "gray",
	[FB_PIX_YUV420P] = "yuv420p",
	[FB_PIX_RGB48LE] = "rgb48le",
	[FB_PIX_YUV420P10LE] = "yuv420p10le",
};

static const char *const frame_formats[FB_FRAME_END_] = { "raw", "png", "jpeg" };

const char *fb_frame_format_name(uint32_t ff)
{
	return ff < FB_FRAME_END_ ? frame_formats[ff] : NULL;
}

uint32_t fb_frame_format_parse(const char *name)
{
	for (uint32_t f = 0; f < FB_FRAME_END_; f++)
		if (strcmp(frame_formats[f], name) == 0)
			return f;
	return FB_FRAME_END_;
}

const char *fb_pixfmt_name(uint32_t fmt)
{
	if (fmt == 0 || fmt >= FB_PIX_END_)
		return NULL;
	return names[fmt];
}

uint32_t fb_pixfmt_parse(const char *name)
{
	for (uint32_t f = 1; f < FB_PIX_END_; f++)
		if (strcmp(names[f], name) == 0)
			return f;
	return 0;
}

const char *fb_pixfmt_names(void)
{
	return "rgba|bgra|rgb24|gray|yuv420p|rgb48le|yuv420p10le";
}

uint64_t fb_frame_bytes(uint32_t fmt, uint32_t w, uint32_t h)
{
	/* w, h are 32-bit, so every product below fits in 64 bits. */
	uint64_t px = (uint64_t)w * h;

	switch (fmt) {
	case FB_PIX_RGBA:
	case FB_PIX_BGRA:
		return px * 4;
	case FB_PIX_RGB24:
		return px * 3;
	case FB_PIX_GRAY:
		return px;
	case FB_PIX_YUV420P:
		return px + 2 * (((uint64_t)w + 1) / 2) * (((uint64_t)h + 1) / 2);
	case FB_PIX_RGB48LE:
		return px * 6;
	case FB_PIX_YUV420P10LE:
		return 2 * (px + 2 * (((uint64_t)w + 1) / 2) * (((uint64_t)h + 1) / 2));
	default:
		return 0;
	}
}
