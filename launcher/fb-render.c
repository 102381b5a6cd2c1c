/*
 * fb-render — the main job in one command.  It checks every option before
 * anything is created, then starts fb-broker, waits until the segment exists,
 * starts fb-encoder and K fb-producer processes, and supervises them until
 * the output is complete.  Every child lives in one process group and has a
 * parent-death signal; fb-render is a child subreaper, so even ffmpeg (the
 * encoder's child) is reaped here.  On every path — success, a failed child,
 * SIGINT/SIGTERM — every process is gone and the segment unlinked before
 * fb-render exits.
 */
#include "fb_fault.h"
#include "fb_output.h"
#include "fb_params.h"
#include "fb_pixfmt.h"
#include "fb_proc.h"
#include "fb_segment.h"
#include "fb_source.h"
#include "fb_stats.h"
#include "status.h"
#include "fb_util.h"
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROG "fb-render"
#define MAX_WORKERS 1024
/* After a stop begins, how long ffmpeg may take to finish the file (a slow
 * x264 preset flushes its lookahead) before the group is SIGKILLed.  A
 * second SIGINT/SIGTERM kills at once. */
#define STOP_GRACE_MS 30000
/* Once the broker, encoder and producers are gone, what is left of the
 * tree (a renderer's helpers, adopted as subreaper) gets SIGTERM and this
 * long before SIGKILL: the render's end must not wait for a helper. */
#define ORPHAN_GRACE_MS 1000
/* A broker stopped (state T) this long, while fb-render itself runs,
 * supervises nothing: the render is ended. */
#define BROKER_STOPPED_MS 3000
/* The segment exists within milliseconds (posix_fallocate of gigabytes
 * takes seconds); a broker that is alive, running and still not ready
 * after this long will not be. */
#define READY_TIMEOUT_MS 120000
/* Before ready, a stop request gives the broker this long to leave by
 * itself (it sees SIGTERM once the segment is made) before SIGKILL. */
#define READY_GRACE_MS 2000
/* attach: producers are the user's programs, not ours, so fb-render bounds
 * what fb-producer never does: one still running this long after the last
 * frame was written gets SIGTERM, then SIGKILL as long again later (an
 * exec: renderer that lingers is cut off by its fb-producer the same way). */
#define ATTACH_LINGER_MS 2000

struct render_opts {
	struct fb_params params;
	uint32_t workers;
	const char *source; /* as given; parsed into src */
	struct fb_source src;
	bool attach; /* attach:CMD: src holds CMD, a program linked with libframebroker */
	bool raw_sink;
	const char *output;
	char name[FB_NAME_MAX + 1];
	uint32_t max_restarts;
	uint32_t frame_timeout_s;
	uint32_t encoder_timeout_s;
	uint32_t delay_ms, cpu_us;
	const char *audio; /* --audio FILE, or NULL */
	const char *progress; /* --progress FILE or "-", or NULL */
	bool check_only;      /* --check: validate everything, start nothing */
	uint32_t jitter_ms, sink_jitter_ms;
	char **ff_opts;
	int n_ff_opts;
};

enum role { ROLE_NONE, ROLE_BROKER, ROLE_ENCODER, ROLE_PRODUCER };

struct child {
	pid_t pid;
	enum role role;
	bool running;
	uint64_t started_ns; /* attach: when it was started ... */
	bool attached;       /* ... and whether it has registered since */
};

struct render {
	struct render_opts o;
	char bindir[PATH_MAX];
	struct child *kids; /* [0] broker, [1] encoder, [2..] producers */
	size_t nkids;
	int seg_fd;            /* the segment, inherited by every worker */
	bool seg_known;        /* seg_dev/seg_ino: what seg_fd is (fstat) */
	uint64_t seg_dev, seg_ino;
	int sfd;               /* signalfd of the blocked signals */
	char seg_fd_arg[16];   /* its number, as "--fd" wants it */
	uint32_t restarts;
	pid_t pgid;
	bool failed;   /* a child failed: exit 1 */
	int stop_sig;  /* fb-render was asked to stop: exit 128+sig */
	bool stopping; /* shutdown started */
	uint64_t stop_deadline;
	bool encoder_ok;
	bool encoder_gone; /* the encoder exited without finishing: nothing can be emitted now */
	bool aborted; /* the broker reported the render aborted */
	bool child_spoke; /* a child exited 1 or 2: it printed the cause */
	FILE *progress; /* --progress stream, or NULL */
	struct status status;
	uint64_t bw_last_ns;    /* broker watch: last look */
	uint64_t bw_stopped_ns; /* first look that found it stopped, or 0 */
	bool bw_reported;       /* "is stopped" was said */
	struct fb_orphans orphans;
	/* --source attach:CMD: CMD's environment (ours, with FB_SEGMENT and
	 * FB_FD), and how messages name it. */
	char **attach_env;
	char env_segment[16 + FB_NAME_MAX], env_fd[24];
	char producer_label[80];
	uint64_t linger_deadline; /* attach: when lingering producers are ended, or 0 */
	bool linger_termed;       /* ... SIGTERM sent; SIGKILL at the next deadline */
	uint64_t stall_claimed, stall_emitted, stall_since_ns; /* attach: last progress */
};

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
		"or refusal (nothing created); 130/143/129 stopped by SIGINT/SIGTERM/SIGHUP\n"
		"(the output so far is finished and playable).\n");
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

