/*
 * children — fb-render's children: start the broker (and wait for its
 * "ready"), the encoder and the producers (fb-producer, or an attach:
 * program), and reap them: decide from each exit whether the render
 * failed, and replace a producer that died while frames remain.
 */
#include "render.h"
#include "fb_stats.h"
#include "fb_args.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static int start_producer(struct render *r);

const char *render_role_name(const struct render *r, enum role role)
{
	switch (role) {
	case ROLE_BROKER:
		return "fb-broker";
	case ROLE_ENCODER:
		return "fb-encoder";
	case ROLE_PRODUCER:
		return r->o.attach ? r->producer_label : "fb-producer";
	default:
		return "child";
	}
}

/* Is any process we started (broker, encoder, producer) still unreaped? */
bool render_known_running(const struct render *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		if (r->kids[i].running)
			return true;
	return false;
}

/* "killed by signal 9 (Killed)" / "exited with status 1" */
static void describe_exit(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)", WTERMSIG(status),
			 strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "exited with status %d", WEXITSTATUS(status));
}

/* A producer died while frames were still to come: the broker reissues
 * whatever it held; start a replacement while the restart budget lasts. */
static void producer_died(struct render *r, struct child *k, int status)
{
	char how[96];

	describe_exit(status, how, sizeof(how));
	if (!fb_stats_frames_left(r->seg_fd, k->pid)) {
		fb_warn(PROG, "%s (pid %d) %s after the last frame was taken; no replacement needed",
		       render_role_name(r, k->role), (int)k->pid, how);
		return;
	}
	if (r->restarts >= r->o.max_restarts) {
		fb_err(PROG, "%s (pid %d) %s; no restarts left (--max-restarts %u)",
		       render_role_name(r, k->role), (int)k->pid, how, r->o.max_restarts);
		render_fail(r);
		return;
	}
	r->restarts++;
	/* Where fb-stat and the status line see it. */
	(void)fb_stats_set_restarts(r->seg_fd, r->restarts);
	fb_warn(PROG, "%s (pid %d) %s; starting a replacement (restart %u of %u)",
	       render_role_name(r, k->role), (int)k->pid, how, r->restarts, r->o.max_restarts);
	if (start_producer(r))
		render_fail(r);
}

/* SIGTERM every producer still running (each ends its renderer with it). */
static void end_producers(struct render *r)
{
	for (size_t i = 0; i < r->nkids; i++)
		if (r->kids[i].role == ROLE_PRODUCER && r->kids[i].running)
			kill(r->kids[i].pid, SIGTERM);
}

/* A child's exit: decide whether the render failed.  Exit 1 and 2 mean the
 * child already printed its one-line cause; 3 means it stopped because
 * somebody else aborted the render.  Only a producer killed by a signal, or
 * one whose renderer command died (exit 4), is a crash to recover from: one
 * that exits 1 failed deliberately (it read a short raw file, say) and a
 * replacement would fail the same way. */
