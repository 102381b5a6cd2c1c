/*
 * fb-producer — a capture process.  It attaches to the segment by name and
 * loops: claim the next frame (sleeping while the ring is full — this is the
 * back-pressure), render it straight into the claimed slot, publish it.  It
 * exits 0 when no frame is left to claim.
 *
 * Sources (tools/fb_source.h): "pattern" (the built-in test card), "fill"
 * (frame i is bytes of value i mod 256: a render that costs only a memset)
 * "raw:PATH" (frame i is bytes [i*F, (i+1)*F) of PATH, read with pread
 * straight into the slot), or "exec:CMD" / "sh:CMD" (an external renderer
 * asked for each frame: renderer.h).  A renderer that dies or sends a short
 * frame costs that frame only: it is given back and the producer exits
 * FB_EXIT_RENDERER, which fb-render answers with a replacement.
 *
 * It is a client of include/framebroker.h like any other producer: attach
 * (fb_attach, or fb_attach_fd for --fd), fb_claim / fb_publish /
 * fb_abort_claim, fb_fail for a frame that can never be delivered.  The
 * claim loop and the fault steps around it live in the library; the one
 * step only a renderer can mark, half way through a frame, it marks with
 * the library's private fb_fault_mid_render (lib/fb_fault.h: tests only).
 */
#include "framebroker.h"
#include "fb_cli.h"
#include "fb_fault.h"
#include "fb_pixfmt.h"
#include "fb_segment.h" /* only for FB_NAME_MAX: --name's buffer (fb_cli checks the name) */
#include "fb_source.h"
#include "fb_args.h"
#include "pattern.h"
#include "renderer.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define PROG "fb-producer"

struct producer_opts {
	char name[FB_NAME_MAX + 1];
	struct fb_source src;
	int attach_timeout_ms;
	int seg_fd; /* --fd: inherited segment descriptor, or -1 */
	int delay_ms;
	int jitter_ms;
	int cpu_us;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " --name /SEGMENT [--source pattern|fill|raw:PATH|exec:CMD|sh:CMD]\n"
		"                   [--attach-timeout MS] [--fd N] [--delay-ms MS] [--jitter-ms J]\n"
		"                   [--cpu-us US]\n"
		"Claim frames from SEGMENT, render them into their slots, publish them.\n"
		"--source        pattern (default): built-in test card; fill: every byte of\n"
		"                frame i is i mod 256; raw:PATH: frame i is bytes\n"
		"                [i*F, (i+1)*F) of PATH, F = frame bytes; exec:CMD: run CMD\n"
		"                (split into words, no shell; sh:CMD through sh -c), write\n"
		"                each frame index as a line to its stdin, read the frame\n"
		"                from its stdout\n"
		"--attach-timeout wait this long for the segment to appear (default 5000)\n"
		"--fd N          use the already open segment descriptor N (fb-render does)\n"
		"--delay-ms      sleep this long per frame, to emulate a slow renderer (default 0)\n"
		"--jitter-ms     plus a random 0..J ms per frame (stress tests; default 0)\n"
		"--cpu-us US     burn US microseconds of CPU per frame, a fixed render cost\n"
		"                (benchmarks; default 0)\n"
		"--log-level L   quiet, error, warning, info (default) or debug\n"
		"--version       print the version; --help: this text\n"
		"Exit: 0 no frame left, 1 runtime error, 2 usage error, 3 render aborted,\n"
		"4 the renderer command died or sent a short frame (the frame was given back).\n");
}

