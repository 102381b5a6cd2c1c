/*
 * stress — many fb-render runs with randomized parameters and chaos, each
 * checked byte for byte.
 *
 *   bin/fb-stress [--seconds N] [--seed S] [--renders N] [--plan P]
 *   (STRESS_SECONDS in the environment sets the default budget; 60 s)
 *
 * Each render draws, from its own seed: producers 1..16, slots 1..4, a
 * frame size (64-byte frames, small, or full HD), a frame count, random
 * per-frame delays in producers and in the raw sink, and a chaos plan:
 * SIGKILL random producers, SIGSTOP them and SIGCONT them later (or never,
 * leaving them to --frame-timeout).  The source is a file of pseudo-random
 * bytes generated here; the render (--sink raw, or a third of the time
 * through ffmpeg -f rawvideo with frames of 64 KiB and more, which the
 * encoder splices) must reproduce it exactly
 * and exit 0, within a deadline.  A quarter of the renders are --range A:B
 * chunks, whose output must be exactly frames A..B-1 of the source.  Half
 * of those through ffmpeg are segmented (--segment L, rawvideo in
 * Matroska, decoded back to raw frames for the check), and their chaos
 * also SIGKILLs the encoder's ffmpeg (at most twice a segment): each such
 * death costs its segment, rendered again in place (lib/fb_rewind.h).  A failure prints the render's seed and
 * parameters and plan seed; `--plan P` replays exactly that render.  The closing line reads
 * "stress: N passed, N failed".
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct rng {
	uint64_t s;
};

/* splitmix64: small, good enough, and reproducible from one seed. */
static uint64_t next(struct rng *r)
{
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t pick(struct rng *r, uint32_t lo, uint32_t hi) /* inclusive */
{
	return lo + (uint32_t)(next(r) % (hi - lo + 1));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct plan {
	uint64_t seed;
	uint32_t workers, slots, width, height, frames;
	const char *fmt;
	uint32_t bpp; /* bytes per pixel of fmt */
	uint32_t jitter_ms, sink_jitter_ms;
	uint32_t kill_every_ms; /* 0: no chaos */
	uint32_t stop_pct;      /* share of chaos events that SIGSTOP instead */
	uint32_t via_ffmpeg;    /* 1: through ffmpeg (-f rawvideo): the vmsplice path */
	uint32_t range_first, range_end; /* --range A:B of the frames; end 0: all */
	uint32_t segment; /* --segment L (through ffmpeg, whole renders); 0: none */
};

struct totals {
	unsigned renders, failures;
	unsigned long long frames, kills, stops, ffmpeg_kills;
};

static void make_plan(struct plan *p, uint64_t seed)
{
	struct rng r = { seed };
	uint32_t kind = pick(&r, 0, 9);

	p->seed = seed;
	p->workers = pick(&r, 1, 16);
	p->slots = pick(&r, 1, 4);
	if (kind < 5) { /* 64-byte frames: the handoff itself */
		p->width = 16;
		p->height = 4;
		p->fmt = "gray";
		p->bpp = 1;
		p->frames = pick(&r, 50, 600);
	} else if (kind < 9) { /* small frames, any packing */
		p->width = pick(&r, 8, 200);
		p->height = pick(&r, 8, 120);
		p->fmt = pick(&r, 0, 1) ? "rgb24" : "rgba";
		p->bpp = strcmp(p->fmt, "rgb24") == 0 ? 3 : 4;
		p->frames = pick(&r, 20, 200);
	} else { /* full HD: real page traffic */
		p->width = 1920;
		p->height = 1080;
		p->fmt = "rgba";
		p->bpp = 4;
		p->frames = pick(&r, 4, 16);
	}
	p->jitter_ms = pick(&r, 0, 3) == 0 ? pick(&r, 1, 8) : 0;
	p->sink_jitter_ms = pick(&r, 0, 3) == 0 ? pick(&r, 1, 5) : 0;
	p->kill_every_ms = pick(&r, 0, 2) ? pick(&r, 15, 120) : 0;
	p->stop_pct = pick(&r, 0, 40);
	/* Chaos needs time to land: make chaotic renders slow enough. */
	if (p->kill_every_ms && !p->jitter_ms)
		p->jitter_ms = 2;
	p->via_ffmpeg = pick(&r, 0, 2) == 0;
	/* Through ffmpeg, frames big enough to be spliced (>= 64 KiB), in few
	 * slots, so releases race ffmpeg's reads. */
	if (p->via_ffmpeg && kind < 9) {
		p->width = pick(&r, 128, 400);
		p->height = pick(&r, 128, 240);
		p->fmt = "rgba";
		p->bpp = 4;
	}
	/* A quarter are chunks: the output must be exactly frames A..B-1 of
	 * the source, reissued frames included. */
	p->range_first = p->range_end = 0;
	if (pick(&r, 0, 3) == 0) {
		p->range_first = pick(&r, 0, p->frames - 2);
		p->range_end = pick(&r, p->range_first + 1, p->frames);
	}
	p->segment = 0;
	if (p->via_ffmpeg && !p->range_end && pick(&r, 0, 1))
		p->segment = pick(&r, 2, p->frames / 2 > 2 ? p->frames / 2 : 2);
}

static int write_source(const char *path, const struct plan *p)
{
	uint64_t total = (uint64_t)p->width * p->height * p->bpp * p->frames;
	struct rng r = { p->seed ^ 0x5eedull };
	static uint64_t buf[8192];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	while (total > 0) {
		size_t n = total < sizeof(buf) ? (size_t)total : sizeof(buf);

		for (size_t i = 0; i < (n + 7) / 8; i++)
			buf[i] = next(&r);
		if (write(fd, buf, n) != (ssize_t)n) {
			close(fd);
			return -1;
		}
		total -= n;
	}
	return close(fd);
}

/* Is file B exactly bytes [OFF, OFF+LEN) of file A? */
static int files_equal(const char *a, uint64_t off, uint64_t len, const char *b)
{
	static char ba[1 << 16], bb[1 << 16];
	int fa = open(a, O_RDONLY | O_CLOEXEC), fb = open(b, O_RDONLY | O_CLOEXEC);
	int same = fa >= 0 && fb >= 0 && lseek(fa, (off_t)off, SEEK_SET) == (off_t)off;

	while (same) {
		size_t want = len < sizeof(ba) ? (size_t)len : sizeof(ba);
		ssize_t na, nb;

		if (want == 0) { /* B must end exactly where the range does */
			same = read(fb, bb, 1) == 0;
			break;
		}
		na = read(fa, ba, want);
		nb = read(fb, bb, want);
		if (na != nb || na <= 0 || memcmp(ba, bb, (size_t)na) != 0)
			same = 0;
		else
			len -= (uint64_t)na;
	}
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	return same;
}

/* Pids of PARENT's children whose command is COMM ("(fb-producer)"). */
static size_t children_of(pid_t parent, const char *comm, pid_t *out, size_t max)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	size_t n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		char path[300], buf[512], *p;
		int ppid, fd;
		ssize_t len;

		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		if (!strstr(buf, comm))
			continue;
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %d", &ppid) == 1 && ppid == parent)
			out[n++] = (pid_t)atoi(e->d_name);
	}
	closedir(d);
	return n;
}

