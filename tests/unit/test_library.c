/*
 * test_library — unit tests (cmocka) of lib/framebroker.c, the public API
 * as a producer uses it (the calls up to 0.7: attach, claim, abort_claim,
 * publish, detach, geometry, a --range chunk's frame numbers).  The 0.8
 * calls: test_api.c.
 */
#include "unit.h"

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
	fb_shm_unlink(fx.name);
	fb_seg_detach(fx.seg);
}

int fb_test_library(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_library_api),
		cmocka_unit_test(test_library_chunk),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
