// Scheduling policies: which ready context runs next, and whether a kernel entry
// is a point to switch at.
//
// Round robin, the default, decides nothing here: the run queue's head runs next
// and the quantum alone preempts. The seeded policies make every kernel entry of
// a task's thread a decision point, to explore the interleavings a program allows
// (the race-finding labs):
//   Random  at each entry, with probability 1/2, switch to a ready context drawn
//           uniformly; a context that blocks or yields hands over to one drawn so too.
//   Pct     probabilistic concurrency testing (Burckhardt et al., ASPLOS 2010): each
//           context gets a random priority, the highest ready one runs, and at d-1
//           kernel entries drawn from the first `pct_steps` the running context
//           drops below every starting priority. A bug that needs d ordering
//           constraints to show is found with probability at least 1/(n·k^(d-1)).
// The generator is seeded and nothing else feeds it: the same program and seed
// make the same decisions, so a run found this way replays exactly.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "kernel/machine/context.h"
#include "kernel/machine/list.h"

namespace machsim::machine {

enum class PolicyKind : uint8_t { RoundRobin, Random, Pct };

struct PolicyConfig {
    PolicyKind kind = PolicyKind::RoundRobin;
    uint64_t seed = 1;
    uint32_t pct_depth = 3;     // d: d-1 priority change points
    uint64_t pct_steps = 1000;  // k: the change points fall among the first k kernel entries
};

// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same on every host.
class Rng {
public:
    explicit Rng(uint64_t seed) : state_(seed) {}
    uint64_t next() {
        uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    // Uniform in [0, n), n > 0 (Lemire's multiply-shift; the bias is below 2^-32 for our n).
    uint64_t below(uint64_t n) { return static_cast<uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64); }

private:
    uint64_t state_;
};

using RunQueue = List<Context, &Context::run_hook>;

class SchedPolicy {
public:
    explicit SchedPolicy(const PolicyConfig& cfg);

    bool round_robin() const { return cfg_.kind == PolicyKind::RoundRobin; }
    const PolicyConfig& config() const { return cfg_; }

    // A context begins (PCT gives it its priority).
    void admit(Context* c);
    // A kernel entry of the running context `self`, with `ready` waiting to run:
    // whether to switch now. Not called under round robin.
    bool preempt(Context* self, const RunQueue& ready);
    // The context to run next, from a run queue that is not empty. Not called under round robin.
    Context* choose(const RunQueue& ready);

private:
    PolicyConfig cfg_;
    Rng rng_;
    uint64_t steps_ = 0;
    // PCT: (kernel entry, priority) in order of entry; the next one to apply is change_points_[next_change_].
    std::vector<std::pair<uint64_t, uint64_t>> change_points_;
    std::size_t next_change_ = 0;
};

}  // namespace machsim::machine
