/* ffmpeg_sink — spawn, feed and reap the ffmpeg child. */
#include "ffmpeg_sink.h"
#include "ffmpeg_argv.h"
#include "fb_pixfmt.h"
#include "fb_util.h"

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/*
 * ENVIRON with FFREPORT naming the report memfd REP_FD, or NULL (ENOMEM).
 * ffmpeg opens it by our /proc path, so no descriptor has to survive a
 * wrapper, and it logs there at level 40 (verbose, the final statistics)
 * whatever -loglevel says; a FFREPORT of the user's is replaced.  Free
 * the array and *OURS (the FFREPORT entry).
 */
static char **report_env(int rep_fd, char **ours)
{
	size_t n = 0, k = 0;
	char **env;

	while (environ[n])
		n++;
	env = calloc(n + 2, sizeof(*env));
	if (!env || asprintf(ours, "FFREPORT=file=/proc/%d/fd/%d:level=40", (int)getpid(),
			     rep_fd) < 0) {
		free(env);
		return NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (strncmp(environ[i], "FFREPORT=", 9) != 0)
			env[k++] = environ[i];
	env[k++] = *ours;
	env[k] = NULL;
	return env;
}

static int spawn(struct ffmpeg_sink *s, char **argv, int in_rd)
{
	char *ours, **env = report_env(s->rep_fd, &ours);
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dfl;
	int rc;

	if (!env)
		return -ENOMEM;
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
	rc = posix_spawnp(&s->pid, argv[0], &fa, &at, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	free(ours);
	free(env);
	return -rc;
}

/* Start ffmpeg as ARGV: its stderr and report into memfds, its stdin a
 * pipe whose write end (non-blocking) is S->in_fd.  0 or -errno; on
 * failure nothing is left open. */
static int start_child(struct ffmpeg_sink *s, char **argv)
{
	int pipefd[2], rc;

	s->err_fd = memfd_create("ffmpeg-stderr", MFD_CLOEXEC);
	if (s->err_fd < 0)
		return -errno;
	s->rep_fd = memfd_create("ffmpeg-report", MFD_CLOEXEC);
	if (s->rep_fd < 0 || pipe2(pipefd, O_CLOEXEC) < 0) {
		rc = -errno;
		ffmpeg_sink_free(s);
		return rc;
	}
	rc = spawn(s, argv, pipefd[0]);
	close(pipefd[0]);
	if (rc) {
		close(pipefd[1]);
		ffmpeg_sink_free(s);
		return rc;
	}
	s->in_fd = pipefd[1];
	/* Our own child: its pid cannot be reused before we reap it.  Without
	 * pidfds (ENOSYS) the pipe's POLLERR still tells its death, unless a
	 * child of ffmpeg keeps the pipe open. */
	s->pid_fd = (int)syscall(SYS_pidfd_open, s->pid, 0);
	if (s->pid_fd >= 0)
		fcntl(s->pid_fd, F_SETFD, FD_CLOEXEC);
	/* Non-blocking, so a stalled ffmpeg is a timeout rather than a hang
	 * (sink.c polls it); a bigger pipe means fewer wake-ups per frame. */
	fcntl(s->in_fd, F_SETFL, O_WRONLY | O_NONBLOCK);
	fcntl(s->in_fd, F_SETPIPE_SZ, 1 << 20);
	return 0;
}

int ffmpeg_sink_start(struct ffmpeg_sink *s, const struct fb_geom *g,
		      char *const *out_opts, int n_opts, const char *output, const char *audio)
{
	struct ffmpeg_argv a;
	int rc = ffmpeg_argv_build(&a, g, out_opts, n_opts, output, audio);

	if (rc)
		return rc;
	s->frames = g->total_frames;
	return start_child(s, a.v);
}

/* How much of the memfd's end is read: the final statistics and the last
 * error lines are in it (x264's closing report is ~2 KiB). */
#define TAIL_MAX (64 * 1024)

/* The last TAIL_MAX bytes of ffmpeg's stderr, NUL-terminated (malloc'd), or
 * NULL. */
static char *read_tail(int fd)
{
	off_t end = lseek(fd, 0, SEEK_END);
	off_t start = end > TAIL_MAX ? end - TAIL_MAX : 0;
	char *buf;
	ssize_t n;

	if (end < 0 || !(buf = malloc(TAIL_MAX + 1)))
		return NULL;
	n = pread(fd, buf, TAIL_MAX, start);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	return buf;
}

/* LINE (NUL-terminated, "[ctx @ 0x..] [level] text" or "[level] text")
 * without its level tag, moved in place; the level in LEVEL.  The tag is
 * looked for only where ffmpeg puts it, at the start after at most two
 * contexts (a parent's and its own): a "[error] " inside a file name in
 * the text is no tag. */
static void untag(char *line, char *level, size_t level_len)
{
	static const char *const levels[] = { "quiet", "panic", "fatal", "error", "warning",
					      "info", "verbose", "debug", "trace" };
	char *p = line, *end;

	snprintf(level, level_len, "?");
	for (int ctx = 0; ctx < 2 && p[0] == '[' && (end = strstr(p, "] ")) != NULL; ctx++) {
		char *at = strstr(p, " @ 0x");

		if (!at || at > end)
			break;
		p = end + 2;
	}
	if (p[0] != '[')
		return;
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		size_t l = strlen(levels[i]);

		if (strncmp(p + 1, levels[i], l) == 0 && p[l + 1] == ']' && p[l + 2] == ' ') {
			snprintf(level, level_len, "%s", levels[i]);
			memmove(p, p + l + 3, strlen(p + l + 3) + 1);
			return;
		}
	}
}

/* Is LINE (untagged, tagged LEVEL) an error of the render's?  Not the
 * report's "Failed to open report" (its statistics are on stderr too),
 * nor the warning ffmpeg logs at error level for a user's -vsync/-fps_mode
 * passthrough only because of the output -r we add: that -r is the input's
 * own exact rate, so passthrough timestamps stay exact. */
static bool is_error(const char *line, const char *level)
{
	if (strcmp(level, "error") != 0 && strcmp(level, "fatal") != 0 &&
	    strcmp(level, "panic") != 0)
		return false;
	if (strncmp(line, "Failed to open report", 21) == 0)
		return false;
	if (strncmp(line, "Using -", 7) == 0 &&
	    strstr(line, " passthrough and -r/-fpsmax can produce invalid output files"))
		return false;
	return true;
}

/* Append LINE to the quote LINES (a sliding window: the oldest lines are
 * dropped to fit). */
static void keep_line(char *lines, size_t size, const char *line, size_t len)
{
	size_t ql = strlen(lines);

	if (ql + len + 3 >= size) { /* drop the oldest lines */
		char *cut = lines;

		while (cut && strlen(cut) + len + 3 >= size)
			cut = strstr(cut + 1, " | ") ? strstr(cut + 1, " | ") + 3 : NULL;
		if (cut)
			memmove(lines, cut, strlen(cut) + 1);
		else
			lines[0] = '\0';
		ql = strlen(lines);
	}
	snprintf(lines + ql, size - ql, "%s%.*s", ql ? " | " : "", (int)(size - ql - 4), line);
}

/* The memfd FD's last error lines into LINES (SIZE: 320), its last
 * progress line into FRAME (160); also its untagged lines unless
 * TAGGED_ONLY (the report: its header and command line are untagged).
 * True if a line is tagged error, fatal or panic. */
static bool scan(int fd, bool tagged_only, char *lines, size_t size, char *frame, size_t fsize)
{
	char *buf = read_tail(fd), *line, *save = NULL, level[16];
	bool tagged_err = false;
	size_t len;

	if (!buf)
		return false;
	for (line = strtok_r(buf, "\n\r", &save); line; line = strtok_r(NULL, "\n\r", &save)) {
		bool err;

		untag(line, level, sizeof(level));
		while (*line == ' ')
			line++;
		len = strlen(line);
		while (len > 0 && line[len - 1] == ' ')
			line[--len] = '\0';
		/* The report's own announcement (two untagged lines) is noise. */
		if (len == 0 || strncmp(line, "Report written to \"", 19) == 0 ||
		    strncmp(line, "Log level: ", 11) == 0)
			continue;
		err = is_error(line, level);
		tagged_err |= err;
		/* Untagged: the user's own -loglevel dropped the tags; quoted,
		 * but not taken for an error. */
		if (err || (!tagged_only && strcmp(level, "?") == 0))
			keep_line(lines, size, line, len);
		else if (strncmp(line, "frame=", 6) == 0)
			snprintf(frame, fsize, "%s", line);
	}
	free(buf);
	return tagged_err;
}

/* ffmpeg_sink_quote into WHY; true if ffmpeg logged a line tagged error,
 * fatal or panic.  Stderr's lines first (the report leaves some untagged:
 * "Unrecognized option"); else the report's, which has the error lines
 * even when the user's -loglevel quiet or fatal hides them from stderr. */
static bool quote(const struct ffmpeg_sink *s, char *why, size_t why_len)
{
	char lines[320] = "", frame[160] = "", elines[320] = "", eframe[160] = "";
	bool rep_err = s->rep_fd >= 0 &&
		       scan(s->rep_fd, true, lines, sizeof(lines), frame, sizeof(frame));
	bool err_err = scan(s->err_fd, false, elines, sizeof(elines), eframe, sizeof(eframe));
	size_t len = strlen(why);

	if (err_err || !rep_err) { /* stderr's: its untagged lines too */
		memcpy(lines, elines, sizeof(lines));
		if (eframe[0] || !frame[0])
			memcpy(frame, eframe, sizeof(frame));
	}
	if (lines[0])
		snprintf(why + len, why_len - len, ": %s", lines);
	else if (frame[0])
		snprintf(why + len, why_len - len, "; its last report: %s", frame);
	else
		snprintf(why + len, why_len - len, "; it printed no error");
	return rep_err || err_err;
}

void ffmpeg_sink_quote(const struct ffmpeg_sink *s, char *why, size_t why_len)
{
	quote(s, why, why_len);
}

/* LINE without a level tag at its very start ("[verbose] "): ffmpeg's own
 * statistics lines have no context ("[ctx @ 0x..]"), and a tag elsewhere
 * may be a file name's text. */
static const char *skip_tag(const char *line)
{
	static const char *const levels[] = { "[panic] ", "[fatal] ", "[error] ", "[warning] ",
					      "[info] ", "[verbose] ", "[debug] ", "[trace] " };

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strncmp(line, levels[i], strlen(levels[i])) == 0)
			return line + strlen(levels[i]);
	return line;
}

