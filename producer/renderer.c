/* renderer — an external renderer child (see renderer.h). */
#include "renderer.h"
#include "fb_pixfmt.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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
 * threaded (it only ever blocks in fb_claim: the library starts its waiting
 * thread only for timed and non-blocking claims).  A failed exec reports its errno through ERR_FD (close-on-exec,
 * so a successful exec closes it and the parent reads EOF). */
__attribute__((noreturn)) static void child(char *const *argv, const struct fb_geometry *g, int in, int out, int err_fd,
		  pid_t parent)
{
	char fps[32];
	int e;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	if (dup2(in, STDIN_FILENO) < 0 || dup2(out, STDOUT_FILENO) < 0)
		goto fail;
	signal(SIGPIPE, SIG_DFL);
	set_env("FB_WIDTH", g->width);
	set_env("FB_HEIGHT", g->height);
	setenv("FB_PIX_FMT", g->pix_fmt, 1);
	/* The rate as ffmpeg writes it ("30000/1001", "30"): a renderer can
	 * hand it straight to ffmpeg's -r or a lavfi rate=; and its two parts
	 * for one that computes frame times. */
	if (g->fps_den == 1)
		snprintf(fps, sizeof(fps), "%u", g->fps_num);
	else
		snprintf(fps, sizeof(fps), "%u/%u", g->fps_num, g->fps_den);
	setenv("FB_FPS", fps, 1);
	set_env("FB_FPS_NUM", g->fps_num);
	set_env("FB_FPS_DEN", g->fps_den);
	set_env("FB_FRAMES", g->frames); /* the whole render, even in a chunk */
	set_env("FB_FRAME_BYTES", g->frame_bytes);
	setenv("FB_FRAME_FORMAT", g->frame_format, 1);
	set_env("FB_SLOT_BYTES", g->slot_bytes);
	execvp(argv[0], argv);
fail:
	e = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

int renderer_start(struct renderer *r, char *const *argv, const struct fb_geometry *g)
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
	/* A frame is megabytes: through the default 64 KiB pipe each one is
	 * over a hundred wake-ups of each side.  Best effort (an unprivileged
	 * user above /proc/sys/fs/pipe-max-size keeps 64 KiB, which works). */
	(void)fcntl(out[0], F_SETPIPE_SZ, 1 << 20);
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
	/* Our own child: its pid cannot be reused before we reap it, so the
	 * pidfd names it (pidfd_open makes it close-on-exec).  Without
	 * pidfds (-1), wait_output() asks waitid() instead. */
	r->pid_fd = (int)syscall(SYS_pidfd_open, r->pid, 0);
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
	r->pid_fd = -1;
	return -e;
}

/*
 * Has the renderer exited (a zombie we have not reaped yet)?  WNOWAIT:
 * renderer_stop reaps it and reports how it ended.
 */
static bool exited(const struct renderer *r)
{
	siginfo_t si;

	si.si_pid = 0;
	return waitid(P_PID, (id_t)r->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
	       si.si_pid == r->pid;
}

/*
 * Wait until the renderer's stdout has bytes (or EOF) to read: 0.  Its
 * death is watched at the same time, through its pid: a renderer that
 * dies while a child of it (a browser's helper, `cmd &`) keeps its stdout
 * open would otherwise leave us waiting for an EOF that never comes, until
 * --frame-timeout.  Bytes it wrote before dying are still read first (the
 * pipe is readable then).  -ECHILD once it is dead and nothing is left.
 */
static int wait_output(const struct renderer *r)
{
	for (;;) {
		/* poll ignores the negative descriptors of what we lack */
		struct pollfd p[3] = {
			{ .fd = r->from_fd, .events = POLLIN },
			{ .fd = r->pid_fd, .events = POLLIN },
			{ .fd = r->watch_fd, .events = POLLIN },
		};
		/* Without a pidfd, look at the pid every 100 ms. */
		int rc = poll(p, 3, r->pid_fd >= 0 ? -1 : 100);

		if (rc < 0 && errno != EINTR)
			return -errno;
		if (rc > 0 && p[0].revents)
			return 0;
		if ((rc > 0 && p[1].revents) || (r->pid_fd < 0 && exited(r)))
			return -ECHILD;
		/* A hung renderer and a dead broker: nobody would ever end
		 * this wait (the broker's --frame-timeout died with it). */
		if (rc > 0 && p[2].revents)
			return -EOWNERDEAD;
	}
}

/* read(2) of the renderer's stdout once it has something (wait_output). */
static ssize_t read_output(const struct renderer *r, void *buf, size_t len)
{
	int rc = wait_output(r);

	if (rc) {
		errno = -rc;
		return -1;
	}
	return read(r->from_fd, buf, len);
}

/* Bytes the renderer has written that nobody asked for yet. */
static int pending(const struct renderer *r)
{
	int n = 0;

	return ioctl(r->from_fd, FIONREAD, &n) == 0 ? n : 0;
}

/* Write "FRAME\n" to the renderer.  0 or -EPIPE. */
static int ask(struct renderer *r, uint64_t frame)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "%llu\n", (unsigned long long)frame);

	for (int off = 0; off < n;) {
		ssize_t w = write(r->to_fd, line + off, (size_t)(n - off));

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -EPIPE;
		off += (int)w;
	}
	return 0;
}

