/*
 * seg_offsets — where the segment's words are, for the adversary scripts
 * that scribble on a live segment from outside (t_segment_corruption.sh,
 * t_worker_supervision.sh): one NAME=BYTES line each, read from
 * lib/fb_segment.h by the compiler rather than copied into the scripts.
 * Built by the scripts themselves: cc -D_GNU_SOURCE -Ilib -Iinclude.
 */
#include "fb_segment.h"

#include <stddef.h>
#include <stdio.h>

#define H(name, field) printf(name "=%zu\n", offsetof(struct fb_header, field))
#define S(name, field) printf(name "=%zu\n", offsetof(struct fb_slot_meta, field))
#define P(name, field) printf(name "=%zu\n", offsetof(struct fb_proc_entry, field))

int main(void)
{
	H("state", state);
	H("next_claim", next_claim);
	H("protocol_end", reason); /* the words before the reason: the protocol's */
	H("lock", lock);
	H("space", space);
	H("filled", filled);
	H("broker", broker);
	H("slots", slots);
	H("procs", procs);
	printf("lock_size=%zu\nsem_size=%zu\n", sizeof(pthread_mutex_t), sizeof(sem_t));
	printf("slot_size=%zu\nproc_size=%zu\n", sizeof(struct fb_slot_meta),
	       sizeof(struct fb_proc_entry));
	S("s_state", state);
	S("s_owner", owner);
	S("s_owner_start", owner_start);
	S("s_frame", frame);
	S("s_claimed_ns", claimed_ns);
	P("p_pid", pid);
	P("p_role", role);
	P("p_start", start);
	return 0;
}
