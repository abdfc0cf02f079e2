/* <mach/mach_types.h>: the kernel's types (task_t, thread_act_t, semaphore_t
 * and the rest). machsim declares all of it in <mach/mach.h>; this header is
 * here so that programs written for a real Mach that include it compile
 * unchanged (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_MACH_TYPES_H_FORWARD
#define MACHSIM_MACH_MACH_TYPES_H_FORWARD

#include "mach/mach.h"

#endif
