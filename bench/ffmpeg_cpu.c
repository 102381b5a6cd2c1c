/*
 * ffmpeg_cpu — a stand-in "ffmpeg" for make bench that runs the real one and
 * records its CPU time, so a row can report the transport's CPU cost apart
 * from ffmpeg's.  bench.py puts the directory holding this binary (named
 * "ffmpeg") first on PATH; fb-encoder and the Node.js script then start it
 * like any ffmpeg.  It runs FB_BENCH_REAL_FFMPEG with the same argv and
 * descriptors, waits, appends "USER_S SYS_S" to FB_BENCH_FFMPEG_CPU, and
 * exits with ffmpeg's status.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	const char *real = getenv("FB_BENCH_REAL_FFMPEG");
	const char *log = getenv("FB_BENCH_FFMPEG_CPU");
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *f;

	(void)argc;
	if (!real || !log) {
		fprintf(stderr, "ffmpeg_cpu: FB_BENCH_REAL_FFMPEG and FB_BENCH_FFMPEG_CPU must be set\n");
		return 127;
	}
	pid = fork();
	if (pid < 0) {
		perror("ffmpeg_cpu: fork");
		return 127;
	}
	if (pid == 0) {
		argv[0] = (char *)real;
		execv(real, argv);
		perror("ffmpeg_cpu: exec");
		_exit(127);
	}
	/* Signals meant for ffmpeg (a stop request) reach us first: pass on. */
	signal(SIGINT, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	while (wait4(pid, &status, 0, &ru) < 0)
		if (errno != EINTR)
			return 127;
	f = fopen(log, "a");
	if (f) {
		fprintf(f, "%ld.%06ld %ld.%06ld\n", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec,
			(long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
		fclose(f);
	}
	if (WIFSIGNALED(status)) {
		signal(WTERMSIG(status), SIG_DFL);
		raise(WTERMSIG(status));
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : 127;
}
