/*
 * fbn_wait.c — claim() of the Node binding: tried at once, and when no
 * frame is free left to the library's waiting thread while a uv_poll on
 * its claim descriptor waits on Node's loop; the promise settles when the
 * frame is ours (never blocking the loop nor holding a pool thread).
 */
#include "fb_node.h"

#include <errno.h>

/* What claim()'s promise settles with for fb_claim_timed's RC. */
static void settle(napi_env env, struct fbn *n, napi_deferred d, int rc, uint64_t frame, void *data)
{
	napi_value v = NULL;

	if (rc == 1) {
		v = fbn_claimed_value(env, n, frame, data);
		if (!v) {
			/* Could not make the Buffer: give the frame back. */
			fbn_before_end(n);
			(void)fb_abort_claim(n->p);
			fbn_end_claim(env, n);
			napi_reject_deferred(env, d, fbn_error(env, -ENOMEM, "claim: cannot make the slot's Buffer"));
			return;
		}
		napi_resolve_deferred(env, d, v);
	} else if (rc == 0) {
		napi_get_null(env, &v);
		napi_resolve_deferred(env, d, v);
	} else {
		napi_reject_deferred(env, d, fbn_lib_error(env, n, "claim", rc));
	}
}

/* The pending claim is settled or abandoned: the external may go. */
void fbn_unpend(napi_env env, struct fbn *n)
{
	n->pending = NULL;
	if (n->self) {
		napi_delete_reference(env, n->self);
		n->self = NULL;
	}
}

/* The claim descriptor is readable: the library's waiting thread is done. */
static void on_readable(uv_poll_t *h, int status, int events)
{
	struct fbn *n = h->data;
	napi_env env = n->env;
	napi_handle_scope hs;
	napi_callback_scope cs;
	napi_value resource;
	napi_deferred d = n->pending;
	uint64_t frame = 0;
	void *data = NULL;
	int rc;

	(void)events;
	if (!d || !n->p) {
		uv_poll_stop(h);
		return;
	}
	rc = status < 0 ? status : fb_claim_timed(n->p, 0, &frame, &data);
	if (rc == -EAGAIN)
		return; /* not yet: keep watching */
	uv_poll_stop(h);
	/* Outside any JS call: a handle scope for the values, and a callback
	 * scope so the promise's reactions (microtasks) run when it closes. */
	if (napi_open_handle_scope(env, &hs) != napi_ok)
		return;
	if (napi_create_object(env, &resource) == napi_ok &&
	    napi_open_callback_scope(env, resource, n->actx, &cs) == napi_ok) {
		fbn_unpend(env, n);
		settle(env, n, d, rc, frame, data);
		napi_close_callback_scope(env, cs);
	}
	napi_close_handle_scope(env, hs);
}

/* claim(h) -> Promise<{frame, data} | null> */
napi_value fbn_js_claim(napi_env env, napi_callback_info info)
{
	struct fbn *n = fbn_arg_handle(env, info, 1, NULL);
	napi_value promise, ext, args[1];
	size_t argc = 1;
	napi_deferred d;
	uint64_t frame = 0;
	void *data = NULL;
	uv_loop_t *loop;
	int rc, fd;

	if (!n)
		return NULL;
	if (!n->p)
		return fbn_rejected(env, fbn_detached_error(env, "claim"));
	if (n->pending)
		return fbn_rejected(env, fbn_error(env, -EBUSY,
			"claim: another claim() of this producer is still waiting (one at a time)"));
	/* A claim while holding one gives the held frame back (as fb_claim
	 * does), its Buffer with it. */
	if (n->held) {
		fbn_before_end(n);
		rc = fb_abort_claim(n->p);
		fbn_after_end(env, n, rc == -EFAULT);
		if (rc == -EFAULT)
			return fbn_rejected(env, fbn_lib_error(env, n, "claim", rc));
	}
	/* With the descriptor in use, a claim that cannot succeed at once is
	 * left to the library's waiting thread (-EAGAIN) instead of failing. */
	fd = fb_claim_fd(n->p);
	if (fd < 0)
		return fbn_rejected(env, fbn_lib_error(env, n, "claim", fd));
	if (napi_create_promise(env, &d, &promise) != napi_ok)
		return NULL;
	rc = fb_claim_timed(n->p, 0, &frame, &data);
	if (rc != -EAGAIN) {
		settle(env, n, d, rc, frame, data);
		return promise;
	}
	if (!n->poll_open) {
		if (napi_get_uv_event_loop(env, &loop) != napi_ok || (rc = uv_poll_init(loop, &n->poll, fd)) < 0) {
			napi_reject_deferred(env, d, fbn_error(env, rc < 0 ? rc : -ENOMEM,
								"claim: cannot watch the claim descriptor"));
			return promise;
		}
		n->poll.data = n;
		n->poll_open = true;
		n->refs++; /* the uv handle's; on_poll_closed releases it */
	}
	if ((rc = uv_poll_start(&n->poll, UV_READABLE, on_readable)) < 0) {
		napi_reject_deferred(env, d, fbn_error(env, rc, "claim: cannot watch the claim descriptor"));
		return promise;
	}
	/* The external stays alive while the claim waits, whatever the
	 * caller keeps. */
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) == napi_ok && argc >= 1) {
		ext = args[0];
		(void)napi_create_reference(env, ext, 1, &n->self);
	}
	n->pending = d;
	return promise;
}
