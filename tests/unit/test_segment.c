/*
 * test_segment — unit tests (cmocka) of lib/fb_segment.c: header validation
 * against every field corrupted one at a time, attach refusing a truncated
 * or foreign segment, exclusive creation.
 */
#include "unit.h"

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

int fb_test_segment(void)
{
	const struct CMUnitTest tests[] = {
		seg_test(test_validate_rejects),
		seg_test(test_attach_rejects_corrupt_segment),
		seg_test(test_create_exclusive),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
