/*
 * Unit tests (cmocka): parsing, geometry, header validation against
 * corrupted segments, and the ring protocol driven from forked processes on
 * a real shm segment — blocking, ordering, wake-ups, stale and corrupt
 * words, and a lock holder dying inside a critical section.  Long because
 * it is a list of independent tests, one per behaviour, in one cmocka
 * group; the public API's tests are tests/test_api.c.
 */
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
#include "test_api.h"

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

/* ---- parsing and geometry ---------------------------------------------- */

static void test_frame_bytes(void **state)
{
	(void)state;
	assert_int_equal(fb_frame_bytes(FB_PIX_RGBA, 322, 242), 322 * 242 * 4);
	assert_int_equal(fb_frame_bytes(FB_PIX_BGRA, 1, 1), 4);
	assert_int_equal(fb_frame_bytes(FB_PIX_RGB24, 322, 242), 322 * 242 * 3);
	assert_int_equal(fb_frame_bytes(FB_PIX_GRAY, 7, 3), 21);
	/* 321x241: chroma planes 161x121 each */
	assert_int_equal(fb_frame_bytes(FB_PIX_YUV420P, 321, 241), 321 * 241 + 2 * 161 * 121);
	assert_int_equal(fb_frame_bytes(FB_PIX_YUV420P, 1920, 1080), 1920 * 1080 * 3 / 2);
	assert_int_equal(fb_frame_bytes(0, 10, 10), 0);
	assert_int_equal(fb_frame_bytes(FB_PIX_END_, 10, 10), 0);
	assert_int_equal(fb_pixfmt_parse("yuv420p"), FB_PIX_YUV420P);
	assert_int_equal(fb_pixfmt_parse("YUV420P"), 0);
	assert_null(fb_pixfmt_name(99));
}

