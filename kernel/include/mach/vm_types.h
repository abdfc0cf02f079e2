/* VM types and flags used by the VM calls (XNU values). */
#ifndef MACHSIM_MACH_VM_TYPES_H
#define MACHSIM_MACH_VM_TYPES_H

#include "mach/machine_types.h"
#include "mach/port.h"

typedef mach_port_t vm_map_t;
typedef int vm_prot_t;
typedef unsigned int vm_inherit_t;
typedef vm_offset_t pointer_t;

#define VM_PROT_NONE ((vm_prot_t)0x00)
#define VM_PROT_READ ((vm_prot_t)0x01)
#define VM_PROT_WRITE ((vm_prot_t)0x02)
#define VM_PROT_EXECUTE ((vm_prot_t)0x04)
#define VM_PROT_DEFAULT (VM_PROT_READ | VM_PROT_WRITE)
#define VM_PROT_ALL (VM_PROT_READ | VM_PROT_WRITE | VM_PROT_EXECUTE)

#define VM_INHERIT_SHARE ((vm_inherit_t)0)
#define VM_INHERIT_COPY ((vm_inherit_t)1)
#define VM_INHERIT_NONE ((vm_inherit_t)2)
#define VM_INHERIT_DEFAULT VM_INHERIT_COPY

#define VM_FLAGS_FIXED 0x0000
#define VM_FLAGS_ANYWHERE 0x0001

#endif
