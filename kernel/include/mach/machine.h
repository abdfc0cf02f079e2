/* CPU types, as host_info reports them (XNU osfmk/mach/machine.h). */
#ifndef MACHSIM_MACH_MACHINE_H
#define MACHSIM_MACH_MACHINE_H

#include "mach/machine_types.h"

typedef integer_t cpu_type_t;
typedef integer_t cpu_subtype_t;
typedef integer_t cpu_threadtype_t;

#define CPU_ARCH_ABI64 0x01000000
#define CPU_TYPE_X86 ((cpu_type_t)7)
#define CPU_TYPE_X86_64 (CPU_TYPE_X86 | CPU_ARCH_ABI64)
#define CPU_SUBTYPE_X86_64_ALL ((cpu_subtype_t)3)
#define CPU_THREADTYPE_NONE ((cpu_threadtype_t)0)

#endif
