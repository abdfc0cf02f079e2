// Timers on the virtual clock: each belongs to a blocked context and fires at
// most once. Ties fire in the order they were armed, so runs are deterministic.
#pragma once

#include <cstdint>
#include <limits>
#include <vector>

namespace machsim::machine {

class Context;

class TimerQueue {
public:
    static constexpr uint64_t kNever = std::numeric_limits<uint64_t>::max();

    // Arms a timer for c's current wait (c->timer_gen); it fires c->on_timeout.
    void arm(Context* c, uint64_t deadline);
    // The earliest deadline of a live timer, or kNever.
    uint64_t next_deadline() {
        if (heap_.empty()) return kNever;
        return live(heap_.front()) ? heap_.front().deadline : next_deadline_slow();
    }
    // Fires every live timer whose deadline is <= now.
    void fire(uint64_t now);
    // Drops every timer of c (c is going away).
    void forget(const Context* c);
    bool empty() { return next_deadline() == kNever; }

private:
    struct Entry {
        uint64_t deadline;
        uint64_t seq;
        uint64_t gen;
        Context* ctx;
    };
    static bool later(const Entry& a, const Entry& b) {
        return a.deadline != b.deadline ? a.deadline > b.deadline : a.seq > b.seq;
    }
    static bool live(const Entry& e);
    uint64_t next_deadline_slow();
    void drop_stale_top();

    std::vector<Entry> heap_;
    uint64_t seq_ = 0;
};

}  // namespace machsim::machine
