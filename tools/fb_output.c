/* fb_output — refuse an output that would destroy an input or a segment. */
#include "fb_output.h"
#include "fb_segment.h"
#include "fb_source.h"
#include "fb_args.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Follow PATH while it is a symlink (a dangling one included), as open's
 * O_CREAT would, into OUT: where the file is or would be.  Stops at 40
 * links (ELOOP) or when a link does not fit. */
static void final_path(const char *path, char *out, size_t len)
{
	char link[PATH_MAX], dir[PATH_MAX];

	snprintf(out, len, "%s", path);
	for (int i = 0; i < 40; i++) {
		struct stat st;
		ssize_t n;
		int w;

		if (lstat(out, &st) < 0 || !S_ISLNK(st.st_mode))
			return;
		n = readlink(out, link, sizeof(link) - 1);
		if (n < 0)
			return;
		link[n] = '\0';
		snprintf(dir, sizeof(dir), "%s", out);
		w = link[0] == '/' ? snprintf(out, len, "%s", link)
				   : snprintf(out, len, "%s/%s", dirname(dir), link);
		if (w < 0 || (size_t)w >= len)
			return;
	}
}

static bool same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/* Does the regular file PATH start with the segment magic? */
static bool has_magic(const char *path)
{
	uint64_t magic = 0;
	int fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	bool yes;

	if (fd < 0)
		return false;
	yes = fb_pread_all(fd, &magic, sizeof(magic), 0) == 0 && magic == FB_MAGIC;
	close(fd);
	return yes;
}

/*
 * Is a file in directory DIR (FILE_DEV: the file's own device, or DIR's
 * for a file not yet created) in /dev/shm's shared memory?  When /dev/shm
 * is a mount of its own, anywhere on it; when it is a mere directory of
 * /dev's file system (some containers), only directly in it: /dev/null
 * and its neighbours must stay writable.
 */
static bool in_shm(const char *dir, dev_t file_dev)
{
	struct stat shm, up, d;

	if (stat(FB_SHM_DIR, &shm) < 0 || file_dev != shm.st_dev)
		return false;
	if (stat(FB_SHM_DIR "/..", &up) == 0 && up.st_dev != shm.st_dev)
		return true; /* a mount point: the whole file system is shm */
	return stat(dir, &d) == 0 && same_file(&d, &shm);
}

bool fb_output_names_fd(const char *path)
{
	static const char *const prefix[] = { "/dev/stdin", "/dev/stdout", "/dev/stderr", "/dev/fd/",
					      "/proc/self/fd/", "/proc/thread-self/fd/" };
	const char *p;

	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		if (strncmp(path, prefix[i], strlen(prefix[i])) == 0)
			return true;
	if (strncmp(path, "/proc/", 6) != 0)
		return false;
	p = path + 6 + strspn(path + 6, "0123456789");
	return p > path + 6 && strncmp(p, "/fd/", 4) == 0;
}

/* An executable regular file: access(X_OK) alone also passes a directory
 * (searchable), which execve then refuses. */
