/*
 * segments — one ffmpeg per segment, and a dead ffmpeg's segment rendered
 * again in place (segments.h).  Ring indices (what the ring counts) and
 * absolute frames (what the files and the plan name) differ by the
 * render's first frame: a resumed render is a chunk of the whole.
 */
#include "segments.h"
#include "fb_fault.h"
#include "fb_plan.h"
#include "fb_rewind.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DRAIN_SLICE_MS 100

struct seg_run {
	struct fb_seg *seg;
	const struct encoder_opts *o;
	int stop_fd;
	int dir_fd;
	char ext[FB_PLAN_EXT_MAX + 1];
	uint32_t restarts;
	struct output pre; /* the next segment's ffmpeg, started early (start_next) */
	bool have_pre;
	uint64_t pre_a;    /* its first frame (ring index) */
};

/* The end (ring index) of the segment that begins at ring index A: the
 * grid's rule (fb_plan_segment_end), in absolute frames. */
static uint64_t segment_end(const struct fb_geom *g, uint64_t len, uint64_t a)
{
	const uint64_t first = g->first_frame;

	return fb_plan_segment_end(first + a, first, first + g->total_frames, len) - first;
}

/* The geometry ffmpeg is told for ring frames [A, B): a chunk of the
 * render, tagged and stamped with its absolute frames (ffmpeg_argv.h). */
static void segment_geom(struct fb_geom *sg, const struct fb_geom *g, uint64_t a, uint64_t b)
{
	*sg = *g;
	sg->first_frame = g->first_frame + a;
	sg->total_frames = b - a;
	sg->render_frames = g->chunk ? g->render_frames : g->total_frames;
	sg->chunk = 1;
}

/*
 * Take back every frame from ring index NEXT on and move the window back
 * to A (fb_rewind.h): the frames in flight are acquired and released
 * unwritten.  0, or -errno with WHY filled.
 */
static int rewind_to(struct seg_run *r, uint64_t next, uint64_t a, char *why, size_t why_len)
{
	struct fb_seg *seg = r->seg;
	uint32_t max = seg->geom.slot_count;
	struct fb_frame_ref batch[FB_MAX_SLOTS];
	int rc = fb_ring_rewind_begin(seg), n;

	while (rc == 0 && (rc = fb_ring_rewind_to(seg, a)) == -EAGAIN) {
		if (output_stop_requested(r->stop_fd, 0))
			return -EINTR;
		n = fb_ring_acquire(seg, next, batch, max, DRAIN_SLICE_MS);
		if (n == -EAGAIN) {
			rc = 0;
			continue;
		}
		if (n < 0)
			return n; /* aborted (-ECANCELED), corrupt (recorded), broker gone */
		rc = fb_ring_release(seg, next, (uint32_t)n);
		next += (uint64_t)n;
	}
	if (rc && rc != -ECANCELED && rc != -EINTR)
		snprintf(why, why_len, "rewinding the ring to frame %llu: %s",
			 (unsigned long long)(seg->geom.first_frame + a), strerror(-rc));
	return rc;
}

/* Start OUT, a new ffmpeg for segment [A, B) (ring indices), its .part
 * file removed first.  0, -ECANCELED, -ENOTCONN (said), or -errno with
 * WHY filled. */
static int start_segment(struct seg_run *r, uint64_t a, uint64_t b, struct output *out,
			 char *why, size_t why_len)
{
	const struct fb_geom *g = &r->seg->geom;
	char name[NAME_MAX + 1], path[PATH_MAX];
	struct fb_geom sg;
	int rc;

	*out = (struct output){ .fd = -1, .taken = a, .freed = a, .sunk = a };
	if (fb_plan_segment_name(name, sizeof(name), g->first_frame + a, g->first_frame + b,
				 r->ext, true) ||
	    (size_t)snprintf(path, sizeof(path), "%s/%s", r->o->segment_dir, name) >= sizeof(path)) {
		snprintf(why, why_len, "segment path too long in %s", r->o->segment_dir);
		return -ENAMETOOLONG;
	}
	if (unlinkat(r->dir_fd, name, 0) < 0 && errno != ENOENT) {
		rc = -errno;
		snprintf(why, why_len, "removing %s: %s", path, strerror(-rc));
		return rc;
	}
	segment_geom(&sg, g, a, b);
	rc = output_open(out, r->o, r->seg, &sg, path, r->stop_fd);
	return rc ? (rc == -2 ? -ECANCELED : -ENOTCONN) : 0;
}

/* The next segment's ffmpeg, started early (r->pre), is not wanted. */
static void drop_pre(struct seg_run *r)
{
	if (!r->have_pre)
		return;
	output_abandon(&r->pre);
	r->have_pre = false;
}

/*
 * Start the ffmpeg of the segment after [A, B) while this one's finishes
 * (x264 flushes its lookahead; the next one loads and waits for input):
 * no frame of it is written before this one is verified, so a rewind
 * still goes back to A at most.  Best effort: if it cannot start now, it
 * is started again in turn, and fails there.
 */
static void start_next(struct seg_run *r, uint64_t b)
{
	char why[FB_REASON_MAX];

	if (b >= r->seg->geom.total_frames || r->have_pre)
		return;
	r->pre_a = b;
	r->have_pre = start_segment(r, b, segment_end(&r->seg->geom, r->o->segment_frames, b),
				    &r->pre, why, sizeof(why)) == 0;
}

