/*
 * options — fb-render's command line (its own options; the shared ones and
 * the render parameters are fb_cli's and fb_params') and the preflight:
 * everything that can be checked before a process or segment exists.
 */
#include "options.h"
#include "fb_fault.h"
#include "fb_output.h"
#include "fb_pixfmt.h"
#include "fb_args.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROG "fb-render"
#define MAX_WORKERS 1024

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " [--size WxH] [--pix-fmt FMT] [--fps N] [--frame-format F]\n"
		"                 [--slot-bytes N]\n"
		"                 [--frames N] [--range A:B] [--workers K] [--slots S] [--source SRC]\n"
		"                 [--sink ffmpeg|raw] [-o|--output OUTPUT] [--name SEGMENT]\n"
		"                 [--max-restarts N] [--frame-timeout SEC] [--encoder-timeout SEC]\n"
		"                 [--delay-ms MS] [--cpu-us US] [--jitter-ms J] [--sink-jitter-ms J]\n"
		"                 [--audio FILE] [--progress FILE] [--check] [--log-level L]\n"
		"                 [--help] [--version] [-- FFMPEG_OUTPUT_OPTIONS...]\n"
		"Render N frames with K producer processes through a ring of S shared-memory\n"
		"slots into ffmpeg (or a raw file), strictly in frame order.\n"
		"  --size WxH      frame size (default 1280x720)\n"
		"  --pix-fmt FMT   pixel format: rgba (default), bgra, rgb24, gray, yuv420p,\n"
		"                  rgb48le, yuv420p10le\n"
		"  --frame-format F  raw (default), or png/jpeg: each frame is one encoded\n"
		"                  image (from an exec: renderer or a library producer)\n"
		"  --slot-bytes N  png/jpeg: slot capacity (default: any PNG of the raw frame)\n"
		"  --fps N         frame rate: N, N/D or a decimal (default 30; 30000/1001, 29.97)\n"
		"  --frames N      number of frames (default 300)\n"
		"  --range A:B     render only frames A..B-1 of the N (a chunk: the source\n"
		"                  sees the frame's number in the whole render; the output\n"
		"                  is tagged for fb-stitch, which joins chunks losslessly)\n"
		"  --workers K     producer processes (default: number of CPUs)\n"
		"  --slots S       ring slots (default 8)\n"
		"  --source SRC    pattern: test card (default); fill: every byte of frame i\n"
		"                  is i mod 256; raw:PATH: frame i is bytes [i*F, (i+1)*F)\n"
		"                  of PATH, F = frame bytes; exec:CMD: each producer runs CMD\n"
		"                  (no shell; sh:CMD runs sh -c CMD), writes frame indices to\n"
		"                  its stdin as lines, reads each frame from its stdout;\n"
		"                  attach:CMD (attach:sh:CMD): each producer is CMD itself,\n"
		"                  a program linked with libframebroker that calls\n"
		"                  fb_attach(NULL, ...) (FB_SEGMENT, FB_FD); exit 4 or a\n"
		"                  death: its frame is reissued and it is replaced\n"
		"  --sink SINK     ffmpeg (default) or raw: write the ordered raw frames\n"
		"  -o OUTPUT, --output OUTPUT   output file, '-' for stdout (default out.mp4)\n"
		"  --name SEGMENT  shm segment name (default /fb-render-PID-RANDOM)\n"
		"  --max-restarts N     replacements for dead producers, whole render (default 10)\n"
		"  --frame-timeout SEC  kill a producer holding a frame longer; reissue it (default 60)\n"
		"  --encoder-timeout SEC fail if ffmpeg reads nothing for this long (default 600)\n"
		"  --delay-ms MS   producers sleep MS per frame, emulating a slow renderer (default 0)\n"
		"  --cpu-us US     producers burn US µs of CPU per frame, a fixed render cost (default 0)\n"
		"  --jitter-ms J, --sink-jitter-ms J   stress testing: producers / the encoder\n"
		"                  sleep a random 0..J ms more per frame (default 0)\n"
		"  --progress FILE, -progress FILE   write key=value progress blocks to FILE\n"
		"                  ('-': stdout) twice a second, like ffmpeg's -progress; a\n"
		"                  progress line goes to stderr anyway when it is a terminal\n"
		"  --audio FILE    mux FILE's audio in; it is padded with silence or cut to\n"
		"                  the video's length (ffmpeg apad + -shortest)\n"
		"  --check         check every option as a render would, start nothing: exit 0,\n"
		"                  or the render's exit code (fb-farm checks its plan this way)\n"
		"  --log-level L   quiet, error, warning, info (default) or debug; children follow;\n"
		"                  below info: no status line and no closing \"wrote\" line\n"
		"  --version       print the version; --help: this text\n"
		"  -- OPTS...      ffmpeg output options, replacing the default\n"
		"                  -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p\n"
		"On success one line on stderr says what was written: \"fb-render: wrote\n"
		"OUTPUT: N frames, WxH, SIZE in T s (F fps)\".\n"
		"Exit: 0 output complete; 1 runtime failure (one-line cause); 2 usage error\n"
		"or refusal (nothing created); 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP,\n"
		"128+N by any other signal N that would end it (SIGQUIT 131, ...): the same\n"
		"stop and cleanup (the output so far is finished and playable).\n");
}