static int parse_args(int argc, char **argv, struct producer_opts *o)
{
	static const struct option own[] = {
		{ "source", required_argument, NULL, 's' },
		{ "delay-ms", required_argument, NULL, 'd' },
		{ "jitter-ms", required_argument, NULL, 'j' },
		{ "cpu-us", required_argument, NULL, 'u' },
		{ NULL, 0, NULL, 0 },
	};
	struct fb_cli cli = { .prog = PROG, .usage = usage, .own = own,
			      .groups = FB_OPTS_NAME | FB_OPTS_ATTACH, .name = o->name,
			      .seg_fd = &o->seg_fd, .attach_timeout_ms = &o->attach_timeout_ms };
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	while ((c = fb_cli_next(&cli, argc, argv)) > 0) {
		if (c == 's') {
			if (fb_source_parse(cli.arg, &o->src)) {
				fb_err(PROG, "invalid --source '%s': expected " FB_SOURCE_SYNTAX, cli.arg);
				return -1;
			}
		} else if (c == 'u') {
			if (fb_opt_u64(PROG, "cpu-us", cli.arg, 0, 3600000000ull, &v))
				return -1;
			o->cpu_us = (int)v;
		} else {
			if (fb_opt_u64(PROG, c == 'd' ? "delay-ms" : "jitter-ms", cli.arg, 0, 3600000, &v))
				return -1;
			*(c == 'd' ? &o->delay_ms : &o->jitter_ms) = (int)v;
		}
	}
	if (c < 0 || fb_cli_end(&cli, argc, argv, NULL, NULL))
		return -1;
	if (!o->name[0]) {
		fb_err(PROG, "--name is required");
		return -1;
	}
	return 0;
}

/* Spend US microseconds of this process's CPU time: a render of fixed cost,
 * however many processes share the cores. */
