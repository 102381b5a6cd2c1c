/* orphans — list fb-render's children, end the orphans left (orphans.h). */
#include "orphans.h"

#include <dirent.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Add the pids listed in FILE (space separated) to OUT; false if FILE
 * cannot be opened. */
static bool read_children_file(const char *file, pid_t *out, size_t max, size_t *n)
{
	FILE *f = fopen(file, "re");
	long pid;

	if (!f)
		return false;
	while (fscanf(f, "%ld", &pid) == 1) {
		if (*n < max)
			out[*n] = (pid_t)pid;
		(*n)++;
	}
	fclose(f);
	return true;
}

/* Without CONFIG_PROC_CHILDREN: every /proc/PID/stat whose ppid is us. */
static size_t scan_proc(pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	pid_t self = getpid();
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		char path[300], buf[512], *p;
		long ppid;
		FILE *f;
		size_t got;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		got = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		buf[got] = '\0';
		/* "pid (comm) S ppid ...": comm may hold anything, even ')'. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 1, " %*c %ld", &ppid) == 1 && ppid == self) {
			if (n < max)
				out[n] = (pid_t)atol(e->d_name);
			n++;
		}
	}
	closedir(d);
	return n;
}

size_t fb_list_children(pid_t *out, size_t max)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	size_t n = 0;
	bool have = false;

	if (!d)
		return scan_proc(out, max);
	while ((e = readdir(d)) != NULL) {
		char file[300];

		if (e->d_name[0] == '.')
			continue;
		snprintf(file, sizeof(file), "/proc/self/task/%s/children", e->d_name);
		have |= read_children_file(file, out, max, &n);
	}
	closedir(d);
	return have ? n : scan_proc(out, max);
}

static bool termed(const struct fb_orphans *o, pid_t pid)
{
	for (size_t i = 0; i < o->n; i++)
		if (o->termed[i] == pid)
			return true;
	return false;
}

void fb_orphans_step(struct fb_orphans *o, uint64_t now_ns, uint64_t grace_ns)
{
	pid_t kids[256];
	size_t n = fb_list_children(kids, sizeof(kids) / sizeof(kids[0]));
	bool late;

	if (!o->since_ns)
		o->since_ns = now_ns ? now_ns : 1;
	late = now_ns - o->since_ns >= grace_ns;
	if (n > sizeof(kids) / sizeof(kids[0]))
		n = sizeof(kids) / sizeof(kids[0]); /* the rest next step */
	for (size_t i = 0; i < n; i++) {
		if (late) {
			kill(kids[i], SIGKILL);
			o->killed++;
			continue;
		}
		if (termed(o, kids[i]))
			continue;
		kill(kids[i], SIGTERM);
		kill(kids[i], SIGCONT);
		if (o->n == o->cap) {
			size_t cap = o->cap ? 2 * o->cap : 16;
			pid_t *t = realloc(o->termed, cap * sizeof(*t));

			if (!t) /* it got its SIGTERM; forgetting means another */
				continue;
			o->termed = t;
			o->cap = cap;
		}
		o->termed[o->n++] = kids[i];
	}
}

void fb_orphans_free(struct fb_orphans *o)
{
	free(o->termed);
	*o = (struct fb_orphans){ 0 };
}
