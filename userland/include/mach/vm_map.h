/* <mach/vm_map.h>: the vm_* calls: vm_allocate, vm_protect, vm_read, vm_map.
 * machsim declares all of it in <mach/mach.h>; this header is here so that
 * programs written for a real Mach that include it compile unchanged
 * (docs/api.md, section 16.1). */
#ifndef MACHSIM_MACH_VM_MAP_H_FORWARD
#define MACHSIM_MACH_VM_MAP_H_FORWARD

#include "mach/mach.h"

#endif
