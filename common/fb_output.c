/* fb_output — refuse an output that would destroy an input or a segment. */
#include "fb_output.h"
#include "fb_segment.h"
#include "fb_util.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Follow PATH while it is a symlink (a dangling one included), as open's
 * O_CREAT would, into OUT: where the file is or would be.  Stops at 40
 * links (ELOOP) or when a link does not fit. */
static void final_path(const char *path, char *out, size_t len)
{
	char link[PATH_MAX], dir[PATH_MAX];

	snprintf(out, len, "%s", path);
	for (int i = 0; i < 40; i++) {
		struct stat st;
		ssize_t n;
		int w;

		if (lstat(out, &st) < 0 || !S_ISLNK(st.st_mode))
			return;
		n = readlink(out, link, sizeof(link) - 1);
		if (n < 0)
			return;
		link[n] = '\0';
		snprintf(dir, sizeof(dir), "%s", out);
		w = link[0] == '/' ? snprintf(out, len, "%s", link)
				   : snprintf(out, len, "%s/%s", dirname(dir), link);
		if (w < 0 || (size_t)w >= len)
			return;
	}
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Does the regular file PATH start with the segment magic? */
static bool has_magic(const char *path)
{
	uint64_t magic = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;
	yes = fb_pread_all(fd, &magic, sizeof(magic), 0) == 0 && magic == FB_MAGIC;
	close(fd);
	return yes;
}

int fb_output_check(const char *output, const struct fb_output_input *inputs, size_t n,
		    const char *seg_name, char *why, size_t len)
{
	char final[PATH_MAX], dir[PATH_MAX];
	struct stat out, st, shm;
	bool have_shm = stat(FB_SHM_DIR, &shm) == 0;

	if (strcmp(output, "-") == 0)
		return 0;
	if (stat(output, &out) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (inputs[i].path && stat(inputs[i].path, &st) == 0 && same_file(&st, &out)) {
				snprintf(why, len, "it is %s %s (the same file): writing would destroy it",
					 inputs[i].what, inputs[i].path);
				return -1;
			}
		}
		if (seg_name && fb_shm_lstat(seg_name, &st) == 0 && same_file(&st, &out)) {
			snprintf(why, len, "it is the render's own segment %s", seg_name);
			return -1;
		}
		if (have_shm && out.st_dev == shm.st_dev) {
			snprintf(why, len, "it is in " FB_SHM_DIR ", where every file is some process's "
				 "shared memory (a render's segment, perhaps)");
			return -1;
		}
		if (S_ISREG(out.st_mode) && has_magic(output)) {
			snprintf(why, len, "it is a framebroker segment");
			return -1;
		}
		return 0;
	}
	/* Not there (yet): judge the directory it would be created in. */
	final_path(output, final, sizeof(final));
	snprintf(dir, sizeof(dir), "%s", final);
	if (have_shm && stat(dirname(dir), &st) == 0 && st.st_dev == shm.st_dev) {
		const char *base = strrchr(final, '/');

		if (seg_name && same_file(&st, &shm) && base && strcmp(base, seg_name) == 0)
			snprintf(why, len, "it is the render's own segment %s", seg_name);
		else
			snprintf(why, len, "it would be created in " FB_SHM_DIR ", where every name is "
				 "some process's shared memory, or may become one (a render's segment)");
		return -1;
	}
	return 0;
}
