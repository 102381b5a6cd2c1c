/* sink — feeding frames to a descriptor by copy or by vmsplice (sink.h). */
#include "sink.h"
#include "fb_args.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

/* Frames per writev/vmsplice call. */
#define IOV_CHUNK 64

/* How long sink_wait sleeps between looks at the pipe: no kernel event says
 * "the reader got past byte X", so the wait is a poll, starting short and
 * backing off while the reader makes no progress (x264 at 1080p takes
 * milliseconds to read a frame). */
#define WAIT_MIN_NS 200000
#define WAIT_MAX_NS 3200000

#define WATCH_N 4 /* fd, broker, reader, stop */

int sink_init(struct sink *k, int fd, bool splice, uint32_t max_held, int timeout_ms,
	      int broker_fd, int jitter_ms)
{
	*k = (struct sink){ .fd = fd, .splice = splice, .timeout_ms = timeout_ms,
			    .broker_fd = broker_fd, .reader_fd = -1, .stop_fd = -1,
			    .jitter_ms = jitter_ms,
			    .seed = (unsigned int)getpid(), .cap = max_held };
	k->ends = calloc(max_held, sizeof(*k->ends));
	if (!k->ends)
		return -ENOMEM;
	k->progress_ns = fb_now_ns();
	return 0;
}

void sink_free(struct sink *k)
{
	free(k->ends);
	k->ends = NULL;
}

/* Fill PF with what every wait watches: FD (for EVENTS), the broker's and
 * the reader's pidfds and the stop descriptor (poll ignores a negative
 * fd).  Returns the count. */
static nfds_t watch_set(const struct sink *k, struct pollfd pf[WATCH_N], short events)
{
	pf[0] = (struct pollfd){ .fd = k->fd, .events = events };
	pf[1] = (struct pollfd){ .fd = k->broker_fd, .events = POLLIN };
	pf[2] = (struct pollfd){ .fd = k->reader_fd, .events = POLLIN };
	pf[3] = (struct pollfd){ .fd = k->stop_fd, .events = POLLIN };
	return WATCH_N;
}

/* What a poll over watch_set saw that ends the wait: -EINTR (asked to
 * stop), -EOWNERDEAD, -EPIPE (the pipe has no reader), -ECHILD (the
 * reader exited), or 0. */
static int watch_result(const struct pollfd pf[WATCH_N])
{
	if (pf[3].revents)
		return -EINTR;
	if (pf[1].revents)
		return -EOWNERDEAD;
	if (pf[0].revents & (POLLERR | POLLHUP))
		return -EPIPE;
	if (pf[2].revents)
		return -ECHILD;
	return 0;
}

/* FD is not writable yet (O_NONBLOCK): wait for it, for at most MS, while
 * watching the broker and the reader.  0 (try again), -ETIMEDOUT,
 * -EOWNERDEAD, -EPIPE or -ECHILD. */
static int wait_writable(const struct sink *k, int ms)
{
	struct pollfd pf[WATCH_N];
	int r = poll(pf, watch_set(k, pf, POLLOUT), ms);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	if (r == 0)
		return -ETIMEDOUT;
	return watch_result(pf); /* 0: writable, or an error the next call reports */
}

/* Push every byte of IOV[0..CNT), which the call may modify. */
static int push_iov(struct sink *k, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t r = k->splice ? vmsplice(k->fd, iov, (unsigned long)cnt, SPLICE_F_NONBLOCK)
				      : writev(k->fd, iov, cnt);
		int rc;

		if (r > 0) {
			size_t left = (size_t)r;

			k->pushed += (uint64_t)r;
			k->progress_ns = fb_now_ns();
			while (cnt > 0 && left >= iov->iov_len) {
				left -= iov->iov_len;
				iov++;
				cnt--;
			}
			if (cnt > 0) {
				iov->iov_base = (char *)iov->iov_base + left;
				iov->iov_len -= left;
			}
			continue;
		}
		if (r == 0)
			return -EIO; /* nothing taken and no error: never loop on it */
		if (errno == EINTR)
			continue;
		/* No vmsplice here (not built in, not for this descriptor, or
		 * forbidden by a sandbox): copy instead, from the start.  Only
		 * before the first byte, so no frame is held yet. */
		if (k->splice && k->pushed == 0 && errno != EAGAIN && errno != EPIPE) {
			k->splice = false;
			continue;
		}
		if (errno != EAGAIN)
			return -errno;
		rc = wait_writable(k, k->timeout_ms);
		if (rc)
			return rc;
	}
	return 0;
}

