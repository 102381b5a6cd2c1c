/* signals — fb-render's signalfd, its wait, and Ctrl-Z (signals.h). */
#include "signals.h"
#include "fb_util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define PROG "fb-render"

/* Every signal whose default action ends fb-render and that it can take:
 * each one ends the render like SIGTERM (128+N), so the cleanup — the
 * segment, every child, FB_TMPDIR — is never skipped by a default death.
 * Not the faults (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP): those
 * are raised by our own code, and the kernel delivers them blocked or
 * not.  SIGPIPE is ignored instead (a write to a closed stderr is EPIPE). */
static void add_stop_signals(sigset_t *set)
{
	static const int sigs[] = { SIGINT,    SIGTERM, SIGHUP,  SIGQUIT, SIGUSR1,
				    SIGUSR2,   SIGALRM, SIGVTALRM, SIGPROF, SIGXCPU,
				    SIGXFSZ,   SIGPWR,  SIGSTKFLT, SIGIO,   SIGSYS };

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(set, sigs[i]);
	for (int sig = SIGRTMIN; sig <= SIGRTMAX; sig++)
		sigaddset(set, sig);
}

int signals_open(void)
{
	sigset_t set, blocked;
	int sfd;

	/* Signals are taken synchronously in the supervisor's loop; blocking
	 * them first means none is lost while children start.  Children
	 * unblock them (spawn.c). */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	add_stop_signals(&set);
	sigaddset(&set, SIGTSTP); /* Ctrl-Z: signals_job_stop() */
	sigaddset(&set, SIGCONT); /* blocking it only defers the notice */
	/* SIGTTOU blocked too, and never taken: a blocked SIGTTOU counts as
	 * ignored for the terminal's job-control check, so in the background
	 * with `stty tostop` our own lines (a warning, "wrote") are written
	 * rather than stopping fb-render alone while its children run on
	 * unsupervised — as the children's own lines are (spawn.h). */
	blocked = set;
	sigaddset(&blocked, SIGTTOU);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (sfd < 0) {
		fb_err(PROG, "signalfd: %s", strerror(errno));
		return -1;
	}
	signal(SIGPIPE, SIG_IGN);
	return sfd;
}

int signals_wait(int sfd, int fd, int timeout_ms, bool *readable)
{
	struct pollfd pf[2] = { { .fd = sfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
	struct signalfd_siginfo si;

	if (readable)
		*readable = false;
	if (poll(pf, 2, timeout_ms) < 0) {
		if (errno != EINTR) {
			fb_err(PROG, "poll: %s", strerror(errno));
			usleep((useconds_t)timeout_ms * 1000); /* no busy loop */
		}
		return 0;
	}
	if (readable)
		*readable = fd >= 0 && (pf[1].revents & (POLLIN | POLLHUP | POLLERR));
	if ((pf[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}

/* The render's group is not the terminal's, so the terminal stopped only
 * fb-render.  Stop the group and every descendant that left it
 * (fb_tree_stop), then ourselves as the terminal asked (the default action
 * of SIGTSTP, so the shell sees a job stopped by it); once continued,
 * continue them all.  In an orphaned process group the kernel discards the
 * stop: the group is continued at once. */
void signals_job_stop(pid_t pgid, struct fb_tree_stop *tree, struct status *status)
{
	sigset_t tstp;

	if (pgid > 0)
		killpg(pgid, SIGSTOP);
	/* And what left the group (a browser launched detached). */
	fb_tree_stop(tree, pgid);
	status_break_line(status);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP); /* pending: it is blocked */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL); /* delivered here: we stop */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	if (pgid > 0)
		killpg(pgid, SIGCONT);
	fb_tree_cont(tree);
}
