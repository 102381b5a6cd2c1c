/*
 * fb_args — the programs' shared command-line pieces and exit codes: what
 * every framebroker program needs and the library does not.
 */
#ifndef FB_ARGS_H
#define FB_ARGS_H

#include <stdbool.h>
#include <stdint.h>

#include "fb_util.h"

/* Exit codes shared by every program (documented in README.md). */
enum {
	FB_EXIT_OK = 0,
	FB_EXIT_RUNTIME = 1, /* something failed while running; one-line cause */
	FB_EXIT_USAGE = 2,   /* bad option or input; nothing was created */
	FB_EXIT_ABORTED = 3, /* a worker stopped because the render was aborted elsewhere */
	FB_EXIT_RENDERER = 4, /* fb-producer: its renderer command died or sent a short
			       * frame; the frame was given back, so a replacement can
			       * retry (fb-render counts it like a crash) */
};

/* --version: print "PROG VERSION" and exit 0. */
__attribute__((noreturn)) void fb_exit_version(const char *prog);

/* --log-level NAME: set it for this process and its children.  0, or -1
 * with the message printed. */
int fb_set_log_level(const char *prog, const char *name);

/*
 * An integer option: parse ARG into [MIN, MAX], or print
 * "PROG: invalid --OPT 'ARG': expected an integer MIN..MAX" and return -1.
 */
int fb_opt_u64(const char *prog, const char *opt, const char *arg, uint64_t min, uint64_t max,
	       uint64_t *out);

/* Parse "WxH" with each side in [1, max_side]. */
int fb_parse_size(const char *s, uint32_t max_side, uint32_t *w, uint32_t *h);

/*
 * After a getopt loop (NEXT = optind): did getopt stop at a "--" terminator?  (Not merely
 * after an option whose argument was "--", as in "-o --": LAST_ARG is the
 * optarg of the last option parsed, or NULL.)
 */
int fb_ended_at_dashdash(char *const *argv, int next, const char *last_arg);

/*
 * Was this process started by fb-render, which is still its parent
 * (FB_RENDER_PID, set by fb-render for its children)?  Then a failure
 * fb-render sees for itself (the broker's death) is fb-render's to say,
 * once, and the worker leaves without a line of its own.
 */
bool fb_supervised(void);

#endif
