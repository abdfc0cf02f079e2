// The flavors of x86 thread state machsim gives: x86_THREAD_STATE64 and
// x86_EXCEPTION_STATE64, and their x86_THREAD_STATE / x86_EXCEPTION_STATE
// wrappers, read from and written to the registers the fault path saved
// (machine::read_fault_registers), or those of a thread thread_create made
// that has not run yet (Thread::start_regs). Checks and codes follow XNU's
// machine_thread_get_state / machine_thread_set_state (osfmk/i386/pcb.c).
#include "kernel/gate/thread_state.h"

#include <cstring>

#include "kernel/machine/fault.h"
#include "mach/kern_return.h"
#include "tasks/task.h"

namespace machsim::gate {

namespace {

constexpr mach_msg_type_number_t words(std::size_t bytes) {
    return static_cast<mach_msg_type_number_t>(bytes / sizeof(natural_t));
}

// The size, in words, of each flavor given; 0 for one that is not.
mach_msg_type_number_t size_of(thread_state_flavor_t flavor) {
    switch (flavor) {
    case x86_THREAD_STATE64:
        return words(sizeof(x86_thread_state64_t));
    case x86_THREAD_STATE:
        return words(sizeof(x86_thread_state_t));
    case x86_EXCEPTION_STATE64:
        return words(sizeof(x86_exception_state64_t));
    case x86_EXCEPTION_STATE:
        return words(sizeof(x86_exception_state_t));
    default:
        return 0;
    }
}

x86_thread_state64_t to_state(const machine::UserRegisters& r) {
    return {r.rax, r.rbx, r.rcx, r.rdx, r.rdi, r.rsi, r.rbp, r.rsp, r.r8,     r.r9, r.r10,
            r.r11, r.r12, r.r13, r.r14, r.r15, r.rip, r.rflags, r.cs, r.fs, r.gs};
}

machine::UserRegisters to_registers(const x86_thread_state64_t& s) {
    return {s.__rax, s.__rbx, s.__rcx, s.__rdx, s.__rdi, s.__rsi, s.__rbp, s.__rsp, s.__r8,     s.__r9, s.__r10,
            s.__r11, s.__r12, s.__r13, s.__r14, s.__r15, s.__rip, s.__rflags, s.__cs, s.__fs, s.__gs};
}

x86_exception_state64_t to_state(const machine::TrapInfo& t) { return {t.trapno, 0, t.err, t.cr2}; }

constexpr const char* kNoRegisters =
    "is neither stopped at a fault nor made by thread_create and not run yet: machsim has a thread's registers only then";

template <class State>
void put(natural_t* out, const State& s) {
    std::memcpy(out, &s, sizeof s);
}

}  // namespace

bool state_flavor_provided(thread_state_flavor_t flavor) { return size_of(flavor) != 0; }

kern_return_t get_thread_state(ipc::Env& env, const tasks::Thread& t, thread_state_flavor_t flavor, natural_t* state,
                               mach_msg_type_number_t* count) {
    const mach_msg_type_number_t size = size_of(flavor);
    if (size == 0) return ipc::fail(env, KERN_INVALID_ARGUMENT, "flavor {}: machsim gives only x86_THREAD_STATE64 (4), "
                                    "x86_EXCEPTION_STATE64 (6), x86_THREAD_STATE (7), x86_EXCEPTION_STATE (9)", flavor);
    if (*count < size)
        return ipc::fail(env, KERN_INVALID_ARGUMENT, "flavor {} takes {} words, the count allows {}", flavor, size, *count);
    machine::UserRegisters regs = t.start_regs;  // a thread that has not run: no trap either
    machine::TrapInfo trap{};
    if (!t.unstarted && !machine::read_fault_registers(t, regs, trap))
        return ipc::fail(env, KERN_FAILURE, "thread {} {}", t.id, kNoRegisters);
    switch (flavor) {
    case x86_THREAD_STATE64:
        put(state, to_state(regs));
        break;
    case x86_THREAD_STATE: {
        x86_thread_state_t s{};
        s.tsh = {x86_THREAD_STATE64, x86_THREAD_STATE64_COUNT};
        s.uts.ts64 = to_state(regs);
        put(state, s);
        break;
    }
    case x86_EXCEPTION_STATE64:
        put(state, to_state(trap));
        break;
    default: {  // x86_EXCEPTION_STATE
        x86_exception_state_t s{};
        s.esh = {x86_EXCEPTION_STATE64, x86_EXCEPTION_STATE64_COUNT};
        s.ues.es64 = to_state(trap);
        put(state, s);
        break;
    }
    }
    *count = size;
    return KERN_SUCCESS;
}

kern_return_t read_thread_state(ipc::Env& env, thread_state_flavor_t flavor, const natural_t* state,
                                mach_msg_type_number_t count, machine::UserRegisters& regs) {
    x86_thread_state64_t s{};
    if (flavor == x86_THREAD_STATE64 && count == x86_THREAD_STATE64_COUNT) {
        std::memcpy(&s, state, sizeof s);
    } else if (flavor == x86_THREAD_STATE && count == x86_THREAD_STATE_COUNT) {
        x86_thread_state_t wrapped{};
        std::memcpy(&wrapped, state, sizeof wrapped);
        if (wrapped.tsh.flavor != x86_THREAD_STATE64 || wrapped.tsh.count != x86_THREAD_STATE64_COUNT)
            return ipc::fail(env, KERN_INVALID_ARGUMENT,
                             "x86_THREAD_STATE holds flavor {} count {}: a 64-bit thread takes x86_THREAD_STATE64, 42",
                             wrapped.tsh.flavor, wrapped.tsh.count);
        s = wrapped.uts.ts64;
    } else {
        return ipc::fail(env, KERN_INVALID_ARGUMENT,
                         "flavor {} with {} words: machsim sets only x86_THREAD_STATE64 (42 words) and "
                         "x86_THREAD_STATE (44)", flavor, count);
    }
    regs = to_registers(s);
    return KERN_SUCCESS;
}

kern_return_t set_thread_state(ipc::Env& env, tasks::Thread& t, thread_state_flavor_t flavor, const natural_t* state,
                               mach_msg_type_number_t count) {
    machine::UserRegisters regs{};
    if (kern_return_t kr = read_thread_state(env, flavor, state, count, regs); kr != KERN_SUCCESS) return kr;
    if (t.unstarted) {
        machine::set_user_registers(t.start_regs, regs);
        return KERN_SUCCESS;
    }
    if (!machine::write_fault_registers(t, regs))
        return ipc::fail(env, KERN_FAILURE, "thread {} {}", t.id, kNoRegisters);
    return KERN_SUCCESS;
}

}  // namespace machsim::gate
