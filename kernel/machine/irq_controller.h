// The interrupt controller: numbered lines, a mask and a priority per line, and
// the simulated devices that raise them on the virtual clock.
//
//   device (or Kernel::raise_irq) --raise--> line: no handler?  lost
//                                               masked?       remembered (one pending, coalesced)
//                                               otherwise     pending
//   dispatch: each pending line that is attached and unmasked, highest priority first
//             (equal priorities: lower line number first) --> masked, handler(line)
//   the driver acknowledges --unmask--> a remembered interrupt is dispatched at once
//
// The controller knows nothing of ports: the layer above attaches a handler to a
// line (a driver's registration) and is called back to deliver. Nothing moves but
// the clock and the program's own actions, so runs stay deterministic.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel/machine/clock.h"
#include "kernel/machine/trace_bus.h"

namespace machsim::machine {

class IrqController {
public:
    static constexpr uint32_t kLines = 16;
    static constexpr uint64_t kNever = ~uint64_t{0};

    // What the layer above does for a line that has a handler attached.
    struct Handler {
        // Whether the line's handler can still take interrupts (false: its
        // delivery port died; the callee has dropped it and the line is detached).
        bool (*alive)(void* ctx, uint32_t line) = nullptr;
        // Delivers one interrupt (the line is already masked); false when the
        // handler turned out dead (as for alive).
        bool (*deliver)(void* ctx, uint32_t line) = nullptr;
        void* ctx = nullptr;
    };

    struct Line {
        bool attached = false;  // a handler takes its interrupts
        bool masked = false;    // delivered and not yet acknowledged
        bool pending = false;   // an interrupt waits for delivery (at most one: raises coalesce)
        int32_t priority = 0;   // higher first
        uint64_t raised = 0;     // raises seen
        uint64_t delivered = 0;  // interrupts handed to the handler
        uint64_t coalesced = 0;  // raises merged into an interrupt already pending
        uint64_t lost = 0;       // raises with no handler attached (or whose handler was dead)
    };

    IrqController(Clock& clock, TraceBus& trace) : clock_(clock), trace_(trace) {}

    void set_handler(Handler h) { handler_ = h; }
    static bool valid(uint32_t line) { return line < kLines; }
    const Line& line(uint32_t n) const { return lines_[n]; }

    // A handler now takes the line's interrupts: unmasked, nothing pending.
    void attach(uint32_t n);
    // The line's handler is gone: unmasked, a remembered interrupt forgotten.
    void detach(uint32_t n);
    void set_priority(uint32_t n, int32_t priority) { lines_[n].priority = priority; }

    // `count` interrupts on line n at this instant (a device that fell behind
    // raises its missed ticks at once). Marks the line pending; dispatch() delivers.
    void raise(uint32_t n, uint64_t count);
    // Delivers the interrupt of every pending, attached, unmasked line, highest priority first.
    void dispatch();
    // The handler acknowledged line n: unmasked; a remembered interrupt is delivered now.
    // False if the line was not masked (nothing to acknowledge).
    bool unmask(uint32_t n);

    // --- devices on the virtual clock --------------------------------------
    // `count` raises of line n (0 = forever), the first at tick `first`, then every
    // `period` ticks; period 0 raises them all at `first` (a storm).
    void schedule(uint32_t n, uint64_t first, uint64_t period, uint64_t count);
    // The earliest scheduled raise, or kNever.
    uint64_t next_deadline() const;
    // The earliest scheduled raise that can deliver something (its line has a handler and
    // is not masked), or kNever: when every thread waits, raises of other lines change
    // nothing anybody could see, and the run may end instead of waiting for them.
    uint64_t next_useful_deadline() const;
    // Raises every scheduled interrupt due at `now`, then dispatches.
    void fire(uint64_t now);

private:
    struct Source {
        uint32_t line;
        uint64_t next;
        uint64_t period;
        uint64_t left;  // raises still to come (0 = forever)
    };
    bool handler_alive(uint32_t n);

    Clock& clock_;
    TraceBus& trace_;
    Handler handler_;
    Line lines_[kLines];
    std::vector<Source> sources_;  // in the order they were scheduled
    bool dispatching_ = false;
};

}  // namespace machsim::machine