static void test_parse_u64(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(fb_parse_u64("0", 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(fb_parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(fb_parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(fb_parse_u64("11", 0, 10, &v), -ERANGE);
	assert_int_equal(fb_parse_u64("0", 1, 10, &v), -ERANGE);
	assert_int_equal(fb_parse_u64("", 0, 10, &v), -EINVAL);
	assert_int_equal(fb_parse_u64("-1", 0, 10, &v), -EINVAL);
	assert_int_equal(fb_parse_u64(" 1", 0, 10, &v), -EINVAL);
	assert_int_equal(fb_parse_u64("+1", 0, 10, &v), -EINVAL);
	assert_int_equal(fb_parse_u64("1x", 0, 10, &v), -EINVAL);
	assert_int_equal(fb_parse_u64("0x10", 0, 100, &v), -EINVAL);
}

static void test_parse_size(void **state)
{
	uint32_t w = 0, h = 0;

	(void)state;
	assert_int_equal(fb_parse_size("1x1", 16384, &w, &h), 0);
	assert_int_equal(fb_parse_size("16384x9", 16384, &w, &h), 0);
	assert_int_equal(w, 16384);
	assert_int_equal(h, 9);
	assert_int_equal(fb_parse_size("16385x9", 16384, &w, &h), -ERANGE);
	assert_int_equal(fb_parse_size("0x9", 16384, &w, &h), -ERANGE);
	assert_int_equal(fb_parse_size("x9", 16384, &w, &h), -EINVAL);
	assert_int_equal(fb_parse_size("9x", 16384, &w, &h), -EINVAL);
	assert_int_equal(fb_parse_size("9*9", 16384, &w, &h), -EINVAL);
	assert_int_equal(fb_parse_size("1x1x1", 16384, &w, &h), -EINVAL);
	assert_int_equal(fb_parse_size("-1x5", 16384, &w, &h), -EINVAL);
}

static void test_name_check(void **state)
{
	char longname[FB_NAME_MAX + 2];

	(void)state;
	assert_int_equal(fb_seg_name_check("/fb-render-1"), 0);
	assert_int_equal(fb_seg_name_check("/a.b_c-D9"), 0);
	assert_int_equal(fb_seg_name_check("fb"), -EINVAL);
	assert_int_equal(fb_seg_name_check("/"), -EINVAL);
	assert_int_equal(fb_seg_name_check("/a/b"), -EINVAL);
	assert_int_equal(fb_seg_name_check("/.."), -EINVAL);
	assert_int_equal(fb_seg_name_check("/a b"), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fb_seg_name_check(longname), -EINVAL);
}

static void test_name_canon(void **state)
{
	char out[FB_NAME_MAX + 1], in[FB_NAME_MAX + 1];

	(void)state;
	assert_int_equal(fb_seg_name_canon("/tour", out), 0);
	assert_string_equal(out, "/tour");
	assert_int_equal(fb_seg_name_canon("tour", out), 1);
	assert_string_equal(out, "/tour");
	assert_int_equal(fb_seg_name_canon("", out), -EINVAL);
	assert_int_equal(fb_seg_name_canon("/", out), -EINVAL);
	assert_int_equal(fb_seg_name_canon(".", out), -EINVAL);
	assert_int_equal(fb_seg_name_canon("..", out), -EINVAL);
	assert_int_equal(fb_seg_name_canon("a/b", out), -EINVAL);
	assert_int_equal(fb_seg_name_canon("//a", out), -EINVAL);
	assert_int_equal(fb_seg_name_canon("a b", out), -EINVAL);
	/* The longest name fits either way; one byte more does not, and
	 * the '/' that would be added counts. */
	memset(in, 'a', FB_NAME_MAX - 1);
	in[FB_NAME_MAX - 1] = '\0';
	assert_int_equal(fb_seg_name_canon(in, out), 1);
	assert_int_equal((int)strlen(out), FB_NAME_MAX);
	in[FB_NAME_MAX - 1] = 'a';
	in[FB_NAME_MAX] = '\0';
	assert_int_equal(fb_seg_name_canon(in, out), -EINVAL);
	in[0] = '/';
	assert_int_equal(fb_seg_name_canon(in, out), 0);
}

static void test_geom(void **state)
{
	struct fb_geom g;
	long pg = sysconf(_SC_PAGESIZE);

	(void)state;
	assert_int_equal(fb_geom_init(&g, 322, 242, FB_PIX_RGB24, 3, 30, 10), 0);
	assert_int_equal(g.frame_bytes, 322 * 242 * 3);
	assert_int_equal(g.slot_stride % (uint64_t)pg, 0);
	assert_true(g.slot_stride >= g.frame_bytes && g.slot_stride < g.frame_bytes + (uint64_t)pg);
	assert_int_equal(g.data_offset % (uint64_t)pg, 0);
	assert_true(g.data_offset >= sizeof(struct fb_header));
	assert_int_equal(g.segment_size, g.data_offset + 3 * g.slot_stride);
	assert_int_equal(fb_geom_init(&g, 16384, 16384, FB_PIX_RGBA, 256, 30, 10), -EFBIG);
	assert_int_equal(fb_geom_init(&g, 0, 10, FB_PIX_RGBA, 1, 30, 10), -EINVAL);
	assert_int_equal(fb_geom_init(&g, 10, 16385, FB_PIX_RGBA, 1, 30, 10), -EINVAL);
	assert_int_equal(fb_geom_init(&g, 10, 10, FB_PIX_RGBA, 0, 30, 10), -EINVAL);
	assert_int_equal(fb_geom_init(&g, 10, 10, FB_PIX_RGBA, 257, 30, 10), -EINVAL);
	assert_int_equal(fb_geom_init(&g, 10, 10, 0, 1, 30, 10), -EINVAL);
	assert_int_equal(fb_geom_init(&g, 10, 10, FB_PIX_RGBA, 1, 0, 10), -EINVAL);
	assert_int_equal(fb_geom_init(&g, 10, 10, FB_PIX_RGBA, 1, 30, 0), -EINVAL);
}

/* ---- frame rates --------------------------------------------------------- */

struct fps_case {
	const char *in;
	uint32_t num, den; /* 0/0: refused */
	int ntsc;
	const char *why;   /* refused: a part of the message */
};

static void test_fps_parse(void **state)
{
	static const struct fps_case cases[] = {
		{ "30", 30, 1, 0, NULL },
		{ "1", 1, 1, 0, NULL },
		{ "1000", 1000, 1, 0, NULL },
		{ "30000/1001", 30000, 1001, 0, NULL },
		{ "24000/1001", 24000, 1001, 0, NULL },
		{ "60000/2002", 30000, 1001, 0, NULL }, /* reduced */
		{ "60/2", 30, 1, 0, NULL },
		{ "30/1", 30, 1, 0, NULL },
		{ "1/1000000", 1, 1000000, 0, NULL },
		{ "29.97", 30000, 1001, 1, NULL },
		{ "29.970", 30000, 1001, 1, NULL },
		{ "29.97003", 30000, 1001, 1, NULL },
		{ "29.970030", 30000, 1001, 1, NULL },
		{ "23.976", 24000, 1001, 1, NULL },
		{ "23.98", 24000, 1001, 1, NULL },
		{ "59.94", 60000, 1001, 1, NULL },
		{ "119.88", 120000, 1001, 1, NULL },
		{ "47.952", 48000, 1001, 1, NULL },
		{ "14.99", 15000, 1001, 1, NULL },
		{ "12.5", 25, 2, 0, NULL },
		{ "12.50", 25, 2, 0, NULL },
		{ "29.96", 749, 25, 0, NULL },   /* near 29.97 but not its rounding */
		{ "29.971", 29971, 1000, 0, NULL }, /* 29.97003 rounds to 29.970 */
		{ "23.97", 2397, 100, 0, NULL }, /* 23.976 rounds to 23.98 */
		{ "29.9", 299, 10, 0, NULL },    /* no M*1000/1001 rounds to it */
		{ "30.0", 30, 1, 0, NULL },      /* all zeros: the integer, not 29.97 */
		{ "1.00", 1, 1, 0, NULL },       /* not 1000/1001 (0.999 rounds to 1.00) */
		{ "0.5", 1, 2, 0, NULL },
		/* ffmpeg would read these as 1000 and 2: refused, not rounded */
		{ "999.999999", 0, 0, 0, "at most 1001000" },
		{ "1.999999", 0, 0, 0, "at most 1001000" },
		{ "1000999/1001", 1000999, 1001, 0, NULL },
		{ "1001003/1003", 0, 0, 0, "at most 1001000" },
		{ "1000.0", 1000, 1, 0, NULL },
		{ "59.9", 0, 0, 0, "ambiguous: give 60000/1001 for the broadcast rate (59.94 fps) or 599/10" },
		{ "119.9", 0, 0, 0, "120000/1001" },
		{ "0", 0, 0, 0, "above 0" },
		{ "0/5", 0, 0, 0, "above 0" },
		{ "0.0", 0, 0, 0, "above 0" },
		{ "1001", 0, 0, 0, "at most 1000" },
		{ "1000.000001", 0, 0, 0, "at most 1000" },
		{ "2001/2", 0, 0, 0, "at most 1000" },
		{ "1000000001/1000000", 0, 0, 0, "at most 1000" },
		{ "18446744073709551615/18446744073709551615", 1, 1, 0, NULL },
		{ "5/18446744073709551615", 0, 0, 0, "denominator" }, /* 1000 * D wraps */
		{ "18446744073709551615/1", 0, 0, 0, "at most 1000" },
		{ "99999999999999999999", 0, 0, 0, "expected N, N/D" },
		{ "1/0", 0, 0, 0, "D at least 1" },
		{ "30/1001000000", 0, 0, 0, "a denominator of at most 1000000 once reduced, which ffmpeg takes exactly (it is 3/100100000)" },
		{ "1/1000001", 0, 0, 0, "denominator" },
		{ "1.2345678", 0, 0, 0, "at most 6 decimals" },
		{ "-1", 0, 0, 0, "expected N, N/D" },
		{ "+30", 0, 0, 0, "expected N, N/D" },
		{ "abc", 0, 0, 0, "expected N, N/D" },
		{ "", 0, 0, 0, "expected N, N/D" },
		{ "30 ", 0, 0, 0, "expected N, N/D" },
		{ " 30", 0, 0, 0, "expected N, N/D" },
		{ "30.", 0, 0, 0, "expected N, N/D" },
		{ ".5", 0, 0, 0, "expected N, N/D" },
		{ "1.2.3", 0, 0, 0, "expected N, N/D" },
		{ "1/2/3", 0, 0, 0, "expected N, N/D" },
		{ "1.5/2", 0, 0, 0, "expected N, N/D" },
		{ "30/", 0, 0, 0, "expected N, N/D" },
		{ "/30", 0, 0, 0, "expected N, N/D" },
		{ "30/-1", 0, 0, 0, "expected N, N/D" },
		{ "3e1", 0, 0, 0, "expected N, N/D" },
		{ "0x1e", 0, 0, 0, "expected N, N/D" },
		{ "29,97", 0, 0, 0, "expected N, N/D" },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct fps_case *c = &cases[i];
		uint32_t num = 7, den = 7;
		int ntsc = 7, rc;
		char why[160] = "";

		rc = fb_fps_parse(c->in, &num, &den, &ntsc, why, sizeof(why));
		if (c->num) {
			if (rc != 0 || num != c->num || den != c->den || ntsc != c->ntsc)
				fail_msg("--fps '%s': rc %d, %u/%u ntsc %d (%s); want %u/%u ntsc %d", c->in,
					 rc, num, den, ntsc, why, c->num, c->den, c->ntsc);
		} else if (rc != -EINVAL || !strstr(why, c->why) || num != 7 || den != 7) {
			fail_msg("--fps '%s': rc %d, %u/%u, why '%s'; want -EINVAL, untouched, '%s'",
				 c->in, rc, num, den, why, c->why);
		}
	}
}

/* Every 1001 rate an integer rate M up to the limit gives, written as
 * users write it (2..6 decimals, rounded), comes back as M*1000/1001; and
 * every one-decimal rounding of one is refused as ambiguous. */
static void test_fps_parse_every_ntsc(void **state)
{
	(void)state;
	for (uint32_t m = 1; m * 1000 / 1001 < 1000; m++) {
		double v = m * 1000.0 / 1001.0;

		for (int k = 1; k <= 6; k++) {
			char in[32], why[160];
			uint32_t num, den;
			int ntsc, rc;

			snprintf(in, sizeof(in), "%.*f", k, v);
			rc = fb_fps_parse(in, &num, &den, &ntsc, why, sizeof(why));
			if (strspn(strchr(in, '.') + 1, "0") == (size_t)k) {
				/* "1.00", "2.000": the integer itself */
				assert_int_equal(rc, 0);
				assert_int_equal(den, 1);
			} else if (k == 1) {
				if (rc != -EINVAL || !strstr(why, "ambiguous"))
					fail_msg("'%s' (M %u): rc %d '%s'", in, m, rc, why);
			} else if (rc != 0 || !ntsc || (uint64_t)num * 1001 != (uint64_t)m * 1000 * den) {
				fail_msg("'%s' (M %u): rc %d, %u/%u ntsc %d", in, m, rc, num, den, ntsc);
			}
		}
	}
}

static void test_fps_geom(void **state)
{
	struct fb_geom g;
	struct fb_params p;
	char buf[32];

	(void)state;
	assert_int_equal(fb_geom_init(&g, 64, 4, FB_PIX_GRAY, 2, 30, 3), 0);
	assert_int_equal(g.fps_num, 30);
	assert_int_equal(g.fps_den, 1);
	assert_int_equal(fb_geom_set_fps(&g, 30000, 1001), 0);
	assert_int_equal(g.fps_num, 30000);
	assert_int_equal(g.fps_den, 1001);
	assert_int_equal(fb_geom_set_fps(&g, 60000, 2002), -EINVAL); /* not reduced */
	assert_int_equal(fb_geom_set_fps(&g, 0, 1), -EINVAL);
	assert_int_equal(fb_geom_set_fps(&g, 1, 0), -EINVAL);
	assert_int_equal(fb_geom_set_fps(&g, 1001, 1), -EINVAL);
	assert_int_equal(fb_geom_set_fps(&g, 1, 1000001), -EINVAL);
	assert_int_equal(fb_geom_set_fps(&g, 1000000000, 1000000), -EINVAL); /* 1000/1 unreduced */
	assert_int_equal(fb_geom_set_fps(&g, 999999999, 1000000), -EINVAL); /* ffmpeg: 1000 */
	assert_int_equal(fb_geom_set_fps(&g, 999999, 1000000), 0);
	assert_int_equal(g.fps_num, 999999); /* a refused rate left the last good one */
	assert_string_equal(fb_fps_str(buf, sizeof(buf), 30000, 1001), "30000/1001");
	assert_string_equal(fb_fps_str(buf, sizeof(buf), 30, 1), "30");
	assert_int_equal(fb_fps_rounded(30000, 1001), 30);
	assert_int_equal(fb_fps_rounded(24000, 1001), 24);
	assert_int_equal(fb_fps_rounded(25, 2), 13);
	assert_int_equal(fb_fps_rounded(1, 1000000), 1); /* never 0: old programs divide by it */
	assert_int_equal(fb_fps_rounded(2, 5), 1);
	assert_int_equal(fb_fps_rounded(1000, 1), 1000);
	/* frame i starts at i * 1001 / 30000 s: exact, in microseconds */
	assert_int_equal(fb_fps_frames_us(30, 30000, 1001), 1001000);
	assert_int_equal(fb_fps_frames_us(1, 30000, 1001), 33366); /* 33366.67, down */
	assert_int_equal(fb_fps_frames_us(120, 30, 1), 4000000);
	assert_int_equal(fb_fps_frames_us(0, 24000, 1001), 0);
	assert_int_equal(fb_fps_frames_us(1ull << 40, 30000, 1001), 36687037980125866ull);
	assert_int_equal(fb_fps_frames_us(1ull << 40, 1, 1000000), UINT64_MAX); /* saturates */
	assert_int_equal(fb_fps_frames_us(1ull << 40, 1000, 1), (1ull << 40) * 1000);

	/* through the option parser: fb-render's and fb-broker's path */
	fb_params_default(&p);
	assert_int_equal(fb_params_set(&p, "fps", "29.97", "test"), 1);
	assert_int_equal(fb_params_set(&p, "size", "64x4", "test"), 1);
	assert_int_equal(fb_params_geom(&p, &g, "test"), 0);
	assert_int_equal(g.fps_num, 30000);
	assert_int_equal(g.fps_den, 1001);
	assert_non_null(p.fps_ntsc);
	assert_int_equal(fb_params_set(&p, "fps", "12.5", "test"), 1);
	assert_null(p.fps_ntsc);
	assert_int_equal(fb_params_set(&p, "fps", "59.9", "test"), -EINVAL);
	assert_int_equal(p.fps_num, 25); /* a refused value changes nothing */
	assert_int_equal(p.fps_den, 2);
}

/* fb_params_argv gives back options that fb_params_set reads as the same
 * parameters (fb-render starts fb-broker with them). */
static void test_params_argv(void **state)
{
	struct fb_params p, q;
	struct fb_params_argv_buf b;
	char *argv[FB_PARAMS_ARGV_MAX];
	int n;

	(void)state;
	for (int k = 0; k < 2; k++) {
		fb_params_default(&p);
		if (k) { /* every option set, none at its default */
			assert_int_equal(fb_params_set(&p, "size", "320x240", "test"), 1);
			assert_int_equal(fb_params_set(&p, "pix-fmt", "yuv420p10le", "test"), 1);
			assert_int_equal(fb_params_set(&p, "fps", "23.976", "test"), 1);
			assert_int_equal(fb_params_set(&p, "frames", "1099511627776", "test"), 1);
			assert_int_equal(fb_params_set(&p, "range", "7:19", "test"), 1);
			assert_int_equal(fb_params_set(&p, "slots", "256", "test"), 1);
			assert_int_equal(fb_params_set(&p, "frame-format", "jpeg", "test"), 1);
			assert_int_equal(fb_params_set(&p, "slot-bytes", "12345", "test"), 1);
		}
		n = fb_params_argv(&p, argv, &b);
		assert_true(n > 0 && n <= FB_PARAMS_ARGV_MAX && n % 2 == 0);
		assert_int_equal(n, k ? 16 : 12); /* --range, --slot-bytes only when set */
		fb_params_default(&q);
		for (int i = 0; i < n; i += 2) {
			assert_memory_equal(argv[i], "--", 2);
			assert_int_equal(fb_params_set(&q, argv[i] + 2, argv[i + 1], "test"), 1);
		}
		assert_int_equal(q.width, p.width);
		assert_int_equal(q.height, p.height);
		assert_int_equal(q.pix_fmt, p.pix_fmt);
		assert_int_equal(q.fps_num, k ? 24000 : 30);
		assert_int_equal(q.fps_den, k ? 1001 : 1);
		assert_int_equal(q.fps_num, p.fps_num);
		assert_int_equal(q.fps_den, p.fps_den);
		assert_int_equal(q.frames, p.frames);
		assert_int_equal(q.range_first, p.range_first);
		assert_int_equal(q.range_end, p.range_end);
		assert_int_equal(q.slots, p.slots);
		assert_int_equal(q.frame_format, p.frame_format);
		assert_int_equal(q.slot_bytes, p.slot_bytes);
	}
}

/* One getopt loop: the program gets its own options only; shared ones and
 * the parameters land where it said; "--" ends them. */
static void test_cli(void **state)
{
	static const struct option own[] = {
		{ "mine", required_argument, NULL, 'm' },
		{ "flag", no_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	char value[] = "--"; /* -o's value: not the literal "--" that ends the options */
	char *args[] = { "prog", "--mine", "x", "--size", "64x48", "--name", "seg", "--fd", "7",
			 "--flag", "-o", value, "--", "-a", "b", NULL };
	char *bad[] = { "prog", "--fd", "-1", NULL };
	char *unknown[] = { "prog", "--no-such", NULL };
	char *stray[] = { "prog", "--flag", "stray", NULL };
	char name[FB_NAME_MAX + 1] = "";
	struct fb_params p;
	int fd = 0, tmo = 0, c, n, seen = 0;
	char **rest;
	struct fb_cli cli = { .prog = "test", .shortopts = "+o:", .own = own,
			      .groups = FB_OPTS_NAME | FB_OPTS_ATTACH | FB_OPTS_PARAMS, .name = name,
			      .seg_fd = &fd, .attach_timeout_ms = &tmo, .params = &p };

	(void)state;
	fb_params_default(&p);
	optind = 0;
	while ((c = fb_cli_next(&cli, 15, args)) > 0) {
		assert_true(c == 'm' || c == 'f' || c == 'o');
		assert_string_equal(cli.arg ? cli.arg : "", c == 'm' ? "x" : c == 'o' ? "--" : "");
		seen++;
	}
	assert_int_equal(c, 0);
	assert_int_equal(seen, 3);
	assert_int_equal(fb_cli_end(&cli, 15, args, &rest, &n), 0);
	assert_int_equal(n, 2); /* "-o --" was a value; the second "--" ends */
	assert_string_equal(rest[0], "-a");
	assert_string_equal(name, "/seg");
	assert_int_equal(fd, 7);
	assert_int_equal(tmo, 5000);
	assert_int_equal(p.width, 64);
	assert_int_equal(p.height, 48);

	struct fb_cli c2 = { .prog = "test", .own = own, .groups = FB_OPTS_ATTACH, .seg_fd = &fd,
			     .attach_timeout_ms = &tmo };
	optind = 0;
	assert_int_equal(fb_cli_next(&c2, 3, bad), -1);
	struct fb_cli c3 = { .prog = "test", .own = own };
	optind = 0;
	assert_int_equal(fb_cli_next(&c3, 2, unknown), -1);
	struct fb_cli c4 = { .prog = "test", .shortopts = "+", .own = own };
	optind = 0;
	assert_int_equal(fb_cli_next(&c4, 3, stray), 'f');
	assert_int_equal(fb_cli_next(&c4, 3, stray), 0);
	assert_int_equal(fb_cli_end(&c4, 3, stray, NULL, NULL), -1);
	optind = 0;
}

/* ---- a real segment per test ------------------------------------------- */

static int setup_s3_n5(void **state) { return fb_test_seg_make(state, 3, 5); }
static int setup_s1_n3(void **state) { return fb_test_seg_make(state, 1, 3); }
static int teardown(void **state) { return fb_test_seg_teardown(state); }

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

/* ---- header validation ------------------------------------------------- */

typedef void (*mutator)(struct fb_header *h);
static void m_magic(struct fb_header *h) { h->magic ^= 1; }
static void m_version(struct fb_header *h) { h->abi_version = FB_ABI_VERSION + 1; }
static void m_hsize(struct fb_header *h) { h->header_size = 64; }
static void m_width0(struct fb_header *h) { h->width = 0; }
static void m_width_big(struct fb_header *h) { h->width = 1u << 31; }
static void m_fmt(struct fb_header *h) { h->pix_fmt = 77; }
static void m_slots_huge(struct fb_header *h) { h->slot_count = 0xffffffffu; }
static void m_slots0(struct fb_header *h) { h->slot_count = 0; }
static void m_frame_bytes(struct fb_header *h) { h->frame_bytes += 1; }
static void m_stride(struct fb_header *h) { h->slot_stride = UINT64_MAX - 4095; }
static void m_stride_small(struct fb_header *h) { h->slot_stride = 0; }
static void m_offset(struct fb_header *h) { h->data_offset = 0; }
static void m_size(struct fb_header *h) { h->segment_size *= 2; }
static void m_frames0(struct fb_header *h) { h->total_frames = 0; }
static void m_fps(struct fb_header *h) { h->fps_num = 100000; }
static void m_fps0(struct fb_header *h) { h->fps_num = 0; }
static void m_fps_den0(struct fb_header *h) { h->fps_den = 0; }
static void m_fps_unreduced(struct fb_header *h) { h->fps_num *= 2; h->fps_den *= 2; }
static void m_fps_den_big(struct fb_header *h) { h->fps_num = 1000001; h->fps_den = 1000001 * 3; }
static void m_fps_fast(struct fb_header *h) { h->fps_num = 1001001; h->fps_den = 1001; }
static void m_pid(struct fb_header *h) { h->broker_pid = -5; }
static void m_chunk_flag(struct fb_header *h) { h->chunk = 2; }
static void m_first_whole(struct fb_header *h) { h->first_frame = 1; } /* not a chunk: must be 0 */
static void m_render_whole(struct fb_header *h) { h->render_frames += 1; }
static void m_chunk_past_end(struct fb_header *h)
{ /* a chunk whose frames run past the end of its render */
	h->chunk = 1;
	h->render_frames = h->total_frames + 3;
	h->first_frame = 4;
}
static void m_chunk_wraps(struct fb_header *h)
{ /* first + total overflows 64 bits, render_frames in range: must not pass */
	h->chunk = 1;
	h->first_frame = UINT64_MAX - 1;
	h->render_frames = 1000;
}
static void m_more_slots(struct fb_header *h)
{ /* consistent derived fields, but the slots no longer fit the file */
	struct fb_geom g;

	fb_geom_init(&g, h->width, h->height, h->pix_fmt, h->slot_count + 1, 1, h->total_frames);
	h->slot_count++;
	h->segment_size = g.segment_size;
}

static void test_validate_rejects(void **state)
{
	static const mutator muts[] = {
		m_magic, m_version, m_hsize, m_width0, m_width_big, m_fmt, m_slots_huge,
		m_slots0, m_frame_bytes, m_stride, m_stride_small, m_offset, m_size,
		m_frames0, m_fps, m_fps0, m_fps_den0, m_fps_unreduced, m_fps_den_big, m_fps_fast, m_pid, m_more_slots, m_chunk_flag, m_first_whole,
		m_render_whole, m_chunk_past_end, m_chunk_wraps,
	};
	struct fixture *fx = *state;
	uint64_t size = fx->seg->geom.segment_size;
	struct fb_header copy;
	struct fb_geom g;
	const char *why;

	memcpy(&copy, fx->seg->hdr, sizeof(copy));
	assert_int_equal(fb_seg_validate(&copy, size, &g, &why), 0);
	assert_int_equal(fb_seg_validate(&copy, size - 1, &g, &why), -EPROTO);
	assert_int_equal(fb_seg_validate(&copy, 16, &g, &why), -EPROTO);
	for (size_t i = 0; i < sizeof(muts) / sizeof(muts[0]); i++) {
		memcpy(&copy, fx->seg->hdr, sizeof(copy));
		muts[i](&copy);
		why = NULL;
		assert_int_equal(fb_seg_validate(&copy, size, &g, &why), -EPROTO);
		assert_non_null(why);
	}
}

static void test_attach_rejects_corrupt_segment(void **state)
{
	struct fixture *fx = *state;
	struct fb_seg *seg = NULL;
	const char *why;
	int fd;

	assert_int_equal(fb_seg_attach(fx->name, &seg, &why), 0);
	assert_int_equal(seg->geom.slot_count, 3);
	fb_seg_detach(seg);
	/* A segment truncated under us: refused, not mapped past its end. */
	fd = shm_open(fx->name, O_RDWR, 0);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)fx->seg->geom.data_offset), 0);
	assert_int_equal(fb_seg_attach(fx->name, &seg, &why), -EPROTO);
	assert_string_equal(why, "slots extend past the end of the segment");
	assert_int_equal(ftruncate(fd, (off_t)fx->seg->geom.segment_size), 0);
	close(fd);
	fx->seg->hdr->magic = 0;
	assert_int_equal(fb_seg_attach(fx->name, &seg, &why), -EPROTO);
	assert_string_equal(why, "bad magic (not a framebroker segment)");
	fx->seg->hdr->magic = FB_MAGIC;
	assert_int_equal(fb_seg_attach("/fbunit-does-not-exist", &seg, &why), -ENOENT);
}

static void test_create_exclusive(void **state)
{
	struct fixture *fx = *state;
	struct fb_seg *seg;
	int fd;

	assert_int_equal(fb_seg_create(fx->name, &fx->seg->geom, &seg), -EEXIST);
	/* ...and the failed create did not unlink the existing one. */
	fd = shm_open(fx->name, O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
}

/* ---- protocol ---------------------------------------------------------- */

/* Claim, fill with the frame's index, publish. */
static uint64_t produce_one(struct fb_seg *seg)
{
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	memset(c.data, (int)(c.frame & 0xff), seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
	return c.frame;
}

static void consume_one(struct fb_seg *seg, uint64_t f)
{
	struct fb_frame_ref r;

	assert_int_equal(fb_ring_acquire(seg, f, &r, 1, -1), 1);
	assert_int_equal(r.frame, f);
	assert_int_equal(r.length, seg->geom.frame_bytes);
	for (uint64_t i = 0; i < r.length; i++)
		assert_int_equal(r.data[i], f & 0xff);
	assert_int_equal(fb_ring_release(seg, f, 1), 0);
}

/* Fork a child that runs FN and exits with its result (0..255). */
static pid_t fork_child(int (*fn)(struct fb_seg *), struct fb_seg *seg)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* A failing test must not leave a child asleep on the ring. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		_exit(fn(seg));
	}
	return pid;
}

static int child_claim(struct fb_seg *seg)
{
	struct fb_claim c;
	int rc = fb_ring_claim(seg, &c);

	if (rc == -ECANCELED)
		return 200;
	return rc == 1 ? (int)c.frame : 100 + rc;
}

/* Wait for PID up to MS; returns its exit code, or -1 if it is still alive. */
static int wait_child(pid_t pid, int ms)
{
	int st;

	for (int i = 0; i < ms / 10; i++) {
		if (waitpid(pid, &st, WNOHANG) == pid)
			return WIFEXITED(st) ? WEXITSTATUS(st) : 255;
		usleep(10000);
	}
	return -1;
}

static void test_window_blocks_then_wakes(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child;

	/* S = 3: frames 0..2 fill the window; frame 3 must wait for 0 to go. */
	for (uint64_t f = 0; f < 3; f++)
		assert_int_equal(produce_one(seg), f);
	child = fork_child(child_claim, seg);
	assert_int_equal(wait_child(child, 300), -1); /* blocked */
	consume_one(seg, 0);
	assert_int_equal(wait_child(child, 2000), 3); /* woke with frame 3 */
	assert_int_equal(seg->hdr->next_claim, 4);
	assert_true(seg->hdr->next_claim - seg->hdr->next_encode <= 3);
}

static int child_acquire0(struct fb_seg *seg)
{
	struct fb_frame_ref r;

	if (fb_ring_acquire(seg, 0, &r, 1, -1) != 1)
		return 1;
	return r.data[0] == 0 && r.length == seg->geom.frame_bytes ? 0 : 2;
}

static void test_encoder_waits_for_order(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c0, c1;
	pid_t child;

	assert_int_equal(fb_ring_claim(seg, &c0), 1);
	assert_int_equal(fb_ring_claim(seg, &c1), 1);
	memset(c1.data, 1, seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c1, seg->geom.frame_bytes), 0);
	/* Frame 1 is ready, but the encoder needs 0 first. */
	child = fork_child(child_acquire0, seg);
	assert_int_equal(wait_child(child, 300), -1);
	memset(c0.data, 0, seg->geom.frame_bytes);
	assert_int_equal(fb_ring_publish(seg, &c0, seg->geom.frame_bytes), 0);
	assert_int_equal(wait_child(child, 2000), 0);
}

static void test_all_frames_then_none(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	for (uint64_t f = 0; f < 5; f++) {
		assert_int_equal(produce_one(seg), f);
		consume_one(seg, f);
	}
	assert_int_equal(fb_ring_claim(seg, &c), 0);
	fb_ring_finish(seg);
	assert_int_equal(fb_ring_state(seg), FB_SEG_DONE);
	assert_int_equal(fb_ring_claim(seg, &c), 0);
}

static void test_abort_wakes_blocked_producer(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child;

	produce_one(seg); /* S = 1: the window is full */
	child = fork_child(child_claim, seg);
	assert_int_equal(wait_child(child, 300), -1);
	fb_ring_abort(seg, "test abort");
	assert_int_equal(wait_child(child, 2000), 200);
	assert_string_equal(seg->hdr->reason, "test abort");
	fb_ring_abort(seg, "second abort");
	assert_string_equal(seg->hdr->reason, "test abort"); /* first wins */
}

static void test_stale_publish(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c, bad;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	bad = c;
	bad.generation++;
	assert_int_equal(fb_ring_publish(seg, &bad, seg->geom.frame_bytes), -ESTALE);
	bad = c;
	bad.frame += 3;
	assert_int_equal(fb_ring_publish(seg, &bad, seg->geom.frame_bytes), -ESTALE);
	bad = c;
	bad.slot = 9;
	assert_int_equal(fb_ring_publish(seg, &bad, seg->geom.frame_bytes), -EINVAL);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.slot_stride + 1), -EINVAL);
	/* Another process's claim is not ours to publish. */
	seg->hdr->slots[c.slot].owner = 1;
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), -ESTALE);
	seg->hdr->slots[c.slot].owner = seg->pid;
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
}

