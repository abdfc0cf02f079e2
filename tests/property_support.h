// The harness the seeded property tests share (property_test.cpp, vm_property_test.cpp): seeds
// and steps from the environment, a watchdog for a kernel call that never returns, the checks at
// the end of each seed's run, and the loop over the seeds.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/support.h"

namespace prop {

inline std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
inline std::string format(const char* fmt, ...) {
    char b[1024];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(b, sizeof b, fmt, ap);
    va_end(ap);
    return b;
}

inline std::string join(const std::vector<std::string>& lines) {
    std::string s;
    for (const std::string& l : lines) s += "\n  " + l;
    return s;
}

// Empty when kr is one of `ok`; else what to report.
inline std::string unexpected(kern_return_t kr, std::initializer_list<kern_return_t> ok) {
    std::string allowed;
    for (kern_return_t k : ok) {
        if (k == kr) return {};
        allowed += (allowed.empty() ? "" : " or ") + std::string(machsim::code_name(k));
    }
    return "returned " + std::string(machsim::code_name(kr)) + ", allowed: " + allowed;
}

// Where the running test is: the watchdog's measure of progress, and the replay hint.
inline std::atomic<uint64_t> g_seed{0};
inline std::atomic<int> g_step{0};

// One property test. Its environment variables are `env` + _SEEDS (A-B, or N for 1-N), _STEPS and
// _VERBOSE; `name` is how its messages name it, `suite` its doctest suite (for the replay hint).
struct Harness {
    const char* name;
    const char* env;
    const char* suite;
    unsigned long long default_last_seed;
    int default_steps;

    const char* var(const char* suffix) const {
        static thread_local std::string v;
        v = std::string(env) + suffix;
        return std::getenv(v.c_str());
    }
};

// What one seed's run leaves to check.
struct SeedResult {
    uint64_t seed = 0;
    std::vector<std::string> failures, leaks, accounting, ends;
    bool deadlock = false, clean = false;
    std::string blocked;
};

// The run's own failures, and what its report says: leaks, accounting, blocked threads, and every
// task (but daemons) that did not exit 0.
inline SeedResult seed_result(uint64_t seed, std::vector<std::string> failures, const machsim::RunReport& r) {
    SeedResult res;
    res.seed = seed;
    res.failures = std::move(failures);
    res.leaks = r.leaks;
    res.accounting = r.accounting;
    res.deadlock = r.deadlock || r.time_limit;
    res.clean = r.clean();
    for (const machsim::BlockedThread& b : r.blocked) res.blocked += b.describe() + "\n";
    for (const machsim::TaskReport& t : r.tasks)
        if (!t.daemon && (t.end != machsim::TaskEnd::Exited || t.exit_code != 0))
            res.ends.push_back(t.name + " ended " + machsim::task_end_name(t.end) + " " + t.detail);
    return res;
}

// A kernel call that never returns cannot fail a CHECK: say where it hangs, then abort.
class Watchdog {
public:
    explicit Watchdog(const Harness& h) : h_(h), thread_([this] { watch(); }) {}
    ~Watchdog() {
        done_ = true;
        thread_.join();
    }
    Watchdog(const Watchdog&) = delete;
    Watchdog& operator=(const Watchdog&) = delete;

private:
    void watch() {
        for (int idle = 0, last = -1; !done_; std::this_thread::sleep_for(std::chrono::milliseconds(100))) {
            int now = g_step + int(g_seed << 20);
            idle = now == last ? idle + 1 : 0, last = now;
            if (idle < 300) continue;
            unsigned long long s = g_seed;
            std::fprintf(stderr, "%s: no step for 30 s, the kernel hangs at seed %llu step %d; replay with "
                         "%s_SEEDS=%llu-%llu %s_STEPS=%d\n", h_.name, s, g_step.load(), h_.env, s, s, h_.env,
                         g_step.load());
            std::abort();
        }
    }

    const Harness& h_;
    std::atomic<bool> done_{false};
    std::thread thread_;
};

inline void check_seed(const Harness& h, const SeedResult& s) {
    INFO("seed " << s.seed << " (replay: " << h.env << "_SEEDS=" << s.seed << "-" << s.seed << " " << h.env
                 << "_STEPS=<step> build/machsim-tests -ts=" << h.suite << ")");
    for (const std::string& f : s.failures) {
        INFO(f);
        CHECK(s.failures.empty());
    }
    INFO("leaks:" << join(s.leaks));
    CHECK(s.leaks.empty());
    INFO("accounting:" << join(s.accounting));
    CHECK(s.accounting.empty());
    INFO("blocked:\n" << s.blocked);
    CHECK(!s.deadlock);
    INFO("task ends:" << join(s.ends));
    CHECK(s.ends.empty());
    CHECK(s.clean);
}

// Runs every seed once, run_seed(seed, steps, totals) adding up what happened in `totals`; with
// `check`, checks each seed as it ends. names: the counts' names, for the _VERBOSE summary.
template <std::size_t N, class RunSeed>
void run_seeds(const Harness& h, bool check, std::array<long, N>& totals, const char* const (&names)[N],
               RunSeed&& run_seed) {
    unsigned long long first = 1, last = h.default_last_seed;
    if (const char* v = h.var("_SEEDS"))
        if (std::sscanf(v, "%llu-%llu", &first, &last) != 2 && std::sscanf(v, "%llu", &last) == 1) first = 1;
    const char* v = h.var("_STEPS");
    int steps = v ? std::atoi(v) : h.default_steps;
    auto start = std::chrono::steady_clock::now();
    {
        Watchdog watchdog(h);
        for (unsigned long long s = first; s <= last; ++s) {
            g_seed = s;
            SeedResult r = run_seed(s, steps, totals);
            if (check) check_seed(h, r);
        }
    }
    if (h.var("_VERBOSE")) {
        std::printf("%s: seeds %llu-%llu x %d steps in %.2f s\n", h.name, first, last, steps,
                    std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        int width = 0;
        for (const char* n : names) width = std::max(width, static_cast<int>(std::strlen(n)));
        for (std::size_t c = 0; c < N; ++c) std::printf("  %-*s %ld\n", width, names[c], totals[c]);
    }
}

// One property test's runs: every seed runs once, when the first test case asks (checking each
// seed as it ends if that one checks); the test cases after it get the totals.
template <std::size_t N>
class Runs {
public:
    using Totals = std::array<long, N>;
    using RunSeed = SeedResult (*)(uint64_t seed, int steps, Totals& totals);

    Runs(Harness h, const char* const (&names)[N], RunSeed run_seed) : h_(h), names_(names), run_seed_(run_seed) {}

    const Totals& totals(bool check) {
        if (!done_) {
            done_ = true;
            run_seeds(h_, check, totals_, names_, run_seed_);
        }
        return totals_;
    }

    // Every count is above 0: each kind of operation and outcome the test mixes happened.
    void check_not_vacuous() {
        const Totals& t = totals(false);
        for (std::size_t c = 0; c < N; ++c) {
            INFO(std::string(names_[c]) << ": " << t[c]);
            CHECK(t[c] > 0);
        }
    }

private:
    Harness h_;
    const char* const (&names_)[N];
    RunSeed run_seed_;
    Totals totals_{};
    bool done_ = false;
};

}  // namespace prop