static bool executable(const char *path)
{
	struct stat st;

	return access(path, X_OK) == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

bool fb_output_which(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");
	int w;

	if (strchr(prog, '/')) {
		w = snprintf(out, len, "%s", prog);
		return w >= 0 && (size_t)w < len && executable(out);
	}
	if (!path)
		path = "/bin:/usr/bin"; /* glibc's execvp default (confstr _CS_PATH) */
	for (;;) {
		size_t n = strcspn(path, ":");

		w = snprintf(out, len, "%.*s/%s", n ? (int)n : 1, n ? path : ".", prog);
		if (w >= 0 && (size_t)w < len && executable(out))
			return true;
		if (!path[n])
			return false;
		path += n + 1;
	}
}

void fb_output_add(struct fb_output_inputs *l, const char *what, const char *path)
{
	if (l->n < FB_OUTPUT_MAX_INPUTS)
		l->in[l->n++] = (struct fb_output_input){ what, path };
}

/* A copy of the formatted string in L's store, or NULL when it is full. */
__attribute__((format(printf, 2, 3))) static const char *keep(struct fb_output_inputs *l,
							      const char *fmt, ...)
{
	size_t room = sizeof(l->store) - l->used;
	char *at = l->store + l->used;
	va_list ap;
	int w;

	va_start(ap, fmt);
	w = vsnprintf(at, room, fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= room)
		return NULL;
	l->used += (size_t)w + 1;
	return at;
}

/* Add PATH (kept by the caller) as WHAT when it is an existing regular
 * file: a directory, a device or a FIFO holds no bytes an O_TRUNC would
 * destroy (and -o /dev/null must stay possible beside 2>/dev/null). */
static void add_file(struct fb_output_inputs *l, const char *what, const char *path)
{
	struct stat st;

	if (what && path && *path && stat(path, &st) == 0 && S_ISREG(st.st_mode))
		fb_output_add(l, what, path);
}

/* Add the program PROG as execvp finds it, as WHAT. */
static void add_program(struct fb_output_inputs *l, const char *what, const char *prog)
{
	char found[PATH_MAX];

	if (fb_output_which(prog, found, sizeof(found)))
		add_file(l, what, keep(l, "%s", found));
}

/* How deep the kernel follows "#!" interpreters that are scripts
 * themselves (Linux: BINPRM_MAX_RECURSION); also what ends a loop. */
#define INTERP_DEPTH 4

/* The interpreter of PROG's "#!" line (the kernel runs it, reading PROG),
 * and what "#!/usr/bin/env [-OPTS] NAME" then runs, as WHAT; and theirs in
 * turn when they are scripts too, DEPTH levels down at most. */
static void add_interpreter(struct fb_output_inputs *l, const char *what, const char *prog,
			    int depth)
{
	char found[PATH_MAX], line[256], *word, *save = NULL;
	const char *interp;
	int fd = open(prog, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	const char *base;
	ssize_t n;

	if (fd < 0)
		return;
	n = read(fd, line, sizeof(line) - 1);
	close(fd);
	if (n < 2 || line[0] != '#' || line[1] != '!')
		return;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	word = strtok_r(line + 2, " \t", &save);
	if (!word)
		return;
	interp = keep(l, "%s", word);
	if (!interp)
		return;
	add_file(l, what, interp);
	if (depth > 1)
		add_interpreter(l, what, interp, depth - 1);
	base = strrchr(word, '/');
	if (strcmp(base ? base + 1 : word, "env") != 0)
		return;
	while ((word = strtok_r(NULL, " \t", &save)) && word[0] == '-')
		;
	if (word && !strchr(word, '=') && fb_output_which(word, found, sizeof(found))) {
		/* env execs it: its own "#!", counted in the same bound. */
		add_file(l, what, keep(l, "%s", found));
		if (depth > 1)
			add_interpreter(l, what, found, depth - 1);
	}
}

/* WORD as a file, and the FILE of an --opt=FILE (or a shell's VAR=FILE). */
static void add_word(struct fb_output_inputs *l, const char *what, const char *word)
{
	const char *eq = strchr(word, '=');

	add_file(l, what, word);
	if (eq)
		add_file(l, what, eq + 1);
}

/* The words of the shell command STRING, split as exec: would split it
 * (quotes honoured; an unterminated one: split at blanks), and split again
 * at shell operators (<in, >out, a|b, cmd;, (cmd) are files and programs
 * too): each a file, or a program on $PATH (for sh, any word may be one). */
static void add_shell_words(struct fb_output_inputs *l, const char *what, const char *string)
{
	struct fb_source *src = malloc(sizeof(*src));
	char spec[sizeof(src->words) + 8];

	if (!src)
		return;
	snprintf(spec, sizeof(spec), "exec:%s", string);
	if (fb_source_parse(spec, src)) {
		char *save = NULL, *w;
		int i = 0;

		snprintf(src->words, sizeof(src->words), "%s", string);
		for (w = strtok_r(src->words, " \t\n", &save); w && i < FB_SOURCE_MAX_ARGS;
		     w = strtok_r(NULL, " \t\n", &save))
			src->argv[i++] = w;
		src->argv[i] = NULL;
	}
	for (char **a = src->argv; *a; a++) {
		char *save = NULL;

		for (char *w = strtok_r(*a, "<>|&;()", &save); w; w = strtok_r(NULL, "<>|&;()", &save)) {
			const char *word = keep(l, "%s", w);

			if (!word)
				break;
			add_word(l, what, word);
			if (!strchr(word, '/'))
				add_program(l, what, word);
		}
	}
	free(src);
}

void fb_output_add_command(struct fb_output_inputs *l, const char *role, char *const argv[],
			   bool shell)
{
	char found[PATH_MAX];
	const char *what;

	if (!argv[0])
		return;
	add_program(l, keep(l, "the %s program", role), argv[0]);
	if (fb_output_which(argv[0], found, sizeof(found)))
		add_interpreter(l, keep(l, "the %s's interpreter", role), found,
				INTERP_DEPTH);
	if (shell) {
		if (argv[1] && argv[2])
			add_shell_words(l, keep(l, "the %s's sh: command's word", role),
					argv[2]);
		return;
	}
	what = keep(l, "the %s's argument", role);
	for (int i = 1; argv[i]; i++)
		add_word(l, what, argv[i]);
}

bool fb_output_forges_stats(const char *path)
{
	/* ffmpeg prints the output's name in its final statistics, which the
	 * encoder reads line by line: a newline in it could forge a line
	 * ("Input stream #0:0 (video): 99 packets read") and pass an output
	 * ended early. */
	return strchr(path, '\n') != NULL;
}

int fb_output_check(const char *output, const struct fb_output_input *inputs, size_t n,
		    const char *seg_name, char *why, size_t len)
{
	bool is_stdout = strcmp(output, "-") == 0;
	char final[PATH_MAX], dir[PATH_MAX];
	struct stat out, st;

	/* Where the file is, or would be created: a symlink (dangling or
	 * not) leads there, as O_CREAT would follow it. */
	final_path(is_stdout ? "/proc/self/fd/1" : output, final, sizeof(final));
	snprintf(dir, sizeof(dir), "%s", final);
	dirname(dir);
	/* "-": stdout is already open (the shell truncated it, unless it
	 * appends); what it is still decides whether we may write it. */
	if (is_stdout ? fstat(STDOUT_FILENO, &out) == 0 : stat(output, &out) == 0) {
		for (size_t i = 0; i < n; i++) {
			if (inputs[i].path && stat(inputs[i].path, &st) == 0 && same_file(&st, &out)) {
				snprintf(why, len, "it is %s %s (the same file): writing would destroy it",
					 inputs[i].what, inputs[i].path);
				return -1;
			}
		}
		if (seg_name && fb_shm_lstat(seg_name, &st) == 0 && same_file(&st, &out)) {
			snprintf(why, len, "it is the render's own segment %s", seg_name);
			return -1;
		}
		if (!S_ISREG(out.st_mode))
			return 0; /* a device, a FIFO, a socket: nobody's memory */
		if (in_shm(dir, out.st_dev)) {
			snprintf(why, len, "it is in " FB_SHM_DIR ", where every file is some process's "
				 "shared memory (a render's segment, perhaps)");
			return -1;
		}
		if (has_magic(is_stdout ? "/proc/self/fd/1" : output)) {
			snprintf(why, len, "it is a framebroker segment");
			return -1;
		}
		return 0;
	}
	if (is_stdout)
		return 0; /* stdout closed: the sink will say so */
	/* Not there (yet): judge the directory it would be created in. */
	if (stat(dir, &st) == 0 && in_shm(dir, st.st_dev)) {
		const char *base = strrchr(final, '/');

		if (seg_name && base && strcmp(base, seg_name) == 0)
			snprintf(why, len, "it is the render's own segment %s", seg_name);
		else
			snprintf(why, len, "it would be created in " FB_SHM_DIR ", where every name is "
				 "some process's shared memory, or may become one (a render's segment)");
		return -1;
	}
	return 0;
}
