/*
 * segments — a segmented render's encoding (fb-render --segment): one
 * ffmpeg per segment of L frames (at absolute frame multiples of L), each
 * writing a chunk file in the work directory, recorded in its plan once
 * ffmpeg exited 0 and its statistics proved it took every frame
 * (tools/fb_plan.h).  An ffmpeg killed by a signal costs its segment only:
 * the ring is rewound to the segment's first frame (lib/fb_rewind.h), the
 * producers render its frames again and a new ffmpeg starts, up to
 * --max-restarts times.  An ffmpeg that exits with a status said no
 * itself (its options, a full disk): the render fails at once.
 */
#ifndef FB_ENCODER_SEGMENTS_H
#define FB_ENCODER_SEGMENTS_H

#include "output.h"

/*
 * Encode every frame of SEG as segments of O->segment_frames into
 * O->segment_dir.  0, or -errno with WHY filled (-ECANCELED aborted
 * elsewhere, -EINTR stopped by SIGTERM on STOP_FD, -ENOTCONN could not
 * start an output: said already).  *AT: the ring index reached.
 */
int segments_encode(struct fb_seg *seg, const struct encoder_opts *o, int stop_fd, char *why,
		    size_t why_len, uint64_t *at);

#endif
