/*
 * workdir — fb-render's side of a segmented render's work directory
 * (workdir.h): the segment length, the render line a resume must match,
 * the directory's refusals before anything exists, its making, a resume's
 * start, and its end.
 */
#include "workdir.h"
#include "fb_args.h"
#include "fb_pixfmt.h"
#include "fb_sha256.h"
#include "fb_util.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "fb-render"
#define refuse(...) (fb_err(PROG, __VA_ARGS__), FB_EXIT_USAGE)
#define DEFAULT_SEGMENT_S 10 /* the default segment: 10 s of video ... */
#define DEFAULT_MIN_S 60     /* ... for a render of at least 60 s */

/* Frames in S seconds at NUM/DEN fps, rounded up. */
static uint64_t secs_to_frames(uint64_t s, uint32_t num, uint32_t den)
{
	return (s * num + den - 1) / den;
}

/* Why O's output cannot be joined from segments, or NULL. */
static const char *unjoinable(const struct render_opts *o, char ext[FB_PLAN_EXT_MAX + 1])
{
	if (o->sink.raw)
		return "--sink raw (fb-stitch joins ffmpeg's files)";
	if (strcmp(o->sink.output, "-") == 0)
		return "-o - (the join writes a file)";
	if (o->sink.audio)
		return "--audio (give the audio to fb-stitch)";
	if (!fb_plan_ext(o->sink.output, ext))
		return "an -o without an extension such as .mp4 (the segments' container)";
	/* The containers that keep a segment's chunk tag (fb-stitch checks
	 * it; fb-farm's CONTAINERS), and no -f of the user's choosing
	 * another muxer than the extension says. */
	if (strcasecmp(ext, "mp4") && strcasecmp(ext, "mov") && strcasecmp(ext, "m4v") &&
	    strcasecmp(ext, "mkv") && strcasecmp(ext, "webm"))
		return "this -o container (segments are mp4, mov, m4v, mkv or webm)";
	for (int i = 0; i < o->n_ff_opts; i++)
		if (strcmp(o->ff_opts[i], "-f") == 0)
			return "-f among the ffmpeg options (the container is -o's extension)";
	return NULL;
}

/* W->seg_frames: --segment, or the default; 0: not segmented. */
static int segment_length(struct workdir *w, const struct render_opts *o, const struct fb_geom *g)
{
	const char *why = unjoinable(o, w->ext);

	/* A --range A:B chunk writes the segments of A:B, and joins them into
	 * the chunk (fb-stitch --chunk): what fb-farm's chunks do. */
	w->chunk = g->chunk;
	w->first = g->chunk ? g->first_frame : 0;
	w->end = w->first + g->total_frames;
	w->frames = g->chunk ? g->render_frames : g->total_frames;
	if (!o->segment) { /* the default: on for a long render that can be joined */
		bool longish = g->total_frames * g->fps_den >= (uint64_t)DEFAULT_MIN_S * g->fps_num;

		w->seg_frames = !why && longish
					? secs_to_frames(DEFAULT_SEGMENT_S, g->fps_num, g->fps_den)
					: 0;
	} else if (o->seg_count && why) {
		return refuse("--segment %s: the segments cannot be joined with %s", o->segment, why);
	} else {
		w->seg_frames = o->segment_secs ? secs_to_frames(o->seg_count, g->fps_num, g->fps_den)
						: o->seg_count;
	}
	if (!w->seg_frames && (o->resume || o->work_dir))
		return refuse("%s needs a segmented render (--segment; %s)",
			      o->resume ? "--resume" : "--work-dir",
			      o->segment ? "it is 0" : why ? why : "the render is under 60 s");
	return 0;
}

