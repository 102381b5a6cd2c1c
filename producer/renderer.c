/* renderer — an external renderer child (see renderer.h). */
#include "renderer.h"
#include "fb_pixfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void set_env(const char *key, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	setenv(key, buf, 1);
}

/* In the child, between fork and exec: only async-signal-safe calls,
 * except the setenv()s, which are safe here because the producer is single
 * threaded.  A failed exec reports its errno through ERR_FD (close-on-exec,
 * so a successful exec closes it and the parent reads EOF). */
__attribute__((noreturn)) static void child(char *const *argv, const struct fb_geom *g, int in, int out, int err_fd,
		  pid_t parent)
{
	int e;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
		goto fail;
	signal(SIGPIPE, SIG_DFL);
	set_env("FB_WIDTH", g->width);
	set_env("FB_HEIGHT", g->height);
	setenv("FB_PIX_FMT", fb_pixfmt_name(g->pix_fmt), 1);
	set_env("FB_FPS", g->fps);
	set_env("FB_FRAMES", g->total_frames);
	set_env("FB_FRAME_BYTES", g->frame_bytes);
	execvp(argv[0], argv);
fail:
	e = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

int renderer_start(struct renderer *r, char *const *argv, const struct fb_geom *g)
{
	int in[2], out[2], err[2], e = 0;
	pid_t parent = getpid();
	ssize_t n;

	if (pipe2(in, O_CLOEXEC) < 0)
		return -errno;
	if (pipe2(out, O_CLOEXEC) < 0) {
		e = errno;
		goto close_in;
	}
	if (pipe2(err, O_CLOEXEC) < 0) {
		e = errno;
		goto close_out;
	}
	r->pid = fork();
	if (r->pid < 0) {
		e = errno;
		goto close_err;
	}
	if (r->pid == 0)
		child(argv, g, in[0], out[1], err[1], parent);
	close(err[1]);
	err[1] = -1;
	do
		n = read(err[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	if (n == (ssize_t)sizeof(e)) { /* exec failed: reap the child */
		waitpid(r->pid, NULL, 0);
		goto close_err;
	}
	e = 0;
	close(err[0]);
	close(in[0]);
	close(out[1]);
	r->to_fd = in[1];
	r->from_fd = out[0];
	return 0;
close_err:
	close(err[0]);
	if (err[1] >= 0)
		close(err[1]);
close_out:
	close(out[0]);
	close(out[1]);
close_in:
	close(in[0]);
	close(in[1]);
	r->pid = -1;
	return -e;
}

int renderer_frame(struct renderer *r, uint64_t frame, void *buf, uint64_t len)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)frame);
	unsigned char *p = buf;

	for (int off = 0; off < n;) {
		ssize_t w = write(r->to_fd, line + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -EPIPE;
		off += (int)w;
	}
	while (len > 0) {
		ssize_t got = read(r->from_fd, p, len);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			return -errno;
		if (got == 0)
			return -EIO;
		p += got;
		len -= (uint64_t)got;
	}
	return 0;
}

void renderer_stop(struct renderer *r, char *how, size_t how_len)
{
	struct pollfd pf = { .events = POLLIN };
	int status = 0;

	if (r->pid <= 0)
		return;
	close(r->to_fd);
	close(r->from_fd);
	/* Our own child: its pid cannot be reused before we reap it. */
	pf.fd = (int)syscall(SYS_pidfd_open, r->pid, 0);
	if (pf.fd >= 0) {
		while (poll(&pf, 1, 1000) < 0 && errno == EINTR)
			;
		if (!(pf.revents & POLLIN))
			kill(r->pid, SIGKILL);
		close(pf.fd);
	} else {
		kill(r->pid, SIGKILL);
	}
	while (waitpid(r->pid, &status, 0) < 0 && errno == EINTR)
		;
	if (how && WIFSIGNALED(status))
		snprintf(how, how_len, "was killed by signal %d", WTERMSIG(status));
	else if (how)
		snprintf(how, how_len, "exited with status %d", WEXITSTATUS(status));
	r->pid = -1;
}