static void test_corrupt_slot_aborts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;

	/* A scribbler marks slot 0 READY for a frame outside the window. */
	seg->hdr->slots[0].state = FB_SLOT_READY;
	seg->hdr->slots[0].frame = 7;
	seg->hdr->slots[0].length = seg->geom.frame_bytes;
	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, -1), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
	assert_non_null(strstr(seg->hdr->reason, "segment corrupt"));
}

static void test_corrupt_length_aborts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	/* A short or empty raw frame is refused at publish; the claim stays. */
	assert_int_equal(fb_ring_publish(seg, &c, 10), -EINVAL);
	assert_int_equal(fb_ring_publish(seg, &c, 0), -EINVAL);
	assert_int_equal(fb_ring_publish(seg, &c, seg->geom.frame_bytes), 0);
	/* A length scribbled after publish is caught by the encoder. */
	seg->hdr->slots[0].length = 10;
	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, -1), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* Regression (found by make fuzz): a scribbled waiter count must not make
 * an abort post the semaphore 2^32 times. */
static void test_huge_waiter_count_abort_is_prompt(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	seg->hdr->space_waiters = UINT32_MAX;
	alarm(5); /* a hang fails the test instead of blocking the suite */
	fb_ring_abort(seg, "scribbled waiters");
	fb_ring_finish(seg);
	alarm(0);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* Owner fields are input: a claim "owned" by an unrelated live process
 * (pid 1) is never reissued — nobody may be robbed while possibly writing
 * — but one owned by a pid that does not exist is taken back. */
static void test_sweep_trusts_no_owner_field(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_header *h = seg->hdr;
	struct fb_reissue r[4];
	struct fb_claim c0, c1;
	uint64_t next;

	assert_int_equal(fb_ring_claim(seg, &c0), 1);
	assert_int_equal(fb_ring_claim(seg, &c1), 1);
	h->slots[c0.slot].owner = 1; /* init: alive, never registered */
	h->slots[c0.slot].owner_start = fb_proc_start_time(1);
	h->slots[c1.slot].owner = 4194304 + 7; /* above any pid_max: dead */
	assert_int_equal(fb_ring_sweep(seg, NULL, r, 4), 1);
	assert_int_equal(r[0].frame, c1.frame);
	assert_int_equal(h->slots[c1.slot].state, FB_SLOT_REISSUE);
	assert_int_equal(h->slots[c0.slot].state, FB_SLOT_CLAIMED);
	/* ...the live stranger's claim shows up as overdue instead. */
	h->slots[c0.slot].claimed_ns = 0;
	assert_int_equal(fb_ring_overdue(seg, 1000, r, 4, &next), 1);
	assert_int_equal(r[0].owner, 1);
	/* And our own publish of the reissued frame is refused (-ESTALE). */
	assert_int_equal(fb_ring_publish(seg, &c1, seg->geom.frame_bytes), -ESTALE);
}

static void test_corrupt_counters_abort(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	seg->hdr->next_claim = 1000; /* past total_frames */
	assert_int_equal(fb_ring_claim(seg, &c), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

static int child_die_holding_lock(struct fb_seg *seg)
{
	pthread_mutex_lock(&seg->hdr->lock);
	return 0; /* exits with the lock held */
}

static int child_die_mid_claim(struct fb_seg *seg)
{
	struct fb_header *h = seg->hdr;
	uint64_t f = h->next_claim;

	/* The first stores of fb_ring_claim, then death before next_claim++. */
	pthread_mutex_lock(&h->lock);
	h->slots[f % seg->geom.slot_count].frame = f;
	h->slots[f % seg->geom.slot_count].owner = getpid();
	h->slots[f % seg->geom.slot_count].state = FB_SLOT_CLAIMED;
	return 0;
}

static void test_lock_owner_death(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	assert_int_equal(wait_child(fork_child(child_die_holding_lock, seg), 2000), 0);
	assert_int_equal(fb_ring_claim(seg, &c), 1); /* EOWNERDEAD, repaired */
	assert_int_equal(c.frame, 0);
	assert_int_equal(seg->hdr->lock_repairs, 1);
}

static void test_death_mid_claim_not_reissued_twice(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_claim c;

	assert_int_equal(wait_child(fork_child(child_die_mid_claim, seg), 2000), 0);
	/* Frame 0 is marked claimed by the dead child: the next claim must be
	 * frame 1, never frame 0 a second time.  (Reclaiming the dead child's
	 * frame is the broker's job.) */
	assert_int_equal(fb_ring_claim(seg, &c), 1);
	assert_int_equal(c.frame, 1);
}

/* ---- batches, holding, bounded waits ------------------------------------ */

/* The encoder takes a run of published frames at once, may hold frames while
 * taking more, and releases them oldest first, several at a time. */
static void test_acquire_runs_and_holds(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r[4];
	struct fb_claim c;

	for (int i = 0; i < 3; i++)
		produce_one(seg);
	assert_int_equal(fb_ring_acquire(seg, 0, r, 4, 0), 3);
	for (uint64_t i = 0; i < 3; i++) {
		assert_int_equal(r[i].frame, i);
		assert_int_equal(r[i].data[0], i);
	}
	/* Holding the whole window: no producer may claim. */
	seg->nowait = 1;
	assert_int_equal(fb_ring_claim(seg, &c), -EAGAIN);
	seg->nowait = 0;
	/* Free the oldest two (still holding frame 2): frames 3 and 4 go. */
	assert_int_equal(fb_ring_release(seg, 0, 2), 0);
	assert_int_equal(seg->hdr->next_encode, 2);
	assert_int_equal(produce_one(seg), 3);
	assert_int_equal(produce_one(seg), 4);
	assert_int_equal(fb_ring_acquire(seg, 3, r, 4, 0), 2);
	assert_int_equal(r[1].frame, 4);
	assert_int_equal(fb_ring_release(seg, 2, 3), 0);
	assert_int_equal(seg->hdr->next_encode, 5);
}

/* With nothing published, a bounded acquire gives up after about its wait. */
static void test_acquire_wait_is_bounded(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;
	uint64_t t0 = fb_now_ns(), ms;

	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, 60), -EAGAIN);
	ms = (fb_now_ns() - t0) / 1000000;
	assert_true(ms >= 55 && ms < 5000);
	assert_int_equal(fb_ring_acquire(seg, 5, &r, 1, 0), -EINVAL); /* past the end */
	/* Releasing what is not held is a broken invariant: abort, say so. */
	assert_int_equal(fb_ring_release(seg, 0, 1), -EPROTO);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* Scribbled: the encoder's next slot says ENCODING though nobody took it.
 * That must abort the render, not leave the encoder waiting forever. */
static void test_impossible_slot_state_aborts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_frame_ref r;
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	seg->hdr->slots[0].state = FB_SLOT_ENCODING;
	assert_int_equal(fb_ring_acquire(seg, 0, &r, 1, 0), -EPROTO);
	assert_non_null(strstr(seg->hdr->reason, "impossible state"));
}

/* Scribbled: a REISSUE slot while reissue_pending says 0.  With the window
 * shut, a claim still finds the slot rather than sleeping forever. */
static void test_reissue_found_without_count(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg; /* S=1 */
	struct fb_claim c;

	assert_int_equal(fb_ring_claim(seg, &c), 1);
	seg->hdr->slots[0].state = FB_SLOT_REISSUE;
	seg->hdr->slots[0].owner = 0;
	seg->hdr->reissue_pending = 0;
	seg->nowait = 1;
	assert_int_equal(fb_ring_claim(seg, &c), 1);
	assert_int_equal(c.frame, 0);
	assert_int_equal(seg->hdr->reissue_pending, 0);
}

/* ---- the public library ------------------------------------------------ */

/* fb_attach / fb_claim / fb_abort_claim / fb_publish / fb_detach. */
static void test_library_api(void **state)
{
	struct fixture *fx = *state; /* S=3, N=5, 64x4 gray */
	struct fb_geometry g;
	fb_producer *p;
	uint64_t f;
	void *d;

	assert_int_equal(fb_attach("not a name", 0, &p), -EINVAL);
	assert_int_equal(fb_attach("/a/b", 0, &p), -EINVAL);
	/* Without its leading '/' the name is the same segment (shm_open's way). */
	assert_int_equal(fb_attach(fx->name + 1, 0, &p), 0);
	fb_get_geometry(p, &g);
	assert_int_equal(g.frames, 5);
	fb_detach(p);
	assert_int_equal(fb_attach(fx->name, 0, &p), 0);
	fb_get_geometry(p, &g);
	assert_int_equal(g.frames, 5);
	assert_int_equal(g.slots, 3);
	assert_int_equal(g.frame_bytes, 256);
	assert_true(g.slot_bytes >= g.frame_bytes);
	assert_string_equal(g.pix_fmt, "gray");
	assert_int_equal(fb_claim(p, &f, &d), 1);
	assert_int_equal(f, 0);
	/* Given back, it is the next frame handed out. */
	assert_int_equal(fb_abort_claim(p), 0);
	assert_int_equal(fb_abort_claim(p), -EINVAL); /* nothing held now */
	assert_int_equal(fb_claim(p, &f, &d), 1);
	assert_int_equal(f, 0);
	/* A wrong length is refused and the claim stays ours. */
	assert_int_equal(fb_publish(p, g.slot_bytes + 1), -EINVAL);
	assert_int_equal(fb_publish(p, g.frame_bytes - 1), -EINVAL);
	memset(d, 0, g.frame_bytes);
	assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	assert_int_equal(fb_publish(p, g.frame_bytes), -EINVAL);
	/* Claiming while holding gives the held frame back first. */
	assert_int_equal(fb_claim(p, &f, &d), 1);
	assert_int_equal(f, 1);
	assert_int_equal(fb_claim(p, &f, &d), 1);
	assert_int_equal(f, 1);
	/* Detaching with a claim gives it back too. */
	fb_detach(p);
	assert_int_equal(fx->seg->hdr->reissue_pending, 1);
	assert_int_equal(fx->seg->hdr->slots[1].state, FB_SLOT_REISSUE);
	assert_string_equal(fb_version(), FB_VERSION_STRING);
	assert_non_null(strstr(fb_strerror(-EOWNERDEAD), "broker"));
	assert_non_null(fb_strerror(-EIO));
}

/* A --range chunk: the ring runs 0..B-A-1 but a library producer is handed
 * the render's frame numbers A..B-1, and the geometry says so. */
static void test_library_chunk(void **state)
{
	struct fb_geom g;
	struct fb_geometry pub;
	struct fixture fx;
	fb_producer *p;
	uint64_t f;
	void *d;

	(void)state;
	snprintf(fx.name, sizeof(fx.name), "/fbunit-%d-chunk", (int)getpid());
	assert_int_equal(fb_geom_init(&g, 64, 4, FB_PIX_GRAY, 2, 30, 3), 0);
	assert_int_equal(fb_geom_set_range(&g, 8, 10), -EINVAL); /* 8+3 > 10 */
	assert_int_equal(fb_geom_set_range(&g, UINT64_MAX - 1, UINT64_MAX), -EINVAL);
	assert_int_equal(fb_geom_set_range(&g, UINT64_MAX - 1, 1000), -EINVAL); /* wraps */
	assert_int_equal(fb_geom_set_range(&g, 997, 1000), 0);  /* the last 3 frames */
	assert_int_equal(fb_geom_set_range(&g, 998, 1000), -EINVAL);
	assert_int_equal(fb_geom_set_range(&g, 7, 10), 0);
	assert_int_equal(fb_geom_set_fps(&g, 24000, 1001), 0);
	assert_int_equal(fb_seg_create(fx.name, &g, &fx.seg), 0);
	assert_int_equal(fb_attach(fx.name, 0, &p), 0);
	fb_get_geometry(p, &pub);
	assert_int_equal(pub.frames, 10);
	assert_int_equal(pub.first, 7);
	assert_int_equal(pub.end, 10);
	assert_int_equal(pub.fps, 24); /* 23.976 rounded */
	assert_int_equal(pub.fps_num, 24000);
	assert_int_equal(pub.fps_den, 1001);
	for (size_t i = 0; i < sizeof(pub.reserved) / sizeof(pub.reserved[0]); i++)
		assert_int_equal(pub.reserved[i], 0);
	/* fps_num and fps_den came out of the reserved words: the struct and
	 * every older field keep their size and place (the 0.6 layout). */
	assert_int_equal(sizeof(pub), sizeof(void *) == 8 ? 120 : 96);
	if (sizeof(void *) == 8) {
		assert_int_equal(offsetof(struct fb_geometry, fps), 16);
		assert_int_equal(offsetof(struct fb_geometry, first), 56);
		assert_int_equal(offsetof(struct fb_geometry, end), 64);
		assert_int_equal(offsetof(struct fb_geometry, fps_num), 72);
		assert_int_equal(offsetof(struct fb_geometry, fps_den), 76);
		assert_int_equal(offsetof(struct fb_geometry, reserved), 80);
	}
	for (uint64_t want = 7; want < 9; want++) { /* two slots: two claims */
		assert_int_equal(fb_claim(p, &f, &d), 1);
		assert_int_equal(f, want);
		assert_int_equal(fb_publish(p, pub.frame_bytes), 0);
	}
	assert_int_equal(fx.seg->hdr->slots[0].frame, 0); /* the ring's own index */
	fb_detach(p);
	fb_seg_unlink(fx.name);
	fb_seg_detach(fx.seg);
}

/* ---- the encoder's sink: vmsplice accounting ---------------------------- */

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


/* ---- the segment as an adversary's input (issue 12, items 7 and 11) ---- */

static int child_hold_lock_stopped(struct fb_seg *seg)
{
	pthread_mutex_lock(&seg->hdr->lock);
	raise(SIGSTOP); /* a holder that never lets go */
	return 0;
}

static void survives(int (*fn)(struct fb_seg *), struct fb_seg *seg, int want);

/* With the lock held by a stopped process: abort, abort again, finish. */
static int child_abort_twice(struct fb_seg *seg)
{
	char why[FB_REASON_MAX];

	if (!fb_ring_abort(seg, "first cause"))
		return 1;
	if (fb_ring_abort(seg, "second cause"))
		return 2;
	fb_ring_finish(seg); /* must neither wait for the lock nor undo the abort */
	if (fb_ring_state(seg) != FB_SEG_ABORTED)
		return 3;
	fb_ring_reason(seg, why, sizeof(why));
	return strcmp(why, "first cause") == 0 ? 0 : 4;
}

/* fb_ring_abort records its reason with the lock held by a stopped process,
 * the first reason stays, and finish cannot overwrite an abort. */
static void test_abort_without_lock(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t child = fork_child(child_hold_lock_stopped, seg);
	int st;

	assert_int_equal(waitpid(child, &st, WUNTRACED), child);
	assert_true(WIFSTOPPED(st));
	survives(child_abort_twice, seg, 0);
	kill(child, SIGKILL);
	waitpid(child, &st, 0);
}

static void test_finish_beats_later_abort(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	fb_ring_finish(seg);
	assert_false(fb_ring_abort(seg, "too late"));
	assert_int_equal(fb_ring_state(seg), FB_SEG_DONE);
}

/* ---- life-cycle CAS, lock contracts, the encoder registry (issue 14) --- */

/* Shared between the test and its racers (MAP_SHARED|MAP_ANONYMOUS). */
struct race {
	_Atomic int ready, go;
};

static struct race *race_map(void)
{
	struct race *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
			      MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	assert_true(r != MAP_FAILED);
	return r;
}

/* Both racers spin until the test says go, then make their one call. */
static void race_start(struct race *r)
{
	atomic_fetch_add(&r->ready, 1);
	while (!atomic_load(&r->go))
		;
}

static pid_t racer(struct race *r, struct fb_seg *seg, bool abort_it)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		race_start(r);
		if (abort_it)
			_exit(fb_ring_abort(seg, "racing abort") ? 1 : 0);
		fb_ring_finish(seg);
		_exit(0);
	}
	return pid;
}

