/* fb_cli — the shared getopt loop (fb_cli.h). */
#include "fb_cli.h"
#include "fb_args.h"

#include <stdlib.h>
#include <string.h>

/* Codes of the shared options: above every program's own (< 256). */
enum {
	CLI_LOG_LEVEL = 0x100,
	CLI_VERSION,
	CLI_HELP,
	CLI_NAME,
	CLI_FD,
	CLI_ATTACH_TIMEOUT,
	CLI_SINK,
	CLI_OUTPUT,
	CLI_AUDIO,
	CLI_ENCODER_TIMEOUT,
	CLI_PARAM = 0x200, /* + the index in fb_params_options() */
};

/* Every program's. */
static const struct option opts_common[] = {
	{ "log-level", required_argument, NULL, CLI_LOG_LEVEL },
	{ "version", no_argument, NULL, CLI_VERSION },
	{ "help", no_argument, NULL, CLI_HELP },
};

/* FB_OPTS_NAME */
static const struct option opts_name[] = {
	{ "name", required_argument, NULL, CLI_NAME },
};

/* FB_OPTS_ATTACH: how a worker finds its segment. */
static const struct option opts_attach[] = {
	{ "fd", required_argument, NULL, CLI_FD },
	{ "attach-timeout", required_argument, NULL, CLI_ATTACH_TIMEOUT },
};

/* FB_OPTS_SINK: the encoder's, and fb-render's to pass on. */
static const struct option opts_sink[] = {
	{ "sink", required_argument, NULL, CLI_SINK },
	{ "output", required_argument, NULL, CLI_OUTPUT },
	{ "audio", required_argument, NULL, CLI_AUDIO },
	{ "encoder-timeout", required_argument, NULL, CLI_ENCODER_TIMEOUT },
};

static void add(struct fb_cli *c, const struct option *o, size_t n, int val_base)
{
	for (size_t i = 0; i < n; i++) {
		/* A table that does not fit is a bug of ours: fail loudly. */
		if (c->n_opts >= FB_CLI_MAX_OPTS - 1)
			abort();
		c->table[c->n_opts] = o[i];
		c->table[c->n_opts++].val += val_base;
	}
}

/* The program's table, then the groups it asked for, then the common ones;
 * the defaults of the groups' values. */
static void build(struct fb_cli *c)
{
	size_t n = 0;

	while (c->own && c->own[n].name)
		n++;
	add(c, c->own, n, 0);
	if (c->groups & FB_OPTS_NAME)
		add(c, opts_name, sizeof(opts_name) / sizeof(opts_name[0]), 0);
	if (c->groups & FB_OPTS_ATTACH) {
		add(c, opts_attach, sizeof(opts_attach) / sizeof(opts_attach[0]), 0);
		*c->seg_fd = -1;
		*c->attach_timeout_ms = 5000;
	}
	if (c->groups & FB_OPTS_SINK) {
		add(c, opts_sink, sizeof(opts_sink) / sizeof(opts_sink[0]), 0);
		*c->sink = (struct fb_sink_opts){ .output = "out.mp4", .encoder_timeout_s = 600 };
	}
	if (c->groups & FB_OPTS_PARAMS) {
		const struct option *p = fb_params_options(&n);

		add(c, p, n, CLI_PARAM);
	}
	add(c, opts_common, sizeof(opts_common) / sizeof(opts_common[0]), 0);
	c->table[c->n_opts] = (struct option){ NULL, 0, NULL, 0 };
	opterr = 0; /* our own messages, one line each */
}

/* A shared option: 0 taken, -1 refused (printed).  --help and --version
 * exit here. */
