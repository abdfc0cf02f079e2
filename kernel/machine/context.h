// A Context is one schedulable flow of control: a fiber on its own stack plus
// the state the scheduler and wait queues keep for it. tasks::Thread is a Context.
#pragma once

#include <cstdint>

#include <boost/context/detail/fcontext.hpp>

#include "kernel/machine/list.h"
#include "kernel/machine/stack_pool.h"

namespace machsim::machine {

class Scheduler;

enum class RunState : uint8_t { New, Ready, Running, Blocked, Dead };

class Context {
public:
    Context() = default;
    virtual ~Context() = default;
    Context(const Context&) = delete;
    Context& operator=(const Context&) = delete;

    RunState state() const { return state_; }

    // Written by whoever ends a wait (wake, timeout); read by the waiter when block() returns.
    int32_t wait_result = 0;
    // Bumped each time a wait ends, so a timer armed for an earlier wait is recognised as stale.
    uint64_t timer_gen = 0;
    // Called when this context's armed timer fires while it is still blocked.
    void (*on_timeout)(Context*) = nullptr;
    // What the context waits on, for whoever ends the wait (the IPC layer keeps its Waiter here).
    void* wait_object = nullptr;
    // Identity shown in the trace.
    uint32_t trace_task = 0;
    uint32_t trace_thread = 0;

    ListHook run_hook;  // owned by the scheduler's run queue while Ready

private:
    friend class Scheduler;
    RunState state_ = RunState::New;
    Scheduler* sched_ = nullptr;
    boost::context::detail::fcontext_t fctx_ = nullptr;  // where to resume this context
    StackPool::Stack stack_{};
    void (*entry_)(Context*) = nullptr;
    // AddressSanitizer's view of the stack; see Scheduler::switch_to.
    void* fake_stack_ = nullptr;
    const void* asan_bottom_ = nullptr;
    std::size_t asan_size_ = 0;
};

}  // namespace machsim::machine
