/*
 * fb_sha256 — SHA-256 (FIPS 180-4) of a buffer or of a file, as lowercase
 * hex: the plan file (fb_plan.h) records each segment's hash and a resume
 * checks it, and the render line names the --source spec and the ffmpeg
 * options by theirs.  No library: the programs link nothing but libc.
 */
#ifndef FB_SHA256_H
#define FB_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define FB_SHA256_HEX 65 /* 64 hex digits and the NUL */

struct fb_sha256 {
	uint32_t h[8];
	uint64_t len; /* bytes hashed so far */
	uint8_t buf[64];
	size_t nbuf;
};

void fb_sha256_init(struct fb_sha256 *s);
void fb_sha256_update(struct fb_sha256 *s, const void *data, size_t len);
/* The digest as 64 lowercase hex digits and a NUL into HEX. */
void fb_sha256_hex(struct fb_sha256 *s, char hex[FB_SHA256_HEX]);

/* The hash of LEN bytes at DATA, into HEX. */
void fb_sha256_buf(const void *data, size_t len, char hex[FB_SHA256_HEX]);

/* The hash of everything FD reads from where it is to its end (1 MiB
 * reads), into HEX: the number of bytes read, or -errno. */
int64_t fb_sha256_fd(int fd, char hex[FB_SHA256_HEX]);

#endif