static int shared(struct fb_cli *c, int code, const char *arg)
{
	uint64_t v;

	switch (code) {
	case CLI_LOG_LEVEL:
		return fb_set_log_level(c->prog, arg);
	case CLI_VERSION:
		fb_exit_version(c->prog);
	case CLI_HELP:
		if (c->usage)
			c->usage(stdout);
		exit(FB_EXIT_OK);
	case CLI_NAME: {
		/* A bad name is said at once; the note that a '/' was added
		 * waits for fb_cli_end, after a --log-level that may follow. */
		int rc = fb_shm_name_canon(arg, c->name);

		if (rc < 0)
			return fb_shm_name_arg(c->prog, "--name", arg, c->name) ? -1 : 0;
		c->name_added = rc == 1 ? arg : NULL;
		return 0;
	}
	case CLI_FD:
		if (fb_opt_u64(c->prog, "fd", arg, 0, 1 << 20, &v))
			return -1;
		*c->seg_fd = (int)v;
		return 0;
	case CLI_ATTACH_TIMEOUT:
		if (fb_opt_u64(c->prog, "attach-timeout", arg, 0, 3600000, &v))
			return -1;
		*c->attach_timeout_ms = (int)v;
		return 0;
	case CLI_SINK:
		if (strcmp(arg, "raw") != 0 && strcmp(arg, "ffmpeg") != 0) {
			fb_err(c->prog, "invalid --sink '%s': expected ffmpeg or raw", arg);
			return -1;
		}
		c->sink->raw = strcmp(arg, "raw") == 0;
		return 0;
	case CLI_OUTPUT:
		if (!*arg) {
			fb_err(c->prog, "invalid -o '%s': empty path", arg);
			return -1;
		}
		c->sink->output = arg;
		return 0;
	case CLI_AUDIO:
		c->sink->audio = arg;
		return 0;
	case CLI_ENCODER_TIMEOUT:
		if (fb_parse_u64(arg, 1, 86400, &v)) {
			fb_err(c->prog, "invalid --encoder-timeout '%s': expected seconds 1..86400", arg);
			return -1;
		}
		c->sink->encoder_timeout_s = (uint32_t)v;
		return 0;
	default:
		return fb_params_set_index(c->params, (size_t)(code - CLI_PARAM), arg, c->prog) ? -1 : 0;
	}
}

int fb_cli_next(struct fb_cli *c, int argc, char **argv)
{
	int code;

	if (!c->n_opts)
		build(c);
	for (;;) {
		code = getopt_long(argc, argv, c->shortopts ? c->shortopts : "", c->table, NULL);
		if (code == -1)
			return 0;
		c->arg = c->last_arg = optarg;
		if (code == '?' || code == ':') {
			fb_err(c->prog, "unknown option or missing value '%s' (see --help)",
			       argv[optind - 1]);
			return -1;
		}
		if (code == 'o' && (c->groups & FB_OPTS_SINK))
			code = CLI_OUTPUT; /* -o: --output's short form */
		if (code < 0x100)
			return code;
		if (shared(c, code, optarg))
			return -1;
	}
}

int fb_cli_end(struct fb_cli *c, int argc, char **argv, char ***rest, int *n)
{
	if (c->name_added)
		fb_info(c->prog, "segment name '%s' taken as %s", c->name_added, c->name);
	if (rest) {
		*rest = NULL;
		*n = 0;
	}
	if (optind >= argc)
		return 0;
	/* getopt stops at "--" and leaves optind after it; "-o --" is an
	 * option's value, not the terminator. */
	if (!rest || !fb_ended_at_dashdash(argv, optind, c->last_arg)) {
		fb_err(c->prog, "unexpected argument '%s'", argv[optind]);
		return -1;
	}
	*rest = argv + optind;
	*n = argc - optind;
	return 0;
}

int fb_cli_sink_argv(const struct fb_sink_opts *s, char **argv, char tmo[16])
{
	int n = 0;

	snprintf(tmo, 16, "%u", s->encoder_timeout_s);
	argv[n++] = "--sink";
	argv[n++] = s->raw ? "raw" : "ffmpeg";
	argv[n++] = "-o";
	argv[n++] = (char *)s->output;
	argv[n++] = "--encoder-timeout";
	argv[n++] = tmo;
	if (s->audio) {
		argv[n++] = "--audio";
		argv[n++] = (char *)s->audio;
	}
	return n;
}
