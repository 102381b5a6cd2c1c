/*
 * fb_node.c — the Node binding of libframebroker (bindings/node): an N-API
 * addon, built by `make node` with cc against the headers of the installed
 * nodejs (no node-gyp).  It exports a handful of plain functions on an
 * opaque handle; index.cjs wraps them in the public Producer class
 * (README.md there is the user's documentation).
 *
 * Design, and why:
 *  - One struct fbn per producer handle, owned jointly (a reference count)
 *    by the JS external that names it, the Buffer of the frame it holds
 *    and its uv_poll handle, so that the segment is never unmapped while a
 *    Buffer over a slot can still be read or a libuv callback can still run.
 *  - Zero copy: a claimed frame's `data` is an external Buffer over the slot
 *    itself, through the library's revocable view of it (fb_claim_view, a
 *    second mapping of the slot's pages).  When the claim ends (publish,
 *    abort, the next claim, detach) its ArrayBuffer is detached
 *    (napi_detach_arraybuffer): every view of it has length 0 from then on.
 *    Detaching is not enough: native code that took the Buffer's address
 *    before (an fs.read in flight on the thread pool, an addon) still
 *    writes there.  So the library also cuts the view off the slot, inside
 *    the call that ends the claim, before the frame is handed on: the
 *    address becomes private memory, unmapped (fb_view_free) only when the
 *    ArrayBuffer is collected (Node keeps a Buffer reachable while native
 *    code uses it).  A late write lands there, never in a slot.  A Buffer
 *    already collected when its claim ends needs no cut (fb_view_drop).
 *  - The wait never blocks the event loop, and the library handle is only
 *    ever used from the JS thread: claim() first tries fb_claim_timed(p, 0)
 *    with the handle's fb_claim_fd descriptor in use; on -EAGAIN the library
 *    leaves the blocking claim to its own waiting thread and we watch the
 *    descriptor with a uv_poll on Node's loop.  When it becomes readable the
 *    frame is already ours, and fb_claim_timed(p, 0) returns it at once.
 *    No thread of the libuv pool is held, nothing polls the segment, and the
 *    wait counts as a sleeping producer exactly like a blocking fb_claim.
 *  - attach(), which may wait up to its timeout for the segment to appear,
 *    runs fb_attach on the libuv thread pool (napi async work); the handle
 *    does not exist before it returns, so no thread shares it.
 */
#define NAPI_VERSION 8 /* napi_detach_arraybuffer needs >= 7; Node 20 has 9 */
#include <node_api.h>
#include <uv.h>

#include "framebroker.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The default attach wait when the caller gives none (milliseconds). */
#define FBN_ATTACH_TIMEOUT_MS 5000

/* The memory one claim's Buffer points at (the library's view), shared by
 * the claim (until it ends) and its ArrayBuffer's finalizer (until it is
 * collected); whichever comes second frees it. */
struct fbn_mem {
	void *addr;       /* NULL: the library unmapped it (not ours to free) */
	uint64_t slot_bytes;
	bool cut;  /* the claim ended: addr is our stand-in (fb_view_free) */
	bool gone; /* the ArrayBuffer was collected */
};

struct fbn {
	fb_producer *p;   /* NULL once detached (explicitly or at teardown) */
	napi_env env;
	struct fb_geometry g;
	int refs;         /* the external, a live claim Buffer, the open uv handle */
	bool held;        /* a frame is claimed and its Buffer valid */
	uint64_t frame;
	napi_ref ab;      /* weak: the held frame's ArrayBuffer, to detach it */
	struct fbn_mem *mem;      /* the held frame's memory, or NULL */
	napi_deferred pending; /* the claim() waiting on the descriptor, or NULL */
	napi_ref self;    /* strong, while a claim waits: the external stays alive */
	napi_async_context actx; /* the callback scope the poll settles promises in */
	bool have_actx;
	uv_poll_t poll;
	bool poll_open;   /* uv_poll_init done, uv_close not yet */
	bool hook;        /* the env cleanup hook is registered */
};

/* A call that ends the held claim is next: a Buffer already collected
 * needs no cut, the library keeps its view for the slot's next claim. */
static void before_end(struct fbn *n)
{
	if (n->p && n->mem && n->mem->gone)
		(void)fb_view_drop(n->p);
}

/* The held claim ended (its view cut, or kept: before_end): the memory
 * goes to its ArrayBuffer's finalizer, or is freed now if that ran.
 * LOST: the library could not cut the view and unmapped it itself
 * (fb_detach's -EFAULT) — the finalizer must not unmap that range again. */