static int parse_args(int argc, char **argv, struct render_opts *o)
{
	static const struct option longopts[] = {
		{ "size", required_argument, NULL, 0 },
		{ "pix-fmt", required_argument, NULL, 0 },
		{ "fps", required_argument, NULL, 0 },
		{ "frames", required_argument, NULL, 0 },
		{ "range", required_argument, NULL, 0 },
		{ "slots", required_argument, NULL, 0 },
		{ "frame-format", required_argument, NULL, 0 },
		{ "slot-bytes", required_argument, NULL, 0 },
		{ "workers", required_argument, NULL, 'w' },
		{ "source", required_argument, NULL, 's' },
		{ "sink", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "name", required_argument, NULL, 'n' },
		{ "max-restarts", required_argument, NULL, 'R' },
		{ "frame-timeout", required_argument, NULL, 'T' },
		{ "encoder-timeout", required_argument, NULL, 'E' },
		{ "delay-ms", required_argument, NULL, 'D' },
		{ "jitter-ms", required_argument, NULL, 'J' },
		{ "sink-jitter-ms", required_argument, NULL, 'K' },
		{ "cpu-us", required_argument, NULL, 'U' },
		{ "audio", required_argument, NULL, 'A' },
		{ "progress", required_argument, NULL, 'P' },
		{ "check", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ "log-level", required_argument, NULL, 'L' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	const char *last_arg = NULL;
	uint64_t v;
	int c, idx;

	memset(o, 0, sizeof(*o));
	fb_params_default(&o->params);
	/* ffmpeg spells it -progress; take that spelling too. */
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "-progress") == 0)
			argv[i] = "--progress";
	o->workers = cpus > 0 ? (uint32_t)cpus : 1;
	o->source = "pattern";
	o->output = "out.mp4";
	o->max_restarts = 10;
	o->frame_timeout_s = 60;
	o->encoder_timeout_s = 600;
	/* Unique across pid namespaces that share /dev/shm (every container's
	 * first process is pid 1): the pid, and random bits. */
	fb_seg_default_name(o->name, sizeof(o->name), "fb-render");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+o:", longopts, &idx)) != -1) {
		last_arg = optarg;
		switch (c) {
		case 0:
			if (fb_params_set(&o->params, longopts[idx].name, optarg, PROG) < 0)
				return -1;
			break;
		case 'w':
			if (fb_parse_u64(optarg, 1, MAX_WORKERS, &v))
				return usage_error("invalid --workers '%s': expected an integer 1..1024", optarg);
			o->workers = (uint32_t)v;
			break;
		case 's':
			if (parse_source(optarg, o))
				return usage_error("invalid --source '%s': expected pattern, fill, raw:PATH, "
						   "exec:COMMAND, sh:COMMAND, attach:COMMAND or "
						   "attach:sh:COMMAND", optarg);
			o->source = optarg;
			break;
		case 'k':
			if (strcmp(optarg, "raw") != 0 && strcmp(optarg, "ffmpeg") != 0)
				return usage_error("invalid --sink '%s': expected ffmpeg or raw", optarg);
			o->raw_sink = strcmp(optarg, "raw") == 0;
			break;
		case 'o':
			if (!*optarg)
				return usage_error("invalid -o '%s': empty path", optarg);
			o->output = optarg;
			break;
		case 'n':
			if (fb_seg_name_arg(PROG, "--name", optarg, o->name))
				return -1;
			break;
		case 'R':
			if (fb_parse_u64(optarg, 0, 1000000, &v))
				return usage_error("invalid --max-restarts '%s': expected an integer 0..1000000", optarg);
			o->max_restarts = (uint32_t)v;
			break;
		case 'T':
		case 'E':
			if (fb_parse_u64(optarg, 1, 86400, &v))
				return usage_error("invalid --%s '%s': expected seconds 1..86400",
						   c == 'T' ? "frame-timeout" : "encoder-timeout", optarg);
			*(c == 'T' ? &o->frame_timeout_s : &o->encoder_timeout_s) = (uint32_t)v;
			break;
		case 'D':
		case 'J':
		case 'K':
			if (fb_parse_u64(optarg, 0, 3600 * 1000, &v))
				return usage_error("invalid --%s '%s': expected 0..3600000",
						   c == 'D' ? "delay-ms" : c == 'J' ? "jitter-ms" : "sink-jitter-ms",
						   optarg);
			*(c == 'D' ? &o->delay_ms : c == 'J' ? &o->jitter_ms : &o->sink_jitter_ms) = (uint32_t)v;
			break;
		case 'A':
			o->audio = optarg;
			break;
		case 'P':
			o->progress = optarg;
			break;
		case 'C':
			o->check_only = true;
			break;
		case 'U':
			if (fb_parse_u64(optarg, 0, 3600000000ull, &v))
				return usage_error("invalid --cpu-us '%s': expected 0..3600000000", optarg);
			o->cpu_us = (uint32_t)v;
			break;
		case 'L':
			if (fb_set_log_level(PROG, optarg))
				return -1;
			break;
		case 'V':
			fb_exit_version(PROG);
		case 'h':
			usage(stdout);
			exit(FB_EXIT_OK);
		case '?':
		default:
			return usage_error("unknown option or missing value '%s' (see --help)",
					   argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (!fb_ended_at_dashdash(argv, optind, last_arg))
			return usage_error("unexpected argument '%s'", argv[optind]);
		o->ff_opts = argv + optind;
		o->n_ff_opts = argc - optind;
		if (o->raw_sink)
			return usage_error("ffmpeg options after -- make no sense with --sink %s", "raw");
		if (o->n_ff_opts > 64)
			return usage_error("more than %s ffmpeg output options", "64");
	}
	return 0;
}

/* An executable regular file: access(X_OK) alone also passes a directory
 * (searchable), which execve then refuses. */
static bool executable(const char *path)
{
	struct stat st;

	return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Is PROG an executable file in a directory of $PATH? */
static bool on_path(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", n ? (int)n : 1, n ? path : ".", prog);
		if (executable(buf))
			return true;
		path += n + (path[n] == ':');
	}
	return false;
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
	return strchr(cmd, '/') ? executable(cmd) : on_path(cmd);
}

/* Everything that can be checked before a process or segment exists.
 * Returns 0, or the exit code (message printed). */
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

static int preflight(const struct render_opts *o, const struct fb_geom *g)
{
	struct fb_output_input inputs[3];
	char buf[FB_NAME_MAX + PATH_MAX + 256];
	size_t n_in = 0;
	const char *why;
	struct rlimit rl;
	struct stat st;

	if (o->progress && strcmp(o->progress, "-") == 0 && strcmp(o->output, "-") == 0) {
		fb_err(PROG, "--progress - and -o - would share stdout");
		return FB_EXIT_USAGE;
	}
	if (o->audio && o->raw_sink) {
		fb_err(PROG, "--audio needs the ffmpeg sink, not --sink raw");
		return FB_EXIT_USAGE;
	}
	if (o->audio && g->chunk) {
		fb_err(PROG, "--audio cannot be split into --range chunks: give it to fb-stitch");
		return FB_EXIT_USAGE;
	}
	if (o->audio && (stat(o->audio, &st) < 0 || access(o->audio, R_OK) < 0)) {
		fb_err(PROG, "cannot read audio file %s: %s", o->audio, strerror(errno));
		return FB_EXIT_USAGE;
	}
	if (o->audio && !S_ISREG(st.st_mode)) {
		/* A directory fails in ffmpeg after everything started; a FIFO
		 * or device would block it.  An audio track is a file. */
		fb_err(PROG, "audio file %s is %s, not a regular file", o->audio,
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
	/* -o must not destroy what the render reads, nor any segment. */
	if (o->src.kind == FB_SOURCE_RAW)
		inputs[n_in++] = (struct fb_output_input){ "the raw: source", o->src.path };
	if (o->audio)
		inputs[n_in++] = (struct fb_output_input){ "the --audio file", o->audio };
	if (!o->raw_sink && fb_output_names_fd(o->output)) {
		fb_err(PROG, "refusing -o %s: " FB_OUTPUT_FD_REFUSAL, o->output);
		return FB_EXIT_USAGE;
	}
	if (fb_output_check(o->output, inputs, n_in, o->name, buf, sizeof(buf))) {
		fb_err(PROG, "refusing -o %s: %s", o->output, buf);
		return FB_EXIT_USAGE;
	}
	/* --progress is an output too: it must not destroy an input, a
	 * segment, or the video itself (the same file, or both stdout). */
	if (o->progress) {
		const char *prog_path = strcmp(o->progress, "-") == 0 ? "-" : o->progress;

		inputs[n_in++] = (struct fb_output_input){
			"the -o output", strcmp(o->output, "-") == 0 ? "/dev/stdout" : o->output };
		if (fb_output_check(prog_path, inputs, n_in, o->name, buf, sizeof(buf)) ||
		    same_target(prog_path, o->output, buf, sizeof(buf))) {
			fb_err(PROG, "refusing --progress %s: %s", o->progress, buf);
			return FB_EXIT_USAGE;
		}
	}
	why = output_unwritable(o->output);
	if (why) {
		fb_err(PROG, "cannot write output %s: %s", o->output, why);
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
	if (fb_fault_parse(getenv("FB_FAULT"), 0, &(struct fb_fault){ 0 })) {
		fb_err(PROG, "invalid FB_FAULT '%s': expected ROLE:STEP:FRAME (see common/fb_fault.h)",
		       getenv("FB_FAULT"));
		return FB_EXIT_USAGE;
	}
	if (!o->raw_sink && !on_path("ffmpeg")) {
		fb_err(PROG, "ffmpeg not found on PATH (install Debian's ffmpeg package)");
		return FB_EXIT_RUNTIME;
	}
	return 0;
}

static const char *role_name(const struct render *r, enum role role)
{
	switch (role) {
	case ROLE_BROKER:
		return "fb-broker";
	case ROLE_ENCODER:
		return "fb-encoder";
	case ROLE_PRODUCER:
		return r->o.attach ? r->producer_label : "fb-producer";
	default:
		return "child";
	}
}

/* Ask everything to stop: the broker aborts the segment, which wakes and
 * stops producers and encoder (the encoder closes ffmpeg's input so the file
 * written so far is finished).  Without a broker, signal the group. */
static void begin_stop(struct render *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	r->stop_deadline = fb_now_ns() + (uint64_t)STOP_GRACE_MS * 1000000ull;
	if (r->nkids > 0 && r->kids[0].running)
		kill(r->kids[0].pid, SIGTERM);
	else if (r->pgid > 0)
		killpg(r->pgid, SIGTERM);
}

static void fail(struct render *r)
{
	r->failed = true;
	begin_stop(r);
}

static int start_producer(struct render *r);

/* Ctrl-Z (SIGTSTP): the render's group is not the terminal's, so the
 * terminal stopped only fb-render.  Stop the group, then ourselves as the
 * terminal asked (the default action of SIGTSTP, so the shell sees a job
 * stopped by it); once continued, continue the group.  In an orphaned
 * process group the kernel discards the stop: the group is continued at
 * once. */
static void job_stop(struct render *r)
{
	sigset_t tstp;

	if (r->pgid > 0)
		killpg(r->pgid, SIGSTOP);
	status_break_line(&r->status);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP); /* pending: it is blocked */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL); /* delivered here: we stop */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	if (r->pgid > 0)
		killpg(r->pgid, SIGCONT);
	r->bw_stopped_ns = 0;
}

/* A signal taken from the signalfd. */
static void on_signal(struct render *r, int sig)
{
	switch (sig) {
	case SIGINT:
	case SIGTERM:
	case SIGHUP:
		if (r->stop_sig && r->pgid > 0) /* asked twice: now */
			killpg(r->pgid, SIGKILL);
		if (!r->stop_sig)
			r->stop_sig = sig;
		begin_stop(r);
		break;
	case SIGTSTP:
		job_stop(r);
		break;
	case SIGCONT: /* we were stopped by something else: so was nobody else, or
		       * the group was, and now goes on with us */
		if (r->pgid > 0)
			killpg(r->pgid, SIGCONT);
		r->bw_stopped_ns = 0;
		break;
	default: /* SIGCHLD: waitpid will tell */
		break;
	}
}

/* Wait up to TIMEOUT_MS for a signal, or for FD (if >= 0) to be readable
 * (*READABLE).  Returns the signal taken, or 0. */
static int wait_event(struct render *r, int fd, int timeout_ms, bool *readable)
{
	struct pollfd pf[2] = { { .fd = r->sfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	struct signalfd_siginfo si;

	if (readable)
		*readable = false;
	if (poll(pf, 2, timeout_ms) < 0) {
		if (errno != EINTR) {
			fb_err(PROG, "poll: %s", strerror(errno));
			usleep((useconds_t)timeout_ms * 1000); /* no busy loop */
		}
		return 0;
	}
	if (readable)
		*readable = fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR));
	if ((pf[0].revents & POLLIN) && read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}

/*
 * Does the broker still supervise?  One that stays stopped (SIGSTOP: state
 * T) watches no deaths and no deadlines, so a dead producer's frame would
 * wait for ever.  Looked at on every tick; "continuously" means on every
 * tick for BROKER_STOPPED_MS, with no gap of a second between ticks (a gap
 * means fb-render itself was stopped, e.g. with the whole job: start over).
 * A debugger's stop (state t) is left alone.  Then: one line, and the
 * render ends as after a failure (the broker is continued, so it can act
 * on the SIGTERM); stopped again while it ends, the group is SIGKILLed.
 */
static void watch_broker(struct render *r)
{
	uint64_t now = fb_now_ns();
	bool gap = now - r->bw_last_ns > 1000000000ull;
	pid_t pid = r->nkids > 0 ? r->kids[0].pid : 0;

	r->bw_last_ns = now;
	if (!pid || !r->kids[0].running || fb_proc_state(pid) != 'T') {
		r->bw_stopped_ns = 0;
		return;
	}
	if (gap || !r->bw_stopped_ns) {
		r->bw_stopped_ns = now;
		return;
	}
	if (now - r->bw_stopped_ns < BROKER_STOPPED_MS * 1000000ull)
		return;
	r->bw_stopped_ns = 0;
	if (r->bw_reported) {
		killpg(r->pgid, SIGKILL);
		return;
	}
	r->bw_reported = true;
	status_break_line(&r->status);
	fb_err(PROG, "fb-broker (pid %d) is stopped; nobody supervises the render", (int)pid);
	if (r->stopping)
		kill(pid, SIGTERM);
	fail(r);
	killpg(r->pgid, SIGCONT);
}

/* Is any process we started (broker, encoder, producer) still unreaped? */
static bool known_running(const struct render *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		if (r->kids[i].running)
			return true;
	return false;
}

/* "killed by signal 9 (Killed)" / "exited with status 1" */
static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/*
 * Could a replacement for DEAD still do anything: are frames unclaimed, or
 * held by DEAD, or up for reissue?  Read without the lock from the segment
 * (an unchanging copy is not needed: every transition that matters moves
 * toward "yes" — CLAIMED by the dead pid, then REISSUE — and both count).
 * When in doubt, yes.
 */
static bool work_remains(const struct render *r, pid_t dead)
{
	struct fb_header *h = malloc(sizeof(*h));
	bool yes = true;

	if (h && fb_pread_all(r->seg_fd, h, sizeof(*h), 0) == 0) {
		uint32_t S = h->slot_count < FB_MAX_SLOTS ? h->slot_count : FB_MAX_SLOTS;

		yes = h->next_claim < h->total_frames || h->reissue_pending > 0;
		for (uint32_t s = 0; s < S && !yes; s++)
			yes = h->slots[s].state == FB_SLOT_REISSUE ||
			      (h->slots[s].state == FB_SLOT_CLAIMED && h->slots[s].owner == dead);
	}
	free(h);
	return yes;
}

/* Put the restart count where fb-stat and the status line see it: the
 * header's counter, written through the segment descriptor (fb-render maps
 * the segment read-only). */
static void publish_restarts(struct render *r)
{
	uint32_t v = r->restarts;

	(void)!pwrite(r->seg_fd, &v, sizeof(v), (off_t)offsetof(struct fb_header, restarts));
}

/* A producer died while frames were still to come: the broker reissues
 * whatever it held; start a replacement while the restart budget lasts. */
static void producer_died(struct render *r, struct child *k, int status)
{
	char how[96];

	describe_exit(status, how, sizeof(how));
	if (!work_remains(r, k->pid)) {
		fb_warn(PROG, "%s (pid %d) %s after the last frame was taken; no replacement needed",
		       role_name(r, k->role), (int)k->pid, how);
		return;
	}
	if (r->restarts >= r->o.max_restarts) {
		fb_err(PROG, "%s (pid %d) %s; no restarts left (--max-restarts %u)",
		       role_name(r, k->role), (int)k->pid, how, r->o.max_restarts);
		fail(r);
		return;
	}
	r->restarts++;
	publish_restarts(r);
	fb_warn(PROG, "%s (pid %d) %s; starting a replacement (restart %u of %u)",
	       role_name(r, k->role), (int)k->pid, how, r->restarts, r->o.max_restarts);
	if (start_producer(r))
		fail(r);
}

/* SIGTERM every producer still running (each ends its renderer with it). */
static void end_producers(struct render *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		if (r->kids[i].role == ROLE_PRODUCER && r->kids[i].running)
			kill(r->kids[i].pid, SIGTERM);
}

/*
 * attach: a producer that is the user's program exited by itself, with
 * anything but 4 (give the frame back, replace me).  fb-producer's codes
 * are promises it keeps; a user's program may not: 0 with frames left (or
 * a program that is no producer at all: an exec: renderer given as attach:
 * reads EOF from /dev/null), 3 while the render runs, 1 or 2 without a
 * word — each would leave the render waiting for frames nobody renders, or
 * failing with no cause.  So each is judged here, and said.
 */
static void attach_exited(struct render *r, struct child *k, int status)
{
	int code = WEXITSTATUS(status);
	char cause[FB_REASON_MAX + 64];

	if (r->stopping || r->encoder_ok || r->encoder_gone)
		return;
	if (code == FB_EXIT_OK && !work_remains(r, k->pid))
		return;
	if (code == FB_EXIT_ABORTED && fb_stats_cause_fd(r->seg_fd, cause, sizeof(cause)))
		return; /* aborted indeed: whoever failed says why */
	if (code == FB_EXIT_OK)
		fb_err(PROG, "%s (pid %d) exited 0 while frames remain: a producer exits 0 only "
		       "after fb_claim() returned 0 (exit 4 asks for a replacement)",
		       role_name(r, k->role), (int)k->pid);
	else if (code == FB_EXIT_ABORTED)
		fb_err(PROG, "%s (pid %d) exited 3 (\"aborted elsewhere\") but the render was not "
		       "aborted", role_name(r, k->role), (int)k->pid);
	else
		fb_err(PROG, "%s (pid %d) exited with status %d", role_name(r, k->role),
		       (int)k->pid, code);
	r->child_spoke = true;
	fail(r);
}

/* A child's exit: decide whether the render failed.  Exit 1 and 2 mean the
 * child already printed its one-line cause; 3 means it stopped because
 * somebody else aborted the render.  Only a producer killed by a signal, or
 * one whose renderer command died (exit 4), is a crash to recover from: one
 * that exits 1 failed deliberately (it read a short raw file, say) and a
 * replacement would fail the same way. */
static void child_exited(struct render *r, struct child *k, int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	char how[96];

	k->running = false;
	if (code == FB_EXIT_RUNTIME || code == FB_EXIT_USAGE)
		r->child_spoke = true;
	if (k->role == ROLE_ENCODER && code == FB_EXIT_OK)
		r->encoder_ok = true;
	if (k->role == ROLE_ENCODER && code != FB_EXIT_OK) {
		/* Without the encoder no frame can be emitted any more, so
		 * the producers' work is lost either way: end them now rather
		 * than wait for one asleep in a 20 s frame or blocked on a hung
		 * renderer to notice the abort. */
		r->encoder_gone = true;
		end_producers(r);
	}
	if (k->role == ROLE_BROKER && code == FB_EXIT_ABORTED && !r->stopping) {
		/* The render was aborted; workers normally see it and leave.
		 * One stuck on the ring lock would not: arm the deadline that
		 * ends in a SIGKILL of the group. */
		r->stopping = true;
		r->aborted = true;
		r->stop_deadline = fb_now_ns() + (uint64_t)STOP_GRACE_MS * 1000000ull;
		return;
	}
	if (r->aborted && !r->child_spoke && k->role == ROLE_ENCODER && WIFSIGNALED(status) &&
	    r->stop_deadline != UINT64_MAX) {
		/* The broker's "aborted" was reaped first; the encoder's death
		 * (not a kill of ours) is what it aborted for: name it. */
		describe_exit(status, how, sizeof(how));
		fb_err(PROG, "%s (pid %d) %s", role_name(r, k->role), (int)k->pid, how);
		r->child_spoke = true;
		return;
	}
	if (k->role == ROLE_PRODUCER && r->o.attach && !(WIFSIGNALED(status) || code == FB_EXIT_RENDERER)) {
		attach_exited(r, k, status);
		return;
	}
	if (r->stopping || code == FB_EXIT_OK || code == FB_EXIT_ABORTED)
		return;
	/* Killed, or its renderer command died (it gave the frame back), or
	 * (attach:) the program itself gave its frame back and asks for a
	 * replacement: the same exit code. */
	if (k->role == ROLE_PRODUCER && (WIFSIGNALED(status) || code == FB_EXIT_RENDERER)) {
		if (!r->encoder_ok && !r->encoder_gone)
			producer_died(r, k, status);
		return;
	}
	/* Exit 1/2: the child printed its cause; 127: spawn printed it. */
	describe_exit(status, how, sizeof(how));
	if (code != FB_EXIT_RUNTIME && code != FB_EXIT_USAGE && code != 127)
		fb_err(PROG, "%s (pid %d) %s", role_name(r, k->role), (int)k->pid, how);
	fail(r);
}

/* Reap every exited child.  Returns false once no child of ours is left
 * (ECHILD), including orphans (ffmpeg) reparented to us as subreaper. */
static bool reap(struct render *r)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		/* One status, one child: child_exited may start a replacement
		 * that reuses this very pid. */
		for (size_t i = 0; i < r->nkids; i++) {
			if (r->kids[i].pid == pid && r->kids[i].running) {
				/* A child that failed or was killed has said (or
				 * fb-render is about to say) something: end the
				 * status line first.  Not for a clean exit, nor for
				 * an orphan: each break makes the next tick draw the
				 * line anew below, so the final line would be
				 * printed once per exiting child. */
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					status_break_line(&r->status);
				child_exited(r, &r->kids[i], status);
				break;
			}
		}
	}
	return !(pid < 0 && errno == ECHILD);
}

static int start(struct render *r, enum role role, char **argv, int keep_fd)
{
	char path[PATH_MAX + 32];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", r->bindir, argv[0]);
	/* argv[0] = the full path, so `ps`/`pgrep -f` show which build runs. */
	argv[0] = path;
	pid = fb_spawn(path, argv, r->pgid, keep_fd);
	if (pid < 0) {
		fb_err(PROG, "cannot start %s: %s", argv[0], strerror((int)-pid));
		return -1;
	}
	if (!r->pgid)
		r->pgid = pid;
	r->kids[r->nkids++] = (struct child){ .pid = pid, .role = role, .running = true };
	return 0;
}

/*
 * Wait for the broker's "ready" on FD: 0, or -1 if it will not come (the
 * broker closed the pipe, we were asked to stop, the broker stayed stopped,
 * or READY_TIMEOUT_MS passed).  Signals are taken all along: a broker
 * busy reserving gigabytes, or stopped, must not make Ctrl-C wait.
 */
static int wait_ready(struct render *r, int fd)
{
	uint64_t deadline = fb_now_ns() + READY_TIMEOUT_MS * 1000000ull;
	char buf[8];
	size_t got = 0;

	for (;;) {
		bool readable;
		int sig = wait_event(r, fd, STATUS_TICK_MS, &readable);

		if (sig)
			on_signal(r, sig);
		if (r->stopping)
			return -1;
		if (readable) {
			ssize_t n = read(fd, buf + got, sizeof(buf) - got);

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				return -1;
			got += (size_t)n;
			if (got >= 6)
				return got == 6 && memcmp(buf, "ready\n", 6) == 0 ? 0 : -1;
			continue;
		}
		watch_broker(r);
		if (r->stopping)
			return -1;
		if (fb_now_ns() >= deadline) {
			fb_err(PROG, "fb-broker (pid %d) did not have segment %s ready within %d s",
			       (int)r->kids[0].pid, r->o.name, READY_TIMEOUT_MS / 1000);
			fail(r);
			return -1;
		}
	}
}

/* Before ready: make sure the broker ends, and collect its status.  It
 * was asked to stop (SIGTERM, and SIGCONT in case it is stopped), or it is
 * leaving by itself; past READY_GRACE_MS, or at a second stop request, it
 * is SIGKILLed. */
static int end_broker(struct render *r)
{
	pid_t pid = r->kids[0].pid;
	uint64_t kill_at = fb_now_ns() + READY_GRACE_MS * 1000000ull;
	int status, sig, asked = r->stop_sig;

	kill(pid, SIGTERM); /* harmless if it is already leaving */
	kill(pid, SIGCONT);
	for (;;) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR) {
			fb_err(PROG, "waitpid: %s", strerror(errno));
			return 1 << 8; /* "exited with status 1" */
		}
		if (fb_now_ns() >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = UINT64_MAX;
		}
		sig = wait_event(r, -1, 50, NULL);
		if (sig)
			on_signal(r, sig);
		if (r->stop_sig != asked) { /* a stop request now, or a second one */
			kill(pid, SIGKILL);
			asked = r->stop_sig;
		}
	}
}

