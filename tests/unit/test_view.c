/*
 * test_view — the revocable views (fb_claim_view, fb_view_drop,
 * fb_view_free, fb_view_cut_all; lib/fb_view.c), driven as a binding
 * drives them, on a real segment with the test process as the encoder:
 * writes through a view reach the slot; once the claim ends a view nobody
 * dropped is cut (it reads zeros, and writes to it never reach the slot,
 * not even after the slot holds the next frame); a dropped view is kept and
 * handed out again for the slot's next claim; a refused length leaves the
 * view as it was; detach and a forked child's fb_view_cut_all cut too.
 * When the system refuses even an inaccessible stand-in (forced here with a
 * seccomp filter, in a child of its own), detach and fb_view_cut_all unmap
 * the view themselves and say so (-EFAULT: not the caller's to free).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#include "unit.h"
#include "test_seg.h"
#include "framebroker.h"
#include "fb_ring.h"

#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* A fresh segment, S=3 slots, N=5 frames of 64x4 gray. */
static int setup(void **state) { return fb_test_seg_make(state, 3, 5); }
static int teardown(void **state) { return fb_test_seg_teardown(state); }

/* Is ADDR mapped (mincore says ENOMEM for a hole)? */
static int mapped(void *addr)
{
	unsigned char v;

	return mincore(addr, 1, &v) == 0;
}

/* Are LEN bytes at P all B? */
static int all(const void *p, int b, size_t len)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < len; i++)
		if (c[i] != (unsigned char)b)
			return 0;
	return 1;
}

/* The encoder's half for frame F: take it, check it is all B, free it. */
static void encode(struct fb_seg *seg, uint64_t f, int b, size_t len)
{
	struct fb_frame_ref r;

	assert_int_equal(fb_ring_acquire(seg, f, &r, 1, 5000), 1);
	assert_true(all(r.data, b, len));
	assert_int_equal(fb_ring_release(seg, f, 1), 0);
}

/* Attach P to the fixture's segment, *G its geometry. */
static fb_producer *attach_to(const struct fixture *fx, struct fb_geometry *g)
{
	fb_producer *p;

	assert_int_equal(fb_attach(fx->name, 0, &p), 0);
	fb_get_geometry(p, g);
	return p;
}

/* Claim the next frame, expecting F; *V its view, filled with B. */
static void *claim_fill(fb_producer *p, uint64_t f, int b, size_t len, void **data)
{
	uint64_t got;
	void *v;

	assert_int_equal(fb_claim(p, &got, data), 1);
	assert_int_equal(got, f);
	assert_int_equal(fb_claim_view(p, &v), 0);
	memset(v, b, len);
	return v;
}

/* A view is the slot; cut at publish, it is the slot no more, ever. */
static void test_view_cut(void **state)
{
	struct fb_geometry g;
	fb_producer *p = attach_to(*state, &g); /* S=3, N=5 */
	struct fixture *fx = *state;
	void *d0, *d, *v, *again;

	assert_int_equal(fb_claim_view(p, &v), -EINVAL); /* no claim */
	assert_int_equal(fb_claim_view(NULL, &v), -EINVAL);
	v = claim_fill(p, 0, 0x11, g.frame_bytes, &d0);
	assert_ptr_not_equal(v, d0);
	assert_true(all(d0, 0x11, g.frame_bytes)); /* written through the view: in the slot */
	assert_int_equal(fb_claim_view(p, &again), 0);
	assert_ptr_equal(again, v);
	/* A refused length: the claim goes on, the view with it, unchanged. */
	assert_int_equal(fb_publish(p, g.frame_bytes + 1), -EINVAL);
	assert_true(all(v, 0x11, g.frame_bytes));
	memset(v, 0x12, g.frame_bytes);
	assert_true(all(d0, 0x12, g.frame_bytes));
	assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	/* Cut: the stand-in reads zeros, and a write stays there. */
	assert_true(all(v, 0, g.frame_bytes));
	memset(v, 0xEE, g.frame_bytes);
	assert_true(all(d0, 0x12, g.frame_bytes));
	encode(fx->seg, 0, 0x12, g.frame_bytes);
	for (uint64_t f = 1; f < 3; f++) {
		(void)claim_fill(p, f, (int)f, g.frame_bytes, &d);
		assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	}
	/* Frame 3 in slot 0 again: the old view still writes nowhere. */
	(void)claim_fill(p, 3, 0x33, g.frame_bytes, &d);
	assert_ptr_equal(d, d0);
	memset(v, 0xEE, g.frame_bytes);
	assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	for (uint64_t f = 1; f < 4; f++)
		encode(fx->seg, f, f == 3 ? 0x33 : (int)f, g.frame_bytes);
	assert_int_equal(fb_view_free(v, g.slot_bytes), 0);
	assert_false(mapped(v));
	assert_int_equal(fb_view_free(NULL, g.slot_bytes), -EINVAL);
	assert_int_equal(fb_view_free((char *)v + 1, g.slot_bytes), -EINVAL);
	assert_int_equal(fb_view_free(v, 0), -EINVAL);
	fb_detach(p);
}

/* Dropped: not cut, and the slot's next claim gets the same view back;
 * fb_claim_view after fb_view_drop undoes it. */