/*
 * ffmpeg's final statistics of its pipe:0 video in the memfd FD: the frames
 * it decoded, or the packets it read if it decoded none (a stream copy),
 * into *COUNT.  0, or -1 if FD does not hold them.  Read by line: a whole
 * line "Input file #0 (pipe:0):" followed by a line "  Input stream #0:0
 * (video): N packets read", the last such pair.  The output's name, in a
 * later "Output file #0 (NAME):" line, cannot forge either (no line starts
 * with it, and a name with a newline is refused: fb_output_forges_stats).
 */
static int input_count(int fd, long long *count)
{
	static const char file[] = "Input file #0 (pipe:0):";
	static const char stream[] = "  Input stream #0:0 (video): ";
	char *buf = read_tail(fd), *line, *next;
	bool after_file = false;
	int rc = -1;

	if (!buf)
		return -1;
	for (line = buf; line; line = next) {
		const char *t;
		long long packets, frames;
		int at = 0;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		t = skip_tag(line);
		if (after_file && strncmp(t, stream, sizeof(stream) - 1) == 0 &&
		    sscanf(t + sizeof(stream) - 1, "%lld packets read (%*[0-9] bytes); %n", &packets,
			   &at) == 1 &&
		    at > 0) {
			*count = sscanf(t + sizeof(stream) - 1 + at, "%lld frames decoded", &frames) == 1 ?
					 frames : packets;
			rc = 0;
		}
		after_file = strcmp(t, file) == 0;
	}
	free(buf);
	return rc;
}

