/* fbn_error.c — N-API glue of the Node binding: Errors as Node's own
 * (code, errno), thrown or rejected, and the checks every call makes of
 * its handle argument (fb_node.h lists the files). */
#include "fb_node.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Throwing or rejecting with an Error that has code (the errno name, as
 * Node's own errors) and errno (negative, as Node's).  RC < 0. */
napi_value fbn_error(napi_env env, int rc, const char *msg)
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
napi_value fbn_lib_error(napi_env env, struct fbn *n, const char *what, int rc)
{
	char reason[256], msg[400];

	if (rc == -ECANCELED && n && n->p && fb_reason(n->p, reason, sizeof(reason)) == 0)
		snprintf(msg, sizeof(msg), "%s: %s: %s", what, fb_strerror(rc), reason);
	else
		snprintf(msg, sizeof(msg), "%s: %s", what, fb_strerror(rc));
	return fbn_error(env, rc, msg);
}

napi_value fbn_throw(napi_env env, napi_value err)
{
	if (err)
		napi_throw(env, err);
	return NULL;
}

napi_value fbn_throw_type(napi_env env, const char *msg)
{
	napi_throw_type_error(env, NULL, msg);
	return NULL;
}

/* A promise already rejected with ERR (a state error of claim()). */
napi_value fbn_rejected(napi_env env, napi_value err)
{
	napi_deferred d;
	napi_value promise;

	if (napi_create_promise(env, &d, &promise) != napi_ok)
		return NULL;
	napi_reject_deferred(env, d, err);
	return promise;
}

napi_value fbn_detached_error(napi_env env, const char *what)
{
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: the producer is detached", what);
	return fbn_error(env, -EBADF, msg);
}

/* Argument 0 of every call but attach: the external naming the handle. */
struct fbn *fbn_arg_handle(napi_env env, napi_callback_info info, size_t want, napi_value *argv)
{
	napi_value args[3];
	size_t argc = 3;
	void *n = NULL;
	napi_valuetype t;

	if (napi_get_cb_info(env, info, &argc, args, NULL, NULL) != napi_ok)
		return NULL;
	if (argc < 1 || napi_typeof(env, args[0], &t) != napi_ok || t != napi_external ||
	    napi_get_value_external(env, args[0], &n) != napi_ok || !n) {
		fbn_throw_type(env, "framebroker: not a producer handle");
		return NULL;
	}
	for (size_t i = 1; i < want; i++)
		argv[i - 1] = i < argc ? args[i] : NULL;
	return n;
}

/* fbn_arg_handle for WHAT, a call that throws EBADF on a detached producer:
 * NULL once something was thrown. */
struct fbn *fbn_attached(napi_env env, napi_callback_info info, size_t want, napi_value *argv,
			    const char *what)
{
	struct fbn *n = fbn_arg_handle(env, info, want, argv);

	if (n && !n->p) {
		fbn_throw(env, fbn_detached_error(env, what));
		return NULL;
	}
	return n;
}