int sink_write(struct sink *k, const void *buf, size_t len)
{
	struct iovec iov = { (void *)buf, len };
	bool splice = k->splice;
	int rc;

	k->splice = false;
	rc = push_iov(k, &iov, 1);
	k->splice = splice;
	return rc;
}

static void jitter(struct sink *k)
{
	if (k->jitter_ms)
		usleep((useconds_t)(rand_r(&k->seed) % (unsigned)(k->jitter_ms + 1)) * 1000);
}

int sink_push(struct sink *k, const struct fb_frame_ref *f, uint32_t n)
{
	/* With jitter, one frame per call so each frame gets its own sleep. */
	uint32_t chunk = k->jitter_ms ? 1 : IOV_CHUNK;

	for (uint32_t i = 0; i < n; i += chunk) {
		struct iovec iov[IOV_CHUNK];
		uint32_t m = n - i < chunk ? n - i : chunk;
		uint64_t end = k->pushed;
		int rc;

		jitter(k);
		for (uint32_t j = 0; j < m; j++)
			iov[j] = (struct iovec){ (void *)f[i + j].data, (size_t)f[i + j].length };
		rc = push_iov(k, iov, (int)m);
		if (rc)
			return rc;
		/* Where each frame ends in the byte stream: it is out once the
		 * reader has consumed that far. */
		for (uint32_t j = 0; j < m; j++) {
			end += f[i + j].length;
			k->ends[(k->head + k->count) % k->cap] = end;
			k->count++;
		}
	}
	return 0;
}

/* Bytes the reader has taken out of the pipe so far.  If the pipe cannot
 * say, assume no progress — never "all read", which would free slots whose
 * pages are still queued; --encoder-timeout then ends a wait that lasts. */
static uint64_t consumed(struct sink *k)
{
	int inpipe = 0;

	if (!k->splice)
		return k->pushed;
	if (ioctl(k->fd, FIONREAD, &inpipe) < 0 || inpipe < 0 || (uint64_t)inpipe > k->pushed)
		return k->consumed_seen;
	return k->pushed - (uint64_t)inpipe;
}

uint32_t sink_done(struct sink *k)
{
	uint64_t c = consumed(k);
	uint32_t n = 0;

	if (!k->splice) {
		n = k->count;
		k->count = 0;
		return n;
	}
	if (c != k->consumed_seen) {
		k->consumed_seen = c;
		k->progress_ns = fb_now_ns();
		k->wait_ns = 0;
	}
	while (k->count > 0 && k->ends[k->head] <= c) {
		k->head = (k->head + 1) % k->cap;
		k->count--;
		n++;
	}
	return n;
}

int sink_wait(struct sink *k)
{
	struct pollfd pf[WATCH_N];
	nfds_t npf = watch_set(k, pf, 0); /* POLLERR: the reader is gone */
	struct timespec step = { 0, 0 };
	bool late;
	int r;

	if (consumed(k) == k->pushed)
		return 0;
	late = fb_now_ns() - k->progress_ns > (uint64_t)k->timeout_ms * 1000000ull;
	if (!late) {
		k->wait_ns = k->wait_ns ? k->wait_ns * 2 : WAIT_MIN_NS;
		if (k->wait_ns > WAIT_MAX_NS)
			k->wait_ns = WAIT_MAX_NS;
		step.tv_nsec = (long)k->wait_ns;
	}
	/* Even when late, look once: a reader that is gone is the better cause. */
	r = ppoll(pf, npf, &step, NULL);
	if (r < 0 && errno != EINTR)
		return -errno;
	if (r > 0 && (r = watch_result(pf)) != 0) {
		/* A reader that read everything and then exited has not lost
		 * a byte: report the frames done; its exit is judged later. */
		if (r != -EOWNERDEAD && consumed(k) == k->pushed)
			return 0;
		return r;
	}
	return late ? -ETIMEDOUT : 0;
}

int sink_check(const struct sink *k)
{
	struct pollfd pf[WATCH_N];
	int r = poll(pf, watch_set(k, pf, 0), 0);

	if (r < 0)
		return errno == EINTR ? 0 : -errno;
	return r > 0 ? watch_result(pf) : 0;
}