/* SIGKILL RENDER's encoder's ffmpeg, if one runs: 1 if killed. */
static int kill_ffmpeg(pid_t render)
{
	pid_t enc[2], ff[4];

	if (children_of(render, "(fb-encoder)", enc, 2) != 1 ||
	    children_of(enc[0], "(ffmpeg)", ff, 4) != 1)
		return 0;
	return kill(ff[0], SIGKILL) == 0;
}

/* PID's line in a hung render's tree: pid, comm, state and wait channel. */
static void print_proc(FILE *f, pid_t pid, const char *indent)
{
	char path[64], stat[512] = "", wchan[64] = "?", *comm_end;
	FILE *in;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	if ((in = fopen(path, "re"))) {
		if (!fgets(stat, sizeof(stat), in))
			stat[0] = '\0';
		fclose(in);
	}
	snprintf(path, sizeof(path), "/proc/%d/wchan", (int)pid);
	if ((in = fopen(path, "re"))) {
		if (!fgets(wchan, sizeof(wchan), in))
			snprintf(wchan, sizeof(wchan), "?");
		fclose(in);
	}
	comm_end = strrchr(stat, ')');
	if (comm_end && comm_end[1] == ' ') {
		comm_end[1] = '\0';
		fprintf(f, "%s%s state %c, waiting in %s\n", indent, stat, comm_end[2], wchan);
	}
}

/* A hung render's tree, appended to its log before it is killed:
 * fb-render's children and theirs (the encoder's ffmpeg, a producer's
 * renderer), each with its state — whether any producer was left, and
 * who waits on what. */