static void child_exited(struct render *r, struct child *k, int status)
{
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
	char how[96];

	k->running = false;
	/* Our own programs print their cause before exiting 1 or 2; a user's
	 * attach: program may exit 1 after fb_fail() without a word, and then
	 * the cause is the one recorded in the segment, said at the end. */
	if ((code == FB_EXIT_RUNTIME || code == FB_EXIT_USAGE) &&
	    !(k->role == ROLE_PRODUCER && r->o.attach))
		r->child_spoke = true;
	if (k->role == ROLE_ENCODER && code == FB_EXIT_OK)
		r->encoder_ok = true;
	if (k->role == ROLE_ENCODER && code != FB_EXIT_OK) {
		/* Without the encoder no frame can be emitted any more, so
		 * the producers' work is lost either way: end them now rather
		 * than wait for one asleep in a 20 s frame or blocked on a hung
		 * renderer to notice the abort. */
		r->encoder_gone = true;
		end_producers(r);
	}
	if (k->role == ROLE_BROKER && code == FB_EXIT_ABORTED && !r->stopping) {
		/* The render was aborted; workers normally see it and leave.
		 * One stuck on the ring lock would not: arm the deadline that
		 * ends in a SIGKILL of the group. */
		r->stopping = true;
		r->aborted = true;
		r->stop_deadline = fb_now_ns() + (uint64_t)STOP_GRACE_MS * 1000000ull;
		return;
	}
	if (r->aborted && !r->child_spoke && k->role == ROLE_ENCODER && WIFSIGNALED(status) &&
	    r->stop_deadline != UINT64_MAX) {
		/* The broker's "aborted" was reaped first; the encoder's death
		 * (not a kill of ours) is what it aborted for: name it. */
		describe_exit(status, how, sizeof(how));
		fb_err(PROG, "%s (pid %d) %s", render_role_name(r, k->role), (int)k->pid, how);
		r->child_spoke = true;
		return;
	}
	if (k->role == ROLE_PRODUCER && r->o.attach && !(WIFSIGNALED(status) || code == FB_EXIT_RENDERER)) {
		render_attach_exited(r, k, status);
		return;
	}
	if (r->stopping || code == FB_EXIT_OK || code == FB_EXIT_ABORTED)
		return;
	/* Killed, or its renderer command died (it gave the frame back), or
	 * (attach:) the program itself gave its frame back and asks for a
	 * replacement: the same exit code. */
	if (k->role == ROLE_PRODUCER && (WIFSIGNALED(status) || code == FB_EXIT_RENDERER)) {
		if (!r->encoder_ok && !r->encoder_gone)
			producer_died(r, k, status);
		return;
	}
	/* Exit 1/2: the child printed its cause; 127: spawn printed it. */
	describe_exit(status, how, sizeof(how));
	if (code != FB_EXIT_RUNTIME && code != FB_EXIT_USAGE && code != 127)
		fb_err(PROG, "%s (pid %d) %s", render_role_name(r, k->role), (int)k->pid, how);
	render_fail(r);
}

/* Reap every exited child.  Returns false once no child of ours is left
 * (ECHILD), including orphans (ffmpeg) reparented to us as subreaper. */
bool render_reap(struct render *r)
{
	int status;
	pid_t pid;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		/* One status, one child: child_exited may start a replacement
		 * that reuses this very pid. */
		for (size_t i = 0; i < r->nkids; i++) {
			if (r->kids[i].pid == pid && r->kids[i].running) {
				/* A child that failed or was killed has said (or
				 * fb-render is about to say) something: end the
				 * status line first.  Not for a clean exit, nor for
				 * an orphan: each break makes the next tick draw the
				 * line anew below, so the final line would be
				 * printed once per exiting child. */
				if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
					status_break_line(&r->status);
				child_exited(r, &r->kids[i], status);
				break;
			}
		}
	}
	return !(pid < 0 && errno == ECHILD);
}

static int start(struct render *r, enum role role, char **argv, int keep_fd)
{
	char path[PATH_MAX + 32];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", r->bindir, argv[0]);
	/* argv[0] = the full path, so `ps`/`pgrep -f` show which build runs. */
	argv[0] = path;
	pid = fb_spawn(path, argv, r->pgid, keep_fd);
	if (pid < 0) {
		fb_err(PROG, "cannot start %s: %s", argv[0], strerror((int)-pid));
		return -1;
	}
	if (!r->pgid)
		r->pgid = pid;
	r->kids[r->nkids++] = (struct child){ .pid = pid, .role = role, .running = true };
	return 0;
}

/*
 * Wait for the broker's "ready" on FD: 0, or -1 if it will not come (the
 * broker closed the pipe, we were asked to stop, the broker stayed stopped,
 * or READY_TIMEOUT_MS passed).  Signals are taken all along: a broker
 * busy reserving gigabytes, or stopped, must not make Ctrl-C wait.
 */
