/*
 * test_unit — bin/test_unit: every unit test group (cmocka), one module
 * each (tests/unit/README.md), one after the other.  Exit status: the
 * number of failed tests (0: all passed).  The groups share nothing but
 * the segment fixture (test_seg.h); each test gets a segment of its own.
 */
#include "unit.h"
#include "test_api.h"

int main(void)
{
	int (*const groups[])(void) = {
		fb_test_geometry, fb_test_params, fb_test_segment, fb_test_stats,
		fb_test_ring, fb_test_rewind, fb_test_corrupt, fb_test_library, fb_test_sink,
		fb_test_life,
		fb_test_api, /* test_api.c: the 0.8 calls */
		fb_test_view, fb_test_fault, fb_test_plan,
	};
	int failed = 0;

	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		failed += groups[i]();
	return failed;
}
