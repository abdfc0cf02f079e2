/* <mach/mach_host.h>: the host calls: host_info, host_page_size,
 * host_get_clock_service. machsim declares all of it in <mach/mach.h>; this
 * header is here so that programs written for a real Mach that include it
 * compile unchanged (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_MACH_HOST_H_FORWARD
#define MACHSIM_MACH_MACH_HOST_H_FORWARD

#include "mach/mach.h"

#endif