/*
 * --source SPEC into O->src.  attach:CMD and attach:sh:CMD are fb-render's
 * own: the producers are CMD itself, not fb-producer, and CMD is split (or
 * given to sh -c) exactly as exec:CMD and sh:CMD are.  0 or -errno.
 */
static int parse_source(const char *spec, struct render_opts *o)
{
	char buf[sizeof(o->src.words) + 8];
	int w;

	o->attach = strncmp(spec, "attach:", 7) == 0;
	if (!o->attach)
		return fb_source_parse(spec, &o->src);
	spec += 7;
	w = strncmp(spec, "sh:", 3) == 0 ? snprintf(buf, sizeof(buf), "%s", spec)
					 : snprintf(buf, sizeof(buf), "exec:%s", spec);
	if (w < 0 || (size_t)w >= sizeof(buf))
		return -E2BIG;
	return fb_source_parse(buf, &o->src);
}

/* Print a one-line usage error and evaluate to -1. */
#define usage_error(...) (fb_err(PROG, __VA_ARGS__), -1)

/* ARG of an option whose value is a number in [MIN, MAX], or -1 (printed,
 * in fb-render's words: RANGE says what is expected). */
static int number(const char *opt, const char *arg, uint64_t min, uint64_t max,
		  const char *range, uint32_t *out)
{
	uint64_t v;

	if (fb_parse_u64(arg, min, max, &v))
		return usage_error("invalid --%s '%s': expected %s", opt, arg, range);
	*out = (uint32_t)v;
	return 0;
}

/* One of fb-render's own options (the shared ones are fb_cli's). */
static int own_option(struct render_opts *o, int c, const char *arg)
{
	switch (c) {
	case 'w':
		return number("workers", arg, 1, MAX_WORKERS, "an integer 1..1024", &o->workers);
	case 's':
		if (parse_source(arg, o))
			return usage_error("invalid --source '%s': expected pattern, fill, raw:PATH, "
					   "exec:COMMAND, sh:COMMAND, attach:COMMAND or "
					   "attach:sh:COMMAND", arg);
		o->source = arg;
		return 0;
	case 'R':
		return number("max-restarts", arg, 0, 1000000, "an integer 0..1000000",
			      &o->max_restarts);
	case 'T':
		return number("frame-timeout", arg, 1, 86400, "seconds 1..86400", &o->frame_timeout_s);
	case 'D':
		return number("delay-ms", arg, 0, 3600 * 1000, "0..3600000", &o->delay_ms);
	case 'J':
		return number("jitter-ms", arg, 0, 3600 * 1000, "0..3600000", &o->jitter_ms);
	case 'K':
		return number("sink-jitter-ms", arg, 0, 3600 * 1000, "0..3600000", &o->sink_jitter_ms);
	case 'U':
		return number("cpu-us", arg, 0, 3600000000ull, "0..3600000000", &o->cpu_us);
	case 'P':
		o->progress = arg;
		return 0;
	default: /* 'C' */
		o->check_only = true;
		return 0;
	}
}

