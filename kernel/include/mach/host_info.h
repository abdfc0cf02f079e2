/* host_info flavors (XNU osfmk/mach/host_info.h): layouts, counts and values are
 * XNU's. docs/api.md, section 6.3, says what each field holds here. */
#ifndef MACHSIM_MACH_HOST_INFO_H
#define MACHSIM_MACH_HOST_INFO_H

#include <stdint.h>

#include "mach/machine.h"
#include "mach/machine_types.h"

typedef integer_t *host_info_t;
typedef integer_t host_flavor_t;
#define HOST_INFO_MAX (1024)
typedef integer_t host_info_data_t[HOST_INFO_MAX];

#define HOST_BASIC_INFO 1
#define HOST_SCHED_INFO 3

/* XNU packs it to 4 bytes: max_mem sits at offset 40. */
#pragma pack(push, 4)
struct host_basic_info {
    integer_t max_cpus;
    integer_t avail_cpus;
    natural_t memory_size; /* bytes, capped at 2 GB */
    cpu_type_t cpu_type;
    cpu_subtype_t cpu_subtype;
    cpu_threadtype_t cpu_threadtype;
    integer_t physical_cpu;
    integer_t physical_cpu_max;
    integer_t logical_cpu;
    integer_t logical_cpu_max;
    uint64_t max_mem;
};
#pragma pack(pop)
typedef struct host_basic_info host_basic_info_data_t;
typedef struct host_basic_info *host_basic_info_t;
#define HOST_BASIC_INFO_COUNT ((mach_msg_type_number_t)(sizeof(host_basic_info_data_t) / sizeof(integer_t)))

struct host_sched_info {
    integer_t min_timeout; /* milliseconds */
    integer_t min_quantum; /* milliseconds */
};
typedef struct host_sched_info host_sched_info_data_t;
typedef struct host_sched_info *host_sched_info_t;
#define HOST_SCHED_INFO_COUNT ((mach_msg_type_number_t)(sizeof(host_sched_info_data_t) / sizeof(integer_t)))

#endif
