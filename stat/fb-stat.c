/*
 * fb-stat — look inside a live render: read its segment read-only (never
 * taking the lock, so looking can never stall it) and show the state of
 * every slot and its owner, per-producer frames, fps and time blocked on
 * back-pressure, the encoder's fps, restarts and reissues.  --json prints
 * one JSON object (one per line with --watch).
 */
#include "fb_cli.h"
#include "fb_pixfmt.h"
#include "fb_proc.h"
#include "fb_stats.h"
#include "fb_args.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define PROG "fb-stat"

struct stat_opts {
	char name[FB_NAME_MAX + 1];
	int json, watch, interval_ms;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: " PROG " /SEGMENT [--json] [--watch] [--interval MS]\n"
		"Show a live render: its slots and their owners, per-producer frames, fps and\n"
		"share of time blocked on back-pressure, the encoder's fps, restarts.\n"
		"  --json          one JSON object (with --watch: one per line)\n"
		"  --watch         repeat until the render ends or its segment is gone\n"
		"  --interval MS   between two --watch samples (default 1000)\n"
		"  --log-level L   quiet, error, warning, info (default) or debug\n"
		"  --version       print the version; --help: this text\n"
		"Exit: 0 shown; 1 no such render (or not a framebroker segment); 2 usage error,\n"
		"or what is at the name is no segment (a FIFO, a directory, ...) or unreadable.\n");
}

