// The scheduler: a run queue, the switch, blocking and waking, the quantum.
//
// One host thread runs everything. The host's own stack is the idle context:
// it runs the idle loop (advance the clock to the next timer, detect the end of
// the run) and nothing else. Threads switch straight to one another: a thread
// that blocks hands the CPU to a preferred thread (direct handoff) or the head of
// the run queue, and only falls back to idle when nobody is ready.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernel/machine/clock.h"
#include "kernel/machine/context.h"
#include "kernel/machine/fault.h"
#include "kernel/machine/irq_controller.h"
#include "kernel/machine/list.h"
#include "kernel/machine/sched_policy.h"
#include "kernel/machine/stack_pool.h"
#include "kernel/machine/timer_queue.h"
#include "kernel/machine/trace_bus.h"

namespace machsim::machine {

class Scheduler {
public:
    Scheduler(StackPool& stacks, Clock& clock, TimerQueue& timers, TraceBus& trace, uint64_t quantum,
              const PolicyConfig& policy = {});
    Scheduler(const Scheduler&) = delete;
    Scheduler& operator=(const Scheduler&) = delete;

    Context* current() const { return current_; }
    // The scheduler running contexts on this host thread now (for the fault handler).
    static Scheduler* active() { return active_; }
    bool on_idle() const { return current_ == &idle_; }

    // Gives c a stack and puts it on the run queue; it will begin in entry(c).
    // False when the host has no stack to give.
    [[nodiscard]] bool start(Context* c, void (*entry)(Context*));

    // Ends c's wait with `result` and makes it ready. c must be blocked.
    void wake(Context* c, int32_t result);

    // The current context waits until someone wakes it; returns the wait result.
    // `prefer` (if ready) runs next without a trip through the run queue.
    int32_t block(Context* prefer = nullptr);

    // Suspension: a held context does not run. If it is ready it leaves the run
    // queue; if it is running it gives up the CPU; woken while held, it waits
    // for release(). Nesting is the caller's business (suspend counts).
    void hold(Context* c);
    void release(Context* c);

    // Arms a timer for the wait the current context is about to begin.
    void arm_timer(Context* c, uint64_t deadline, void (*on_timeout)(Context*));

    // Moves the current context to the tail of the run queue if anyone else is ready.
    void yield();

    // Ends the current context for good. Its stack is released once we are off it.
    [[noreturn]] void exit_current();
    // Ends the current context for good without unwinding it (exit() in task code),
    // as a fault that ends a thread does (fault.h): its frames, and those of the
    // faults it is in the handler of, are dropped as they are.
    [[noreturn]] void exit_abandoned();

    // Kernel entry: time passes, timers fire, and an expired quantum yields.
    void kernel_entry(uint64_t cost) {
        const bool quiet = entry_is_quiet(cost);
        kernel_entry_quiet(cost);
        if (__builtin_expect(!quiet, 0)) tick_events();
    }
    // Whether kernel_entry(cost) now would only count and advance the clock
    // (never under a seeded policy: every entry is a point to switch at).
    bool entry_is_quiet(uint64_t cost) const { return clock_.now() + cost < next_event_; }
    // kernel_entry(cost) when entry_is_quiet(cost).
    void kernel_entry_quiet(uint64_t cost) {
        ++kernel_entries_;
        clock_.advance(cost);
    }

    // Idle side: run ready contexts until none is left. Returns to the caller
    // (the host) when every context is blocked, dead, or asked to come back.
    void run_ready();
    // While set, every switch goes back to idle instead of to the next thread.
    void set_return_to_idle(bool on) {
        return_to_idle_ = on;
        no_handoff_ = on || !policy_.round_robin();
    }
    // At this virtual time the running thread is sent back to idle (Config::max_ticks).
    void set_time_limit(uint64_t tick) {
        limit_ = tick;
        refresh_other_events();
        recompute_next_event();
    }
    // Devices on the virtual clock: their raises come due at kernel entries, as timers do.
    void set_irq(IrqController* irq) { irq_ = irq; }
    // Something (a device's raise) is due at `tick`: kernel entries must not skip it.
    void expect_event(uint64_t tick) {
        other_events_ = std::min(other_events_, tick);
        recompute_next_event();
    }
    // Takes c out of scheduling for good without running it again (kernel teardown).
    void discard(Context* c);

