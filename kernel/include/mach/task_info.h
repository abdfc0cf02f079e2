/* task_info flavors (XNU osfmk/mach/task_info.h): layouts, counts and values are
 * XNU's for a 64-bit task. docs/api.md, section 9.5, says what each field holds here. */
#ifndef MACHSIM_MACH_TASK_INFO_H
#define MACHSIM_MACH_TASK_INFO_H

#include "mach/machine_types.h"
#include "mach/policy.h"
#include "mach/time_value.h"
#include "mach/vm_types.h"

typedef natural_t task_flavor_t;
typedef integer_t *task_info_t;
#define TASK_INFO_MAX (1024)
typedef integer_t task_info_data_t[TASK_INFO_MAX];

/* XNU packs these structures to 4 bytes, so their 8-byte fields may sit at 4. */
#pragma pack(push, 4)

#define TASK_BASIC_INFO_32 4
struct task_basic_info_32 {
    integer_t suspend_count;
    natural_t virtual_size;
    natural_t resident_size;
    time_value_t user_time;   /* of its terminated threads */
    time_value_t system_time; /* of its terminated threads */
    policy_t policy;
};
typedef struct task_basic_info_32 task_basic_info_32_data_t;
typedef struct task_basic_info_32 *task_basic_info_32_t;
#define TASK_BASIC_INFO_32_COUNT ((mach_msg_type_number_t)(sizeof(task_basic_info_32_data_t) / sizeof(natural_t)))

#define TASK_BASIC_INFO_64 5
struct task_basic_info_64 {
    integer_t suspend_count;
    mach_vm_size_t virtual_size;
    mach_vm_size_t resident_size;
    time_value_t user_time;   /* of its terminated threads */
    time_value_t system_time; /* of its terminated threads */
    policy_t policy;
};
typedef struct task_basic_info_64 task_basic_info_64_data_t;
typedef struct task_basic_info_64 *task_basic_info_64_t;
#define TASK_BASIC_INFO_64_COUNT ((mach_msg_type_number_t)(sizeof(task_basic_info_64_data_t) / sizeof(natural_t)))

/* TASK_BASIC_INFO is the 64-bit flavor in a 64-bit task. */
#define TASK_BASIC_INFO TASK_BASIC_INFO_64
struct task_basic_info {
    integer_t suspend_count;
    vm_size_t virtual_size;
    vm_size_t resident_size;
    time_value_t user_time;
    time_value_t system_time;
    policy_t policy;
};
typedef struct task_basic_info task_basic_info_data_t;
typedef struct task_basic_info *task_basic_info_t;
#define TASK_BASIC_INFO_COUNT ((mach_msg_type_number_t)(sizeof(task_basic_info_data_t) / sizeof(natural_t)))

#define TASK_THREAD_TIMES_INFO 3
struct task_thread_times_info {
    time_value_t user_time;   /* of its live threads */
    time_value_t system_time; /* of its live threads */
};
typedef struct task_thread_times_info task_thread_times_info_data_t;
typedef struct task_thread_times_info *task_thread_times_info_t;
#define TASK_THREAD_TIMES_INFO_COUNT \
    ((mach_msg_type_number_t)(sizeof(task_thread_times_info_data_t) / sizeof(natural_t)))

#define MACH_TASK_BASIC_INFO 20
struct mach_task_basic_info {
    mach_vm_size_t virtual_size;
    mach_vm_size_t resident_size;
    mach_vm_size_t resident_size_max;
    time_value_t user_time;   /* of its terminated threads */
    time_value_t system_time; /* of its terminated threads */
    policy_t policy;
    integer_t suspend_count;
};
typedef struct mach_task_basic_info mach_task_basic_info_data_t;
typedef struct mach_task_basic_info *mach_task_basic_info_t;
#define MACH_TASK_BASIC_INFO_COUNT ((mach_msg_type_number_t)(sizeof(mach_task_basic_info_data_t) / sizeof(natural_t)))

#pragma pack(pop)

#endif
