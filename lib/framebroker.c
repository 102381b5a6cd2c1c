/*
 * framebroker.c — the public producer library (include/framebroker.h): a
 * thin, opaque layer over the segment (fb_segment) and the ring protocol
 * (fb_ring), so external renderers never see the layout.  fb-producer is
 * one of its clients: the claim loop, the fault steps around it and the
 * waits an event loop needs live here once.  (Over 500 lines because it is
 * the whole public API around one opaque struct; its parts — attach, the
 * claim and its waiting thread, errors and versions — share that struct.)
 */
#include "framebroker.h"
#include "fb_fault.h"
#include "fb_pixfmt.h"
#include "fb_ring.h"
#include "fb_segment.h"
#include "fb_guard.h"
#include "fb_util.h"
#include "fb_view.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

/*
 * A claim that cannot succeed at once, asked for without blocking forever,
 * is left to a thread (AHEAD): asleep in the ordinary fb_ring_claim, so it
 * counts as a sleeping producer like any other and uses the wake-up it gets
 * to claim; when it returns it writes the eventfd.  While it runs, the
 * handle's segment state is the thread's: the caller's calls only look at
 * AHEAD_DONE and the eventfd (and fb_fail, which takes no lock).
 */
struct fb_producer {
	struct fb_seg *seg;
	struct fb_claim claim;
	int have_claim;
	int efd;      /* fb_claim_fd's eventfd, -1 until needed */
	bool efd_set; /* its counter is non-zero (readable) */
	bool ahead;   /* the waiting thread exists (not joined yet) */
	pthread_t thread;
	atomic_int ahead_done; /* release: AHEAD_RC and AHEAD_CLAIM are written */
	int ahead_rc;
	struct fb_claim ahead_claim;
	struct fb_vset views; /* fb_claim_view's (lib/fb_view.h) */
};

/*
 * fb_attach(NULL, ...): the render that started us (fb-render --source
 * attach:CMD) put its segment's name in FB_SEGMENT and the descriptor we
 * inherited in FB_FD.  Returns the descriptor to attach through, -1 to
 * attach by name (no FB_FD, or it is not open here: a program the producer
 * itself ran, which inherited the variable but not the descriptor), or
 * -EINVAL for an FB_FD that is no descriptor number.
 */
static int env_fd(void)
{
	const char *s = getenv("FB_FD");
	uint64_t v;
	int fd;

	if (!s)
		return -1;
	if (fb_parse_u64(s, 0, 1 << 30, &v))
		return -EINVAL;
	fd = (int)v;
	if (fcntl(fd, F_GETFD) < 0)
		return -1;
	/* Ours from now on; not for the programs we run (they would
	 * inherit FB_FD, but must not also inherit the segment). */
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	return fd;
}

/* Attach P->seg through FD, or by NAME, waiting up to TIMEOUT_MS (< 0:
 * forever) while the segment does not exist yet or is being created. */
static int seg_attach(fb_producer *p, int fd, const char *canon, int timeout_ms)
{
	const char *why = NULL;
	int rc;

	if (fd >= 0)
		return fb_seg_attach_inherited(fd, canon, &p->seg, &why);
	do /* in hour-long steps, so "forever" needs no overflowing deadline */
		rc = fb_seg_attach_wait(canon, -1, timeout_ms < 0 ? 3600000 : timeout_ms, &p->seg,
					&why);
	while (timeout_ms < 0 && (rc == -ENOENT || rc == -EAGAIN));
	return rc;
}

/* Attach (through FD >= 0, else by CANON), arm FB_FAULT, register. */
static int attach(int fd, const char *canon, int timeout_ms, fb_producer **out)
{
	fb_producer *p = calloc(1, sizeof(*p));
	int rc;

	if (!p)
		return -ENOMEM;
	p->efd = -1;
	rc = seg_attach(p, fd, canon, timeout_ms);
	if (rc) {
		free(p);
		return rc;
	}
	fb_vset_init(&p->views, p->seg->geom.slot_count, p->seg->geom.slot_stride);
	/* Fault injection (tests, lib/fb_fault.h): every producer step,
	 * for fb-producer and any library producer alike.  A typo must not
	 * silently test nothing. */
	rc = fb_fault_from_env(FB_ROLE_PRODUCER, &p->seg->fault, NULL, 0);
	if (rc == 0)
		rc = fb_ring_register(p->seg, FB_ROLE_PRODUCER);
	if (rc < 0) {
		fb_seg_detach(p->seg);
		free(p);
		return rc;
	}
	/* rc == 1: the render is already over; fb_claim will say 0. */
	*out = p;
	return 0;
}

