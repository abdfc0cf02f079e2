// The one event bus. Every kernel action is emitted here; sinks subscribe.
// MS_TRACE costs one predictable branch when no sink is attached: the event
// is not even built.
#pragma once

#include <vector>

#include "kernel/machine/clock.h"
#include "machsim/trace.h"

namespace machsim::machine {

class TraceBus {
public:
    explicit TraceBus(const Clock& clock) : clock_(clock) {}

    bool active() const { return active_; }
    void attach(TraceSink* sink);
    void detach(TraceSink* sink);
    void detach_all() {
        sinks_.clear();
        active_ = false;
    }

    // Who is acting now (set by the scheduler on every switch).
    void set_actor(uint32_t task, uint32_t thread) {
        actor_task_ = task;
        actor_thread_ = thread;
    }
    uint32_t actor_task() const { return actor_task_; }
    uint32_t actor_thread() const { return actor_thread_; }

    // Stamps seq, tick and (unless set) the actor, then hands the event to every sink.
    void emit(Event e);
    uint64_t count() const { return seq_; }
    // True while a sink's on_event runs: the code running then is the host's, not a task's.
    bool emitting() const { return emitting_ > 0; }

private:
    const Clock& clock_;
    std::vector<TraceSink*> sinks_;
    bool active_ = false;
    int emitting_ = 0;  // emit calls under way (a sink's on_event may attach or detach)
    uint64_t seq_ = 0;
    uint32_t actor_task_ = 0;
    uint32_t actor_thread_ = 0;
};

}  // namespace machsim::machine

#define MS_TRACE(bus, ...)                                  \
    do {                                                    \
        if (__builtin_expect((bus).active(), 0)) (bus).emit(__VA_ARGS__); \
    } while (0)
