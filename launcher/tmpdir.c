/* tmpdir — the render's private directory, FB_TMPDIR (tmpdir.h). */
#include "tmpdir.h"
#include "fb_args.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

/* Directories this deep below the top are moved up to the top and emptied
 * on the next pass: a tree of any depth is removed holding at most this
 * many descriptors. */
#define MAX_DEPTH 32

int fb_tmpdir_base(char *base, size_t len, const char *prog)
{
	const char *env = getenv("TMPDIR");
	char real[PATH_MAX];
	struct stat st;

	if (!env || !*env)
		env = "/tmp";
	if (!realpath(env, real) || stat(real, &st) < 0) {
		fb_err(prog, "TMPDIR %s: %s", env, strerror(errno));
		return FB_EXIT_USAGE;
	}
	if (!S_ISDIR(st.st_mode) || access(real, W_OK | X_OK) < 0) {
		fb_err(prog, "TMPDIR %s: %s", env, S_ISDIR(st.st_mode) ? strerror(errno) : "not a directory");
		return FB_EXIT_USAGE;
	}
	/* "/fb-render-PID-XXXXXX" */
	if (strlen(real) + 40 >= len || strlen(real) + 40 >= PATH_MAX) {
		fb_err(prog, "TMPDIR %s: path too long", env);
		return FB_EXIT_USAGE;
	}
	snprintf(base, len, "%s", real);
	return 0;
}

