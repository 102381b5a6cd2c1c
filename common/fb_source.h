/*
 * fb_source — what a producer renders, as named on the command line
 * (--source).  Parsed in one place so fb-render refuses a bad spec before it
 * creates anything, with the same words fb-producer would use.
 *
 *   pattern    the built-in test card (producer/pattern.c)
 *   fill       every byte of frame N is N mod 256: the cheapest render there
 *              is, for measuring the transport itself (make bench)
 *   raw:PATH   frame N is bytes [N*F, (N+1)*F) of PATH, F = frame bytes
 */
#ifndef FB_SOURCE_H
#define FB_SOURCE_H

enum fb_source_kind { FB_SOURCE_PATTERN, FB_SOURCE_FILL, FB_SOURCE_RAW };

struct fb_source {
	enum fb_source_kind kind;
	const char *path; /* raw: points into the spec string */
};

#define FB_SOURCE_SYNTAX "pattern, fill or raw:PATH"

/* Parse SPEC into SRC.  0, or -EINVAL for an unknown spec. */
int fb_source_parse(const char *spec, struct fb_source *src);

#endif