/*
 * fb_ring_finish (encoder) and a lock-less fb_ring_abort, started at the
 * same instant from two processes, many times: exactly one wins, and the
 * words agree with who did — DONE with no reason recorded and the abort
 * told it lost, or ABORTED with its reason and the abort told it won.  A
 * finish that stored DONE instead of a CAS would leave DONE behind a won
 * abort, and fail here.
 */
static void test_finish_abort_race(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	struct fb_header *h = seg->hdr;
	struct race *r = race_map();
	int done = 0, aborted = 0;

	for (int round = 0; round < 300; round++) {
		pid_t fin, ab;
		int st, ab_won;
		char why[FB_REASON_MAX];

		atomic_store(&h->state, FB_SEG_RUNNING);
		atomic_store(&h->reason_ready, 0);
		memset(h->reason, 0, sizeof(h->reason));
		atomic_store(&r->ready, 0);
		atomic_store(&r->go, 0);
		/* Alternate who is forked first, so neither always starts ahead. */
		if (round & 1) {
			ab = racer(r, seg, true);
			fin = racer(r, seg, false);
		} else {
			fin = racer(r, seg, false);
			ab = racer(r, seg, true);
		}
		while (atomic_load(&r->ready) < 2)
			;
		atomic_store(&r->go, 1);
		assert_int_equal(waitpid(fin, &st, 0), fin);
		assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
		assert_int_equal(waitpid(ab, &st, 0), ab);
		assert_true(WIFEXITED(st));
		ab_won = WEXITSTATUS(st);
		if (fb_ring_state(seg) == FB_SEG_DONE) {
			assert_int_equal(ab_won, 0);
			assert_int_equal(atomic_load(&h->reason_ready), 0);
			assert_int_equal(h->reason[0], 0);
			done++;
		} else {
			assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
			assert_int_equal(ab_won, 1);
			assert_int_equal(atomic_load(&h->reason_ready), 1);
			fb_ring_reason(seg, why, sizeof(why));
			assert_string_equal(why, "racing abort");
			aborted++;
		}
	}
	print_message("finish won %d, abort won %d of 300 races\n", done, aborted);
	munmap(r, sizeof(*r));
}

