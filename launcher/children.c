/* children — start, reap, replace and end fb-render's children (children.h). */
#include "children.h"
#include "spawn.h"
#include "fb_args.h"
#include "fb_stats.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define PROG "fb-render"

int children_init(struct children *ch, const struct render_opts *o)
{
	char exe[PATH_MAX];
	ssize_t n;

	memset(ch, 0, sizeof(*ch));
	ch->o = o;
	ch->seg_fd = -1;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n < 0)
		return -1;
	exe[n] = '\0';
	snprintf(ch->bindir, sizeof(ch->bindir), "%s", dirname(exe));
	if (o->attach)
		snprintf(ch->producer_label, sizeof(ch->producer_label), "producer '%.60s'",
			 o->source + 7);
	return 0;
}

int children_alloc(struct children *ch)
{
	ch->kids = calloc(2 + (size_t)ch->o->workers + ch->o->max_restarts, sizeof(*ch->kids));
	return ch->kids ? 0 : -1;
}

const char *children_name(const struct children *ch, enum role role)
{
	switch (role) {
	case ROLE_BROKER:
		return "fb-broker";
	case ROLE_ENCODER:
		return "fb-encoder";
	case ROLE_PRODUCER:
		return ch->o->attach ? ch->producer_label : "fb-producer";
	default:
		return "child";
	}
}

bool children_running(const struct children *ch)
{
	for (size_t i = 0; i < ch->nkids; i++)
		if (ch->kids[i].running)
			return true;
	return false;
}

struct child *children_broker(struct children *ch)
{
	return ch->nkids > 0 ? &ch->kids[0] : NULL;
}

void children_signal_producers(struct children *ch, int sig)
{
	for (size_t i = 0; i < ch->nkids; i++)
		if (ch->kids[i].role == ROLE_PRODUCER && ch->kids[i].running)
			kill(ch->kids[i].pid, sig);
}

/* Start our program ARGV[0] (from bindir) as a child of ROLE. */
static int start(struct children *ch, enum role role, char **argv, int keep_fd, char *cause,
		 size_t len)
{
	char path[PATH_MAX + 32];
	pid_t pid;

	snprintf(path, sizeof(path), "%s/%s", ch->bindir, argv[0]);
	/* argv[0] = the full path, so `ps`/`pgrep -f` show which build runs. */
	argv[0] = path;
	pid = fb_spawn(path, argv, ch->pgid, keep_fd);
	if (pid < 0) {
		snprintf(cause, len, "cannot start %s: %s", argv[0], strerror((int)-pid));
		return -1;
	}
	if (!ch->pgid)
		ch->pgid = pid;
	ch->kids[ch->nkids++] = (struct child){ .pid = pid, .role = role, .running = true };
	return 0;
}

int children_start_broker(struct children *ch, int *ready_fd, char *cause, size_t len)
{
	const struct render_opts *o = ch->o;
	struct fb_params_argv_buf pbuf;
	char fdbuf[16], ftmo[16], etmo[16];
	char *argv[10 + FB_PARAMS_ARGV_MAX];
	int pfd[2], n = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0) {
		snprintf(cause, len, "pipe: %s", strerror(errno));
		return -1;
	}
	snprintf(fdbuf, sizeof(fdbuf), "%d", pfd[1]);
	snprintf(ftmo, sizeof(ftmo), "%u", o->frame_timeout_s);
	/* The broker watches that the encoder makes progress (it may be
	 * stopped), on the same bound the encoder holds ffmpeg to. */
	snprintf(etmo, sizeof(etmo), "%u", o->sink.encoder_timeout_s);
	argv[n++] = "fb-broker";
	argv[n++] = "--name";
	argv[n++] = (char *)o->name;
	n += fb_params_argv(&o->params, argv + n, &pbuf);
	argv[n++] = "--ready-fd";
	argv[n++] = fdbuf;
	argv[n++] = "--frame-timeout";
	argv[n++] = ftmo;
	argv[n++] = "--encoder-timeout";
	argv[n++] = etmo;
	argv[n] = NULL;
	if (start(ch, ROLE_BROKER, argv, pfd[1], cause, len)) {
		close(pfd[0]);
		close(pfd[1]);
		return -1;
	}
	close(pfd[1]);
	*ready_fd = pfd[0];
	return 0;
}

