/* Time values and clock names of the Mach clock interfaces (XNU osfmk/mach/clock_types.h). */
#ifndef MACHSIM_MACH_CLOCK_TYPES_H
#define MACHSIM_MACH_CLOCK_TYPES_H

typedef int clock_res_t;
typedef struct mach_timespec {
    unsigned int tv_sec;
    clock_res_t tv_nsec;
} mach_timespec_t;

/* A nanosecond count out of range. */
#define BAD_MACH_TIMESPEC(t) ((t)->tv_nsec < 0 || (t)->tv_nsec >= (clock_res_t)NSEC_PER_SEC)

/* The clocks host_get_clock_service gives. */
typedef int clock_id_t;
#define SYSTEM_CLOCK 0
#define CALENDAR_CLOCK 1
#define REALTIME_CLOCK 0

/* clock_get_attributes flavors, each one clock_res_t in nanoseconds. */
typedef int clock_flavor_t;
typedef int *clock_attr_t;
#define CLOCK_GET_TIME_RES 1
#define CLOCK_ALARM_CURRES 3
#define CLOCK_ALARM_MINRES 4
#define CLOCK_ALARM_MAXRES 5

/* clock_sleep's sleep types. */
typedef int sleep_type_t;
#define TIME_ABSOLUTE 0x00
#define TIME_RELATIVE 0x01

#define NSEC_PER_USEC 1000ull
#define USEC_PER_SEC 1000000ull
#define NSEC_PER_SEC 1000000000ull

#endif