#ifndef NDEBUG
static int child_locked_helper_unlocked(struct fb_seg *seg)
{
	fb_registry_mine_locked(seg); /* without the lock: must abort */
	return 0;
}
#endif

/* A `_locked` helper called without the lock is caught (unless NDEBUG),
 * and one called with it is not. */
static void test_locked_helper_asserts(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	assert_int_equal(fb_lock_take(seg), 0);
	assert_null(fb_registry_mine_locked(seg)); /* not registered: no entry */
	fb_lock_release(seg);
#ifndef NDEBUG
	{
		pid_t pid = fork_child(child_locked_helper_unlocked, seg);
		int st;

		/* The child's stderr says which function; keep the test output clean. */
		assert_int_equal(waitpid(pid, &st, 0), pid);
		assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	}
#endif
}

static int child_register_encoder(struct fb_seg *seg)
{
	int rc;

	seg->pid = (int32_t)getpid(); /* the fork's own id, as attach would set */
	rc = fb_ring_register(seg, FB_ROLE_ENCODER);
	if (rc == -EBUSY)
		return 3;
	if (rc)
		return 2;
	pause(); /* a live encoder until killed */
	return 0;
}

static int child_second_encoder(struct fb_seg *seg)
{
	seg->pid = (int32_t)getpid();
	switch (fb_ring_register(seg, FB_ROLE_ENCODER)) {
	case 0: return 0;
	case -EBUSY: return 3;
	default: return 2;
	}
}

