/*
 * fb_plan — the work directory of a segmented render (fb_plan.h): naming a
 * segment, recording a finished one (fb-encoder), opening or making the
 * directory, writing a new plan and removing it all after the join
 * (fb-render).  Reading and checking a plan is fb_plan_load.c's.  Every
 * name is opened relative to the directory's descriptor, never following
 * a symlink: the directory was checked once, its entries are input.
 */
#include "fb_plan.h"
#include "fb_sha256.h"
#include "fb_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Fill WHY and evaluate to the negative errno E. */
#define FAIL(e, ...) (snprintf(why, why_len, __VA_ARGS__), -(e))

bool fb_plan_ext(const char *output, char ext[FB_PLAN_EXT_MAX + 1])
{
	const char *base = strrchr(output, '/'), *dot;
	size_t n;

	base = base ? base + 1 : output;
	dot = strrchr(base, '.');
	if (!dot || dot == base)
		return false;
	n = strlen(dot + 1);
	if (n == 0 || n > FB_PLAN_EXT_MAX ||
	    strspn(dot + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != n)
		return false;
	memcpy(ext, dot + 1, n + 1);
	return true;
}

uint64_t fb_plan_segment_end(uint64_t first, uint64_t a, uint64_t b, uint64_t len)
{
	uint64_t half = len / 2, end;

	end = len - first % len >= b - first ? b : first + (len - first % len);
	if (first == a && end < b && end - first < half) /* a short first piece */
		end = len >= b - end ? b : end + len;
	if (end < b && b - end < half) /* a short last piece */
		end = b;
	return end;
}

int fb_plan_segment_name(char *buf, size_t len, uint64_t first, uint64_t end, const char *ext,
			 bool part)
{
	int w = snprintf(buf, len, "seg-%010" PRIu64 "-%010" PRIu64 "%s.%s", first, end,
			 part ? ".part" : "", ext);

	return w < 0 || (size_t)w >= len ? -ENAMETOOLONG : 0;
}

bool fb_plan_segment_parse(const char *name, const char *ext, uint64_t *first, uint64_t *end,
			   bool *part)
{
	char want[64];
	char *p;

	if (strncmp(name, "seg-", 4) != 0 || name[4] < '0' || name[4] > '9')
		return false;
	*first = strtoull(name + 4, &p, 10);
	if (*p != '-' || p[1] < '0' || p[1] > '9')
		return false;
	*end = strtoull(p + 1, &p, 10);
	*part = strncmp(p, ".part.", 6) == 0;
	/* The round trip: zero padding, no sign, no overflow, EXT exactly. */
	return fb_plan_segment_name(want, sizeof(want), *first, *end, ext, *part) == 0 &&
	       strcmp(want, name) == 0;
}

/* fsync FD and hash it from its start: its size, or -errno with WHY. */
static int64_t sync_and_hash(int fd, const char *name, char hex[FB_SHA256_HEX], char *why,
			     size_t why_len)
{
	struct stat st;
	int64_t got;

	if (fstat(fd, &st) < 0)
		return FAIL(errno, "%s: %s", name, strerror(errno));
	if (!S_ISREG(st.st_mode) || st.st_uid != geteuid())
		return FAIL(EPERM, "%s: not a regular file of ours", name);
	if (fsync(fd) < 0)
		return FAIL(errno, "fsync %s: %s", name, strerror(errno));
	got = fb_sha256_fd(fd, hex);
	if (got < 0)
		return FAIL(-got, "reading %s: %s", name, strerror((int)-got));
	if (got != st.st_size) /* someone writes it still: not finished */
		return FAIL(EIO, "%s changed size while hashed", name);
	return got;
}

/* Append LINE to DIR_FD's plan in one write(2), then fsync. */
static int append_line(int dir_fd, const char *line, char *why, size_t why_len)
{
	int fd = openat(dir_fd, FB_PLAN_FILE, O_WRONLY | O_APPEND | O_NOFOLLOW | O_CLOEXEC);
	size_t len = strlen(line);
	struct stat st;
	ssize_t w;
	int e = 0;

	if (fd < 0)
		return FAIL(errno, "opening the plan: %s", strerror(errno));
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()) {
		close(fd);
		return FAIL(EPERM, "the plan is not a regular file of ours");
	}
	/* One write on O_APPEND: the line lands whole at the end or, if we
	 * die inside it, torn at the end, where a load ignores it. */
	do
		w = write(fd, line, len);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		e = FAIL(errno, "appending to the plan: %s", strerror(errno));
	else if ((size_t)w != len)
		e = FAIL(EIO, "appending to the plan: a short write (%zd of %zu bytes)", w, len);
	else if (fsync(fd) < 0)
		e = FAIL(errno, "fsync the plan: %s", strerror(errno));
	close(fd);
	return e;
}

