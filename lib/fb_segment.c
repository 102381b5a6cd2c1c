/*
 * fb_segment — create, validate and attach the shared frame segment.
 *
 * Over 500 lines, on purpose: this is everything that reads or writes the
 * segment outside the ring protocol — the name and the object at it, the
 * geometry, validation, creation, attachment, ownership — and all of it
 * follows one rule, that the segment is hostile input (copy, validate,
 * only then trust), enforced by private helpers they share (attach_fd's
 * copy-then-validate, the identity written before memory is reserved).
 * Split by step, the rule would be split too.  The part to move out first,
 * should it grow: the name and the object at it (fb_shm_*, fb_seg_name_*,
 * fb_seg_refusal), which needs none of those helpers.
 */
#include "fb_segment.h"
#include "fb_guard.h"
#include "fb_pixfmt.h"
#include "fb_proc.h"
#include "fb_util.h"

#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

static uint64_t page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (uint64_t)p : 4096;
}

/* Round V up to a multiple of A (a power of two); 0 on overflow. */
static uint64_t align_up(uint64_t v, uint64_t a)
{
	if (v > UINT64_MAX - (a - 1))
		return 0;
	return (v + a - 1) & ~(a - 1);
}

int fb_shm_lstat(const char *name, struct stat *st)
{
	char path[sizeof(FB_SHM_DIR) + FB_NAME_MAX + 1];

	if (fb_seg_name_check(name))
		return -EINVAL;
	snprintf(path, sizeof(path), FB_SHM_DIR "%s", name);
	return lstat(path, st) < 0 ? -errno : 0;
}

int fb_shm_open(const char *name, int flags, mode_t mode, struct stat *st)
{
	struct stat tmp;
	int fd;

	if (!st)
		st = &tmp;
	/* Look before opening what exists: a device's open can act (a tty,
	 * a tape), and a directory's fails with an errno (EISDIR, or EINVAL
	 * from glibc) that would hide what it is.  The fstat below still
	 * judges what was really opened. */
	if (!(flags & O_EXCL) && fb_shm_lstat(name, st) == 0 && !S_ISREG(st->st_mode))
		return -FB_ENOTSEG;
	fd = shm_open(name, flags | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, mode);
	if (fd < 0) {
		int e = errno;

		/* ELOOP: a symlink; ENXIO: a socket; EISDIR/EINVAL: a
		 * directory — each put there since we looked. */
		if (e == ELOOP ||
		    (e != ENOENT && e != EEXIST && fb_shm_lstat(name, st) == 0 && !S_ISREG(st->st_mode)))
			return -FB_ENOTSEG;
		return -e;
	}
	if (fstat(fd, st) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -FB_ENOTSEG;
	}
	return fd;
}

int fb_seg_check_owner(const struct stat *st)
{
	if (!S_ISREG(st->st_mode))
		return -FB_ENOTSEG;
	if (st->st_uid != geteuid() || (st->st_mode & (S_IWGRP | S_IWOTH)))
		return -EPERM;
	return 0;
}

/* "user nobody (uid 65534)", or "uid 1234" when the uid has no name. */
static void user_name(uid_t uid, char *buf, size_t len)
{
	struct passwd pw, *res = NULL;
	char tmp[1024];

	if (getpwuid_r(uid, &pw, tmp, sizeof(tmp), &res) == 0 && res && res->pw_name)
		snprintf(buf, len, "user %s (uid %u)", res->pw_name, (unsigned)uid);
	else
		snprintf(buf, len, "uid %u", (unsigned)uid);
}