static void log_tree(pid_t render, const char *log)
{
	FILE *f = fopen(log, "ae");
	pid_t kids[64], grand[16];
	size_t n;

	if (!f)
		return;
	n = children_of(render, "", kids, 64);
	fprintf(f, "stress: hung past its deadline; fb-render (%d) and its %zu children:\n",
		(int)render, n);
	print_proc(f, render, "  ");
	for (size_t i = 0; i < n; i++) {
		size_t m = children_of(kids[i], "", grand, 16);

		print_proc(f, kids[i], "    ");
		for (size_t j = 0; j < m; j++)
			print_proc(f, grand[j], "      ");
	}
	fclose(f);
}

/* One render's files, name and the producers its chaos left stopped. */
struct run {
	char src[PATH_MAX], out[PATH_MAX], raw[PATH_MAX], log[PATH_MAX], name[64], range[48];
	char seglen[16], plan[PATH_MAX + 32];
	pid_t stopped[64];
	size_t nstopped;
	long kills_segment;   /* the finished-segment count at the last ffmpeg kill */
	unsigned kills_in_it; /* ffmpeg kills since that count last moved */
};

/* Remove R's work directory (segments and plan), which a render that
 * failed or was killed keeps for --resume: the next render is a new one. */
static void remove_workdir(const struct run *r)
{
	char dir[PATH_MAX + 32];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s.fbsegments", r->out);
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			unlinkat(dirfd(d), e->d_name, 0);
	closedir(d);
	rmdir(dir);
}

