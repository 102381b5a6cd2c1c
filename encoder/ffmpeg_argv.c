/* ffmpeg_argv — build ffmpeg's command line (ffmpeg_argv.h says what is in it). */
#include "ffmpeg_argv.h"
#include "ffmpeg_sink.h" /* FB_CHUNK_TAG */
#include "fb_pixfmt.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* ffmpeg's options for the default output: H.264 playable everywhere. */
static char *const default_opts[] = {
	"-c:v", "libx264", "-preset", "veryfast", "-crf", "20", "-pix_fmt", "yuv420p",
};

/*
 * Will ffmpeg write OUTPUT as Matroska or WebM, whose timestamps are whole
 * milliseconds?  The last "-f FMT" of the output options decides, else the
 * file's extension, as ffmpeg picks the muxer.
 */
static bool ms_container(const char *output, char *const *opts, int n)
{
	const char *fmt = NULL, *dot = strrchr(output, '.');

	for (int i = 0; i + 1 < n; i++)
		if (strcmp(opts[i], "-f") == 0)
			fmt = opts[i + 1];
	if (fmt)
		return strcmp(fmt, "matroska") == 0 || strcmp(fmt, "webm") == 0;
	if (!dot || strchr(dot, '/'))
		return false;
	return strcasecmp(dot, ".mkv") == 0 || strcasecmp(dot, ".mka") == 0 ||
	       strcasecmp(dot, ".mk3d") == 0 || strcasecmp(dot, ".webm") == 0;
}

/*
 * TICKS frames of NUM/DEN fps in seconds ("12.012000"), rounded to the
 * microsecond (ffmpeg's unit for -itsoffset and -t).  ffmpeg rescales it
 * into the input's time base of DEN/NUM s, where the rounding (at most
 * 0.5 us, a frame being at least 1000 us) vanishes: exactly TICKS ticks.
 */
static void ticks_str(char *buf, size_t len, uint64_t ticks, uint32_t num, uint32_t den)
{
	uint64_t t = ticks * den; /* ticks <= 2^40, den <= 10^6: no overflow */
	uint64_t sec = t / num, us = ((t % num) * 1000000 + num / 2) / num;

	if (us == 1000000) {
		sec++;
		us = 0;
	}
	snprintf(buf, len, "%llu.%06llu", (unsigned long long)sec, (unsigned long long)us);
}

/*
 * What a codec option's stream specifier SPEC ("" in "-c", ":v" in "-c:v")
 * names of our output, whose stream 0 is the video and stream 1 the audio
 * (if any): 1 the video, 0 another stream, -1 cannot tell ("-c:m:key").
 */
static int spec_video(const char *spec)
{
	static const char *const video[] = { "", ":v", ":V", ":0", ":v:0", ":V:0" };

	for (size_t i = 0; i < sizeof(video) / sizeof(video[0]); i++)
		if (strcmp(spec, video[i]) == 0)
			return 1;
	if (spec[0] == ':' && spec[1] && strchr("asdt123456789", spec[1]))
		return 0; /* audio, subtitles, data, attachments, stream 1.. */
	if ((strncmp(spec, ":v:", 3) == 0 || strncmp(spec, ":V:", 3) == 0) && spec[3] >= '1' &&
	    spec[3] <= '9')
		return 0; /* a second video stream: there is none */
	return -1;
}

/*
 * Does ffmpeg copy the video stream (no decoding) by OPTS?  The last codec
 * option naming it wins, as in ffmpeg; one whose specifier cannot be read
 * makes the answer "no": then a copy is taken for a decode, which fails
 * loudly (see input_duration), never silently.
 */
static bool video_copied(char *const *opts, int n)
{
	bool copy = false;

	for (int i = 0; i + 1 < n; i++) {
		const char *o = opts[i], *spec;
		int v;

		if (strcmp(o, "-vcodec") == 0)
			spec = "";
		else if (strncmp(o, "-codec", 6) == 0 && (o[6] == '\0' || o[6] == ':'))
			spec = o + 6;
		else if (strncmp(o, "-c", 2) == 0 && (o[2] == '\0' || o[2] == ':'))
			spec = o + 2;
		else
			continue;
		v = spec_video(spec);
		if (v < 0)
			return false;
		if (v)
			copy = strcmp(opts[i + 1], "copy") == 0;
	}
	return copy;
}

/*
 * The input's -t: the render's frames and not one more, so the end marker
 * (ffmpeg_sink.h) is read, decoded and dropped.  Decoded frames go through
 * a trim filter that counts from the first frame; a stream copy compares
 * each packet's own timestamp, which -itsoffset OFFSET has moved.
 */
static void input_duration(char *buf, size_t len, const struct fb_geom *g, uint64_t offset,
			   char *const *opts, int n)
{
	uint64_t end = g->total_frames + (video_copied(opts, n) ? offset : 0);

	ticks_str(buf, len, end, g->fps_num, g->fps_den);
}

/* Append S to A (its strings live as long as A or the caller's). */
static void arg(struct ffmpeg_argv *a, const char *s)
{
	a->v[a->n++] = (char *)s;
}

