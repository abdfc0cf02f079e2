/* Time values of the Mach clock interfaces (XNU osfmk/mach/clock_types.h). */
#ifndef MACHSIM_MACH_CLOCK_TYPES_H
#define MACHSIM_MACH_CLOCK_TYPES_H

typedef int clock_res_t;
typedef struct mach_timespec {
    unsigned int tv_sec;
    clock_res_t tv_nsec;
} mach_timespec_t;

#define NSEC_PER_USEC 1000ull
#define USEC_PER_SEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

#endif
