/*
 * preflight — everything about a render that can be checked before a
 * process or segment exists: option combinations, the inputs (audio file,
 * renderer or producer command, raw source), the segment's name, the
 * outputs (-o and --progress must destroy nothing the render reads), and
 * the environment (descriptor limit, FB_FAULT, ffmpeg).  fb-render --check
 * stops here; fb-farm checks its plan this way.
 */
#ifndef FB_RENDER_PREFLIGHT_H
#define FB_RENDER_PREFLIGHT_H

#include "options.h"

/* O being parsed and G its geometry (fb_params_geom): 0, or the exit code
 * to leave with (one line said).  The checks run in a fixed order; the
 * first that fails is the one said. */
int options_preflight(const struct render_opts *o, const struct fb_geom *g);

#endif