int fb_tmpdir_make(struct fb_tmpdir *t, const char *base, const char *prog)
{
	t->fd = -1;
	snprintf(t->path, sizeof(t->path), "%s/fb-render-%d-XXXXXX", base, (int)getpid());
	if (!mkdtemp(t->path)) {
		int e = errno;
		/* $TMPDIR changed under us since the check, or is read-only:
		 * the environment's fault; no space or descriptors: ours. */
		bool env = e == ENOENT || e == ENOTDIR || e == EACCES || e == EPERM || e == EROFS ||
			   e == ELOOP || e == ENAMETOOLONG;

		fb_err(prog, "cannot make a private directory in %s: %s", base, strerror(e));
		t->path[0] = '\0';
		return env ? FB_EXIT_USAGE : FB_EXIT_RUNTIME;
	}
	t->fd = open(t->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	/* 0700 whatever the umask (mkdtemp applies it).  The lock says "in
	 * use" to fb_tmpdir_sweep until this process dies, whatever its pid
	 * namespace (a file system that has no flock: no sweep either). */
	if (t->fd < 0 || fchmod(t->fd, 0700) < 0 || setenv("FB_TMPDIR", t->path, 1) < 0 ||
	    (flock(t->fd, LOCK_EX | LOCK_NB) < 0 && errno != ENOLCK && errno != EOPNOTSUPP)) {
		fb_err(prog, "cannot set up %s: %s", t->path, strerror(errno));
		if (t->fd >= 0)
			close(t->fd);
		t->fd = -1;
		rmdir(t->path);
		t->path[0] = '\0';
		return FB_EXIT_RUNTIME;
	}
	return 0;
}

/* What removal needs to know of an entry, never following a symlink. */
struct entry {
	mode_t mode;
	dev_t dev;
	uint64_t mnt; /* mount id, if has_mnt: a bind mount of the same
		       * filesystem has the same dev, not the same mount */
	bool has_mnt;
};

/* NAME in DFD ("" and AT_EMPTY_PATH: DFD itself): 0 or -1 (errno). */
static int look(int dfd, const char *name, int flags, struct entry *e)
{
	struct statx sx;

	if (statx(dfd, name, flags | AT_SYMLINK_NOFOLLOW, STATX_TYPE | STATX_MODE | STATX_MNT_ID,
		  &sx) < 0)
		return -1;
	e->mode = sx.stx_mode;
	e->dev = makedev(sx.stx_dev_major, sx.stx_dev_minor);
	e->has_mnt = (sx.stx_mask & STATX_MNT_ID) != 0;
	e->mnt = sx.stx_mnt_id;
	return 0;
}

/* Passes over the tree when entries keep changing under the removal (a
 * process outside the render swapping names): then it gives up. */
#define MAX_PASSES 64

struct walk {
	int top;       /* the directory itself, where deep ones are moved */
	struct entry at; /* its mount: nothing mounted inside is entered */
	bool moved;    /* a deep directory was moved up: another pass */
	bool changed;  /* an entry changed between look and act: another pass */
	unsigned seq;  /* names for the moved ones */
	int err;       /* the first failure, as errno */
};

static void note(struct walk *w, int err)
{
	if (!w->err && err != ENOENT)
		w->err = err;
}

/* Move the directory NAME in DFD up to the top under a fresh name. */
static void move_up(struct walk *w, int dfd, const char *name)
{
	for (int tries = 0; tries < 1000; tries++) {
		char to[32];

		snprintf(to, sizeof(to), ".fb-deep-%u", w->seq++);
		if (renameat2(dfd, name, w->top, to, RENAME_NOREPLACE) == 0) {
			w->moved = true;
			return;
		}
		if (errno != EEXIST) {
			note(w, errno);
			return;
		}
	}
	note(w, EEXIST);
}

static void empty_dir(struct walk *w, int dfd, unsigned depth);

/* The errors of an act by NAME that mean NAME is no longer what was looked
 * at (swapped, replaced by a symlink): nothing was done; look again. */
static bool changed(int err)
{
	return err == ENOTDIR || err == EISDIR || err == ELOOP || err == ENOTEMPTY ||
	       err == EEXIST;
}

/* The directory NAME in DFD, opened without following anything and made
 * ours to read and empty (a child's read-only or unreadable one): every
 * check and change is made through the descriptor, never by the name
 * again, so a name swapped after the look changes nothing outside (a hard
 * link to a file elsewhere is never chmodded).  The descriptor, or -1. */
static int open_dir(struct walk *w, int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct entry st;

	if (fd < 0 && errno == EACCES) {
		/* Unreadable to us: a path-only descriptor needs no permission;
		 * its /proc/self/fd link names that very inode. */
		int p = openat(dfd, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		char via[40];

		if (p < 0)
			goto fail;
		snprintf(via, sizeof(via), "/proc/self/fd/%d", p);
		if (look(p, "", AT_EMPTY_PATH, &st) == 0 && chmod(via, (st.mode & 07777) | 0700) == 0)
			fd = openat(p, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		close(p);
	}
	if (fd < 0)
		goto fail;
	if (look(fd, "", AT_EMPTY_PATH, &st) < 0) {
		note(w, errno);
		close(fd);
		return -1;
	}
	if (st.dev != w->at.dev || (st.has_mnt && w->at.has_mnt && st.mnt != w->at.mnt)) {
		note(w, EXDEV); /* a mount point: leave it, and what it holds */
		close(fd);
		return -1;
	}
	if ((st.mode & 0700) != 0700 && fchmod(fd, (st.mode & 07777) | 0700) < 0) {
		note(w, errno);
		close(fd);
		return -1;
	}
	return fd;
fail:
	if (changed(errno))
		w->changed = true;
	else
		note(w, errno);
	return -1;
}

/* One entry of DFD: never followed (lstat semantics throughout), never
 * changed by name but for its removal. */
static void remove_entry(struct walk *w, int dfd, const char *name, unsigned depth)
{
	struct entry st;
	int sub;

	if (look(dfd, name, 0, &st) < 0) {
		note(w, errno);
		return;
	}
	if (!S_ISDIR(st.mode)) {
		if (unlinkat(dfd, name, 0) < 0) {
			if (changed(errno))
				w->changed = true;
			else
				note(w, errno);
		}
		return;
	}
	sub = open_dir(w, dfd, name);
	if (sub < 0)
		return;
	if (depth >= MAX_DEPTH) {
		close(sub);
		move_up(w, dfd, name);
		return;
	}
	empty_dir(w, sub, depth + 1);
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0) {
		if (changed(errno))
			w->changed = true;
		else
			note(w, errno);
	}
}

/* Remove what DFD holds; closes DFD. */
static void empty_dir(struct walk *w, int dfd, unsigned depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *e;

	if (!d) {
		note(w, errno);
		close(dfd);
		return;
	}
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, ".."))
			remove_entry(w, dirfd(d), e->d_name, depth);
	closedir(d);
}

