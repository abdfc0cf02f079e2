#include "kernel/machine/timer_queue.h"

#include <algorithm>

#include "kernel/machine/context.h"

namespace machsim::machine {

bool TimerQueue::live(const Entry& e) {
    return e.ctx->timer_gen == e.gen && e.ctx->state() == RunState::Blocked;
}

void TimerQueue::arm(Context* c, uint64_t deadline) {
    heap_.push_back({deadline, seq_++, c->timer_gen, c});
    std::push_heap(heap_.begin(), heap_.end(), later);
}

void TimerQueue::drop_stale_top() {
    while (!heap_.empty() && !live(heap_.front())) {
        std::pop_heap(heap_.begin(), heap_.end(), later);
        heap_.pop_back();
    }
}

uint64_t TimerQueue::next_deadline_slow() {
    drop_stale_top();
    return heap_.empty() ? kNever : heap_.front().deadline;
}

void TimerQueue::fire(uint64_t now) {
    for (;;) {
        drop_stale_top();
        if (heap_.empty() || heap_.front().deadline > now) return;
        Entry e = heap_.front();
        std::pop_heap(heap_.begin(), heap_.end(), later);
        heap_.pop_back();
        e.ctx->on_timeout(e.ctx);
    }
}

void TimerQueue::forget(const Context* c) {
    auto gone = std::remove_if(heap_.begin(), heap_.end(), [c](const Entry& e) { return e.ctx == c; });
    if (gone == heap_.end()) return;
    heap_.erase(gone, heap_.end());
    std::make_heap(heap_.begin(), heap_.end(), later);
}

}  // namespace machsim::machine
