#include "kernel/machine/scheduler.h"

#include <cxxabi.h>

#include <algorithm>

#include "kernel/machine/address_space.h"
#include "kernel/machine/sanitizer.h"

namespace machsim::machine {

namespace fc = boost::context::detail;

namespace {
// The Itanium C++ ABI's per-thread exception state, as libstdc++ and libc++ lay it out.
struct EhGlobals {
    void* caught;       // the stack of exceptions being handled (std::current_exception)
    unsigned uncaught;  // exceptions thrown and not yet caught (std::uncaught_exceptions)
};
}  // namespace

Scheduler::Scheduler(StackPool& stacks, Clock& clock, TimerQueue& timers, TraceBus& trace, uint64_t quantum,
                     const PolicyConfig& policy)
    // The end of virtual time is as good as no time slicing, and keeps now + quantum_ from wrapping.
    : stacks_(stacks), clock_(clock), timers_(timers), trace_(trace),
      quantum_(std::clamp<uint64_t>(quantum, 1, Clock::kEndOfTime)), policy_(policy),
      no_handoff_(!policy_.round_robin()) {
    idle_.state_ = RunState::Running;
    idle_.sched_ = this;
}

bool Scheduler::start(Context* c, void (*entry)(Context*)) {
    MS_ASSERT(c->state_ == RunState::New, "starting a context twice");
    replenish_fault_stack();
    if (!stacks_.allocate(c->stack_)) return false;
    c->entry_ = entry;
    c->sched_ = this;
    c->asan_bottom_ = c->stack_.lo;
    c->asan_size_ = c->stack_.size;
    c->fctx_ = fc::make_fcontext(c->stack_.top(), c->stack_.size, &Scheduler::trampoline);
    policy_.admit(c);
    make_ready(c);
    return true;
}

void Scheduler::make_ready(Context* c) {
    c->state_ = RunState::Ready;
    if (__builtin_expect(c->held_, 0)) {
        c->parked_ = true;
        return;
    }
    runq_.push_back(c);
}

void Scheduler::hold(Context* c) {
    if (c->held_ || c->state_ == RunState::Dead) return;
    c->held_ = true;
    MS_TRACE(trace_, Event{.kind = EventKind::Suspend, .extra = c->trace_thread});
    if (c->state_ == RunState::Ready && c->run_hook.linked()) {
        runq_.remove(c);
        c->parked_ = true;
    } else if (c == current_) {
        c->state_ = RunState::Ready;
        c->parked_ = true;
        switch_to(pick());  // back here once released and scheduled
    }
}

void Scheduler::release(Context* c) {
    if (!c->held_) return;
    c->held_ = false;
    MS_TRACE(trace_, Event{.kind = EventKind::Resume, .extra = c->trace_thread});
    if (c->parked_) {
        c->parked_ = false;
        runq_.push_back(c);
    }
}

void Scheduler::wake(Context* c, int32_t result) {
    MS_ASSERT(c->state_ == RunState::Blocked, "waking a context that is not blocked");
    c->wait_result = result;
    ++c->timer_gen;
    c->abort_wait = nullptr;
    MS_TRACE(trace_, Event{.kind = EventKind::Wake, .code = result, .extra = c->trace_thread});
    make_ready(c);
}

Context* Scheduler::pick() {
    if (return_to_idle_ || runq_.empty()) return &idle_;
    if (__builtin_expect(!policy_.round_robin(), 0)) {
        Context* c = policy_.choose(runq_);
        runq_.remove(c);
        return c;
    }
    return runq_.pop_front();
}

int32_t Scheduler::block(Context* prefer) {
    Context* self = current_;
    MS_ASSERT(self != &idle_, "the idle context cannot block");
    self->state_ = RunState::Blocked;
    Context* next;
    // A seeded policy chooses for itself: a handoff would hide the interleavings it explores.
    if (prefer && prefer->state_ == RunState::Ready && prefer->run_hook.linked() && !no_handoff_) {
        runq_.remove(prefer);
        next = prefer;
    } else {
        next = pick();
    }
    switch_to(next);
    return self->wait_result;
}

void Scheduler::arm_timer(Context* c, uint64_t deadline, void (*on_timeout)(Context*)) {
    c->on_timeout = on_timeout;
    timers_.arm(c, deadline);
    other_events_ = std::min(other_events_, deadline);
    next_event_ = std::min(next_event_, deadline);
}

void Scheduler::yield() {
    Context* self = current_;
    if (runq_.empty() && !return_to_idle_) {
        quantum_end_ = clock_.now() + quantum_;
        recompute_next_event();
        return;
    }
    Context* next = pick();  // one of the others (round robin: the head, as if self were queued first)
    make_ready(self);
    switch_to(next);
}

// The CPU goes from prev to next (the jump itself is the caller's).
void Scheduler::make_current(Context* prev, Context* next) {
    next->state_ = RunState::Running;
    current_ = next;
    // A context switched out while an exception is in flight (a destructor that waits
    // during unwinding) or handled must not leave it to the next one: the kernel reads
    // std::uncaught_exceptions() to know whether *this* thread unwinds, and would
    // neither unwind a killed thread nor deliver a signal while another one does.
    auto* eh = static_cast<EhGlobals*>(eh_globals_);
    prev->eh_caught = eh->caught;
    prev->eh_uncaught = eh->uncaught;
    eh->caught = next->eh_caught;
    eh->uncaught = next->eh_uncaught;
    // Isolation: the outgoing task's regions leave the address range if it had opened them.
    if (__builtin_expect(prev->vm != next->vm && prev->vm && prev->vm->is_open(), 0)) prev->vm->close();
    trace_.set_actor(next->trace_task, next->trace_thread);
    const uint64_t now = clock_.now();
    prev->cpu_ticks_ += now - slice_start_;
    slice_start_ = now;
    quantum_end_ = now + quantum_;
    recompute_next_event();
}

void Scheduler::exit_current() {
    Context* self = current_;
    MS_ASSERT(self != &idle_, "the idle context cannot exit");
    self->state_ = RunState::Dead;
    timers_.forget(self);
    zombie_ = self;
    Context* next = pick();
    make_current(self, next);
    MS_TRACE(trace_, Event{.kind = EventKind::Switch, .extra = self->trace_thread});  // from a thread that ended
    asan_start_switch(nullptr, next->asan_bottom_, next->asan_size_);  // our fake stack dies with us
    machsim_jump_fcontext(next->fctx_, self);
    __builtin_unreachable();
}

void Scheduler::switch_to(Context* next) {
    Context* prev = current_;
    if (next == prev) {
        prev->state_ = RunState::Running;
        return;
    }
    make_current(prev, next);
    MS_TRACE(trace_, Event{.kind = EventKind::Switch, .extra = prev->trace_thread});
    asan_start_switch(&prev->fake_stack_, next->asan_bottom_, next->asan_size_);
    fc::transfer_t t = machsim_jump_fcontext(next->fctx_, prev);
    arrived(t);
}

// Runs first on every context that has just been switched to.
void Scheduler::arrived(fc::transfer_t t) {
    Context* from = static_cast<Context*>(t.data);
    const void* from_bottom = nullptr;
    std::size_t from_size = 0;
    asan_finish_switch(current_->fake_stack_, &from_bottom, &from_size);
    if (from == &idle_ && !idle_.asan_bottom_) {  // learn the host stack's extent once
        idle_.asan_bottom_ = from_bottom;
        idle_.asan_size_ = from_size;
    }
    from->fctx_ = t.fctx;
    if (zombie_) {
        if (zombie_keeps_frames_) {
            stacks_.retire(zombie_->stack_);
            zombie_keeps_frames_ = false;
        } else {
            stacks_.release(zombie_->stack_);
        }
        zombie_->stack_ = {};
        zombie_->fctx_ = nullptr;
        zombie_ = nullptr;
    }
}

void Scheduler::trampoline(fc::transfer_t t) {
    // Whoever switched to us belongs to the same scheduler.
    Scheduler* self = static_cast<Context*>(t.data)->sched_;
    self->arrived(t);
    Context* c = self->current_;
    c->entry_(c);
    self->exit_current();
}

void Scheduler::run_ready() {
    MS_ASSERT(current_ == &idle_, "run_ready must be called from the idle context");
    Scheduler* outer = active_;
    active_ = this;
    eh_globals_ = abi::__cxa_get_globals();  // every switch happens on this host thread, inside this loop
    while (!return_to_idle_ && !runq_.empty()) switch_to(pick());
    active_ = outer;
}

void Scheduler::discard(Context* c) {
    if (c->state_ == RunState::Dead || c == current_) return;
    if (c->run_hook.linked()) runq_.remove(c);
    c->parked_ = false;
    timers_.forget(c);
    stacks_.release(c->stack_);
    release_fault_stacks(c);  // in a fault nested in faults, one stack per fault
    c->stack_ = {};
    c->fctx_ = nullptr;
    c->state_ = RunState::Dead;
}

void Scheduler::tick_events() {
    if (clock_.now() >= limit_ && current_ != &idle_) {
        set_return_to_idle(true);  // time is up: hand the machine back to the run loop
        make_ready(current_);
        switch_to(&idle_);
        return;
    }
    timers_.fire(clock_.now());
    if (irq_) irq_->fire(clock_.now());
    refresh_other_events();
    if (clock_.now() >= quantum_end_) {
        if (!runq_.empty() && current_ != &idle_) {
            yield();  // the timer interrupt: take our turn at the back of the queue
        } else {
            quantum_end_ = clock_.now() + quantum_;
        }
    } else if (!policy_.round_robin() && current_ != &idle_ && policy_.preempt(current_, runq_)) {
        yield();
    }
    recompute_next_event();
}

void Scheduler::recompute_next_event() { next_event_ = std::min(quantum_end_, other_events_); }

void Scheduler::refresh_other_events() {
    other_events_ = policy_.round_robin() ? std::min({timers_.next_deadline(), limit_, irq_ ? irq_->next_deadline() : limit_})
                                          : 0;  // a seeded policy decides at every kernel entry
}

}  // namespace machsim::machine