const char *fb_seg_refusal(const char *name, int rc, char *buf, size_t len)
{
	char owner[96], me[96];
	struct stat st;

	/* Described as it is now: the refusal itself judged what was open. */
	if (fb_shm_lstat(name, &st) < 0) {
		snprintf(buf, len, "%s", rc == -FB_ENOTSEG ? "not a shared-memory segment" : strerror(-rc));
		return buf;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(buf, len, FB_SHM_DIR "%s is %s, not a shared-memory segment", name,
			 fb_file_kind(st.st_mode));
	} else if (st.st_uid != geteuid()) {
		user_name(st.st_uid, owner, sizeof(owner));
		user_name(geteuid(), me, sizeof(me));
		snprintf(buf, len, FB_SHM_DIR "%s belongs to %s, not to %s; mode %04o%s", name, owner,
			 me, (unsigned)(st.st_mode & 07777), rc == -EACCES ? ": permission denied" : "");
	} else if (st.st_mode & (S_IWGRP | S_IWOTH)) {
		snprintf(buf, len, FB_SHM_DIR "%s is writable by %s (mode %04o)", name,
			 st.st_mode & S_IWOTH ? "everyone" : "its group", (unsigned)(st.st_mode & 07777));
	} else {
		snprintf(buf, len, "%s", strerror(-rc));
	}
	return buf;
}

void fb_seg_default_name(char *buf, size_t len, const char *prefix)
{
	uint32_t r;

	/* Without getrandom (a kernel before 3.17, a seccomp filter), the
	 * clocks still differ between two starts; the broker's O_EXCL and
	 * its flock then keep a collision from going unnoticed. */
	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		r = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec ^ (uint32_t)fb_now_ns();
	}
	snprintf(buf, len, "/%s-%d-%08x", prefix, (int)getpid(), (unsigned)r);
}

const char *fb_file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFIFO:
		return "a FIFO";
	case S_IFDIR:
		return "a directory";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symbolic link";
	default:
		return "not a regular file";
	}
}

int fb_seg_unlink_same(const char *name, uint64_t dev, uint64_t ino)
{
	struct stat st;
	int fd = fb_shm_open(name, O_RDONLY, 0, &st);

	if (fd == -FB_ENOTSEG) {
		/* lstat, not open: a FIFO here was not made by us either way. */
		return -ESTALE;
	}
	if (fd < 0)
		return fd;
	close(fd);
	if ((uint64_t)st.st_dev != dev || (uint64_t)st.st_ino != ino)
		return -ESTALE;
	return fb_seg_unlink(name);
}

