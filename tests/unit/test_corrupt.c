/*
 * test_corrupt — unit tests (cmocka) of the segment as an adversary's input
 * (lib/fb_ring.c, fb_lock.c, fb_guard.c; issue 12, items 7 and 11):
 * scribbled slot words, lengths, counters, waiter counts, mutex, semaphores
 * and life-cycle word, lock words naming a ghost or the waiter itself, the
 * file truncated or grown under a worker — each ends the render with its
 * cause, never a crash or a hang.
 */
#include "unit.h"

static void test_corrupt_slot_aborts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;

	/* A scribbler marks slot 0 READY for a frame outside the window. */
	seg->hdr->slots[0].state = FB_SLOT_READY;
	seg->hdr->slots[0].frame = 7;
	seg->hdr->slots[0].length = seg->geom.frame_bytes;
	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, -1), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
	assert_non_null(strstr(seg->hdr->reason, "segment corrupt"));
}

static void test_corrupt_length_aborts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	/* A short or empty raw frame is refused at publish; the claim stays. */
	assert_int_equal(fb_ring_publish(seg, &c, 10), -EINVAL);
	assert_int_equal(fb_ring_publish(seg, &c, 0), -EINVAL);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
	/* A length scribbled after publish is caught by the encoder. */
	seg->hdr->slots[0].length = 10;
	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, -1), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* Regression (found by make fuzz): a scribbled waiter count must not make
 * an abort post the semaphore 2^32 times. */
static void test_huge_waiter_count_abort_is_prompt(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	seg->hdr->space_waiters = UINT32_MAX;
	alarm(5); /* a hang fails the test instead of blocking the suite */
	fb_ring_abort(seg, "scribbled waiters");
	fb_ring_finish(seg);
	alarm(0);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

static void test_corrupt_counters_abort(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	seg->hdr->next_claim = 1000; /* past total_frames */
	assert_int_equal(fb_ring_claim(seg, &c), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* Scribbled: the encoder's next slot says ENCODING though nobody took it.
 * That must abort the render, not leave the encoder waiting forever. */
static void test_impossible_slot_state_aborts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	seg->hdr->slots[0].state = FB_SLOT_ENCODING;
	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, 0), -EPROTO);
	assert_non_null(strstr(seg->hdr->reason, "impossible state"));
}

/* Scribbled: a REISSUE slot while reissue_pending says 0.  With the window
 * shut, a claim still finds the slot rather than sleeping forever. */
static void test_reissue_found_without_count(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg; /* S=1 */
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	seg->hdr->slots[0].state = FB_SLOT_REISSUE;
	seg->hdr->slots[0].owner = 0;
	seg->hdr->reissue_pending = 0;
	seg->nowait = 1;
	assert_int_equal(fb_ring_claim(seg, &c), 1);
	assert_int_equal(c.frame, 0);
	assert_int_equal(seg->hdr->reissue_pending, 0);
}

static int child_scribbled_mutex(struct fb_seg *seg)
{
	/* kind 0 is glibc's plain mutex: its lock asserts __owner == 0. */
	memset(&seg->hdr->lock, 0, sizeof(seg->hdr->lock));
	((volatile int *)&seg->hdr->lock)[2] = 4242; /* __owner */
	return claim_sees_corruption(seg, "ring mutex");
}

static void test_scribbled_mutex(void **state)
{
	survives(child_scribbled_mutex, ((struct fixture *)*state)->seg, 0);
}

static int child_scribbled_sem(struct fb_seg *seg)
{
	struct fb_claim c;
	int rc;

	/* Slot 0 taken: the next claim must sleep on `space`, which glibc
	 * would abort on (its futex flag word is garbage). */
	if (fb_ring_claim(seg, &c) != 1)
		return 20;
	memset(&seg->hdr->space, 0x5a, sizeof(seg->hdr->space));
	rc = fb_ring_claim(seg, &c);
	return rc == -EPROTO || rc == -ECANCELED ? 0 : 21;
}

static void test_scribbled_semaphore(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	char why[FB_REASON_MAX];

	survives(child_scribbled_sem, seg, 0);
	fb_ring_reason(seg, why, sizeof(why));
	assert_non_null(strstr(why, "semaphore"));
}

static int child_scribbled_state(struct fb_seg *seg)
{
	atomic_store(&seg->hdr->state, 0x41414141u);
	return claim_sees_corruption(seg, "life-cycle");
}