/* Without a broker, encoder or producer left: end whatever else is left of
 * the tree (a broker-to-be that forked, say) and reap it all. */
static void end_orphans(struct render *r)
{
	int status;
	pid_t got;

	for (;;) {
		while ((got = waitpid(-1, &status, WNOHANG)) > 0)
			;
		if (got < 0 && errno == ECHILD)
			break;
		fb_orphans_step(&r->orphans, fb_now_ns(), ORPHAN_GRACE_MS * 1000000ull);
		(void)wait_event(r, -1, 50, NULL); /* a stop request changes nothing now */
	}
	fb_orphans_free(&r->orphans);
}

/* Start the broker and wait until it says the segment exists.  Returns 0,
 * or the exit code to leave with (the broker printed why). */
static int start_broker(struct render *r)
{
	const struct fb_params *p = &r->o.params;
	char size[32], fps[32], frames[24], slots[16], fdbuf[16], ftmo[16], sbytes[24];
	char range[48], etmo[16];
	char *argv[26];
	int pfd[2], n = 0, status, got;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fb_err(PROG, "pipe: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	snprintf(size, sizeof(size), "%ux%u", p->width, p->height);
	fb_fps_str(fps, sizeof(fps), p->fps_num, p->fps_den); /* exact: "30000/1001" */
	snprintf(frames, sizeof(frames), "%llu", (unsigned long long)p->frames);
	snprintf(slots, sizeof(slots), "%u", p->slots);
	snprintf(fdbuf, sizeof(fdbuf), "%d", pfd[1]);
	snprintf(ftmo, sizeof(ftmo), "%u", r->o.frame_timeout_s);
	argv[n++] = "fb-broker";
	argv[n++] = "--name";
	argv[n++] = r->o.name;
	argv[n++] = "--size";
	argv[n++] = size;
	argv[n++] = "--pix-fmt";
	argv[n++] = (char *)fb_pixfmt_name(p->pix_fmt);
	argv[n++] = "--fps";
	argv[n++] = fps;
	argv[n++] = "--frames";
	argv[n++] = frames;
	if (p->range_end) {
		snprintf(range, sizeof(range), "%llu:%llu", (unsigned long long)p->range_first,
			 (unsigned long long)p->range_end);
		argv[n++] = "--range";
		argv[n++] = range;
	}
	argv[n++] = "--slots";
	argv[n++] = slots;
	argv[n++] = "--ready-fd";
	argv[n++] = fdbuf;
	argv[n++] = "--frame-timeout";
	argv[n++] = ftmo;
	/* The broker watches that the encoder makes progress (it may be
	 * stopped), on the same bound the encoder holds ffmpeg to. */
	snprintf(etmo, sizeof(etmo), "%u", r->o.encoder_timeout_s);
	argv[n++] = "--encoder-timeout";
	argv[n++] = etmo;
	argv[n++] = "--frame-format";
	argv[n++] = (char *)fb_frame_format_name(p->frame_format);
	if (p->slot_bytes) {
		snprintf(sbytes, sizeof(sbytes), "%llu", (unsigned long long)p->slot_bytes);
		argv[n++] = "--slot-bytes";
		argv[n++] = sbytes;
	}
	argv[n] = NULL;
	if (start(r, ROLE_BROKER, argv, pfd[1])) {
		close(pfd[0]);
		close(pfd[1]);
		return FB_EXIT_RUNTIME;
	}
	close(pfd[1]);
	got = wait_ready(r, pfd[0]);
	close(pfd[0]);
	if (got == 0)
		return 0;
	/* The broker gave up (or was killed, or we were asked to stop, or it
	 * stopped) before the segment was ready. */
	status = end_broker(r);
	r->kids[0].running = false;
	end_orphans(r);
	/* No descriptor yet, so no inode: the header's broker pid says whose
	 * it is (written before the memory is reserved). */
	fb_seg_unlink_owned(r->o.name, r->kids[0].pid);
	if (r->stop_sig)
		return 128 + r->stop_sig;
	if (r->failed)
		return FB_EXIT_RUNTIME;
	if (WIFEXITED(status) && WEXITSTATUS(status) == FB_EXIT_USAGE)
		return FB_EXIT_USAGE;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != FB_EXIT_RUNTIME)
		fb_err(PROG, "fb-broker failed to start");
	return FB_EXIT_RUNTIME;
}

