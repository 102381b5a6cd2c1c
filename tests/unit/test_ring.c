/*
 * test_ring — unit tests (cmocka) of lib/fb_ring.c: the protocol driven
 * from forked processes on a real segment — the window blocking and waking,
 * the encoder waiting for order, the end, abort, stale publishes, the sweep
 * trusting no owner field, a lock holder dying inside a critical section,
 * batches held and released, bounded waits.
 */
#include "unit.h"

static void test_window_blocks_then_wakes(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child;

	/* S = 3: frames 0..2 fill the window; frame 3 must wait for 0 to go. */
	for (uint64_t f = 0; f < 3; f++)
		assert_int_equal(produce_one(seg), f);
	child = fork_child(claim_in_child, seg);
	assert_int_equal(wait_child(child, 300), -1); /* blocked */
	consume_one(seg, 0);
	assert_int_equal(wait_child(child, 30000), 3); /* woke with frame 3 */
	assert_int_equal(seg->hdr->next_claim, 4);
	assert_true(seg->hdr->next_claim - seg->hdr->next_encode <= 3);
}

static int child_acquire0(struct fb_seg *seg)
{
	struct fb_frame_ref r;

	if (fb_ring_acquire(seg, 0, &r, 1, -1) != 1)
		return 1;
	return r.data[0] == 0 && r.length == seg->geom.frame_bytes ? 0 : 2;
}

static void test_encoder_waits_for_order(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c0, c1;
	pid_t child;

	assert_int_equal(fb_ring_claim(seg, &c0), 1);
	assert_int_equal(fb_ring_claim(seg, &c1), 1);
	memset(c1.data, 1, seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c1, seg->geom.frame_bytes), 0);
	/* Frame 1 is ready, but the encoder needs 0 first. */
	child = fork_child(child_acquire0, seg);
	assert_int_equal(wait_child(child, 300), -1);
	memset(c0.data, 0, seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c0, seg->geom.frame_bytes), 0);
	assert_int_equal(wait_child(child, 30000), 0);
}

static void test_all_frames_then_none(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	for (uint64_t f = 0; f < 5; f++) {
		assert_int_equal(produce_one(seg), f);
		consume_one(seg, f);
	}
	assert_int_equal(fb_ring_claim(seg, &c), 0);
	fb_ring_finish(seg);
	assert_int_equal(fb_ring_state(seg), FB_SEG_DONE);
	assert_int_equal(fb_ring_claim(seg, &c), 0);
}

static void test_abort_wakes_blocked_producer(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child;

	produce_one(seg); /* S = 1: the window is full */
	child = fork_child(claim_in_child, seg);
	assert_int_equal(wait_child(child, 300), -1);
	fb_ring_abort(seg, "test abort");
	assert_int_equal(wait_child(child, 30000), 200);
	assert_string_equal(seg->hdr->reason, "test abort");
	fb_ring_abort(seg, "second abort");
	assert_string_equal(seg->hdr->reason, "test abort"); /* first wins */
}

static void test_stale_publish(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c, bad;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	bad = c;
	bad.generation++;
	assert_int_equal(fb_ring_publish(seg, &bad, seg->geom.frame_bytes), -ESTALE);
	bad = c;
	bad.frame += 3;
	assert_int_equal(fb_ring_publish(seg, &bad, seg->geom.frame_bytes), -ESTALE);
	bad = c;
	bad.slot = 9;
	assert_int_equal(fb_ring_publish(seg, &bad, seg->geom.frame_bytes), -EINVAL);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.slot_stride + 1), -EINVAL);
	/* Another process's claim is not ours to publish. */
	seg->hdr->slots[c.slot].owner = 1;
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), -ESTALE);
	seg->hdr->slots[c.slot].owner = seg->pid;
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
}

/* Owner fields are input: a claim "owned" by an unrelated live process
 * (pid 1) is never reissued — nobody may be robbed while possibly writing
 * — but one owned by a pid that does not exist is taken back. */
