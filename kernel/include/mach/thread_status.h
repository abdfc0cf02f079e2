/* Thread state of x86-64: flavors (XNU values, osfmk/mach/i386/thread_status.h), the
 * layouts of those machsim provides, and their counts in 32-bit words. machsim has a
 * thread's registers only while it is stopped at a fault, or made by thread_create and
 * not run yet (docs/api.md, section 12.6):
 * thread_get_state and thread_set_state, and the EXCEPTION_STATE and
 * EXCEPTION_STATE_IDENTITY messages, give x86_THREAD_STATE64, x86_EXCEPTION_STATE64
 * and their x86_THREAD_STATE / x86_EXCEPTION_STATE wrappers. */
#ifndef MACHSIM_MACH_THREAD_STATUS_H
#define MACHSIM_MACH_THREAD_STATUS_H

#include <stdint.h>

#include "mach/machine_types.h"

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

/* The largest state of any flavor, in 32-bit words (XNU's I386_THREAD_STATE_MAX). */
#define THREAD_STATE_MAX 614
typedef natural_t *thread_state_t;
typedef natural_t thread_state_data_t[THREAD_STATE_MAX];

/* The names are the macOS SDK's (with its double underscores). */
typedef struct {
    uint64_t __rax, __rbx, __rcx, __rdx, __rdi, __rsi, __rbp, __rsp;
    uint64_t __r8, __r9, __r10, __r11, __r12, __r13, __r14, __r15;
    uint64_t __rip, __rflags, __cs, __fs, __gs;
} x86_thread_state64_t;

typedef struct {
    unsigned int __eax, __ebx, __ecx, __edx, __edi, __esi, __ebp, __esp;
    unsigned int __ss, __eflags, __eip, __cs, __ds, __es, __fs, __gs;
} x86_thread_state32_t;

typedef struct {
    uint16_t __trapno;    /* the x86 vector: 14 is a page fault */
    uint16_t __cpu;
    uint32_t __err;       /* the vector's error code */
    uint64_t __faultvaddr;
} x86_exception_state64_t;

typedef struct {
    uint16_t __trapno;
    uint16_t __cpu;
    uint32_t __err;
    uint32_t __faultvaddr;
} x86_exception_state32_t;

/* The flavor-independent wrappers: a header saying which state follows. */
typedef struct {
    uint32_t flavor;
    uint32_t count;
} x86_state_hdr_t;

typedef struct {
    x86_state_hdr_t tsh;
    union {
        x86_thread_state32_t ts32;
        x86_thread_state64_t ts64;
    } uts;
} x86_thread_state_t;

typedef struct {
    x86_state_hdr_t esh;
    union {
        x86_exception_state64_t es64;
        x86_exception_state32_t es32;
    } ues;
} x86_exception_state_t;

#define x86_THREAD_STATE64_COUNT ((mach_msg_type_number_t)(sizeof(x86_thread_state64_t) / sizeof(int)))       /* 42 */
#define x86_THREAD_STATE32_COUNT ((mach_msg_type_number_t)(sizeof(x86_thread_state32_t) / sizeof(int)))       /* 16 */
#define x86_EXCEPTION_STATE64_COUNT ((mach_msg_type_number_t)(sizeof(x86_exception_state64_t) / sizeof(int))) /* 4 */
#define x86_EXCEPTION_STATE32_COUNT ((mach_msg_type_number_t)(sizeof(x86_exception_state32_t) / sizeof(int))) /* 3 */
#define x86_THREAD_STATE_COUNT ((mach_msg_type_number_t)(sizeof(x86_thread_state_t) / sizeof(int)))           /* 44 */
#define x86_EXCEPTION_STATE_COUNT ((mach_msg_type_number_t)(sizeof(x86_exception_state_t) / sizeof(int)))     /* 6 */

#endif