static void mem_ended(struct fbn *n, bool lost)
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

/* fb_detach, the held claim's view first cut by it (or kept). */
static void detach_lib(struct fbn *n)
{
	int rc;

	if (!n->p)
		return;
	before_end(n);
	rc = fb_detach(n->p);
	n->p = NULL;
	mem_ended(n, rc == -EFAULT);
}

/* Drop one of the struct's owners; the last one detaches and frees (a
 * claim never ended: the handle and its Buffer were collected together). */
static void fbn_release(struct fbn *n)
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

/* ---- errors ------------------------------------------------------------ */

/* Throwing or rejecting with an Error that has code (the errno name, as
 * Node's own errors) and errno (negative, as Node's).  RC < 0. */
static napi_value make_error(napi_env env, int rc, const char *msg)
{
	const char *name = rc < 0 ? strerrorname_np(-rc) : NULL;
	napi_value code, text, err, num;

	if (napi_create_string_utf8(env, name ? name : "EUNKNOWN", NAPI_AUTO_LENGTH, &code) != napi_ok ||
	    napi_create_string_utf8(env, msg, NAPI_AUTO_LENGTH, &text) != napi_ok ||
	    napi_create_error(env, code, text, &err) != napi_ok)
		return NULL;
	if (napi_create_int32(env, rc, &num) == napi_ok)
		(void)napi_set_named_property(env, err, "errno", num);
	return err;
}

/* The message for a library error on handle N: for -ECANCELED the render's
 * recorded cause (fb_reason), else fb_strerror.  WHAT names the call. */
static napi_value lib_error(napi_env env, struct fbn *n, const char *what, int rc)
{
	char reason[256], msg[400];

	if (rc == -ECANCELED && n && n->p && fb_reason(n->p, reason, sizeof(reason)) == 0)
		snprintf(msg, sizeof(msg), "%s: %s: %s", what, fb_strerror(rc), reason);
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, fb_strerror(rc));
	return make_error(env, rc, msg);
}

static napi_value throw_value(napi_env env, napi_value err)
{
	if (err)
		napi_throw(env, err);
	return NULL;
}

static napi_value throw_type(napi_env env, const char *msg)
{
	napi_throw_type_error(env, NULL, msg);
	return NULL;
}

/* A promise already rejected with ERR (a state error of claim()). */
static napi_value rejected(napi_env env, napi_value err)
{
	napi_deferred d;
	napi_value promise;

	if (napi_create_promise(env, &d, &promise) != napi_ok)
		return NULL;
	napi_reject_deferred(env, d, err);
	return promise;
}

/* ---- the handle -------------------------------------------------------- */

/* Argument 0 of every call but attach: the external naming the handle. */
static struct fbn *arg_handle(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	napi_value args[3];
	size_t argc = 3;
	void *n = NULL;
	napi_valuetype t;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok)
		return NULL;
	if (argc < 1 || napi_typeof(env, args[0], &t) != napi_ok || t != napi_external ||
	    napi_get_value_external(env, args[0], &n) != napi_ok || !n) {
		throw_type(env, "framebroker: not a producer handle");
		return NULL;
	}
	for (size_t i = 1; i < want; i++)
		argv[i - 1] = i < argc ? args[i] : NULL;
	return n;
}

static void on_mem_gone(napi_env env, void *data, void *hint)
{
	struct fbn_mem *m = data;

	(void)env;
	(void)hint;
	if (!m->cut) {
		m->gone = true; /* still claimed: mem_ended frees it */
		return;
	}
	if (m->addr)
		(void)fb_view_free(m->addr, m->slot_bytes);
	free(m);
}

/* The handle's claim is over (published, given back, taken back): its
 * Buffer becomes a detached, zero-length view (the library cut the memory
 * off the slot already, unless nothing could refer to it any more). */
