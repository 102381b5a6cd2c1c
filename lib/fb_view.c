/* fb_view — revocable views of claimed slots (fb_view.h says what and why). */
#include "fb_view.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4 /* Linux 5.7; for shared mappings since 5.13 */
#endif
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

static size_t page_bytes(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	return pg > 0 ? (size_t)pg : 4096;
}

/* What one page-table page maps: a page of pointer-sized entries, each a
 * page (2 MiB with 4 KiB pages on x86-64 and arm64). */
static size_t table_span(void)
{
	size_t pg = page_bytes();

	return pg / sizeof(void *) * pg;
}

/*
 * SPAN bytes of address space at a page-table boundary, reserved
 * (inaccessible, uncommitted) for a view to be placed on with MREMAP_FIXED,
 * or NULL to let the kernel place it: for a view smaller than one table
 * the alignment saves nothing, and a failure here only costs speed.
 */
static void *reserve(size_t span)
{
	size_t t = table_span();
	uintptr_t r, a;
	void *m;

	if (span < t)
		return NULL;
	m = mmap(NULL, span + t, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	r = (uintptr_t)m;
	a = (r + t - 1) & ~(uintptr_t)(t - 1);
	/* The slack either side goes back (a failure leaves a little
	 * inaccessible address space reserved, nothing else). */
	if (a > r)
		(void)munmap(m, a - r);
	if (r + span + t > a + span)
		(void)munmap((void *)(a + span), r + span + t - (a + span));
	return (void *)a;
}

/*
 * mremap(OLD, OLD_LEN, SPAN, MAYMOVE | FLAGS) onto a reserved boundary when
 * there is one.  The fifth argument is always passed: with
 * MREMAP_DONTUNMAP the kernel reads it even without MREMAP_FIXED (a hint it
 * checks: Linux 6.18 fails a misaligned one with EINVAL), and a
 * four-argument call hands it whatever the register held.
 */
static void *remap(void *old, size_t old_len, size_t span, int flags)
{
	void *at = reserve(span), *m;
	int e;

	m = mremap(old, old_len, span, MREMAP_MAYMOVE | flags | (at ? MREMAP_FIXED : 0), at);
	if (m != MAP_FAILED || !at)
		return m;
	e = errno;
	(void)munmap(at, span);
	errno = e;
	return MAP_FAILED;
}

/* A new alias of the slot at SLOT_ADDR, its page tables built in one call
 * rather than a fault per page as the frame is written (best effort). */
static void *alias_new(void *slot_addr, size_t span)
{
	void *a = remap(slot_addr, 0, span, 0);

	if (a != MAP_FAILED)
		(void)madvise(a, span, MADV_POPULATE_WRITE);
	return a;
}

/* The slot's alias A is nobody's: kept for its next claim (one per slot). */
static void keep(struct fb_vset *v, uint32_t slot, void *a)
{
	if (v->kept[slot])
		(void)munmap(a, v->span);
	else
		v->kept[slot] = a;
}

/*
 * Replace the mapping at ADDR by memory of our own: private, readable and
 * writable (a stale reader sees zeros, a stale writer writes nowhere), or
 * if even that is refused (a strict overcommit policy charges a writable
 * private mapping, MAP_NORESERVE or not) inaccessible (an access faults).
 * Last, the slot's mapping itself made inaccessible.  0 or -errno.
 */
static int stand_in(void *addr, size_t span)
{
	const int flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE;

	if (mmap(addr, span, PROT_READ | PROT_WRITE, flags, -1, 0) != MAP_FAILED ||
	    mmap(addr, span, PROT_NONE, flags, -1, 0) != MAP_FAILED || mprotect(addr, span, PROT_NONE) == 0)
		return 0;
	return -errno;
}

/* Cut the held view off its slot; with MOVE, its page tables go to a fresh
 * alias kept for the slot's next claim first.  0 or -errno (still held). */
static int cut(struct fb_vset *v, bool move)
{
	void *moved = MAP_FAILED;
	int rc;

	if (move && !v->no_move) {
		moved = remap(v->held, v->span, v->span, MREMAP_DONTUNMAP);
		/* EINVAL: a kernel before 5.7 (5.13 for a shared mapping);
		 * every claim of the slot then builds a fresh alias. */
		if (moved == MAP_FAILED && errno == EINVAL)
			v->no_move = true;
	}
	rc = stand_in(v->held, v->span);
	if (moved != MAP_FAILED)
		keep(v, v->held_slot, moved);
	if (rc)
		return rc;
	v->last_cut = v->held;
	v->held = NULL;
	return 0;
}

void fb_vset_init(struct fb_vset *v, uint32_t slots, uint64_t slot_bytes)
{
	size_t pg = page_bytes();

	*v = (struct fb_vset){ .slots = slots, .span = ((size_t)slot_bytes + pg - 1) / pg * pg };
}

int fb_vset_get(struct fb_vset *v, uint32_t slot, void *slot_addr, void **view)
{
	void *a;

	if (v->held) { /* the same claim asks again (or undoes a drop) */
		v->dropped = false;
		*view = v->held;
		return 0;
	}
	if (slot >= v->slots)
		return -EINVAL;
	if (!v->kept && !(v->kept = calloc(v->slots, sizeof(*v->kept))))
		return -ENOMEM;
	a = v->kept[slot];
	if (!a && (a = alias_new(slot_addr, v->span)) == MAP_FAILED)
		return -errno;
	v->kept[slot] = NULL;
	v->held = a;
	v->held_slot_addr = slot_addr;
	v->held_slot = slot;
	v->dropped = false;
	v->last_cut = v->last_kept = NULL;
	*view = a;
	return 0;
}

void fb_vset_drop(struct fb_vset *v)
{
	if (v->held)
		v->dropped = true;
}

int fb_vset_end(struct fb_vset *v)
{
	v->last_cut = v->last_kept = NULL;
	if (!v->held)
		return 0;
	if (!v->dropped)
		return cut(v, true);
	keep(v, v->held_slot, v->held);
	v->last_kept = v->held;
	v->held = NULL;
	return 0;
}

int fb_vset_restore(struct fb_vset *v)
{
	void *at = v->last_cut, *from, *m;

	if (v->last_kept && v->kept[v->held_slot] == v->last_kept) {
		/* It was kept, not cut: held again as it was (dropped). */
		v->held = v->last_kept;
		v->kept[v->held_slot] = NULL;
		v->dropped = true;
	}
	v->last_cut = v->last_kept = NULL;
	if (!at)
		return 0;
	/* The kept alias (the view's own page tables) moved back over the
	 * stand-in; without one, a new alias made there. */
	from = v->kept[v->held_slot];
	m = mremap(from ? from : v->held_slot_addr, from ? v->span : 0, v->span,
		   MREMAP_MAYMOVE | MREMAP_FIXED, at);
	if (m == MAP_FAILED)
		return -errno;
	if (from)
		v->kept[v->held_slot] = NULL;
	else
		(void)madvise(m, v->span, MADV_POPULATE_WRITE);
	v->held = m;
	v->dropped = false;
	return 0;
}

int fb_vset_cut_all(struct fb_vset *v)
{
	int rc = 0;

	if (v->held && v->dropped) { /* nobody's: unmapped below with the kept ones */
		keep(v, v->held_slot, v->held);
		v->held = NULL;
	}
	if (v->held && cut(v, false) < 0) {
		/* Not even inaccessible in place (stand_in's last resort): it
		 * still maps the slot, which is about to be someone else's, so
		 * it goes — and the caller, told so (-EFAULT), must not unmap
		 * it again: the range may be reused by then.  If even munmap
		 * fails, the view stays, still not the caller's (a leak). */
		(void)munmap(v->held, v->span);
		v->held = NULL;
		rc = -EFAULT;
	}
	for (uint32_t i = 0; v->kept && i < v->slots; i++)
		if (v->kept[i]) {
			(void)munmap(v->kept[i], v->span);
			v->kept[i] = NULL;
		}
	v->last_cut = v->last_kept = NULL;
	return rc;
}

int fb_vset_fini(struct fb_vset *v)
{
	int rc = fb_vset_cut_all(v);

	free(v->kept);
	v->kept = NULL;
	return rc;
}

int fb_vset_unmap(void *view, uint64_t slot_bytes)
{
	size_t pg = page_bytes();

	if (!view || (uintptr_t)view % pg || slot_bytes == 0)
		return -EINVAL;
	return munmap(view, ((size_t)slot_bytes + pg - 1) / pg * pg) ? -errno : 0;
}