/* attach:CMD: the producer is CMD itself, started like our programs (the
 * render's group, parent-death signal, the segment descriptor kept open)
 * and supervised, reissued and replaced exactly like fb-producer. */
static int start_attached(struct render *r)
{
	pid_t pid = fb_spawn_cmd(r->o.src.argv[0], r->o.src.argv, r->attach_env, r->pgid,
				 r->seg_fd);

	if (pid < 0) {
		fb_err(PROG, "cannot start %s: %s", r->producer_label, strerror((int)-pid));
		return -1;
	}
	r->kids[r->nkids++] = (struct child){ .pid = pid, .role = ROLE_PRODUCER, .running = true,
					      .started_ns = fb_now_ns() };
	return 0;
}

/* Could a producer claim a frame right now: one up for reissue, or the next
 * new frame with its slot (frame mod S) empty?  Then a producer that does
 * not is idle, not held back by the encoder. */
static bool claimable(const struct fb_stats *st, const struct fb_geom *g)
{
	if (st->slots_by_state[FB_SLOT_REISSUE] > 0)
		return true;
	return st->claimed < g->total_frames &&
	       st->slot[st->claimed % g->slot_count].state == FB_SLOT_EMPTY;
}

static bool registered(const struct fb_stats *st, pid_t pid)
{
	for (uint32_t i = 0; i < st->nprocs && i < FB_MAX_PROCS; i++)
		if (st->proc[i].pid == pid && st->proc[i].role == FB_ROLE_PRODUCER)
			return true;
	return false;
}

