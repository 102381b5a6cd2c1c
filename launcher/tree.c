/* tree — stop and continue fb-render's whole tree (tree.h). */
#include "tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* One process as /proc/PID/stat shows it. */
struct proc {
	pid_t pid, ppid, pgrp;
	char state;
	unsigned long long start; /* boot ticks: with the pid, one process */
	bool ours;                /* a descendant of fb-render */
};

/* PID's stat into P: 0, or -1 if it is gone. */
static int read_proc(pid_t pid, struct proc *p)
{
	char path[64], buf[1024], *s;
	long ppid, pgrp;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	/* "pid (comm) S ppid pgrp session tty tpgid flags minflt cminflt
	 * majflt cmajflt utime stime cutime cstime prio nice threads
	 * itrealvalue starttime": comm may hold anything, even ')'. */
	s = strrchr(buf, ')');
	if (!s || sscanf(s + 1, " %c %ld %ld %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d "
			 "%*d %*d %*d %llu", &p->state, &ppid, &pgrp, &p->start) != 4)
		return -1;
	p->pid = pid;
	p->ppid = (pid_t)ppid;
	p->pgrp = (pid_t)pgrp;
	p->ours = false;
	return 0;
}

static int by_pid(const void *a, const void *b)
{
	pid_t x = ((const struct proc *)a)->pid, y = ((const struct proc *)b)->pid;

	return (x > y) - (x < y);
}

/* Every process, sorted by pid, the descendants of fb-render marked: *N
 * of them (NULL and 0 if /proc cannot be read). */
static struct proc *scan_tree(size_t *n)
{
	DIR *d = opendir("/proc");
	struct proc *all = NULL, key;
	struct dirent *e;
	size_t cap = 0;
	bool grew = true;

	*n = 0;
	if (!d)
		return NULL;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		if (*n == cap) {
			size_t c = cap ? 2 * cap : 512;
			struct proc *t = realloc(all, c * sizeof(*t));

			if (!t)
				break; /* the rest next round */
			all = t;
			cap = c;
		}
		if (read_proc((pid_t)atol(e->d_name), &all[*n]) == 0)
			(*n)++;
	}
	closedir(d);
	if (!all)
		return NULL;
	qsort(all, *n, sizeof(*all), by_pid);
	while (grew) { /* close under "child of": as deep as the tree */
		grew = false;
		for (size_t i = 0; i < *n; i++) {
			struct proc *parent;

			if (all[i].ours)
				continue;
			key.pid = all[i].ppid;
			parent = bsearch(&key, all, *n, sizeof(*all), by_pid);
			if (all[i].ppid == getpid() || (parent && parent->ours)) {
				all[i].ours = true;
				grew = true;
			}
		}
	}
	return all;
}

/* SIG to PID if it is still the process that started at START (a pid
 * reused since the walk is somebody else's): through a pidfd, which names
 * one process for good, checked after it is opened.  0 or -1. */
static int signal_same(pid_t pid, unsigned long long start, int sig)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct proc now;
	int rc = -1;

	if (pfd < 0 && errno != ENOSYS)
		return -1; /* gone */
	if (read_proc(pid, &now) == 0 && now.start == start && now.state != 'Z')
		rc = pfd >= 0 ? (int)syscall(SYS_pidfd_send_signal, pfd, sig, NULL, 0)
			      : kill(pid, sig);
	if (pfd >= 0)
		close(pfd);
	return rc;
}

static bool recorded(const struct fb_tree_stop *s, pid_t pid, unsigned long long start)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->pid[i] == pid && s->start[i] == start)
			return true;
	return false;
}

static void record(struct fb_tree_stop *s, pid_t pid, unsigned long long start)
{
	if (s->n == s->cap) {
		size_t c = s->cap ? 2 * s->cap : 16;
		pid_t *p = realloc(s->pid, c * sizeof(*p));
		unsigned long long *t;

		if (!p)
			return; /* stopped, not continued by us: SIGCONT reaches it at the end (orphans) */
		s->pid = p;
		t = realloc(s->start, c * sizeof(*t));
		if (!t)
			return;
		s->start = t;
		s->cap = c;
	}
	s->pid[s->n] = pid;
	s->start[s->n++] = start;
}

void fb_tree_stop(struct fb_tree_stop *s, pid_t pgid)
{
	for (int round = 0; round < 16; round++) {
		size_t n, fresh = 0;
		struct proc *all = scan_tree(&n);

		for (size_t i = 0; i < n; i++) {
			struct proc *p = &all[i];

			/* The group had its SIGSTOP; one stopped already (by
			 * whoever) is left as it is, and so not continued. */
			if (!p->ours || (pgid > 0 && p->pgrp == pgid) || strchr("TtZX", p->state) ||
			    recorded(s, p->pid, p->start))
				continue;
			if (signal_same(p->pid, p->start, SIGSTOP) == 0) {
				record(s, p->pid, p->start);
				fresh++;
			}
		}
		free(all);
		/* One that forked before its stop took effect has a child
		 * the walk did not see: until a walk finds nobody new. */
		if (!fresh)
			return;
	}
}

void fb_tree_cont(struct fb_tree_stop *s)
{
	for (size_t i = 0; i < s->n; i++)
		signal_same(s->pid[i], s->start[i], SIGCONT);
	s->n = 0;
}

void fb_tree_free(struct fb_tree_stop *s)
{
	free(s->pid);
	free(s->start);
	*s = (struct fb_tree_stop){ 0 };
}
