/* fb_proc — (pid, start time) identities and pidfds. */
#include "fb_proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* Start time and state letter of PID from /proc/PID/stat; 0 if unreadable. */
static uint64_t proc_stat(pid_t pid, char *state)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return 0;
	/* p+2 is field 3 (state); the start time is field 22. */
	p += 2;
	if (state)
		*state = *p;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (p)
		start = strtoull(p, NULL, 10);
	return start;
}

uint64_t fb_proc_start_time(pid_t pid)
{
	return proc_stat(pid, NULL);
}

int fb_pidfd_open(pid_t pid, uint64_t start)
{
	int fd;

	if (pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ENOSYS)
		return -ENOSYS;
	if (fd < 0)
		return -errno;
	if (fb_proc_start_time(pid) != start) {
		close(fd);
		return -ESRCH;
	}
	return fd;
}

int fb_proc_alive(pid_t pid, uint64_t start)
{
	struct pollfd p;
	int fd = fb_pidfd_open(pid, start);
	char state = '?';
	int rc;

	if (fd == -ENOSYS) {
		/* No pidfds (old kernel, valgrind): /proc alone.  A zombie
		 * keeps its stat line, so its state letter decides. */
		if (pid <= 0 || proc_stat(pid, &state) != start)
			return 0;
		return state != 'Z' && state != 'X';
	}
	if (fd < 0)
		return fd == -ESRCH ? 0 : 1; /* unknown errors: assume alive */
	/* A zombie still has /proc/PID/stat; the pidfd polls readable once
	 * the process has exited, zombie or not. */
	p.fd = fd;
	p.events = POLLIN;
	rc = poll(&p, 1, 0);
	close(fd);
	return rc == 0;
}
