/* spawn — fork/exec a child into the render's process group. */
#include "spawn.h"
#include "fb_args.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* In the child, between fork and exec: only async-signal-safe calls. */
static void child_setup(pid_t pgid, pid_t parent, int keep_fd)
{
	sigset_t none;
	int sig, tty;

	/* Both parent and child call setpgid, so the group exists before
	 * either goes on, whichever runs first. */
	setpgid(0, pgid);
	prctl(PR_SET_PDEATHSIG, SIGTERM);
	if (getppid() != parent) /* parent died before prctl */
		_exit(127);
	for (sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	/* No controlling terminal (see spawn.h).  Not being a session
	 * leader, TIOCNOTTY only drops our own tie to it: same session, same
	 * group.  Without one (cron, a pipe), open fails: nothing to drop. */
	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
	if (tty >= 0) {
		ioctl(tty, TIOCNOTTY);
		close(tty);
	}
	/* And should that fail: a runtime that keeps these ignored is not
	 * stopped by them either. */
	signal(SIGTTOU, SIG_IGN);
	signal(SIGTTIN, SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (keep_fd >= 0)
		fcntl(keep_fd, F_SETFD, 0);
}

/* "fb-render: cannot run PATH (errno N)\n" with write(2) only: between
 * fork and exec nothing that may allocate or lock is safe. */
static void report_exec_failure(const char *path, int err)
{
	char num[12];
	int i = (int)sizeof(num);

	num[--i] = '\0';
	do
		num[--i] = (char)('0' + err % 10);
	while ((err /= 10) > 0 && i > 0);
	(void)!write(STDERR_FILENO, "fb-render: cannot run ", 22);
	(void)!write(STDERR_FILENO, path, strlen(path));
	(void)!write(STDERR_FILENO, " (errno ", 8);
	(void)!write(STDERR_FILENO, num + i, strlen(num + i));
	(void)!write(STDERR_FILENO, ")\n", 2);
}

/* ENVP NULL: one of our programs, exec'd by path with our environment;
 * else a command found on PATH, with ENVP and the stdio of fb_spawn_cmd. */
static pid_t spawn(const char *path, char *const argv[], char *const envp[], pid_t pgid,
		   int keep_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_setup(pgid, parent, keep_fd);
		if (envp) {
			/* (Unless the descriptor to keep is that very one: a
			 * fb-render started with stdio closed.) */
			int null = keep_fd == STDIN_FILENO ? -2 : open("/dev/null", O_RDONLY);

			if (null == -1 || (null >= 0 && dup2(null, STDIN_FILENO) < 0) ||
			    (keep_fd != STDOUT_FILENO && dup2(STDERR_FILENO, STDOUT_FILENO) < 0)) {
				report_exec_failure(path, errno);
				_exit(127);
			}
			if (null > STDIN_FILENO)
				close(null);
			execvpe(path, argv, envp);
		} else {
			execv(path, argv);
		}
		report_exec_failure(path, errno);
		_exit(127);
	}
	setpgid(pid, pgid ? pgid : pid);
	return pid;
}

pid_t fb_spawn(const char *path, char *const argv[], pid_t pgid, int keep_fd)
{
	return spawn(path, argv, NULL, pgid, keep_fd);
}

pid_t fb_spawn_cmd(const char *file, char *const argv[], char *const envp[], pid_t pgid,
		   int keep_fd)
{
	return spawn(file, argv, envp, pgid, keep_fd);
}

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
