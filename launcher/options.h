/*
 * options — fb-render's options (options_parse): what each one holds once
 * parsed.  The checks made before anything is created are preflight.h's.
 */
#ifndef FB_RENDER_OPTIONS_H
#define FB_RENDER_OPTIONS_H

#include "fb_cli.h"
#include "fb_params.h"
#include "fb_segment.h"
#include "fb_source.h"

#include <stdbool.h>
#include <stdint.h>

struct render_opts {
	struct fb_params params;
	uint32_t workers;
	const char *source; /* as given; parsed into src */
	struct fb_source src;
	bool attach; /* attach:CMD: src holds CMD, a program linked with libframebroker */
	struct fb_sink_opts sink; /* --sink, -o, --audio, --encoder-timeout: the encoder's */
	char name[FB_NAME_MAX + 1];
	uint32_t max_restarts;
	uint32_t frame_timeout_s;
	uint32_t delay_ms, cpu_us;
	const char *progress; /* --progress FILE or "-", or NULL */
	bool check_only;      /* --check: validate everything, start nothing */
	uint32_t jitter_ms, sink_jitter_ms;
	char **ff_opts;
	int n_ff_opts;
	/* Segments (workdir.h): --segment as given (NULL: the default), and
	 * what it says once the frame rate is known (workdir_prepare). */
	const char *segment;
	bool segment_secs;    /* "Ns": seg_count is seconds */
	uint64_t seg_count;   /* N (0: off) */
	bool resume;          /* --resume */
	const char *work_dir; /* --work-dir DIR, or NULL: OUTPUT.fbsegments */
	const char *plan_check; /* --plan-check DIR: check its plan, render nothing */
	uint64_t seg_frames;  /* resolved: frames a segment (0: not segmented) */
	const char *seg_dir;  /* resolved: the work directory, for fb-encoder */
};

/* ARGV into O (defaults first): 0, or -1 with a one-line message printed
 * (a usage error: exit 2).  --help and --version exit 0 here. */
int options_parse(int argc, char **argv, struct render_opts *o);

#endif
