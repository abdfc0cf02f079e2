/* <mach.h>: GNU Mach's (the Hurd's) one header: mach_msg and the kernel's
 * calls. machsim declares all of it in <mach/mach.h>; this header is here so
 * that programs written for a real Mach that include it compile unchanged
 * (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_H_FORWARD
#define MACHSIM_MACH_H_FORWARD

#include "mach/mach.h"

#endif
