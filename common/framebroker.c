/*
 * framebroker.c — the public producer library (include/framebroker.h): a
 * thin, opaque layer over the segment (fb_segment) and the ring protocol
 * (fb_ring), so external renderers never see the layout.
 */
#include "framebroker.h"
#include "fb_fault.h"
#include "fb_pixfmt.h"
#include "fb_ring.h"
#include "fb_segment.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

struct fb_producer {
	struct fb_seg *seg;
	struct fb_claim claim;
	int have_claim;
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

int fb_attach(const char *name, int timeout_ms, fb_producer **out)
{
	char canon[FB_NAME_MAX + 1];
	const char *why = NULL;
	fb_producer *p;
	int rc, fd = -1;

	if (!out || timeout_ms < 0)
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
	if (fb_seg_name_canon(name, canon) < 0)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	/* Through the descriptor when we have one (kept open: it is what a
	 * second fb_attach(NULL) uses again); else by name, waiting. */
	rc = fd >= 0 ? fb_seg_attach_inherited(fd, canon, &p->seg, &why)
		     : fb_seg_attach_wait(canon, -1, timeout_ms, &p->seg, &why);
	if (rc) {
		free(p);
		return rc;
	}
	/* Fault injection (tests, common/fb_fault.h) reaches a library
	 * producer as it does fb-producer: the ring's own steps (claim,
	 * publish).  A malformed FB_FAULT injects nothing. */
	if (fb_fault_parse(getenv("FB_FAULT"), FB_ROLE_PRODUCER, &p->seg->fault))
		p->seg->fault = (struct fb_fault){ 0 };
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

/* Give a held claim back; the handle holds none afterwards. */
static int give_back(fb_producer *p)
{
	int rc = fb_ring_unclaim(p->seg, &p->claim);

	p->have_claim = 0;
	return rc;
}

int fb_claim(fb_producer *p, uint64_t *frame, void **data)
{
	int rc;

	if (!p || !frame || !data)
		return -EINVAL;
	if (p->have_claim)
		(void)give_back(p); /* -ESTALE: it was taken back already */
	rc = fb_ring_claim(p->seg, &p->claim);
	if (rc != 1)
		return rc;
	p->have_claim = 1;
	*frame = fb_geom_frame(&p->seg->geom, p->claim.frame); /* the render's, not the ring's */
	*data = p->claim.data;
	return 1;
}

int fb_publish(fb_producer *p, uint64_t length)
{
	int rc;

	if (!p || !p->have_claim)
		return -EINVAL;
	rc = fb_ring_publish(p->seg, &p->claim, length);
	if (rc != -EINVAL) /* a bad length leaves the claim ours to retry */
		p->have_claim = 0;
	return rc;
}

int fb_abort_claim(fb_producer *p)
{
	if (!p || !p->have_claim)
		return -EINVAL;
	return give_back(p);
}

void fb_get_geometry(const fb_producer *p, struct fb_geometry *g)
{
	const struct fb_geom *s = &p->seg->geom;

	*g = (struct fb_geometry){
		.width = s->width, .height = s->height, .pix_fmt = fb_pixfmt_name(s->pix_fmt),
		.fps = fb_fps_rounded(s->fps_num, s->fps_den), .fps_num = s->fps_num,
		.fps_den = s->fps_den, .slots = s->slot_count, .frames = s->render_frames,
		.first = s->first_frame, .end = s->first_frame + s->total_frames,
		.frame_bytes = s->frame_bytes, .slot_bytes = s->slot_bytes,
		.frame_format = fb_frame_format_name(s->frame_format),
	};
}

void fb_detach(fb_producer *p)
{
	if (!p)
		return;
	if (p->have_claim)
		(void)give_back(p);
	fb_ring_unregister(p->seg);
	fb_seg_detach(p->seg);
	free(p);
}

const char *fb_strerror(int err)
{
	switch (err) {
	case 0:
		return "success";
	case -ENOENT:
		return "no such segment (is the render started, and its name right?)";
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
