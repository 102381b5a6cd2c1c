/*
 * examples/producer.c — a capture process written outside framebroker, built
 * against the installed library:
 *
 *	cc producer.c $(pkg-config --cflags --libs framebroker) -o producer
 *	fb-render --source attach:./producer -o out.mp4   # K copies, supervised
 *	./producer /NAME-OF-A-RUNNING-RENDER              # or one, by hand
 *
 * Without an argument it attaches to the render that started it
 * (fb_attach(NULL, ...): FB_SEGMENT and the inherited FB_FD); with one, to
 * the render of that segment name (started with fb-broker, say).
 *
 * Its "renderer" draws a ramp: byte j of frame f is (7f + j) mod 251, so the
 * output can be checked byte for byte without it (tests/bindings/t_library.sh).
 * Exit: 0 every frame it could claim is published; 1 an error (printed);
 * 2 a usage error; 3 the render was aborted elsewhere.
 */
#include <framebroker.h>

#include <errno.h>
#include <stdio.h>

static void render(unsigned char *px, uint64_t frame, uint64_t bytes)
{
	for (uint64_t j = 0; j < bytes; j++)
		px[j] = (unsigned char)((frame * 7 + j) % 251);
}

int main(int argc, char **argv)
{
	struct fb_geometry g;
	fb_producer *p;
	uint64_t frame;
	void *slot;
	int rc;

	if (argc > 2) {
		fprintf(stderr, "usage: producer [/SEGMENT]\n");
		return 2;
	}
	rc = fb_attach(argc == 2 ? argv[1] : NULL, 5000, &p);
	if (rc < 0) {
		fprintf(stderr, "producer: cannot attach to %s: %s\n",
			argc == 2 ? argv[1] : "the render in FB_SEGMENT", fb_strerror(rc));
		return 1;
	}
	fb_get_geometry(p, &g);
	while ((rc = fb_claim(p, &frame, &slot)) == 1) {
		render(slot, frame, g.frame_bytes);
		rc = fb_publish(p, g.frame_bytes);
		if (rc < 0)
			break;
	}
	fb_detach(p);
	if (rc < 0) {
		fprintf(stderr, "producer: %s\n", fb_strerror(rc));
		return rc == -ECANCELED ? 3 : 1;
	}
	return 0;
}
