/*
 * fb_output — may a render write its output file?  Checked before anything
 * is created (fb-render's preflight, fb-encoder's start), because writing
 * starts with O_TRUNC: an output that is one of the render's own inputs
 * would be destroyed before a frame is read, and one that is a live
 * segment would be truncated under every process that maps it (SIGBUS).
 */
#ifndef FB_OUTPUT_H
#define FB_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>

/* A file the render reads: WHAT names it in messages ("the raw: source"). */
struct fb_output_input {
	const char *what;
	const char *path;
};

/*
 * Every file a render reads, to be refused as an output: the raw: source,
 * the --audio file, and what its renderer or producer command reads.  The
 * paths are the caller's, or kept in STORE (programs found on $PATH).
 * Sized for the most a command can name: FB_SOURCE_MAX_ARGS words, each a
 * file, an --opt=FILE and a program on $PATH, plus the interpreters.
 */
#define FB_OUTPUT_MAX_INPUTS 224

struct fb_output_inputs {
	struct fb_output_input in[FB_OUTPUT_MAX_INPUTS];
	size_t n;
	char store[16384];
	size_t used;
};

/* Add WHAT, PATH (kept by the caller) to L; full: dropped. */
void fb_output_add(struct fb_output_inputs *l, const char *what, const char *path);

/*
 * Add to L every existing regular file the command ARGV reads when run as
 * execvp(ARGV[0], ARGV) (ROLE, "renderer" or "producer", names it in the
 * messages): the program as execvp finds it on $PATH, the interpreter of
 * its "#!" line (and what "#!/usr/bin/env NAME" runs), and every argument
 * that names a file (of "--opt=FILE", FILE too).  For ARGV = sh -c STRING
 * (SHELL), the words of STRING, best effort — split as exec: splits a
 * command, no expansion, shell operators stripped: each word that names a
 * file, or a program on $PATH.  Words that name nothing are not inputs:
 * only what exists can be destroyed.
 */
void fb_output_add_command(struct fb_output_inputs *l, const char *role, char *const argv[],
			   bool shell);

/*
 * Where execvp would find PROG into OUT: PROG itself when it holds a '/',
 * else the first executable regular file PROG in a directory of $PATH
 * (unset: execvp's default /bin:/usr/bin; an empty entry: the current
 * directory).  False when there is none.
 */
bool fb_output_which(const char *prog, char *out, size_t len);

/*
 * Refuse OUTPUT ("-": what stdout is open on) when it is, or would be
 * created as:
 *   - any of the N INPUTS, compared by inode (so a hard link or a symlink
 *     to it is caught too, whichever of the two is the link);
 *   - the render's own segment SEG_NAME (may be NULL), existing or not;
 *   - anything in /dev/shm's file system, existing or not: every name there
 *     is, or may at any moment become, some process's shared memory
 *     (another render's segment, a browser's buffers), and truncating or
 *     filling it harms them; a video has no business there;
 *   - an existing regular file that starts with the framebroker magic, on
 *     any file system (a segment reached some other way).
 * A dangling symlink is followed to where the file would be created.
 * Returns 0, or -1 with a one-line reason in WHY ("it is the raw: source
 * in.raw (the same file)").  Nothing is written or truncated.
 */
int fb_output_check(const char *output, const struct fb_output_input *inputs, size_t n,
		    const char *seg_name, char *why, size_t len);

/*
 * Is PATH a name for a descriptor of whichever process opens it
 * (/dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, /proc/PID/fd/N)?
 * Not an output for the video: ffmpeg opens it, and would write into its
 * own stderr (the log the encoder reads) or stdout; "-" is how stdout is
 * asked for.  (fb-render's own --progress may name one: fb-render writes
 * that itself.)
 */
bool fb_output_names_fd(const char *path);
/* (--sink raw writes the file itself: there such a name is what it says.) */

/*
 * Could PATH forge a line of ffmpeg's final statistics (it holds a
 * newline)?  Not an output into ffmpeg: the encoder judges the end of the
 * render by those lines.  (--sink raw: no ffmpeg, no statistics.)
 */
bool fb_output_forges_stats(const char *path);

#define FB_OUTPUT_FORGES_REFUSAL "it holds a newline, which could forge a line of ffmpeg's " \
	"statistics"

#define FB_OUTPUT_FD_REFUSAL "it names a descriptor of whichever process opens it (ffmpeg, " \
	"whose stderr is its log): use -o - for stdout, or a file's path"

#endif
