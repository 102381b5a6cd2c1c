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
 *
 * This file is the module (its exports) and the producer's synchronous
 * calls; fb_node.h lists the others, one concept each.
 */
#include "fb_node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

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
	struct fbn *n = fbn_arg_handle(env, info, 1, NULL);
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

/* publish(h, length) */
static napi_value js_publish(napi_env env, napi_callback_info info)
{
	napi_value argv[1];
	struct fbn *n = fbn_attached(env, info, 2, argv, "publish");
	double len;
	int rc;

	if (!n)
		return NULL;
	/* In range before the cast (2^64 and NaN would not convert). */
	if (!argv[0] || napi_get_value_double(env, argv[0], &len) != napi_ok ||
	    !(len >= 0 && len < 18446744073709551616.0) || len != (double)(uint64_t)len)
		return fbn_throw_type(env, "publish: the length must be a non-negative integer");
	fbn_before_end(n);
	rc = fb_publish(n->p, (uint64_t)len);
	if (rc == -EINVAL && n->held) {
		/* A bad length: the claim stays ours (and its Buffer valid). */
		char msg[200];

		fbn_after_end(env, n, true);
		if (len > (double)n->g.slot_bytes)
			snprintf(msg, sizeof(msg), "publish: length %.0f is over the slot's %llu bytes (the "
				 "frame is still claimed)", len, (unsigned long long)n->g.slot_bytes);
		else if (strcmp(n->g.frame_format, "raw") == 0)
			snprintf(msg, sizeof(msg), "publish: length %.0f refused: a raw frame is exactly %llu "
				 "bytes (the frame is still claimed)", len, (unsigned long long)n->g.frame_bytes);
		else
			snprintf(msg, sizeof(msg), "publish: length %.0f refused: an encoded frame is 1..%llu "
				 "bytes (the frame is still claimed)", len, (unsigned long long)n->g.slot_bytes);
		return fbn_throw(env, fbn_error(env, rc, msg));
	}
	return fbn_ended(env, n, "publish", rc);
}

/* abortClaim(h) */
static napi_value js_abort(napi_env env, napi_callback_info info)
{
	struct fbn *n = fbn_attached(env, info, 1, NULL, "abortClaim");

	if (!n)
		return NULL;
	fbn_before_end(n);
	return fbn_ended(env, n, "abortClaim", fb_abort_claim(n->p));
}

/* fail(h, reason) -> true if this call ended the render, false if it had
 * ended already */
static napi_value js_fail(napi_env env, napi_callback_info info)
{
	napi_value argv[1], r;
	struct fbn *n = fbn_attached(env, info, 2, argv, "fail");
	char reason[256];
	size_t len;
	int rc;

	if (!n)
		return NULL;
	if (!argv[0] || napi_get_value_string_utf8(env, argv[0], reason, sizeof(reason), &len) != napi_ok)
		return fbn_throw_type(env, "fail: the reason must be a string");
	rc = fb_fail(n->p, reason);
	if (rc < 0 && rc != -ECANCELED)
		return fbn_throw(env, fbn_lib_error(env, n, "fail", rc));
	return napi_get_boolean(env, rc == 0, &r) == napi_ok ? r : NULL;
}

/* held(h) -> the frame claimed now, or null (the async iterator's check) */
static napi_value js_held(napi_env env, napi_callback_info info)
{
	struct fbn *n = fbn_arg_handle(env, info, 1, NULL);
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
	struct fbn *n = fbn_arg_handle(env, info, 1, NULL);

	if (!n)
		return NULL;
	fbn_detach(env, n);
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
		{ "attach", fbn_js_attach },     { "geometry", js_geometry }, { "claim", fbn_js_claim },
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

