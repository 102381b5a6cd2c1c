/* preflight — fb-render's checks before anything is created (preflight.h). */
#include "preflight.h"
#include "fb_args.h"
#include "fb_fault.h"
#include "fb_output.h"
#include "fb_pixfmt.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "fb-render"

/* Say a refusal (exit 2) and evaluate to FB_EXIT_USAGE. */
#define refuse(...) (fb_err(PROG, __VA_ARGS__), FB_EXIT_USAGE)

/* Can OUTPUT be written (without creating it now)?  NULL, or why not. */
static const char *output_unwritable(const char *output)
{
	char dir[PATH_MAX];
	struct stat st;

	if (strcmp(output, "-") == 0)
		return NULL;
	if (stat(output, &st) == 0) {
		if (S_ISDIR(st.st_mode))
			return "is a directory";
		return access(output, W_OK) == 0 ? NULL : strerror(errno);
	}
	if (strlen(output) >= sizeof(dir))
		return "path too long";
	strcpy(dir, output);
	return access(dirname(dir), W_OK | X_OK) == 0 ? NULL : strerror(errno);
}

/* Can execvp run CMD: an executable path, or a name found on PATH? */
static bool runnable(const char *cmd)
{
	char found[PATH_MAX];

	return fb_output_which(cmd, found, sizeof(found));
}

/* Where PATH is or would be created ("-": stdout), as a canonical path:
 * the directory resolved, the last component as given.  False if the
 * directory does not resolve. */
static bool target_path(const char *path, char *out, size_t len)
{
	char dir[PATH_MAX], base[PATH_MAX], real[PATH_MAX];
	int w;

	if (strcmp(path, "-") == 0)
		path = "/proc/self/fd/1";
	if (realpath(path, real)) {
		snprintf(out, len, "%s", real);
		return true;
	}
	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	if (!realpath(dirname(dir), real))
		return false;
	w = snprintf(out, len, "%s/%s", real, basename(base));
	return w >= 0 && (size_t)w < len;
}

/* Would outputs A and B land in the same file?  By inode where both
 * exist, else by canonical path (neither exists yet).  -1 with WHY. */
static int same_target(const char *a, const char *b, char *why, size_t len)
{
	char pa[PATH_MAX], pb[PATH_MAX];
	struct stat sa, sb;
	bool ea = strcmp(a, "-") == 0 ? fstat(STDOUT_FILENO, &sa) == 0 : stat(a, &sa) == 0;
	bool eb = strcmp(b, "-") == 0 ? fstat(STDOUT_FILENO, &sb) == 0 : stat(b, &sb) == 0;

	if (ea && eb ? sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino
		     : target_path(a, pa, sizeof(pa)) && target_path(b, pb, sizeof(pb)) &&
			       strcmp(pa, pb) == 0) {
		snprintf(why, len, "it is the -o output %s (the same file)", b);
		return -1;
	}
	return 0;
}

/* Options that cannot go together, and the audio file. */
static int check_options(const struct render_opts *o, const struct fb_geom *g)
{
	struct stat st;

	if (o->progress && strcmp(o->progress, "-") == 0 && strcmp(o->sink.output, "-") == 0)
		return refuse("--progress - and -o - would share stdout");
	if (o->sink.audio && o->sink.raw)
		return refuse("--audio needs the ffmpeg sink, not --sink raw");
	if (o->sink.audio && g->chunk)
		return refuse("--audio cannot be split into --range chunks: give it to fb-stitch");
	if (o->sink.audio && (stat(o->sink.audio, &st) < 0 || access(o->sink.audio, R_OK) < 0))
		return refuse("cannot read audio file %s: %s", o->sink.audio, strerror(errno));
	/* A directory fails in ffmpeg after everything started; a FIFO or
	 * device would block it.  An audio track is a file. */
	if (o->sink.audio && !S_ISREG(st.st_mode))
		return refuse("audio file %s is %s, not a regular file", o->sink.audio,
			      fb_file_kind(st.st_mode));
	if (g->frame_format != FB_FRAME_RAW && o->src.kind != FB_SOURCE_EXEC)
		return refuse("--frame-format %s needs a renderer that encodes (--source exec:, sh: or attach:)",
			      fb_frame_format_name(g->frame_format));
	return 0;
}

