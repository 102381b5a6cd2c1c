/*
 * test_life — unit tests (cmocka) of lib/fb_life.c, fb_lock.c,
 * fb_registry.c (issue 14): the life-cycle CAS (the first cause wins,
 * finish cannot undo an abort, abort needs no lock), `_locked` helpers
 * asserting their lock, one live encoder per segment, the abort reason
 * sanitised.
 */
#include "unit.h"

static int child_hold_lock_stopped(struct fb_seg *seg)
{
	pthread_mutex_lock(&seg->hdr->lock);
	raise(SIGSTOP); /* a holder that never lets go */
	return 0;
}

/* With the lock held by a stopped process: abort, abort again, finish. */
static int child_abort_twice(struct fb_seg *seg)
{
	char why[FB_REASON_MAX];

	if (!fb_ring_abort(seg, "first cause"))
		return 1;
	if (fb_ring_abort(seg, "second cause"))
		return 2;
	fb_ring_finish(seg); /* must neither wait for the lock nor undo the abort */
	if (fb_ring_state(seg) != FB_SEG_ABORTED)
		return 3;
	fb_ring_reason(seg, why, sizeof(why));
	return strcmp(why, "first cause") == 0 ? 0 : 4;
}

/* fb_ring_abort records its reason with the lock held by a stopped process,
 * the first reason stays, and finish cannot overwrite an abort. */
static void test_abort_without_lock(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child = fork_child(child_hold_lock_stopped, seg);
	int st;

	assert_int_equal(waitpid(child, &st, WUNTRACED), child);
	assert_true(WIFSTOPPED(st));
	survives(child_abort_twice, seg, 0);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
}

static void test_finish_beats_later_abort(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	fb_ring_finish(seg);
	assert_false(fb_ring_abort(seg, "too late"));
	assert_int_equal(fb_ring_state(seg), FB_SEG_DONE);
}

/* Shared between the test and its racers (MAP_SHARED|MAP_ANONYMOUS). */
struct race {
	_Atomic int ready, go;
};

static struct race *race_map(void)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(r != MAP_FAILED);
	return r;
}

/* Both racers spin until the test says go, then make their one call. */
static void race_start(struct race *r)
{
	atomic_fetch_add(&r->ready, 1);
	while (!atomic_load(&r->go))
		;
}

static pid_t racer(struct race *r, struct fb_seg *seg, bool abort_it)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		race_start(r);
		if (abort_it)
			_exit(fb_ring_abort(seg, "racing abort") ? 1 : 0);
		fb_ring_finish(seg);
		_exit(0);
	}
	return pid;
}

/*
 * fb_ring_finish (encoder) and a lock-less fb_ring_abort, started at the
 * same instant from two processes, many times: exactly one wins, and the
 * words agree with who did — DONE with no reason recorded and the abort
 * told it lost, or ABORTED with its reason and the abort told it won.  A
 * finish that stored DONE instead of a CAS would leave DONE behind a won
 * abort, and fail here.
 */
static void test_finish_abort_race(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_header *h = seg->hdr;
	struct race *r = race_map();
	int done = 0, aborted = 0;

	for (int round = 0; round < 300; round++) {
		pid_t fin, ab;
		int st, ab_won;
		char why[FB_REASON_MAX];

		atomic_store(&h->state, FB_SEG_RUNNING);
		atomic_store(&h->reason_ready, 0);
		memset(h->reason, 0, sizeof(h->reason));
		atomic_store(&r->ready, 0);
		atomic_store(&r->go, 0);
		/* Alternate who is forked first, so neither always starts ahead. */
		if (round & 1) {
			ab = racer(r, seg, true);
			fin = racer(r, seg, false);
		} else {
			fin = racer(r, seg, false);
			ab = racer(r, seg, true);
		}
		while (atomic_load(&r->ready) < 2)
			;
		atomic_store(&r->go, 1);
		assert_int_equal(waitpid(fin, &st, 0), fin);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(waitpid(ab, &st, 0), ab);
		assert_true(WIFEXITED(st));
		ab_won = WEXITSTATUS(st);
		if (fb_ring_state(seg) == FB_SEG_DONE) {
			assert_int_equal(ab_won, 0);
			assert_int_equal(atomic_load(&h->reason_ready), 0);
			assert_int_equal(h->reason[0], 0);
			done++;
		} else {
			assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
			assert_int_equal(ab_won, 1);
			assert_int_equal(atomic_load(&h->reason_ready), 1);
			fb_ring_reason(seg, why, sizeof(why));
			assert_string_equal(why, "racing abort");
			aborted++;
		}
	}
	print_message("finish won %d, abort won %d of 300 races\n", done, aborted);
	munmap(r, sizeof(*r));
}

