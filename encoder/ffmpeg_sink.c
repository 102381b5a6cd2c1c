/* ffmpeg_sink — spawn, feed and reap the ffmpeg child. */
#include "ffmpeg_sink.h"
#include "fb_pixfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* ffmpeg's options for the default output: H.264 playable everywhere. */
static char *const default_opts[] = {
	"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
};

#define MAX_OUT_OPTS 64
#define FIXED_ARGS 15 /* "ffmpeg" ... "pipe:0" below */
#define AUDIO_ARGS 11 /* "-i" AUDIO "-map" ... "-shortest" */
#define CHUNK_ARGS 2  /* "-metadata" "comment=framebroker chunk A:B/N" */

static int spawn(struct ffmpeg_sink *s, char **argv, int in_rd)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int rc;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE); /* the encoder ignores it; ffmpeg should not */
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in_rd, STDIN_FILENO);
	posix_spawn_file_actions_adddup2(&fa, s->err_fd, STDERR_FILENO);
	posix_spawnattr_init(&at);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawnp(&s->pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return -rc;
}

int ffmpeg_sink_start(struct ffmpeg_sink *s, const struct fb_geom *g,
		      char *const *out_opts, int n_opts, const char *output, const char *audio)
{
	char size[32], fps[16], tag[96];
	char *argv[FIXED_ARGS + AUDIO_ARGS + MAX_OUT_OPTS + CHUNK_ARGS + 3]; /* + "-y" OUTPUT NULL */
	int pipefd[2], n = 0, rc;

	if (!out_opts) {
		out_opts = default_opts;
		n_opts = (int)(sizeof(default_opts) / sizeof(default_opts[0]));
	}
	if (n_opts > MAX_OUT_OPTS)
		return -E2BIG;
	snprintf(size, sizeof(size), "%ux%u", g->width, g->height);
	snprintf(fps, sizeof(fps), "%u", g->fps);
	argv[n++] = "ffmpeg";
	argv[n++] = "-hide_banner";
	argv[n++] = "-nostats";
	argv[n++] = "-loglevel";
	argv[n++] = "error";
	if (g->frame_format == FB_FRAME_RAW) {
		argv[n++] = "-f";
		argv[n++] = "rawvideo";
		argv[n++] = "-pix_fmt";
		argv[n++] = (char *)fb_pixfmt_name(g->pix_fmt);
		argv[n++] = "-s";
		argv[n++] = size;
	} else { /* one image per frame, each a whole PNG or JPEG */
		argv[n++] = "-f";
		argv[n++] = "image2pipe";
		argv[n++] = "-c:v";
		argv[n++] = g->frame_format == FB_FRAME_PNG ? "png" : "mjpeg";
	}
	argv[n++] = "-framerate";
	argv[n++] = fps;
	argv[n++] = "-i";
	argv[n++] = "pipe:0";
	if (audio) {
		/* The video decides the length: the audio is padded with
		 * silence (apad) and cut where the last frame ends (-shortest,
		 * which apad's endless stream turns into "end with the video"). */
		argv[n++] = "-i";
		argv[n++] = (char *)audio;
		argv[n++] = "-map";
		argv[n++] = "0:v:0";
		argv[n++] = "-map";
		argv[n++] = "1:a:0";
		argv[n++] = "-af";
		argv[n++] = "apad";
		argv[n++] = "-shortest";
	}
	for (int i = 0; i < n_opts; i++)
		argv[n++] = out_opts[i];
	/* A chunk says which frames it holds, so fb-stitch can refuse a
	 * missing, repeated or misplaced one.  After the user's options: a
	 * -metadata comment= of theirs must not erase it. */
	if (g->chunk) {
		snprintf(tag, sizeof(tag), "comment=" FB_CHUNK_TAG "%llu:%llu/%llu",
			 (unsigned long long)g->first_frame,
			 (unsigned long long)(g->first_frame + g->total_frames),
			 (unsigned long long)g->render_frames);
		argv[n++] = "-metadata";
		argv[n++] = tag;
	}
	argv[n++] = "-y";
	argv[n++] = (char *)output;
	argv[n] = NULL;

	s->err_fd = memfd_create("ffmpeg-stderr", MFD_CLOEXEC);
	if (s->err_fd < 0)
		return -errno;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		close(s->err_fd);
		return rc;
	}
	rc = spawn(s, argv, pipefd[0]);
	close(pipefd[0]);
	if (rc) {
		close(pipefd[1]);
		close(s->err_fd);
		return rc;
	}
	s->in_fd = pipefd[1];
	/* Non-blocking, so a stalled ffmpeg is a timeout rather than a hang
	 * (sink.c polls it); a bigger pipe means fewer wake-ups per frame. */
	fcntl(s->in_fd, F_SETFL, O_WRONLY | O_NONBLOCK);
	fcntl(s->in_fd, F_SETPIPE_SZ, 1 << 20);
	return 0;
}

/* Append ffmpeg's last stderr lines (at most ~300 bytes) to WHY. */
static void stderr_tail(int fd, char *why, size_t why_len)
{
	char buf[320];
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = end > (off_t)sizeof(buf) - 1 ? end - (off_t)sizeof(buf) + 1 : 0;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, start);
	char *p;
	size_t len;

	if (n <= 0)
		return;
	buf[n] = '\0';
	p = buf;
	if (start > 0 && strchr(buf, '\n'))
		p = strchr(buf, '\n') + 1; /* drop a partial first line */
	/* One line of output: newlines become " | ". */
	len = strlen(why);
	snprintf(why + len, why_len - len, ": ");
	for (len = strlen(why); *p && len + 4 < why_len; p++) {
		if (*p == '\n') {
			if (p[1])
				len += (size_t)snprintf(why + len, why_len - len, " | ");
		} else if (*p != '\r') {
			why[len++] = *p;
		}
	}
	why[len] = '\0';
}

/* Wait up to TIMEOUT_MS for PID to exit; SIGKILL it after that. */
static void exit_or_kill(pid_t pid, int timeout_ms)
{
	struct pollfd p = { .events = POLLIN };

	/* Our own child: the pid cannot be reused before we reap it. */
	p.fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (p.fd < 0)
		return; /* waitpid below blocks instead */
	while (poll(&p, 1, timeout_ms) < 0 && errno == EINTR)
		;
	if (!(p.revents & POLLIN))
		kill(pid, SIGKILL);
	close(p.fd);
}

int ffmpeg_sink_finish(struct ffmpeg_sink *s, int timeout_ms, char *why, size_t why_len)
{
	int status;
	pid_t r;

	if (s->in_fd >= 0)
		close(s->in_fd);
	s->in_fd = -1;
	exit_or_kill(s->pid, timeout_ms);
	do
		r = waitpid(s->pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0) {
		snprintf(why, why_len, "waiting for ffmpeg: %s", strerror(errno));
		close(s->err_fd);
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		close(s->err_fd);
		return 0;
	}
	if (WIFEXITED(status))
		snprintf(why, why_len, "ffmpeg exited with status %d", WEXITSTATUS(status));
	else
		snprintf(why, why_len, "ffmpeg killed by signal %d", WTERMSIG(status));
	stderr_tail(s->err_fd, why, why_len);
	close(s->err_fd);
	return -1;
}
