#include "kernel/machine/irq_controller.h"

#include <algorithm>

namespace machsim::machine {

void IrqController::attach(uint32_t n) {
    Line& l = lines_[n];
    l.attached = true;
    l.masked = false;
    l.pending = false;
}

void IrqController::detach(uint32_t n) {
    Line& l = lines_[n];
    l.attached = false;
    l.masked = false;
    if (l.pending) ++l.lost;
    l.pending = false;
}

bool IrqController::handler_alive(uint32_t n) {
    if (!lines_[n].attached) return false;
    if (handler_.alive && !handler_.alive(handler_.ctx, n)) {
        detach(n);  // the callee dropped its registration
        return false;
    }
    return true;
}

void IrqController::raise(uint32_t n, uint64_t count) {
    Line& l = lines_[n];
    l.raised += count;
    const char* what;
    if (!handler_alive(n)) {
        l.lost += count;
        what = "lost: no driver registered";
    } else if (l.pending) {
        l.coalesced += count;
        what = l.masked ? "coalesced: line masked, one already remembered" : "coalesced with the pending one";
    } else {
        l.pending = true;
        l.coalesced += count - 1;
        what = l.masked ? "remembered: line masked until acknowledged" : "pending";
    }
    MS_TRACE(trace_, Event{.kind = EventKind::IrqRaise,
                           .before = static_cast<uint32_t>(std::min<uint64_t>(count, UINT32_MAX)),
                           .extra = n,
                           .text = what});
}

void IrqController::dispatch() {
    if (dispatching_) return;  // a delivery that unmasks (it cannot, today) would come back here
    dispatching_ = true;
    for (;;) {
        // The highest-priority deliverable line; ties go to the lower line number.
        uint32_t best = kLines;
        for (uint32_t n = 0; n < kLines; ++n) {
            const Line& l = lines_[n];
            if (!l.pending || l.masked || !l.attached) continue;
            if (best == kLines || l.priority > lines_[best].priority) best = n;
        }
        if (best == kLines) break;
        Line& l = lines_[best];
        l.pending = false;
        l.masked = true;  // until the driver acknowledges (R25)
        ++l.delivered;
        if (!handler_.deliver(handler_.ctx, best)) {
            --l.delivered;
            ++l.lost;
            detach(best);
        }
    }
    dispatching_ = false;
}

bool IrqController::unmask(uint32_t n) {
    Line& l = lines_[n];
    if (!l.masked) return false;
    l.masked = false;
    if (l.pending) dispatch();
    return true;
}

void IrqController::schedule(uint32_t n, uint64_t first, uint64_t period, uint64_t count) {
    sources_.push_back({n, std::min(first, Clock::kEndOfTime), period, count});
}

uint64_t IrqController::next_deadline() const {
    uint64_t next = kNever;
    for (const Source& s : sources_) next = std::min(next, s.next);
    return next;
}

uint64_t IrqController::next_useful_deadline() const {
    uint64_t next = kNever;
    for (const Source& s : sources_) {
        const Line& l = lines_[s.line];
        if (l.attached && !l.masked) next = std::min(next, s.next);
    }
    return next;
}

void IrqController::fire(uint64_t now) {
    if (sources_.empty() || next_deadline() > now) return;
    // Interrupts are the kernel's doing, whoever was running when they came due.
    const uint32_t task = trace_.actor_task(), thread = trace_.actor_thread();
    trace_.set_actor(0, 0);
    for (Source& s : sources_) {
        if (s.next > now) continue;
        uint64_t count;
        if (s.period == 0) {
            count = s.left ? s.left : 1;
            s.left = 0;
            s.next = kNever;
        } else {
            count = (now - s.next) / s.period + 1;  // the ticks missed while nobody looked, at once
            if (s.left) {
                count = std::min(count, s.left);
                s.left -= count;
                if (s.left == 0) s.period = 0;
            }
            s.next = s.period ? s.next + count * s.period : kNever;
        }
        raise(s.line, count);
    }
    sources_.erase(std::remove_if(sources_.begin(), sources_.end(), [](const Source& s) { return s.next == kNever; }),
                   sources_.end());
    dispatch();
    trace_.set_actor(task, thread);
}

}  // namespace machsim::machine
