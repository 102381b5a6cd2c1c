/* test_seg — the unit tests' segment fixture (test_seg.h). */
#include "test_seg.h"
#include "fb_pixfmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int fb_test_seg_make(void **state, uint32_t slots, uint64_t frames)
{
	static int seq; /* one name per fixture across both test files */
	struct fixture *fx = calloc(1, sizeof(*fx));
	struct fb_geom g;

	if (!fx)
		return -1;
	snprintf(fx->name, sizeof(fx->name), "/fbunit-%d-%d", (int)getpid(), seq++);
	if (fb_geom_init(&g, 64, 4, FB_PIX_GRAY, slots, 30, frames) ||
	    fb_seg_create(fx->name, &g, &fx->seg)) {
		free(fx);
		return -1;
	}
	*state = fx;
	return 0;
}

int fb_test_seg_teardown(void **state)
{
	struct fixture *fx = *state;

	fb_seg_unlink(fx->name);
	fb_seg_detach(fx->seg);
	free(fx);
	return 0;
}
