/*
 * test_sink — unit tests (cmocka) of encoder/sink.c: the vmsplice
 * accounting (a frame is done exactly when ffmpeg has read its last byte),
 * copy mode, timeouts, EPIPE.
 */
#include "unit.h"

/* read exactly N bytes of the pipe into BUF */
static void read_n(int fd, unsigned char *buf, size_t n)
{
	while (n > 0) {
		ssize_t r = read(fd, buf, n);

		assert_true(r > 0);
		buf += r;
		n -= (size_t)r;
	}
}

/* A spliced frame is done exactly when the reader has read its last byte —
 * not one byte sooner — and a write to the slot after the push does show
 * in what the reader gets (the pipe holds references, not copies: why the
 * rule exists). */
static void test_sink_splice_accounting(void **state)
{
	const size_t L = 65540; /* 16 pages and 4 bytes: frames share no page */
	unsigned char *src, *got = malloc(3 * L);
	struct fb_frame_ref f[3];
	struct sink k;
	size_t off = 0;
	int p[2];

	(void)state;
	src = mmap(NULL, 3 * 69632, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(src != MAP_FAILED && got);
	for (int i = 0; i < 3; i++) {
		f[i] = (struct fb_frame_ref){ (uint64_t)i, src + (size_t)i * 69632, L };
		for (size_t j = 0; j < L; j++)
			src[(size_t)i * 69632 + j] = (unsigned char)(j * 7 + (size_t)i);
	}
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 1 << 20) >= (1 << 20));
	assert_int_equal(sink_init(&k, p[1], true, 8, 1000, -1, 0), 0);
	assert_int_equal(sink_push(&k, f, 3), 0);
	assert_true(k.splice); /* vmsplice was taken, not the copy fallback */
	assert_int_equal(sink_done(&k), 0);
	src[2 * 69632 + 100] ^= 0xff; /* frame 2, after the push */
	const size_t steps[] = { L - 1, 1, L + 5, L - 5 };
	const uint32_t done_after[] = { 0, 1, 1, 1 };
	for (int i = 0; i < 4; i++) {
		read_n(p[0], got + off, steps[i]);
		off += steps[i];
		assert_int_equal(sink_done(&k), done_after[i]);
	}
	assert_int_equal(sink_wait(&k), 0); /* all read: nothing to wait for */
	for (int i = 0; i < 3; i++)
		assert_memory_equal(got + (size_t)i * L, src + (size_t)i * 69632, L);
	assert_int_equal(k.count, 0);
	sink_free(&k);
	close(p[0]);
	close(p[1]);
	munmap(src, 3 * 69632);
	free(got);
}

/* Copy mode: frames are out when writev returns.  Splice mode: a reader
 * that stops is a timeout, one that is gone is EPIPE. */
static void test_sink_copy_timeout_epipe(void **state)
{
	static unsigned char frame[70000];
	struct fb_frame_ref f = { 0, frame, sizeof(frame) };
	struct sink k;
	int p[2], rc;

	(void)state;
	assert_int_equal(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	assert_true(fcntl(p[1], F_SETPIPE_SZ, 1 << 20) >= (1 << 20));
	assert_int_equal(sink_init(&k, p[1], false, 4, 1000, -1, 0), 0);
	assert_int_equal(sink_push(&k, &f, 1), 0);
	assert_int_equal(sink_done(&k), 1);
	sink_free(&k);

	assert_int_equal(sink_init(&k, p[1], true, 4, 50, -1, 0), 0);
	assert_int_equal(sink_push(&k, &f, 1), 0);
	while ((rc = sink_wait(&k)) == 0)
		;
	assert_int_equal(rc, -ETIMEDOUT);
	close(p[0]);
	assert_int_equal(sink_wait(&k), -EPIPE);
	sink_free(&k);
	close(p[1]);
}

int fb_test_sink(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sink_splice_accounting),
		cmocka_unit_test(test_sink_copy_timeout_epipe),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
