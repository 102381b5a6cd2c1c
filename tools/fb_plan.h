/*
 * fb_plan — the work directory of a segmented render (fb-render --segment):
 * its plan file and its segment files, written and checked in one place so
 * that fb-render (create, resume), fb-encoder (record a finished segment)
 * and fb-farm (through `fb-render --plan-check`) agree on one format and
 * one validation.
 *
 * The directory (default OUTPUT.fbsegments) is made by fb-render, mode
 * 0700, and is input when it already exists: it must be a directory (not
 * a symlink) owned by us, writable by no one else; every name in it is
 * opened relative to its descriptor with O_NOFOLLOW, regular files only.
 *
 * The plan file, "plan", is text, one record per line, each ending in
 * '\n' (a last line without one was torn by a crash: ignored):
 *
 *   fb-segments 1
 *   render KEY=VALUE ...                    the render's parameters
 *   segment FIRST END BYTES SHA256          one finished segment
 *
 * The render line is written once, when the directory is made; a resume
 * with a different render line is refused.  A segment line is appended
 * (O_APPEND, one write, fsync) by fb-encoder only after ffmpeg exited 0
 * for the segment, the statistics check passed, and the file was fsynced
 * and renamed from its .part name: a line in the plan is a segment that
 * was whole when written.  FIRST..END-1 are absolute frame numbers, END -
 * FIRST ≤ the segment length; BYTES and SHA256 (64 lowercase hex digits)
 * are of the file as renamed.
 *
 * Segment files are named seg-FIRST-END.EXT (each number 10 digits, zero
 * padded, so a listing sorts them), and seg-FIRST-END.part.EXT while
 * ffmpeg writes one (EXT is the output's: ffmpeg picks the container by
 * it).
 */
#ifndef FB_PLAN_H
#define FB_PLAN_H

#include <dirent.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FB_PLAN_FILE "plan"
#define FB_PLAN_NEW "plan.new" /* a plan being written, before it is linked as FB_PLAN_FILE */
#define FB_PLAN_MAGIC "fb-segments 1"
#define FB_PLAN_MAX_BYTES (1u << 24) /* a plan larger than this is refused */
#define FB_PLAN_EXT_MAX 15

/* One finished segment, as its plan line records it. */
struct fb_plan_seg {
	uint64_t first, end; /* absolute frames [first, end) */
	uint64_t bytes;
	char sha256[65]; /* lowercase hex, NUL-terminated */
};

/* "seg-FIRST-END.EXT", or with PART "seg-FIRST-END.part.EXT", into BUF.
 * 0, or -ENAMETOOLONG. */
/*
 * The segment grid, one rule for the encoder that writes segments and the
 * load that checks them: the segment that begins at FIRST (A ≤ FIRST < B)
 * of a render writing frames A..B-1 ends at the next multiple of L, but a
 * piece shorter than L/2 at either end of A:B is not a segment of its own:
 * the first piece goes with the segment after it, the last with the one
 * before.  (An x264 segment of a frame or two, beside flushing its encoder
 * for nothing, makes ffprobe guess its rate from one gap.)
 */
uint64_t fb_plan_segment_end(uint64_t first, uint64_t a, uint64_t b, uint64_t len);

/* The entries of DIR_FD (its own descriptor kept): a DIR to readdir and
 * closedir, or NULL with errno set.  The one listing of fb_plan.c and
 * fb_plan_load.c. */
DIR *fb_plan_list(int dir_fd);

/* OUTPUT's extension (what ffmpeg picks the container by, and what the
 * segments are named with) into EXT: false if none, or not
 * 1..FB_PLAN_EXT_MAX letters and digits.  fb-render and fb-encoder alike. */
bool fb_plan_ext(const char *output, char ext[FB_PLAN_EXT_MAX + 1]);

int fb_plan_segment_name(char *buf, size_t len, uint64_t first, uint64_t end, const char *ext,
			 bool part);

/* Is NAME exactly a segment's name of extension EXT, finished or .part (as
 * fb_plan_segment_name writes it)?  Its frames into *FIRST, *END, *PART. */
bool fb_plan_segment_parse(const char *name, const char *ext, uint64_t *first, uint64_t *end,
			   bool *part);

/*
 * Record a finished segment in the directory DIR_FD: fsync the file
 * seg-FIRST-END.part.EXT, hash it, rename it to seg-FIRST-END.EXT, fsync
 * the directory, then append its segment line to the plan (one write,
 * fsync).  0, or -errno with WHY (one line) filled.
 */
