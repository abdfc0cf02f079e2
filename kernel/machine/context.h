// A Context is one schedulable flow of control: a fiber on its own stack plus
// the state the scheduler and wait queues keep for it. tasks::Thread is a Context.
#pragma once

#include <cstdint>

#include <boost/context/detail/fcontext.hpp>

#include "kernel/machine/list.h"
#include "kernel/machine/stack_pool.h"

// Boost.Context's jump_fcontext with the same frames, but ending in `ret`, which
// keeps the CPU's return predictions right after a switch (switch_x86_64.S).
extern "C" boost::context::detail::transfer_t machsim_jump_fcontext(boost::context::detail::fcontext_t to,
                                                                    void* data);

namespace machsim::machine {

class AddressSpace;
class Scheduler;
struct FaultRecord;

enum class RunState : uint8_t { New, Ready, Running, Blocked, Dead };

class Context {
public:
    Context() = default;
    virtual ~Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    RunState state() const { return state_; }
    const void* stack_lo() const { return stack_.lo; }  // its guard gap lies just below
    bool in_fault() const { return fault_stack_.lo != nullptr; }  // the kernel is handling its fault
    bool held() const { return held_; }
    // Ready but suspended, or blocked: it cannot run now.
    bool stalled() const { return state_ == RunState::Blocked || (state_ == RunState::Ready && parked_); }

    // Written by whoever ends a wait (wake, timeout); read by the waiter when block() returns.
    int32_t wait_result = 0;
    // Bumped each time a wait ends, so a timer armed for an earlier wait is recognised as stale.
    uint64_t timer_gen = 0;
    // Called when this context's armed timer fires while it is still blocked.
    void (*on_timeout)(Context*) = nullptr;
    // What the context waits on, for whoever ends the wait (the IPC layer keeps its Waiter here).
    void* wait_object = nullptr;
    // Ends the current wait early (thread_abort, termination), with the code that kind
    // of wait reports; set by whoever blocks the context.
    void (*abort_wait)(Context*) = nullptr;
    // The address space this context runs in (null for the idle context).
    AddressSpace* vm = nullptr;
    // Running kernel code (inside a system call or the kernel's own bookkeeping):
    // a fault now is the kernel's, not the task's.
    bool in_kernel = false;
    // Something awaits it at its next kernel exit (a signal, termination). An
    // interruptible wait it is about to begin ends at once instead, interrupted.
    bool attention = false;
    // The rule for every such wait (IPC, semaphores, sleeps): true when it must not
    // begin. A thread whose fault the kernel is handling waits regardless: the
    // exception RPC has to finish before anything else can happen to it.
    bool wait_interrupted() const { return attention && !in_fault(); }
    // The C++ runtime's exception state (its __cxa_eh_globals), which the runtime
    // keeps per host thread: each context keeps its own (Scheduler::make_current).
    void* eh_caught = nullptr;
    unsigned int eh_uncaught = 0;
    // Identity shown in the trace.
    uint32_t trace_task = 0;
    uint32_t trace_thread = 0;
    // The PCT policy's priority (sched_policy.h); unused by the other policies.
    uint64_t sched_priority = 0;

    ListHook run_hook;   // owned by the scheduler's run queue while Ready
    ListHook wait_hook;  // owned by a kernel wait list (a semaphore's) while Blocked there

private:
    friend class Scheduler;
    friend struct FaultDetour;
    RunState state_ = RunState::New;
    Scheduler* sched_ = nullptr;
    uint64_t cpu_ticks_ = 0;  // virtual time run, counted at each switch out (Scheduler::cpu_ticks)
    bool held_ = false;    // suspended: may not run until released
    bool parked_ = false;  // ready, but kept off the run queue while held
    boost::context::detail::fcontext_t fctx_ = nullptr;  // where to resume this context
    StackPool::Stack stack_{};
    StackPool::Stack fault_stack_{};  // the kernel stack it runs on while its fault is handled
    FaultRecord* fault_record_ = nullptr;  // that fault's record, on fault_stack_ (fault.cpp)
    void (*entry_)(Context*) = nullptr;
    // AddressSanitizer's view of the stack; see Scheduler::switch_to.
    void* fake_stack_ = nullptr;
    const void* asan_bottom_ = nullptr;
    std::size_t asan_size_ = 0;
};

}  // namespace machsim::machine
