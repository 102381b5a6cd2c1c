/*
 * test_view — unit tests (cmocka) of the revocable views (fb_claim_view,
 * fb_view_drop, fb_view_free, fb_view_cut_all), run by bin/test_unit
 * after the test_api group.
 */
#ifndef FB_TEST_VIEW_H
#define FB_TEST_VIEW_H

/* Run the group; the number of failed tests. */
int fb_test_view(void);

#endif