static void burn_cpu(int us)
{
	struct timespec t;
	uint64_t end, now;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	end = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec + (uint64_t)us * 1000ull;
	do {
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
		now = (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
	} while (now < end);
}

/* What the claim loop needs besides the handle. */
struct job {
	fb_producer *p;
	struct fb_geometry g;
	uint32_t pix_fmt, frame_format; /* g's names as fb_pixfmt.h numbers */
	int raw_fd;
	struct renderer *rend;
	const struct producer_opts *o;
};

/* Render FRAME (the render's frame number) into DATA, its slot; *LEN gets
 * the bytes to publish.  0 or -errno.  The raw source is read in two halves
 * so the mid-render fault point lies between them. */
static int render(const struct job *j, uint64_t frame, unsigned char *data, uint64_t *len)
{
	const struct fb_geometry *g = &j->g;
	uint64_t half = g->frame_bytes / 2;
	off_t off = (off_t)(frame * g->frame_bytes);
	int rc;

	*len = g->frame_bytes;
	if (j->o->src.kind == FB_SOURCE_EXEC) {
		if (j->frame_format == FB_FRAME_RAW)
			rc = renderer_frame(j->rend, frame, data, g->frame_bytes);
		else
			rc = renderer_image(j->rend, j->frame_format, frame, data, g->slot_bytes, len);
		fb_fault_mid_render(j->p);
		return rc;
	}
	if (j->o->src.kind != FB_SOURCE_RAW) {
		if (j->o->src.kind == FB_SOURCE_FILL)
			memset(data, (int)(frame & 0xff), g->frame_bytes);
		else
			fb_pattern_render(data, g->width, g->height, j->pix_fmt, frame);
		fb_fault_mid_render(j->p);
		return 0;
	}
	rc = fb_pread_all(j->raw_fd, data, half, off);
	fb_fault_mid_render(j->p);
	if (rc == 0)
		rc = fb_pread_all(j->raw_fd, data + half, g->frame_bytes - half, off + (off_t)half);
	return rc;
}

/* The renderer failed (RC from renderer_frame) on FRAME: give the frame
 * back, stop the renderer, say why.  Returns the exit code. */
static int renderer_failed(const struct job *j, uint64_t frame, int rc)
{
	const char *fmt = j->g.frame_format;
	char how[64] = "", what[96];

	(void)fb_abort_claim(j->p);
	renderer_stop(j->rend, how, sizeof(how));
	if (rc == -EBADMSG)
		snprintf(what, sizeof(what), "sent something that is not one whole %s", fmt);
	else if (rc == -EOVERFLOW)
		snprintf(what, sizeof(what), "had sent more than the previous frame (stray bytes)");
	else if (rc == -EIO && j->frame_format == FB_FRAME_RAW)
		snprintf(what, sizeof(what), "sent a short frame (%llu bytes expected)",
			 (unsigned long long)j->g.frame_bytes);
	else if (rc == -EIO)
		snprintf(what, sizeof(what), "ended inside a %s image", fmt);
	else if (rc == -ECHILD)
		snprintf(what, sizeof(what), "died");
	else
		snprintf(what, sizeof(what), "stopped taking requests");
	fb_warn(PROG, "renderer '%s' %s at frame %llu (it %s); frame given back", j->o->src.argv[0],
		what, (unsigned long long)frame, how);
	return FB_EXIT_RENDERER;
}

/* Fail the render with WHY (fb_fail) and say so, unless it had ended
 * already: only the first failure is the cause worth a line. */
static int fail(const struct job *j, const char *why)
{
	if (fb_fail(j->p, why))
		return FB_EXIT_ABORTED;
	fb_err(PROG, "%s", why);
	return FB_EXIT_RUNTIME;
}

/* The claim loop.  Returns the exit code. */
static int produce(const struct job *j)
{
	const struct producer_opts *o = j->o;
	unsigned int seed = (unsigned int)getpid();
	char why[256];
	uint64_t frame, len;
	void *data;
	int rc;

	while ((rc = fb_claim(j->p, &frame, &data)) == 1) {
		if (o->delay_ms || o->jitter_ms)
			usleep((useconds_t)(o->delay_ms + (o->jitter_ms ?
				rand_r(&seed) % (o->jitter_ms + 1) : 0)) * 1000);
		if (o->cpu_us)
			burn_cpu(o->cpu_us);
		rc = render(j, frame, data, &len);
		if (rc == -EFBIG) { /* an encoded frame larger than its slot: never truncated */
			snprintf(why, sizeof(why), "frame %llu is a %llu-byte %s, larger than its "
				 "%llu-byte slot (raise --slot-bytes)", (unsigned long long)frame,
				 (unsigned long long)len, j->g.frame_format,
				 (unsigned long long)j->g.slot_bytes);
			return fail(j, why);
		}
		if (rc == -EOWNERDEAD) { /* waiting for the renderer */
			snprintf(why, sizeof(why), "broker (pid %d) died", fb_broker_pid(j->p));
			(void)fb_fail(j->p, why);
			if (fb_supervised())
				return FB_EXIT_ABORTED; /* fb-render says it, once */
			fb_err(PROG, "broker (pid %d) died while renderer '%s' worked on frame %llu; "
			       "stopping", fb_broker_pid(j->p), o->src.argv[0], (unsigned long long)frame);
			return FB_EXIT_RUNTIME;
		}
		if (rc && o->src.kind == FB_SOURCE_EXEC)
			return renderer_failed(j, frame, rc);
		if (rc) {
			snprintf(why, sizeof(why), "producer %d: reading frame %llu of %s: %s",
				 (int)getpid(), (unsigned long long)frame, o->src.path,
				 rc == -EIO ? "file too short" : strerror(-rc));
			return fail(j, why);
		}
		rc = fb_publish(j->p, len);
		if (rc == -ECANCELED)
			return FB_EXIT_ABORTED;
		if (rc) {
			fb_err(PROG, "publishing frame %llu: %s", (unsigned long long)frame,
			       strerror(-rc));
			return FB_EXIT_RUNTIME;
		}
	}
	if (rc == -ECANCELED)
		return FB_EXIT_ABORTED;
	if (rc == -EOWNERDEAD) {
		/* Under fb-render (our parent, FB_RENDER_PID) the broker's death
		 * is fb-render's to say, once: leave as if aborted. */
		if (fb_supervised()) {
			fb_debug(PROG, "broker (pid %d) died; fb-render says so", fb_broker_pid(j->p));
			return FB_EXIT_ABORTED;
		}
		fb_err(PROG, "broker (pid %d) died; stopping", fb_broker_pid(j->p));
		return FB_EXIT_RUNTIME;
	}
	if (rc == -EPROTO) {
		fb_reason(j->p, why, sizeof(why));
		fb_err(PROG, "%s", why);
		return FB_EXIT_RUNTIME;
	}
	if (rc < 0) {
		fb_err(PROG, "claiming a frame: %s", strerror(-rc));
		return FB_EXIT_RUNTIME;
	}
	return FB_EXIT_OK;
}

/* Attach as fb-render asked (--fd) or by --name, and register.  0 with *P
 * set, else the exit code, having said why. */
static int attach(const struct producer_opts *o, fb_producer **p)
{
	char buf[FB_NAME_MAX + 256];
	int rc;

	if (o->seg_fd >= 0) {
		rc = fb_attach_fd(o->seg_fd, o->name, p);
		close(o->seg_fd); /* the handle needs it no longer */
	} else {
		rc = fb_attach(o->name, o->attach_timeout_ms, p);
	}
	if (rc == 0)
		return 0;
	if (rc == -EINVAL && fb_fault_from_env(FB_ROLE_PRODUCER, NULL, buf, sizeof(buf))) {
		fb_err(PROG, "%s", buf); /* the name was checked already: FB_FAULT it is */
		return FB_EXIT_USAGE;
	}
	if (rc == -EOWNERDEAD || rc == -ENOSPC || rc == -EBUSY) {
		fb_err(PROG, "cannot register with segment %s: %s", o->name,
		       rc == -EOWNERDEAD ? "its broker is gone (stale segment)" : strerror(-rc));
		return FB_EXIT_RUNTIME;
	}
	/* A refusal of what sits at the name (not a segment, not ours):
	 * nothing was touched.  By name, say what sits there and whose it is. */
	if (rc == -EMEDIUMTYPE || rc == -EPERM || rc == -EACCES || rc == -EXDEV) {
		fb_err(PROG, "cannot attach to segment %s: %s", o->name, o->seg_fd < 0 ?
		       fb_attach_strerror(o->name, rc, buf, sizeof(buf)) : fb_strerror(rc));
		return FB_EXIT_USAGE;
	}
	fb_err(PROG, "cannot attach to segment %s: %s", o->name, fb_strerror(rc));
	return FB_EXIT_RUNTIME;
}

int main(int argc, char **argv)
{
	struct renderer rend = { .pid = -1, .pid_fd = -1, .watch_fd = -1 };
	struct producer_opts o;
	struct job j = { .raw_fd = -1, .rend = &rend, .o = &o };
	int rc, code;

	if (parse_args(argc, argv, &o))
		return FB_EXIT_USAGE;
	if (o.src.kind == FB_SOURCE_RAW) {
		j.raw_fd = open(o.src.path, O_RDONLY | O_CLOEXEC);
		if (j.raw_fd < 0) {
			fb_err(PROG, "cannot open raw source %s: %s", o.src.path, strerror(errno));
			return FB_EXIT_USAGE;
		}
	}
	code = attach(&o, &j.p);
	if (code) /* 2: what sits at the name was refused (not a segment, not ours) */
		return code;
	fb_get_geometry(j.p, &j.g);
	j.pix_fmt = fb_pixfmt_parse(j.g.pix_fmt);
	j.frame_format = fb_frame_format_parse(j.g.frame_format);
	if (j.frame_format != FB_FRAME_RAW && o.src.kind != FB_SOURCE_EXEC) {
		fb_err(PROG, "segment %s carries %s frames: only an exec: or sh: renderer can "
		       "produce them", o.name, j.g.frame_format);
		fb_detach(j.p);
		return FB_EXIT_USAGE;
	}
	if (o.src.kind == FB_SOURCE_EXEC) {
		/* A renderer gone is an error we handle, not a silent death. */
		signal(SIGPIPE, SIG_IGN);
		rc = renderer_start(&rend, o.src.argv, &j.g);
		rend.watch_fd = fb_broker_fd(j.p); /* -1 without pidfds */
		if (rc) {
			fb_err(PROG, "cannot run renderer '%s': %s", o.src.argv[0], strerror(-rc));
			fb_detach(j.p);
			return FB_EXIT_RUNTIME;
		}
	}
	code = produce(&j);
	renderer_stop(&rend, NULL, 0);
	fb_detach(j.p);
	if (j.raw_fd >= 0)
		close(j.raw_fd);
	return code;
}
