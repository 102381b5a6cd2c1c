/*
 * fb_plan_load — reading a work directory's plan back (fb_plan.h): the
 * strict parse (a line that is not exactly what fb_plan.c writes is
 * refused, naming its line; only a torn last line is forgiven), the render
 * line compared key by key, each recorded segment checked against its
 * file, and, for a resume, what is not a finished segment removed.  The
 * plan and the files are input: whoever could write the directory could
 * have written anything, so nothing read is trusted beyond its checks.
 */
#include "fb_plan.h"
#include "fb_sha256.h"
#include "fb_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FAIL(e, ...) (snprintf(why, why_len, __VA_ARGS__), -(e))
#define REASON_MAX 96

/* A segment line as read: the segment, its line, and what its file is. */
struct rec {
	struct fb_plan_seg s;
	size_t line;
	bool valid;
	char reason[REASON_MAX]; /* why not valid */
};

struct recs {
	struct rec *v;
	size_t n, cap;
};

/* The plan file, whole, NUL-terminated, into *TEXT (*LEN bytes). */
static int read_plan(int dir_fd, char **text, size_t *len, char *why, size_t why_len)
{
	int fd = openat(dir_fd, FB_PLAN_FILE, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	struct stat st;
	int e;

	if (fd < 0)
		return errno == ELOOP ? FAIL(ELOOP, "the plan is a symlink")
				      : FAIL(errno, "cannot open the plan: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return FAIL(EINVAL, "the plan is not a regular file of ours");
	}
	if ((uint64_t)st.st_size > FB_PLAN_MAX_BYTES) {
		close(fd);
		return FAIL(EINVAL, "the plan is %lld bytes, over the bound of %u",
			    (long long)st.st_size, FB_PLAN_MAX_BYTES);
	}
	*text = malloc((size_t)st.st_size + 1);
	if (!*text) {
		close(fd);
		return FAIL(ENOMEM, "reading the plan: %s", strerror(ENOMEM));
	}
	e = fb_pread_all(fd, *text, (size_t)st.st_size, 0);
	close(fd);
	if (e) {
		free(*text);
		*text = NULL; /* the caller frees it too */
		return FAIL(-e, "reading the plan: %s", strerror(-e));
	}
	(*text)[st.st_size] = '\0';
	*len = (size_t)st.st_size;
	return 0;
}

/* A decimal at *S (no sign, no leading zero, no overflow), ending at
 * STOP; *S moves past it and the stop byte.  0, or -1. */
static int number(const char **s, char stop, uint64_t *out)
{
	const char *p = *s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9' || (p[0] == '0' && p[1] >= '0' && p[1] <= '9'))
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p != stop)
		return -1;
	*s = p + (stop ? 1 : 0);
	*out = v;
	return 0;
}

/* The value of KEY in render line LINE (tokens "KEY=VALUE" split by one
 * space), into VAL (LEN bytes): 0, or -1 if missing or too long. */
static int render_value(const char *line, const char *key, char *val, size_t len)
{
	size_t kl = strlen(key);

	for (const char *t = line + 7; t && *t; t = strchr(t, ' '), t = t ? t + 1 : NULL) {
		size_t vl = strcspn(t + kl + 1, " ");

		if (strncmp(t, key, kl) != 0 || t[kl] != '=')
			continue;
		if (vl == 0 || vl >= len)
			return -1;
		memcpy(val, t + kl + 1, vl);
		val[vl] = '\0';
		return 0;
	}
	return -1;
}