enum ready children_read_ready(int fd, char *buf, size_t *got)
{
	ssize_t n = read(fd, buf + *got, 8 - *got);

	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return READY_WAIT;
	if (n <= 0)
		return READY_NO;
	*got += (size_t)n;
	if (*got < 6)
		return READY_WAIT;
	return *got == 6 && memcmp(buf, "ready\n", 6) == 0 ? READY_YES : READY_NO;
}

/*
 * CMD's environment: ours, with FB_SEGMENT=/NAME and FB_FD=N, the segment
 * descriptor it inherits (what fb_attach(NULL, ...) reads: the descriptor,
 * because a producer started after a short render ended would find the
 * name already unlinked).
 */
static int attach_env(struct children *ch, char *cause, size_t len)
{
	size_t n = 0, k = 0;

	while (environ[n])
		n++;
	ch->attach_env = calloc(n + 3, sizeof(char *));
	if (!ch->attach_env) {
		snprintf(cause, len, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FB_SEGMENT=", 11) != 0 && strncmp(environ[i], "FB_FD=", 6) != 0)
			ch->attach_env[k++] = environ[i];
	snprintf(ch->env_segment, sizeof(ch->env_segment), "FB_SEGMENT=%s", ch->o->name);
	snprintf(ch->env_fd, sizeof(ch->env_fd), "FB_FD=%d", ch->seg_fd);
	ch->attach_env[k++] = ch->env_segment;
	ch->attach_env[k++] = ch->env_fd;
	ch->attach_env[k] = NULL;
	return 0;
}

/* attach:CMD: the producer is CMD itself, started like our programs (the
 * render's group, parent-death signal, the segment descriptor kept open)
 * and supervised, reissued and replaced exactly like fb-producer. */
static int start_attached(struct children *ch, char *cause, size_t len)
{
	pid_t pid = fb_spawn_cmd(ch->o->src.argv[0], ch->o->src.argv, ch->attach_env, ch->pgid,
				 ch->seg_fd);

	if (pid < 0) {
		snprintf(cause, len, "cannot start %s: %s", ch->producer_label, strerror((int)-pid));
		return -1;
	}
	ch->kids[ch->nkids++] = (struct child){ .pid = pid, .role = ROLE_PRODUCER, .running = true,
						.started_ns = fb_now_ns() };
	return 0;
}

static int start_producer(struct children *ch, char *cause, size_t len)
{
	const struct render_opts *o = ch->o;
	char delay[16], jitter[16], cpu[16];
	char *argv[] = { "fb-producer", "--name", (char *)o->name, "--fd", ch->seg_fd_arg,
			 "--source", (char *)o->source, "--delay-ms", delay,
			 "--jitter-ms", jitter, "--cpu-us", cpu, NULL };

	if (o->attach)
		return start_attached(ch, cause, len);
	snprintf(delay, sizeof(delay), "%u", o->delay_ms);
	snprintf(cpu, sizeof(cpu), "%u", o->cpu_us);
	snprintf(jitter, sizeof(jitter), "%u", o->jitter_ms);
	return start(ch, ROLE_PRODUCER, argv, ch->seg_fd, cause, len);
}

/* Workers attach through an inherited descriptor rather than the name: a
 * producer that starts after a short render finished (and the broker
 * unlinked the name) then still attaches, sees DONE and exits 0. */
static int open_segment(struct children *ch, char *cause, size_t len)
{
	struct stat st;
	int fd = fb_shm_open(ch->o->name, O_RDWR, 0, &st);

	if (fd < 0) {
		snprintf(cause, len, "cannot open segment %s: %s", ch->o->name,
			 fd == -FB_ENOTSEG ? "not a regular file" : strerror(-fd));
		return -1;
	}
	/* What the name must still name when we unlink it at the end: no
	 * header field needed, so a scribbled header cannot stop it. */
	ch->seg_fd = fd;
	ch->seg_known = true;
	ch->seg_dev = (uint64_t)st.st_dev;
	ch->seg_ino = (uint64_t)st.st_ino;
	snprintf(ch->seg_fd_arg, sizeof(ch->seg_fd_arg), "%d", fd);
	return 0;
}

int children_start_workers(struct children *ch, char *cause, size_t len)
{
	const struct render_opts *o = ch->o;
	char *argv[14 + FB_CLI_SINK_ARGV_MAX + 64 + 2], tmo[16], jitter[16], segs[24], restarts[16];
	int n = 0;

	if (open_segment(ch, cause, len))
		return -1;
	argv[n++] = "fb-encoder";
	argv[n++] = "--name";
	argv[n++] = (char *)o->name;
	argv[n++] = "--fd";
	argv[n++] = ch->seg_fd_arg;
	n += fb_cli_sink_argv(&o->sink, argv + n, tmo);
	snprintf(jitter, sizeof(jitter), "%u", o->sink_jitter_ms);
	argv[n++] = "--jitter-ms";
	argv[n++] = jitter;
	/* A segmented render (workdir.h): only then, so an encoder without
	 * these options still runs every other render. */
	if (o->seg_frames) {
		snprintf(segs, sizeof(segs), "%llu", (unsigned long long)o->seg_frames);
		snprintf(restarts, sizeof(restarts), "%u", o->max_restarts);
		argv[n++] = "--segment-frames";
		argv[n++] = segs;
		argv[n++] = "--segment-dir";
		argv[n++] = (char *)o->seg_dir;
		argv[n++] = "--max-restarts";
		argv[n++] = restarts;
	}
	if (o->ff_opts) {
		argv[n++] = "--";
		for (int i = 0; i < o->n_ff_opts; i++)
			argv[n++] = o->ff_opts[i];
	}
	argv[n] = NULL;
	if (start(ch, ROLE_ENCODER, argv, ch->seg_fd, cause, len))
		return -1;
	if (o->attach && attach_env(ch, cause, len))
		return -1;
	for (uint32_t i = 0; i < o->workers; i++)
		if (start_producer(ch, cause, len))
			return -1;
	return 0;
}

enum reap children_reap(struct children *ch, struct child **k, int *status)
{
	struct child *b = children_broker(ch);
	pid_t pid = 0;

	/* The broker first, when it has exited: a worker that saw it die
	 * exits after it (silently, under us: fb_supervised), so its death
	 * is the render's first cause, whatever order the kernel reports. */
	if (b && b->running)
		pid = waitpid(b->pid, status, WNOHANG);
	if (pid <= 0)
		pid = waitpid(-1, status, WNOHANG);

	if (pid < 0 && errno == ECHILD)
		return REAP_ALL_GONE;
	if (pid <= 0)
		return REAP_NONE;
	/* One status, one child: the caller may start a replacement that
	 * reuses this very pid. */
	for (size_t i = 0; i < ch->nkids; i++) {
		if (ch->kids[i].pid == pid && ch->kids[i].running) {
			ch->kids[i].running = false;
			*k = &ch->kids[i];
			return REAP_OURS;
		}
	}
	return REAP_OTHER;
}

enum replace children_replace(struct children *ch, const struct child *k, const char *how,
			      char *cause, size_t len)
{
	const char *name = children_name(ch, k->role);

	if (!fb_stats_frames_left(ch->seg_fd, k->pid) &&
	    !(ch->o->seg_frames && fb_stats_unemitted(ch->seg_fd))) {
		fb_warn(PROG, "%s (pid %d) %s after the last frame was taken; no replacement needed",
			name, (int)k->pid, how);
		return REPLACE_NOT_NEEDED;
	}
	if (ch->restarts >= ch->o->max_restarts) {
		snprintf(cause, len, "%s (pid %d) %s; no restarts left (--max-restarts %u)", name,
			 (int)k->pid, how, ch->o->max_restarts);
		return REPLACE_FAILED;
	}
	ch->restarts++;
	/* Where fb-stat and the status line see it. */
	(void)fb_stats_set_restarts(ch->seg_fd, ch->restarts);
	fb_warn(PROG, "%s (pid %d) %s; starting a replacement (restart %u of %u)", name,
		(int)k->pid, how, ch->restarts, ch->o->max_restarts);
	return start_producer(ch, cause, len) ? REPLACE_FAILED : REPLACE_DONE;
}

void children_free(struct children *ch)
{
	if (ch->seg_fd >= 0)
		close(ch->seg_fd);
	ch->seg_fd = -1;
	/* The broker unlinks on every path it controls; this covers the
	 * broker itself being killed.  Only the very object we opened (its
	 * header may be scribbled: the inode is ours to know); without one,
	 * only a segment whose header names our broker (written before the
	 * memory is reserved). */
	if (ch->seg_known)
		fb_shm_unlink_same(ch->o->name, ch->seg_dev, ch->seg_ino);
	else if (ch->nkids > 0)
		fb_seg_unlink_owned(ch->o->name, ch->kids[0].pid);
	free(ch->kids);
	free(ch->attach_env);
	ch->kids = NULL;
	ch->attach_env = NULL;
}
