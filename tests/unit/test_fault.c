/*
 * test_fault — FB_FAULT parsing, fire-once through the marker file, and the
 * steps as a library producer meets them.  Deaths happen in forked children
 * and are judged by waitpid (the kernel's word, not ours); the environment
 * the parent sets is removed by every test's teardown, so no later test
 * (fb_attach reads FB_FAULT) sees it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit.h"
#include "test_seg.h"
#include "fb_fault.h"
#include "framebroker.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* A directory of the test's own for markers, removed with what is in it. */
struct dir {
	char path[64];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	if (!d)
		return -1;
	snprintf(d->path, sizeof(d->path), "/tmp/fb-fault-test.XXXXXX");
	if (!mkdtemp(d->path)) {
		free(d);
		return -1;
	}
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	static const char *const names[] = { "m1", "m2", "m3" };
	char p[128];

	unsetenv("FB_FAULT");
	unsetenv("FB_FAULT_ONCE");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", d->path, names[i]);
		unlink(p);
	}
	rmdir(d->path);
	free(d);
	return 0;
}

/* MARKER's path in D, into BUF. */
static const char *marker(const struct dir *d, const char *name, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", d->path, name);
	return buf;
}

/* Set FB_FAULT=SPEC (NULL: unset) and FB_FAULT_ONCE=ONCE (NULL: unset). */
static void env(const char *spec, const char *once)
{
	if (spec)
		setenv("FB_FAULT", spec, 1);
	else
		unsetenv("FB_FAULT");
	if (once)
		setenv("FB_FAULT_ONCE", once, 1);
	else
		unsetenv("FB_FAULT_ONCE");
}

/* fb_fault_from_env's answer for ROLE, with *ARMED whether it armed one. */
static int from_env(uint32_t role, int *armed)
{
	struct fb_fault *f = (struct fb_fault *)&f; /* must be overwritten */
	char why[512];
	int rc = fb_fault_from_env(role, &f, why, sizeof(why));

	*armed = f != NULL;
	free(f);
	return rc;
}

static void test_fault_parse(void **state)
{
	struct dir *d = *state;
	char m[128], why[512];
	int armed;

	marker(d, "m1", m, sizeof(m));
	env(NULL, NULL);
	assert_int_equal(from_env(FB_ROLE_PRODUCER, &armed), 0);
	assert_false(armed);
	env("producer:after-claim:7", m);
	assert_int_equal(from_env(FB_ROLE_PRODUCER, &armed), 0);
	assert_true(armed);
	assert_int_equal(from_env(FB_ROLE_ENCODER, &armed), 0); /* another role's */
	assert_false(armed);
	assert_int_equal(fb_fault_from_env(0, NULL, why, sizeof(why)), 0);
	env("encoder:after-write:3:stop", m);
	assert_int_equal(from_env(FB_ROLE_ENCODER, &armed), 0);
	assert_true(armed);
	env("encoder:ffmpeg-died:80:stop", m);
	assert_int_equal(from_env(FB_ROLE_ENCODER, &armed), 0);
	assert_true(armed);

	static const char *const bad[] = {
		"producer", "producer:after-claim", "producer:nowhere:1", "producer:after-claim:-1",
		"producer:after-claim:x", "producer:after-claim:1:halt", "producer:after-write:1",
		"producer:ffmpeg-died:1",
		"encoder:after-claim:1", "painter:after-claim:1",
		/* no role but producer and encoder has a step: these name none */
		"broker:typo:x", "broker:anything:1", "render:after-claim:1", "broker:after-claim:1",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env(bad[i], m);
		assert_int_equal(from_env(FB_ROLE_PRODUCER, &armed), -EINVAL);
		assert_int_equal(fb_fault_from_env(0, NULL, why, sizeof(why)), -EINVAL);
		assert_non_null(strstr(why, "invalid FB_FAULT"));
	}
	/* A newline in the spec is shown as '?': the refusal stays one line. */
	env("producer:after-claim:10\nfb-render: wrote fake", m);
	assert_int_equal(fb_fault_from_env(0, NULL, why, sizeof(why)), -EINVAL);
	assert_null(strchr(why, '\n'));
	assert_non_null(strstr(why, "10?fb-render"));
	/* No marker, or one relative to whichever directory a worker runs in:
	 * it could not fire once. */
	env("producer:after-claim:7", NULL);
	assert_int_equal(fb_fault_from_env(FB_ROLE_ENCODER, NULL, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "FB_FAULT_ONCE"));
	env("producer:after-claim:7", "fault.1");
	assert_int_equal(from_env(FB_ROLE_PRODUCER, &armed), -EINVAL);
	/* A marker that exists: workers go on (it fired), the launcher refuses. */
	env("producer:after-claim:7", d->path);
	assert_int_equal(from_env(FB_ROLE_PRODUCER, &armed), 0);
	assert_true(armed);
	assert_int_equal(fb_fault_from_env(0, NULL, why, sizeof(why)), -EEXIST);
	assert_non_null(strstr(why, d->path));
}

/* Fork a child that arms SPEC with marker ONCE for ROLE and meets STEP on
 * frames 0..FRAMES-1, then exits 0; its wait status (WUNTRACED). */