int fb_attach(const char *name, int timeout_ms, fb_producer **out)
{
	char canon[FB_NAME_MAX + 1];
	int fd = -1;

	if (!out)
		return -EINVAL;
	if (!name) {
		name = getenv("FB_SEGMENT");
		if (!name || !*name)
			return -EDESTADDRREQ;
		fd = env_fd();
		if (fd < -1)
			return fd;
	}
	/* "name" and "/name" are the same object, as for shm_open(3). */
	if (fb_shm_name_canon(name, canon) < 0)
		return -EINVAL;
	/* Through the descriptor when we have one (kept open: it is what a
	 * second fb_attach(NULL) uses again); else by name, waiting. */
	return attach(fd, canon, timeout_ms, out);
}

int fb_attach_fd(int fd, const char *name, fb_producer **out)
{
	char canon[FB_NAME_MAX + 1];

	if (!out || fd < 0)
		return fd < 0 && out ? -EBADF : -EINVAL;
	if (!name)
		name = getenv("FB_SEGMENT");
	if (name && *name) {
		if (fb_shm_name_canon(name, canon) < 0)
			return -EINVAL;
	} else {
		snprintf(canon, sizeof(canon), "/fd-%d", fd);
	}
	if (fcntl(fd, F_GETFD) < 0)
		return -EBADF;
	return attach(fd, canon, 0, out);
}

const char *fb_attach_strerror(const char *name, int err, char *buf, size_t len)
{
	char canon[FB_NAME_MAX + 1];
	size_t n;

	if (!buf || len == 0 || !name || !fb_shm_refused(err) || fb_shm_name_canon(name, canon) < 0)
		return fb_strerror(err);
	fb_shm_refusal(canon, err, buf, len);
	n = strlen(buf);
	if (err == -EPERM)
		snprintf(buf + n, len - n, ": a worker attaches by name only to a segment of its "
			 "own user that nobody else can write");
	return buf;
}

/* The claim is ending: its view (fb_claim_view), if any, is cut off the
 * slot first — before the frame can be anyone else's — or kept, dropped.
 * -EFAULT if it could not be cut (the claim stays ours). */
static int end_view(fb_producer *p)
{
	return fb_vset_end(&p->views) ? -EFAULT : 0;
}

/* Give a held claim back; the handle holds none afterwards. */
static int give_back(fb_producer *p)
{
	int rc = fb_ring_unclaim(p->seg, &p->claim);

	p->have_claim = 0;
	return rc;
}

/* The eventfd readable (a claim is worth trying) or not. */
static void efd_ready(fb_producer *p, bool ready)
{
	uint64_t v = 1;

	if (p->efd < 0 || p->efd_set == ready)
		return;
	/* Neither can fail: the counter never exceeds 1, and a read of a
	 * non-blocking eventfd that is set returns its value. */
	if (ready)
		(void)!write(p->efd, &v, sizeof(v));
	else
		(void)!read(p->efd, &v, sizeof(v));
	p->efd_set = ready;
}

static void *ahead_main(void *arg)
{
	fb_producer *p = arg;
	uint64_t one = 1;

	p->ahead_rc = fb_ring_claim(p->seg, &p->ahead_claim);
	atomic_store_explicit(&p->ahead_done, 1, memory_order_release);
	/* Cannot fail (see efd_ready); the caller sets efd_set when it
	 * joins us. */
	(void)!write(p->efd, &one, sizeof(one));
	return NULL;
}

/* Leave the claim to the waiting thread; the eventfd goes unreadable
 * until the thread is done.  0 or -errno. */
static int start_ahead(fb_producer *p)
{
	sigset_t all, old;
	int rc;

	if (p->efd < 0) {
		p->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->efd < 0)
			return -errno;
		p->efd_set = false;
	}
	efd_ready(p, false);
	atomic_store_explicit(&p->ahead_done, 0, memory_order_relaxed);
	/* Every signal blocked in the thread, so the program's handlers run
	 * where it expects them (SIGKILL and SIGSTOP, the fault steps, act on
	 * the whole process wherever they are raised). */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&p->thread, NULL, ahead_main, p);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc)
		return -rc;
	p->ahead = true;
	return 0;
}

/* The waiting thread is done: join it; its claim becomes the handle's.
 * Returns what its fb_ring_claim returned. */
static int join_ahead(fb_producer *p)
{
	pthread_join(p->thread, NULL);
	p->ahead = false;
	p->efd_set = true; /* it wrote the eventfd */
	if (p->ahead_rc == 1) {
		p->claim = p->ahead_claim;
		p->have_claim = 1;
	}
	return p->ahead_rc;
}

/* Wait up to TIMEOUT_MS (< 0: forever) for the waiting thread.  1 when it
 * is done, 0 when the time ran out, -errno if poll failed. */
