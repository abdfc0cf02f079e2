/* time_value_t: seconds and microseconds (XNU osfmk/mach/time_value.h). */
#ifndef MACHSIM_MACH_TIME_VALUE_H
#define MACHSIM_MACH_TIME_VALUE_H

#include "mach/machine_types.h"

struct time_value {
    integer_t seconds;
    integer_t microseconds;
};
typedef struct time_value time_value_t;

#define TIME_MICROS_MAX (1000000)

#endif
