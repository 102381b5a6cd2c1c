/*
 * test_rewind — unit tests (cmocka) of lib/fb_rewind.c on a real segment
 * (S = 3, N = 5): no fresh claim while a rewind is begun, frames in
 * flight drained before the window moves back, -EAGAIN until then, the
 * counters and the rerendered count after it, nobody done during one; and
 * tools/fb_plan.c's segment grid (fb_plan_segment_end), against ends worked
 * out by hand.
 */
#include "unit.h"
#include "fb_plan.h"
#include "fb_rewind.h"

static void test_rewind_drains_then_moves_back(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;
	struct fb_frame_ref r[3];
	pid_t child;

	/* Frames 0, 1 out; 2 published; 3 claimed and not yet published. */
	for (uint64_t f = 0; f < 2; f++) {
		assert_int_equal(produce_one(seg), f);
		consume_one(seg, f);
	}
	assert_int_equal(produce_one(seg), 2);
	assert_int_equal(fb_ring_claim(seg, &c), 1);
	assert_int_equal(c.frame, 3);
	assert_int_equal(fb_ring_rewind_to(seg, 0), -EINVAL); /* not begun */
	assert_int_equal(fb_ring_rewind_begin(seg), 0);
	/* No fresh claim now (frame 4 would fit the window): the child waits. */
	child = fork_child(claim_in_child, seg);
	assert_int_equal(wait_child(child, 300), -1);
	assert_int_equal(fb_ring_rewind_to(seg, 0), -EAGAIN); /* 2 and 3 in flight */
	assert_int_equal(fb_ring_rewind_to(seg, 3), -EINVAL); /* ahead of next_encode */
	/* Drain: 2 is taken and let go; 3 once published. */
	assert_int_equal(fb_ring_acquire(seg, 2, r, 3, 0), 1);
	assert_int_equal(fb_ring_release(seg, 2, 1), 0);
	assert_int_equal(fb_ring_rewind_to(seg, 0), -EAGAIN);
	memset(c.data, 3, seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
	assert_int_equal(fb_ring_acquire(seg, 3, r, 3, 0), 1);
	assert_int_equal(fb_ring_release(seg, 3, 1), 0);
	assert_int_equal(wait_child(child, 100), -1); /* still no fresh claim */
	assert_int_equal(fb_ring_rewind_to(seg, 0), 0);
	/* next_claim is not read here: the sleeper, woken by the rewind, may
	 * already have claimed (CI, ASan at high load).  It was 4; 1 below is
	 * the reset to 0 plus the sleeper's one claim. */
	assert_int_equal(seg->hdr->next_encode, 0);
	assert_int_equal(seg->hdr->rewind, 0);
	assert_int_equal(seg->hdr->frames_rerendered, 4);
	/* The sleeper is woken and gets frame 0 again. */
	assert_int_equal(wait_child(child, 30000), 0);
	assert_int_equal(seg->hdr->next_claim, 1);
}

/* After the rewind every frame comes out again, in order, once. */
static void test_rewind_then_every_frame(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	assert_int_equal(produce_one(seg), 0);
	consume_one(seg, 0);
	assert_int_equal(fb_ring_rewind_begin(seg), 0);
	assert_int_equal(fb_ring_rewind_to(seg, 0), 0);
	for (uint64_t f = 0; f < 5; f++) {
		assert_int_equal(produce_one(seg), f);
		consume_one(seg, f);
	}
	assert_int_equal(fb_ring_claim(seg, &c), 0); /* all out: done */
	assert_int_equal(seg->hdr->frames_rerendered, 1);
}

/* Nobody is done while a rewind is begun, even with every frame out. */
static void test_nobody_done_during_rewind(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child;

	for (uint64_t f = 0; f < 5; f++) {
		assert_int_equal(produce_one(seg), f);
		consume_one(seg, f);
	}
	assert_int_equal(fb_ring_rewind_begin(seg), 0);
	child = fork_child(claim_in_child, seg);
	assert_int_equal(wait_child(child, 300), -1); /* not "done": it waits */
	assert_int_equal(fb_ring_rewind_to(seg, 2), 0);
	assert_int_equal(wait_child(child, 30000), 2);
}

/* A slot left occupied with nothing in flight is corruption, said so. */
static void test_rewind_sees_corruption(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	assert_int_equal(fb_ring_rewind_begin(seg), 0);
	seg->hdr->slots[1].state = FB_SLOT_READY;
	assert_int_equal(fb_ring_rewind_to(seg, 0), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

static void test_segment_grid(void **state)
{
	(void)state;
	/* L = 10 over 0:95: multiples of 10, the last piece 90:95 (5 = L/2) kept. */
	assert_int_equal(fb_plan_segment_end(0, 0, 95, 10), 10);
	assert_int_equal(fb_plan_segment_end(80, 0, 95, 10), 90);
	assert_int_equal(fb_plan_segment_end(90, 0, 95, 10), 95);
	/* 0:94: 90:94 (4 < 5) goes with 80:90. */
	assert_int_equal(fb_plan_segment_end(80, 0, 94, 10), 94);
	/* A chunk 41:117: 41:50 (9) kept, 110:117 (7) kept. */
	assert_int_equal(fb_plan_segment_end(41, 41, 117, 10), 50);
	assert_int_equal(fb_plan_segment_end(110, 41, 117, 10), 117);
	/* A chunk 47:112: 47:50 (3) goes with 50:60; 110:112 (2) with 100:110. */
	assert_int_equal(fb_plan_segment_end(47, 47, 112, 10), 60);
	assert_int_equal(fb_plan_segment_end(100, 47, 112, 10), 112);
	/* Both short, one piece between: 48:52 is one segment. */
	assert_int_equal(fb_plan_segment_end(48, 48, 52, 10), 52);
	/* L = 1: every frame its own. */
	assert_int_equal(fb_plan_segment_end(7, 7, 9, 1), 8);
	/* A resume from a grid point: the piece after it is whole. */
	assert_int_equal(fb_plan_segment_end(60, 60, 112, 10), 70);
	/* Huge L: one segment, no overflow. */
	assert_int_equal(fb_plan_segment_end(5, 5, 100, UINT64_MAX / 2), 100);
}

int fb_test_rewind(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_rewind_drains_then_moves_back),
		seg_test(test_rewind_then_every_frame),
		seg_test(test_nobody_done_during_rewind),
		seg_test(test_rewind_sees_corruption),
		cmocka_unit_test(test_segment_grid),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
