/* <mach/mach_init.h>: mach_task_self, mach_thread_self, mach_host_self,
 * vm_page_size. machsim declares all of it in <mach/mach.h>; this header is
 * here so that programs written for a real Mach that include it compile
 * unchanged (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_MACH_INIT_H_FORWARD
#define MACHSIM_MACH_MACH_INIT_H_FORWARD

#include "mach/mach.h"

#endif