static void test_sweep_trusts_no_owner_field(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_header *h = seg->hdr;
	struct fb_reissue r[4];
	struct fb_claim c0, c1;
	uint64_t next;

	assert_int_equal(fb_ring_claim(seg, &c0), 1);
	assert_int_equal(fb_ring_claim(seg, &c1), 1);
	h->slots[c0.slot].owner = 1; /* init: alive, never registered */
	h->slots[c0.slot].owner_start = fb_proc_start_time(1);
	h->slots[c1.slot].owner = 4194304 + 7; /* above any pid_max: dead */
	assert_int_equal(fb_ring_sweep(seg, NULL, r, 4), 1);
	assert_int_equal(r[0].frame, c1.frame);
	assert_int_equal(h->slots[c1.slot].state, FB_SLOT_REISSUE);
	assert_int_equal(h->slots[c0.slot].state, FB_SLOT_CLAIMED);
	/* ...the live stranger's claim shows up as overdue instead. */
	h->slots[c0.slot].claimed_ns = 0;
	assert_int_equal(fb_ring_overdue(seg, 1000, r, 4, &next), 1);
	assert_int_equal(r[0].owner, 1);
	/* And our own publish of the reissued frame is refused (-ESTALE). */
	assert_int_equal(fb_ring_publish(seg, &c1, seg->geom.frame_bytes), -ESTALE);
}

static int child_die_holding_lock(struct fb_seg *seg)
{
	pthread_mutex_lock(&seg->hdr->lock);
	return 0; /* exits with the lock held */
}

static int child_die_mid_claim(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint64_t f = h->next_claim;

	/* The first stores of fb_ring_claim, then death before next_claim++. */
	pthread_mutex_lock(&h->lock);
	h->slots[f % seg->geom.slot_count].frame = f;
	h->slots[f % seg->geom.slot_count].owner = getpid();
	h->slots[f % seg->geom.slot_count].state = FB_SLOT_CLAIMED;
	return 0;
}

static void test_lock_owner_death(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	assert_int_equal(wait_child(fork_child(child_die_holding_lock, seg), 2000), 0);
	assert_int_equal(fb_ring_claim(seg, &c), 1); /* EOWNERDEAD, repaired */
	assert_int_equal(c.frame, 0);
	assert_int_equal(seg->hdr->lock_repairs, 1);
}

static void test_death_mid_claim_not_reissued_twice(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	assert_int_equal(wait_child(fork_child(child_die_mid_claim, seg), 2000), 0);
	/* Frame 0 is marked claimed by the dead child: the next claim must be
	 * frame 1, never frame 0 a second time.  (Reclaiming the dead child's
	 * frame is the broker's job.) */
	assert_int_equal(fb_ring_claim(seg, &c), 1);
	assert_int_equal(c.frame, 1);
}

/* The encoder takes a run of published frames at once, may hold frames while
 * taking more, and releases them oldest first, several at a time. */
static void test_acquire_runs_and_holds(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r[4];
	struct fb_claim c;

	for (int i = 0; i < 3; i++)
		produce_one(seg);
	assert_int_equal(fb_ring_acquire(seg, 0, r, 4, 0), 3);
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(r[i].frame, i);
		assert_int_equal(r[i].data[0], i);
	}
	/* Holding the whole window: no producer may claim. */
	seg->nowait = 1;
	assert_int_equal(fb_ring_claim(seg, &c), -EAGAIN);
	seg->nowait = 0;
	/* Free the oldest two (still holding frame 2): frames 3 and 4 go. */
	assert_int_equal(fb_ring_release(seg, 0, 2), 0);
	assert_int_equal(seg->hdr->next_encode, 2);
	assert_int_equal(produce_one(seg), 3);
	assert_int_equal(produce_one(seg), 4);
	assert_int_equal(fb_ring_acquire(seg, 3, r, 4, 0), 2);
	assert_int_equal(r[1].frame, 4);
	assert_int_equal(fb_ring_release(seg, 2, 3), 0);
	assert_int_equal(seg->hdr->next_encode, 5);
}

/* With nothing published, a bounded acquire gives up after about its wait. */
static void test_acquire_wait_is_bounded(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;
	uint64_t t0 = fb_now_ns(), ms;

	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, 60), -EAGAIN);
	ms = (fb_now_ns() - t0) / 1000000;
	assert_true(ms >= 55 && ms < 5000);
	assert_int_equal(fb_ring_acquire(seg, 5, &r, 1, 0), -EINVAL); /* past the end */
	/* Releasing what is not held is a broken invariant: abort, say so. */
	assert_int_equal(fb_ring_release(seg, 0, 1), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

int fb_test_ring(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_window_blocks_then_wakes),
		seg_test(test_encoder_waits_for_order),
		seg_test(test_all_frames_then_none),
		seg1_test(test_abort_wakes_blocked_producer),
		seg_test(test_stale_publish),
		seg_test(test_sweep_trusts_no_owner_field),
		seg_test(test_lock_owner_death),
		seg_test(test_death_mid_claim_not_reissued_twice),
		seg_test(test_acquire_runs_and_holds),
		seg_test(test_acquire_wait_is_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