int fb_seg_name_check(const char *name)
{
	size_t n = strlen(name);

	if (n < 2 || n > FB_NAME_MAX || name[0] != '/')
		return -EINVAL;
	for (size_t i = 1; i < n; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-'))
			return -EINVAL;
	}
	if (strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
		return -EINVAL;
	return 0;
}

int fb_seg_name_canon(const char *in, char out[FB_NAME_MAX + 1])
{
	/* shm_open(3) users write "name" as often as "/name"; both mean the
	 * same object (/dev/shm/name), so both are accepted and the rest of
	 * the program sees the one canonical form. */
	int added = in[0] != '/';

	size_t n = strlen(in);

	out[0] = 0;
	if (n + (size_t)added > FB_NAME_MAX)
		return -EINVAL;
	out[0] = '/';
	memcpy(out + added, in, n + 1);
	if (fb_seg_name_check(out))
		return -EINVAL;
	return added;
}

int fb_seg_name_arg(const char *prog, const char *what, const char *in, char out[FB_NAME_MAX + 1])
{
	int rc = fb_seg_name_canon(in, out);

	if (rc < 0) {
		fb_err(prog, "invalid %s '%s': expected letters, digits, '.', '_' or '-' "
		       "(a leading '/' is optional), at most %d bytes", what, in, FB_NAME_MAX - 1);
		return -1;
	}
	if (rc == 1)
		fb_info(prog, "segment name '%s' taken as %s", in, out);
	return 0;
}

int fb_geom_init(struct fb_geom *g, uint32_t w, uint32_t h, uint32_t fmt,
		 uint32_t slots, uint32_t fps, uint64_t frames)
{
	uint64_t pg = page_size();

	if (w < 1 || w > FB_MAX_SIDE || h < 1 || h > FB_MAX_SIDE ||
	    !fb_pixfmt_name(fmt) || slots < 1 || slots > FB_MAX_SLOTS ||
	    fps < 1 || fps > FB_MAX_FPS || frames < 1 || frames > FB_MAX_FRAMES)
		return -EINVAL;
	memset(g, 0, sizeof(*g));
	g->width = w;
	g->height = h;
	g->pix_fmt = fmt;
	g->slot_count = slots;
	g->fps_num = fps;
	g->fps_den = 1;
	g->total_frames = frames;
	g->first_frame = 0;
	g->render_frames = frames;
	g->frame_bytes = fb_frame_bytes(fmt, w, h);
	g->slot_bytes = g->frame_bytes;
	g->slot_stride = align_up(g->slot_bytes, pg);
	g->data_offset = align_up(sizeof(struct fb_header), pg);
	/* Sides <= 16384 and slots <= 256 keep this far from 2^64, but the
	 * cap below is what keeps a request from eating the machine. */
	if (g->frame_bytes == 0 || g->slot_stride == 0 ||
	    g->slot_stride > (FB_MAX_SEGMENT - g->data_offset) / slots)
		return -EFBIG;
	g->segment_size = g->data_offset + g->slot_stride * slots;
	return 0;
}

int fb_geom_set_fps(struct fb_geom *g, uint32_t num, uint32_t den)
{
	if (num < 1 || den < 1 || den > FB_MAX_FPS_DEN || num > FB_MAX_FPS_NUM ||
	    num > (uint64_t)FB_MAX_FPS * den ||
	    fb_gcd_u64(num, den) != 1)
		return -EINVAL;
	g->fps_num = num;
	g->fps_den = den;
	return 0;
}

const char *fb_fps_str(char *buf, size_t len, uint32_t num, uint32_t den)
{
	if (den == 1)
		snprintf(buf, len, "%u", num);
	else
		snprintf(buf, len, "%u/%u", num, den);
	return buf;
}

uint32_t fb_fps_rounded(uint32_t num, uint32_t den)
{
	uint32_t r = den ? (uint32_t)(((uint64_t)num * 2 + den) / (2 * (uint64_t)den)) : 0;

	/* At least 1: a program that divides by it (fb_geometry.fps was an
	 * integer >= 1 before rates were fractions) must not divide by 0
	 * at 0.4 fps. */
	return r ? r : 1;
}

uint64_t fb_fps_frames_us(uint64_t frames, uint32_t num, uint32_t den)
{
	uint64_t q, r;

	if (num == 0)
		return UINT64_MAX;
	/* FRAMES * DEN * 10^6 / NUM overflows 64 bits for long renders at
	 * small rates: split FRAMES * DEN (< 2^64: frames <= 2^40, den <=
	 * 2^20) into whole seconds and a remainder below NUM. */
	if (den && frames > UINT64_MAX / den)
		return UINT64_MAX;
	q = frames * den / num;
	r = frames * den % num;
	if (q > (UINT64_MAX - 1000000) / 1000000)
		return UINT64_MAX;
	return q * 1000000 + r * 1000000 / num;
}

int fb_geom_set_format(struct fb_geom *g, uint32_t frame_format, uint64_t slot_bytes)
{
	uint64_t pg = page_size();

	if (!fb_frame_format_name(frame_format) || (frame_format == FB_FRAME_RAW && slot_bytes))
		return -EINVAL;
	if (frame_format == FB_FRAME_RAW)
		return 0;
	/* A PNG stores at worst each row (plus its filter byte) in 5-byte
	 * framed blocks of at most 64 KiB, plus its own headers. */
	if (slot_bytes == 0)
		slot_bytes = g->frame_bytes + g->height + g->frame_bytes / 8192 * 8 + 65536;
	if (slot_bytes > FB_MAX_SEGMENT)
		return -EFBIG;
	g->frame_format = frame_format;
	g->slot_bytes = slot_bytes;
	g->slot_stride = align_up(slot_bytes, pg);
	if (g->slot_stride == 0 || g->slot_stride > (FB_MAX_SEGMENT - g->data_offset) / g->slot_count)
		return -EFBIG;
	g->segment_size = g->data_offset + g->slot_stride * g->slot_count;
	return 0;
}

int fb_geom_set_range(struct fb_geom *g, uint64_t first, uint64_t render_frames)
{
	if (render_frames > FB_MAX_FRAMES || first > render_frames ||
	    g->total_frames > render_frames - first)
		return -EINVAL;
	g->first_frame = first;
	g->render_frames = render_frames;
	g->chunk = 1;
	return 0;
}

int fb_seg_validate(const struct fb_header *h, uint64_t file_size,
		    struct fb_geom *g, const char **why)
{
	struct fb_geom want;
	const char *dummy;

	if (!why)
		why = &dummy;
	if (file_size < sizeof(*h)) {
		*why = "segment smaller than its header";
		return -EPROTO;
	}
	if (h->magic != FB_MAGIC) {
		*why = "bad magic (not a framebroker segment)";
		return -EPROTO;
	}
	if (h->abi_version != FB_ABI_VERSION) {
		*why = "unsupported ABI version";
		return -EPROTO;
	}
	if (h->header_size != sizeof(*h)) {
		*why = "header size mismatch";
		return -EPROTO;
	}
	/* Recompute every derived field from the primary ones and demand
	 * equality: a corrupt stride or offset can then never reach mmap
	 * arithmetic. */
	if (fb_geom_init(&want, h->width, h->height, h->pix_fmt, h->slot_count,
			 1, h->total_frames) ||
	    fb_geom_set_fps(&want, h->fps_num, h->fps_den) ||
	    fb_geom_set_format(&want, h->frame_format,
			       h->frame_format == FB_FRAME_RAW ? 0 : h->slot_bytes) ||
	    h->slot_bytes != want.slot_bytes) {
		*why = "geometry out of range";
		return -EPROTO;
	}
	/* A chunk's frames lie inside its render; a whole render's range is
	 * the ring's own (fb_geom_init's defaults). */
	if (h->chunk > 1 ||
	    (h->chunk && fb_geom_set_range(&want, h->first_frame, h->render_frames)) ||
	    want.first_frame != h->first_frame || want.render_frames != h->render_frames) {
		*why = "frame range out of bounds";
		return -EPROTO;
	}
	if (h->frame_bytes != want.frame_bytes || h->slot_stride != want.slot_stride ||
	    h->data_offset != want.data_offset || h->segment_size != want.segment_size) {
		*why = "derived geometry inconsistent";
		return -EPROTO;
	}
	if (want.segment_size > file_size) {
		*why = "slots extend past the end of the segment";
		return -EPROTO;
	}
	if (h->broker_pid <= 0 || h->broker_start == 0) {
		*why = "bad broker pid";
		return -EPROTO;
	}
	*g = want;
	return 0;
}

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

	if (fb_seg_name_check(name))
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
	(void)fb_seg_unlink_same(name, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
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
	if (fb_seg_name_check(name)) {
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
	if (fb_seg_name_check(name)) {
		*why = "invalid segment name";
		return -EINVAL;
	}
	fd = fb_shm_open(name, O_RDWR, 0, &st);
	if (fd < 0)
		return fd;
	rc = fb_seg_check_owner(&st);
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

int fb_seg_unlink(const char *name)
{
	return shm_unlink(name) ? -errno : 0;
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
		rc = fb_seg_unlink_same(name, (uint64_t)st.st_dev, (uint64_t)st.st_ino);
		if (rc == -ESTALE)
			rc = -EPERM;
	}
	close(fd);
	free(h);
	return rc;
}

int fb_seg_unlink_mine(const struct fb_seg *seg)
{
	int rc = fb_seg_unlink_same(seg->name, seg->dev, seg->ino);

	return rc == -ESTALE ? -EPERM : rc;
}