/* One live encoder per segment: a second is refused while the first
 * lives; once it is dead (its entry not yet swept) a new one registers.
 * The liveness check reads /proc, and does so before the lock is taken. */
static void test_register_one_encoder(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	pid_t first = fork_child(child_register_encoder, seg);
	struct fb_proc_entry e[4];
	ssize_t n = 0;
	int st;

	for (int i = 0; i < 500 && n == 0; i++) {
		n = fb_ring_procs(seg, e, 4);
		if (n == 0)
			usleep(10000);
	}
	assert_int_equal(n, 1);
	assert_int_equal(e[0].pid, first);
	assert_int_equal(wait_child(fork_child(child_second_encoder, seg), 5000), 3);
	kill(first, SIGKILL);
	assert_int_equal(waitpid(first, &st, 0), first);
	assert_int_equal(fb_ring_procs(seg, e, 4), 1); /* dead, still registered */
	assert_int_equal(wait_child(fork_child(child_second_encoder, seg), 5000), 0);
}

/* The reason is segment input: bounded, NUL-terminated, printable. */
static void test_reason_sanitized(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	char why[FB_REASON_MAX];

	assert_true(fb_ring_abort(seg, "x"));
	memset(seg->hdr->reason, 'A', sizeof(seg->hdr->reason)); /* no NUL at all */
	seg->hdr->reason[3] = '\033';
	seg->hdr->reason[4] = '\n';
	fb_ring_reason(seg, why, sizeof(why));
	assert_int_equal(strlen(why), sizeof(seg->hdr->reason) < sizeof(why) ?
			 sizeof(seg->hdr->reason) : sizeof(why) - 1);
	assert_memory_equal(why, "AAA??AA", 7);
	fb_ring_reason(seg, why, 4);
	assert_string_equal(why, "AAA");
}

