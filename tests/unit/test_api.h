/*
 * test_api — unit tests (cmocka) of the public calls added in 0.8
 * (fb_attach_fd, fb_claim_timed, fb_claim_fd, fb_fail, fb_reason, NULL
 * checks, fb_strerror, the version macros), run by bin/test_unit after its
 * own group.
 */
#ifndef FB_TEST_API_H
#define FB_TEST_API_H

/* Run the group; the number of failed tests. */
int fb_test_api(void);

#endif
