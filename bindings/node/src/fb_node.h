/*
 * fb_node.h — what the files of the Node binding share (bindings/node/src):
 * the per-handle state and the few functions one file calls in another.
 *   fb_node.c     the module: its exports, the producer's synchronous calls
 *   fbn_error.c   N-API glue: errors thrown or rejected, argument checks
 *   fbn_handle.c  a handle's life: attach, detach, reference counting
 *   fbn_buffer.c  a claim's Buffer over the library's view, and its end
 *   fbn_wait.c    claim(): the wait on the claim descriptor, off the loop
 * Design and why: fb_node.c's top comment.
 */
#ifndef FB_NODE_H
#define FB_NODE_H

#define NAPI_VERSION 8 /* napi_detach_arraybuffer needs >= 7; Node 20 has 9 */
#include <node_api.h>
#include <uv.h>

#include "framebroker.h"

#include <stdbool.h>
#include <stdint.h>

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

/* fbn_error.c */
napi_value fbn_error(napi_env env, int rc, const char *msg);
napi_value fbn_lib_error(napi_env env, struct fbn *n, const char *what, int rc);
napi_value fbn_throw(napi_env env, napi_value err);
napi_value fbn_throw_type(napi_env env, const char *msg);
napi_value fbn_rejected(napi_env env, napi_value err);
napi_value fbn_detached_error(napi_env env, const char *what);
struct fbn *fbn_arg_handle(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
struct fbn *fbn_attached(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
			 const char *what);

/* fbn_handle.c */
void fbn_release(struct fbn *n);
void fbn_detach(napi_env env, struct fbn *n);
napi_value fbn_js_attach(napi_env env, napi_callback_info info);

/* fbn_buffer.c */
void fbn_before_end(struct fbn *n);
void fbn_mem_ended(struct fbn *n, bool lost);
void fbn_end_claim(napi_env env, struct fbn *n);
napi_value fbn_claimed_value(napi_env env, struct fbn *n, uint64_t frame, void *data);
napi_value fbn_after_end(napi_env env, struct fbn *n, bool goes_on);
napi_value fbn_ended(napi_env env, struct fbn *n, const char *what, int rc);

/* fbn_wait.c */
void fbn_unpend(napi_env env, struct fbn *n);
napi_value fbn_js_claim(napi_env env, napi_callback_info info);

#endif
