/*
 * test_geometry — unit tests (cmocka) of lib/fb_pixfmt.c, lib/fb_segment.c:
 * frame sizes, segment names (the leading '/' added, bad names refused),
 * the layout of a segment, frame rates kept exactly as NUM/DEN and the
 * times they give.
 */
#include "unit.h"

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

static void test_name_check(void **state)
{
	char longname[FB_NAME_MAX + 2];

	(void)state;
	assert_int_equal(fb_shm_name_check("/fb-render-1"), 0);
	assert_int_equal(fb_shm_name_check("/a.b_c-D9"), 0);
	assert_int_equal(fb_shm_name_check("fb"), -EINVAL);
	assert_int_equal(fb_shm_name_check("/"), -EINVAL);
	assert_int_equal(fb_shm_name_check("/a/b"), -EINVAL);
	assert_int_equal(fb_shm_name_check("/.."), -EINVAL);
	assert_int_equal(fb_shm_name_check("/a b"), -EINVAL);
	memset(longname, 'a', sizeof(longname));
	longname[0] = '/';
	longname[sizeof(longname) - 1] = '\0';
	assert_int_equal(fb_shm_name_check(longname), -EINVAL);
}

static void test_name_canon(void **state)
{
	char out[FB_NAME_MAX + 1], in[FB_NAME_MAX + 1];

	(void)state;
	assert_int_equal(fb_shm_name_canon("/tour", out), 0);
	assert_string_equal(out, "/tour");
	assert_int_equal(fb_shm_name_canon("tour", out), 1);
	assert_string_equal(out, "/tour");
	assert_int_equal(fb_shm_name_canon("", out), -EINVAL);
	assert_int_equal(fb_shm_name_canon("/", out), -EINVAL);
	assert_int_equal(fb_shm_name_canon(".", out), -EINVAL);
	assert_int_equal(fb_shm_name_canon("..", out), -EINVAL);
	assert_int_equal(fb_shm_name_canon("a/b", out), -EINVAL);
	assert_int_equal(fb_shm_name_canon("//a", out), -EINVAL);
	assert_int_equal(fb_shm_name_canon("a b", out), -EINVAL);
	/* The longest name fits either way; one byte more does not, and
	 * the '/' that would be added counts. */
	memset(in, 'a', FB_NAME_MAX - 1);
	in[FB_NAME_MAX - 1] = '\0';
	assert_int_equal(fb_shm_name_canon(in, out), 1);
	assert_int_equal((int)strlen(out), FB_NAME_MAX);
	in[FB_NAME_MAX - 1] = 'a';
	in[FB_NAME_MAX] = '\0';
	assert_int_equal(fb_shm_name_canon(in, out), -EINVAL);
	in[0] = '/';
	assert_int_equal(fb_shm_name_canon(in, out), 0);
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

int fb_test_geometry(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_bytes),
		cmocka_unit_test(test_name_check),
		cmocka_unit_test(test_name_canon),
		cmocka_unit_test(test_geom),
		cmocka_unit_test(test_fps_geom),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
