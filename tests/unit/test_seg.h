/*
 * test_seg — the unit tests' fixture: a real shm segment of its own per
 * test (64x4 gray frames), made by the test process as the broker would,
 * unlinked and unmapped afterwards; and the helpers that drive it, from
 * this process or from forked ones.  Shared by every tests/unit/ file.
 */
#ifndef FB_TEST_SEG_H
#define FB_TEST_SEG_H

#include "fb_segment.h"

#include <sys/types.h>

struct fixture {
	char name[64];
	struct fb_seg *seg; /* the creator's mapping: the broker's, and the encoder's side */
};

/* *STATE a fixture with SLOTS slots and FRAMES frames: 0, or -1. */
int fb_test_seg_make(void **state, uint32_t slots, uint64_t frames);

/* cmocka teardown of a fb_test_seg_make fixture. */
int fb_test_seg_teardown(void **state);

/* cmocka setups: S=3 slots, N=5 frames; S=1, N=3. */
int fb_test_seg_s3_n5(void **state);
int fb_test_seg_s1_n3(void **state);

/* A cmocka test entry with a fresh segment: S=3, N=5; S=1, N=3. */
#define seg_test(t) cmocka_unit_test_setup_teardown(t, fb_test_seg_s3_n5, fb_test_seg_teardown)
#define seg1_test(t) cmocka_unit_test_setup_teardown(t, fb_test_seg_s1_n3, fb_test_seg_teardown)

/* Claim the next frame, fill it with its index, publish; the frame. */
uint64_t produce_one(struct fb_seg *seg);

/* Acquire frame F as the encoder, check every byte is F, release it. */
void consume_one(struct fb_seg *seg, uint64_t f);

/* Fork a child that runs FN and exits with its result (0..255). */
pid_t fork_child(int (*fn)(struct fb_seg *), struct fb_seg *seg);

/* Wait for PID up to MS; returns its exit code, or -1 if it is still alive. */
int wait_child(pid_t pid, int ms);

/* Run FN in a child; it must exit (not die of a signal, not hang: 30 s)
 * with code WANT. */
void survives(int (*fn)(struct fb_seg *), struct fb_seg *seg, int want);

/* In a child: one claim; exits with its frame, 100 + rc, or 200 aborted. */
int claim_in_child(struct fb_seg *seg);

/* In a child after corruption: 0 if the claim fails with -EPROTO and the
 * recorded reason contains WANT, else 10 or 11. */
int claim_sees_corruption(struct fb_seg *seg, const char *want);

#endif