    // Gives back the stack kept ready for the next fault (the run is over).
    void drop_spare_fault_stack();
    // Faults in task code (fault.h) go to h.
    void set_fault_handler(FaultHandler h, void* ctx) {
        fault_handler_ = h;
        fault_ctx_ = ctx;
    }
    bool has_ready() const { return !runq_.empty(); }
    // The virtual time c has run for (thread_info, task_info): kernel entries and
    // compute() advance the clock while it runs.
    uint64_t cpu_ticks(const Context& c) const {
        return c.cpu_ticks_ + (&c == current_ ? clock_.now() - slice_start_ : 0);
    }
    // Kernel entries so far (the watchdog's sign of life).
    uint64_t kernel_entries() const { return kernel_entries_; }

private:
    Context* pick();  // next context to run: the policy's choice from the run queue, else idle
    void make_ready(Context* c);
    // Inline into every switch (forced: at -O2 GCC would call them, ~40 instructions a switch).
    [[gnu::always_inline]] inline void switch_to(Context* next);
    [[gnu::always_inline]] inline void make_current(Context* prev, Context* next);
    void arrived(boost::context::detail::transfer_t t);
    void tick_events();
    void recompute_next_event();
    void refresh_other_events();
    static void trampoline(boost::context::detail::transfer_t t);

    // The fault detour (fault.cpp).
    friend struct FaultDetour;
    bool take_fault_stack(StackPool::Stack& out);  // signal context: no allocation
    void replenish_fault_stack();
    [[noreturn]] void exit_faulted();  // the current context ends on its fault stack
    // Gives back c's fault stack and those of the faults it is nested in (c is not on them).
    void release_fault_stacks(Context* c);

    StackPool& stacks_;
    Clock& clock_;
    TimerQueue& timers_;
    TraceBus& trace_;
    IrqController* irq_ = nullptr;
    const uint64_t quantum_;
    SchedPolicy policy_;
    // The C++ runtime's exception state for this host thread (__cxa_get_globals), looked up
    // once per run_ready rather than on every switch: make_current swaps it per context.
    void* eh_globals_ = nullptr;

    static inline thread_local Scheduler* active_ = nullptr;
    Context idle_;
    Context* current_ = &idle_;
    Context* zombie_ = nullptr;  // exited; its stack is released on the next arrival
    bool zombie_keeps_frames_ = false;  // ... or retired (StackPool::retire): it was not unwound
    List<Context, &Context::run_hook> runq_;
    uint64_t quantum_end_ = 0;
    uint64_t slice_start_ = 0;  // when current_ was switched in
    uint64_t next_event_ = 0;
    uint64_t limit_ = TimerQueue::kNever;
    // Never later than the next timer or the time limit (it may be earlier:
    // then tick_events finds nothing to do and recomputes it exactly). Always 0 under a
    // seeded policy, so that every kernel entry reaches tick_events, where the policy decides.
    uint64_t other_events_ = 0;
    bool return_to_idle_ = false;
    // return_to_idle_, or a seeded policy (which chooses for itself): block() hands off to no one.
    // One flag, so that the RPC path tests one thing, as before the policies.
    bool no_handoff_ = false;
    uint64_t kernel_entries_ = 0;
    FaultHandler fault_handler_ = nullptr;
    void* fault_ctx_ = nullptr;
    StackPool::Stack spare_fault_stack_{};  // ready before a fault needs it: the handler cannot allocate
};

}  // namespace machsim::machine
