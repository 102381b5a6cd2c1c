/*
 * fb_segment — the shared segment's life: exclusive creation by the
 * broker, validated attachment by everyone else, detaching, and the
 * questions about a name's segment that need its header (is its broker
 * alive? may a launcher remove it?).
 *
 * One rule runs through it: the segment is hostile input (copy, validate,
 * only then trust), enforced by private helpers the calls share
 * (attach_fd's copy-then-validate, the identity written before memory is
 * reserved).  The name and the object at it are fb_shm.c; the geometry and
 * the header's validation fb_geom.c.
 */
#include "fb_segment.h"
#include "fb_guard.h"
#include "fb_proc.h"
#include "fb_util.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

static int init_sync(struct fb_header *h)
{
	pthread_mutexattr_t ma;
	int rc;

	rc = pthread_mutexattr_init(&ma);
	if (rc)
		return -rc;
	rc = pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
	if (!rc)
		rc = pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
	if (!rc)
		rc = pthread_mutex_init(&h->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	if (rc)
		return -rc;
	if (sem_init(&h->space, 1, 0) || sem_init(&h->filled, 1, 0) ||
	    sem_init(&h->broker, 1, 0))
		return -errno;
	return 0;
}

static void init_header(struct fb_header *h, const struct fb_geom *g)
{
	h->magic = FB_MAGIC;
	h->abi_version = FB_ABI_VERSION;
	h->header_size = sizeof(*h);
	h->width = g->width;
	h->height = g->height;
	h->pix_fmt = g->pix_fmt;
	h->slot_count = g->slot_count;
	h->frame_bytes = g->frame_bytes;
	h->slot_stride = g->slot_stride;
	h->data_offset = g->data_offset;
	h->segment_size = g->segment_size;
	h->total_frames = g->total_frames;
	h->first_frame = g->first_frame;
	h->render_frames = g->render_frames;
	h->chunk = g->chunk;
	h->fps_num = g->fps_num;
	h->fps_den = g->fps_den;
	h->frame_format = g->frame_format;
	h->slot_bytes = g->slot_bytes;
	h->broker_pid = (int32_t)getpid();
	h->broker_start = fb_proc_start_time(getpid());
}

/*
 * Map SIZE bytes of the segment FD.  MAP_POPULATE builds the page tables
 * now, at attach, instead of taking a minor fault on every 4 KiB page the
 * first time a render touches it (2,025 per 1080p RGBA slot): measured, a
 * quarter off a 1080p render's time with two producers (docs/performance.md).
 * Only workers ask for it (POPULATE): the broker never touches a slot.
 * No huge pages: tmpfs gives a segment huge pages only when /dev/shm is
 * mounted huge=within_size (or shmem_enabled=force), and posix_fallocate has
 * already placed 4 KiB pages by the time any madvise could ask.
 */
static void *map_segment(int fd, uint64_t size, bool populate)
{
	return mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | (populate ? MAP_POPULATE : 0),
		    fd, 0);
}

static struct fb_seg *seg_new(const char *name, void *map, const struct fb_geom *g)
{
	struct fb_seg *seg = calloc(1, sizeof(*seg));

	if (!seg)
		return NULL;
	seg->base = map;
	seg->hdr = map;
	seg->geom = *g;
	seg->pid = (int32_t)getpid();
	seg->broker_fd = -1;
	seg->lock_fd = -1;
	fb_spin_init(&seg->spin);
	snprintf(seg->name, sizeof(seg->name), "%s", name);
	return seg;
}

/* Write the identity part of the header (state INIT) before anything slow,
 * so from the first microseconds on the object names its broker: a broker
 * killed while reserving memory leaves a segment the next one can tell is
 * stale, and attachers see INIT and wait. */
static int write_identity(int fd, const struct fb_geom *g, uint64_t ino)
{
	struct fb_header *h = calloc(1, sizeof(*h));
	int rc;

	if (!h)
		return -ENOMEM;
	init_header(h, g);
	h->seg_ino_lo = (uint32_t)ino;
	h->seg_ino_hi = (uint32_t)(ino >> 32);
	rc = fb_pwrite_all(fd, h, sizeof(*h), 0);
	free(h);
	return rc;
}

