/* fb_stats — lock-free snapshots of a live render (see fb_stats.h). */
#include "fb_stats.h"
#include "fb_pixfmt.h"
#include "fb_args.h"

#include <errno.h>
#include <stdio.h>

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Racy reads of words the lock guards: the compiler must really load them
 * (they change under us), and a torn value only misleads a display. */
#define PEEK(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

const char *fb_stats_slot_state(uint32_t state)
{
	static const char *const names[] = { "EMPTY", "CLAIMED", "READY", "ENCODING", "REISSUE" };

	return state < 5 ? names[state] : "?";
}

const char *fb_stats_seg_state(uint32_t state)
{
	static const char *const names[] = { "INIT", "RUNNING", "DONE", "ABORTED" };

	return state < 4 ? names[state] : "?";
}

void fb_stats_read(const struct fb_seg *seg, struct fb_stats *st)
{
	const struct fb_header *h = seg->hdr;
	uint64_t now = fb_now_ns(), start = PEEK(h->start_ns), alive = 0, blocked = 0;

	memset(st, 0, sizeof(*st));
	st->state = atomic_load_explicit(&h->state, memory_order_acquire);
	st->elapsed_ns = start && start < now ? now - start : 0;
	st->emitted = PEEK(h->next_encode);
	st->claimed = PEEK(h->next_claim);
	st->reissued = PEEK(h->reissued);
	st->restarts = atomic_load_explicit(&h->restarts, memory_order_relaxed);
	st->segments_done = PEEK(h->segments_done);
	st->segments_redone = PEEK(h->segments_redone);
	st->frames_rerendered = PEEK(h->frames_rerendered);
	for (uint32_t s = 0; s < seg->geom.slot_count; s++) {
		struct fb_stats_slot *o = &st->slot[s];

		o->state = PEEK(h->slots[s].state);
		/* the render's frame number, as producers and users know it */
		o->frame = fb_geom_frame(&seg->geom, PEEK(h->slots[s].frame));
		o->owner = PEEK(h->slots[s].owner);
		if (o->state < 5)
			st->slots_by_state[o->state]++;
	}
	for (uint32_t i = 0; i < FB_MAX_PROCS; i++) {
		struct fb_stats_proc *p = &st->proc[st->nprocs];
		uint64_t since = PEEK(h->procs[i].since_ns);

		p->pid = PEEK(h->procs[i].pid);
		if (p->pid <= 0)
			continue;
		p->role = PEEK(h->procs[i].role);
		p->frames = PEEK(h->procs[i].frames);
		p->blocked_ns = PEEK(h->procs[i].blocked_ns);
		p->alive_ns = since && since < now ? now - since : 0;
		if (p->role == FB_ROLE_ENCODER)
			st->encoder_pid = p->pid;
		if (p->role == FB_ROLE_PRODUCER) {
			st->producers++;
			alive += p->alive_ns;
			blocked += p->blocked_ns < p->alive_ns ? p->blocked_ns : p->alive_ns;
		}
		st->nprocs++;
	}
	st->fps = st->elapsed_ns ? (double)st->emitted * 1e9 / (double)st->elapsed_ns : 0;
	st->blocked_share = alive ? (double)blocked / (double)alive : 0;
}

void fb_stats_json(FILE *out, const char *name, const struct fb_geom *g,
		   const struct fb_stats *st)
{
	const char *sep = "";

	/* NAME passed fb_shm_name_check: no character needs escaping. */
	fprintf(out, "{\"name\":\"%s\",\"state\":\"%s\",\"width\":%u,\"height\":%u,"
		"\"pix_fmt\":\"%s\",\"frame_format\":\"%s\",\"fps\":%.7g,\"fps_num\":%u,"
		"\"fps_den\":%u,\"frames\":%llu,"
		"\"chunk\":%s,\"first_frame\":%llu,\"render_frames\":%llu,"
		"\"slot_count\":%u,\"emitted\":%llu,\"claimed\":%llu,\"elapsed_s\":%.3f,"
		"\"encoder_fps\":%.3f,\"restarts\":%u,\"reissued\":%llu,\"segments_done\":%u,"
		"\"segments_redone\":%u,\"frames_rerendered\":%llu,"
		"\"producers_blocked_share\":%.4f,\"encoder_pid\":%d,\"slots\":[",
		name, fb_stats_seg_state(st->state), g->width, g->height,
		fb_pixfmt_name(g->pix_fmt), fb_frame_format_name(g->frame_format),
		(double)g->fps_num / (double)g->fps_den, g->fps_num, g->fps_den,
		(unsigned long long)g->total_frames, g->chunk ? "true" : "false",
		(unsigned long long)g->first_frame, (unsigned long long)g->render_frames,
		g->slot_count,
		(unsigned long long)st->emitted, (unsigned long long)st->claimed,
		(double)st->elapsed_ns / 1e9, st->fps, st->restarts,
		(unsigned long long)st->reissued, st->segments_done, st->segments_redone,
		(unsigned long long)st->frames_rerendered, st->blocked_share, (int)st->encoder_pid);
	for (uint32_t s = 0; s < g->slot_count; s++) {
		const struct fb_stats_slot *o = &st->slot[s];

		fprintf(out, "%s{\"slot\":%u,\"state\":\"%s\",\"frame\":%llu,\"owner\":%d}", sep, s,
			fb_stats_slot_state(o->state), (unsigned long long)o->frame, (int)o->owner);
		sep = ",";
	}
	fprintf(out, "],\"producers\":[");
	sep = "";
	for (uint32_t i = 0; i < st->nprocs; i++) {
		const struct fb_stats_proc *p = &st->proc[i];
		double secs = (double)p->alive_ns / 1e9;

		if (p->role != FB_ROLE_PRODUCER)
			continue;
		fprintf(out, "%s{\"pid\":%d,\"frames\":%llu,\"fps\":%.3f,\"blocked_share\":%.4f}",
			sep, (int)p->pid, (unsigned long long)p->frames,
			secs > 0 ? (double)p->frames / secs : 0,
			p->alive_ns ? (double)p->blocked_ns / (double)p->alive_ns : 0);
		sep = ",";
	}
	fprintf(out, "]}");
}