/* The render line: what a resume must match, every value one token. */
static void render_line(struct workdir *w, const struct render_opts *o, const struct fb_geom *g)
{
	char src[FB_SHA256_HEX], ff[FB_SHA256_HEX] = "default", range[48] = "";
	struct fb_sha256 s;

	fb_sha256_buf(o->source, strlen(o->source), src);
	if (o->ff_opts) {
		fb_sha256_init(&s);
		for (int i = 0; i < o->n_ff_opts; i++) /* NUL-joined */
			fb_sha256_update(&s, o->ff_opts[i], strlen(o->ff_opts[i]) + (i + 1 < o->n_ff_opts));
		fb_sha256_hex(&s, ff);
	}
	if (g->chunk)
		snprintf(range, sizeof(range), " range=%" PRIu64 ":%" PRIu64, w->first, w->end);
	snprintf(w->render, sizeof(w->render),
		 "render size=%ux%u pix_fmt=%s fps=%u/%u frames=%" PRIu64 "%s segment=%" PRIu64
		 " format=%s sink=ffmpeg ext=%s source=%s ffmpeg=%s",
		 g->width, g->height, fb_pixfmt_name(g->pix_fmt), g->fps_num, g->fps_den, w->frames,
		 range, w->seg_frames, fb_frame_format_name(g->frame_format), w->ext, src, ff);
}

/* PATH resolved (FOLLOW), or as it would be made: its directory resolved
 * (symlinks, ..), the last component as given; false if the directory does
 * not resolve. */
static bool canonical(const char *path, bool follow, char out[PATH_MAX])
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
	int w;

	if (follow && realpath(path, out))
		return true;
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir))
		return false;
	memcpy(base, dir, sizeof(base));
	if (!realpath(dirname(dir), real))
		return false;
	w = snprintf(out, PATH_MAX, "%s/%s", strcmp(real, "/") ? real : "", basename(base));
	return w > 0 && w < PATH_MAX;
}

/* -o is the work directory or inside it: the join would write it among
 * the segments (or fail on a directory), after the whole render. */
static int output_inside(const struct workdir *w, const char *output)
{
	char wd[PATH_MAX], out[PATH_MAX];
	size_t n;

	/* The work directory's own name is not followed: a symbolic link
	 * there is refused as such when it is opened. */
	if (!canonical(w->path, false, wd) || !canonical(output, true, out))
		return 0; /* -o's directory was checked by the preflight */
	n = strlen(wd);
	if (strcmp(out, wd) == 0)
		return refuse("refusing -o %s: it is the work directory %s", output, w->path);
	if (strncmp(out, wd, n) == 0 && (out[n] == '/' || n == 1))
		return refuse("refusing -o %s: it is inside the work directory %s (give another "
			      "--work-dir)", output, w->path);
	return 0;
}

/* The directory exists: may this render use it, and from which frame? */
static int existing(struct workdir *w, const struct render_opts *o, bool dry)
{
	char why[512];
	struct fb_plan p;
	int e = fb_plan_exists(w->fd);

	if (e < 0)
		return refuse("work directory %s: %s", w->path, strerror(-e));
	if (e && !o->resume)
		return refuse("work directory %s holds the plan of an earlier render: add --resume "
			      "or remove it", w->path);
	if (!e) {
		e = fb_plan_dir_empty(w->fd);
		if (e <= 0)
			return e < 0 ? refuse("work directory %s: %s", w->path, strerror(-e))
				     : refuse("work directory %s holds files but no plan: give an "
					      "empty or new directory", w->path);
		if (!dry && fb_plan_write(w->fd, w->render, why, sizeof(why)))
			return fb_err(PROG, "work directory %s: %s", w->path, why), FB_EXIT_RUNTIME;
		return 0;
	}
	e = fb_plan_load(w->fd, w->render, !dry, PROG, &p, why, sizeof(why));
	if (e)
		return fb_err(PROG, "cannot resume from %s: %s", w->path, why),
		       e == -ENOMEM ? FB_EXIT_RUNTIME : FB_EXIT_USAGE;
	w->start = p.start;
	if (p.start < w->end)
		fb_info(PROG, "resuming: %zu of %" PRIu64 " segments kept in %s, frames %" PRIu64
			"..%" PRIu64 " to render", p.prefix, workdir_segments(w), w->path, p.start,
			w->end - 1);
	else
		fb_info(PROG, "resuming: all %zu segments are in %s: joining them", p.prefix, w->path);
	fb_plan_free(&p);
	return 0;
}

