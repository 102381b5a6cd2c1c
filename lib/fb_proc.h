/*
 * fb_proc — process identity that survives pid reuse.  A pid alone can name
 * a different process once the first one died; (pid, start time) cannot.
 * The start time is field 22 of /proc/PID/stat (clock ticks since boot).
 */
#ifndef FB_PROC_H
#define FB_PROC_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* Start time of PID, or 0 if it does not exist (or /proc is unreadable). */
uint64_t fb_proc_start_time(pid_t pid);

/* PID's scheduler state letter ('R', 'S', 'T' stopped, 'Z', ...), or '?'. */
char fb_proc_state(pid_t pid);

/* Is PID a kernel thread (PF_KTHREAD)?  False when it cannot be told. */
bool fb_proc_kernel_thread(pid_t pid);

/*
 * A pidfd for the process (PID, START), or -ESRCH if that process is gone
 * (including: the pid now names a different process).  Checking the start
 * time after pidfd_open closes the reuse race: the pidfd pins whichever
 * process had the pid at open time.  -ENOSYS where pidfds do not exist
 * (kernels before 5.3, valgrind): callers then fall back to
 * fb_proc_alive() on a timer.
 */
int fb_pidfd_open(pid_t pid, uint64_t start);

/* Is the process (PID, START) still alive (not yet exited)?  Works with or
 * without pidfds.  When it cannot tell (a /proc read failed), it says yes:
 * a live process taken for dead would have its frames handed to another. */
int fb_proc_alive(pid_t pid, uint64_t start);

#endif