int renderer_frame(struct renderer *r, uint64_t frame, void *buf, uint64_t len)
{
	unsigned char *p = buf;

	if (pending(r) > 0)
		return -EOVERFLOW;
	if (ask(r, frame))
		return -EPIPE;
	while (len > 0) {
		ssize_t got = read_output(r, p, len);

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

static uint64_t be32(const unsigned char *p)
{
	return (uint64_t)p[0] << 24 | (uint64_t)p[1] << 16 | (uint64_t)p[2] << 8 | p[3];
}

/* How far an image's structure has been checked, so each read resumes the
 * scan where the last one stopped instead of starting again (a slow
 * renderer hands over a big JPEG in many small reads). */
struct scan {
	uint64_t off; /* next unchecked byte: a chunk/segment start, or inside scan data */
	int in_entropy; /* JPEG: OFF is inside entropy-coded data */
};

/* Where the PNG in B[0..N) ends: its length once its IEND chunk is complete,
 * 0 while more bytes are needed, -1 if B is not a PNG. */
static int64_t png_end(const unsigned char *b, uint64_t n, struct scan *sc)
{
	static const unsigned char sig[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };

	if (sc->off == 0) {
		if (memcmp(b, sig, n < 8 ? n : 8) != 0)
			return -1;
		if (n < 8)
			return 0;
		sc->off = 8;
	}
	while (n >= sc->off + 8) {
		uint64_t len = be32(b + sc->off), next;
		int iend = memcmp(b + sc->off + 4, "IEND", 4) == 0;

		if (len > 0x7fffffffu)
			return -1;
		next = sc->off + 12 + len; /* length, type, data, CRC */
		if (next > n)
			return 0;
		sc->off = next;
		if (iend)
			return (int64_t)next;
	}
	return 0;
}

/* Where the JPEG in B[0..N) ends (just after EOI), 0 while more bytes are
 * needed, -1 if B is not a JPEG.  Marker segments carry their lengths, so
 * an EXIF thumbnail's own EOI is skipped with its APP1 segment; after SOS
 * the entropy-coded data runs to the first 0xFF that is neither a stuffed
 * 0xFF00 nor a restart marker. */
static int64_t jpeg_end(const unsigned char *b, uint64_t n, struct scan *sc)
{
	if (sc->off == 0) {
		if (n >= 1 && b[0] != 0xFF)
			return -1;
		if (n < 2)
			return 0;
		if (b[1] != 0xD8)
			return -1;
		sc->off = 2;
	}
	for (;;) {
		uint64_t off = sc->off, len;
		unsigned m;

		while (sc->in_entropy) {
			const unsigned char *p = memchr(b + sc->off, 0xFF, n - sc->off);

			if (!p || p + 1 >= b + n) {
				/* Resume at the 0xFF (or the end): nothing before
				 * it needs looking at again. */
				sc->off = p ? (uint64_t)(p - b) : n;
				return 0;
			}
			sc->off = (uint64_t)(p - b);
			if (b[sc->off + 1] == 0x00 || (b[sc->off + 1] >= 0xD0 && b[sc->off + 1] <= 0xD7))
				sc->off += 2;
			else if (b[sc->off + 1] == 0xFF)
				sc->off++;
			else
				sc->in_entropy = 0; /* a marker: back to segments */
		}
		off = sc->off;
		while (n >= off + 2 && b[off] == 0xFF && b[off + 1] == 0xFF)
			off++; /* fill bytes */
		if (n < off + 2)
			return 0;
		if (b[off] != 0xFF)
			return -1;
		m = b[off + 1];
		if (m == 0xD9)
			return (int64_t)(off + 2);
		if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
			sc->off = off + 2; /* markers without a length */
			continue;
		}
		if (n < off + 4)
			return 0;
		len = (uint64_t)b[off + 2] << 8 | b[off + 3];
		if (len < 2)
			return -1;
		if (off + 2 + len > n)
			return 0;
		sc->off = off + 2 + len;
		sc->in_entropy = m == 0xDA;
	}
}

static int64_t image_end(uint32_t format, const unsigned char *b, uint64_t n, struct scan *sc)
{
	return format == FB_FRAME_PNG ? png_end(b, n, sc) : jpeg_end(b, n, sc);
}

/* An image over its slot: read on, into a scratch copy of at most 16 MiB
 * beyond the slot, only to say how big it is.  *LEN gets its size, or the
 * bytes seen if it ends further still ("at least"). */
#define OVERSIZE_LOOK (16u << 20)

static int measure_oversize(struct renderer *r, uint32_t format, const unsigned char *buf,
			    uint64_t cap, struct scan *sc, uint64_t *len)
{
	uint64_t size = cap + OVERSIZE_LOOK, got = cap;
	unsigned char *tmp = malloc(size);
	int64_t end = 0;

	*len = cap + 1;
	if (!tmp)
		return -EFBIG;
	memcpy(tmp, buf, cap);
	while (end == 0 && got < size) {
		ssize_t n = read_output(r, tmp + got, size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* ended (or died) past its slot: the size seen is "at least" */
		got += (uint64_t)n;
		end = image_end(format, tmp, got, sc);
	}
	free(tmp);
	*len = end > 0 ? (uint64_t)end : got;
	return -EFBIG;
}

int renderer_image(struct renderer *r, uint32_t format, uint64_t frame, unsigned char *buf,
		   uint64_t cap, uint64_t *len)
{
	struct scan sc = { 0, 0 };
	uint64_t got = 0;

	if (pending(r) > 0)
		return -EOVERFLOW;
	if (ask(r, frame))
		return -EPIPE;
	/* The renderer writes this frame only after being asked, so every
	 * byte in the pipe belongs to it: reading what is there never takes
	 * a byte of the next one. */
	for (;;) {
		int64_t end = got ? image_end(format, buf, got, &sc) : 0;
		ssize_t n;

		if (end < 0 || (end > 0 && (uint64_t)end != got))
			return -EBADMSG;
		if (end > 0) {
			*len = got;
			return 0;
		}
		if (got == cap)
			return measure_oversize(r, format, buf, cap, &sc, len);
		n = read_output(r, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		got += (uint64_t)n;
	}
}

void renderer_stop(struct renderer *r, char *how, size_t how_len)
{
	struct pollfd pf = { .events = POLLIN };
	int status = 0;

	if (r->pid <= 0)
		return;
	close(r->to_fd);
	close(r->from_fd);
	/* Only the renderer itself is waited for, never its leftover
	 * children (they may hold the pipes for ever); fb-render, the
	 * subreaper they are reparented to, ends them. */
	pf.fd = r->pid_fd;
	if (pf.fd >= 0) {
		while (poll(&pf, 1, 1000) < 0 && errno == EINTR)
			;
		if (!(pf.revents & POLLIN))
			kill(r->pid, SIGKILL);
		close(pf.fd);
		r->pid_fd = -1;
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
