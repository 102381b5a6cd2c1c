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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FB_PLAN_FILE "plan"
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
int fb_plan_segment_name(char *buf, size_t len, uint64_t first, uint64_t end, const char *ext,
			 bool part);

/*
 * Record a finished segment in the directory DIR_FD: fsync the file
 * seg-FIRST-END.part.EXT, hash it, rename it to seg-FIRST-END.EXT, fsync
 * the directory, then append its segment line to the plan (one write,
 * fsync).  0, or -errno with WHY (one line) filled.
 */
int fb_plan_record(int dir_fd, uint64_t first, uint64_t end, const char *ext, char *why,
		   size_t why_len);

#endif
