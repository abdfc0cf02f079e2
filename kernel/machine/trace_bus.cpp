#include "kernel/machine/trace_bus.h"

#include <algorithm>

namespace machsim::machine {

void TraceBus::attach(TraceSink* sink) {
    if (std::find(sinks_.begin(), sinks_.end(), sink) == sinks_.end()) sinks_.push_back(sink);
    active_ = !sinks_.empty();
}

void TraceBus::detach(TraceSink* sink) {
    sinks_.erase(std::remove(sinks_.begin(), sinks_.end(), sink), sinks_.end());
    active_ = !sinks_.empty();
}

void TraceBus::emit(Event e) {
    e.seq = ++seq_;
    e.tick = clock_.now();
    if (e.task == 0 && e.thread == 0) {
        e.task = actor_task_;
        e.thread = actor_thread_;
    }
    for (TraceSink* s : sinks_) s->on_event(e);
}

}  // namespace machsim::machine
