/* <mach/thread_act.h>: the thread calls: thread_get_state, thread_suspend,
 * thread_terminate. machsim declares all of it in <mach/mach.h>; this header
 * is here so that programs written for a real Mach that include it compile
 * unchanged (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_THREAD_ACT_H_FORWARD
#define MACHSIM_MACH_THREAD_ACT_H_FORWARD

#include "mach/mach.h"

#endif