static void end_claim(napi_env env, struct fbn *n)
{
	napi_value ab;

	n->held = false;
	if (n->ab) {
		if (napi_get_reference_value(env, n->ab, &ab) == napi_ok && ab)
			(void)napi_detach_arraybuffer(env, ab);
		napi_delete_reference(env, n->ab);
		n->ab = NULL;
	}
	mem_ended(n, false);
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
static napi_value claimed_value(napi_env env, struct fbn *n, uint64_t frame, void *data)
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

/* After a call that ends the held claim: end_claim — unless the claim goes
 * on (GOES_ON: a refused length, a view the library could not cut).  Then
 * the same view keeps its Buffer; but after fb_publish's other -EFAULT (the
 * view could not be put back after a refused length: the old one is a
 * stand-in, ours) the old Buffer ends and the claim, still the library's,
 * goes on with a fresh Buffer over its new view — returned, for the error
 * thrown to carry (else NULL).  A claim that cannot get one is given back:
 * held must never be false while the library holds the claim. */
static napi_value after_end(napi_env env, struct fbn *n, bool goes_on)
{
	napi_value buf;
	uint64_t frame = n->frame;
	void *view;

	if (!goes_on || !n->mem) {
		end_claim(env, n);
		return NULL;
	}
	if (fb_claim_view(n->p, &view) == 0 && view == n->mem->addr) {
		before_end(n); /* fb_claim_view undid the drop */
		return NULL;
	}
	end_claim(env, n); /* the old Buffer detached, its stand-in its finalizer's */
	if ((buf = claim_buffer(env, n, frame)))
		return buf;
	before_end(n);
	(void)fb_abort_claim(n->p);
	end_claim(env, n);
	return NULL;
}

/* What claim()'s promise settles with for fb_claim_timed's RC. */
static void settle(napi_env env, struct fbn *n, napi_deferred d, int rc, uint64_t frame, void *data)
{
	napi_value v = NULL;

	if (rc == 1) {
		v = claimed_value(env, n, frame, data);
		if (!v) {
			/* Could not make the Buffer: give the frame back. */
			before_end(n);
			(void)fb_abort_claim(n->p);
			end_claim(env, n);
			napi_reject_deferred(env, d, make_error(env, -ENOMEM, "claim: cannot make the slot's Buffer"));
			return;
		}
		napi_resolve_deferred(env, d, v);
	} else if (rc == 0) {
		napi_get_null(env, &v);
		napi_resolve_deferred(env, d, v);
	} else {
		napi_reject_deferred(env, d, lib_error(env, n, "claim", rc));
	}
}

/* The pending claim is settled or abandoned: the external may go. */
static void unpend(napi_env env, struct fbn *n)
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
		unpend(env, n);
		settle(env, n, d, rc, frame, data);
		napi_close_callback_scope(env, cs);
	}
	napi_close_handle_scope(env, hs);
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
		unpend(env, n);
		napi_reject_deferred(env, d, make_error(env, -EBADF,
			"claim: the producer was detached while claim() waited"));
	}
	close_poll(n);
	detach_lib(n);
	end_claim(env, n);
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

/* ---- attach ------------------------------------------------------------ */

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
			napi_reject_deferred(env, j->d, make_error(env, -ENOMEM, "attach: out of memory"));
		}
	} else {
		int rc = status == napi_ok ? j->rc : -ECANCELED;

		snprintf(msg, sizeof(msg), "attach %s: %s", name ? name : "(FB_SEGMENT unset)",
			 fb_attach_strerror(name, rc, buf, sizeof(buf)));
		napi_reject_deferred(env, j->d, make_error(env, rc, msg));
	}
	napi_delete_async_work(env, j->work);
	free(j->name);
	free(j);
}

/* attach(name | null, timeoutMs) -> Promise<handle> */
static napi_value js_attach(napi_env env, napi_callback_info info)
{
	napi_value args[2], promise, rname;
	size_t argc = 2, len;
	napi_valuetype t = napi_undefined;
	struct attach_job *j = calloc(1, sizeof(*j));
	double ms = FBN_ATTACH_TIMEOUT_MS;
	bool pending;

	if (!j)
		return throw_value(env, make_error(env, -ENOMEM, "attach: out of memory"));
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
		return throw_type(env, "attach: the name must be a string (or omitted)");
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
		napi_reject_deferred(env, j->d, make_error(env, -ENOMEM, "attach: cannot queue the wait"));
		napi_delete_async_work(env, j->work);
		free(j->name);
		free(j);
	}
	return promise;
fail:
	free(j->name);
	free(j);
	if (napi_is_exception_pending(env, &pending) == napi_ok && !pending)
		return throw_value(env, make_error(env, -ENOMEM, "attach: out of resources"));
	return NULL;
}

/* ---- the producer's calls ---------------------------------------------- */

static napi_value num(napi_env env, double v)
{
	napi_value r;

	return napi_create_double(env, v, &r) == napi_ok ? r : NULL;
}

static napi_value str(napi_env env, const char *s)
{
	napi_value r;

	return napi_create_string_utf8(env, s ? s : "", NAPI_AUTO_LENGTH, &r) == napi_ok ? r : NULL;
}

