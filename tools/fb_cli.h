/*
 * fb_cli — the one getopt loop of every framebroker program.  It takes the
 * options all programs share (--log-level, --version, --help) and, for the
 * groups a program asks for, --name, --fd and --attach-timeout (the
 * workers'), the encoder's sink (fb-render passes it on) and the render
 * parameters (fb_params.h, fb-broker's), and hands each of the
 * program's own options back to it.  One message for an unknown option or
 * a missing value, one for a stray argument, one way to take what follows
 * "--".  The tables of the groups are the static opts_* arrays of fb_cli.c
 * and fb_params.c (tests/build/t_docs.sh reads them to check every --help).
 */
#ifndef FB_CLI_H
#define FB_CLI_H

#include "fb_params.h"
#include "fb_shm.h" /* FB_NAME_MAX */

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

/* Groups of shared options (fb_cli.groups); the common ones are always on. */
enum {
	FB_OPTS_NAME = 1,   /* --name SEGMENT, checked and canonicalised into .name */
	FB_OPTS_ATTACH = 2, /* --fd N into *.seg_fd, --attach-timeout MS into *.attach_timeout_ms */
	FB_OPTS_PARAMS = 4, /* the render parameters, into *.params */
	FB_OPTS_SINK = 8,   /* --sink, -o/--output, --audio, --encoder-timeout into *.sink */
};

/* FB_OPTS_SINK: where the encoder's frames go. */
struct fb_sink_opts {
	bool raw;                   /* --sink raw (default ffmpeg) */
	const char *output;         /* -o, --output (default out.mp4; "-": stdout) */
	const char *audio;          /* --audio FILE, or NULL */
	uint32_t encoder_timeout_s; /* --encoder-timeout (default 600) */
};

/* Room for a program's own options and every group, with the terminator. */
#define FB_CLI_MAX_OPTS 48

struct fb_cli {
	/* Given by the program: */
	const char *prog;
	void (*usage)(FILE *out);  /* --help prints it to stdout, then exit 0 */
	const char *shortopts;     /* getopt's ("+o:"); NULL: none, and permuted */
	const struct option *own;  /* the program's options, { NULL }-terminated;
				    * each val a positive code below 256 */
	unsigned groups;           /* FB_OPTS_* */
	char *name;                /* FB_OPTS_NAME: FB_NAME_MAX + 1 bytes */
	int *seg_fd;               /* FB_OPTS_ATTACH */
	int *attach_timeout_ms;    /* FB_OPTS_ATTACH */
	struct fb_params *params;  /* FB_OPTS_PARAMS */
	struct fb_sink_opts *sink; /* FB_OPTS_SINK (-o too, with "o:" in shortopts) */
	/* Set by fb_cli_next: the argument of the option it returned. */
	const char *arg;
	/* Private. */
	const char *last_arg; /* of the last option taken, for fb_cli_end */
	const char *name_added; /* --name as given, when a '/' was added: said by fb_cli_end */
	int n_opts;
	struct option table[FB_CLI_MAX_OPTS];
};

/*
 * The next of the program's own options in ARGV: its code (with .arg), or
 * 0 once the options end (optind is then the first argument left), or -1
 * with a one-line message printed (an unknown option, a missing value, a
 * bad value of a shared option).  Shared options are taken here; --help
 * and --version exit.
 */
int fb_cli_next(struct fb_cli *c, int argc, char **argv);

/*
 * After fb_cli_next returned 0: the arguments left.  With REST (non-NULL)
 * the ones after a "--" are the caller's (*REST, *N; *REST NULL if none);
 * any other argument is "unexpected argument 'X'": -1, printed.
 */
int fb_cli_end(struct fb_cli *c, int argc, char **argv, char ***rest, int *n);

/* Entries fb_cli_sink_argv writes at most (no terminator). */
#define FB_CLI_SINK_ARGV_MAX 8

/*
 * S back into the options FB_OPTS_SINK reads as S (fb-render starts
 * fb-encoder with them): at most FB_CLI_SINK_ARGV_MAX entries into ARGV,
 * pointing into S, TMO and static strings.  Returns how many.
 */
int fb_cli_sink_argv(const struct fb_sink_opts *s, char **argv, char tmo[16]);

#endif
