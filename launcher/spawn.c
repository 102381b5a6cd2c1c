/* spawn — fork/exec a child into the render's process group. */
#include "spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
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
		   int keep_fd, int err_fd)
{
	pid_t parent = getpid();
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		child_setup(pgid, parent, keep_fd);
		if (err_fd >= 0 && dup2(err_fd, STDERR_FILENO) < 0)
			_exit(127);
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
	return spawn(path, argv, NULL, pgid, keep_fd, -1);
}

pid_t fb_spawn_stderr(const char *path, char *const argv[], pid_t pgid, int err_fd)
{
	return spawn(path, argv, NULL, pgid, -1, err_fd);
}

pid_t fb_spawn_cmd(const char *file, char *const argv[], char *const envp[], pid_t pgid,
		   int keep_fd)
{
	return spawn(file, argv, envp, pgid, keep_fd, -1);
}