static void test_scribbled_state_word(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	survives(child_scribbled_state, seg, 0);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* A lock word naming a process that does not exist (no owner-died bit):
 * lockers give up after a slice or two instead of waiting forever. */
static int child_ghost_holder(struct fb_seg *seg)
{
	*(volatile int *)&seg->hdr->lock = 0x3ffffff0; /* no such pid */
	return claim_sees_corruption(seg, "does not exist");
}

static void test_ghost_lock_holder(void **state)
{
	survives(child_ghost_holder, ((struct fixture *)*state)->seg, 0);
}

/* ...or naming the waiter itself: glibc would wait for us forever. */
static int child_self_holder(struct fb_seg *seg)
{
	*(volatile int *)&seg->hdr->lock = (int)getpid();
	seg->pid = (int32_t)getpid(); /* the fork's own id, as attach would set */
	return claim_sees_corruption(seg, "names us");
}

static void test_self_lock_holder(void **state)
{
	survives(child_self_holder, ((struct fixture *)*state)->seg, 0);
}

static char truncate_name[64];

/* A worker whose segment is truncated under it: SIGBUS caught, the claim
 * reports the truncation. */
static int child_truncated(struct fb_seg *creator)
{
	struct fb_seg *seg;
	const char *why;
	int fd;

	if (fb_seg_attach(truncate_name, &seg, &why))
		return 30;
	fd = fb_shm_open(truncate_name, O_RDWR, 0, NULL);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 31;
	close(fd);
	/* Touch a slot record past the end: SIGBUS without the guard; and
	 * the creator's mapping (inherited) is guarded the same way. */
	((volatile struct fb_header *)seg->hdr)->procs[FB_MAX_PROCS - 1].frames++;
	if (((volatile struct fb_header *)creator->hdr)->procs[FB_MAX_PROCS - 1].frames != 0 ||
	    !fb_guard_tripped(creator))
		return 33;
	return claim_sees_corruption(seg, "truncated") ? 32 : 0;
}

static void test_truncated_segment(void **state)
{
	struct fixture *fx = *state;

	snprintf(truncate_name, sizeof(truncate_name), "%s", fx->name);
	survives(child_truncated, fx->seg, 0);
}

/* The same truncation, first seen by a wake-up: the semaphores lie past
 * the cut, so the guard's zero page makes them look scribbled.  The cause
 * recorded must still be the truncation (under load, t_segment_corruption's
 * truncate case said "a semaphore scribbled"). */
static int child_truncated_wake(struct fb_seg *creator)
{
	char why[FB_REASON_MAX];
	struct fb_seg *seg;
	const char *err;
	int fd;

	(void)creator;
	if (fb_seg_attach(truncate_name, &seg, &err))
		return 30;
	fd = fb_shm_open(truncate_name, O_RDWR, 0, NULL);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 31;
	close(fd);
	fb_life_wake(seg, &seg->hdr->filled, 1);
	fb_ring_reason(seg, why, sizeof(why));
	return strstr(why, "truncated") ? 0 : 32;
}

static void test_truncated_segment_wake(void **state)
{
	struct fixture *fx = *state;

	snprintf(truncate_name, sizeof(truncate_name), "%s", fx->name);
	survives(child_truncated_wake, fx->seg, 0);
}

static void test_grown_segment(void **state)
{
	struct fixture *fx = *state;
	struct fb_claim c;
	int fd = fb_shm_open(fx->name, O_RDWR, 0, NULL);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)fx->seg->geom.segment_size * 2), 0);
	close(fd);
	usleep((FB_GUARD_STAT_MS + 20) * 1000);
	assert_int_equal(fb_ring_claim(fx->seg, &c), -EPROTO);
}

int fb_test_corrupt(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_corrupt_slot_aborts),
		seg_test(test_corrupt_length_aborts),
		seg_test(test_corrupt_counters_abort),
		seg_test(test_huge_waiter_count_abort_is_prompt),
		seg_test(test_impossible_slot_state_aborts),
		seg1_test(test_reissue_found_without_count),
		seg_test(test_scribbled_mutex),
		seg1_test(test_scribbled_semaphore),
		seg_test(test_scribbled_state_word),
		seg_test(test_ghost_lock_holder),
		seg_test(test_self_lock_holder),
		seg_test(test_truncated_segment),
		seg_test(test_truncated_segment_wake),
		seg_test(test_grown_segment),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