/* Run FN in a child; it must exit (not die of a signal, not hang: 5 s)
 * with code WANT. */
static void survives(int (*fn)(struct fb_seg *), struct fb_seg *seg, int want)
{
	pid_t pid = fork_child(fn, seg);
	int st;

	for (int i = 0; i < 500 && waitpid(pid, &st, WNOHANG) == 0; i++)
		usleep(10000);
	if (kill(pid, 0) == 0 && waitpid(pid, &st, WNOHANG) == 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		fail_msg("child still running after 5 s");
	}
	if (WIFSIGNALED(st))
		fail_msg("child died of signal %d", WTERMSIG(st));
	assert_int_equal(WEXITSTATUS(st), want);
}

/* After corruption: the claim fails with the cause, not a crash. */
static int claim_sees_corruption(struct fb_seg *seg, const char *want)
{
	char why[FB_REASON_MAX];
	struct fb_claim c;
	int rc = fb_ring_claim(seg, &c);

	if (rc != -EPROTO)
		return 10;
	fb_ring_reason(seg, why, sizeof(why));
	return strstr(why, want) ? 0 : 11;
}

static int child_scribbled_mutex(struct fb_seg *seg)
{
	/* kind 0 is glibc's plain mutex: its lock asserts __owner == 0. */
	memset(&seg->hdr->lock, 0, sizeof(seg->hdr->lock));
	((volatile int *)&seg->hdr->lock)[2] = 4242; /* __owner */
	return claim_sees_corruption(seg, "ring mutex");
}

