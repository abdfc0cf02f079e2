// Thread state: the registers of a thread stopped at a fault, or of one made by
// thread_create that has not run yet, in the flavors of
// XNU's x86 thread_get_state / thread_set_state. The one place that knows the
// flavors; thread_get_state, thread_set_state and the EXCEPTION_STATE messages
// all come here.
#pragma once

#include "kernel/machine/fault.h"
#include "mach/thread_status.h"
#include "ports/env.h"

namespace machsim::tasks {
class Thread;
}

namespace machsim::gate {

// The largest state machsim gives, in words (x86_THREAD_STATE).
constexpr mach_msg_type_number_t kLargestState = x86_THREAD_STATE_COUNT;

// Whether thread_get_state can give `flavor` (and an EXCEPTION_STATE handler ask for it).
bool state_flavor_provided(thread_state_flavor_t flavor);

// Writes t's state in `flavor` to state (kernel memory, room for *count words)
// and sets *count to its size. KERN_INVALID_ARGUMENT: a flavor machsim does not
// give, or too little room; KERN_FAILURE: t has no registers (see above).
kern_return_t get_thread_state(ipc::Env& env, const tasks::Thread& t, thread_state_flavor_t flavor,
                               natural_t* state, mach_msg_type_number_t* count);

// Reads `count` words of `flavor` (kernel memory) as registers to set.
// KERN_INVALID_ARGUMENT: a flavor that cannot be set, or the wrong count for it.
kern_return_t read_thread_state(ipc::Env& env, thread_state_flavor_t flavor, const natural_t* state,
                                mach_msg_type_number_t count, machine::UserRegisters& regs);

// Sets t's registers from `count` words of `flavor` (kernel memory); t resumes
// with them. Codes as get_thread_state's; the exception states cannot be set.
kern_return_t set_thread_state(ipc::Env& env, tasks::Thread& t, thread_state_flavor_t flavor, const natural_t* state,
                               mach_msg_type_number_t count);

}  // namespace machsim::gate
