/*
 * fb_view — revocable views of claimed slots: the one implementation of
 * fb_claim_view and its companions (include/framebroker.h), for bindings
 * that hand a slot to code they do not control (a Node Buffer, a numpy
 * array) which may keep it, or write to it, after the claim has ended.
 *
 * A view is an alias of the slot: a second mapping of the same pages
 * (mremap with old size 0), so writes through it are writes into the slot.
 * When the claim ends, a view something may still refer to is cut off the
 * slot before the frame goes anywhere: its page tables move to a fresh
 * alias (MREMAP_DONTUNMAP), kept for the slot's next claim, and its address
 * becomes private anonymous memory (the stand-in), the caller's to unmap
 * once nothing refers to it.  A view the caller says nothing refers to
 * (fb_vset_drop) is kept as it is instead, for the slot's next claim.
 *
 * Why aliases sit on 2 MiB boundaries: a page-table page then belongs to
 * one alias alone, and mremap moves it whole (one entry per 2 MiB) instead
 * of moving 512 entries one by one — three times cheaper a cut for a 1080p
 * rgba frame here (docs/performance.md).
 *
 * Used from the handle's thread only; no global state.  Internal names are
 * fb_vset_* (struct fb_vset: one handle's set of views), so as not to be
 * taken for the public fb_view_* calls of framebroker.c built on them.
 */
#ifndef FB_VIEW_H
#define FB_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct fb_vset {
	size_t span;      /* a slot's bytes rounded up to pages: a view's length */
	uint32_t slots;
	void **kept;      /* per ring slot: an alias nobody refers to, or NULL */
	void *held;       /* the view handed out for the claim held, or NULL */
	void *held_slot_addr; /* its slot (the segment's mapping) */
	uint32_t held_slot;
	bool dropped;     /* nothing refers to HELD: keep it when the claim ends */
	bool no_move;     /* the kernel refused MREMAP_DONTUNMAP: not asked again */
	/* What the last fb_vset_end did, for fb_vset_restore to undo: the
	 * stand-in it left (the view cut), or the view it kept (dropped). */
	void *last_cut, *last_kept;
};

/* An empty set of views for a ring of SLOTS slots of SLOT_BYTES. */
void fb_vset_init(struct fb_vset *v, uint32_t slots, uint64_t slot_bytes);

/* The view of slot SLOT (its memory at SLOT_ADDR), held from now until the
 * claim ends: the same address while it is held, else the slot's kept alias,
 * else a new one.  0 or -errno. */
int fb_vset_get(struct fb_vset *v, uint32_t slot, void *slot_addr, void **view);

/* Nothing refers to the held view any more: keep it at the claim's end. */
void fb_vset_drop(struct fb_vset *v);

/* The claim is ending: keep the held view (dropped) or cut it.  0 (no view
 * held any more), or -errno: the view could not be cut and is still held. */
int fb_vset_end(struct fb_vset *v);

/* fb_publish refused the length after fb_vset_end: the claim goes on, so
 * the view it cut is put back at the same address.  0, or -errno: the
 * stand-in stays (the caller's), and no view is held. */
int fb_vset_restore(struct fb_vset *v);

/* In a forked child: every view of the parent's slots goes — the held one
 * cut (a stand-in, the caller's), the kept ones unmapped.  0, or -EFAULT:
 * the held view could not even be made inaccessible, so it was unmapped
 * here (or, failing that too, left): not the caller's to unmap. */
int fb_vset_cut_all(struct fb_vset *v);

/* The handle goes away: the held view ended as by fb_vset_cut_all, the
 * kept aliases unmapped, the set freed.  0 or -EFAULT as fb_vset_cut_all. */
int fb_vset_fini(struct fb_vset *v);

/* Unmap a stand-in the caller owns (a view cut off its slot). */
int fb_vset_unmap(void *view, uint64_t slot_bytes);

#endif
