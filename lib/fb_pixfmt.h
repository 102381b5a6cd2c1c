/*
 * fb_pixfmt — the raw pixel formats framebroker carries, their ffmpeg names
 * and the exact byte size of one frame (as ffmpeg's rawvideo computes it with
 * no line padding, so frame i of a raw file is bytes [i*F, (i+1)*F)).
 */
#ifndef FB_PIXFMT_H
#define FB_PIXFMT_H

#include <stdint.h>

enum fb_pixfmt {
	FB_PIX_RGBA = 1,
	FB_PIX_BGRA,
	FB_PIX_RGB24,
	FB_PIX_GRAY,
	FB_PIX_YUV420P,
	FB_PIX_RGB48LE,     /* 16 bits per channel, for HDR pipelines */
	FB_PIX_YUV420P10LE, /* 10 bits per sample in 16-bit little-endian words */
	FB_PIX_END_ /* one past the last valid value */
};

/* ffmpeg's name for FMT ("rgba", ...), or NULL if FMT is not a valid value. */
const char *fb_pixfmt_name(uint32_t fmt);

/* Look up a name; returns the format or 0 if unknown. */
uint32_t fb_pixfmt_parse(const char *name);

/* The list of names, for usage messages: "rgba|bgra|...". */
const char *fb_pixfmt_names(void);

/*
 * Bytes of one W x H frame in FMT, or 0 if FMT is invalid or the size
 * overflows 64 bits.  yuv420p with odd sides rounds chroma up, like ffmpeg.
 */
uint64_t fb_frame_bytes(uint32_t fmt, uint32_t w, uint32_t h);

/* How frames travel: raw pixels, or one encoded image each. */
enum fb_frame_format { FB_FRAME_RAW = 0, FB_FRAME_PNG, FB_FRAME_JPEG, FB_FRAME_END_ };

/* "raw", "png", "jpeg", or NULL if invalid. */
const char *fb_frame_format_name(uint32_t ff);

/* Look up a name; FB_FRAME_END_ if unknown. */
uint32_t fb_frame_format_parse(const char *name);

#endif