static void test_scribbled_mutex(void **state)
{
	survives(child_scribbled_mutex, ((struct fixture *)*state)->seg, 0);
}

static int child_scribbled_sem(struct fb_seg *seg)
{
	struct fb_claim c;
	int rc;

	/* Slot 0 taken: the next claim must sleep on `space`, which glibc
	 * would abort on (its futex flag word is garbage). */
	if (fb_ring_claim(seg, &c) != 1)
		return 20;
	memset(&seg->hdr->space, 0x5a, sizeof(seg->hdr->space));
	rc = fb_ring_claim(seg, &c);
	return rc == -EPROTO || rc == -ECANCELED ? 0 : 21;
}

static void test_scribbled_semaphore(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;
	char why[FB_REASON_MAX];

	survives(child_scribbled_sem, seg, 0);
	fb_ring_reason(seg, why, sizeof(why));
	assert_non_null(strstr(why, "semaphore"));
}

static int child_scribbled_state(struct fb_seg *seg)
{
	atomic_store(&seg->hdr->state, 0x41414141u);
	return claim_sees_corruption(seg, "life-cycle");
}

static void test_scribbled_state_word(void **state)
{
	struct fb_seg *seg = ((struct fixture *)*state)->seg;

	survives(child_scribbled_state, seg, 0);
	assert_int_equal(fb_ring_state(seg), FB_SEG_ABORTED);
}

/* A lock word naming a process that does not exist (no owner-died bit):
 * lockers give up after a slice or two instead of waiting forever. */
static int child_ghost_holder(struct fb_seg *seg)
{
	*(volatile int *)&seg->hdr->lock = 0x3ffffff0; /* no such pid */
	return claim_sees_corruption(seg, "does not exist");
}

static void test_ghost_lock_holder(void **state)
{
	survives(child_ghost_holder, ((struct fixture *)*state)->seg, 0);
}

/* ...or naming the waiter itself: glibc would wait for us forever. */
static int child_self_holder(struct fb_seg *seg)
{
	*(volatile int *)&seg->hdr->lock = (int)getpid();
	seg->pid = (int32_t)getpid(); /* the fork's own id, as attach would set */
	return claim_sees_corruption(seg, "names us");
}

static void test_self_lock_holder(void **state)
{
	survives(child_self_holder, ((struct fixture *)*state)->seg, 0);
}

static char truncate_name[64];

/* A worker whose segment is truncated under it: SIGBUS caught, the claim
 * reports the truncation. */
static int child_truncated(struct fb_seg *creator)
{
	struct fb_seg *seg;
	const char *why;
	int fd;

	if (fb_seg_attach(truncate_name, &seg, &why))
		return 30;
	fd = fb_shm_open(truncate_name, O_RDWR, 0, NULL);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 31;
	close(fd);
	/* Touch a slot record past the end: SIGBUS without the guard; and
	 * the creator's mapping (inherited) is guarded the same way. */
	((volatile struct fb_header *)seg->hdr)->procs[FB_MAX_PROCS - 1].frames++;
	if (((volatile struct fb_header *)creator->hdr)->procs[FB_MAX_PROCS - 1].frames != 0 ||
	    !fb_guard_tripped(creator))
		return 33;
	return claim_sees_corruption(seg, "truncated") ? 32 : 0;
}

static void test_truncated_segment(void **state)
{
	struct fixture *fx = *state;

	snprintf(truncate_name, sizeof(truncate_name), "%s", fx->name);
	survives(child_truncated, fx->seg, 0);
}

/* The same truncation, first seen by a wake-up: the semaphores lie past
 * the cut, so the guard's zero page makes them look scribbled.  The cause
 * recorded must still be the truncation (under load, t_adv_corrupt's
 * truncate case said "a semaphore scribbled"). */
static int child_truncated_wake(struct fb_seg *creator)
{
	char why[FB_REASON_MAX];
	struct fb_seg *seg;
	const char *err;
	int fd;

	(void)creator;
	if (fb_seg_attach(truncate_name, &seg, &err))
		return 30;
	fd = fb_shm_open(truncate_name, O_RDWR, 0, NULL);
	if (fd < 0 || ftruncate(fd, 4096) < 0)
		return 31;
	close(fd);
	fb_life_wake(seg, &seg->hdr->filled, 1);
	fb_ring_reason(seg, why, sizeof(why));
	return strstr(why, "truncated") ? 0 : 32;
}

static void test_truncated_segment_wake(void **state)
{
	struct fixture *fx = *state;

	snprintf(truncate_name, sizeof(truncate_name), "%s", fx->name);
	survives(child_truncated_wake, fx->seg, 0);
}

static void test_grown_segment(void **state)
{
	struct fixture *fx = *state;
	struct fb_claim c;
	int fd = fb_shm_open(fx->name, O_RDWR, 0, NULL);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)fx->seg->geom.segment_size * 2), 0);
	close(fd);
	usleep((FB_GUARD_STAT_MS + 20) * 1000);
	assert_int_equal(fb_ring_claim(fx->seg, &c), -EPROTO);
}

/* `test_unit offsets`: header offsets for tests/t_adv_corrupt.sh. */
static int print_offsets(void)
{
	printf("state %zu\nnext_claim %zu\nprotocol_end %zu\nlock %zu\nlock_size %zu\n"
	       "space %zu\nfilled %zu\nbroker %zu\nsem_size %zu\n",
	       offsetof(struct fb_header, state), offsetof(struct fb_header, next_claim),
	       offsetof(struct fb_header, reason), offsetof(struct fb_header, lock),
	       sizeof(pthread_mutex_t), offsetof(struct fb_header, space),
	       offsetof(struct fb_header, filled), offsetof(struct fb_header, broker), sizeof(sem_t));
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "offsets") == 0)
		return print_offsets();
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_bytes),
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_name_canon),
		cmocka_unit_test(test_geom),
		cmocka_unit_test(test_fps_parse),
		cmocka_unit_test(test_fps_parse_every_ntsc),
		cmocka_unit_test(test_fps_geom),
		cmocka_unit_test(test_params_argv),
		cmocka_unit_test(test_cli),
		cmocka_unit_test_setup_teardown(test_validate_rejects, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_attach_rejects_corrupt_segment, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_create_exclusive, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_stats_frames_left, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_window_blocks_then_wakes, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_encoder_waits_for_order, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_all_frames_then_none, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_abort_wakes_blocked_producer, setup_s1_n3, teardown),
		cmocka_unit_test_setup_teardown(test_stale_publish, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_slot_aborts, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_length_aborts, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_counters_abort, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_huge_waiter_count_abort_is_prompt, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_sweep_trusts_no_owner_field, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_lock_owner_death, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_death_mid_claim_not_reissued_twice, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_acquire_runs_and_holds, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_acquire_wait_is_bounded, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_impossible_slot_state_aborts, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_reissue_found_without_count, setup_s1_n3, teardown),
		cmocka_unit_test_setup_teardown(test_library_api, setup_s3_n5, teardown),
		cmocka_unit_test(test_library_chunk),
		cmocka_unit_test(test_sink_splice_accounting),
		cmocka_unit_test(test_sink_copy_timeout_epipe),
		cmocka_unit_test_setup_teardown(test_abort_without_lock, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_finish_beats_later_abort, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_reason_sanitized, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_finish_abort_race, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_locked_helper_asserts, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_register_one_encoder, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_scribbled_mutex, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_scribbled_semaphore, setup_s1_n3, teardown),
		cmocka_unit_test_setup_teardown(test_scribbled_state_word, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_ghost_lock_holder, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_self_lock_holder, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_segment, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_segment_wake, setup_s3_n5, teardown),
		cmocka_unit_test_setup_teardown(test_grown_segment, setup_s3_n5, teardown),
	};

	int failed = cmocka_run_group_tests(tests, NULL, NULL);

	return failed + fb_test_api(); /* tests/test_api.c: the 0.8 calls */
}