static int child_meets(const char *spec, const char *once, uint32_t role, uint32_t step,
		       uint64_t frames)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		struct fb_fault *f = NULL;

		env(spec, once);
		if (fb_fault_from_env(role, &f, NULL, 0) || !f)
			_exit(3);
		for (uint64_t i = 0; i < frames; i++)
			fb_fault_point(f, step, i);
		free(f);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, WUNTRACED), pid);
	if (WIFSTOPPED(status)) {
		kill(pid, SIGKILL);
		assert_int_equal(waitpid(pid, NULL, 0), pid);
	}
	return status;
}

static void test_fault_fires_once(void **state)
{
	struct dir *d = *state;
	char m1[128], m2[128], m3[128];
	struct stat st;
	int s;

	marker(d, "m1", m1, sizeof(m1));
	marker(d, "m2", m2, sizeof(m2));
	marker(d, "m3", m3, sizeof(m3));
	/* Another step, or frames before FRAME: nothing, and no marker. */
	s = child_meets("producer:publish:5", m1, FB_ROLE_PRODUCER, FB_STEP_CLAIM, 10);
	assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
	s = child_meets("producer:publish:5", m1, FB_ROLE_PRODUCER, FB_STEP_PUBLISH, 5);
	assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
	assert_int_equal(lstat(m1, &st), -1);
	/* The first to reach it dies and leaves the marker; the next lives. */
	s = child_meets("producer:publish:5", m1, FB_ROLE_PRODUCER, FB_STEP_PUBLISH, 10);
	assert_true(WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL);
	assert_int_equal(lstat(m1, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	s = child_meets("producer:publish:5", m1, FB_ROLE_PRODUCER, FB_STEP_PUBLISH, 10);
	assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
	/* ":stop" stops instead, once. */
	s = child_meets("encoder:after-write:2:stop", m2, FB_ROLE_ENCODER, FB_STEP_AFTER_WRITE, 3);
	assert_true(WIFSTOPPED(s) && WSTOPSIG(s) == SIGSTOP);
	s = child_meets("encoder:after-write:2:stop", m2, FB_ROLE_ENCODER, FB_STEP_AFTER_WRITE, 3);
	assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
	/* A marker that cannot be made (no such directory): no fault at all,
	 * rather than one in every process. */
	s = child_meets("producer:claim:0", "/nonexistent-fb-dir/m", FB_ROLE_PRODUCER,
			FB_STEP_CLAIM, 1);
	assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
	/* A symlink at the marker is not followed, and counts as "fired". */
	assert_int_equal(symlink("/nonexistent-fb-target", m3), 0);
	s = child_meets("producer:claim:0", m3, FB_ROLE_PRODUCER, FB_STEP_CLAIM, 1);
	assert_true(WIFEXITED(s) && WEXITSTATUS(s) == 0);
}

/* A child attached as a library producer (fb_attach reads FB_FAULT) with
 * SPEC and marker ONCE: claims frames until it dies; exits 0 if it never
 * does.  Its wait status. */
static int producer_child(const char *name, const char *spec, const char *once)
{
	int status;
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		fb_producer *p;
		uint64_t f;
		void *data;

		env(spec, once);
		if (fb_attach(name, 0, &p))
			_exit(3);
		while (fb_claim_timed(p, 0, &f, &data) == 1) {
			fb_fault_mid_render(p);
			if (fb_publish(p, 64 * 4))
				_exit(4);
		}
		fb_detach(p);
		_exit(0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	return status;
}

static void test_fault_library_steps(void **state)
{
	struct fixture *fx = *state;
	char m1[64], m2[64], dir[] = "/tmp/fb-fault-test.XXXXXX";
	fb_producer *p;
	int s;

	assert_non_null(mkdtemp(dir));
	snprintf(m1, sizeof(m1), "%s/m1", dir);
	snprintf(m2, sizeof(m2), "%s/m2", dir);
	/* after-claim, marked by fb_claim itself, on frame 1 (frame 0 goes
	 * through: published). */
	s = producer_child(fx->name, "producer:after-claim:1", m1);
	assert_true(WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL);
	/* mid-render, fb-producer's own step, on frame 2 (1 is the dead
	 * one's): the internal call reaches the claim the handle holds. */
	s = producer_child(fx->name, "producer:mid-render:2", m2);
	assert_true(WIFSIGNALED(s) && WTERMSIG(s) == SIGKILL);
	assert_int_equal(access(m1, F_OK), 0);
	assert_int_equal(access(m2, F_OK), 0);
	/* A malformed FB_FAULT fails the attach. */
	env("producer:after-claim", m1);
	assert_int_equal(fb_attach(fx->name, 0, &p), -EINVAL);
	unlink(m1);
	unlink(m2);
	rmdir(dir);
}

static int seg_setup(void **state) { return fb_test_seg_make(state, 3, 5); }

static int seg_teardown(void **state)
{
	unsetenv("FB_FAULT");
	unsetenv("FB_FAULT_ONCE");
	return fb_test_seg_teardown(state);
}

int fb_test_fault(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_fault_parse, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_fault_fires_once, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_fault_library_steps, seg_setup, seg_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