/* Wait up to TIMEOUT_MS for ffmpeg to exit, and for at most GRACE_MS once
 * STOP_FD is readable (a stop request: s->stopped); SIGKILL it after that
 * (true: we killed it).
 * The stop must be watched here: the whole render may sit in the pipe
 * while ffmpeg waits to open its output (a FIFO nobody reads), and the
 * encoder's SIGTERM is then all that can end it. */
static bool exit_or_kill(struct ffmpeg_sink *s, int timeout_ms, int stop_fd, int grace_ms)
{
	struct pollfd p[2] = { { .fd = s->pid_fd, .events = POLLIN },
			       { .fd = stop_fd, .events = POLLIN } };
	uint64_t end = fb_now_ns() + (uint64_t)timeout_ms * 1000000ull;

	if (p[0].fd < 0)
		return false; /* waitpid below blocks instead */
	for (;;) {
		uint64_t now = fb_now_ns();
		int r = poll(p, 2, now >= end ? 0 : (int)((end - now + 999999) / 1000000));

		if (r < 0 && errno == EINTR)
			continue;
		if (r > 0 && (p[0].revents & POLLIN))
			return false;
		if (r > 0 && p[1].revents) {
			s->stopped = true;
			p[1].fd = -1; /* left pending for the encoder's own look */
			if (end > now + (uint64_t)grace_ms * 1000000ull)
				end = now + (uint64_t)grace_ms * 1000000ull;
			continue;
		}
		break; /* the time is up (or poll failed) */
	}
	kill(s->pid, SIGKILL);
	return true;
}

