/*
 * fb_shm — segment names and the object at a name: the one way to open one
 * (fb_shm_open: nothing but a regular file is ever opened), whose it is and
 * what to say when it is refused, default names, and unlinking only the
 * very object one means.  Nothing here reads a segment's contents: that is
 * fb_segment.c (creation, attachment), which uses this file, never the
 * reverse.
 */
#include "fb_shm.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int fb_shm_lstat(const char *name, struct stat *st)
{
	char path[sizeof(FB_SHM_DIR) + FB_NAME_MAX + 1];

	if (fb_shm_name_check(name))
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

int fb_shm_check_owner(const struct stat *st)
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

const char *fb_shm_refusal(const char *name, int rc, char *buf, size_t len)
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

void fb_shm_default_name(char *buf, size_t len, const char *prefix)
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

int fb_shm_unlink_same(const char *name, uint64_t dev, uint64_t ino)
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
	return fb_shm_unlink(name);
}

int fb_shm_name_check(const char *name)
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

int fb_shm_name_canon(const char *in, char out[FB_NAME_MAX + 1])
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
	if (fb_shm_name_check(out))
		return -EINVAL;
	return added;
}

int fb_shm_name_arg(const char *prog, const char *what, const char *in, char out[FB_NAME_MAX + 1])
{
	int rc = fb_shm_name_canon(in, out);

	if (rc < 0) {
		fb_err(prog, "invalid %s '%s': expected letters, digits, '.', '_' or '-' "
		       "(a leading '/' is optional), at most %d bytes", what, in, FB_NAME_MAX - 1);
		return -1;
	}
	if (rc == 1)
		fb_info(prog, "segment name '%s' taken as %s", in, out);
	return 0;
}

int fb_shm_unlink(const char *name)
{
	return shm_unlink(name) ? -errno : 0;
}