int fb_plan_record(int dir_fd, uint64_t first, uint64_t end, const char *ext, char *why,
		   size_t why_len)
{
	char part[64], final[64], hex[FB_SHA256_HEX], line[160];
	int64_t bytes;
	int fd;

	if (first >= end || strlen(ext) > FB_PLAN_EXT_MAX ||
	    fb_plan_segment_name(part, sizeof(part), first, end, ext, true) ||
	    fb_plan_segment_name(final, sizeof(final), first, end, ext, false))
		return FAIL(EINVAL, "segment %" PRIu64 ":%" PRIu64 ".%s: no such segment", first, end,
			    ext);
	fd = openat(dir_fd, part, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return FAIL(errno, "%s: %s", part, strerror(errno));
	bytes = sync_and_hash(fd, part, hex, why, why_len);
	close(fd);
	if (bytes < 0)
		return (int)bytes;
	if (renameat(dir_fd, part, dir_fd, final) < 0)
		return FAIL(errno, "renaming %s: %s", part, strerror(errno));
	/* The new name is durable before the line that vouches for it. */
	if (fsync(dir_fd) < 0)
		return FAIL(errno, "fsync the work directory: %s", strerror(errno));
	snprintf(line, sizeof(line), "segment %" PRIu64 " %" PRIu64 " %" PRId64 " %s\n", first, end,
		 bytes, hex);
	return append_line(dir_fd, line, why, why_len);
}

int fb_plan_dir_open(const char *path, bool create, bool *made, char *why, size_t why_len)
{
	struct stat st;
	int fd;

	*made = false;
	if (lstat(path, &st) < 0) {
		if (errno != ENOENT || !create)
			return FAIL(errno, "cannot use the work directory %s: %s", path, strerror(errno));
		if (mkdir(path, 0700) < 0)
			return FAIL(errno, "cannot make the work directory %s: %s", path,
				    strerror(errno));
		*made = true;
	}
	fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || (errno == ENOTDIR && lstat(path, &st) == 0 &&
					   S_ISLNK(st.st_mode))))
		return FAIL(ELOOP, "the work directory %s is a symlink", path);
	if (fd < 0 && errno == ENOTDIR)
		return FAIL(ENOTDIR, "the work directory %s is not a directory", path);
	if (fd < 0)
		return FAIL(errno, "cannot open the work directory %s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0) {
		int e = errno;

		close(fd);
		return FAIL(e, "%s: %s", path, strerror(e));
	}
	if (st.st_uid != geteuid() || (st.st_mode & 022)) {
		close(fd);
		return FAIL(EPERM, "the work directory %s is %s", path,
			    st.st_uid != geteuid() ? "not ours" : "writable by others");
	}
	return fd;
}