/*
 * attach: what the broker cannot see, because it supervises only producers
 * that registered and claims they hold: a program that never attaches
 * (killed after --frame-timeout and replaced, like a producer stuck in a
 * frame), producers that attached and let frames wait in free slots for
 * --frame-timeout without claiming (the render fails: replacing them would
 * not help), and one that lingers after the last frame (ended).  Reads the
 * status view (display counters, never trusted beyond these decisions).
 */
static void watch_attached(struct render *r, uint64_t now, int *timeout)
{
	const struct fb_stats *st = r->status.st;
	uint64_t limit = (uint64_t)r->o.frame_timeout_s * 1000000000ull;

	if (!r->o.attach || !r->status.seg || r->stopping || r->encoder_gone)
		return;
	if (r->encoder_ok) {
		bool any = false;

		for (size_t i = 2; i < r->nkids; i++)
			any |= r->kids[i].role == ROLE_PRODUCER && r->kids[i].running;
		if (!any)
			return;
		if (!r->linger_deadline) {
			r->linger_deadline = now + ATTACH_LINGER_MS * 1000000ull;
		} else if (now >= r->linger_deadline) {
			for (size_t i = 2; i < r->nkids; i++) {
				struct child *k = &r->kids[i];

				if (k->role != ROLE_PRODUCER || !k->running)
					continue;
				if (!r->linger_termed)
					fb_warn(PROG, "%s (pid %d) still running %d s after the last frame "
						"was written; ending it", role_name(r, k->role), (int)k->pid,
						ATTACH_LINGER_MS / 1000);
				kill(k->pid, r->linger_termed ? SIGKILL : SIGTERM);
			}
			r->linger_termed = true;
			r->linger_deadline = now + ATTACH_LINGER_MS * 1000000ull;
		}
		*timeout = *timeout < 100 ? *timeout : 100;
		return;
	}
	fb_stats_read(r->status.seg, r->status.st);
	for (size_t i = 2; i < r->nkids; i++) {
		struct child *k = &r->kids[i];

		if (k->role != ROLE_PRODUCER || !k->running || k->attached)
			continue;
		k->attached = registered(st, k->pid);
		/* NOW was read before this tick's reap, which may have started
		 * K just now. */
		if (!k->attached && now > k->started_ns && now - k->started_ns > limit) {
			fb_warn(PROG, "%s (pid %d) has not attached within --frame-timeout %u s; killing it",
				role_name(r, k->role), (int)k->pid, r->o.frame_timeout_s);
			kill(k->pid, SIGKILL);
			k->attached = true; /* said once; its death is a crash like any */
		}
	}
	if (st->claimed != r->stall_claimed || st->emitted != r->stall_emitted ||
	    !claimable(st, &r->status.seg->geom) || st->producers == 0 || !r->stall_since_ns) {
		r->stall_claimed = st->claimed;
		r->stall_emitted = st->emitted;
		r->stall_since_ns = now;
	} else if (now > r->stall_since_ns && now - r->stall_since_ns > limit) {
		fb_err(PROG, "frame %llu has waited --frame-timeout %u s in a free slot with no "
		       "producer claiming it (%s: attached, but not calling fb_claim()?)",
		       (unsigned long long)(r->status.seg->geom.first_frame + st->claimed),
		       r->o.frame_timeout_s, r->producer_label);
		fail(r);
	}
}

