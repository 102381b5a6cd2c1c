/* fb_source — parsing --source specs (see fb_source.h). */
#include "fb_source.h"

#include <errno.h>
#include <string.h>

int fb_source_parse(const char *spec, struct fb_source *src)
{
	src->path = NULL;
	if (strcmp(spec, "pattern") == 0) {
		src->kind = FB_SOURCE_PATTERN;
	} else if (strcmp(spec, "fill") == 0) {
		src->kind = FB_SOURCE_FILL;
	} else if (strncmp(spec, "raw:", 4) == 0 && spec[4]) {
		src->kind = FB_SOURCE_RAW;
		src->path = spec + 4;
	} else {
		return -EINVAL;
	}
	return 0;
}