int fb_stats_cause_fd(int fd, char *buf, size_t len)
{
	/* Everything up to the slot records: identity, state, reason. */
	const size_t want = offsetof(struct fb_header, slots);
	struct fb_header *h = calloc(1, sizeof(*h));
	char reason[FB_REASON_MAX];
	struct stat st;
	ssize_t got;
	int rc = 0;

	if (!h || fstat(fd, &st) < 0) {
		free(h);
		return 0;
	}
	do
		got = pread(fd, h, want, 0);
	while (got < 0 && errno == EINTR);
	if (got == (ssize_t)want && h->magic == FB_MAGIC &&
	    atomic_load(&h->state) == FB_SEG_ABORTED && atomic_load(&h->reason_ready) == 1) {
		fb_reason_copy(reason, sizeof(reason), h->reason, sizeof(h->reason));
		snprintf(buf, len, "render aborted: %s", reason);
		rc = 1;
	} else if (got == (ssize_t)want && h->magic == FB_MAGIC &&
		   (uint64_t)st.st_size != h->segment_size) {
		snprintf(buf, len, "segment %s under the render (%llu bytes, made with %llu)",
			 (uint64_t)st.st_size < h->segment_size ? "truncated" : "resized",
			 (unsigned long long)st.st_size, (unsigned long long)h->segment_size);
		rc = 1;
	} else if ((uint64_t)st.st_size < sizeof(*h)) {
		snprintf(buf, len, "segment truncated under the render (%llu bytes left)",
			 (unsigned long long)st.st_size);
		rc = 1;
	}
	free(h);
	return rc;
}

/* FD's header into a fresh allocation, validated: NULL if it cannot be
 * read or is no valid segment (*G: its geometry). */
static struct fb_header *read_header(int fd, struct fb_geom *g)
{
	struct fb_header *h = malloc(sizeof(*h));
	const char *why;
	struct stat st;

	if (h && fstat(fd, &st) == 0 && fb_pread_all(fd, h, sizeof(*h), 0) == 0 &&
	    fb_seg_validate(h, (uint64_t)st.st_size, g, &why) == 0)
		return h;
	free(h);
	return NULL;
}

int fb_stats_frames_left(int fd, pid_t dead)
{
	struct fb_geom g;
	struct fb_header *h = read_header(fd, &g);
	int yes = 1;

	if (h && h->next_claim <= g.total_frames && h->reissue_pending <= g.slot_count) {
		yes = h->next_claim < g.total_frames || h->reissue_pending > 0;
		for (uint32_t s = 0; s < g.slot_count && !yes; s++)
			yes = h->slots[s].state == FB_SLOT_REISSUE ||
			      (h->slots[s].state == FB_SLOT_CLAIMED && h->slots[s].owner == dead);
	}
	free(h);
	return yes;
}

int fb_stats_unemitted(int fd)
{
	struct fb_geom g;
	struct fb_header *h = read_header(fd, &g);
	int yes = !h || h->next_encode < g.total_frames || h->rewind;

	free(h);
	return yes;
}

void fb_stats_redone(int fd, uint32_t *segments, uint64_t *frames)
{
	struct fb_geom g;
	struct fb_header *h = fd >= 0 ? read_header(fd, &g) : NULL;

	*segments = h ? h->segments_redone : 0;
	*frames = h ? h->frames_rerendered : 0;
	free(h);
}

int fb_stats_set_restarts(int fd, uint32_t n)
{
	struct fb_geom g;
	struct fb_header *h = read_header(fd, &g);

	if (!h)
		return -EINVAL;
	free(h);
	return fb_pwrite_all(fd, &n, sizeof(n), (off_t)offsetof(struct fb_header, restarts));
}