/*
 * CMD's environment: ours, with FB_SEGMENT=/NAME and FB_FD=N, the segment
 * descriptor it inherits (what fb_attach(NULL, ...) reads: the descriptor,
 * because a producer started after a short render ended would find the
 * name already unlinked).  0 or -1.
 */
static int attach_env(struct render *r)
{
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	r->attach_env = calloc(n + 3, sizeof(char *));
	if (!r->attach_env) {
		fb_err(PROG, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FB_SEGMENT=", 11) != 0 && strncmp(environ[i], "FB_FD=", 6) != 0)
			r->attach_env[k++] = environ[i];
	snprintf(r->env_segment, sizeof(r->env_segment), "FB_SEGMENT=%s", r->o.name);
	snprintf(r->env_fd, sizeof(r->env_fd), "FB_FD=%d", r->seg_fd);
	r->attach_env[k++] = r->env_segment;
	r->attach_env[k++] = r->env_fd;
	r->attach_env[k] = NULL;
	return 0;
}

static int start_producer(struct render *r)
{
	char delay[16], jitter[16], cpu[16];
	char *argv[] = { "fb-producer", "--name", r->o.name, "--fd", r->seg_fd_arg,
			 "--source", (char *)r->o.source, "--delay-ms", delay,
			 "--jitter-ms", jitter, "--cpu-us", cpu, NULL };

	snprintf(delay, sizeof(delay), "%u", r->o.delay_ms);
	snprintf(cpu, sizeof(cpu), "%u", r->o.cpu_us);
	if (r->o.attach)
		return start_attached(r);
	snprintf(jitter, sizeof(jitter), "%u", r->o.jitter_ms);
	return start(r, ROLE_PRODUCER, argv, r->seg_fd);
}

/* Workers attach through an inherited descriptor rather than the name: a
 * producer that starts after a short render finished (and the broker
 * unlinked the name) then still attaches, sees DONE and exits 0. */
static int start_workers(struct render *r)
{
	char *argv[16 + 64 + 2], tmo[16], jitter[16];
	int n = 0;

	struct stat st;

	r->seg_fd = fb_shm_open(r->o.name, O_RDWR, 0, &st);
	if (r->seg_fd >= 0) {
		/* What the name must still name when we unlink it at the end:
		 * no header field needed, so a scribbled header cannot stop it. */
		r->seg_known = true;
		r->seg_dev = (uint64_t)st.st_dev;
		r->seg_ino = (uint64_t)st.st_ino;
	}
	if (r->seg_fd < 0) {
		fb_err(PROG, "cannot open segment %s: %s", r->o.name,
		       r->seg_fd == -FB_ENOTSEG ? "not a regular file" : strerror(-r->seg_fd));
		r->seg_fd = -1;
		return -1;
	}
	snprintf(r->seg_fd_arg, sizeof(r->seg_fd_arg), "%d", r->seg_fd);
	snprintf(tmo, sizeof(tmo), "%u", r->o.encoder_timeout_s);
	argv[n++] = "fb-encoder";
	argv[n++] = "--name";
	argv[n++] = r->o.name;
	argv[n++] = "--fd";
	argv[n++] = r->seg_fd_arg;
	argv[n++] = "--sink";
	argv[n++] = r->o.raw_sink ? "raw" : "ffmpeg";
	argv[n++] = "-o";
	argv[n++] = (char *)r->o.output;
	argv[n++] = "--encoder-timeout";
	argv[n++] = tmo;
	snprintf(jitter, sizeof(jitter), "%u", r->o.sink_jitter_ms);
	argv[n++] = "--jitter-ms";
	argv[n++] = jitter;
	if (r->o.audio) {
		argv[n++] = "--audio";
		argv[n++] = (char *)r->o.audio;
	}
	if (r->o.ff_opts) {
		argv[n++] = "--";
		for (int i = 0; i < r->o.n_ff_opts; i++)
			argv[n++] = r->o.ff_opts[i];
	}
	argv[n] = NULL;
	if (start(r, ROLE_ENCODER, argv, r->seg_fd))
		return -1;
	if (r->o.attach && attach_env(r))
		return -1;
	for (uint32_t i = 0; i < r->o.workers; i++)
		if (start_producer(r))
			return -1;
	return 0;
}

/* The supervision loop: react to child exits and stop requests until no
 * child is left.  Signals arrive synchronously through the signalfd.  Once
 * broker, encoder and producers are all reaped, any child left is an
 * orphan we adopted (a renderer's helper, in whatever session or group):
 * it is ended (fb_orphans_step) rather than waited for. */
static void supervise(struct render *r)
{
	for (;;) {
		int timeout = STATUS_TICK_MS, sig;
		uint64_t now = fb_now_ns();

		if (r->stopping) {
			if (now >= r->stop_deadline) {
				killpg(r->pgid, SIGKILL);
				r->stop_deadline = UINT64_MAX;
			} else if (r->stop_deadline != UINT64_MAX &&
				   r->stop_deadline - now < STATUS_TICK_MS * 1000000ull) {
				timeout = (int)((r->stop_deadline - now) / 1000000ull) + 1;
			}
		}
		if (!reap(r))
			return;
		if (known_running(r)) {
			watch_broker(r);
			watch_attached(r, now, &timeout);
		} else {
			fb_orphans_step(&r->orphans, now, ORPHAN_GRACE_MS * 1000000ull);
			timeout = 50;
		}
		status_tick(&r->status, false);
		sig = wait_event(r, -1, timeout, NULL);
		if (sig)
			on_signal(r, sig);
	}
}

/* Open the --progress file without ever waiting: a FIFO with no reader
 * is ENXIO at once instead of an open(2) that blocks fb-render (signals
 * and all) until someone reads.  Writes stay non-blocking: a block the
 * reader has no room for is dropped (status.c). */
static FILE *open_progress(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

static int bin_dir(char *dir, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	snprintf(dir, len, "%s", dirname(exe));
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t start_ns = fb_now_ns();
	struct render r;
	struct fb_geom g;
	sigset_t set;
	int code;

	memset(&r, 0, sizeof(r));
	if (parse_args(argc, argv, &r.o) || fb_params_geom(&r.o.params, &g, PROG))
		return FB_EXIT_USAGE;
	code = preflight(&r.o, &g);
	if (code || r.o.check_only)
		return code;
	if (bin_dir(r.bindir, sizeof(r.bindir))) {
		fb_err(PROG, "cannot locate my own binary: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	r.seg_fd = -1;
	if (r.o.attach)
		snprintf(r.producer_label, sizeof(r.producer_label), "producer '%.60s'",
			 r.o.source + 7);
	if (r.o.progress) {
		r.progress = strcmp(r.o.progress, "-") == 0 ? stdout : open_progress(r.o.progress);
		if (!r.progress) {
			fb_err(PROG, "cannot write --progress %s: %s", r.o.progress,
			       errno == ENXIO ? "a FIFO nobody reads" : strerror(errno));
			return FB_EXIT_USAGE;
		}
	}
	r.kids = calloc(2 + (size_t)r.o.workers + r.o.max_restarts, sizeof(*r.kids));
	if (!r.kids) {
		fb_err(PROG, "out of memory");
		return FB_EXIT_RUNTIME;
	}
	/* Signals are taken synchronously in supervise(); blocking them first
	 * means none is lost while children start.  Children unblock them. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTSTP); /* Ctrl-Z: job_stop() */
	sigaddset(&set, SIGCONT); /* blocking it only defers the notice */
	sigprocmask(SIG_BLOCK, &set, NULL);
	r.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r.sfd < 0) {
		fb_err(PROG, "signalfd: %s", strerror(errno));
		free(r.kids);
		return FB_EXIT_RUNTIME;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Orphans (ffmpeg when the encoder dies) become ours to reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	code = start_broker(&r);
	if (code) {
		free(r.kids);
		close(r.sfd);
		return code;
	}
	if (start_workers(&r))
		fail(&r);
	status_start(&r.status, r.seg_fd, r.o.name, r.progress, r.o.attach);
	supervise(&r);
	fb_orphans_free(&r.orphans);
	status_tick(&r.status, true);
	status_stop(&r.status);
	if (r.progress && r.progress != stdout)
		fclose(r.progress);
	/* A failure nobody named (the broker's "aborted" reaped before the
	 * worker that caused it, say): the cause recorded in the segment. */
	if (!r.stop_sig && !r.failed && !r.encoder_ok && r.aborted && !r.child_spoke) {
		char cause[FB_REASON_MAX + 64];

		if (r.seg_fd >= 0 && fb_stats_cause_fd(r.seg_fd, cause, sizeof(cause)))
			fb_err(PROG, "%s", cause);
		else
			fb_err(PROG, "render aborted (no cause recorded)");
	}
	if (r.seg_fd >= 0)
		close(r.seg_fd);
	/* The broker unlinks on every path it controls; this covers the
	 * broker itself being killed.  Only the very object we opened (its
	 * header may be scribbled: the inode is ours to know); without one,
	 * only a segment whose header names our broker. */
	if (r.seg_known)
		fb_seg_unlink_same(r.o.name, r.seg_dev, r.seg_ino);
	else
		fb_seg_unlink_owned(r.o.name, r.kids[0].pid);
	close(r.sfd);
	free(r.kids);
	free(r.attach_env);
	if (r.stop_sig)
		return 128 + r.stop_sig;
	if (r.failed)
		return FB_EXIT_RUNTIME;
	if (!r.encoder_ok) {
		if (!r.aborted)
			fb_err(PROG, "render ended before the encoder finished");
		return FB_EXIT_RUNTIME;
	}
	/* Only now, when every process is gone and the file complete. */
	status_summary(r.o.output, &g, fb_now_ns() - start_ns);
	return FB_EXIT_OK;
}