/* geometry(h) -> the render's geometry (fixed for its life) */
static napi_value js_geometry(napi_env env, napi_callback_info info)
{
	struct fbn *n = arg_handle(env, info, 1, NULL);
	const struct fb_geometry *g;
	napi_value o;

	if (!n || napi_create_object(env, &o) != napi_ok)
		return NULL;
	g = &n->g;
	napi_set_named_property(env, o, "width", num(env, g->width));
	napi_set_named_property(env, o, "height", num(env, g->height));
	napi_set_named_property(env, o, "pixFmt", str(env, g->pix_fmt));
	napi_set_named_property(env, o, "fps", num(env, g->fps));
	napi_set_named_property(env, o, "fpsNum", num(env, g->fps_num));
	napi_set_named_property(env, o, "fpsDen", num(env, g->fps_den));
	napi_set_named_property(env, o, "slots", num(env, g->slots));
	napi_set_named_property(env, o, "frames", num(env, (double)g->frames));
	napi_set_named_property(env, o, "frameBytes", num(env, (double)g->frame_bytes));
	napi_set_named_property(env, o, "slotBytes", num(env, (double)g->slot_bytes));
	napi_set_named_property(env, o, "frameFormat", str(env, g->frame_format));
	napi_set_named_property(env, o, "first", num(env, (double)g->first));
	napi_set_named_property(env, o, "end", num(env, (double)g->end));
	return o;
}

static napi_value detached_error(napi_env env, const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: the producer is detached", what);
	return make_error(env, -EBADF, msg);
}

/* arg_handle for WHAT, a call that throws EBADF on a detached producer:
 * NULL once something was thrown. */
static struct fbn *attached(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
			    const char *what)
{
	struct fbn *n = arg_handle(env, info, want, argv);

	if (n && !n->p) {
		throw_value(env, detached_error(env, what));
		return NULL;
	}
	return n;
}

