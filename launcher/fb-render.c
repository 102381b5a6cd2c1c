/*
 * fb-render — the main job in one command.  It checks every option before
 * anything is created, then starts fb-broker, waits until the segment exists,
 * starts fb-encoder and K fb-producer processes, and supervises them until
 * the output is complete.  Every child lives in one process group and has a
 * parent-death signal; fb-render is a child subreaper, so even ffmpeg (the
 * encoder's child) is reaped here.  On every path — success, a failed child,
 * SIGINT/SIGTERM — every process is gone and the segment unlinked before
 * fb-render exits.
 *
 * This file is the supervisor: signals, stopping, the broker watch, the
 * loop and main.  The options and preflight are options.c; starting and
 * reaping the children is children.c (render.h: what the two share).
 */
#include "render.h"
#include "fb_params.h"
#include "fb_proc.h"
#include "fb_segment.h"
#include "fb_stats.h"
#include "fb_args.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <poll.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

/* Ask everything to stop: the broker aborts the segment, which wakes and
 * stops producers and encoder (the encoder closes ffmpeg's input so the file
 * written so far is finished).  Without a broker, signal the group. */
static void begin_stop(struct render *r)
{
	if (r->stopping)
		return;
	r->stopping = true;
	r->stop_deadline = fb_now_ns() + (uint64_t)STOP_GRACE_MS * 1000000ull;
	if (r->nkids > 0 && r->kids[0].running)
		kill(r->kids[0].pid, SIGTERM);
	else if (r->pgid > 0)
		killpg(r->pgid, SIGTERM);
}

void render_fail(struct render *r)
{
	r->failed = true;
	begin_stop(r);
}


/* Ctrl-Z (SIGTSTP): the render's group is not the terminal's, so the
 * terminal stopped only fb-render.  Stop the group and every descendant
 * that left it (fb_tree_stop), then ourselves as the
 * terminal asked (the default action of SIGTSTP, so the shell sees a job
 * stopped by it); once continued, continue them all.  In an orphaned
 * process group the kernel discards the stop: the group is continued at
 * once. */
static void job_stop(struct render *r)
{
	sigset_t tstp;

	if (r->pgid > 0)
		killpg(r->pgid, SIGSTOP);
	/* And what left the group (a browser launched detached). */
	fb_tree_stop(&r->tree_stopped, r->pgid);
	status_break_line(&r->status);
	sigemptyset(&tstp);
	sigaddset(&tstp, SIGTSTP);
	raise(SIGTSTP); /* pending: it is blocked */
	sigprocmask(SIG_UNBLOCK, &tstp, NULL); /* delivered here: we stop */
	sigprocmask(SIG_BLOCK, &tstp, NULL);
	if (r->pgid > 0)
		killpg(r->pgid, SIGCONT);
	fb_tree_cont(&r->tree_stopped);
	r->bw_stopped_ns = 0;
}

/* A signal taken from the signalfd. */
void render_on_signal(struct render *r, int sig)
{
	switch (sig) {
	case SIGTSTP:
		job_stop(r);
		break;
	case SIGCONT: /* we were stopped by something else: so was nobody else, or
		       * the group was, and now goes on with us */
		if (r->pgid > 0)
			killpg(r->pgid, SIGCONT);
		r->bw_stopped_ns = 0;
		break;
	case SIGCHLD: /* waitpid will tell */
		break;
	default: /* SIGINT, SIGTERM, SIGHUP and every other signal whose
		  * default would end us (stop_signals()): a stop */
		if (r->stop_sig && r->pgid > 0) /* asked twice: now */
			killpg(r->pgid, SIGKILL);
		if (!r->stop_sig)
			r->stop_sig = sig;
		begin_stop(r);
		break;
	}
}

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

/* Wait up to TIMEOUT_MS for a signal, or for FD (if >= 0) to be readable
 * (*READABLE).  Returns the signal taken, or 0. */
int render_wait_event(struct render *r, int fd, int timeout_ms, bool *readable)
{
	struct pollfd pf[2] = { { .fd = r->sfd, .events = POLLIN }, { .fd = fd, .events = POLLIN } };
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
	if ((pf[0].revents & POLLIN) && read(r->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si))
		return (int)si.ssi_signo;
	return 0;
}

