/* fb_guard — SIGBUS and scribble protection for the segment (fb_guard.h). */
#include "fb_guard.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* glibc's layouts of the process-shared objects (64-bit): struct new_sem
 * { uint64_t data; int private; int pad; } and the mutex's __data fields. */
#if defined(__GLIBC__) && (defined(__x86_64__) || defined(__aarch64__))
#define GUARD_GLIBC64 1
#define SEM_PRIVATE(s) (((const volatile int *)(const void *)(s))[2])
#else
#define GUARD_GLIBC64 0
#endif

struct fb_guard {
	atomic_int used;            /* entry taken (registration only) */
	_Atomic uintptr_t start;    /* mapping start; 0 while not (yet) watched */
	uintptr_t end;
	int fd;                     /* our duplicate of the object's descriptor */
	int prot;
	volatile sig_atomic_t tripped; /* a SIGBUS was taken inside the mapping */
	volatile uintptr_t fault_off;  /* ...at this offset */
	uint64_t size;              /* the size the mapping was made for */
	uint64_t checked_ns;        /* last fstat */
	uint64_t size_seen;         /* what it returned, when it differed */
	int mutex_kind, sem_private;
	void *list_prev, *list_next; /* robust-list links written at lock */
};

/* The signal handler's view of the process's mappings (see fb_guard.h). */
static struct fb_guard watched[FB_GUARD_MAX];
static struct sigaction previous_bus;
static atomic_int handler_state; /* 0 none, 1 installing, 2 installed */
static long page_bytes;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	int saved = errno;
	uintptr_t a = (uintptr_t)si->si_addr;

	for (int i = 0; i < FB_GUARD_MAX && si->si_code == BUS_ADRERR; i++) {
		struct fb_guard *g = &watched[i];
		uintptr_t start = atomic_load_explicit(&g->start, memory_order_acquire), from;
		struct stat st;

		if (!start || a < start || a >= g->end)
			continue;
		from = a & ~((uintptr_t)page_bytes - 1);
		/* Everything past the file's end faults: cover it all at once. */
		if (g->fd >= 0 && fstat(g->fd, &st) == 0 && st.st_size >= 0) {
			uintptr_t eof = start + (((uintptr_t)st.st_size + (uintptr_t)page_bytes - 1) &
						 ~((uintptr_t)page_bytes - 1));

			if (eof <= from)
				from = eof;
		}
		if (mmap((void *)from, g->end - from, g->prot, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 0) == MAP_FAILED)
			break; /* cannot repair: die of it as before */
		g->fault_off = a - start;
		g->tripped = 1;
		errno = saved;
		return;
	}
	/* Not ours: whatever the process had before. */
	if (previous_bus.sa_flags & SA_SIGINFO) {
		previous_bus.sa_sigaction(sig, si, uc);
	} else if (previous_bus.sa_handler != SIG_DFL && previous_bus.sa_handler != SIG_IGN) {
		previous_bus.sa_handler(sig);
	} else {
		/* Default: returning re-runs the access, which now kills us. */
		signal(SIGBUS, SIG_DFL);
	}
	errno = saved;
}

static int install_handler(void)
{
	struct sigaction sa;
	int expect = 0;

	if (atomic_load(&handler_state) == 2) {
		struct sigaction cur;

		/* Still ours?  Somebody (a test harness, a library user) may
		 * have put another handler in since: chain to it from now on. */
		if (sigaction(SIGBUS, NULL, &cur) < 0 ||
		    ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == on_sigbus))
			return 0;
		atomic_store(&handler_state, 1);
	} else if (!atomic_compare_exchange_strong(&handler_state, &expect, 1)) {
		while (atomic_load(&handler_state) == 1)
			sched_yield();
		return atomic_load(&handler_state) == 2 ? 0 : -EAGAIN;
	}
	page_bytes = sysconf(_SC_PAGESIZE);
	if (page_bytes <= 0)
		page_bytes = 4096;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigbus;
	sa.sa_flags = SA_SIGINFO | SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGBUS, &sa, &previous_bus) < 0) {
		int e = errno;

		atomic_store(&handler_state, 0);
		return -e;
	}
	atomic_store(&handler_state, 2);
	return 0;
}

/* What init_sync writes, learnt from objects initialised the same way. */
static void expected_words(struct fb_guard *g)
{
	g->mutex_kind = 0;
	g->sem_private = 0;
#if GUARD_GLIBC64
	pthread_mutexattr_t ma;
	pthread_mutex_t m;
	sem_t s;

	if (pthread_mutexattr_init(&ma) == 0) {
		if (pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED) == 0 &&
		    pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST) == 0 &&
		    pthread_mutex_init(&m, &ma) == 0) {
			g->mutex_kind = m.__data.__kind;
			pthread_mutex_destroy(&m);
		}
		pthread_mutexattr_destroy(&ma);
	}
	if (sem_init(&s, 1, 0) == 0) {
		g->sem_private = SEM_PRIVATE(&s);
		sem_destroy(&s);
	}
#endif
}

int fb_guard_watch(struct fb_seg *seg, int fd)
{
	int rc = install_handler();

	seg->guard = NULL;
	if (rc)
		return rc;
	for (int i = 0; i < FB_GUARD_MAX; i++) {
		struct fb_guard *g = &watched[i];
		int expect = 0;

		if (!atomic_compare_exchange_strong(&g->used, &expect, 1))
			continue;
		g->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
		if (g->fd < 0) {
			rc = -errno;
			atomic_store(&g->used, 0);
			return rc;
		}
		g->end = (uintptr_t)seg->base + seg->geom.segment_size;
		g->prot = seg->readonly ? PROT_READ : PROT_READ | PROT_WRITE;
		g->tripped = 0;
		g->fault_off = 0;
		g->size = seg->geom.segment_size;
		g->checked_ns = fb_now_ns();
		g->size_seen = g->size;
		g->list_prev = g->list_next = NULL;
		expected_words(g);
		/* Last: from here on the handler may act on this entry. */
		atomic_store_explicit(&g->start, (uintptr_t)seg->base, memory_order_release);
		seg->guard = g;
		return 0;
	}
	return -ENOSPC;
}