/* How many segments R's render has finished: its plan's segment lines. */
static long segments_finished(const struct run *r)
{
	char line[256];
	long n = 0;
	FILE *f = fopen(r->plan, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		n += strncmp(line, "segment ", 8) == 0;
	fclose(f);
	return n;
}

/* SIGKILL R's ffmpeg, but at most twice in one segment: a killer quicker
 * than a segment would starve any render (each death costs its segment),
 * and what is tested is that a death costs no more.  1 if killed. */
static int kill_ffmpeg_fairly(pid_t render, struct run *r)
{
	long done = segments_finished(r);

	if (done != r->kills_segment) {
		r->kills_segment = done;
		r->kills_in_it = 0;
	}
	if (r->kills_in_it >= 2 || !kill_ffmpeg(render))
		return 0;
	r->kills_in_it++;
	return 1;
}

/* Start fb-render (from BINDIR) on plan P as R says; its pid (it execs
 * with stderr into R->log), or -1. */
static pid_t start_render(const struct plan *p, const char *bindir, const struct run *r)
{
	char render[PATH_MAX + 16], size[32], frames[16], workers[16], slots[16], jit[16];
	char sjit[16], source[PATH_MAX + 8];
	pid_t pid;
	int fd;

	snprintf(render, sizeof(render), "%s/fb-render", bindir);
	snprintf(size, sizeof(size), "%ux%u", p->width, p->height);
	snprintf(frames, sizeof(frames), "%u", p->frames);
	snprintf(workers, sizeof(workers), "%u", p->workers);
	snprintf(slots, sizeof(slots), "%u", p->slots);
	snprintf(jit, sizeof(jit), "%u", p->jitter_ms);
	snprintf(sjit, sizeof(sjit), "%u", p->sink_jitter_ms);
	snprintf(source, sizeof(source), "raw:%s", r->src);
	pid = fork();
	if (pid < 0)
		perror("stress: fork");
	if (pid != 0)
		return pid;
	char *argv[40] = { render, "--size", size, "--pix-fmt", (char *)p->fmt,
			   "--frames", frames, "--workers", workers, "--slots", slots,
			   "--source", source, "--sink", p->via_ffmpeg ? "ffmpeg" : "raw",
			   "-o", (char *)r->out, "--name", (char *)r->name,
			   "--jitter-ms", jit, "--sink-jitter-ms", sjit,
			   "--max-restarts", "100000", "--frame-timeout", "1" };
	int n = 0;

	while (argv[n])
		n++;
	if (p->range_end) {
		argv[n++] = "--range";
		argv[n++] = (char *)r->range;
	}
	if (p->segment) { /* joinable: rawvideo in Matroska, decoded for the check */
		argv[n++] = "--segment";
		argv[n++] = (char *)r->seglen;
		argv[n++] = "--";
		argv[n++] = "-c:v";
		argv[n++] = "rawvideo";
	} else if (p->via_ffmpeg) {
		argv[n++] = "--";
		argv[n++] = "-f";
		argv[n++] = "rawvideo";
	}
	argv[n] = NULL;
	fd = open(r->log, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		dup2(fd, STDERR_FILENO);
	execv(render, argv);
	_exit(127);
}

/* Wait for render PID, begun at START (ms), killing (or stopping, into
 * R->stopped) a random producer every p->kill_every_ms; past a generous
 * deadline it is killed.  Its wait status, or -1 if it hung. */
static int chaos_until_done(const struct plan *p, pid_t pid, uint64_t start, struct run *r,
			    struct totals *t)
{
	struct rng chaos = { p->seed ^ 0xc4a05ull };
	uint64_t deadline, next_chaos;
	int status = 0;

	/* Generous: frame count x slowest jitter, plus time for timeouts,
	 * plus an ffmpeg started (and maybe killed twice) for each segment. */
	deadline = start + 30000 + (uint64_t)p->frames * (p->jitter_ms + p->sink_jitter_ms + 2);
	if (p->segment)
		deadline += (uint64_t)(p->frames / p->segment + 1) * 1500;
	next_chaos = start + (p->kill_every_ms ? p->kill_every_ms : UINT32_MAX);
	while (waitpid(pid, &status, WNOHANG) == 0) {
		uint64_t now = now_ms();

		if (now > deadline) {
			log_tree(pid, r->log);
			kill(pid, SIGKILL); /* its children get PDEATHSIG */
			waitpid(pid, &status, 0);
			return -1;
		}
		if (now >= next_chaos) {
			pid_t victims[64];
			size_t n = children_of(pid, "(fb-producer)", victims, 64);

			if (p->segment && pick(&chaos, 0, 3) == 0) {
				t->ffmpeg_kills += (unsigned long long)kill_ffmpeg_fairly(pid, r);
			} else if (n > 0) {
				pid_t v = victims[pick(&chaos, 0, (uint32_t)n - 1)];

				if (pick(&chaos, 1, 100) <= p->stop_pct && r->nstopped < 64) {
					if (kill(v, SIGSTOP) == 0) {
						r->stopped[r->nstopped++] = v;
						t->stops++;
					}
				} else if (kill(v, SIGKILL) == 0) {
					t->kills++;
				}
			}
			/* Let most stopped ones go again; the broker kills
			 * the rest after --frame-timeout. */
			if (r->nstopped > 0 && pick(&chaos, 0, 2) > 0)
				kill(r->stopped[--r->nstopped], SIGCONT);
			next_chaos = now + p->kill_every_ms;
		}
		usleep(2000);
	}
	return status;
}

/* Say why render IDX of plan P failed, with the end of its log. */
static void report_failure(const struct plan *p, unsigned idx, const struct run *r, int status,
			   int left)
{
	char cmd[PATH_MAX + 64];

	printf("FAIL render %u (replay: bin/fb-stress --plan %llu): %ux%u %s K=%u S=%u N=%u range=%s jitter=%u sink-jitter=%u "
	       "chaos-every=%ums stop=%u%% sink=%s segment=%u: %s\n",
	       idx, (unsigned long long)p->seed, p->width, p->height, p->fmt, p->workers, p->slots,
	       p->frames, p->range_end ? r->range : "all", p->jitter_ms, p->sink_jitter_ms, p->kill_every_ms, p->stop_pct,
	       p->via_ffmpeg ? "ffmpeg" : "raw", p->segment,
	       status == -1 ? "hung past its deadline" :
	       status == -2 ? "ffmpeg could not decode the joined output" :
	       status != 0 ? "exit status non-zero" :
	       left ? "segment left in /dev/shm" : "output differs");
	snprintf(cmd, sizeof(cmd), "tail -%d %s | sed 's/^/    /'", status == -1 ? 40 : 5, r->log);
	fflush(stdout);
	if (system(cmd) < 0)
		perror("system");
}

/* A segmented render's output, R->out, decoded back into the raw frames
 * of pixel format FMT, R->raw, by ffmpeg: 0, or -1. */
static int decode(const struct run *r, const char *fmt)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execlp("ffmpeg", "ffmpeg", "-v", "error", "-y", "-i", r->out, "-f", "rawvideo",
		       "-pix_fmt", fmt, r->raw, (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

/* Run one render with its chaos; returns 1 if it passed. */
static int run_one(const struct plan *p, const char *bindir, const char *dir, unsigned idx,
		   struct totals *t)
{
	struct run r;
	uint64_t start = now_ms(), frame_bytes = (uint64_t)p->width * p->height * p->bpp;
	char shm[80];
	int status, ok, left;
	pid_t pid;

	memset(&r, 0, sizeof(r));
	snprintf(r.src, sizeof(r.src), "%s/src.raw", dir);
	snprintf(r.out, sizeof(r.out), "%s/out.%s", dir, p->segment ? "mkv" : "raw");
	snprintf(r.raw, sizeof(r.raw), "%s/out.raw", dir);
	snprintf(r.seglen, sizeof(r.seglen), "%u", p->segment);
	snprintf(r.plan, sizeof(r.plan), "%s.fbsegments/plan", r.out);
	snprintf(r.log, sizeof(r.log), "%s/render.log", dir);
	snprintf(r.name, sizeof(r.name), "/fbstress-%d-%u", (int)getpid(), idx);
	snprintf(r.range, sizeof(r.range), "%u:%u", p->range_first, p->range_end);
	if (write_source(r.src, p)) {
		fprintf(stderr, "stress: cannot write %s: %s\n", r.src, strerror(errno));
		return 0;
	}
	pid = start_render(p, bindir, &r);
	status = pid < 0 ? -1 : chaos_until_done(p, pid, start, &r, t);
	/* The name is ours (pid-scoped): whatever is left under it goes, and
	 * a render that ended well must not have left it. */
	snprintf(shm, sizeof(shm), "/dev/shm%s", r.name);
	left = unlink(shm) == 0;
	if (status == 0 && p->segment && decode(&r, p->fmt))
		status = -2;
	ok = status == 0 && !left &&
	     (p->range_end ? files_equal(r.src, p->range_first * frame_bytes,
					 (uint64_t)(p->range_end - p->range_first) * frame_bytes, r.raw)
			   : files_equal(r.src, 0, p->frames * frame_bytes, r.raw));
	if (!ok)
		report_failure(p, idx, &r, status, left);
	for (size_t i = 0; i < r.nstopped; i++)
		kill(r.stopped[i], SIGCONT);
	t->renders++;
	t->frames += p->frames;
	unlink(r.src);
	unlink(r.out);
	unlink(r.raw);
	unlink(r.log);
	remove_workdir(&r);
	return ok;
}

int main(int argc, char **argv)
{
	const char *env = getenv("STRESS_SECONDS");
	uint64_t seed = (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
	unsigned seconds = env ? (unsigned)atoi(env) : 60, max_renders = UINT32_MAX;
	uint64_t plan_seed = 0;
	int have_plan = 0;
	char self[PATH_MAX], bindir[PATH_MAX], dir[] = "/tmp/fb-stress.XXXXXX";
	struct totals t = { 0 };
	uint64_t end;
	ssize_t n;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--seconds") == 0 && i + 1 < argc)
			seconds = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc)
			seed = strtoull(argv[++i], NULL, 10);
		else if (strcmp(argv[i], "--renders") == 0 && i + 1 < argc)
			max_renders = (unsigned)atoi(argv[++i]);
		else if (strcmp(argv[i], "--plan") == 0 && i + 1 < argc) {
			plan_seed = strtoull(argv[++i], NULL, 10);
			have_plan = 1;
			max_renders = 1;
		}
		else {
			fprintf(stderr, "usage: fb-stress [--seconds N] [--seed S] [--renders N] [--plan P]\n");
			return 2;
		}
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0 || !mkdtemp(dir)) {
		perror("stress");
		return 1;
	}
	self[n] = '\0';
	snprintf(bindir, sizeof(bindir), "%.*s", (int)(strrchr(self, '/') - self), self);
	printf("stress: seed %llu, budget %u s (replay: bin/fb-stress --seed %llu)\n",
	       (unsigned long long)seed, seconds, (unsigned long long)seed);
	fflush(stdout);
	end = now_ms() + (uint64_t)seconds * 1000;
	for (unsigned i = 0; i < max_renders && now_ms() < end; i++) {
		struct plan p;
		struct rng r = { seed + i };

		make_plan(&p, have_plan ? plan_seed : next(&r));
		if (!run_one(&p, bindir, dir, i, &t))
			t.failures++;
	}
	rmdir(dir);
	printf("stress: %u renders, %llu frames, %llu kills, %llu stops, %llu ffmpeg kills, "
	       "%u failures\n", t.renders, t.frames, t.kills, t.stops, t.ffmpeg_kills, t.failures);
	printf("stress: %u passed, %u failed\n", t.renders - t.failures, t.failures);
	return t.failures ? 1 : 0;
}
