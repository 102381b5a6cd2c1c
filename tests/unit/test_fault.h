/*
 * test_fault — unit tests (cmocka) of the private fault injection
 * (lib/fb_fault.h): FB_FAULT/FB_FAULT_ONCE read once, the marker that makes
 * a fault fire once, the library's and fb-producer's steps.  Run by
 * bin/test_unit after its other groups.
 */
#ifndef FB_TEST_FAULT_H
#define FB_TEST_FAULT_H

/* Run the group; the number of failed tests. */
int fb_test_fault(void);

#endif
