/*
 * test_stats — unit tests (cmocka) of tools/fb_stats.c: what fb-render
 * reads and writes through its descriptor of the segment, trusting nothing
 * the header does not validate.
 */
#include "unit.h"

/* What fb-render reads and writes through its descriptor (fb_stats): the
 * header validated first, and "in doubt" meaning "frames left". */
static void test_stats_frames_left(void **state)
{
	struct fixture *fx = *state;
	struct fb_header *h = fx->seg->hdr;
	struct stat st;
	int fd = fb_shm_open(fx->name, O_RDWR, 0, &st);

	assert_true(fd >= 0);
	assert_int_equal(fb_stats_frames_left(fd, 1234), 1); /* nothing claimed yet */
	h->next_claim = 5; /* all 5 taken, none held */
	assert_int_equal(fb_stats_frames_left(fd, 1234), 0);
	h->slots[1].state = FB_SLOT_CLAIMED;
	h->slots[1].owner = 1234;
	assert_int_equal(fb_stats_frames_left(fd, 1234), 1); /* the dead one's */
	assert_int_equal(fb_stats_frames_left(fd, 999), 0);  /* another's: it renders it */
	h->slots[1].state = FB_SLOT_REISSUE;
	assert_int_equal(fb_stats_frames_left(fd, 999), 1);
	h->slots[1].state = FB_SLOT_EMPTY;
	h->next_claim = 6; /* past the end: corrupt, so in doubt */
	assert_int_equal(fb_stats_frames_left(fd, 999), 1);
	h->next_claim = 5;
	assert_int_equal(fb_stats_set_restarts(fd, 7), 0);
	assert_int_equal(atomic_load(&h->restarts), 7);
	h->magic ^= 1; /* no segment: nothing trusted, nothing written */
	assert_int_equal(fb_stats_frames_left(fd, 999), 1);
	assert_int_equal(fb_stats_set_restarts(fd, 8), -EINVAL);
	assert_int_equal(atomic_load(&h->restarts), 7);
	h->magic ^= 1;
	close(fd);
}

int fb_test_stats(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_stats_frames_left),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