static int wait_ready(struct render *r, int fd)
{
	uint64_t deadline = fb_now_ns() + READY_TIMEOUT_MS * 1000000ull;
	char buf[8];
	size_t got = 0;

	for (;;) {
		bool readable;
		int sig = render_wait_event(r, fd, STATUS_TICK_MS, &readable);

		if (sig)
			render_on_signal(r, sig);
		if (r->stopping)
			return -1;
		if (readable) {
			ssize_t n = read(fd, buf + got, sizeof(buf) - got);

			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0)
				return -1;
			got += (size_t)n;
			if (got >= 6)
				return got == 6 && memcmp(buf, "ready\n", 6) == 0 ? 0 : -1;
			continue;
		}
		render_watch_broker(r);
		if (r->stopping)
			return -1;
		if (fb_now_ns() >= deadline) {
			fb_err(PROG, "fb-broker (pid %d) did not have segment %s ready within %d s",
			       (int)r->kids[0].pid, r->o.name, READY_TIMEOUT_MS / 1000);
			render_fail(r);
			return -1;
		}
	}
}

/* Before ready: make sure the broker ends, and collect its status.  It
 * was asked to stop (SIGTERM, and SIGCONT in case it is stopped), or it is
 * leaving by itself; past READY_GRACE_MS, or at a second stop request, it
 * is SIGKILLed. */
static int end_broker(struct render *r)
{
	pid_t pid = r->kids[0].pid;
	uint64_t kill_at = fb_now_ns() + READY_GRACE_MS * 1000000ull;
	int status, sig, asked = r->stop_sig;

	kill(pid, SIGTERM); /* harmless if it is already leaving */
	kill(pid, SIGCONT);
	for (;;) {
		pid_t got = waitpid(pid, &status, WNOHANG);

		if (got == pid)
			return status;
		if (got < 0 && errno != EINTR) {
			fb_err(PROG, "waitpid: %s", strerror(errno));
			return 1 << 8; /* "exited with status 1" */
		}
		if (fb_now_ns() >= kill_at) {
			kill(pid, SIGKILL);
			kill_at = UINT64_MAX;
		}
		sig = render_wait_event(r, -1, 50, NULL);
		if (sig)
			render_on_signal(r, sig);
		if (r->stop_sig != asked) { /* a stop request now, or a second one */
			kill(pid, SIGKILL);
			asked = r->stop_sig;
		}
	}
}

/* Without a broker, encoder or producer left: end whatever else is left of
 * the tree (a broker-to-be that forked, say) and reap it all. */
static void end_orphans(struct render *r)
{
	int status;
	pid_t got;

	for (;;) {
		while ((got = waitpid(-1, &status, WNOHANG)) > 0)
			;
		if (got < 0 && errno == ECHILD)
			break;
		fb_orphans_step(&r->orphans, fb_now_ns(), ORPHAN_GRACE_MS * 1000000ull);
		(void)render_wait_event(r, -1, 50, NULL); /* a stop request changes nothing now */
	}
	fb_orphans_free(&r->orphans);
}

/* Start the broker and wait until it says the segment exists.  Returns 0,
 * or the exit code to leave with (the broker printed why). */
int render_start_broker(struct render *r)
{
	struct fb_params_argv_buf pbuf;
	char fdbuf[16], ftmo[16], etmo[16];
	char *argv[10 + FB_PARAMS_ARGV_MAX];
	int pfd[2], n = 0, status, got;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		fb_err(PROG, "pipe: %s", strerror(errno));
		return FB_EXIT_RUNTIME;
	}
	snprintf(fdbuf, sizeof(fdbuf), "%d", pfd[1]);
	snprintf(ftmo, sizeof(ftmo), "%u", r->o.frame_timeout_s);
	/* The broker watches that the encoder makes progress (it may be
	 * stopped), on the same bound the encoder holds ffmpeg to. */
	snprintf(etmo, sizeof(etmo), "%u", r->o.sink.encoder_timeout_s);
	argv[n++] = "fb-broker";
	argv[n++] = "--name";
	argv[n++] = r->o.name;
	n += fb_params_argv(&r->o.params, argv + n, &pbuf);
	argv[n++] = "--ready-fd";
	argv[n++] = fdbuf;
	argv[n++] = "--frame-timeout";
	argv[n++] = ftmo;
	argv[n++] = "--encoder-timeout";
	argv[n++] = etmo;
	argv[n] = NULL;
	if (start(r, ROLE_BROKER, argv, pfd[1])) {
		close(pfd[0]);
		close(pfd[1]);
		return FB_EXIT_RUNTIME;
	}
	close(pfd[1]);
	got = wait_ready(r, pfd[0]);
	close(pfd[0]);
	if (got == 0)
		return 0;
	/* The broker gave up (or was killed, or we were asked to stop, or it
	 * stopped) before the segment was ready. */
	status = end_broker(r);
	r->kids[0].running = false;
	end_orphans(r);
	/* No descriptor yet, so no inode: the header's broker pid says whose
	 * it is (written before the memory is reserved). */
	fb_seg_unlink_owned(r->o.name, r->kids[0].pid);
	if (r->stop_sig)
		return 128 + r->stop_sig;
	if (r->failed)
		return FB_EXIT_RUNTIME;
	if (WIFEXITED(status) && WEXITSTATUS(status) == FB_EXIT_USAGE)
		return FB_EXIT_USAGE;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != FB_EXIT_RUNTIME)
		fb_err(PROG, "fb-broker failed to start");
	return FB_EXIT_RUNTIME;
}

