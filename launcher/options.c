/*
 * options — fb-render's command line (its own options; the shared ones and
 * the render parameters are fb_cli's and fb_params'): the --help text and
 * the option table.  What is checked before anything is created is
 * preflight.c's.
 */
#include "options.h"
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
		"                 [--segment N|Ns|0] [--resume] [--work-dir DIR] [--plan-check DIR]\n"
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
		"  --max-restarts N     replacements for dead producers, whole render, and (segments)\n"
		"                       ffmpeg restarts in place, counted apart (default 10)\n"
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
		"  --segment N|Ns|0  write the video as segments of N frames (Ns: N seconds)\n"
		"                  into a work directory, then join them into OUTPUT; 0: off.\n"
		"                  Default: 10s when the render is 60 s or longer, the sink\n"
		"                  ffmpeg, -o a file with an extension, no --audio, no --range\n"
		"  --resume        go on with the work directory of an interrupted render\n"
		"                  (the same arguments): its verified segments are kept\n"
		"  --work-dir DIR  the segments' directory (default OUTPUT.fbsegments)\n"
		"  --plan-check DIR  check DIR's plan and segments, change nothing: one line\n"
		"                  \"FIRST END\" per valid segment, exit 0; or exit 2\n"
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

/* --segment N (frames, >= 1), Ns (seconds, >= 1) or 0 (off). */
static int segment_option(struct render_opts *o, const char *arg)
{
	size_t n = strlen(arg);
	char num[24];

	o->segment = arg;
	o->segment_secs = n > 1 && arg[n - 1] == 's';
	if (n == 0 || n >= sizeof(num))
		return usage_error("invalid --segment '%s': expected N frames, Ns seconds or 0", arg);
	memcpy(num, arg, n + 1);
	if (o->segment_secs)
		num[n - 1] = '\0';
	if (fb_parse_u64(num, o->segment_secs ? 1 : 0, 1ull << 40, &o->seg_count))
		return usage_error("invalid --segment '%s': expected N frames, Ns seconds or 0", arg);
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
	case 'S':
		return segment_option(o, arg);
	case 'r':
		o->resume = true;
		return 0;
	case 'W':
		o->work_dir = arg;
		return 0;
	case 'Q':
		o->plan_check = arg;
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
		{ "segment", required_argument, NULL, 'S' },
		{ "resume", no_argument, NULL, 'r' },
		{ "work-dir", required_argument, NULL, 'W' },
		{ "plan-check", required_argument, NULL, 'Q' },
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
	fb_shm_default_name(o->name, sizeof(o->name), "fb-render");
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
