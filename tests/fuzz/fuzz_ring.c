/*
 * fuzz_ring — libFuzzer target for the segment as hostile input (make fuzz).
 *
 * Each input is used twice:
 *  1. as a raw header (and a claimed object size) for fb_seg_validate, the
 *     attach-time check;
 *  2. as the protocol words of a live, valid segment — counters, every slot
 *     record, registry entries — followed by a script of operations (claim,
 *     publish, acquire, release, sweep, overdue) run on them in non-blocking
 *     mode.
 * The code must refuse what is wrong (-EPROTO and an abort, -ESTALE, ...),
 * and never read or write outside the mapping (ASan), crash, or hang.
 */
#include "fb_pixfmt.h"
#include "fb_ring.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static struct fb_seg *seg;
static struct fb_header *pristine;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct fb_geom g;
	char name[64];

	(void)argc;
	(void)argv;
	snprintf(name, sizeof(name), "/fbfuzz-%d", (int)getpid());
	if (fb_geom_init(&g, 8, 8, FB_PIX_GRAY, 4, 30, 64) || fb_seg_create(name, &g, &seg))
		abort();
	fb_shm_unlink(name); /* the mapping stays; nothing is left in /dev/shm */
	seg->nowait = 1;
	pristine = malloc(sizeof(*pristine));
	memcpy(pristine, seg->hdr, sizeof(*pristine));
	return 0;
}

/* Consume N bytes of input into DST (zero-filled when the input runs out). */
static void take(const uint8_t **d, size_t *n, void *dst, size_t len)
{
	size_t k = *n < len ? *n : len;

	memset(dst, 0, len);
	memcpy(dst, *d, k);
	*d += k;
	*n -= k;
}

static void validate_header(const uint8_t *d, size_t n)
{
	struct fb_header *h = calloc(1, sizeof(*h));
	struct fb_geom g;
	const char *why = NULL;
	uint64_t fsize = n;

	memcpy(h, d, n < sizeof(*h) ? n : sizeof(*h));
	if (n >= 8)
		memcpy(&fsize, d + n - 8, 8);
	if (fb_seg_validate(h, fsize, &g, &why) == 0) {
		/* Accepted: then the geometry is self-consistent and fits. */
		if (g.segment_size > fsize || g.slot_count == 0 || g.slot_count > FB_MAX_SLOTS ||
		    g.slot_stride < g.frame_bytes || g.data_offset < sizeof(*h))
			abort();
	} else if (!why) {
		abort(); /* every refusal names its reason */
	}
	free(h);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fb_header *h = seg->hdr;
	const uint8_t *d = data;
	size_t n = size;
	struct fb_claim c;
	int have_claim = 0;
	uint64_t held = 0; /* frames the "encoder" holds: [next_encode, +held) */

	validate_header(data, size);

	/* A fresh valid segment, then hostile words. */
	memcpy(h, pristine, sizeof(*h));
	take(&d, &n, &h->next_claim, sizeof(h->next_claim));
	take(&d, &n, &h->next_encode, sizeof(h->next_encode));
	take(&d, &n, &h->reissue_pending, sizeof(h->reissue_pending));
	take(&d, &n, &h->space_waiters, sizeof(h->space_waiters));
	take(&d, &n, h->slots, sizeof(h->slots[0]) * seg->geom.slot_count);
	take(&d, &n, h->procs, sizeof(h->procs[0]) * 4);
	/* keep the counters often plausible, so deeper paths are reached */
	if (h->next_claim & 0x100)
		h->next_claim %= 70, h->next_encode %= 70;
	while (n > 0) {
		uint8_t op = *d++;
		struct fb_frame_ref fr[4];
		struct fb_reissue r[8];
		uint64_t next;
		int got;

		n--;
		if (fb_ring_state(seg) != FB_SEG_RUNNING)
			break;
		switch (op % 6) {
		case 0:
			have_claim = fb_ring_claim(seg, &c) == 1;
			if (have_claim && (c.slot >= seg->geom.slot_count ||
					   c.data != fb_seg_slot(seg, c.slot)))
				abort();
			if (have_claim)
				memset(c.data, op, seg->geom.frame_bytes); /* must be inside */
			break;
		case 1:
			if (have_claim)
				fb_ring_publish(seg, &c, op & 1 ? seg->geom.frame_bytes : op);
			break;
		case 2: /* take frames past those held, as the vmsplice sink does */
			next = h->next_encode + held;
			got = fb_ring_acquire(seg, next, fr, 1 + op % 4, 0);
			for (int j = 0; j < got; j++) {
				if (fr[j].length > seg->geom.slot_stride || fr[j].frame != next + (uint64_t)j)
					abort();
				for (uint64_t i = 0; i < fr[j].length; i++)
					(void)*(volatile const unsigned char *)(fr[j].data + i);
			}
			if (got > 0)
				held += (uint64_t)got;
			break;
		case 3:
			fb_ring_sweep(seg, NULL, r, 8);
			break;
		case 4:
			fb_ring_overdue(seg, 1, r, 8, &next);
			break;
		default: /* release a prefix of what is held (or, by op, too much) */
			got = 1 + op % 3;
			if (fb_ring_release(seg, h->next_encode, (uint32_t)got) == 0)
				held = held > (uint64_t)got ? held - (uint64_t)got : 0;
			break;
		}
	}
	return 0;
}