int fb_seg_create(const char *name, const struct fb_geom *g, struct fb_seg **out)
{
	struct statvfs vfs;
	struct stat st;
	struct fb_seg *seg;
	void *map;
	int fd, rc;

	if (fb_shm_name_check(name))
		return -EINVAL;
	fd = fb_shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600, &st);
	if (fd < 0)
		return fd;
	/* Held for our whole life (the descriptor is kept in the handle): a
	 * broker deciding whether this object is abandoned or stale takes
	 * this lock first, so it can never mistake us for gone — not while
	 * we are still writing our identity, nor when the pid in the header
	 * means nothing to it (another pid namespace).  Nobody else can hold
	 * it yet, save a broker judging the name in the microseconds since
	 * our O_EXCL: then let the caller try again. */
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EAGAIN : -errno;
		goto fail;
	}
	rc = write_identity(fd, g, (uint64_t)st.st_ino);
	if (rc)
		goto fail;
	/* tmpfs hands out pages lazily and answers a later shortage with
	 * SIGBUS in whoever touches the page; reserve it all now instead. */
	if (fstatvfs(fd, &vfs) == 0 &&
	    (uint64_t)vfs.f_bavail * vfs.f_frsize < g->segment_size) {
		rc = -ENOSPC;
		goto fail;
	}
	rc = -posix_fallocate(fd, 0, (off_t)g->segment_size);
	if (rc)
		goto fail;
	map = map_segment(fd, g->segment_size, false);
	if (map == MAP_FAILED) {
		rc = -errno;
		goto fail;
	}
	/* fallocate zero-filled the rest: every slot is EMPTY, counters 0. */
	rc = init_sync(map);
	if (rc == 0) {
		seg = seg_new(name, map, g);
		if (!seg)
			rc = -ENOMEM;
	}
	if (rc) {
		munmap(map, g->segment_size);
		goto fail;
	}
	fb_guard_watch(seg, fd); /* unguarded if it fails: as before */
	seg->dev = (uint64_t)st.st_dev;
	seg->ino = (uint64_t)st.st_ino;
	/* Kept (with its flock) for the broker's life: a live broker is
	 * then live from any pid namespace (fb_seg_unlink_owned). */
	seg->lock_fd = fd;
	/* Release: attachers that see RUNNING (acquire) see the header above. */
	seg->hdr->start_ns = fb_now_ns();
	atomic_store_explicit(&seg->hdr->state, FB_SEG_RUNNING, memory_order_release);
	*out = seg;
	return 0;
fail:
	/* Our own object only, and before the lock goes: once it is released
	 * another broker may replace the name, and that one is not ours. */
	(void)fb_shm_unlink_same(name, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
	close(fd);
	return rc;
}

/* Attach through FD, mapped writable (workers) or not (observers). */
static int attach_fd(int fd, const char *name, bool readonly, struct fb_seg **out,
		     const char **why)
{
	struct fb_header copy;
	struct fb_geom g;
	struct fb_seg *seg;
	struct stat st;
	void *map;
	int rc;

	*why = NULL;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode)) {
		*why = "not a shared-memory segment (not a regular file)";
		return -FB_ENOTSEG;
	}
	if ((uint64_t)st.st_size < sizeof(copy)) {
		*why = "segment is still being created (smaller than its header)";
		return -EAGAIN;
	}
	/* Validate a private copy, so no field can change between check and
	 * use; then map exactly the validated size. */
	rc = fb_pread_all(fd, &copy, sizeof(copy), 0);
	if (rc == 0 && atomic_load_explicit(&copy.state, memory_order_acquire) == FB_SEG_INIT) {
		*why = "segment is still being initialised";
		rc = -EAGAIN;
	}
	if (rc == 0)
		rc = fb_seg_validate(&copy, (uint64_t)st.st_size, &g, why);
	if (rc)
		return rc;
	map = readonly ? mmap(NULL, g.segment_size, PROT_READ, MAP_SHARED, fd, 0)
		       : map_segment(fd, g.segment_size, true);
	if (map == MAP_FAILED)
		return -errno;
	seg = seg_new(name, map, &g);
	if (!seg) {
		munmap(map, g.segment_size);
		return -ENOMEM;
	}
	seg->readonly = readonly;
	fb_guard_watch(seg, fd);
	*out = seg;
	return 0;
}

int fb_seg_attach_fd(int fd, const char *name, struct fb_seg **out, const char **why)
{
	return attach_fd(fd, name, false, out, why);
}

int fb_seg_attach_readonly_fd(int fd, const char *name, struct fb_seg **out, const char **why)
{
	return attach_fd(fd, name, true, out, why);
}

int fb_seg_attach_readonly(const char *name, struct fb_seg **out, const char **why)
{
	int fd, rc;

	*why = NULL;
	if (fb_shm_name_check(name)) {
		*why = "invalid segment name";
		return -EINVAL;
	}
	fd = fb_shm_open(name, O_RDONLY, 0, NULL);
	if (fd < 0)
		return fd;
	rc = attach_fd(fd, name, true, out, why);
	close(fd);
	return rc;
}

int fb_seg_attach(const char *name, struct fb_seg **out, const char **why)
{
	struct stat st;
	int fd, rc;

	*why = NULL;
	if (fb_shm_name_check(name)) {
		*why = "invalid segment name";
		return -EINVAL;
	}
	fd = fb_shm_open(name, O_RDWR, 0, &st);
	if (fd < 0)
		return fd;
	rc = fb_shm_check_owner(&st);
	if (rc == 0)
		rc = fb_seg_attach_fd(fd, name, out, why);
	else
		*why = "owned by another user, or writable by others";
	close(fd);
	return rc;
}

