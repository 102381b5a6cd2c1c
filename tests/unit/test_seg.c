/* test_seg — the unit tests' segment fixture and the helpers that drive
 * it from forked processes (test_seg.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "test_seg.h"
#include "fb_pixfmt.h"
#include "fb_ring.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int fb_test_seg_make(void **state, uint32_t slots, uint64_t frames)
{
	static int seq; /* one name per fixture across both test files */
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fb_geom g;

	if (!fx)
		return -1;
	snprintf(fx->name, sizeof(fx->name), "/fbunit-%d-%d", (int)getpid(), seq++);
	if (fb_geom_init(&g, 64, 4, FB_PIX_GRAY, slots, 30, frames) ||
	    fb_seg_create(fx->name, &g, &fx->seg)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

int fb_test_seg_teardown(void **state)
{
	struct fixture *fx = *state;

	fb_shm_unlink(fx->name);
	fb_seg_detach(fx->seg);
	free(fx);
	return 0;
}

int fb_test_seg_s3_n5(void **state) { return fb_test_seg_make(state, 3, 5); }
int fb_test_seg_s1_n3(void **state) { return fb_test_seg_make(state, 1, 3); }

/* Claim, fill with the frame's index, publish. */
uint64_t produce_one(struct fb_seg *seg)
{
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	memset(c.data, (int)(c.frame & 0xff), seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
	return c.frame;
}

void consume_one(struct fb_seg *seg, uint64_t f)
{
	struct fb_frame_ref r;

	assert_int_equal(fb_ring_acquire(seg, f, &r, 1, -1), 1);
	assert_int_equal(r.frame, f);
	assert_int_equal(r.length, seg->geom.frame_bytes);
	for (uint64_t i = 0; i < r.length; i++)
		assert_int_equal(r.data[i], f & 0xff);
	assert_int_equal(fb_ring_release(seg, f, 1), 0);
}

/* Fork a child that runs FN and exits with its result (0..255). */
pid_t fork_child(int (*fn)(struct fb_seg *), struct fb_seg *seg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A failing test must not leave a child asleep on the ring. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(seg));
	}
	return pid;
}

/* Wait for PID up to MS; returns its exit code, or -1 if it is still alive. */
int wait_child(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
		usleep(10000);
	}
	return -1;
}

/* Run FN in a child; it must exit (not die of a signal, not hang: 5 s)
 * with code WANT. */
void survives(int (*fn)(struct fb_seg *), struct fb_seg *seg, int want)
{
	pid_t pid = fork_child(fn, seg);
	int st;

	/* Generous: a loaded CI runner under ASan; it returns at the exit. */
	for (int i = 0; i < 3000 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(10000);
	if (kill(pid, 0) == 0 && waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("child still running after 30 s");
	}
	if (WIFSIGNALED(st))
		fail_msg("child died of signal %d", WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), want);
}

/* In a child: one claim, its frame as the exit code; 100 + rc, or 200
 * aborted. */
int claim_in_child(struct fb_seg *seg)
{
	struct fb_claim c;
	int rc = fb_ring_claim(seg, &c);

	if (rc == -ECANCELED)
		return 200;
	return rc == 1 ? (int)c.frame : 100 + rc;
}

/* After corruption: the claim fails with the cause, not a crash. */
int claim_sees_corruption(struct fb_seg *seg, const char *want)
{
	char why[FB_REASON_MAX];
	struct fb_claim c;
	int rc = fb_ring_claim(seg, &c);

	if (rc != -EPROTO)
		return 10;
	fb_ring_reason(seg, why, sizeof(why));
	return strstr(why, want) ? 0 : 11;
}