void fb_guard_unwatch(struct fb_seg *seg)
{
	struct fb_guard *g = seg->guard;

	if (!g)
		return;
	atomic_store_explicit(&g->start, 0, memory_order_release);
	close(g->fd);
	g->fd = -1;
	seg->guard = NULL;
	atomic_store(&g->used, 0);
}

bool fb_guard_tripped(const struct fb_seg *seg)
{
	const struct fb_guard *g = seg->guard;

	return g && (g->tripped || g->size_seen != g->size);
}

bool fb_guard_sem_ok(const struct fb_seg *seg, const sem_t *s)
{
#if GUARD_GLIBC64
	const struct fb_guard *g = seg->guard;

	return !g || SEM_PRIVATE(s) == g->sem_private;
#else
	(void)seg;
	(void)s;
	return true;
#endif
}

bool fb_guard_mutex_ok(const struct fb_seg *seg)
{
#if GUARD_GLIBC64
	const struct fb_guard *g = seg->guard;

	return !g || *(const volatile int *)&seg->hdr->lock.__data.__kind == g->mutex_kind;
#else
	(void)seg;
	return true;
#endif
}

/* The segment's size against its creation: a SIGBUS taken, or fstat's
 * answer (at most every FB_GUARD_STAT_MS unless FORCE).  WHY filled and
 * returned, or NULL. */
static const char *size_changed(struct fb_seg *seg, struct fb_guard *g, bool force, char *why,
				size_t len)
{
	uint64_t now;
	struct stat st;

	if (g->tripped) {
		snprintf(why, len, "segment %s truncated under the render (pid %d took SIGBUS at offset %llu)",
			 seg->name, (int)getpid(), (unsigned long long)g->fault_off);
		return why;
	}
	now = fb_now_ns();
	if (force || now - g->checked_ns >= FB_GUARD_STAT_MS * 1000000ull || g->size_seen != g->size) {
		g->checked_ns = now;
		if (fstat(g->fd, &st) == 0 && (uint64_t)st.st_size != g->size)
			g->size_seen = (uint64_t)st.st_size;
	}
	if (g->size_seen < g->size) {
		snprintf(why, len, "segment %s truncated under the render (%llu of %llu bytes left)",
			 seg->name, (unsigned long long)g->size_seen, (unsigned long long)g->size);
		return why;
	}
	if (g->size_seen > g->size) {
		snprintf(why, len, "segment %s resized under the render (%llu bytes, created with %llu)",
			 seg->name, (unsigned long long)g->size_seen, (unsigned long long)g->size);
		return why;
	}
	return NULL;
}

/* A word found scribbled: but a truncation since the size was last looked
 * at reads as zeros past the end (the guard's page after the SIGBUS the
 * read itself took), so the size is looked at again first. */
static const char *scribbled(struct fb_seg *seg, struct fb_guard *g, char *why, size_t len,
			     const char *what)
{
	if (size_changed(seg, g, true, why, len))
		return why;
	snprintf(why, len, "%s", what);
	return why;
}

const char *fb_guard_verify(struct fb_seg *seg, char *why, size_t len)
{
	struct fb_guard *g = seg->guard;
	const struct fb_header *h = seg->hdr;
	char what[64];
	uint32_t state;

	if (!g)
		return NULL;
	if (size_changed(seg, g, false, why, len))
		return why;
	state = atomic_load_explicit(&h->state, memory_order_relaxed);
	if (state != FB_SEG_RUNNING && state != FB_SEG_DONE && state != FB_SEG_ABORTED) {
		snprintf(what, sizeof(what), "segment corrupt: life-cycle word is %#x", state);
		return scribbled(seg, g, why, len, what);
	}
	if (!fb_guard_mutex_ok(seg))
		return scribbled(seg, g, why, len,
				 "segment corrupt: ring mutex scribbled (its kind word changed)");
	if (!fb_guard_sem_ok(seg, &h->space) || !fb_guard_sem_ok(seg, &h->filled) ||
	    !fb_guard_sem_ok(seg, &h->broker))
		return scribbled(seg, g, why, len,
				 "segment corrupt: a semaphore scribbled (its futex flags changed)");
	return NULL;
}

void fb_guard_lock_taken(struct fb_seg *seg)
{
#if GUARD_GLIBC64
	struct fb_guard *g = seg->guard;

	if (g) {
		g->list_prev = seg->hdr->lock.__data.__list.__prev;
		g->list_next = seg->hdr->lock.__data.__list.__next;
	}
#else
	(void)seg;
#endif
}

bool fb_guard_lock_release(struct fb_seg *seg)
{
#if GUARD_GLIBC64
	struct fb_guard *g = seg->guard;
	volatile __pthread_list_t *l = &seg->hdr->lock.__data.__list;

	if (!g || (l->__prev == g->list_prev && l->__next == g->list_next))
		return true;
	/* glibc's unlock writes through these: never let it follow a
	 * pointer somebody else wrote. */
	l->__prev = g->list_prev;
	l->__next = g->list_next;
	return false;
#else
	(void)seg;
	return true;
#endif
}