/* Remove T's tree; the first failure, as errno, or 0. */
static int remove_tree(struct fb_tmpdir *t)
{
	struct walk w = { .top = t->fd };
	struct stat top, now;

	if (t->fd < 0)
		return 0;
	/* Through the descriptor: a child that renamed the directory, or put
	 * a symlink at its name, cannot point this anywhere else. */
	if (fstat(t->fd, &top) < 0 || look(t->fd, "", AT_EMPTY_PATH, &w.at) < 0 ||
	    fchmod(t->fd, 0700) < 0) {
		note(&w, errno);
	} else {
		unsigned passes = 0;

		do {
			/* A fresh open file description: each pass reads from
			 * the start. */
			int dfd = openat(t->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			w.moved = false;
			w.changed = false;
			if (dfd < 0) {
				note(&w, errno);
				break;
			}
			empty_dir(&w, dfd, 0);
		} while (w.moved || (w.changed && ++passes < MAX_PASSES));
		if (w.changed)
			note(&w, EBUSY); /* kept changing under us */
		/* Only if the name still names our directory. */
		if (fstatat(AT_FDCWD, t->path, &now, AT_SYMLINK_NOFOLLOW) < 0)
			note(&w, errno == ENOENT ? ESTALE : errno);
		else if (now.st_dev != top.st_dev || now.st_ino != top.st_ino)
			note(&w, ESTALE);
		else if (unlinkat(AT_FDCWD, t->path, AT_REMOVEDIR) < 0)
			note(&w, errno);
	}
	close(t->fd);
	t->fd = -1;
	return w.err;
}

void fb_tmpdir_remove(struct fb_tmpdir *t, const char *prog)
{
	int err;

	if (t->fd < 0)
		return;
	err = remove_tree(t);
	if (err)
		fb_warn(prog, "could not remove FB_TMPDIR %s: %s", t->path,
			err == ESTALE ? "it was moved or replaced"
			: err == EBUSY ? "its entries kept changing while it was removed"
			: err == EXDEV ? "something is mounted in it" : strerror(err));
}

/* Is NAME one of ours by its form, fb-render-PID-XXXXXX (mkdtemp's six)?
 * Its PID into *PID. */
static bool render_dir_name(const char *name, long *pid)
{
	const char *p = name + strlen("fb-render-");
	size_t digits = strspn(p, "0123456789"), tail;

	if (strncmp(name, "fb-render-", strlen("fb-render-")) != 0 || digits == 0 || digits > 9 ||
	    p[digits] != '-')
		return false;
	*pid = strtol(p, NULL, 10);
	p += digits + 1;
	tail = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789");
	return tail == 6 && p[tail] == '\0';
}

/* Does PID name a process here?  (Not proof of a live render: pids are
 * reused, and mean nothing across pid namespaces — but an fb-render of
 * before the lock, alive in ours, is left alone.) */
static bool pid_alive(long pid)
{
	return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

void fb_tmpdir_sweep(const char *base, const char *prog)
{
	int bfd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	time_t now = time(NULL);
	unsigned removed = 0;
	DIR *d;
	struct dirent *e;

	if (bfd < 0 || !(d = fdopendir(bfd))) {
		if (bfd >= 0)
			close(bfd);
		return; /* best effort: the render needs none of this */
	}
	while ((e = readdir(d)) != NULL && removed < FB_TMPDIR_SWEEP_MAX) {
		struct fb_tmpdir t = { .fd = -1 };
		struct stat st, now_st;
		long pid;

		if (!render_dir_name(e->d_name, &pid) || pid_alive(pid) ||
		    fstatat(bfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode) ||
		    st.st_uid != geteuid() || (st.st_mode & 07777) != 0700 ||
		    now - st.st_mtime < FB_TMPDIR_SWEEP_AGE_S)
			continue;
		t.fd = openat(bfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (t.fd < 0)
			continue;
		/* The very directory looked at (in a $TMPDIR without the sticky
		 * bit another user could swap the name in between).  Unlocked:
		 * its fb-render is dead (the lock went with it).  Held while it
		 * is removed, against a second sweeper. */
		if (fstat(t.fd, &now_st) < 0 || now_st.st_dev != st.st_dev ||
		    now_st.st_ino != st.st_ino || flock(t.fd, LOCK_EX | LOCK_NB) < 0 ||
		    (size_t)snprintf(t.path, sizeof(t.path), "%s/%s", base, e->d_name) >=
			    sizeof(t.path)) {
			close(t.fd);
			continue;
		}
		if (remove_tree(&t) == 0) {
			removed++;
			fb_debug(prog, "removed %s/%s, left by an fb-render that died", base,
				 e->d_name);
		}
	}
	closedir(d);
}