void fb_seg_detach(struct fb_seg *seg)
{
	if (!seg)
		return;
	if (seg->broker_fd >= 0)
		close(seg->broker_fd);
	fb_guard_unwatch(seg);
	if (seg->lock_fd >= 0)
		close(seg->lock_fd);
	munmap(seg->base, seg->geom.segment_size);
	free(seg->fault);
	free(seg);
}

int fb_seg_attach_inherited(int fd, const char *name, struct fb_seg **out, const char **why)
{
	struct stat by_fd, by_name;
	int rc;

	/* The descriptor is what we attach to; the name is how we speak of
	 * it.  Where the name still exists it must be that very object, or
	 * every message would name another render than the one we work for
	 * (unlinked, as after a short render, is fine: that is why workers
	 * get a descriptor). */
	if (fstat(fd, &by_fd) == 0 && fb_shm_lstat(name, &by_name) == 0 &&
	    (by_fd.st_dev != by_name.st_dev || by_fd.st_ino != by_name.st_ino)) {
		*why = "the inherited descriptor is another object than the segment of that name";
		return -EXDEV;
	}
	rc = fb_seg_attach_fd(fd, name, out, why);
	/* A segment handed down by descriptor was made before it was
	 * handed: "still being created" would be a lie.  It is no segment
	 * of ours. */
	if (rc == -EAGAIN) {
		*why = "the inherited descriptor is not a framebroker segment";
		rc = -EPROTO;
	}
	return rc;
}

int fb_seg_attach_wait(const char *name, int fd, int timeout_ms, struct fb_seg **out,
		       const char **why)
{
	uint64_t deadline = fb_now_ns() + (uint64_t)timeout_ms * 1000000ull;
	int rc;

	if (fd >= 0) {
		rc = fb_seg_attach_inherited(fd, name, out, why);
		close(fd);
		return rc;
	}

	for (;;) {
		rc = fb_seg_attach(name, out, why);
		if ((rc != -ENOENT && rc != -EAGAIN) || fb_now_ns() >= deadline)
			return rc;
		usleep(20 * 1000);
	}
}

int fb_seg_owner_alive(const char *name, int32_t *pid)
{
	int fd, rc;

	*pid = 0;
	fd = fb_shm_open(name, O_RDONLY, 0, NULL);
	if (fd < 0)
		return fd;
	rc = fb_seg_owner_alive_fd(fd, pid);
	close(fd);
	return rc;
}

int fb_seg_owner_alive_fd(int fd, int32_t *pid)
{
	struct fb_header copy;
	struct stat st;
	int rc;

	*pid = 0;
	if (fstat(fd, &st) == 0 && (uint64_t)st.st_size < sizeof(copy)) {
		uint64_t magic = 0;

		/* A creator between shm_open and its first write (empty), or
		 * killed inside it (the magic comes first).  Any other small
		 * object (a named semaphore, another program's shm) is not
		 * ours: never "abandoned", so never replaced. */
		if (st.st_size == 0 ||
		    (fb_pread_all(fd, &magic, sizeof(magic), 0) == 0 && magic == FB_MAGIC))
			return -EAGAIN;
		return -EPROTO;
	}
	rc = fb_pread_all(fd, &copy, sizeof(copy), 0);
	if (rc || copy.magic != FB_MAGIC || copy.abi_version != FB_ABI_VERSION ||
	    copy.header_size != sizeof(copy))
		return -EPROTO;
	*pid = copy.broker_pid;
	return fb_proc_alive(copy.broker_pid, copy.broker_start);
}

int fb_seg_unlink_owned(const char *name, int32_t broker_pid)
{
	/* Only the identity, which is all this needs: not the whole header. */
	const size_t idlen = offsetof(struct fb_header, state);
	struct fb_header *h = calloc(1, sizeof(*h));
	struct stat st;
	int fd, rc = -EPERM;

	if (!h)
		return -ENOMEM;
	fd = fb_shm_open(name, O_RDONLY, 0, &st);
	if (fd < 0) {
		free(h);
		return fd == -FB_ENOTSEG ? -EPERM : fd;
	}
	if ((uint64_t)st.st_size >= sizeof(*h) && fb_pread_all(fd, h, idlen, 0) == 0 &&
	    h->magic == FB_MAGIC && h->abi_version == FB_ABI_VERSION &&
	    h->header_size == sizeof(*h) && h->broker_pid == broker_pid &&
	    (((uint64_t)h->seg_ino_hi << 32) | h->seg_ino_lo) == (uint64_t)st.st_ino &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0) {
		/* Ours, and its broker is gone (it held the lock for life).
		 * Unlinked while we hold the lock, and only if the name still
		 * names this very object. */
		rc = fb_shm_unlink_same(name, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
		if (rc == -ESTALE)
			rc = -EPERM;
	}
	close(fd);
	free(h);
	return rc;
}

int fb_seg_unlink_mine(const struct fb_seg *seg)
{
	int rc = fb_shm_unlink_same(seg->name, seg->dev, seg->ino);

	return rc == -ESTALE ? -EPERM : rc;
}