int fb_plan_exists(int dir_fd)
{
	struct stat st;

	if (fstatat(dir_fd, FB_PLAN_FILE, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

DIR *fb_plan_list(int dir_fd)
{
	int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC), e;
	DIR *d = fd < 0 ? NULL : fdopendir(fd);

	if (!d && fd >= 0) {
		e = errno;
		close(fd);
		errno = e;
	}
	return d;
}

int fb_plan_dir_empty(int dir_fd)
{
	DIR *d = fb_plan_list(dir_fd);
	struct dirent *de;
	int e = 1;

	if (!d)
		return -errno;
	errno = 0;
	while (e == 1 && (de = readdir(d)))
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0 &&
		    strcmp(de->d_name, FB_PLAN_NEW) != 0)
			e = 0;
	if (e == 1 && errno)
		e = -errno;
	closedir(d);
	return e;
}

int fb_plan_write(int dir_fd, const char *render, char *why, size_t why_len)
{
	char text[FB_PLAN_LINE_MAX + 64];
	int fd, e = 0, w = snprintf(text, sizeof(text), FB_PLAN_MAGIC "\n%s\n", render);

	if (w < 0 || (size_t)w >= sizeof(text) || strncmp(render, "render ", 7) != 0 ||
	    strchr(render, '\n'))
		return FAIL(EINVAL, "the render line is malformed or too long");
	/* Written aside, then linked into place: a plan is whole or absent.
	 * A disk that fills (or a kill) mid-write leaves no empty plan that
	 * every later --resume would refuse.  A plan.new left by a killed
	 * writer is ours (the caller holds the directory's lock). */
	if (unlinkat(dir_fd, FB_PLAN_NEW, 0) < 0 && errno != ENOENT)
		return FAIL(errno, "cannot remove a stale %s: %s", FB_PLAN_NEW, strerror(errno));
	fd = openat(dir_fd, FB_PLAN_NEW, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return FAIL(errno, "cannot create the plan: %s", strerror(errno));
	e = fb_write_all(fd, text, (size_t)w);
	if (e)
		e = FAIL(-e, "writing the plan: %s", strerror(-e));
	else if (fsync(fd) < 0)
		e = FAIL(errno, "fsync the plan: %s", strerror(errno));
	close(fd);
	/* link(2), not rename(2): it never replaces a plan already there. */
	if (!e && linkat(dir_fd, FB_PLAN_NEW, dir_fd, FB_PLAN_FILE, 0) < 0)
		e = FAIL(errno, "cannot place the plan: %s", strerror(errno));
	unlinkat(dir_fd, FB_PLAN_NEW, 0); /* placed or failed: gone either way */
	if (!e && fsync(dir_fd) < 0)
		e = FAIL(errno, "fsync the work directory: %s", strerror(errno));
	return e;
}

/* Remove every segment file of DIR_FD (extension EXT) but directories:
 * finished or not (a .part one of an ffmpeg stopped), none recorded.  Only
 * names exactly ours: a file that merely begins with "seg-" is not. */
static int remove_segments(int dir_fd, const char *ext)
{
	uint64_t first, end;
	bool part;
	DIR *d = fb_plan_list(dir_fd);
	struct dirent *de;
	int e = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (fb_plan_segment_parse(de->d_name, ext, &first, &end, &part) &&
		    de->d_type != DT_DIR &&
		    unlinkat(dir_fd, de->d_name, 0) < 0 && errno != ENOENT)
			e = -errno;
	closedir(d);
	return e;
}

int fb_plan_remove(int dir_fd, const char *path, const char *ext, char *why, size_t why_len)
{
	int e = remove_segments(dir_fd, ext);

	if (e)
		return FAIL(-e, "removing the segments in %s: %s", path, strerror(-e));
	if (unlinkat(dir_fd, FB_PLAN_FILE, 0) < 0 && errno != ENOENT)
		return FAIL(errno, "removing %s/plan: %s", path, strerror(errno));
	if (unlinkat(dir_fd, FB_PLAN_NEW, 0) < 0 && errno != ENOENT)
		return FAIL(errno, "removing %s/%s: %s", path, FB_PLAN_NEW, strerror(errno));
	if (rmdir(path) < 0)
		return FAIL(errno, "removing %s: %s", path,
			    errno == ENOTEMPTY || errno == EEXIST ? "it holds files not ours"
								  : strerror(errno));
	return 0;
}
