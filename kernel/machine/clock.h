// Virtual time. Only the clock moves time; nothing in the core reads a wall clock.
// One tick is one virtual microsecond.
#pragma once

#include <cstdint>

namespace machsim::machine {

class Clock {
public:
    // Virtual time ends here (some 146,000 years of ticks), so that now + a quantum or a
    // timeout never wraps: longer quanta and compute() counts stop at it.
    static constexpr uint64_t kEndOfTime = uint64_t{1} << 62;

    uint64_t now() const { return now_; }
    void advance(uint64_t ticks) { now_ += ticks; }
    void advance_to(uint64_t tick) {
        if (tick > now_) now_ = tick;
    }

private:
    uint64_t now_ = 0;
};

}  // namespace machsim::machine