#ifndef NDEBUG
static int child_locked_helper_unlocked(struct fb_seg *seg)
{
	fb_registry_mine_locked(seg); /* without the lock: must abort */
	return 0;
}
#endif

/* A `_locked` helper called without the lock is caught (unless NDEBUG),
 * and one called with it is not. */
static void test_locked_helper_asserts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	assert_int_equal(fb_lock_take(seg), 0);
	assert_null(fb_registry_mine_locked(seg)); /* not registered: no entry */
	fb_lock_release(seg);
#ifndef NDEBUG
	{
		pid_t pid = fork_child(child_locked_helper_unlocked, seg);
		int st;

		/* The child's stderr says which function; keep the test output clean. */
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	}
#endif
}

static int child_register_encoder(struct fb_seg *seg)
{
	int rc;

	seg->pid = (int32_t)getpid(); /* the fork's own id, as attach would set */
	rc = fb_ring_register(seg, FB_ROLE_ENCODER);
	if (rc == -EBUSY)
		return 3;
	if (rc)
		return 2;
	pause(); /* a live encoder until killed */
	return 0;
}

static int child_second_encoder(struct fb_seg *seg)
{
	seg->pid = (int32_t)getpid();
	switch (fb_ring_register(seg, FB_ROLE_ENCODER)) {
	case 0: return 0;
	case -EBUSY: return 3;
	default: return 2;
	}
}

/* One live encoder per segment: a second is refused while the first
 * lives; once it is dead (its entry not yet swept) a new one registers.
 * The liveness check reads /proc, and does so before the lock is taken. */
static void test_register_one_encoder(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t first = fork_child(child_register_encoder, seg);
	struct fb_proc_entry e[4];
	ssize_t n = 0;
	int st;

	for (int i = 0; i < 500 && n == 0; i++) {
		n = fb_ring_procs(seg, e, 4);
		if (n == 0)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(e[0].pid, first);
	assert_int_equal(wait_child(fork_child(child_second_encoder, seg), 5000), 3);
	kill(first, SIGKILL);
	assert_int_equal(waitpid(first, &st, 0), first);
	assert_int_equal(fb_ring_procs(seg, e, 4), 1); /* dead, still registered */
	assert_int_equal(wait_child(fork_child(child_second_encoder, seg), 5000), 0);
}

/* The reason is segment input: bounded, NUL-terminated, printable. */
static void test_reason_sanitized(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	char why[FB_REASON_MAX];

	assert_true(fb_ring_abort(seg, "x"));
	memset(seg->hdr->reason, 'A', sizeof(seg->hdr->reason)); /* no NUL at all */
	seg->hdr->reason[3] = '\033';
	seg->hdr->reason[4] = '\n';
	fb_ring_reason(seg, why, sizeof(why));
	assert_int_equal(strlen(why), sizeof(seg->hdr->reason) < sizeof(why) ?
			 sizeof(seg->hdr->reason) : sizeof(why) - 1);
	assert_memory_equal(why, "AAA??AA", 7);
	fb_ring_reason(seg, why, 4);
	assert_string_equal(why, "AAA");
}

int fb_test_life(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_abort_without_lock),
		seg_test(test_finish_beats_later_abort),
		seg_test(test_reason_sanitized),
		seg_test(test_finish_abort_race),
		seg_test(test_locked_helper_asserts),
		seg_test(test_register_one_encoder),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
