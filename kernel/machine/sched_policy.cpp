#include "kernel/machine/sched_policy.h"

#include <algorithm>

namespace machsim::machine {

SchedPolicy::SchedPolicy(const PolicyConfig& cfg) : cfg_(cfg), rng_(cfg.seed) {
    cfg_.pct_depth = std::max<uint32_t>(cfg_.pct_depth, 1);
    cfg_.pct_steps = std::max<uint64_t>(cfg_.pct_steps, 1);
    if (cfg_.kind != PolicyKind::Pct) return;
    // The i-th change point (i = 1 .. d-1) lowers the running context to priority i:
    // below every starting priority (d and up), and below later-numbered change points.
    for (uint64_t i = 1; i < cfg_.pct_depth; ++i) change_points_.emplace_back(1 + rng_.below(cfg_.pct_steps), i);
    // By entry, then priority: a total order, as the priorities differ. (Not std::stable_sort: with
    // GCC 12 its temporary buffer is a new/free pair that AddressSanitizer reports as a mismatch.)
    std::sort(change_points_.begin(), change_points_.end());
}

void SchedPolicy::admit(Context* c) {
    // Distinct with near certainty; a tie goes to the one queued first, which is deterministic too.
    if (cfg_.kind == PolicyKind::Pct) c->sched_priority = cfg_.pct_depth + rng_.below(uint64_t{1} << 48);
}

bool SchedPolicy::preempt(Context* self, const RunQueue& ready) {
    ++steps_;
    if (cfg_.kind == PolicyKind::Random) return !ready.empty() && rng_.below(2) == 0;
    while (next_change_ < change_points_.size() && change_points_[next_change_].first <= steps_)
        self->sched_priority = change_points_[next_change_++].second;
    for (Context* c = ready.front(); c; c = ready.next(c))
        if (c->sched_priority > self->sched_priority) return true;
    return false;
}

Context* SchedPolicy::choose(const RunQueue& ready) {
    if (cfg_.kind == PolicyKind::Random) {
        uint64_t skip = rng_.below(ready.size());
        Context* c = ready.front();
        while (skip--) c = ready.next(c);
        return c;
    }
    Context* best = ready.front();
    for (Context* c = ready.next(best); c; c = ready.next(c))
        if (c->sched_priority > best->sched_priority) best = c;
    return best;
}

}  // namespace machsim::machine