/* The render line's frames=, segment= and ext= into P. */
static int parse_render(const char *line, struct fb_plan *p, char *why, size_t why_len)
{
	char v[32];
	const char *s;

	if (strlen(line) > FB_PLAN_LINE_MAX || strstr(line, "  ") || line[strlen(line) - 1] == ' ')
		return FAIL(EINVAL, "line 2: a malformed render line");
	s = v;
	if (render_value(line, "frames", v, sizeof(v)) || number(&s, 0, &p->frames) ||
	    p->frames == 0)
		return FAIL(EINVAL, "line 2: the render line has no valid frames=");
	p->first = 0;
	p->end = p->frames;
	s = v;
	if (render_value(line, "range", v, sizeof(v)) == 0 &&
	    (number(&s, ':', &p->first) || number(&s, 0, &p->end) || p->first >= p->end ||
	     p->end > p->frames))
		return FAIL(EINVAL, "line 2: the render line's range= is not A:B within its frames");
	p->start = p->first; /* where the contiguous prefix begins */
	s = v;
	if (render_value(line, "segment", v, sizeof(v)) || number(&s, 0, &p->seg_frames) ||
	    p->seg_frames == 0)
		return FAIL(EINVAL, "line 2: the render line has no valid segment=");
	if (render_value(line, "ext", p->ext, sizeof(p->ext)) ||
	    strspn(p->ext, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") !=
		    strlen(p->ext))
		return FAIL(EINVAL, "line 2: the render line has no valid ext=");
	return 0;
}

/* PLAN's render line against OURS, token by token: the first KEY whose
 * token differs is named, with both values. */
static int compare_render(const char *plan, const char *ours, char *why, size_t why_len)
{
	const char *a = plan + 7, *b = ours + 7;

	for (;;) {
		size_t la = strcspn(a, " "), lb = strcspn(b, " ");
		const char *k = lb ? b : a;

		if (la == 0 && lb == 0)
			return 0;
		if (la != lb || memcmp(a, b, la) != 0)
			return FAIL(EINVAL, "the plan is another render's: %.*s differs (plan: %.*s, "
				    "this render: %.*s)", (int)strcspn(k, "= "), k,
				    la ? (int)la : 4, la ? a : "none", lb ? (int)lb : 4,
				    lb ? b : "none");
		a += la + (a[la] == ' ');
		b += lb + (b[lb] == ' ');
	}
}

/* Segment line LINE (number N) into R, checked against P's grid. */
static int parse_segment(const char *line, size_t n, const struct fb_plan *p, struct rec *r,
			 char *why, size_t why_len)
{
	const char *s = line + 8;
	uint64_t base;
	size_t i;

	if (strncmp(line, "segment ", 8) != 0 || number(&s, ' ', &r->s.first) ||
	    number(&s, ' ', &r->s.end) || number(&s, ' ', &r->s.bytes))
		return FAIL(EINVAL, "line %zu: not a segment line", n);
	for (i = 0; i < 64 && ((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')); i++)
		r->s.sha256[i] = s[i];
	if (i != 64 || s[64] != '\0')
		return FAIL(EINVAL, "line %zu: the sha256 is not 64 lowercase hex digits", n);
	r->s.sha256[64] = '\0';
	/* On the grid (fb_plan_segment_end): a segment begins at the range's
	 * first frame or at a multiple of L. */
	base = r->s.first - r->s.first % p->seg_frames;
	if (r->s.first >= r->s.end || r->s.first < p->first || r->s.first >= p->end ||
	    (r->s.first != p->first && r->s.first != base) ||
	    r->s.end != fb_plan_segment_end(r->s.first, p->first, p->end, p->seg_frames))
		return FAIL(EINVAL, "line %zu: frames %" PRIu64 ":%" PRIu64 " are not a segment of "
			    "%" PRIu64 " frames of the %" PRIu64 "-frame render", n, r->s.first,
			    r->s.end, p->seg_frames, p->frames);
	r->line = n;
	return 0;
}

static int add(struct recs *rs, const struct rec *r)
{
	if (rs->n == rs->cap) {
		size_t cap = rs->cap ? rs->cap * 2 : 64;
		struct rec *v = realloc(rs->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		rs->v = v;
		rs->cap = cap;
	}
	rs->v[rs->n++] = *r;
	return 0;
}

/* Every line of TEXT: the magic, the render line (into P, compared with
 * RENDER), the segment lines into RS; *WHOLE: the bytes before a torn
 * last line (LEN if none). */
static int parse(char *text, size_t len, size_t *whole, const char *render, struct fb_plan *p,
		 struct recs *rs, char *why, size_t why_len)
{
	size_t n = 0, pos = 0;
	struct rec r = { 0 };
	int e;

	while (pos < len) {
		char *nl = memchr(text + pos, '\n', len - pos), *line = text + pos;

		*whole = pos;
		if (!nl) /* torn by a crash in the middle of its write: ignored */
			break;
		*nl = '\0';
		pos = (size_t)(nl - text) + 1;
		if (strlen(line) != (size_t)(nl - line))
			return FAIL(EINVAL, "line %zu: a NUL byte", n + 1);
		if (++n == 1 && strcmp(line, FB_PLAN_MAGIC) != 0)
			return FAIL(EINVAL, "line 1: not \"" FB_PLAN_MAGIC "\": not a plan");
		if (n == 1)
			continue;
		if (n == 2 && strncmp(line, "render ", 7) != 0)
			return FAIL(EINVAL, "line 2: not the render line");
		if (n == 2) {
			e = parse_render(line, p, why, why_len);
			if (!e && render)
				e = compare_render(line, render, why, why_len);
			if (e)
				return e;
			continue;
		}
		if (strncmp(line, "render ", 7) == 0)
			return FAIL(EINVAL, "line %zu: a second render line", n);
		e = parse_segment(line, n, p, &r, why, why_len);
		if (!e && add(rs, &r))
			e = FAIL(ENOMEM, "reading the plan: %s", strerror(ENOMEM));
		if (e)
			return e;
	}
	*whole = pos;
	return n < 2 ? FAIL(EINVAL, "no render line: not a plan") : 0;
}

/* A resume's repair of the plan itself: its torn last line cut off (at
 * WHOLE bytes), or the next segment line appended would be glued onto it
 * and the plan refused from then on. */
static void cut_torn(int dir_fd, size_t whole, const char *prog)
{
	int fd = openat(dir_fd, FB_PLAN_FILE, O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	const char *err = NULL;
	struct stat st;

	if (fd < 0 || fstat(fd, &st) < 0)
		err = strerror(errno);
	else if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		err = "not a regular file of ours";
	else if (ftruncate(fd, (off_t)whole) < 0 || fsync(fd) < 0)
		err = strerror(errno);
	if (err)
		fb_warn(prog, "cannot cut the plan's torn last line: %s", err);
	else
		fb_warn(prog, "the plan's last line was torn (%lld bytes): cut off",
			(long long)st.st_size - (long long)whole);
	if (fd >= 0)
		close(fd);
}

/* By first frame, then by line: the later line for a FIRST comes last. */
static int by_first(const void *x, const void *y)
{
	const struct rec *a = x, *b = y;

	if (a->s.first != b->s.first)
		return a->s.first < b->s.first ? -1 : 1;
	return a->line < b->line ? -1 : a->line > b->line;
}

/* Is R's file what its line says?  Else R->reason says why not. */
static void check_file(int dir_fd, const struct fb_plan *p, struct rec *r)
{
	char name[64], hex[FB_SHA256_HEX];
	struct stat st;
	int64_t got;
	int fd;

	fb_plan_segment_name(name, sizeof(name), r->s.first, r->s.end, p->ext, false);
	fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		snprintf(r->reason, REASON_MAX, "%s", errno == ENOENT ? "missing"
						      : errno == ELOOP ? "a symlink"
								       : strerror(errno));
		return;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid())
		snprintf(r->reason, REASON_MAX, "not a regular file of ours");
	else if ((uint64_t)st.st_size != r->s.bytes)
		snprintf(r->reason, REASON_MAX, "%lld bytes, the plan says %" PRIu64,
			 (long long)st.st_size, r->s.bytes);
	else if ((got = fb_sha256_fd(fd, hex)) < 0)
		snprintf(r->reason, REASON_MAX, "reading it: %s", strerror((int)-got));
	else if ((uint64_t)got != r->s.bytes || strcmp(hex, r->s.sha256) != 0)
		snprintf(r->reason, REASON_MAX, "its sha256 is not the plan's");
	else
		r->valid = true;
	close(fd);
}

/* Is NAME (a directory entry) a segment file of P's, finished or not?
 * Exactly the names fb_plan_segment_name writes: nothing else is ours. */
static bool segment_like(const char *name, const struct fb_plan *p, bool *part, uint64_t *first)
{
	uint64_t end;

	return fb_plan_segment_parse(name, p->ext, first, &end, part);
}

/* The record for a finished segment's NAME, or NULL: RS is by first. */
static struct rec *recorded(struct recs *rs, const struct fb_plan *p, const char *name,
			    uint64_t first)
{
	char want[64];
	size_t lo = 0, hi = rs->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (rs->v[mid].s.first < first)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == rs->n || rs->v[lo].s.first != first)
		return NULL;
	fb_plan_segment_name(want, sizeof(want), first, rs->v[lo].s.end, p->ext, false);
	return strcmp(want, name) == 0 ? &rs->v[lo] : NULL;
}

/* A resume's repair: remove every file that is not a finished segment
 * (a recorded one that failed its check, one the plan does not record,
 * a .part one), one line each; and say which recorded ones are missing. */
static void repair(int dir_fd, const struct fb_plan *p, struct recs *rs, const char *prog)
{
	DIR *d = fb_plan_list(dir_fd);
	struct dirent *de;

	for (size_t i = 0; i < rs->n; i++)
		if (!rs->v[i].valid && strcmp(rs->v[i].reason, "missing") == 0)
			fb_warn(prog, "segment %" PRIu64 ":%" PRIu64 " is missing: rendered again",
				rs->v[i].s.first, rs->v[i].s.end);
	if (!d) {
		fb_warn(prog, "cannot list the work directory: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d))) {
		const char *why = "not recorded in the plan";
		uint64_t first = 0;
		bool part;
		struct rec *r;

		if (!segment_like(de->d_name, p, &part, &first) || de->d_type == DT_DIR)
			continue;
		r = part ? NULL : recorded(rs, p, de->d_name, first);
		if (r && r->valid)
			continue;
		if (part)
			why = "unfinished when the render stopped";
		else if (r)
			why = r->reason;
		if (unlinkat(dir_fd, de->d_name, 0) < 0)
			fb_warn(prog, "cannot remove %s (%s): %s", de->d_name, why, strerror(errno));
		else
			fb_warn(prog, "removed %s: %s; its frames are rendered again", de->d_name, why);
	}
	closedir(d);
}

/* RS sorted, one record per first frame (the last line's), each file
 * checked; P's segments: the valid ones, and their contiguous prefix. */
static int settle(int dir_fd, struct fb_plan *p, struct recs *rs)
{
	size_t n = 0;

	if (rs->n) /* no segment yet: rs->v is NULL, which qsort may not take */
		qsort(rs->v, rs->n, sizeof(*rs->v), by_first);
	for (size_t i = 0; i < rs->n; i++) {
		if (n && rs->v[n - 1].s.first == rs->v[i].s.first)
			n--; /* a later line for the same segment replaces it */
		rs->v[n++] = rs->v[i];
	}
	rs->n = p->recorded = n;
	p->segs = calloc(n ? n : 1, sizeof(*p->segs));
	if (!p->segs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		check_file(dir_fd, p, &rs->v[i]);
		if (!rs->v[i].valid)
			continue;
		if (p->nsegs == p->prefix && rs->v[i].s.first == p->start) {
			p->prefix++;
			p->start = rs->v[i].s.end;
		}
		p->segs[p->nsegs++] = rs->v[i].s;
	}
	return 0;
}

int fb_plan_load(int dir_fd, const char *render, bool fix, const char *prog,
		 struct fb_plan *p, char *why, size_t why_len)
{
	struct recs rs = { 0 };
	char *text = NULL;
	size_t len = 0, whole = 0;
	int e;

	memset(p, 0, sizeof(*p));
	e = read_plan(dir_fd, &text, &len, why, why_len);
	if (!e)
		e = parse(text, len, &whole, render, p, &rs, why, why_len);
	free(text);
	if (!e && settle(dir_fd, p, &rs))
		e = FAIL(ENOMEM, "checking the segments: %s", strerror(ENOMEM));
	if (!e && fix)
		repair(dir_fd, p, &rs, prog);
	if (!e && fix && whole < len)
		cut_torn(dir_fd, whole, prog);
	free(rs.v);
	if (e)
		fb_plan_free(p);
	return e;
}

void fb_plan_free(struct fb_plan *p)
{
	free(p->segs);
	p->segs = NULL;
	p->nsegs = p->prefix = 0;
}
