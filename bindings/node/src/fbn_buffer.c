/*
 * fbn_buffer.c — a claim's Buffer (Node binding): an external Buffer over
 * the library's revocable view of the slot (fb_claim_view), detached when
 * the claim ends; its memory (struct fbn_mem) shared by the claim and the
 * ArrayBuffer's finalizer, whichever comes second frees it — unmapping it
 * only if the library says it is ours (a stand-in), never a range it had
 * to unmap itself.  fb_node.c's top comment says why.
 */
#include "fb_node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

/* A call that ends the held claim is next: a Buffer already collected
 * needs no cut, the library keeps its view for the slot's next claim. */
void fbn_before_end(struct fbn *n)
{
	if (n->p && n->mem && n->mem->gone)
		(void)fb_view_drop(n->p);
}

/* The held claim ended (its view cut, or kept: fbn_before_end): the memory
 * goes to its ArrayBuffer's finalizer, or is freed now if that ran.
 * LOST: the library could not cut the view and unmapped it itself
 * (fb_detach's -EFAULT) — the finalizer must not unmap that range again. */
void fbn_mem_ended(struct fbn *n, bool lost)
{
	struct fbn_mem *m = n->mem;

	if (!m)
		return;
	n->mem = NULL;
	if (lost)
		m->addr = NULL;
	if (m->gone)
		free(m);
	else
		m->cut = true;
}

static void on_mem_gone(napi_env env, void *data, void *hint)
{
	struct fbn_mem *m = data;

	(void)env;
	(void)hint;
	if (!m->cut) {
		m->gone = true; /* still claimed: fbn_mem_ended frees it */
		return;
	}
	if (m->addr)
		(void)fb_view_free(m->addr, m->slot_bytes);
	free(m);
}

/* The handle's claim is over (published, given back, taken back): its
 * Buffer becomes a detached, zero-length view (the library cut the memory
 * off the slot already, unless nothing could refer to it any more). */
void fbn_end_claim(napi_env env, struct fbn *n)
{
	napi_value ab;

	n->held = false;
	if (n->ab) {
		if (napi_get_reference_value(env, n->ab, &ab) == napi_ok && ab)
			(void)napi_detach_arraybuffer(env, ab);
		napi_delete_reference(env, n->ab);
		n->ab = NULL;
	}
	fbn_mem_ended(n, false);
}

static void on_buffer_gone(napi_env env, void *data, void *hint)
{
	(void)env;
	(void)data;
	fbn_release(hint);
}

/* A Buffer over the held claim's view (fb_claim_view), frame FRAME: the
 * claim's Buffer from now on.  NULL on failure (the caller gives the frame
 * back: nothing refers to the view, it is dropped, not cut). */
static napi_value claim_buffer(napi_env env, struct fbn *n, uint64_t frame)
{
	napi_value buf, ab;
	napi_typedarray_type type;
	size_t len, off;
	void *ptr, *view;
	struct fbn_mem *m;

	if (fb_claim_view(n->p, &view) < 0)
		return NULL;
	if (!(m = calloc(1, sizeof(*m)))) {
		(void)fb_view_drop(n->p); /* nothing over it: no cut when the frame goes back */
		return NULL;
	}
	m->addr = view;
	m->slot_bytes = n->g.slot_bytes;
	n->mem = m;
	n->held = true;
	n->frame = frame;
	/* Until the finalizer is added, a failure leaves no JS value over
	 * the memory (it is never returned): gone, the view is dropped, not cut. */
	m->gone = true;
	if (napi_create_external_buffer(env, (size_t)n->g.slot_bytes, m->addr, on_buffer_gone, n, &buf) !=
	    napi_ok)
		return NULL;
	n->refs++; /* the Buffer's; on_buffer_gone releases it */
	if (napi_get_typedarray_info(env, buf, &type, &len, &ptr, &ab, &off) != napi_ok ||
	    napi_create_reference(env, ab, 0, &n->ab) != napi_ok ||
	    napi_add_finalizer(env, ab, m, on_mem_gone, NULL, NULL) != napi_ok)
		return NULL;
	m->gone = false;
	return buf;
}

/* {frame, data}: the frame N just claimed, DATA its slot. */
napi_value fbn_claimed_value(napi_env env, struct fbn *n, uint64_t frame, void *data)
{
	napi_value obj, num, buf;

	(void)data; /* the slot itself: the Buffer is over its view */
	if (!(buf = claim_buffer(env, n, frame)) || napi_create_object(env, &obj) != napi_ok ||
	    napi_create_int64(env, (int64_t)frame, &num) != napi_ok ||
	    napi_set_named_property(env, obj, "frame", num) != napi_ok ||
	    napi_set_named_property(env, obj, "data", buf) != napi_ok)
		return NULL;
	return obj;
}

/* After a call that ends the held claim: fbn_end_claim — unless the claim goes
 * on (GOES_ON: a refused length, a view the library could not cut).  Then
 * the same view keeps its Buffer; but after fb_publish's other -EFAULT (the
 * view could not be put back after a refused length: the old one is a
 * stand-in, ours) the old Buffer ends and the claim, still the library's,
 * goes on with a fresh Buffer over its new view — returned, for the error
 * thrown to carry (else NULL).  A claim that cannot get one is given back:
 * held must never be false while the library holds the claim. */
napi_value fbn_after_end(napi_env env, struct fbn *n, bool goes_on)
{
	napi_value buf;
	uint64_t frame = n->frame;
	void *view;

	if (!goes_on || !n->mem) {
		fbn_end_claim(env, n);
		return NULL;
	}
	if (fb_claim_view(n->p, &view) == 0 && view == n->mem->addr) {
		fbn_before_end(n); /* fb_claim_view undid the drop */
		return NULL;
	}
	fbn_end_claim(env, n); /* the old Buffer detached, its stand-in its finalizer's */
	if ((buf = claim_buffer(env, n, frame)))
		return buf;
	fbn_before_end(n);
	(void)fb_abort_claim(n->p);
	fbn_end_claim(env, n);
	return NULL;
}

/* What a call that ends the held claim (WHAT) returned, RC: the claim's
 * Buffer ends with it (fbn_after_end), and an error is thrown. */
napi_value fbn_ended(napi_env env, struct fbn *n, const char *what, int rc)
{
	char msg[100];
	napi_value data = fbn_after_end(env, n, rc == -EFAULT), err;

	if (rc == -EINVAL) {
		snprintf(msg, sizeof(msg), "%s: no frame is claimed", what);
		return fbn_throw(env, fbn_error(env, rc, msg));
	}
	if (rc >= 0)
		return NULL;
	err = fbn_lib_error(env, n, what, rc);
	if (err && data) /* the claim goes on over a new view: its Buffer */
		(void)napi_set_named_property(env, err, "data", data);
	return fbn_throw(env, err);
}
