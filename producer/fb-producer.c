/*
 * fb-producer — a capture process.  It attaches to the segment by name and
 * loops: claim the next frame (sleeping while the ring is full — this is the
 * back-pressure), render it straight into the claimed slot, publish it.  It
 * exits 0 when no frame is left to claim.
 *
 * Sources (common/fb_source.h): "pattern" (the built-in test card), "fill"
 * (frame i is bytes of value i mod 256: a render that costs only a memset)
 * "raw:PATH" (frame i is bytes [i*F, (i+1)*F) of PATH, read with pread
 * straight into the slot), or "exec:CMD" / "sh:CMD" (an external renderer
 * asked for each frame: renderer.h).  A renderer that dies or sends a short
 * frame costs that frame only: it is given back and the producer exits
 * FB_EXIT_RENDERER, which fb-render answers with a replacement.
 */
#include "fb_cli.h"
#include "fb_fault.h"
#include "fb_pixfmt.h"
#include "fb_ring.h"
#include "fb_source.h"
#include "fb_util.h"
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

/* Render the frame claimed as C into its slot; *LEN gets the bytes to
 * publish.  0 or -errno.  C->frame is the ring index; the source draws
 * frame first_frame + C->frame (they differ in a --range chunk).  The raw
 * source is read in two halves so the mid-render fault point lies between
 * them. */
static int render(struct fb_seg *seg, const struct fb_claim *c, const struct fb_source *src,
		  int raw_fd, struct renderer *rend, uint64_t *len)
{
	const struct fb_geom *g = &seg->geom;
	uint64_t frame = fb_geom_frame(g, c->frame);
	uint64_t half = g->frame_bytes / 2;
	off_t off = (off_t)(frame * g->frame_bytes);
	int rc;

	*len = g->frame_bytes;
	if (src->kind == FB_SOURCE_EXEC) {
		if (g->frame_format == FB_FRAME_RAW)
			rc = renderer_frame(rend, frame, c->data, g->frame_bytes);
		else
			rc = renderer_image(rend, g->frame_format, frame, c->data, g->slot_bytes,
					    len);
		fb_fault_point(seg, FB_STEP_MID_RENDER, c->frame);
		return rc;
	}
	if (src->kind != FB_SOURCE_RAW) {
		if (src->kind == FB_SOURCE_FILL)
			memset(c->data, (int)(frame & 0xff), g->frame_bytes);
		else
			fb_pattern_render(c->data, g->width, g->height, g->pix_fmt, frame);
		fb_fault_point(seg, FB_STEP_MID_RENDER, c->frame);
		return 0;
	}
	rc = fb_pread_all(raw_fd, c->data, half, off);
	fb_fault_point(seg, FB_STEP_MID_RENDER, c->frame);
	if (rc == 0)
		rc = fb_pread_all(raw_fd, c->data + half, g->frame_bytes - half,
				  off + (off_t)half);
	return rc;
}

/* The renderer failed (RC from renderer_frame) on claim C: give the frame
 * back, stop the renderer, say why.  Returns the exit code. */
static int renderer_failed(struct fb_seg *seg, const struct fb_claim *c, struct renderer *rend,
			   int rc, const struct producer_opts *o)
{
	const struct fb_geom *g = &seg->geom;
	const char *fmt = fb_frame_format_name(g->frame_format);
	char how[64] = "", what[96];

	(void)fb_ring_unclaim(seg, c);
	renderer_stop(rend, how, sizeof(how));
	if (rc == -EBADMSG)
		snprintf(what, sizeof(what), "sent something that is not one whole %s", fmt);
	else if (rc == -EOVERFLOW)
		snprintf(what, sizeof(what), "had sent more than the previous frame (stray bytes)");
	else if (rc == -EIO && g->frame_format == FB_FRAME_RAW)
		snprintf(what, sizeof(what), "sent a short frame (%llu bytes expected)",
			 (unsigned long long)g->frame_bytes);
	else if (rc == -EIO)
		snprintf(what, sizeof(what), "ended inside a %s image", fmt);
	else if (rc == -ECHILD)
		snprintf(what, sizeof(what), "died");
	else
		snprintf(what, sizeof(what), "stopped taking requests");
	fb_warn(PROG, "renderer '%s' %s at frame %llu (it %s); frame given back", o->src.argv[0],
	       what, (unsigned long long)fb_geom_frame(g, c->frame), how);
	return FB_EXIT_RENDERER;
}

/* An encoded frame larger than its slot: never truncated — the render
 * fails, naming the frame and both sizes.  Returns the exit code. */
static int frame_too_big(struct fb_seg *seg, const struct fb_claim *c, uint64_t len)
{
	char why[FB_REASON_MAX];

	snprintf(why, sizeof(why), "frame %llu is a %llu-byte %s, larger than its %llu-byte slot "
		 "(raise --slot-bytes)", (unsigned long long)fb_geom_frame(&seg->geom, c->frame),
		 (unsigned long long)len,
		 fb_frame_format_name(seg->geom.frame_format),
		 (unsigned long long)seg->geom.slot_bytes);
	if (!fb_ring_abort(seg, why))
		return FB_EXIT_ABORTED;
	fb_err(PROG, "%s", why);
	return FB_EXIT_RUNTIME;
}

