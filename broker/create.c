/*
 * create.c — fb-broker's segment: created exclusively, and a stale one (its
 * broker dead, or killed while creating it) replaced by exactly one of the
 * brokers that may find it at once.  A live broker's segment, another
 * user's, or what is not a segment at all is refused, with one line
 * saying what sits at the name.
 */
#include "broker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/*
 * NAME exists and its broker is dead: unlink and create it again.  Two
 * brokers may find the same stale segment; an exclusive flock on the old
 * object, and a check that the name still names that object, let exactly
 * one of them replace it.  Returns 0, -EAGAIN (the name changed under us:
 * look again) or -EEXIST (another broker is replacing it right now).
 */
static int replace_stale(const char *name, const struct fb_geom *g, struct fb_seg **seg)
{
	struct stat held, now;
	int fd = fb_shm_open(name, O_RDWR, 0, &held), fd2, rc;

	if (fd < 0)
		return fd == -ENOENT ? -EAGAIN : fd;
	if (held.st_uid != geteuid()) { /* another user's, stale or not: not ours to remove */
		close(fd);
		return -EPERM;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		close(fd);
		return -EEXIST;
	}
	fd2 = fb_shm_open(name, O_RDONLY, 0, &now);
	rc = fd2 >= 0 && held.st_dev == now.st_dev && held.st_ino == now.st_ino;
	if (fd2 >= 0)
		close(fd2);
	/* Judge again, now that nobody can be creating or replacing this very
	 * object (creators hold its flock until it names them): it may be a
	 * winner's fresh segment rather than the stale one we saw. */
	if (rc) {
		int32_t owner;
		int alive = fb_seg_owner_alive_fd(fd, &owner);

		rc = alive == 0 || alive == -EAGAIN;
	}
	/* Only the very object we judged: never a name that now names
	 * another render's segment. */
	if (!rc || fb_shm_unlink_same(name, (uint64_t)held.st_dev, (uint64_t)held.st_ino)) {
		close(fd);
		return -EAGAIN;
	}
	rc = fb_seg_create(name, g, seg);
	close(fd); /* releases the flock: latecomers now see our segment */
	return rc == -EEXIST ? -EAGAIN : rc;
}

/* What sits at NAME is not ours to take (not a regular file, another
 * user's): say what it is; -EEXIST makes it exit 2. */
static int refused(const char *name, int rc)
{
	char why[FB_NAME_MAX + 256];

	fb_err(PROG, "segment %s: %s; remove it or choose another --name", name,
	       fb_shm_refusal(name, rc, why, sizeof(why)));
	return -EEXIST;
}

/* One attempt at creating NAME: -EAGAIN to look again. */
static int create_once(const char *name, const struct fb_geom *g, struct fb_seg **seg)
{
	int32_t owner;
	bool abandoned;
	int rc = fb_seg_create(name, g, seg);

	if (rc != -EEXIST)
		return rc;
	/* A creator writes its identity microseconds after shm_open: wait a
	 * little for it before calling the object abandoned. */
	for (int i = 0; i < 50 && (rc = fb_seg_owner_alive(name, &owner)) == -EAGAIN; i++)
		usleep(20 * 1000);
	if (rc == 1) {
		fb_err(PROG, "segment %s already exists and its broker (pid %d) is alive",
		       name, (int)owner);
		return -EEXIST;
	}
	if (rc < 0 && rc != -EAGAIN && !fb_shm_refused(rc)) {
		fb_err(PROG, "segment %s already exists and is not a framebroker segment of "
		       "this version; remove /dev/shm%s if it is stale", name, name);
		return -EEXIST;
	}
	if (rc != -EAGAIN && rc != 0)
		return refused(name, rc);
	abandoned = rc == -EAGAIN;
	rc = replace_stale(name, g, seg);
	if (rc == 0 && abandoned)
		fb_warn(PROG, "replaced abandoned segment %s (its creation never finished)",
		       name);
	else if (rc == 0)
		fb_warn(PROG, "replaced stale segment %s (its broker, pid %d, is gone)", name,
		       (int)owner);
	else if (rc == -EEXIST)
		fb_err(PROG, "segment %s is held by a live broker (one in another pid namespace, "
		       "or one replacing it right now)", name);
	else if (fb_shm_refused(rc))
		return refused(name, rc);
	return rc;
}

int broker_create(const char *name, const struct fb_geom *g, struct fb_seg **seg)
{
	for (int attempt = 0; attempt < 5; attempt++) {
		int rc = create_once(name, g, seg);

		if (rc != -EAGAIN)
			return rc;
	}
	fb_err(PROG, "segment %s keeps changing under us; giving up", name);
	return -EEXIST;
}
