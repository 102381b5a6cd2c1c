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

/*
 * Start time, state letter and kernel flags of PID from /proc/PID/stat
 * (STATE and FLAGS may be NULL).  0, -ESRCH if
 * there is no such process, or another -errno: a failed read (out of
 * descriptors, say) proves nothing about the process, and callers must
 * not take it for a death.
 */
static int proc_stat(pid_t pid, uint64_t *start, char *state, unsigned long *flags)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	if (n < 0) {
		int e = errno;

		close(fd);
		return e == ESRCH ? -ESRCH : -e; /* exited between open and read */
	}
	close(fd);
	buf[n] = '\0';
	/* comm (field 2) may hold spaces and parentheses: skip to the last ')'. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ')
		return -EIO;
	/* p+2 is field 3 (state); the flags are field 9, the start time 22. */
	p += 2;
	if (state)
		*state = *p;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
		if (p && field + 1 == 9 && flags)
			*flags = strtoul(p, NULL, 10);
	}
	if (!p)
		return -EIO;
	*start = strtoull(p, NULL, 10);
	return 0;
}

uint64_t fb_proc_start_time(pid_t pid)
{
	uint64_t start = 0;

	return proc_stat(pid, &start, NULL, NULL) == 0 ? start : 0;
}

char fb_proc_state(pid_t pid)
{
	uint64_t start;
	char state = '?';

	return proc_stat(pid, &start, &state, NULL) == 0 ? state : '?';
}

bool fb_proc_kernel_thread(pid_t pid)
{
	unsigned long flags = 0;
	uint64_t start;

	return proc_stat(pid, &start, NULL, &flags) == 0 && (flags & 0x00200000ul) != 0;
}

int fb_pidfd_open(pid_t pid, uint64_t start)
{
	uint64_t now = 0;
	int fd, rc;

	if (pid <= 0)
		return -ESRCH;
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd < 0 && errno == ENOSYS)
		return -ENOSYS;
	if (fd < 0)
		return -errno;
	rc = proc_stat(pid, &now, NULL, NULL);
	if (rc || now != start) {
		close(fd);
		return rc ? rc : -ESRCH; /* only a read start time that differs is "gone" */
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
		uint64_t now = 0;

		if (pid <= 0)
			return 0;
		rc = proc_stat(pid, &now, &state, NULL);
		if (rc == -ESRCH || (rc == 0 && now != start))
			return 0;
		return rc != 0 || (state != 'Z' && state != 'X'); /* unreadable: alive */
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
