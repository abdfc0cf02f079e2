/* Thread state flavors of x86 (XNU values, osfmk/mach/i386/thread_status.h). machsim
 * keeps no thread state: a flavor is only checked and kept with an exception handler. */
#ifndef MACHSIM_MACH_THREAD_STATUS_H
#define MACHSIM_MACH_THREAD_STATUS_H

#define x86_THREAD_STATE32 1
#define x86_FLOAT_STATE32 2
#define x86_EXCEPTION_STATE32 3
#define x86_THREAD_STATE64 4
#define x86_FLOAT_STATE64 5
#define x86_EXCEPTION_STATE64 6
#define x86_THREAD_STATE 7
#define x86_FLOAT_STATE 8
#define x86_EXCEPTION_STATE 9
#define x86_DEBUG_STATE32 10
#define x86_DEBUG_STATE64 11
#define x86_DEBUG_STATE 12
#define THREAD_STATE_NONE 13
/* 14 and 15: XNU's own saved-state flavors, not valid from a task */
#define x86_AVX_STATE32 16
#define x86_AVX_STATE64 17
#define x86_AVX_STATE 18
#define x86_AVX512_STATE32 19
#define x86_AVX512_STATE64 20
#define x86_AVX512_STATE 21
#define x86_PAGEIN_STATE 22
#define x86_THREAD_FULL_STATE64 23
#define x86_INSTRUCTION_STATE 24
#define x86_LAST_BRANCH_STATE 25

/* Every flavor above, as XNU's macro of that name lists them. */
#define VALID_THREAD_STATE_FLAVOR(x) \
    (((x) >= x86_THREAD_STATE32 && (x) <= THREAD_STATE_NONE) || ((x) >= x86_AVX_STATE32 && (x) <= x86_LAST_BRANCH_STATE))

typedef int thread_state_flavor_t;

#endif
