/* Basic Mach scalar types (XNU's user-space spellings and widths).
 * Part of the kernel/user ABI: shared by every layer and by task programs. */
#ifndef MACHSIM_MACH_MACHINE_TYPES_H
#define MACHSIM_MACH_MACHINE_TYPES_H

#include <stdint.h>

typedef unsigned int natural_t;
typedef int integer_t;
typedef int boolean_t;
typedef uintptr_t vm_offset_t;
typedef uintptr_t vm_size_t;
typedef uintptr_t vm_address_t;
typedef uint64_t mach_vm_address_t;
typedef uint64_t mach_vm_size_t;
typedef uint64_t mach_vm_offset_t;
typedef natural_t mach_msg_type_number_t;

#ifndef TRUE
#define TRUE 1
#endif
#ifndef FALSE
#define FALSE 0
#endif

#endif