/* The input: its format, rate, start (a Matroska chunk's) and length. */
static void add_input(struct ffmpeg_argv *a, const struct fb_geom *g, char *const *opts,
		      int n_opts, const char *output)
{
	uint64_t shift = 0;

	if (g->frame_format == FB_FRAME_RAW) {
		snprintf(a->size, sizeof(a->size), "%ux%u", g->width, g->height);
		arg(a, "-f");
		arg(a, "rawvideo");
		arg(a, "-pix_fmt");
		arg(a, fb_pixfmt_name(g->pix_fmt));
		arg(a, "-s");
		arg(a, a->size);
	} else { /* one image per frame, each a whole PNG or JPEG */
		arg(a, "-f");
		arg(a, "image2pipe");
		arg(a, "-c:v");
		arg(a, g->frame_format == FB_FRAME_PNG ? "png" : "mjpeg");
	}
	arg(a, "-framerate");
	arg(a, a->fps);
	/* A Matroska chunk is stamped with the whole render's timestamps:
	 * frame A+i at (A+i) * den/num s, rounded to the millisecond by the
	 * muxer exactly as one render rounds it, and fb-stitch copies them
	 * unchanged.  From zero it could not be joined exactly: round(A/fps)
	 * + round(i/fps) is not always round((A+i)/fps).  Other containers
	 * count in ticks of 1/num s (MP4: 1/30000), where a chunk from zero
	 * joins exactly, and they must start at zero: for MP4 ffmpeg would
	 * fill the gap before frame A with copies of it (constant frame
	 * rate). */
	if (g->chunk && g->first_frame && ms_container(output, opts, n_opts)) {
		shift = g->first_frame;
		ticks_str(a->offset, sizeof(a->offset), shift, g->fps_num, g->fps_den);
		arg(a, "-itsoffset");
		arg(a, a->offset);
	}
	input_duration(a->dur, sizeof(a->dur), g, shift, opts, n_opts);
	arg(a, "-t");
	arg(a, a->dur);
	arg(a, "-i");
	arg(a, "pipe:0");
}

/* The audio track: the video decides the length, so the audio is padded
 * with silence (apad) and cut where the last frame ends (-shortest, which
 * apad's endless stream turns into "end with the video"). */
static void add_audio(struct ffmpeg_argv *a, const char *audio)
{
	arg(a, "-i");
	arg(a, audio);
	arg(a, "-map");
	arg(a, "0:v:0");
	arg(a, "-map");
	arg(a, "1:a:0");
	arg(a, "-af");
	arg(a, "apad");
	arg(a, "-shortest");
}

/* The output: its rate, the user's options, a chunk's tag, the name. */
static int add_output(struct ffmpeg_argv *a, const struct fb_geom *g, char *const *opts,
		      int n_opts, const char *output)
{
	/* The output's rate too, or ffmpeg guesses one from the input's and
	 * may round it (119.88 became exactly 120 in MP4).  Before the user's
	 * options: a -r of theirs is a conversion they asked for, and wins. */
	arg(a, "-r");
	arg(a, a->fps);
	for (int i = 0; i < n_opts; i++)
		arg(a, opts[i]);
	/* A chunk says which frames it holds, so fb-stitch can refuse a
	 * missing, repeated or misplaced one.  After the user's options: a
	 * -metadata comment= of theirs must not erase it. */
	if (g->chunk) {
		snprintf(a->tag, sizeof(a->tag), "comment=" FB_CHUNK_TAG "%llu:%llu/%llu",
			 (unsigned long long)g->first_frame,
			 (unsigned long long)(g->first_frame + g->total_frames),
			 (unsigned long long)g->render_frames);
		arg(a, "-metadata");
		arg(a, a->tag);
	}
	arg(a, "-y");
	/* A name beginning with '-' is a file, never an option: "./-x.mp4".
	 * "-" alone stays ffmpeg's stdout. */
	if (output[0] == '-' && output[1] != '\0') {
		if ((size_t)snprintf(a->outname, sizeof(a->outname), "./%s", output) >=
		    sizeof(a->outname))
			return -ENAMETOOLONG;
		output = a->outname;
	}
	arg(a, output);
	return 0;
}

int ffmpeg_argv_build(struct ffmpeg_argv *a, const struct fb_geom *g, char *const *out_opts,
		      int n_opts, const char *output, const char *audio)
{
	int rc;

	if (!out_opts) {
		out_opts = default_opts;
		n_opts = (int)(sizeof(default_opts) / sizeof(default_opts[0]));
	}
	if (n_opts > FFMPEG_MAX_OUT_OPTS)
		return -E2BIG;
	a->n = 0;
	/* The exact rational ("30000/1001"): ffmpeg then stamps frame i at
	 * i * den / num s, in a time base of den/num, with no rounding. */
	fb_fps_str(a->fps, sizeof(a->fps), g->fps_num, g->fps_den);
	arg(a, "ffmpeg");
	arg(a, "-hide_banner");
	arg(a, "-nostats");
	/* Verbose, each line tagged with its level: the memfd then holds the
	 * final statistics (also in the report, which a later -loglevel of
	 * the user's cannot silence) and the quote keeps only the error
	 * lines, as -loglevel error did. */
	arg(a, "-loglevel");
	arg(a, "level+verbose");
	add_input(a, g, out_opts, n_opts, output);
	if (audio)
		add_audio(a, audio);
	rc = add_output(a, g, out_opts, n_opts, output);
	a->v[a->n] = NULL;
	return rc;
}
