/* Exceptions: types, masks, behaviours (XNU numbering, x86_64). */
#ifndef MACHSIM_MACH_EXCEPTION_TYPES_H
#define MACHSIM_MACH_EXCEPTION_TYPES_H

#include <stdint.h>

#include "mach/machine_types.h"
#include "mach/port.h"
#include "mach/thread_status.h"

#define EXC_BAD_ACCESS 1      /* code: KERN_INVALID_ADDRESS or KERN_PROTECTION_FAILURE; subcode: the address */
#define EXC_BAD_INSTRUCTION 2 /* code: EXC_I386_INVOP; subcode: 0, as on XNU */
#define EXC_ARITHMETIC 3      /* code: EXC_I386_DIV or EXC_I386_SSEEXTERR; subcode: 0, as on XNU */
#define EXC_EMULATION 4
#define EXC_SOFTWARE 5
#define EXC_BREAKPOINT 6
#define EXC_SYSCALL 7
#define EXC_MACH_SYSCALL 8
#define EXC_RPC_ALERT 9
#define EXC_CRASH 10
#define EXC_RESOURCE 11
#define EXC_GUARD 12
#define EXC_CORPSE_NOTIFY 13
#define EXC_TYPES_COUNT 14

#define EXC_MASK_BAD_ACCESS (1 << EXC_BAD_ACCESS)
#define EXC_MASK_BAD_INSTRUCTION (1 << EXC_BAD_INSTRUCTION)
#define EXC_MASK_ARITHMETIC (1 << EXC_ARITHMETIC)
#define EXC_MASK_EMULATION (1 << EXC_EMULATION)
#define EXC_MASK_SOFTWARE (1 << EXC_SOFTWARE)
#define EXC_MASK_BREAKPOINT (1 << EXC_BREAKPOINT)
#define EXC_MASK_SYSCALL (1 << EXC_SYSCALL)
#define EXC_MASK_MACH_SYSCALL (1 << EXC_MACH_SYSCALL)
#define EXC_MASK_RPC_ALERT (1 << EXC_RPC_ALERT)
#define EXC_MASK_CRASH (1 << EXC_CRASH)
#define EXC_MASK_RESOURCE (1 << EXC_RESOURCE)
#define EXC_MASK_GUARD (1 << EXC_GUARD)
#define EXC_MASK_CORPSE_NOTIFY (1 << EXC_CORPSE_NOTIFY)
#define EXC_MASK_MACHINE 0
#define EXC_MASK_ALL                                                                                          \
    (EXC_MASK_BAD_ACCESS | EXC_MASK_BAD_INSTRUCTION | EXC_MASK_ARITHMETIC | EXC_MASK_EMULATION |              \
     EXC_MASK_SOFTWARE | EXC_MASK_BREAKPOINT | EXC_MASK_SYSCALL | EXC_MASK_MACH_SYSCALL | EXC_MASK_RPC_ALERT | \
     EXC_MASK_RESOURCE | EXC_MASK_GUARD | EXC_MASK_MACHINE)
#define EXC_MASK_VALID (EXC_MASK_ALL | EXC_MASK_CRASH | EXC_MASK_CORPSE_NOTIFY)

/* x86 codes */
#define EXC_I386_INVOP 1 /* EXC_BAD_INSTRUCTION */
#define EXC_I386_DIV 1   /* EXC_ARITHMETIC: integer divide by zero or overflow */
#define EXC_I386_INTO 2
#define EXC_I386_NOEXT 3
#define EXC_I386_EXTOVR 4
#define EXC_I386_EXTERR 5 /* floating point */
#define EXC_I386_EMERR 6
#define EXC_I386_BOUND 7
#define EXC_I386_SSEEXTERR 8

/* Behaviours: which message the handler gets. machsim sends only EXCEPTION_DEFAULT's;
 * a handler port with another one is refused (KERN_INVALID_ARGUMENT). */
#define EXCEPTION_DEFAULT 1                  /* exception_raise: thread, task, exception, codes */
#define EXCEPTION_STATE 2                    /* exception_raise_state (not provided) */
#define EXCEPTION_STATE_IDENTITY 3           /* exception_raise_state_identity (not provided) */
#define EXCEPTION_IDENTITY_PROTECTED 4       /* needs MACH_EXCEPTION_CODES (not provided) */
#define EXCEPTION_STATE_IDENTITY_PROTECTED 5 /* (not provided) */
#define MACH_EXCEPTION_BACKTRACE_PREFERRED 0x20000000 /* needs MACH_EXCEPTION_CODES; no effect */
#define MACH_EXCEPTION_ERRORS 0x40000000              /* no effect */
#define MACH_EXCEPTION_CODES 0x80000000               /* 64-bit codes: mach_exception_raise */
#define MACH_EXCEPTION_MASK (MACH_EXCEPTION_CODES | MACH_EXCEPTION_ERRORS | MACH_EXCEPTION_BACKTRACE_PREFERRED)

typedef int exception_type_t;
typedef integer_t exception_data_type_t;
typedef int64_t mach_exception_data_type_t;
typedef int exception_behavior_t;
typedef exception_data_type_t* exception_data_t;
typedef mach_exception_data_type_t* mach_exception_data_t;
typedef unsigned int exception_mask_t;
typedef exception_mask_t* exception_mask_array_t;
typedef exception_behavior_t* exception_behavior_array_t;
typedef thread_state_flavor_t* exception_flavor_array_t;
typedef mach_port_t* exception_port_array_t;
typedef mach_port_t exception_handler_t;
typedef mach_port_t* exception_handler_array_t;
typedef mach_exception_data_type_t mach_exception_code_t;
typedef mach_exception_data_type_t mach_exception_subcode_t;

#endif