/*
 * Does the broker still supervise?  One that stays stopped (SIGSTOP: state
 * T) watches no deaths and no deadlines, so a dead producer's frame would
 * wait for ever.  Looked at on every tick; "continuously" means on every
 * tick for BROKER_STOPPED_MS, with no gap of a second between ticks (a gap
 * means fb-render itself was stopped, e.g. with the whole job: start over).
 * A debugger's stop (state t) is left alone.  Then: one line, and the
 * render ends as after a failure (the broker is continued, so it can act
 * on the SIGTERM); stopped again while it ends, the group is SIGKILLed.
 */
void render_watch_broker(struct render *r)
{
	uint64_t now = fb_now_ns();
	bool gap = now - r->bw_last_ns > 1000000000ull;
	pid_t pid = r->nkids > 0 ? r->kids[0].pid : 0;

	r->bw_last_ns = now;
	if (!pid || !r->kids[0].running || fb_proc_state(pid) != 'T') {
		r->bw_stopped_ns = 0;
		return;
	}
	if (gap || !r->bw_stopped_ns) {
		r->bw_stopped_ns = now;
		return;
	}
	if (now - r->bw_stopped_ns < BROKER_STOPPED_MS * 1000000ull)
		return;
	r->bw_stopped_ns = 0;
	if (r->bw_reported) {
		killpg(r->pgid, SIGKILL);
		return;
	}
	r->bw_reported = true;
	status_break_line(&r->status);
	fb_err(PROG, "fb-broker (pid %d) is stopped; nobody supervises the render", (int)pid);
	if (r->stopping)
		kill(pid, SIGTERM);
	render_fail(r);
	killpg(r->pgid, SIGCONT);
}

/* The supervision loop: react to child exits and stop requests until no
 * child is left.  Signals arrive synchronously through the signalfd.  Once
 * broker, encoder and producers are all reaped, any child left is an
 * orphan we adopted (a renderer's helper, in whatever session or group):
 * it is ended (fb_orphans_step) rather than waited for. */
static void supervise(struct render *r)
{
	for (;;) {
		int timeout = STATUS_TICK_MS, sig;
		uint64_t now = fb_now_ns();

		if (r->stopping) {
			if (now >= r->stop_deadline) {
				killpg(r->pgid, SIGKILL);
				r->stop_deadline = UINT64_MAX;
			} else if (r->stop_deadline != UINT64_MAX &&
				   r->stop_deadline - now < STATUS_TICK_MS * 1000000ull) {
				timeout = (int)((r->stop_deadline - now) / 1000000ull) + 1;
			}
		}
		if (!render_reap(r))
			return;
		if (render_known_running(r)) {
			render_watch_broker(r);
			render_watch_attached(r, now, &timeout);
		} else {
			fb_orphans_step(&r->orphans, now, ORPHAN_GRACE_MS * 1000000ull);
			timeout = 50;
		}
		/* The moment the render is known to fail (or is stopped), the
		 * line goes: the cause is the last thing on the terminal. */
		if (r->stopping || r->failed || r->encoder_gone)
			status_quiet(&r->status);
		status_tick(&r->status, false);
		sig = render_wait_event(r, -1, timeout, NULL);
		if (sig)
			render_on_signal(r, sig);
	}
}

/* Open the --progress file without ever waiting: a FIFO with no reader
 * is ENXIO at once instead of an open(2) that blocks fb-render (signals
 * and all) until someone reads.  Writes stay non-blocking: a block the
 * reader has no room for is dropped (status.c). */
static FILE *open_progress(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, 0666);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "w");
	if (!f) {
		int e = errno;

		close(fd);
		errno = e;
	}
	return f;
}