/* The claim loop.  Returns the exit code. */
static int produce(struct fb_seg *seg, int raw_fd, struct renderer *rend,
		   const struct producer_opts *o)
{
	unsigned int seed = (unsigned int)getpid();
	struct fb_claim c;
	char why[FB_REASON_MAX];
	uint64_t len;
	int rc;

	while ((rc = fb_ring_claim(seg, &c)) == 1) {
		fb_fault_point(seg, FB_STEP_AFTER_CLAIM, c.frame);
		if (o->delay_ms || o->jitter_ms)
			usleep((useconds_t)(o->delay_ms + (o->jitter_ms ?
				rand_r(&seed) % (o->jitter_ms + 1) : 0)) * 1000);
		if (o->cpu_us)
			burn_cpu(o->cpu_us);
		rc = render(seg, &c, &o->src, raw_fd, rend, &len);
		if (rc == -EFBIG)
			return frame_too_big(seg, &c, len);
		if (rc == -EOWNERDEAD) { /* waiting for the renderer */
			snprintf(why, sizeof(why), "broker (pid %d) died", (int)seg->broker_pid);
			fb_ring_abort(seg, why);
			fb_err(PROG, "broker (pid %d) died while renderer '%s' worked on frame %llu; "
			       "stopping", (int)seg->broker_pid, o->src.argv[0],
			       (unsigned long long)fb_geom_frame(&seg->geom, c.frame));
			return FB_EXIT_RUNTIME;
		}
		if (rc && o->src.kind == FB_SOURCE_EXEC)
			return renderer_failed(seg, &c, rend, rc, o);
		if (rc) {
			snprintf(why, sizeof(why), "producer %d: reading frame %llu of %s: %s",
				 (int)getpid(), (unsigned long long)fb_geom_frame(&seg->geom, c.frame),
				 o->src.path,
				 rc == -EIO ? "file too short" : strerror(-rc));
			/* Only the first failure is the cause worth a line. */
			if (!fb_ring_abort(seg, why))
				return FB_EXIT_ABORTED;
			fb_err(PROG, "%s", why);
			return FB_EXIT_RUNTIME;
		}
		fb_fault_point(seg, FB_STEP_AFTER_RENDER, c.frame);
		rc = fb_ring_publish(seg, &c, len);
		if (rc == -ECANCELED)
			return FB_EXIT_ABORTED;
		fb_fault_point(seg, FB_STEP_AFTER_PUBLISH, c.frame);
		if (rc) {
			fb_err(PROG, "publishing frame %llu: %s",
			       (unsigned long long)fb_geom_frame(&seg->geom, c.frame),
			       strerror(-rc));
			return FB_EXIT_RUNTIME;
		}
	}
	if (rc == -ECANCELED)
		return FB_EXIT_ABORTED;
	if (rc == -EOWNERDEAD) {
		fb_err(PROG, "broker (pid %d) died; stopping", (int)seg->hdr->broker_pid);
		return FB_EXIT_RUNTIME;
	}
	if (rc == -EPROTO) {
		fb_ring_reason(seg, why, sizeof(why));
		fb_err(PROG, "%s", why);
		return FB_EXIT_RUNTIME;
	}
	if (rc < 0) {
		fb_err(PROG, "claiming a frame: %s", strerror(-rc));
		return FB_EXIT_RUNTIME;
	}
	return FB_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct renderer rend = { .pid = -1, .pid_fd = -1, .watch_fd = -1 };
	struct producer_opts o;
	struct fb_seg *seg;
	int raw_fd = -1, rc, code;

	if (parse_args(argc, argv, &o))
		return FB_EXIT_USAGE;
	if (o.src.kind == FB_SOURCE_RAW) {
		raw_fd = open(o.src.path, O_RDONLY | O_CLOEXEC);
		if (raw_fd < 0) {
			fb_err(PROG, "cannot open raw source %s: %s", o.src.path, strerror(errno));
			return FB_EXIT_USAGE;
		}
	}
	code = fb_seg_attach_worker(PROG, o.name, o.seg_fd, o.attach_timeout_ms, &seg);
	if (code) /* 2: what sits at the name was refused (not a segment, not ours) */
		return code;
	if (fb_fault_parse(getenv("FB_FAULT"), FB_ROLE_PRODUCER, &seg->fault)) {
		fb_err(PROG, "invalid FB_FAULT '%s': expected ROLE:STEP:FRAME", getenv("FB_FAULT"));
		fb_seg_detach(seg);
		return FB_EXIT_USAGE;
	}
	rc = fb_ring_register(seg, FB_ROLE_PRODUCER);
	if (rc == 1) { /* started after the render ended: nothing to do */
		fb_seg_detach(seg);
		return FB_EXIT_OK;
	}
	if (rc) {
		fb_err(PROG, "cannot register with segment %s: %s", o.name,
		       rc == -EOWNERDEAD ? "its broker is gone (stale segment)" : strerror(-rc));
		fb_seg_detach(seg);
		return FB_EXIT_RUNTIME;
	}
	if (seg->geom.frame_format != FB_FRAME_RAW && o.src.kind != FB_SOURCE_EXEC) {
		fb_err(PROG, "segment %s carries %s frames: only an exec: or sh: renderer can "
		       "produce them", o.name, fb_frame_format_name(seg->geom.frame_format));
		fb_ring_unregister(seg);
		fb_seg_detach(seg);
		return FB_EXIT_USAGE;
	}
	if (o.src.kind == FB_SOURCE_EXEC) {
		/* A renderer gone is an error we handle, not a silent death. */
		signal(SIGPIPE, SIG_IGN);
		rc = renderer_start(&rend, o.src.argv, &seg->geom);
		rend.watch_fd = seg->broker_fd; /* -1 without pidfds */
		if (rc) {
			fb_err(PROG, "cannot run renderer '%s': %s", o.src.argv[0], strerror(-rc));
			fb_ring_unregister(seg);
			fb_seg_detach(seg);
			return FB_EXIT_RUNTIME;
		}
	}
	code = produce(seg, raw_fd, &rend, &o);
	renderer_stop(&rend, NULL, 0);
	fb_ring_unregister(seg);
	fb_seg_detach(seg);
	if (raw_fd >= 0)
		close(raw_fd);
	return code;
}
