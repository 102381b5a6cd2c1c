/*
 * framebroker.c — the public producer library (include/framebroker.h): a
 * thin, opaque layer over the segment (fb_segment) and the ring protocol
 * (fb_ring), so external renderers never see the layout.
 */
#include "framebroker.h"
#include "fb_pixfmt.h"
#include "fb_ring.h"
#include "fb_segment.h"
#include "fb_util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct fb_producer {
	struct fb_seg *seg;
	struct fb_claim claim;
	int have_claim;
};

int fb_attach(const char *name, int timeout_ms, fb_producer **out)
{
	char canon[FB_NAME_MAX + 1];
	const char *why = NULL;
	fb_producer *p;
	int rc;

	/* "name" and "/name" are the same object, as for shm_open(3). */
	if (!name || !out || timeout_ms < 0 || fb_seg_name_canon(name, canon) < 0)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	rc = fb_seg_attach_wait(canon, -1, timeout_ms, &p->seg, &why);
	if (rc) {
		free(p);
		return rc;
	}
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
	default:
		return err < 0 ? strerror(-err) : "not an error code";
	}
}

const char *fb_version(void)
{
	return FB_VERSION_STRING;
}
