/*
 * pattern — the built-in test card.  Frame N shows a gradient that moves with
 * N, the decimal number N drawn large, and N's 32 low bits as a band of
 * black/white blocks along the top (bit 31 leftmost, white = 1), so order can
 * be checked by eye and by program (tests/ decodes the band independently).
 * Deterministic: the same frame always gives the same bytes.
 */
#ifndef FB_PATTERN_H
#define FB_PATTERN_H

#include <stdint.h>

/* Render FRAME into BUF, which holds fb_frame_bytes(FMT, W, H) bytes. */
void fb_pattern_render(unsigned char *buf, uint32_t w, uint32_t h, uint32_t fmt,
		       uint64_t frame);

#endif