int options_parse(int argc, char **argv, struct render_opts *o)
{
	static const struct option own[] = {
		{ "workers", required_argument, NULL, 'w' },
		{ "source", required_argument, NULL, 's' },
		{ "max-restarts", required_argument, NULL, 'R' },
		{ "frame-timeout", required_argument, NULL, 'T' },
		{ "delay-ms", required_argument, NULL, 'D' },
		{ "jitter-ms", required_argument, NULL, 'J' },
		{ "sink-jitter-ms", required_argument, NULL, 'K' },
		{ "cpu-us", required_argument, NULL, 'U' },
		{ "progress", required_argument, NULL, 'P' },
		{ "check", no_argument, NULL, 'C' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_cli cli = { .prog = PROG, .usage = usage, .shortopts = "+o:", .own = own,
			      .groups = FB_OPTS_NAME | FB_OPTS_PARAMS | FB_OPTS_SINK, .name = o->name,
			      .params = &o->params, .sink = &o->sink };
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int c;

	memset(o, 0, sizeof(*o));
	fb_params_default(&o->params);
	/* ffmpeg spells it -progress; take that spelling too. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-progress") == 0)
			argv[i] = "--progress";
	o->workers = cpus > 0 ? (uint32_t)cpus : 1;
	o->source = "pattern";
	o->max_restarts = 10;
	o->frame_timeout_s = 60;
	/* Unique across pid namespaces that share /dev/shm (every container's
	 * first process is pid 1): the pid, and random bits. */
	fb_seg_default_name(o->name, sizeof(o->name), "fb-render");
	while ((c = fb_cli_next(&cli, argc, argv)) > 0)
		if (own_option(o, c, cli.arg))
			return -1;
	if (c < 0 || fb_cli_end(&cli, argc, argv, &o->ff_opts, &o->n_ff_opts))
		return -1;
	if (o->ff_opts && o->sink.raw)
		return usage_error("ffmpeg options after -- make no sense with --sink %s", "raw");
	if (o->n_ff_opts > 64)
		return usage_error("more than %s ffmpeg output options", "64");
	return 0;
}

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

int options_preflight(const struct render_opts *o, const struct fb_geom *g)
{
	static struct fb_output_inputs in; /* 20 KiB: not on the stack */
	char buf[FB_NAME_MAX + PATH_MAX + 256];
	const char *why;
	struct rlimit rl;
	struct stat st;

	if (o->progress && strcmp(o->progress, "-") == 0 && strcmp(o->sink.output, "-") == 0) {
		fb_err(PROG, "--progress - and -o - would share stdout");
		return FB_EXIT_USAGE;
	}
	if (o->sink.audio && o->sink.raw) {
		fb_err(PROG, "--audio needs the ffmpeg sink, not --sink raw");
		return FB_EXIT_USAGE;
	}
	if (o->sink.audio && g->chunk) {
		fb_err(PROG, "--audio cannot be split into --range chunks: give it to fb-stitch");
		return FB_EXIT_USAGE;
	}
	if (o->sink.audio && (stat(o->sink.audio, &st) < 0 || access(o->sink.audio, R_OK) < 0)) {
		fb_err(PROG, "cannot read audio file %s: %s", o->sink.audio, strerror(errno));
		return FB_EXIT_USAGE;
	}
	if (o->sink.audio && !S_ISREG(st.st_mode)) {
		/* A directory fails in ffmpeg after everything started; a FIFO
		 * or device would block it.  An audio track is a file. */
		fb_err(PROG, "audio file %s is %s, not a regular file", o->sink.audio,
		       fb_file_kind(st.st_mode));
		return FB_EXIT_USAGE;
	}
	if (g->frame_format != FB_FRAME_RAW && o->src.kind != FB_SOURCE_EXEC) {
		fb_err(PROG, "--frame-format %s needs a renderer that encodes (--source exec:, sh: or attach:)",
		       fb_frame_format_name(g->frame_format));
		return FB_EXIT_USAGE;
	}
	if (o->src.kind == FB_SOURCE_EXEC && !runnable(o->src.argv[0])) {
		fb_err(PROG, "%s command '%s' not found%s", o->attach ? "producer" : "renderer",
		       o->src.argv[0], strchr(o->src.argv[0], '/') ? " or not executable" : " on PATH");
		return FB_EXIT_USAGE;
	}
	if (o->src.kind == FB_SOURCE_RAW) {
		const char *path = o->src.path;

		if (stat(path, &st) < 0 || access(path, R_OK) < 0) {
			fb_err(PROG, "cannot read raw source %s: %s", path, strerror(errno));
			return FB_EXIT_USAGE;
		}
		if (!S_ISREG(st.st_mode)) {
			fb_err(PROG, "raw source %s is not a regular file", path);
			return FB_EXIT_USAGE;
		}
		/* frame_bytes <= 2^36 and frames <= 2^40 can overflow: divide. */
		if ((uint64_t)st.st_size / g->frame_bytes < g->first_frame + g->total_frames) {
			fb_err(PROG, "raw source %s is too short: %llu bytes, but %llu frames of %llu bytes were asked for",
			       path, (unsigned long long)st.st_size,
			       (unsigned long long)(g->first_frame + g->total_frames),
			       (unsigned long long)g->frame_bytes);
			return FB_EXIT_RUNTIME;
		}
	}
	/* Anything at the segment's name that no broker could use: say what
	 * it is now, before a broker is started to trip over it. */
	if (fb_shm_lstat(o->name, &st) == 0 && (!S_ISREG(st.st_mode) || st.st_uid != geteuid())) {
		fb_err(PROG, "segment %s: %s; remove it or choose another --name", o->name,
		       fb_seg_refusal(o->name, S_ISREG(st.st_mode) ? -EPERM : -FB_ENOTSEG, buf,
				      sizeof(buf)));
		return FB_EXIT_USAGE;
	}
	/* -o must not destroy what the render reads, nor any segment: the
	 * renderer's or producer's program, script and files among them. */
	in.n = in.used = 0;
	if (o->src.kind == FB_SOURCE_RAW)
		fb_output_add(&in, "the raw: source", o->src.path);
	if (o->sink.audio)
		fb_output_add(&in, "the --audio file", o->sink.audio);
	if (o->src.kind == FB_SOURCE_EXEC)
		fb_output_add_command(&in, o->attach ? "producer" : "renderer", o->src.argv,
				      strcmp(o->src.argv[0], "sh") == 0 && o->src.argv[1] &&
					      strcmp(o->src.argv[1], "-c") == 0);
	if (!o->sink.raw && fb_output_names_fd(o->sink.output)) {
		fb_err(PROG, "refusing -o %s: " FB_OUTPUT_FD_REFUSAL, o->sink.output);
		return FB_EXIT_USAGE;
	}
	if (!o->sink.raw && fb_output_forges_stats(o->sink.output)) {
		fb_reason_copy(buf, sizeof(buf), o->sink.output, strlen(o->sink.output));
		fb_err(PROG, "refusing -o %s: " FB_OUTPUT_FORGES_REFUSAL, buf);
		return FB_EXIT_USAGE;
	}
	if (fb_output_check(o->sink.output, in.in, in.n, o->name, buf, sizeof(buf))) {
		fb_err(PROG, "refusing -o %s: %s", o->sink.output, buf);
		return FB_EXIT_USAGE;
	}
	/* --progress is an output too: it must not destroy an input, a
	 * segment, or the video itself (the same file, or both stdout). */
	if (o->progress) {
		const char *prog_path = strcmp(o->progress, "-") == 0 ? "-" : o->progress;

		fb_output_add(&in, "the -o output",
			      strcmp(o->sink.output, "-") == 0 ? "/dev/stdout" : o->sink.output);
		if (fb_output_check(prog_path, in.in, in.n, o->name, buf, sizeof(buf)) ||
		    same_target(prog_path, o->sink.output, buf, sizeof(buf))) {
			fb_err(PROG, "refusing --progress %s: %s", o->progress, buf);
			return FB_EXIT_USAGE;
		}
	}
	why = output_unwritable(o->sink.output);
	if (why) {
		fb_err(PROG, "cannot write output %s: %s", o->sink.output, why);
		return FB_EXIT_USAGE;
	}
	/* The broker holds a pidfd per worker (it raises its soft limit to
	 * the hard one): refuse a worker count it could not watch. */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
	    rl.rlim_max < (rlim_t)o->workers + 32) {
		fb_err(PROG, "--workers %u needs about %u descriptors in fb-broker; the hard limit is %llu (ulimit -Hn)",
		       o->workers, o->workers + 32, (unsigned long long)rl.rlim_max);
		return FB_EXIT_USAGE;
	}
	if (fb_fault_from_env(0, NULL, buf, sizeof(buf))) {
		fb_err(PROG, "%s", buf);
		return FB_EXIT_USAGE;
	}
	if (!o->sink.raw && !runnable("ffmpeg")) {
		fb_err(PROG, "ffmpeg not found on PATH (install Debian's ffmpeg package)");
		return FB_EXIT_RUNTIME;
	}
	return 0;
}

