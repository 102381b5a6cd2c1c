/*
 * test_seg — the unit tests' fixture: a real shm segment of its own per
 * test (64x4 gray frames), made by the test process as the broker would,
 * unlinked and unmapped afterwards.  Shared by test_unit.c and test_api.c.
 */
#ifndef FB_TEST_SEG_H
#define FB_TEST_SEG_H

#include "fb_segment.h"

struct fixture {
	char name[64];
	struct fb_seg *seg; /* the creator's mapping: the broker's, and the encoder's side */
};

/* *STATE a fixture with SLOTS slots and FRAMES frames: 0, or -1. */
int fb_test_seg_make(void **state, uint32_t slots, uint64_t frames);

/* cmocka teardown of a fb_test_seg_make fixture. */
int fb_test_seg_teardown(void **state);

#endif