/* claim(h) -> Promise<{frame, data} | null> */
static napi_value js_claim(napi_env env, napi_callback_info info)
{
	struct fbn *n = arg_handle(env, info, 1, NULL);
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
		return rejected(env, detached_error(env, "claim"));
	if (n->pending)
		return rejected(env, make_error(env, -EBUSY,
			"claim: another claim() of this producer is still waiting (one at a time)"));
	/* A claim while holding one gives the held frame back (as fb_claim
	 * does), its Buffer with it. */
	if (n->held) {
		before_end(n);
		rc = fb_abort_claim(n->p);
		after_end(env, n, rc == -EFAULT);
		if (rc == -EFAULT)
			return rejected(env, lib_error(env, n, "claim", rc));
	}
	/* With the descriptor in use, a claim that cannot succeed at once is
	 * left to the library's waiting thread (-EAGAIN) instead of failing. */
	fd = fb_claim_fd(n->p);
	if (fd < 0)
		return rejected(env, lib_error(env, n, "claim", fd));
	if (napi_create_promise(env, &d, &promise) != napi_ok)
		return NULL;
	rc = fb_claim_timed(n->p, 0, &frame, &data);
	if (rc != -EAGAIN) {
		settle(env, n, d, rc, frame, data);
		return promise;
	}
	if (!n->poll_open) {
		if (napi_get_uv_event_loop(env, &loop) != napi_ok || (rc = uv_poll_init(loop, &n->poll, fd)) < 0) {
			napi_reject_deferred(env, d, make_error(env, rc < 0 ? rc : -ENOMEM,
								"claim: cannot watch the claim descriptor"));
			return promise;
		}
		n->poll.data = n;
		n->poll_open = true;
		n->refs++; /* the uv handle's; on_poll_closed releases it */
	}
	if ((rc = uv_poll_start(&n->poll, UV_READABLE, on_readable)) < 0) {
		napi_reject_deferred(env, d, make_error(env, rc, "claim: cannot watch the claim descriptor"));
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

/* What a call that ends the held claim (WHAT) returned, RC: the claim's
 * Buffer ends with it (after_end), and an error is thrown. */
static napi_value ended(napi_env env, struct fbn *n, const char *what, int rc)
{
	char msg[100];
	napi_value data = after_end(env, n, rc == -EFAULT), err;

	if (rc == -EINVAL) {
		snprintf(msg, sizeof(msg), "%s: no frame is claimed", what);
		return throw_value(env, make_error(env, rc, msg));
	}
	if (rc >= 0)
		return NULL;
	err = lib_error(env, n, what, rc);
	if (err && data) /* the claim goes on over a new view: its Buffer */
		(void)napi_set_named_property(env, err, "data", data);
	return throw_value(env, err);
}

/* publish(h, length) */
static napi_value js_publish(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct fbn *n = attached(env, info, 2, argv, "publish");
	double len;
	int rc;

	if (!n)
		return NULL;
	/* In range before the cast (2^64 and NaN would not convert). */
	if (!argv[0] || napi_get_value_double(env, argv[0], &len) != napi_ok ||
	    !(len >= 0 && len < 18446744073709551616.0) || len != (double)(uint64_t)len)
		return throw_type(env, "publish: the length must be a non-negative integer");
	before_end(n);
	rc = fb_publish(n->p, (uint64_t)len);
	if (rc == -EINVAL && n->held) {
		/* A bad length: the claim stays ours (and its Buffer valid). */
		char msg[200];

		after_end(env, n, true);
		if (len > (double)n->g.slot_bytes)
			snprintf(msg, sizeof(msg), "publish: length %.0f is over the slot's %llu bytes (the "
				 "frame is still claimed)", len, (unsigned long long)n->g.slot_bytes);
		else if (strcmp(n->g.frame_format, "raw") == 0)
			snprintf(msg, sizeof(msg), "publish: length %.0f refused: a raw frame is exactly %llu "
				 "bytes (the frame is still claimed)", len, (unsigned long long)n->g.frame_bytes);
		else
			snprintf(msg, sizeof(msg), "publish: length %.0f refused: an encoded frame is 1..%llu "
				 "bytes (the frame is still claimed)", len, (unsigned long long)n->g.slot_bytes);
		return throw_value(env, make_error(env, rc, msg));
	}
	return ended(env, n, "publish", rc);
}

/* abortClaim(h) */
static napi_value js_abort(napi_env env, napi_callback_info info)
{
	struct fbn *n = attached(env, info, 1, NULL, "abortClaim");

	if (!n)
		return NULL;
	before_end(n);
	return ended(env, n, "abortClaim", fb_abort_claim(n->p));
}

/* fail(h, reason) -> true if this call ended the render, false if it had
 * ended already */
static napi_value js_fail(napi_env env, napi_callback_info info)
{
	napi_value argv[1], r;
	struct fbn *n = attached(env, info, 2, argv, "fail");
	char reason[256];
	size_t len;
	int rc;

	if (!n)
		return NULL;
	if (!argv[0] || napi_get_value_string_utf8(env, argv[0], reason, sizeof(reason), &len) != napi_ok)
		return throw_type(env, "fail: the reason must be a string");
	rc = fb_fail(n->p, reason);
	if (rc < 0 && rc != -ECANCELED)
		return throw_value(env, lib_error(env, n, "fail", rc));
	return napi_get_boolean(env, rc == 0, &r) == napi_ok ? r : NULL;
}

/* held(h) -> the frame claimed now, or null (the async iterator's check) */
static napi_value js_held(napi_env env, napi_callback_info info)
{
	struct fbn *n = arg_handle(env, info, 1, NULL);
	napi_value r;

	if (!n)
		return NULL;
	if (n->p && n->held)
		return num(env, (double)n->frame);
	return napi_get_null(env, &r) == napi_ok ? r : NULL;
}

/* detach(h): idempotent */
static napi_value js_detach(napi_env env, napi_callback_info info)
{
	struct fbn *n = arg_handle(env, info, 1, NULL);

	if (!n)
		return NULL;
	if (n->hook) {
		napi_remove_env_cleanup_hook(env, on_env_teardown, n);
		n->hook = false;
	}
	detach_now(env, n);
	return NULL;
}

static napi_value js_version(napi_env env, napi_callback_info info)
{
	(void)info;
	return str(env, fb_version());
}

/* NAPI_MODULE_INIT defines the API-version entry point without declaring
 * it first (clang's -Wmissing-prototypes): declared here. */
NAPI_MODULE_EXPORT int32_t NODE_API_MODULE_GET_API_VERSION(void);

NAPI_MODULE_INIT()
{
	static const struct {
		const char *name;
		napi_callback fn;
	} fns[] = {
		{ "attach", js_attach },     { "geometry", js_geometry }, { "claim", js_claim },
		{ "publish", js_publish },   { "abortClaim", js_abort },  { "fail", js_fail },
		{ "held", js_held },         { "detach", js_detach },     { "version", js_version },
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		napi_value f;

		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok ||
		    napi_set_named_property(env, exports, fns[i].name, f) != napi_ok)
			return NULL;
	}
	return exports;
}
