/* fb_util — diagnostics, number parsing, I/O loops and the clock (library). */
#include "fb_util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = { "quiet", "error", "warning", "info", "debug" };

int fb_log_level_parse(const char *name)
{
	for (int l = FB_LOG_QUIET; l <= FB_LOG_DEBUG; l++)
		if (strcmp(level_names[l], name) == 0)
			return l;
	return -1;
}

/* The level in force: FB_LOG_LEVEL, which --log-level sets and children
 * inherit.  Read at each message, so no process keeps it in a global. */
static int log_level(void)
{
	const char *env = getenv("FB_LOG_LEVEL");
	int l = env ? fb_log_level_parse(env) : -1;

	return l < 0 ? FB_LOG_INFO : l;
}

__attribute__((format(printf, 3, 0)))
static void vlog(int level, const char *prog, const char *fmt, va_list ap)
{
	char msg[1024];

	if (log_level() < level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* One write so lines from concurrent processes do not interleave. */
	dprintf(STDERR_FILENO, "%s: %s\n", prog, msg);
}

bool fb_log_enabled(int level)
{
	return log_level() >= level;
}

/* Errors are printed at every level: a failure must always say why. */
void fb_err(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(FB_LOG_QUIET, prog, fmt, ap);
	va_end(ap);
}

void fb_warn(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(FB_LOG_WARNING, prog, fmt, ap);
	va_end(ap);
}

void fb_info(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(FB_LOG_INFO, prog, fmt, ap);
	va_end(ap);
}

void fb_debug(const char *prog, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(FB_LOG_DEBUG, prog, fmt, ap);
	va_end(ap);
}

int fb_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
	char *end;
	unsigned long long v;

	/* strtoull accepts leading blanks and '-'; we want digits only. */
	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end != '\0')
		return -EINVAL;
	if (errno == ERANGE || v < min || v > max)
		return -ERANGE;
	*out = v;
	return 0;
}

/* write(2) (OFF < 0) or pwrite(2) at OFF, until LEN bytes are out. */
static int write_loop(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = off < 0 ? write(fd, p, len) : pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
		if (off >= 0)
			off += n;
	}
	return 0;
}

int fb_write_all(int fd, const void *buf, size_t len)
{
	return write_loop(fd, buf, len, -1);
}

int fb_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	return write_loop(fd, buf, len, off);
}

int fb_pread_all(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

uint64_t fb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void fb_reason_copy(char *buf, size_t len, const char *src, size_t src_len)
{
	size_t n = 0;

	if (len == 0)
		return;
	for (; n + 1 < len && n < src_len && src[n] != '\0'; n++) {
		unsigned char c = (unsigned char)src[n];

		buf[n] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	buf[n] = '\0';
}

uint64_t fb_gcd_u64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}
