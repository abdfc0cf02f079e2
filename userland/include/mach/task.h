/* <mach/task.h>: the task calls: task_create, task_threads, task_info,
 * thread_create, semaphore_create. machsim declares all of it in
 * <mach/mach.h>; this header is here so that programs written for a real Mach
 * that include it compile unchanged (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_TASK_H_FORWARD
#define MACHSIM_MACH_TASK_H_FORWARD

#include "mach/mach.h"

#endif
