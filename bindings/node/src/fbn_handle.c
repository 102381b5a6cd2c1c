/*
 * fbn_handle.c — a producer handle's life in the Node binding: attach()
 * (fb_attach on the libuv pool, the handle made when it returns),
 * reference counting (the JS external, a live claim Buffer and the uv
 * handle each own the struct), detach() explicit, at collection, or at the
 * environment's teardown.
 */
#include "fb_node.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default attach wait when the caller gives none (milliseconds). */
#define FBN_ATTACH_TIMEOUT_MS 5000

/* fb_detach, the held claim's view first cut by it (or kept). */
static void detach_lib(struct fbn *n)
{
	int rc;

	if (!n->p)
		return;
	fbn_before_end(n);
	rc = fb_detach(n->p);
	n->p = NULL;
	fbn_mem_ended(n, rc == -EFAULT);
}

/* Drop one of the struct's owners; the last one detaches and frees (a
 * claim never ended: the handle and its Buffer were collected together). */
void fbn_release(struct fbn *n)
{
	if (--n->refs > 0)
		return;
	detach_lib(n);
	free(n);
}

static void on_poll_closed(uv_handle_t *h)
{
	fbn_release(h->data);
}

/* Close the uv handle (its close callback releases its reference). */
static void close_poll(struct fbn *n)
{
	if (!n->poll_open)
		return;
	n->poll_open = false;
	uv_poll_stop(&n->poll);
	uv_close((uv_handle_t *)&n->poll, on_poll_closed);
}

/* detach(): a waiting claim() is rejected, the held frame's Buffer
 * detached, the uv handle closed — before fb_detach closes the descriptor
 * it watches (libuv must not see that number again: it may be reused at
 * once) — then the library gives back any frame held, by us or by its
 * waiting thread (stopped within 250 ms: the only time detach blocks). */
static void detach_now(napi_env env, struct fbn *n)
{
	if (!n->p)
		return;
	if (n->pending) {
		napi_deferred d = n->pending;

		uv_poll_stop(&n->poll);
		fbn_unpend(env, n);
		napi_reject_deferred(env, d, fbn_error(env, -EBADF,
			"claim: the producer was detached while claim() waited"));
	}
	close_poll(n);
	detach_lib(n);
	fbn_end_claim(env, n);
	if (n->have_actx) {
		napi_async_destroy(env, n->actx);
		n->have_actx = false;
	}
}

/* The environment is torn down (process exit, a worker ending): leave the
 * render cleanly — unregistered, any held frame given back. */
static void on_env_teardown(void *arg)
{
	struct fbn *n = arg;

	n->hook = false;
	close_poll(n);
	/* A frame held: fb_detach cuts its memory before it gives the frame
	 * back (a write still in flight must not land in the next one). */
	detach_lib(n);
}

/* detach(h), explicit: the environment's cleanup is not needed any more. */
void fbn_detach(napi_env env, struct fbn *n)
{
	if (n->hook) {
		napi_remove_env_cleanup_hook(env, on_env_teardown, n);
		n->hook = false;
	}
	detach_now(env, n);
}

static void on_handle_gone(napi_env env, void *data, void *hint)
{
	struct fbn *n = data;

	(void)hint;
	if (n->hook) {
		napi_remove_env_cleanup_hook(env, on_env_teardown, n);
		n->hook = false;
	}
	if (n->have_actx) {
		napi_async_destroy(env, n->actx);
		n->have_actx = false;
	}
	close_poll(n);
	fbn_release(n); /* the external's; a live Buffer keeps the map */
}

struct attach_job {
	napi_async_work work;
	napi_deferred d;
	char *name; /* NULL: from the environment */
	int timeout_ms;
	int rc;
	fb_producer *p;
	bool nul; /* the name has a NUL inside: C would see only its start */
};

static void attach_execute(napi_env env, void *data)
{
	struct attach_job *j = data;

	(void)env;
	j->rc = j->nul ? -EINVAL : fb_attach(j->name, j->timeout_ms, &j->p);
}

