/* pattern — draw the deterministic test card in any supported pixel format. */
#include "pattern.h"
#include "fb_pixfmt.h"

#include <stdio.h>
#include <string.h>

/* 3x5 digit glyphs, row-major, top bit first. */
static const uint16_t glyph[10] = {
	0x7b6f, 0x2c97, 0x73e7, 0x73cf, 0x5bc9, 0x79cf, 0x79ef, 0x7249, 0x7bef, 0x7bcf,
};

struct card {
	uint32_t w, h;
	uint64_t frame;
	char digits[24];
	uint32_t ndigits;
	uint32_t band_h;         /* rows of the bit band */
	uint32_t scale;          /* glyph pixel size */
	uint32_t text_x, text_y; /* top-left of the number */
	uint32_t text_w, text_h;
};

static void card_init(struct card *c, uint32_t w, uint32_t h, uint64_t frame)
{
	uint32_t sx, sy;

	c->w = w;
	c->h = h;
	c->frame = frame;
	c->ndigits = (uint32_t)snprintf(c->digits, sizeof(c->digits), "%llu",
					(unsigned long long)frame);
	c->band_h = h >= 16 ? h / 16 : 1;
	/* Each glyph is 3 cells wide plus 1 cell of spacing, 5 cells high;
	 * fill about 80% of the width and a third of the height. */
	sx = (w * 4 / 5) / (c->ndigits * 4);
	sy = h / 3 / 5;
	c->scale = sx < sy ? sx : sy;
	c->text_w = c->scale * (c->ndigits * 4 - 1);
	c->text_h = c->scale * 5;
	c->text_x = (w - c->text_w) / 2;
	c->text_y = (h - c->text_h) / 2;
}

static int in_digit(const struct card *c, uint32_t x, uint32_t y)
{
	uint32_t cx, cy, d, col;

	if (c->scale == 0 || x < c->text_x || y < c->text_y ||
	    x >= c->text_x + c->text_w || y >= c->text_y + c->text_h)
		return -1; /* outside the text box */
	cx = (x - c->text_x) / c->scale;
	cy = (y - c->text_y) / c->scale;
	d = cx / 4;
	col = cx % 4;
	if (col == 3)
		return 0;
	return (glyph[c->digits[d] - '0'] >> (14 - (cy * 3 + col))) & 1;
}

static void card_rgb(const struct card *c, uint32_t x, uint32_t y, unsigned char rgb[3])
{
	int t;

	if (y < c->band_h) {
		uint32_t bit = (uint32_t)((uint64_t)x * 32 / c->w);
		unsigned char v = ((c->frame >> (31 - bit)) & 1) ? 255 : 0;

		rgb[0] = rgb[1] = rgb[2] = v;
		return;
	}
	t = in_digit(c, x, y);
	if (t >= 0) {
		rgb[0] = rgb[1] = rgb[2] = t ? 255 : 16;
		return;
	}
	rgb[0] = (unsigned char)((uint64_t)x * 255 / c->w + c->frame * 3);
	rgb[1] = (unsigned char)((uint64_t)y * 255 / c->h);
	rgb[2] = (unsigned char)(c->frame * 37);
}

/* BT.601 limited range, integer. */
static unsigned char luma(const unsigned char p[3])
{
	return (unsigned char)(((66 * p[0] + 129 * p[1] + 25 * p[2] + 128) >> 8) + 16);
}

static void chroma(const unsigned char p[3], unsigned char *u, unsigned char *v)
{
	*u = (unsigned char)(((-38 * p[0] - 74 * p[1] + 112 * p[2] + 128) >> 8) + 128);
	*v = (unsigned char)(((112 * p[0] - 94 * p[1] - 18 * p[2] + 128) >> 8) + 128);
}

static void render_packed(unsigned char *out, const struct card *c, uint32_t fmt)
{
	unsigned char p[3];

	for (uint32_t y = 0; y < c->h; y++) {
		for (uint32_t x = 0; x < c->w; x++) {
			card_rgb(c, x, y, p);
			switch (fmt) {
			case FB_PIX_RGBA:
				*out++ = p[0]; *out++ = p[1]; *out++ = p[2]; *out++ = 255;
				break;
			case FB_PIX_BGRA:
				*out++ = p[2]; *out++ = p[1]; *out++ = p[0]; *out++ = 255;
				break;
			case FB_PIX_RGB24:
				*out++ = p[0]; *out++ = p[1]; *out++ = p[2];
				break;
			case FB_PIX_RGB48LE: /* v * 257: the same value in 16 bits */
				for (int i = 0; i < 3; i++) {
					*out++ = p[i];
					*out++ = p[i];
				}
				break;
			default: /* FB_PIX_GRAY */
				*out++ = luma(p);
				break;
			}
		}
	}
}

/* Store one sample: a byte, or (10-bit) the byte's value << 2 as a
 * little-endian 16-bit word. */
static unsigned char *put(unsigned char *out, unsigned char s, int wide)
{
	if (!wide) {
		*out++ = s;
		return out;
	}
	*out++ = (unsigned char)(s << 2);
	*out++ = (unsigned char)(s >> 6);
	return out;
}

static void render_yuv420p(unsigned char *out, const struct card *c, int wide)
{
	uint32_t cw = (c->w + 1) / 2, ch = (c->h + 1) / 2;
	unsigned char *u = out + (uint64_t)c->w * c->h * (wide ? 2 : 1);
	unsigned char *v = u + (uint64_t)cw * ch * (wide ? 2 : 1);
	unsigned char p[3], cu, cv;

	for (uint32_t y = 0; y < c->h; y++)
		for (uint32_t x = 0; x < c->w; x++) {
			card_rgb(c, x, y, p);
			out = put(out, luma(p), wide);
		}
	/* Chroma sampled at the top-left pixel of each 2x2 block. */
	for (uint32_t y = 0; y < ch; y++)
		for (uint32_t x = 0; x < cw; x++) {
			card_rgb(c, x * 2, y * 2, p);
			chroma(p, &cu, &cv);
			u = put(u, cu, wide);
			v = put(v, cv, wide);
		}
}

void fb_pattern_render(unsigned char *buf, uint32_t w, uint32_t h, uint32_t fmt,
		       uint64_t frame)
{
	struct card c;

	card_init(&c, w, h, frame);
	if (fmt == FB_PIX_YUV420P || fmt == FB_PIX_YUV420P10LE)
		render_yuv420p(buf, &c, fmt == FB_PIX_YUV420P10LE);
	else
		render_packed(buf, &c, fmt);
}