static int start_producer(struct render *r)
{
	char delay[16], jitter[16], cpu[16];
	char *argv[] = { "fb-producer", "--name", r->o.name, "--fd", r->seg_fd_arg,
			 "--source", (char *)r->o.source, "--delay-ms", delay,
			 "--jitter-ms", jitter, "--cpu-us", cpu, NULL };

	snprintf(delay, sizeof(delay), "%u", r->o.delay_ms);
	snprintf(cpu, sizeof(cpu), "%u", r->o.cpu_us);
	if (r->o.attach)
		return render_start_attached(r);
	snprintf(jitter, sizeof(jitter), "%u", r->o.jitter_ms);
	return start(r, ROLE_PRODUCER, argv, r->seg_fd);
}

/* Workers attach through an inherited descriptor rather than the name: a
 * producer that starts after a short render finished (and the broker
 * unlinked the name) then still attaches, sees DONE and exits 0. */
int render_start_workers(struct render *r)
{
	char *argv[8 + FB_CLI_SINK_ARGV_MAX + 64 + 2], tmo[16], jitter[16];
	int n = 0;

	struct stat st;

	r->seg_fd = fb_shm_open(r->o.name, O_RDWR, 0, &st);
	if (r->seg_fd >= 0) {
		/* What the name must still name when we unlink it at the end:
		 * no header field needed, so a scribbled header cannot stop it. */
		r->seg_known = true;
		r->seg_dev = (uint64_t)st.st_dev;
		r->seg_ino = (uint64_t)st.st_ino;
	}
	if (r->seg_fd < 0) {
		fb_err(PROG, "cannot open segment %s: %s", r->o.name,
		       r->seg_fd == -FB_ENOTSEG ? "not a regular file" : strerror(-r->seg_fd));
		r->seg_fd = -1;
		return -1;
	}
	snprintf(r->seg_fd_arg, sizeof(r->seg_fd_arg), "%d", r->seg_fd);
	argv[n++] = "fb-encoder";
	argv[n++] = "--name";
	argv[n++] = r->o.name;
	argv[n++] = "--fd";
	argv[n++] = r->seg_fd_arg;
	n += fb_cli_sink_argv(&r->o.sink, argv + n, tmo);
	snprintf(jitter, sizeof(jitter), "%u", r->o.sink_jitter_ms);
	argv[n++] = "--jitter-ms";
	argv[n++] = jitter;
	if (r->o.ff_opts) {
		argv[n++] = "--";
		for (int i = 0; i < r->o.n_ff_opts; i++)
			argv[n++] = r->o.ff_opts[i];
	}
	argv[n] = NULL;
	if (start(r, ROLE_ENCODER, argv, r->seg_fd))
		return -1;
	if (r->o.attach && render_attach_env(r))
		return -1;
	for (uint32_t i = 0; i < r->o.workers; i++)
		if (start_producer(r))
			return -1;
	return 0;
}