static int wait_ahead(fb_producer *p, int timeout_ms)
{
	uint64_t end = fb_now_ns() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0) * 1000000ull;
	struct pollfd pfd = { .fd = p->efd, .events = POLLIN };

	while (!atomic_load_explicit(&p->ahead_done, memory_order_acquire)) {
		uint64_t now = fb_now_ns();
		int ms = timeout_ms < 0 ? -1 : now >= end ? 0 : (int)((end - now + 999999) / 1000000);

		if (timeout_ms == 0 || (timeout_ms > 0 && ms == 0))
			return 0;
		if (poll(&pfd, 1, ms) < 0 && errno != EINTR)
			return -errno;
	}
	return 1;
}

/* Stop the waiting thread (fb_detach): it returns -EAGAIN at its next look
 * at the words (nowait), within one wait slice; one extra post on `space`
 * makes that sooner (a spurious wake-up costs a sleeper only a re-check). */
static void stop_ahead(fb_producer *p)
{
	struct fb_header *h = p->seg->hdr;

	if (!p->ahead)
		return;
	__atomic_store_n(&p->seg->nowait, 1, __ATOMIC_SEQ_CST);
	if (!atomic_load_explicit(&p->ahead_done, memory_order_acquire) &&
	    fb_guard_sem_ok(p->seg, &h->space))
		sem_post(&h->space);
	(void)join_ahead(p);
	__atomic_store_n(&p->seg->nowait, 0, __ATOMIC_SEQ_CST);
}

/* One claim on P's segment, without waiting: 1, 0, -EAGAIN or -errno. */
static int claim_now(fb_producer *p)
{
	int rc;

	__atomic_store_n(&p->seg->nowait, 1, __ATOMIC_RELEASE);
	rc = fb_ring_claim(p->seg, &p->claim);
	__atomic_store_n(&p->seg->nowait, 0, __ATOMIC_RELEASE);
	if (rc == 1)
		p->have_claim = 1;
	return rc;
}

int fb_claim_timed(fb_producer *p, int timeout_ms, uint64_t *frame, void **data)
{
	int rc;

	if (!p || !frame || !data)
		return -EINVAL;
	if (p->have_claim) {
		if (end_view(p))
			return -EFAULT;
		(void)give_back(p); /* -ESTALE: it was taken back already */
	}
	if (!p->ahead) {
		if (timeout_ms < 0) { /* the plain blocking claim: spin, then sleep */
			rc = fb_ring_claim(p->seg, &p->claim);
			p->have_claim = rc == 1;
			goto out;
		}
		rc = claim_now(p);
		if (rc != -EAGAIN)
			goto out;
		/* Nothing free: leave the wait to the thread when someone can
		 * hear it finish — the descriptor, or our own bounded wait. */
		if (timeout_ms == 0 && p->efd < 0)
			return -EAGAIN;
		rc = start_ahead(p);
		if (rc)
			return rc;
	}
	rc = wait_ahead(p, timeout_ms);
	if (rc <= 0)
		return rc < 0 ? rc : timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
	rc = join_ahead(p);
out:
	efd_ready(p, true);
	if (rc != 1)
		return rc;
	fb_fault_point(p->seg->fault, FB_STEP_AFTER_CLAIM, p->claim.frame);
	*frame = fb_geom_frame(&p->seg->geom, p->claim.frame); /* the render's, not the ring's */
	*data = p->claim.data;
	return 1;
}

int fb_claim(fb_producer *p, uint64_t *frame, void **data)
{
	return fb_claim_timed(p, -1, frame, data);
}

int fb_claim_fd(fb_producer *p)
{
	if (!p)
		return -EINVAL;
	if (p->efd < 0) {
		/* Created readable: the first claim is always worth trying. */
		p->efd = eventfd(1, EFD_CLOEXEC | EFD_NONBLOCK);
		if (p->efd < 0)
			return -errno;
		p->efd_set = true;
	}
	return p->efd;
}

int fb_publish(fb_producer *p, uint64_t length)
{
	int rc;

	if (!p || !p->have_claim)
		return -EINVAL;
	fb_fault_point(p->seg->fault, FB_STEP_AFTER_RENDER, p->claim.frame);
	if (end_view(p))
		return -EFAULT;
	rc = fb_ring_publish(p->seg, &p->claim, length);
	if (rc == -EINVAL) /* a bad length leaves the claim ours to retry, its view back */
		return fb_vset_restore(&p->views) ? -EFAULT : rc;
	p->have_claim = 0;
	if (rc == 0)
		fb_fault_point(p->seg->fault, FB_STEP_AFTER_PUBLISH, p->claim.frame);
	return rc;
}

int fb_abort_claim(fb_producer *p)
{
	if (!p || !p->have_claim)
		return -EINVAL;
	if (end_view(p))
		return -EFAULT;
	return give_back(p);
}

