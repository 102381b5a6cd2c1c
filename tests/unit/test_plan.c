/*
 * test_plan — unit tests (cmocka) of tools/fb_sha256.c and tools/fb_plan*.c:
 * SHA-256 against the FIPS 180-4 examples and against sha256sum of files
 * made here, a plan read strictly (every malformed line refused by its
 * number, a torn last line forgiven), a segment recorded and read back, a
 * resume's repair, symlinks refused.
 */
#include "unit.h"
#include "fb_plan.h"
#include "fb_sha256.h"

#include <ftw.h>

#define RENDER "render size=64x4 pix_fmt=gray fps=30/1 frames=25 segment=10 format=raw " \
	       "sink=ffmpeg ext=mkv source=x ffmpeg=default"

/* FIPS 180-4 (csrc.nist.gov examples): "abc", the two-block message, the
 * empty one, and a million 'a' fed in uneven pieces. */
static void test_sha256_vectors(void **state)
{
	char hex[FB_SHA256_HEX], *a = malloc(1000000);
	struct fb_sha256 s;

	(void)state;
	fb_sha256_buf("abc", 3, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	fb_sha256_buf("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 56, hex);
	assert_string_equal(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
	fb_sha256_buf("", 0, hex);
	assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	assert_non_null(a);
	memset(a, 'a', 1000000);
	fb_sha256_init(&s);
	for (size_t off = 0, step = 1; off < 1000000; off += step, step = step * 3 % 1000 + 1)
		fb_sha256_update(&s, a + off, off + step > 1000000 ? 1000000 - off : step);
	fb_sha256_hex(&s, hex);
	assert_string_equal(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
	free(a);
}

/* Files of sizes around the padding's edges and the 1 MiB read, hashed
 * here and by sha256sum (coreutils: an independent implementation). */
static void test_sha256_files(void **state)
{
	static const size_t sizes[] = { 0, 1, 55, 56, 63, 64, 65, 119, 120, 1 << 20, (1 << 20) + 3,
					3 * (1 << 20) + 777 };
	char path[] = "/tmp/fbunit-sha-XXXXXX", hex[FB_SHA256_HEX], cmd[128], want[80];
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		int fd = mkstemp(path);
		unsigned char *b = malloc(sizes[i] + 1);
		FILE *p;

		assert_true(fd >= 0 && b);
		for (size_t k = 0; k < sizes[i]; k++)
			b[k] = (unsigned char)((x = x * 1103515245u + 12345u) >> 16);
		assert_int_equal(fb_write_all(fd, b, sizes[i]), 0);
		assert_int_equal(lseek(fd, 0, SEEK_SET), 0);
		assert_int_equal(fb_sha256_fd(fd, hex), (int64_t)sizes[i]);
		snprintf(cmd, sizeof(cmd), "sha256sum < %s", path);
		p = popen(cmd, "r");
		assert_non_null(p);
		assert_non_null(fgets(want, sizeof(want), p));
		assert_int_equal(pclose(p), 0);
		want[64] = '\0';
		assert_string_equal(hex, want);
		close(fd);
		unlink(path);
		free(b);
		strcpy(path, "/tmp/fbunit-sha-XXXXXX");
	}
}

/* A private directory for one test, removed with everything in it. */
static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(p);
}

static int dir_setup(void **state)
{
	char *d = strdup("/tmp/fbunit-plan-XXXXXX");

	if (!d || !mkdtemp(d))
		return -1;
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	nftw(*state, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(*state);
	return 0;
}

static int opendir_fd(const char *d)
{
	bool made;
	char why[256];
	int fd = fb_plan_dir_open(d, false, &made, why, sizeof(why));

	assert_true(fd >= 0);
	return fd;
}

/* Write TEXT as the plan of D. */
static void put(const char *d, const char *name, const char *text)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", d, name);
	f = fopen(p, "w");
	assert_non_null(f);
	fputs(text, f);
	assert_int_equal(fclose(f), 0);
}

/* Load D's plan as a check (no repair): the result, WHY kept. */
static int load(const char *d, const char *render, struct fb_plan *p, char *why)
{
	int fd = opendir_fd(d), e = fb_plan_load(fd, render, false, "test", p, why, 256);

	close(fd);
	return e;
}

#define Z64 "0000000000000000000000000000000000000000000000000000000000000000"

/* Each malformed plan refused, naming its line; a torn last line is not. */
static void test_plan_parse(void **state)
{
	static const struct { const char *text, *why; } bad[] = {
		{ "fb-segments 2\n" RENDER "\n", "line 1" },
		{ "fb-segments 1\n", "no render line" },
		{ "fb-segments 1\nsegment 0 10 5 " Z64 "\n", "line 2" },
		{ "fb-segments 1\n" RENDER "\n" RENDER "\n", "line 3: a second render line" },
		{ "fb-segments 1\n" RENDER "\nsegment 5 15 5 " Z64 "\n", "line 3: frames 5:15" },
		{ "fb-segments 1\n" RENDER "\nsegment 20 30 5 " Z64 "\n", "line 3: frames 20:30" },
		{ "fb-segments 1\n" RENDER "\nsegment 10 10 5 " Z64 "\n", "line 3" },
		{ "fb-segments 1\n" RENDER "\nsegment 0 10 5 " Z64 "0\n", "line 3: the sha256" },
		{ "fb-segments 1\n" RENDER "\nsegment 0 10 5 " Z64 "\nsegment 0 10 5 00G0\n",
		  "line 4: the sha256" },
		{ "fb-segments 1\n" RENDER "\nsegment 0 10 5 " "000000000000000000000000000000"
		  "000000000000000000000000000000000A\n", "line 3: the sha256" },
		{ "fb-segments 1\n" RENDER "\nsegment 0  10 5 " Z64 "\n", "line 3: not a segment" },
		{ "fb-segments 1\n" RENDER "\nsegment 00 10 5 " Z64 "\n", "line 3: not a segment" },
		{ "fb-segments 1\n" RENDER "\nsegment 0 10 99999999999999999999 " Z64 "\n",
		  "line 3: not a segment" },
		{ "fb-segments 1\n" RENDER "\n\n", "line 3: not a segment" },
		{ "fb-segments 1\nrender size=64x4 frames=25 ext=mkv\n", "segment=" },
		{ "fb-segments 1\nrender frames=0 segment=10 ext=mkv\n", "frames=" },
		{ "fb-segments 1\nrender frames=9 segment=10 ext=m.v\n", "ext=" },
	};
	struct fb_plan p;
	char why[256];
	const char *d = *state;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		put(d, FB_PLAN_FILE, bad[i].text);
		why[0] = '\0';
		assert_int_equal(load(d, NULL, &p, why), -EINVAL);
		if (!strstr(why, bad[i].why))
			fail_msg("plan %zu: \"%s\" does not say \"%s\"", i, why, bad[i].why);
	}
	/* A torn last line (no '\n'), even a malformed one, is not read. */
	put(d, FB_PLAN_FILE, "fb-segments 1\n" RENDER "\nsegment 0 10 5 " Z64 "\nsegment 10 2");
	assert_int_equal(load(d, NULL, &p, why), 0);
	assert_int_equal(p.recorded, 1);
	assert_int_equal(p.nsegs, 0); /* seg-...-0000000010.mkv is missing */
	assert_int_equal(p.start, 0);
	assert_int_equal(p.frames, 25);
	assert_int_equal(p.seg_frames, 10);
	assert_string_equal(p.ext, "mkv");
	fb_plan_free(&p);
	/* Another render line: the first KEY that differs is named. */
	assert_int_equal(load(d, "render size=64x4 pix_fmt=gray fps=25/1 frames=25", &p, why),
			 -EINVAL);
	assert_non_null(strstr(why, "fps differs (plan: fps=30/1, this render: fps=25/1)"));
	assert_int_equal(load(d, RENDER " audio=x", &p, why), -EINVAL);
	assert_non_null(strstr(why, "audio differs"));
}

/* Over FB_PLAN_MAX_BYTES: refused before it is read. */
static void test_plan_bound(void **state)
{
	char p[256], why[256];
	struct fb_plan pl;
	int fd;

	snprintf(p, sizeof(p), "%s/" FB_PLAN_FILE, (char *)*state);
	put(*state, FB_PLAN_FILE, "fb-segments 1\n" RENDER "\n");
	fd = open(p, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, FB_PLAN_MAX_BYTES + 1), 0);
	close(fd);
	assert_int_equal(load(*state, NULL, &pl, why), -EINVAL);
	assert_non_null(strstr(why, "over the bound"));
}