static napi_value new_handle(napi_env env, fb_producer *p)
{
	struct fbn *n = calloc(1, sizeof(*n));
	napi_value ext, rname;

	if (!n)
		return NULL;
	n->p = p;
	n->env = env;
	n->refs = 1;
	fb_get_geometry(p, &n->g);
	if (napi_create_external(env, n, on_handle_gone, NULL, &ext) != napi_ok) {
		free(n);
		return NULL;
	}
	if (napi_create_string_utf8(env, "framebroker.claim", NAPI_AUTO_LENGTH, &rname) == napi_ok &&
	    napi_async_init(env, NULL, rname, &n->actx) == napi_ok)
		n->have_actx = true;
	if (napi_add_env_cleanup_hook(env, on_env_teardown, n) == napi_ok)
		n->hook = true;
	return ext;
}

static void attach_complete(napi_env env, napi_status status, void *data)
{
	struct attach_job *j = data;
	char buf[512], msg[700];
	const char *name = j->name ? j->name : getenv("FB_SEGMENT");

	if (status == napi_ok && j->rc == 0) {
		napi_value ext = new_handle(env, j->p);

		if (ext) {
			napi_resolve_deferred(env, j->d, ext);
		} else {
			fb_detach(j->p);
			napi_reject_deferred(env, j->d, fbn_error(env, -ENOMEM, "attach: out of memory"));
		}
	} else {
		int rc = status == napi_ok ? j->rc : -ECANCELED;

		snprintf(msg, sizeof(msg), "attach %s: %s", name ? name : "(FB_SEGMENT unset)",
			 fb_attach_strerror(name, rc, buf, sizeof(buf)));
		napi_reject_deferred(env, j->d, fbn_error(env, rc, msg));
	}
	napi_delete_async_work(env, j->work);
	free(j->name);
	free(j);
}

/* attach(name | null, timeoutMs) -> Promise<handle> */
napi_value fbn_js_attach(napi_env env, napi_callback_info info)
{
	napi_value args[2], promise, rname;
	size_t argc = 2, len;
	napi_valuetype t = napi_undefined;
	struct attach_job *j = calloc(1, sizeof(*j));
	double ms = FBN_ATTACH_TIMEOUT_MS;
	bool pending;

	if (!j)
		return fbn_throw(env, fbn_error(env, -ENOMEM, "attach: out of memory"));
	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok)
		goto fail;
	if (argc >= 1 && napi_typeof(env, args[0], &t) == napi_ok && t == napi_string) {
		if (napi_get_value_string_utf8(env, args[0], NULL, 0, &len) != napi_ok ||
		    !(j->name = malloc(len + 1)) ||
		    napi_get_value_string_utf8(env, args[0], j->name, len + 1, &len) != napi_ok)
			goto fail;
		/* "/render\0junk" is not "/render": refused, not truncated. */
		j->nul = strlen(j->name) != len;
	} else if (argc >= 1 && t != napi_undefined && t != napi_null) {
		free(j);
		return fbn_throw_type(env, "attach: the name must be a string (or omitted)");
	}
	if (argc >= 2 && napi_typeof(env, args[1], &t) == napi_ok && t == napi_number &&
	    napi_get_value_double(env, args[1], &ms) != napi_ok)
		goto fail;
	if (ms != ms) /* NaN: the default (the wrapper refuses it first) */
		ms = FBN_ATTACH_TIMEOUT_MS;
	j->timeout_ms = ms < 0 ? -1 : ms > 2147483647.0 ? 2147483647 : (int)ms;
	if (napi_create_string_utf8(env, "framebroker.attach", NAPI_AUTO_LENGTH, &rname) != napi_ok ||
	    napi_create_async_work(env, NULL, rname, attach_execute, attach_complete, j, &j->work) != napi_ok)
		goto fail;
	if (napi_create_promise(env, &j->d, &promise) != napi_ok) {
		napi_delete_async_work(env, j->work);
		goto fail;
	}
	if (napi_queue_async_work(env, j->work) != napi_ok) {
		/* A promise made is one to settle. */
		napi_reject_deferred(env, j->d, fbn_error(env, -ENOMEM, "attach: cannot queue the wait"));
		napi_delete_async_work(env, j->work);
		free(j->name);
		free(j);
	}
	return promise;
fail:
	free(j->name);
	free(j);
	if (napi_is_exception_pending(env, &pending) == napi_ok && !pending)
		return fbn_throw(env, fbn_error(env, -ENOMEM, "attach: out of resources"));
	return NULL;
}