int fb_claim_view(fb_producer *p, void **view)
{
	if (!p || !view || !p->have_claim)
		return -EINVAL;
	return fb_vset_get(&p->views, p->claim.slot, p->claim.data, view);
}

int fb_view_drop(fb_producer *p)
{
	if (!p || !p->views.held)
		return -EINVAL;
	fb_vset_drop(&p->views);
	return 0;
}

int fb_view_free(void *view, uint64_t slot_bytes)
{
	return fb_vset_unmap(view, slot_bytes);
}

int fb_view_cut_all(fb_producer *p)
{
	return p ? fb_vset_cut_all(&p->views) : -EINVAL;
}

int fb_fail(fb_producer *p, const char *reason)
{
	if (!p || !reason)
		return -EINVAL;
	return fb_ring_abort(p->seg, reason) ? 0 : -ECANCELED;
}

int fb_reason(const fb_producer *p, char *buf, size_t len)
{
	if (!p || !buf || len == 0)
		return -EINVAL;
	fb_ring_reason(p->seg, buf, len);
	return 0;
}

int fb_broker_pid(const fb_producer *p)
{
	return p ? (int)p->seg->broker_pid : -EINVAL;
}

int fb_broker_fd(const fb_producer *p)
{
	return p ? p->seg->broker_fd : -EINVAL;
}

/* fb_fault.h: not exported (lib/framebroker.map), for fb-producer. */
void fb_fault_mid_render(fb_producer *p)
{
	if (p && p->have_claim)
		fb_fault_point(p->seg->fault, FB_STEP_MID_RENDER, p->claim.frame);
}

void fb_get_geometry(const fb_producer *p, struct fb_geometry *g)
{
	const struct fb_geom *s;

	if (!g)
		return;
	if (!p) {
		*g = (struct fb_geometry){ 0 };
		return;
	}
	s = &p->seg->geom;
	*g = (struct fb_geometry){
		.width = s->width, .height = s->height, .pix_fmt = fb_pixfmt_name(s->pix_fmt),
		.fps = fb_fps_rounded(s->fps_num, s->fps_den), .fps_num = s->fps_num,
		.fps_den = s->fps_den, .slots = s->slot_count, .frames = s->render_frames,
		.first = s->first_frame, .end = s->first_frame + s->total_frames,
		.frame_bytes = s->frame_bytes, .slot_bytes = s->slot_bytes,
		.frame_format = fb_frame_format_name(s->frame_format),
	};
}

int fb_detach(fb_producer *p)
{
	int rc;

	if (!p)
		return 0;
	stop_ahead(p);
	rc = fb_vset_fini(&p->views); /* before the frame goes back */
	if (p->have_claim)
		(void)give_back(p);
	fb_ring_unregister(p->seg);
	fb_seg_detach(p->seg);
	if (p->efd >= 0)
		close(p->efd);
	free(p);
	return rc;
}

const char *fb_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "no such segment (is the render started, and its name right?)";
	case -EAGAIN:
		return "not yet: the segment is still being created, or no frame is free right now";
	case -ETIMEDOUT:
		return "timed out: no frame became free in time";
	case -EPROTO:
		return "not a framebroker segment of this version, or a corrupt one";
	case -EOWNERDEAD:
		return "the render's broker is gone";
	case -ECANCELED:
		return "the render was aborted";
	case -ESTALE:
		return "the frame is no longer ours (held too long: given to another producer)";
	case -EINVAL:
		return "invalid argument";
	case -EBADF:
		return "not an open descriptor";
	case -EXDEV:
		return "the descriptor is another object than the segment of that name";
	case -ENOSPC:
		return "the render's process table is full";
	case -ENOMEM:
		return "out of memory";
	case -EFAULT:
		return "the frame's view could not be cut off its slot (the frame is still claimed)";
	case -FB_ENOTSEG:
		return "the name is not a shared-memory segment (a FIFO, a directory, a device "
		       "or a symlink sits there)";
	case -EPERM:
		return "the segment belongs to another user, or others may write it: not attached "
		       "by name";
	case -EACCES:
		return "the segment belongs to another user (permission denied)";
	case -EDESTADDRREQ:
		return "no segment named: the name is NULL and FB_SEGMENT is not set (not started "
		       "by fb-render --source attach:)";
	default:
		return err < 0 ? strerror(-err) : "not an error code";
	}
}

const char *fb_version(void)
{
	return FB_VERSION_STRING;
}

unsigned fb_version_major(void)
{
	return FB_VERSION_MAJOR;
}

unsigned fb_version_minor(void)
{
	return FB_VERSION_MINOR;
}

unsigned fb_version_patch(void)
{
	return FB_VERSION_PATCH;
}

unsigned long fb_version_number(void)
{
	return FB_VERSION_NUMBER(FB_VERSION_MAJOR, FB_VERSION_MINOR, FB_VERSION_PATCH);
}
