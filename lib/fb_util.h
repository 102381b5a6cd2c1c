/*
 * fb_util — small helpers the library and every program need: diagnostics in the
 * one-line "fb-PROGRAM: message" form, strict number parsing, full-length
 * read/write loops and a monotonic clock.  Nothing here touches the segment.
 */
#ifndef FB_UTIL_H
#define FB_UTIL_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "framebroker.h"
#define FB_STR2_(x) #x
#define FB_STR_(x) FB_STR2_(x)
/* "MAJOR.MINOR.PATCH", spelled from the one definition in include/framebroker.h. */
#define FB_VERSION_STRING \
	FB_STR_(FB_VERSION_MAJOR) "." FB_STR_(FB_VERSION_MINOR) "." FB_STR_(FB_VERSION_PATCH)

/*
 * Diagnostics: "PROG: message\n" on stderr, one write per line.  fb_err for
 * failures, fb_warn for events a render survives (a producer died, a frame
 * was reissued), fb_info for what a user asked to know (what was written,
 * how an option was read), fb_debug for detail.  Which are printed: --log-level
 * quiet|error|warning|info|debug (default info), kept in FB_LOG_LEVEL so a
 * launcher's children follow it (an unknown value there counts as info).
 * Errors are printed at every level, quiet included: quiet and error drop
 * the warnings and fb-render's status line.
 */
enum { FB_LOG_QUIET, FB_LOG_ERROR, FB_LOG_WARNING, FB_LOG_INFO, FB_LOG_DEBUG };
void fb_err(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fb_warn(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fb_info(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void fb_debug(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Would a message of LEVEL be printed? */
bool fb_log_enabled(int level);

/* The level named NAME, or -1. */
int fb_log_level_parse(const char *name);

/*
 * Parse a whole decimal string into [min, max].  Returns 0 or -EINVAL
 * (not a number, trailing junk, sign where none allowed) / -ERANGE.
 */
int fb_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/* The greatest common divisor of A and B (A when B is 0): frame rates are
 * kept as reduced fractions. */
uint64_t fb_gcd_u64(uint64_t a, uint64_t b);

/* write()/pread() until done; retry EINTR.  Return 0 or -errno
 * (-EIO for a short pread at end of file). */
int fb_write_all(int fd, const void *buf, size_t len);
int fb_pwrite_all(int fd, const void *buf, size_t len, off_t off);
int fb_pread_all(int fd, void *buf, size_t len, off_t off);

/*
 * Copy text that came from shared memory (SRC, at most SRC_LEN bytes, maybe
 * not NUL-terminated) into BUF[LEN] for a message: bounded, NUL-terminated,
 * every byte that is not printable ASCII replaced by '?'.
 */
void fb_reason_copy(char *buf, size_t len, const char *src, size_t src_len);

/* CLOCK_MONOTONIC in nanoseconds. */
uint64_t fb_now_ns(void);

#endif