static int parse_args(int argc, char **argv, struct stat_opts *o)
{
	static const struct option own[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "watch", no_argument, NULL, 'w' },
		{ "interval", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	/* No shortopts: arguments are permuted, so the name may come first. */
	struct fb_cli cli = { .prog = PROG, .usage = usage, .own = own };
	uint64_t v;
	int c;

	memset(o, 0, sizeof(*o));
	o->interval_ms = 1000;
	while ((c = fb_cli_next(&cli, argc, argv)) > 0) {
		if (c == 'i') {
			if (fb_opt_u64(PROG, "interval", cli.arg, 10, 3600000, &v))
				return -1;
			o->interval_ms = (int)v;
		} else {
			*(c == 'j' ? &o->json : &o->watch) = 1;
		}
	}
	if (c < 0)
		return -1;
	if (optind != argc - 1) {
		fb_err(PROG, optind < argc ? "one segment name expected, got '%s' too" :
		       "a segment name is required%s", optind < argc ? argv[argc - 1] : "");
		return -1;
	}
	return fb_shm_name_arg(PROG, "segment name", argv[optind], o->name);
}

static double pct(double share)
{
	return 100.0 * share;
}

static void show_text(const char *name, const struct fb_geom *g, const struct fb_stats *st)
{
	char rate[32];

	fb_fps_str(rate, sizeof(rate), g->fps_num, g->fps_den);
	if (g->fps_den == 1)
		printf("%s  %s  %ux%u %s %s  %s fps\n", name, fb_stats_seg_state(st->state),
		       g->width, g->height, fb_pixfmt_name(g->pix_fmt),
		       fb_frame_format_name(g->frame_format), rate);
	else /* both: the exact rate, and what it is near */
		printf("%s  %s  %ux%u %s %s  %s fps (%.5g)\n", name, fb_stats_seg_state(st->state),
		       g->width, g->height, fb_pixfmt_name(g->pix_fmt),
		       fb_frame_format_name(g->frame_format), rate,
		       (double)g->fps_num / (double)g->fps_den);
	if (g->chunk)
		printf("chunk     frames %llu:%llu of a %llu-frame render\n",
		       (unsigned long long)g->first_frame,
		       (unsigned long long)(g->first_frame + g->total_frames),
		       (unsigned long long)g->render_frames);
	printf("frames    %llu / %llu emitted (%.1f%%), %llu claimed, %.1f fps, %.2f s\n",
	       (unsigned long long)st->emitted, (unsigned long long)g->total_frames,
	       pct((double)st->emitted / (double)g->total_frames), (unsigned long long)st->claimed,
	       st->fps, (double)st->elapsed_ns / 1e9);
	printf("slots     %u: %u empty, %u claimed, %u ready, %u encoding, %u reissue\n",
	       g->slot_count, st->slots_by_state[0], st->slots_by_state[1], st->slots_by_state[2],
	       st->slots_by_state[3], st->slots_by_state[4]);
	printf("producers %u, blocked %.1f%% of their time; restarts %u, reissued %llu; encoder pid %d\n",
	       st->producers, pct(st->blocked_share), st->restarts,
	       (unsigned long long)st->reissued, (int)st->encoder_pid);
	if (st->segments_done || st->segments_redone || st->frames_rerendered)
		printf("segments  %u written, %u of them redone after ffmpeg died; %llu frames "
		       "rendered again\n", st->segments_done, st->segments_redone,
		       (unsigned long long)st->frames_rerendered);
	for (uint32_t i = 0; i < st->nprocs; i++) {
		const struct fb_stats_proc *p = &st->proc[i];
		double secs = (double)p->alive_ns / 1e9;

		if (p->role == 1)
			printf("  producer %d: %llu frames, %.1f fps, blocked %.1f%%\n", (int)p->pid,
			       (unsigned long long)p->frames, secs > 0 ? (double)p->frames / secs : 0,
			       p->alive_ns ? pct((double)p->blocked_ns / (double)p->alive_ns) : 0);
	}
	for (uint32_t s = 0; s < g->slot_count; s++) {
		const struct fb_stats_slot *o = &st->slot[s];

		if (o->state == 0)
			printf("  slot %u: EMPTY\n", s);
		else
			printf("  slot %u: %s frame %llu%s", s, fb_stats_slot_state(o->state),
			       (unsigned long long)o->frame, o->owner > 0 ? "" : "\n");
		if (o->state != 0 && o->owner > 0)
			printf(" (producer %d)\n", (int)o->owner);
	}
}

int main(int argc, char **argv)
{
	struct stat_opts o;
	struct fb_stats *st = malloc(sizeof(*st));
	struct fb_seg *seg;
	const char *why;
	char buf[FB_NAME_MAX + 256];
	struct stat sb;
	int32_t broker_pid;
	uint64_t broker_start;
	int rc, code = FB_EXIT_OK;

	if (!st)
		return FB_EXIT_RUNTIME;
	if (parse_args(argc, argv, &o)) {
		free(st);
		return FB_EXIT_USAGE;
	}
	/* A render just starting may still be initialising its segment, or
	 * not have made it yet: `fb-render --name x ... & fb-stat x` pasted
	 * as one block runs fb-stat first.  Up to 2 s for either. */
	for (int tries = 0; ((rc = fb_seg_attach_readonly(o.name, &seg, &why)) == -EAGAIN ||
			     rc == -ENOENT) && tries < 40; tries++)
		usleep(50000);
	if (rc && fb_shm_refused(rc)) { /* not a segment, or not readable: at once */
		fb_err(PROG, "cannot read render %s: %s", o.name,
		       fb_shm_refusal(o.name, rc, buf, sizeof(buf)));
		free(st);
		return FB_EXIT_USAGE;
	}
	if (rc) {
		fb_err(PROG, "cannot read render %s: %s", o.name,
		       rc == -ENOENT ? "no such segment (is it running?)" : why ? why : strerror(-rc));
		free(st);
		return FB_EXIT_RUNTIME;
	}
	/* Looking at another user's segment harms nobody, so it is shown; but
	 * whoever may write it could have put anything there, pids included:
	 * say so rather than present it as a render's true state. */
	if (fb_shm_lstat(o.name, &sb) == 0 && fb_shm_check_owner(&sb))
		fb_warn(PROG, "%s: shown as found, but its owner or anyone who may write it could "
			"have forged any of it", fb_shm_refusal(o.name, -EPERM, buf, sizeof(buf)));
	broker_pid = seg->hdr->broker_pid;
	broker_start = seg->hdr->broker_start;
	for (;;) {
		fb_stats_read(seg, st);
		if (o.json) {
			fb_stats_json(stdout, o.name, &seg->geom, st);
			putchar('\n');
		} else {
			show_text(o.name, &seg->geom, st);
		}
		fflush(stdout);
		if (!o.watch || st->state == FB_SEG_DONE || st->state == FB_SEG_ABORTED)
			break;
		/* A broker killed outright leaves RUNNING behind for good. */
		if (!fb_proc_alive(broker_pid, broker_start)) {
			fb_err(PROG, "the broker of %s (pid %d) is gone; the render ended without "
			       "finishing", o.name, (int)broker_pid);
			code = FB_EXIT_RUNTIME;
			break;
		}
		/* The broker unlinks the name at the end; our mapping stays
		 * valid, so the last state is still shown. */
		usleep((useconds_t)o.interval_ms * 1000);
		if (!o.json)
			putchar('\n');
	}
	fb_seg_detach(seg);
	free(st);
	return code;
}
