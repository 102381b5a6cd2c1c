/*
 * fb_source — what a producer renders, as named on the command line
 * (--source).  Parsed in one place so fb-render refuses a bad spec before it
 * creates anything, with the same words fb-producer would use.
 *
 *   pattern    the built-in test card (producer/pattern.c)
 *   fill       every byte of frame N is N mod 256: the cheapest render there
 *              is, for measuring the transport itself (make bench)
 *   raw:PATH   frame N is bytes [N*F, (N+1)*F) of PATH, F = frame bytes
 *   exec:CMD   an external renderer (producer/renderer.h), started once per
 *              producer: CMD is split into words here, without a shell —
 *              blanks separate words; '...' is literal; "..." allows \" and
 *              \\; a backslash outside quotes escapes the next character
 *   sh:CMD     the same, run as `sh -c CMD` (pipes, variables: when asked)
 */
#ifndef FB_SOURCE_H
#define FB_SOURCE_H

enum fb_source_kind { FB_SOURCE_PATTERN, FB_SOURCE_FILL, FB_SOURCE_RAW, FB_SOURCE_EXEC };

#define FB_SOURCE_MAX_ARGS 64

struct fb_source {
	enum fb_source_kind kind;
	const char *path; /* raw: points into the spec string */
	/* exec: and sh: the renderer's argv (NULL-terminated), in WORDS */
	char *argv[FB_SOURCE_MAX_ARGS + 1];
	char words[4096];
};

#define FB_SOURCE_SYNTAX "pattern, fill, raw:PATH, exec:COMMAND or sh:COMMAND"

/*
 * Parse SPEC into SRC.  0, or -EINVAL (unknown kind, empty command, an
 * unterminated quote), -E2BIG (over FB_SOURCE_MAX_ARGS words or 4 KiB).
 */
int fb_source_parse(const char *spec, struct fb_source *src);

#endif
