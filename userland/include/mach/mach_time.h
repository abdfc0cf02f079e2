/* Mach absolute time (macOS's <mach/mach_time.h>), read from machsim's virtual
 * clock: one unit is one tick, a virtual microsecond; mach_timebase_info says so
 * (numer 1000, denom 1: units * numer / denom = nanoseconds). The same program
 * and seed read the same times in every run (docs/api.md, section 8.2). */
#ifndef MACHSIM_MACH_MACH_TIME_H
#define MACHSIM_MACH_MACH_TIME_H

#include <stdint.h>

#include "mach/kern_return.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mach_timebase_info {
    uint32_t numer;
    uint32_t denom;
} mach_timebase_info_data_t;
typedef mach_timebase_info_data_t *mach_timebase_info_t;

/* The virtual clock now. No kernel entry: reading it costs no time. */
uint64_t mach_absolute_time(void);
/* KERN_INVALID_ADDRESS when info cannot be written. */
kern_return_t mach_timebase_info(mach_timebase_info_t info);
/* Sleeps until mach_absolute_time() reaches deadline: KERN_SUCCESS, at once if it
 * has; KERN_ABORTED when thread_abort or a signal cuts the sleep short. */
kern_return_t mach_wait_until(uint64_t deadline);

#ifdef __cplusplus
}
#endif

#endif