int workdir_prepare(struct workdir *w, struct render_opts *o, const struct fb_geom *g, bool dry)
{
	char why[512];
	struct stat st;
	bool made;
	int code, w_;

	memset(w, 0, sizeof(*w));
	w->fd = -1;
	code = segment_length(w, o, g);
	if (code || !w->seg_frames)
		return code;
	w_ = o->work_dir ? snprintf(w->path, sizeof(w->path), "%s", o->work_dir)
			 : snprintf(w->path, sizeof(w->path), "%s.fbsegments", o->sink.output);
	if (w_ < 0 || (size_t)w_ >= sizeof(w->path))
		return refuse("the work directory's name is too long");
	render_line(w, o, g);
	code = output_inside(w, o->sink.output);
	if (code)
		return code;
	if (dry && lstat(w->path, &st) < 0 && errno == ENOENT)
		return 0; /* it would be made */
	w->fd = fb_plan_dir_open(w->path, !dry, &made, why, sizeof(why));
	if (w->fd < 0)
		return refuse("%s", why);
	/* One render per directory: held until workdir_end (a second one
	 * would remove the first's .part files and write the same names). */
	if (flock(w->fd, LOCK_EX | LOCK_NB) < 0)
		code = errno == EWOULDBLOCK ? refuse("work directory %s is in use by another render",
						     w->path)
					    : refuse("work directory %s: lock: %s", w->path,
						     strerror(errno));
	else
		code = existing(w, o, dry);
	if (code || dry) {
		close(w->fd);
		w->fd = -1;
		if (code && made)
			rmdir(w->path);
		return code;
	}
	o->seg_frames = w->seg_frames;
	o->seg_dir = w->path;
	if (w->start > w->first && w->start < w->end) {
		o->params.range_first = w->start;
		o->params.range_end = w->end;
	}
	return 0;
}

int workdir_plan_check(const char *dir)
{
	char why[512];
	struct fb_plan p;
	bool made;
	int fd = fb_plan_dir_open(dir, false, &made, why, sizeof(why)), e;

	if (fd < 0)
		return refuse("%s", why);
	e = fb_plan_load(fd, NULL, false, PROG, &p, why, sizeof(why));
	close(fd);
	if (e)
		return fb_err(PROG, "%s: %s", dir, why), e == -ENOMEM ? FB_EXIT_RUNTIME : FB_EXIT_USAGE;
	for (size_t i = 0; i < p.nsegs; i++)
		printf("%" PRIu64 " %" PRIu64 "\n", p.segs[i].first, p.segs[i].end);
	fb_plan_free(&p);
	return fflush(stdout) == 0 ? FB_EXIT_OK : FB_EXIT_RUNTIME;
}

uint64_t workdir_segments(const struct workdir *w)
{
	const uint64_t len = w->seg_frames, half = len / 2;
	uint64_t n = (w->end + len - 1) / len - w->first / len; /* pieces of the grid */
	uint64_t head = len - w->first % len, tail = w->end - (w->end - 1) / len * len;

	/* less the short end pieces merged into a neighbour (fb_plan_segment_end) */
	if (n > 1 && head < half)
		n--;
	if (n > 1 && tail < half)
		n--;
	return n;
}

void workdir_end(struct workdir *w, bool joined)
{
	struct fb_plan p = { 0 };
	char why[512];

	if (w->fd < 0)
		return;
	/* Joined: the join's load checked every segment just now; hashing
	 * them all again only to delete them would read the video twice. */
	if (joined) {
		if (fb_plan_remove(w->fd, w->path, w->ext, why, sizeof(why)))
			fb_warn(PROG, "kept %s: %s", w->path, why);
	} else if (fb_plan_load(w->fd, NULL, false, PROG, &p, why, sizeof(why)))
		fb_warn(PROG, "kept %s: %s", w->path, why); /* nothing vouched for: nothing removed */
	else if (p.nsegs)
		fb_warn(PROG, "%zu of %" PRIu64 " segments kept in %s; run again with --resume",
			p.nsegs, workdir_segments(w), w->path);
	else if (fb_plan_remove(w->fd, w->path, w->ext, why, sizeof(why)))
		fb_warn(PROG, "kept %s: %s", w->path, why);
	fb_plan_free(&p);
	close(w->fd);
	w->fd = -1;
}