int fb_plan_record(int dir_fd, uint64_t first, uint64_t end, const char *ext, char *why,
		   size_t why_len);

/* ---- fb-render's side: the directory, the plan, a resume ---------------- */

#define FB_PLAN_LINE_MAX 1024 /* a render line, "render ..." without its '\n' */

/*
 * Open the work directory PATH: a directory (O_NOFOLLOW: not a symlink)
 * owned by us and writable by no one else.  Missing, with CREATE: made
 * (mode 0700) and *MADE set.  The descriptor (O_PATH never: names are
 * opened relative to it), or -errno with WHY: -ENOENT (missing, not
 * CREATE), -ENOTDIR, -ELOOP (a symlink), -EPERM (another's, or group or
 * world writable), anything else mkdir or open said.
 */
int fb_plan_dir_open(const char *path, bool create, bool *made, char *why, size_t why_len);

/* Does DIR_FD hold an entry named "plan" (whatever it is)?  1, 0, or -errno. */
int fb_plan_exists(int dir_fd);

/* Does DIR_FD hold no entry at all (but . and .., and a FB_PLAN_NEW a
 * killed fb_plan_write left)?  1, 0, or -errno.  A directory without a
 * plan is only used empty: what is in it is not ours to remove at the end. */
int fb_plan_dir_empty(int dir_fd);

/*
 * A new plan in DIR_FD: FB_PLAN_MAGIC and RENDER (the render line, "render
 * KEY=VALUE ...", no '\n') in one write to FB_PLAN_NEW created exclusively
 * (O_EXCL, 0600), fsynced, linked as FB_PLAN_FILE (never replacing one),
 * then the directory fsynced: whole or absent.  0 or -errno, WHY.
 */
int fb_plan_write(int dir_fd, const char *render, char *why, size_t why_len);

/* A plan as fb_plan_load read and checked it. */
struct fb_plan {
	uint64_t frames, seg_frames; /* R and L: the render line's frames= and segment= */
	uint64_t first, end; /* its range=A:B (a chunk's plan), else 0 and R */
	char ext[FB_PLAN_EXT_MAX + 1]; /* its ext= */
	struct fb_plan_seg *segs;    /* the valid segments, in frame order, one per FIRST */
	size_t nsegs;
	size_t prefix;  /* segs[0..prefix) run contiguously from FIRST ... */
	uint64_t start; /* ... to this frame: where a resumed render starts */
	size_t recorded; /* distinct segments the plan records (valid or not) */
};

/*
 * Read DIR_FD's plan strictly and check every segment it records.  The plan
 * file: regular, ours, at most FB_PLAN_MAX_BYTES, opened O_NOFOLLOW; line 1
 * FB_PLAN_MAGIC, line 2 the one render line (frames=, segment= and ext=
 * well formed), then segment lines, each FIRST on the segment grid, END =
 * min(FIRST + L, R), BYTES and SHA256 well formed; of two lines for one
 * FIRST the later counts (a resumed render records a segment again).  A
 * last line without '\n' was torn by a crash and is ignored; anything else
 * malformed is refused naming its line.  RENDER (or NULL: no comparison)
 * must equal the plan's render line, else the first KEY that differs is
 * named.  A segment is valid if its file is there, regular (O_NOFOLLOW),
 * ours, of BYTES bytes hashing to SHA256.
 * With REPAIR, every recorded segment that is not valid, every finished
 * segment's name the plan does not record and every .part one is removed
 * (names exactly as fb_plan_segment_name writes them: nothing else in the
 * directory is ours), each said in one line (PROG: ...), and a torn last
 * line is cut off, so that the next line appended starts a line of its
 * own; without, nothing is changed.
 * 0 with *P filled (fb_plan_free), or -errno with WHY: -EINVAL for a plan
 * refused, -ENOMEM, or what the file system said.
 */
int fb_plan_load(int dir_fd, const char *render, bool repair, const char *prog,
		 struct fb_plan *p, char *why, size_t why_len);

void fb_plan_free(struct fb_plan *p);

/*
 * The render is over: remove every segment file of extension EXT from
 * DIR_FD, finished or not (by name: fb_plan_segment_parse's), and the plan,
 * then the directory PATH itself.  Nothing is read or checked: the caller
 * has (the join's load, or a load that found no finished segment).  0, or
 * -errno with WHY (what is left is kept: -ENOTEMPTY when the directory
 * holds files not ours).
 */
int fb_plan_remove(int dir_fd, const char *path, const char *ext, char *why, size_t why_len);

#endif
