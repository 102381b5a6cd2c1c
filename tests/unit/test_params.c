/*
 * test_params — unit tests (cmocka) of tools/fb_args.c, fb_params.c,
 * fb_cli.c, lib/fb_util.c: what the programs parse — numbers, sizes, frame
 * rates as users write them, the parameters handed from fb-render to
 * fb-broker, one getopt loop.
 */
#include "unit.h"

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

struct fps_case {
	const char *in;
	uint32_t num, den; /* 0/0: refused */
	int ntsc;
	const char *why;   /* refused: a part of the message */
};

/* --fps inputs and what each must give: a table at file scope, so the
 * test below stays a short loop over it. */
static const struct fps_case fps_cases[] = {
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

static void test_fps_parse(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(fps_cases) / sizeof(fps_cases[0]); i++) {
		const struct fps_case *c = &fps_cases[i];
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

int fb_test_params(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_u64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_fps_parse),
		cmocka_unit_test(test_fps_parse_every_ntsc),
		cmocka_unit_test(test_params_argv),
		cmocka_unit_test(test_cli),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