/*
 * Write segment [A, B) (ring indices) with its ffmpeg.  0 recorded;
 * -ERESTART its ffmpeg was killed by a signal (OUT released, *NEXT the
 * first frame not taken); else -errno with WHY filled.
 */
static int one_segment(struct seg_run *r, uint64_t a, uint64_t b, uint64_t *next, char *why,
		       size_t why_len)
{
	const struct fb_geom *g = &r->seg->geom;
	bool hold = b == g->total_frames;
	struct output out;
	int rc;

	if (r->have_pre && r->pre_a == a) {
		out = r->pre;
		r->have_pre = false;
	} else {
		drop_pre(r);
		rc = start_segment(r, a, b, &out, why, why_len);
		if (rc)
			return rc;
	}
	rc = output_drain(r->seg, &out, b, hold, why, why_len);
	if (rc == -EOWNERDEAD && output_stop_requested(r->stop_fd, 200))
		rc = -EINTR;
	if (rc == 0)
		start_next(r, b);
	rc = output_finish_ffmpeg(&out, r->o, rc, why, why_len);
	if (rc == 0)
		rc = fb_plan_record(r->dir_fd, g->first_frame + a, g->first_frame + b, r->ext, why,
				    why_len);
	if (rc == 0 && hold && output_release_held(r->seg, &out))
		rc = -ECANCELED;
	if (rc)
		drop_pre(r);
	if (rc == -EIO && out.ff.signo) {
		/* The rewind begins before the frames still held go back
		 * (model/ring.pml: the last frame is released only once its
		 * segment is verified, or while draining): released first, the
		 * last segment's frames would show the producers a finished
		 * ring (next_encode == total, no rewind), and they would leave
		 * for good before restart_segment takes the frames back. */
		*next = out.taken;
		if (fb_ring_rewind_begin(r->seg) || output_release_held(r->seg, &out))
			rc = -ECANCELED;
		else
			rc = -ERESTART;
		fb_fault_point(r->seg->fault, FB_STEP_FFMPEG_DIED, a);
	}
	output_close(&out);
	return rc;
}

/* ffmpeg died by a signal in segment [A, B): rewind and say so, or give
 * up past the budget.  0 (go again) or -errno with WHY filled. */
static int restart_segment(struct seg_run *r, uint64_t a, uint64_t b, uint64_t next, char *why,
			   size_t why_len)
{
	const uint64_t first = r->seg->geom.first_frame;
	char cause[FB_REASON_MAX];

	snprintf(cause, sizeof(cause), "%s", why);
	if (r->restarts >= r->o->max_restarts) {
		snprintf(why, why_len, "%.120s in segment %llu:%llu; %u restarts spent (--max-restarts)",
			 cause, (unsigned long long)(first + a), (unsigned long long)(first + b),
			 r->restarts);
		return -EIO;
	}
	r->restarts++;
	fb_warn(PROG, "%.120s in segment %llu:%llu, at frame %llu: a crash, not an error of its "
		"own, so the segment is started again (restart %u of %u)", cause,
		(unsigned long long)(first + a), (unsigned long long)(first + b),
		(unsigned long long)(first + next), r->restarts, r->o->max_restarts);
	return rewind_to(r, next, a, why, why_len);
}

int segments_encode(struct fb_seg *seg, const struct encoder_opts *o, int stop_fd, char *why,
		    size_t why_len, uint64_t *at)
{
	struct seg_run r = { .seg = seg, .o = o, .stop_fd = stop_fd, .dir_fd = -1 };
	const uint64_t total = seg->geom.total_frames;
	uint64_t a = 0, b, next = 0;
	bool redo = false, made;
	int rc = 0;

	*at = 0;
	if (!fb_plan_ext(o->output, r.ext)) {
		snprintf(why, why_len, "-o %s has no container extension to name segments by",
			 o->output);
		return -EINVAL;
	}
	r.dir_fd = fb_plan_dir_open(o->segment_dir, false, &made, why, why_len);
	if (r.dir_fd < 0)
		return -EINVAL;
	while (a < total) {
		b = segment_end(&seg->geom, o->segment_frames, a);
		rc = one_segment(&r, a, b, &next, why, why_len);
		if (rc == -ERESTART) {
			rc = restart_segment(&r, a, b, next, why, why_len);
			redo = true;
			if (rc)
				break;
			continue;
		}
		if (rc == -EIO && strncmp(why, "ffmpeg ", 7) == 0) {
			/* ffmpeg exited with a status, or failed its statistics:
			 * its own verdict on its input or its output, which a
			 * new ffmpeg would give again.  Said first: the quote
			 * of its lines may be cut. */
			char cause[FB_REASON_MAX];

			snprintf(cause, sizeof(cause), "%s", why);
			snprintf(why, why_len, "segment %llu:%llu: %s (ffmpeg's own error, not a "
				 "crash: not restarted)",
				 (unsigned long long)(seg->geom.first_frame + a),
				 (unsigned long long)(seg->geom.first_frame + b), cause);
		}
		if (rc)
			break;
		fb_ring_count_segment(seg, redo);
		fb_debug(PROG, "segment %llu:%llu written", (unsigned long long)(seg->geom.first_frame + a),
			 (unsigned long long)(seg->geom.first_frame + b));
		redo = false;
		a = b;
	}
	drop_pre(&r);
	*at = a;
	close(r.dir_fd);
	return rc;
}
