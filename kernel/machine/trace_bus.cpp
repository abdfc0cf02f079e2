#include "kernel/machine/trace_bus.h"

#include <algorithm>

namespace machsim::machine {

void TraceBus::attach(TraceSink* sink) {
    if (std::find(sinks_.begin(), sinks_.end(), sink) == sinks_.end()) sinks_.push_back(sink);
    active_ = true;
}

void TraceBus::detach(TraceSink* sink) {
    auto it = std::find(sinks_.begin(), sinks_.end(), sink);
    if (it == sinks_.end()) return;
    // A sink may detach (itself or another) from on_event: while emit walks the list, only
    // blank the slot, so that every other sink still gets the event once; emit compacts after.
    if (emitting_) {
        *it = nullptr;
    } else {
        sinks_.erase(it);
    }
    active_ = std::any_of(sinks_.begin(), sinks_.end(), [](TraceSink* s) { return s != nullptr; });
}

void TraceBus::emit(Event e) {
    e.seq = ++seq_;
    e.tick = clock_.now();
    if (e.task == 0 && e.thread == 0) {
        e.task = actor_task_;
        e.thread = actor_thread_;
    }
    // By index, and only the sinks there when the event began: on_event may attach or detach.
    ++emitting_;
    for (std::size_t i = 0, n = sinks_.size(); i < n; ++i)
        if (TraceSink* s = sinks_[i]) s->on_event(e);
    if (--emitting_ == 0) sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), nullptr), sinks_.end());
}

}  // namespace machsim::machine