/* Make the .part file of segment [FIRST, END) with LEN bytes of SEED. */
static void part(const char *d, uint64_t first, uint64_t end, size_t len, int seed)
{
	char name[64], text[4096];

	assert_true(len < sizeof(text));
	memset(text, 'a' + seed, len);
	text[len] = '\0';
	assert_int_equal(fb_plan_segment_name(name, sizeof(name), first, end, "mkv", true), 0);
	put(d, name, text);
}

static bool exists(const char *d, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", d, name);
	return lstat(p, &st) == 0;
}

/* Record three segments, read them back, break one, resume's repair. */
static void test_plan_round_trip(void **state)
{
	const char *d = *state;
	char why[256], name[64];
	struct fb_plan p;
	int fd = opendir_fd(d);

	assert_int_equal(fb_plan_segment_name(name, sizeof(name), 10, 20, "mkv", true), 0);
	assert_string_equal(name, "seg-0000000010-0000000020.part.mkv");
	assert_int_equal(fb_plan_exists(fd), 0);
	assert_int_equal(fb_plan_write(fd, RENDER, why, sizeof(why)), 0);
	assert_int_equal(fb_plan_exists(fd), 1);
	assert_int_equal(fb_plan_write(fd, RENDER, why, sizeof(why)), -EEXIST);
	part(d, 0, 10, 100, 0);
	part(d, 10, 20, 200, 1);
	part(d, 20, 25, 50, 2);
	assert_int_equal(fb_plan_record(fd, 0, 10, "mkv", why, sizeof(why)), 0);
	assert_int_equal(fb_plan_record(fd, 10, 20, "mkv", why, sizeof(why)), 0);
	assert_int_equal(fb_plan_record(fd, 20, 25, "mkv", why, sizeof(why)), 0);
	assert_int_equal(fb_plan_record(fd, 20, 25, "mkv", why, sizeof(why)), -ENOENT);
	assert_false(exists(d, "seg-0000000000-0000000010.part.mkv"));
	assert_int_equal(fb_plan_load(fd, RENDER, false, "test", &p, why, sizeof(why)), 0);
	assert_int_equal(p.nsegs, 3);
	assert_int_equal(p.prefix, 3);
	assert_int_equal(p.start, 25);
	assert_int_equal(p.segs[1].bytes, 200);
	fb_plan_free(&p);
	/* Segment 10:20 changed, a stale .part left, a stray segment file. */
	put(d, "seg-0000000010-0000000020.mkv", "changed");
	part(d, 20, 25, 10, 3);
	put(d, "seg-0000000030-0000000040.mkv", "stray");
	put(d, "notes.txt", "not ours to judge");
	assert_int_equal(fb_plan_load(fd, RENDER, false, "test", &p, why, sizeof(why)), 0);
	assert_int_equal(p.nsegs, 2);
	assert_int_equal(p.prefix, 1);
	assert_int_equal(p.start, 10);
	fb_plan_free(&p);
	assert_true(exists(d, "seg-0000000010-0000000020.mkv")); /* a check changes nothing */
	assert_int_equal(fb_plan_load(fd, RENDER, true, "test", &p, why, sizeof(why)), 0);
	assert_int_equal(p.start, 10);
	assert_false(exists(d, "seg-0000000010-0000000020.mkv"));
	assert_false(exists(d, "seg-0000000020-0000000025.part.mkv"));
	assert_false(exists(d, "seg-0000000030-0000000040.mkv"));
	assert_true(exists(d, "seg-0000000020-0000000025.mkv"));
	assert_true(exists(d, "notes.txt"));
	/* Recorded again (a resumed render): the later line counts. */
	part(d, 10, 20, 300, 4);
	assert_int_equal(fb_plan_record(fd, 10, 20, "mkv", why, sizeof(why)), 0);
	fb_plan_free(&p);
	assert_int_equal(fb_plan_load(fd, RENDER, false, "test", &p, why, sizeof(why)), 0);
	assert_int_equal(p.start, 25);
	assert_int_equal(p.segs[1].bytes, 300);
	/* The join's cleanup: notes.txt is not ours, so the directory stays. */
	assert_int_equal(fb_plan_remove(fd, d, "mkv", why, sizeof(why)), -ENOTEMPTY);
	assert_false(exists(d, FB_PLAN_FILE));
	assert_false(exists(d, "seg-0000000000-0000000010.mkv"));
	fb_plan_free(&p);
	close(fd);
}