static int bin_dir(char *dir, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n < 0)
		return -errno;
	exe[n] = '\0';
	snprintf(dir, len, "%s", dirname(exe));
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t start_ns = fb_now_ns();
	struct render r;
	struct fb_geom g;
	char tmp_base[PATH_MAX];
	sigset_t set, blocked;
	int code;

	memset(&r, 0, sizeof(r));
	r.tmp.fd = -1;
	if (options_parse(argc, argv, &r.o) || fb_params_geom(&r.o.params, &g, PROG))
		return FB_EXIT_USAGE;
	code = options_preflight(&r.o, &g);
	if (!code)
		code = fb_tmpdir_base(tmp_base, sizeof(tmp_base), PROG);
	if (code || r.o.check_only)
		return code;
	if (bin_dir(r.bindir, sizeof(r.bindir))) {
		fb_err(PROG, "cannot locate my own binary: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	r.seg_fd = -1;
	if (r.o.attach)
		snprintf(r.producer_label, sizeof(r.producer_label), "producer '%.60s'",
			 r.o.source + 7);
	if (r.o.progress) {
		r.progress = strcmp(r.o.progress, "-") == 0 ? stdout : open_progress(r.o.progress);
		if (!r.progress) {
			fb_err(PROG, "cannot write --progress %s: %s", r.o.progress,
			       errno == ENXIO ? "a FIFO nobody reads" : strerror(errno));
			return FB_EXIT_USAGE;
		}
	}
	r.kids = calloc(2 + (size_t)r.o.workers + r.o.max_restarts, sizeof(*r.kids));
	if (!r.kids) {
		fb_err(PROG, "out of memory");
		return FB_EXIT_RUNTIME;
	}
	/* Signals are taken synchronously in supervise(); blocking them first
	 * means none is lost while children start.  Children unblock them. */
	sigemptyset(&set);
	sigaddset(&set, SIGCHLD);
	add_stop_signals(&set);
	sigaddset(&set, SIGTSTP); /* Ctrl-Z: job_stop() */
	sigaddset(&set, SIGCONT); /* blocking it only defers the notice */
	/* SIGTTOU blocked too, and never taken: a blocked SIGTTOU counts as
	 * ignored for the terminal's job-control check, so in the background
	 * with `stty tostop` our own lines (a warning, "wrote") are written
	 * rather than stopping fb-render alone while its children run on
	 * unsupervised — as the children's own lines are (spawn.h). */
	blocked = set;
	sigaddset(&blocked, SIGTTOU);
	sigprocmask(SIG_BLOCK, &blocked, NULL);
	r.sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r.sfd < 0) {
		fb_err(PROG, "signalfd: %s", strerror(errno));
		free(r.kids);
		return FB_EXIT_RUNTIME;
	}
	signal(SIGPIPE, SIG_IGN);
	/* Orphans (ffmpeg when the encoder dies) become ours to reap. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	/* Before the first child, so every one of them gets FB_TMPDIR. */
	code = fb_tmpdir_make(&r.tmp, tmp_base, PROG);
	if (code) {
		free(r.kids);
		close(r.sfd);
		return code;
	}

	code = render_start_broker(&r);
	if (code) {
		fb_tmpdir_remove(&r.tmp, PROG); /* every child reaped (end_orphans) */
		free(r.kids);
		close(r.sfd);
		return code;
	}
	if (render_start_workers(&r))
		render_fail(&r);
	status_start(&r.status, r.seg_fd, r.o.name, r.progress, r.o.attach);
	supervise(&r);
	fb_orphans_free(&r.orphans);
	fb_tree_free(&r.tree_stopped);
	if (r.stopping || r.failed || !r.encoder_ok)
		status_quiet(&r.status); /* no final line over the cause */
	status_tick(&r.status, true);
	status_stop(&r.status);
	/* supervise() returned on ECHILD: nobody is left to write there. */
	fb_tmpdir_remove(&r.tmp, PROG);
	if (r.progress && r.progress != stdout)
		fclose(r.progress);
	/* A failure nobody named (the broker's "aborted" reaped before the
	 * worker that caused it, say): the cause recorded in the segment. */
	if (!r.stop_sig && !r.failed && !r.encoder_ok && r.aborted && !r.child_spoke) {
		char cause[FB_REASON_MAX + 64];

		if (r.seg_fd >= 0 && fb_stats_cause_fd(r.seg_fd, cause, sizeof(cause)))
			fb_err(PROG, "%s", cause);
		else
			fb_err(PROG, "render aborted (no cause recorded)");
	}
	if (r.seg_fd >= 0)
		close(r.seg_fd);
	/* The broker unlinks on every path it controls; this covers the
	 * broker itself being killed.  Only the very object we opened (its
	 * header may be scribbled: the inode is ours to know); without one,
	 * only a segment whose header names our broker. */
	if (r.seg_known)
		fb_seg_unlink_same(r.o.name, r.seg_dev, r.seg_ino);
	else
		fb_seg_unlink_owned(r.o.name, r.kids[0].pid);
	close(r.sfd);
	free(r.kids);
	free(r.attach_env);
	if (r.stop_sig)
		return 128 + r.stop_sig;
	if (r.failed)
		return FB_EXIT_RUNTIME;
	if (!r.encoder_ok) {
		if (!r.aborted)
			fb_err(PROG, "render ended before the encoder finished");
		return FB_EXIT_RUNTIME;
	}
	/* Only now, when every process is gone and the file complete. */
	status_summary(r.o.sink.output, &g, fb_now_ns() - start_ns);
	return FB_EXIT_OK;
}