static void test_view_drop(void **state)
{
	struct fb_geometry g;
	fb_producer *p = attach_to(*state, &g); /* S=3, N=5 */
	struct fixture *fx = *state;
	void *d, *v0, *v, *v3;

	assert_int_equal(fb_view_drop(p), -EINVAL); /* no view */
	v0 = claim_fill(p, 0, 0x10, g.frame_bytes, &d);
	assert_int_equal(fb_view_drop(p), 0);
	assert_int_equal(fb_claim_view(p, &v), 0); /* handed out again: the drop undone */
	assert_int_equal(fb_view_drop(p), 0);
	assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	assert_true(all(v0, 0x10, g.frame_bytes)); /* kept: still the slot */
	encode(fx->seg, 0, 0x10, g.frame_bytes);
	for (uint64_t f = 1; f < 3; f++) {
		(void)claim_fill(p, f, (int)f, g.frame_bytes, &d);
		assert_int_equal(fb_view_drop(p), 0);
		assert_int_equal(fb_abort_claim(p), 0); /* kept by abort too */
		(void)claim_fill(p, f, (int)f, g.frame_bytes, &d);
		assert_int_equal(fb_publish(p, g.frame_bytes), 0);
		encode(fx->seg, f, (int)f, g.frame_bytes);
	}
	v3 = claim_fill(p, 3, 0x33, g.frame_bytes, &d); /* slot 0 again */
	assert_ptr_equal(v3, v0);
	assert_true(all(d, 0x33, g.frame_bytes));
	/* Held and not dropped at detach: cut, the stand-in the caller's. */
	fb_detach(p);
	assert_true(mapped(v3) && all(v3, 0, g.frame_bytes));
	assert_int_equal(fb_view_free(v3, g.slot_bytes), 0);
}

/* A forked child's views: fb_view_cut_all cuts the held one (zeros, its
 * writes stay in the child) and unmaps the kept ones. */
static void test_view_fork(void **state)
{
	struct fb_geometry g;
	fb_producer *p = attach_to(*state, &g); /* S=3, N=5 */
	struct fixture *fx = *state;
	void *d0, *d1, *kept, *held;
	pid_t child;
	int st;

	kept = claim_fill(p, 0, 0x40, g.frame_bytes, &d0);
	assert_int_equal(fb_view_drop(p), 0);
	assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	held = claim_fill(p, 1, 0x41, g.frame_bytes, &d1);
	child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		int ok = fb_view_cut_all(p) == 0 && all(held, 0, g.frame_bytes) && !mapped(kept);

		memset(held, 0xEE, g.frame_bytes);
		_exit(ok ? 0 : 1);
	}
	assert_int_equal(waitpid(child, &st, 0), child);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	assert_true(all(d1, 0x41, g.frame_bytes)); /* the child's writes stayed its own */
	assert_true(all(held, 0x41, g.frame_bytes)); /* the parent's views are untouched */
	assert_true(all(kept, 0x40, g.frame_bytes));
	assert_int_equal(fb_view_cut_all(NULL), -EINVAL);
	assert_int_equal(fb_publish(p, g.frame_bytes), 0);
	encode(fx->seg, 0, 0x40, g.frame_bytes);
	encode(fx->seg, 1, 0x41, g.frame_bytes);
	fb_detach(p);
	assert_int_equal(fb_view_free(held, g.slot_bytes), 0);
}

/*
 * From now on this process cannot replace or re-protect a mapping: mmap
 * with MAP_FIXED, mprotect and mremap fail with ENOMEM (a seccomp filter:
 * the one way to make every fallback of a cut fail for real).  munmap and
 * the rest still work.  0, or -1 if the filter cannot be installed.
 */
static int deny_remapping(void)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mprotect, 4, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mremap, 3, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_mmap, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_FIXED, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOMEM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) != 0)
		return -1;
	return 0;
}

/* In a child of its own (the filter cannot be undone): attach, claim,
 * fill the view, forbid remapping, then end the handle's views with
 * fb_detach (CUT_ALL false) or fb_view_cut_all then fb_detach.  Exit 0 if
 * the library reported the view as not ours (-EFAULT) and it is unmapped,
 * 2 if the filter could not be installed, 1 otherwise. */
static int child_denied(const struct fixture *fx, bool cut_all)
{
	struct fb_geometry g;
	fb_producer *p;
	uint64_t f;
	void *d, *v;
	int rc;

	if (fb_attach(fx->name, 0, &p) != 0 || fb_claim(p, &f, &d) != 1 || fb_claim_view(p, &v) != 0)
		return 1;
	fb_get_geometry(p, &g);
	memset(v, 0x5A, g.frame_bytes);
	if (deny_remapping() != 0)
		return 2;
	if (cut_all) {
		rc = fb_view_cut_all(p);
		if (fb_detach(p) != 0) /* no view held any more */
			return 1;
	} else {
		rc = fb_detach(p);
	}
	return rc == -EFAULT && !mapped(v) ? 0 : 1;
}

/* A view that cannot be cut at all is unmapped by the library, reported
 * (-EFAULT), by fb_detach and fb_view_cut_all alike; the frame it held
 * goes back all the same, for the next claim. */
static void test_view_uncuttable(void **state)
{
	struct fixture *fx = *state;

	for (int cut_all = 0; cut_all < 2; cut_all++) {
		pid_t child = fork();
		int st;

		assert_true(child >= 0);
		if (child == 0)
			_exit(child_denied(fx, cut_all));
		assert_int_equal(waitpid(child, &st, 0), child);
		assert_true(WIFEXITED(st));
		if (WEXITSTATUS(st) == 2)
			skip(); /* no seccomp here: nothing can force the failure */
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	assert_int_equal(fb_detach(NULL), 0);
}

int fb_test_view(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_view_cut, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_drop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_fork, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_uncuttable, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
