/* fb_source — parsing --source specs (see fb_source.h). */
#include "fb_source.h"

#include <errno.h>
#include <string.h>

/* Split CMD into SRC->argv, copying the words into SRC->words. */
static int split_words(const char *cmd, struct fb_source *src)
{
	char *out = src->words, *end = src->words + sizeof(src->words) - 1;
	int argc = 0;
	const char *p = cmd;

	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		if (!*p)
			break;
		if (argc == FB_SOURCE_MAX_ARGS)
			return -E2BIG;
		src->argv[argc++] = out;
		while (*p && *p != ' ' && *p != '\t' && *p != '\n') {
			char c = *p++, q;

			if (c == '\'' || c == '"') {
				for (q = c; *p && *p != q; p++) {
					if (q == '"' && *p == '\\' && (p[1] == '"' || p[1] == '\\'))
						p++;
					if (out == end)
						return -E2BIG;
					*out++ = *p;
				}
				if (!*p)
					return -EINVAL; /* unterminated quote */
				p++;
				continue;
			}
			if (c == '\\' && *p)
				c = *p++;
			if (out == end)
				return -E2BIG;
			*out++ = c;
		}
		if (out == end)
			return -E2BIG;
		*out++ = '\0';
	}
	src->argv[argc] = NULL;
	return argc > 0 ? 0 : -EINVAL;
}

int fb_source_parse(const char *spec, struct fb_source *src)
{
	memset(src, 0, sizeof(*src));
	if (strcmp(spec, "pattern") == 0) {
		src->kind = FB_SOURCE_PATTERN;
	} else if (strcmp(spec, "fill") == 0) {
		src->kind = FB_SOURCE_FILL;
	} else if (strncmp(spec, "raw:", 4) == 0 && spec[4]) {
		src->kind = FB_SOURCE_RAW;
		src->path = spec + 4;
	} else if (strncmp(spec, "exec:", 5) == 0) {
		src->kind = FB_SOURCE_EXEC;
		return split_words(spec + 5, src);
	} else if (strncmp(spec, "sh:", 3) == 0 && spec[3]) {
		if (strlen(spec + 3) >= sizeof(src->words))
			return -E2BIG;
		src->kind = FB_SOURCE_EXEC;
		strcpy(src->words, spec + 3);
		src->argv[0] = "sh";
		src->argv[1] = "-c";
		src->argv[2] = src->words;
		src->argv[3] = NULL;
	} else {
		return -EINVAL;
	}
	return 0;
}