/* The source: a command that runs, a raw file long enough. */
static int check_source(const struct render_opts *o, const struct fb_geom *g)
{
	const char *path = o->src.path;
	struct stat st;

	if (o->src.kind == FB_SOURCE_EXEC && !runnable(o->src.argv[0]))
		return refuse("%s command '%s' not found%s", o->attach ? "producer" : "renderer",
			      o->src.argv[0],
			      strchr(o->src.argv[0], '/') ? " or not executable" : " on PATH");
	if (o->src.kind != FB_SOURCE_RAW)
		return 0;
	if (stat(path, &st) < 0 || access(path, R_OK) < 0)
		return refuse("cannot read raw source %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))
		return refuse("raw source %s is not a regular file", path);
	/* frame_bytes <= 2^36 and frames <= 2^40 can overflow: divide. */
	if ((uint64_t)st.st_size / g->frame_bytes < g->first_frame + g->total_frames) {
		fb_err(PROG, "raw source %s is too short: %llu bytes, but %llu frames of %llu bytes were asked for",
		       path, (unsigned long long)st.st_size,
		       (unsigned long long)(g->first_frame + g->total_frames),
		       (unsigned long long)g->frame_bytes);
		return FB_EXIT_RUNTIME;
	}
	return 0;
}

/* Anything at the segment's name that no broker could use: say what it is
 * now, before a broker is started to trip over it. */
static int check_segment_name(const struct render_opts *o)
{
	char buf[FB_NAME_MAX + PATH_MAX + 256];
	struct stat st;

	if (fb_shm_lstat(o->name, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid()))
		return refuse("segment %s: %s; remove it or choose another --name", o->name,
			      fb_shm_refusal(o->name, S_ISREG(st.st_mode) ? -EPERM : -FB_ENOTSEG, buf,
					     sizeof(buf)));
	return 0;
}

/* -o must not destroy what the render reads, nor any segment: the
 * renderer's or producer's program, script and files among them.  And
 * --progress is an output too: it must not destroy an input, a segment, or
 * the video itself (the same file, or both stdout). */
static int check_outputs_in(const struct render_opts *o, struct fb_output_inputs *l)
{
	char buf[FB_NAME_MAX + PATH_MAX + 256];

	if (o->src.kind == FB_SOURCE_RAW)
		fb_output_add(l, "the raw: source", o->src.path);
	if (o->sink.audio)
		fb_output_add(l, "the --audio file", o->sink.audio);
	if (o->src.kind == FB_SOURCE_EXEC)
		fb_output_add_command(l, o->attach ? "producer" : "renderer", o->src.argv,
				      strcmp(o->src.argv[0], "sh") == 0 && o->src.argv[1] &&
					      strcmp(o->src.argv[1], "-c") == 0);
	if (!o->sink.raw && fb_output_names_fd(o->sink.output))
		return refuse("refusing -o %s: " FB_OUTPUT_FD_REFUSAL, o->sink.output);
	if (!o->sink.raw && fb_output_forges_stats(o->sink.output)) {
		fb_reason_copy(buf, sizeof(buf), o->sink.output, strlen(o->sink.output));
		return refuse("refusing -o %s: " FB_OUTPUT_FORGES_REFUSAL, buf);
	}
	if (fb_output_check(o->sink.output, l->in, l->n, o->name, buf, sizeof(buf)))
		return refuse("refusing -o %s: %s", o->sink.output, buf);
	if (!o->progress)
		return 0;
	fb_output_add(l, "the -o output",
		      strcmp(o->sink.output, "-") == 0 ? "/dev/stdout" : o->sink.output);
	if (fb_output_check(o->progress, l->in, l->n, o->name, buf, sizeof(buf)) ||
	    same_target(o->progress, o->sink.output, buf, sizeof(buf)))
		return refuse("refusing --progress %s: %s", o->progress, buf);
	return 0;
}

static int check_outputs(const struct render_opts *o)
{
	/* 20 KiB: on the heap, not the stack, and no static left behind. */
	struct fb_output_inputs *l = calloc(1, sizeof(*l));
	int code;

	if (!l) {
		fb_err(PROG, "checking the outputs: %s", strerror(ENOMEM));
		return FB_EXIT_RUNTIME;
	}
	code = check_outputs_in(o, l);
	free(l);
	return code;
}

/* What the machine must allow: writing -o, enough descriptors, a valid
 * FB_FAULT, ffmpeg. */
static int check_environment(const struct render_opts *o)
{
	const char *why = output_unwritable(o->sink.output);
	char fault[512];
	struct rlimit rl;

	if (why)
		return refuse("cannot write output %s: %s", o->sink.output, why);
	/* The broker holds a pidfd per worker (it raises its soft limit to
	 * the hard one): refuse a worker count it could not watch. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < (rlim_t)o->workers + 32)
		return refuse("--workers %u needs about %u descriptors in fb-broker; the hard limit is %llu (ulimit -Hn)",
			      o->workers, o->workers + 32, (unsigned long long)rl.rlim_max);
	if (fb_fault_from_env(0, NULL, fault, sizeof(fault)))
		return refuse("%s", fault);
	if (!o->sink.raw && !runnable("ffmpeg")) {
		fb_err(PROG, "ffmpeg not found on PATH (install Debian's ffmpeg package)");
		return FB_EXIT_RUNTIME;
	}
	return 0;
}

int options_preflight(const struct render_opts *o, const struct fb_geom *g)
{
	int code = check_options(o, g);

	if (!code)
		code = check_source(o, g);
	if (!code)
		code = check_segment_name(o);
	if (!code)
		code = check_outputs(o);
	if (!code)
		code = check_environment(o);
	return code;
}
