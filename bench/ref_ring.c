/*
 * ref_ring — the reference for make bench's transport rows: the smallest
 * honest two-process shared-memory ring.  One producer fills frame i with
 * the byte i mod 256 (the same work as `fb-producer --source fill`), one
 * consumer writes each frame to /dev/null (the same work as `fb-encoder
 * --sink raw -o /dev/null`), and two process-shared counting semaphores
 * carry the slots: `empty` starts at SLOTS, `full` at 0.  No ordering
 * beyond the single producer, no crash handling, no validation — that is
 * what framebroker adds, and what the ratio prices.
 *
 * usage: ref_ring FRAME_BYTES FRAMES SLOTS
 */
#include <errno.h>
#include <fcntl.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

struct ref_hdr {
	sem_t empty, full;
};

static void die(const char *what)
{
	fprintf(stderr, "ref_ring: %s: %s\n", what, strerror(errno));
	exit(1);
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	return (n + pg - 1) / pg * pg;
}

int main(int argc, char **argv)
{
	char name[64];
	size_t frame, stride, hdr_size, size;
	unsigned long long frames;
	unsigned slots;
	struct ref_hdr *h;
	unsigned char *base;
	int fd, out, status;
	pid_t pid;

	if (argc != 4) {
		fprintf(stderr, "usage: ref_ring FRAME_BYTES FRAMES SLOTS\n");
		return 2;
	}
	frame = strtoull(argv[1], NULL, 10);
	frames = strtoull(argv[2], NULL, 10);
	slots = (unsigned)strtoul(argv[3], NULL, 10);
	if (frame == 0 || slots == 0) {
		fprintf(stderr, "ref_ring: FRAME_BYTES and SLOTS must be > 0\n");
		return 2;
	}
	stride = page_round(frame);
	hdr_size = page_round(sizeof(*h));
	size = hdr_size + stride * slots;
	snprintf(name, sizeof(name), "/fb-ref-ring-%d", (int)getpid());
	fd = shm_open(name, O_RDWR | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		die("shm_open");
	shm_unlink(name); /* the mapping keeps it; nothing to clean up */
	if (ftruncate(fd, (off_t)size) < 0)
		die("ftruncate");
	h = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (h == MAP_FAILED)
		die("mmap");
	base = (unsigned char *)h + hdr_size;
	if (sem_init(&h->empty, 1, slots) < 0 || sem_init(&h->full, 1, 0) < 0)
		die("sem_init");
	pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		for (unsigned long long i = 0; i < frames; i++) {
			while (sem_wait(&h->empty) < 0)
				;
			memset(base + (i % slots) * stride, (int)(i & 0xff), frame);
			sem_post(&h->full);
		}
		_exit(0);
	}
	out = open("/dev/null", O_WRONLY);
	if (out < 0)
		die("open /dev/null");
	for (unsigned long long i = 0; i < frames; i++) {
		while (sem_wait(&h->full) < 0)
			;
		if (write(out, base + (i % slots) * stride, frame) != (ssize_t)frame)
			die("write");
		sem_post(&h->empty);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) || WEXITSTATUS(status))
		die("producer");
	return 0;
}
