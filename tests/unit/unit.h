/*
 * unit — what every tests/unit/test_*.c file includes: cmocka, the
 * library's and the programs' headers the tests reach into, the segment
 * fixture, and the group runners bin/test_unit calls one after the other
 * (test_unit.c).  Each group is one module's tests; each returns its
 * number of failed tests.
 */
#ifndef FB_TEST_UNIT_H
#define FB_TEST_UNIT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "framebroker.h"
#include "test_seg.h"
#include "fb_cli.h"
#include "fb_params.h"
#include "fb_pixfmt.h"
#include "fb_proc.h"
#include "fb_guard.h"
#include "fb_life.h"
#include "fb_ring.h"
#include "fb_stats.h"
#include "fb_args.h"
#include "sink.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int fb_test_geometry(void); /* test_geometry.c: sizes, names, layout, rates */
int fb_test_params(void);   /* test_params.c: the programs' option parsing */
int fb_test_stats(void);    /* test_stats.c: fb-render's reads of the segment */
int fb_test_segment(void);  /* test_segment.c: validation, attach, create */
int fb_test_ring(void);     /* test_ring.c: the protocol */
int fb_test_rewind(void);   /* test_rewind.c: the rewind, the segment grid */
int fb_test_corrupt(void);  /* test_corrupt.c: the segment as hostile input */
int fb_test_life(void);     /* test_life.c: life-cycle CAS, locks, registry */
int fb_test_library(void);  /* test_library.c: the public API up to 0.7 */
int fb_test_sink(void);     /* test_sink.c: the encoder's vmsplice accounting */
int fb_test_view(void);     /* test_view.c: the revocable slot views (0.9) */
int fb_test_fault(void);    /* test_fault.c: FB_FAULT, fire-once markers, steps */
int fb_test_plan(void);    /* test_plan.c: SHA-256, the plan of a segmented render */

#endif
