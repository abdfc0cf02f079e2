// Virtual time. Only the clock moves time; nothing in the core reads a wall clock.
// One tick is one virtual microsecond.
#pragma once

#include <cstdint>

namespace machsim::machine {

class Clock {
public:
    uint64_t now() const { return now_; }
    void advance(uint64_t ticks) { now_ += ticks; }
    void advance_to(uint64_t tick) {
        if (tick > now_) now_ = tick;
    }

private:
    uint64_t now_ = 0;
};

}  // namespace machsim::machine