/* ffmpeg exited 0: did it take the render's frames and the end marker,
 * logging no error?  0, or -1 with WHY filled (its lines quoted). */
static int judge(struct ffmpeg_sink *s, char *why, size_t why_len)
{
	const unsigned long long n = (unsigned long long)s->frames;

	s->stats_from = "report";
	if (input_count(s->rep_fd, &s->decoded)) {
		s->stats_from = "stderr";
		if (input_count(s->err_fd, &s->decoded)) {
			s->stats_from = NULL;
			snprintf(why, why_len, "ffmpeg exited 0 but its final statistics are missing "
				 "(FFREPORT and stderr at -loglevel verbose), so nothing says it read "
				 "every frame");
			quote(s, why, why_len);
			return -1;
		}
	}
	if (s->decoded > (long long)n) {
		/* Some ffmpeg versions exit 0 after failing to write the
		 * file (ffmpeg 5.1: "Error writing trailer"). */
		snprintf(why, why_len, "ffmpeg exited 0 but reported errors");
		return quote(s, why, why_len) ? -1 : 0;
	}
	if (s->decoded < (long long)n)
		snprintf(why, why_len, "ffmpeg exited 0 but stopped reading its input after %lld of "
			 "%llu frames; do output options such as -t or -frames end it early?",
			 s->decoded < 0 ? 0 : s->decoded, n);
	else
		snprintf(why, why_len, "ffmpeg exited 0 but stopped reading its input before its end, "
			 "after all %llu frames; do output options such as -t or -frames end it early?",
			 n);
	quote(s, why, why_len);
	return -1;
}

int ffmpeg_sink_finish(struct ffmpeg_sink *s, int timeout_ms, int stop_fd, int grace_ms,
		       char *why, size_t why_len)
{
	bool killed;
	int status;
	pid_t r;

	s->signo = 0;
	s->decoded = -1;
	s->stats_from = NULL;
	s->stopped = false;
	if (s->in_fd >= 0)
		close(s->in_fd);
	s->in_fd = -1;
	killed = exit_or_kill(s, timeout_ms, stop_fd, grace_ms);
	do
		r = waitpid(s->pid, &status, 0);
	while (r < 0 && errno == EINTR);
	if (s->pid_fd >= 0)
		close(s->pid_fd);
	s->pid_fd = -1;
	if (r < 0) {
		snprintf(why, why_len, "waiting for ffmpeg: %s", strerror(errno));
		return -1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return judge(s, why, why_len);
	if (WIFEXITED(status))
		snprintf(why, why_len, "ffmpeg exited with status %d", WEXITSTATUS(status));
	else if (killed && !s->stopped)
		snprintf(why, why_len, "ffmpeg had not exited %d s after its input ended: killed",
			 (timeout_ms + 999) / 1000);
	else
		snprintf(why, why_len, "ffmpeg killed by signal %d", WTERMSIG(status));
	if (WIFSIGNALED(status) && !killed)
		s->signo = WTERMSIG(status);
	ffmpeg_sink_quote(s, why, why_len);
	return -1;
}

void ffmpeg_sink_kill(struct ffmpeg_sink *s)
{
	pid_t r;

	if (s->in_fd >= 0)
		close(s->in_fd);
	s->in_fd = -1;
	kill(s->pid, SIGKILL);
	do
		r = waitpid(s->pid, NULL, 0);
	while (r < 0 && errno == EINTR);
	if (s->pid_fd >= 0)
		close(s->pid_fd);
	s->pid_fd = -1;
}

void ffmpeg_sink_free(struct ffmpeg_sink *s)
{
	if (s->err_fd >= 0)
		close(s->err_fd);
	if (s->rep_fd >= 0)
		close(s->rep_fd);
	s->err_fd = s->rep_fd = -1;
}

int ffmpeg_sink_marker_frames(const struct fb_geom *g)
{
	return g->frame_format == FB_FRAME_RAW ? 1 : 16;
}