/* A symlinked plan, a symlinked segment, a symlinked or shared directory. */
static void test_plan_symlinks(void **state)
{
	const char *d = *state;
	char why[256], a[256], b[256];
	struct fb_plan p;
	bool made;
	int fd = opendir_fd(d);

	assert_int_equal(fb_plan_write(fd, RENDER, why, sizeof(why)), 0);
	part(d, 0, 10, 100, 0);
	assert_int_equal(fb_plan_record(fd, 0, 10, "mkv", why, sizeof(why)), 0);
	snprintf(a, sizeof(a), "%s/seg-0000000000-0000000010.mkv", d);
	snprintf(b, sizeof(b), "%s/real.mkv", d);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink("real.mkv", a), 0);
	assert_int_equal(fb_plan_load(fd, RENDER, false, "test", &p, why, sizeof(why)), 0);
	assert_int_equal(p.nsegs, 0); /* "a symlink": not a finished segment */
	fb_plan_free(&p);
	snprintf(a, sizeof(a), "%s/" FB_PLAN_FILE, d);
	snprintf(b, sizeof(b), "%s/plan.real", d);
	assert_int_equal(rename(a, b), 0);
	assert_int_equal(symlink("plan.real", a), 0);
	assert_int_equal(fb_plan_load(fd, RENDER, false, "test", &p, why, sizeof(why)), -ELOOP);
	assert_int_equal(fb_plan_write(fd, RENDER, why, sizeof(why)), -EEXIST);
	close(fd);
	snprintf(a, sizeof(a), "%s/link", d);
	assert_int_equal(symlink(".", a), 0);
	assert_int_equal(fb_plan_dir_open(a, true, &made, why, sizeof(why)), -ELOOP);
	snprintf(a, sizeof(a), "%s/plan.real", d);
	assert_int_equal(fb_plan_dir_open(a, true, &made, why, sizeof(why)), -ENOTDIR);
	snprintf(a, sizeof(a), "%s/new", d);
	fd = fb_plan_dir_open(a, true, &made, why, sizeof(why));
	assert_true(fd >= 0 && made);
	close(fd);
	assert_int_equal(chmod(a, 0770), 0);
	assert_int_equal(fb_plan_dir_open(a, true, &made, why, sizeof(why)), -EPERM);
	assert_non_null(strstr(why, "writable by others"));
	snprintf(a, sizeof(a), "%s/none", d);
	assert_int_equal(fb_plan_dir_open(a, false, &made, why, sizeof(why)), -ENOENT);
}

int fb_test_plan(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha256_vectors),
		cmocka_unit_test(test_sha256_files),
		cmocka_unit_test_setup_teardown(test_plan_parse, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_plan_bound, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_plan_round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_plan_symlinks, dir_setup, dir_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
