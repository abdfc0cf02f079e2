// Scheduling policies (docs/api.md §1.1): round robin, and the seeded Random and
// PCT policies that `machsim explore` runs a program under. Each test is a task
// program; what it checks is the order in which the tasks got to run.
#include <doctest/doctest.h>

#include <algorithm>
#include <set>
#include <string>

#include "mach/mach.h"
#include "machsim.h"
#include "support.h"

namespace {

using machsim::Config;
using machsim::Policy;

constexpr int kSteps = 12;

// Two tasks, "a" and "b", that each make kSteps system calls and write their letter
// into `order` after each: the string is the interleaving the policy chose.
std::function<void(machsim::Kernel&)> two_writers(std::string& order) {
    return [&order](machsim::Kernel& k) {
        for (char letter : {'a', 'b'})
            k.spawn(std::string(1, letter), [&order, letter] {
                for (int i = 0; i < kSteps; ++i) {
                    mach_port_type_t type = 0;
                    CHECK_KR(mach_port_type(mach_task_self(), mach_task_self(), &type), KERN_SUCCESS);
                    order += letter;
                }
            });
    };
}

Config with(Policy policy, uint64_t seed, uint32_t depth = 3, uint64_t steps = 60) {
    Config cfg;
    cfg.policy = policy;
    cfg.seed = seed;
    cfg.pct_depth = depth;
    cfg.pct_steps = steps;
    return cfg;
}

std::string order_under(const Config& cfg) {
    std::string order;
    machsim::RunReport r = mt::run_kernel(two_writers(order), cfg);
    CHECK(r.clean());
    CHECK(r.policy == cfg.policy);
    return order;
}

// How many runs of one letter the string has ("aabba": 3).
int runs_in(const std::string& s) {
    int runs = 0;
    for (std::size_t i = 0; i < s.size(); ++i) runs += i == 0 || s[i] != s[i - 1];
    return runs;
}

// The trace without the report's summary, which names the seed.
std::string trace_before_summary(const std::string& text) { return text.substr(0, text.find("run ended:")); }

}  // namespace

TEST_CASE("round robin: a task runs until its quantum ends, and the seed changes nothing") {
    const std::string rr = std::string(kSteps, 'a') + std::string(kSteps, 'b');
    CHECK(order_under(Config{}) == rr);
    CHECK(order_under(with(Policy::RoundRobin, 99)) == rr);
    Config one, other;
    other.seed = 12345;
    std::string x, y;
    CHECK(trace_before_summary(mt::trace_text(two_writers(x), one)) ==
          trace_before_summary(mt::trace_text(two_writers(y), other)));
}

TEST_CASE("random: one seed gives one interleaving, byte for byte; other seeds give others") {
    std::set<std::string> seen;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
        std::string order = order_under(with(Policy::Random, seed));
        CHECK(std::count(order.begin(), order.end(), 'a') == kSteps);
        CHECK(std::count(order.begin(), order.end(), 'b') == kSteps);
        CHECK(order == order_under(with(Policy::Random, seed)));
        seen.insert(order);
    }
    CHECK(seen.size() >= 5);
    CHECK(std::any_of(seen.begin(), seen.end(), [](const std::string& s) { return runs_in(s) > 4; }));
    // The whole trace replays, not just the order: the decisions come from the seed alone.
    std::string x, y;
    std::string first = mt::trace_text(two_writers(x), with(Policy::Random, 7));
    std::string again = mt::trace_text(two_writers(y), with(Policy::Random, 7));
    CHECK(first == again);
    CHECK(first.find("seed 7, policy random") != std::string::npos);
}

TEST_CASE("pct with depth 1: the task with the higher priority runs until it ends") {
    std::set<std::string> seen;
    for (uint64_t seed = 1; seed <= 10; ++seed) {
        std::string order = order_under(with(Policy::Pct, seed, 1));
        CHECK(runs_in(order) == 2);
        seen.insert(order);
    }
    CHECK(seen.size() == 2);  // each task had the higher priority under some seed
}

TEST_CASE("pct with depth 2: one change point, so at most one preemption") {
    int preempted = 0;
    for (uint64_t seed = 1; seed <= 20; ++seed) {
        std::string order = order_under(with(Policy::Pct, seed, 2, 2 * kSteps));
        INFO("seed " << seed << ": " << order);
        CHECK(runs_in(order) <= 3);  // first task, then the other (once the first drops), then the rest of the first
        preempted += runs_in(order) == 3;
    }
    CHECK(preempted > 0);
}

TEST_CASE("a thread that polls under pct does not starve the thread it waits for") {
    // "waiter" waits for a flag that "setter" raises: with a yield each time round
    // (the yield hands the CPU to another thread even when waiter's priority is higher),
    // and without one (the quantum ends waiter's turn).
    for (bool yields : {true, false}) {
        for (uint64_t seed = 1; seed <= 6; ++seed) {
            bool flag = false;
            Config cfg = with(Policy::Pct, seed, 1);
            cfg.quantum = 200;
            machsim::RunReport r = mt::run_kernel(
                [&](machsim::Kernel& k) {
                    k.spawn("waiter", [&] {
                        while (!flag) {
                            if (yields) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
                            mach_port_type_t type = 0;
                            CHECK_KR(mach_port_type(mach_task_self(), mach_task_self(), &type), KERN_SUCCESS);
                        }
                    });
                    k.spawn("setter", [&] {
                        for (int i = 0; i < 5; ++i) mt::sleep_ms(0);
                        flag = true;
                    });
                },
                cfg);
            INFO("yields " << yields << ", seed " << seed);
            CHECK(r.clean());
        }
    }
}

TEST_CASE("pct finds the bank's lost deposit, which round robin never shows, and its seed replays it") {
    auto bank_code = [](const machsim::RunReport& r) {
        const machsim::TaskReport* t = r.task("bank");
        REQUIRE(t);
        CHECK(t->end == machsim::TaskEnd::Exited);
        return t->exit_code;
    };
    for (uint64_t seed = 1; seed <= 5; ++seed)
        CHECK(bank_code(mt::run_kernel(mt::program("bank"), with(Policy::RoundRobin, seed))) == 0);
    uint64_t found = 0;
    for (uint64_t seed = 1; seed <= 30 && !found; ++seed)
        if (bank_code(mt::run_kernel(mt::program("bank"), with(Policy::Pct, seed, 3, 60))) == 1) found = seed;
    REQUIRE(found != 0);
    Config cfg = with(Policy::Pct, found, 3, 60);
    std::string first = mt::trace_text(mt::program("bank"), cfg);
    CHECK(first == mt::trace_text(mt::program("bank"), cfg));
    CHECK(first.find("bank                     exited with code 1") != std::string::npos);
}

TEST_CASE("every demo ends clean under the random and pct policies: the kernel holds up under any schedule") {
    for (const machsim::Program& p : machsim::programs()) {
        if (p.name == "bank" || p.name == "philosophers") continue;  // fail under some schedules, by design
        for (Policy policy : {Policy::Random, Policy::Pct})
            for (uint64_t seed = 1; seed <= 8; ++seed) {
                machsim::RunReport r = mt::run_kernel(p.setup, with(policy, seed, 3, 200));
                INFO(p.name << " under " << machsim::policy_name(policy) << ", seed " << seed << "\n" << r.summary());
                CHECK(r.clean());
                for (const machsim::TaskReport& t : r.tasks) CHECK(t.exit_code == 0);
            }
    }
}

TEST_CASE("the dining philosophers deadlock under some random schedules, never under round robin or with ordered forks") {
    CHECK(mt::run_kernel(mt::program("philosophers"), with(Policy::RoundRobin, 1)).clean());
    uint64_t found = 0;
    for (uint64_t seed = 1; seed <= 60 && !found; ++seed)
        if (mt::run_kernel(mt::program("philosophers"), with(Policy::Random, seed)).deadlock) found = seed;
    REQUIRE(found != 0);
    machsim::RunReport r = mt::run_kernel(mt::program("philosophers"), with(Policy::Random, found));
    CHECK(r.deadlock);  // the seed replays it
    INFO(r.summary());
    int forks = 0;  // every philosopher waits for a fork, a semaphore of the task's
    for (const machsim::BlockedThread& b : r.blocked) forks += b.waiting == "semaphore" && b.task_name == "table";
    CHECK(forks == 6);  // five philosophers and the thread joining them
    for (uint64_t seed = 1; seed <= 60; ++seed) {
        machsim::RunReport ordered = mt::run_kernel(mt::program("philosophers-ordered"), with(Policy::Random, seed));
        INFO("seed " << seed << "\n" << ordered.summary());
        CHECK(ordered.clean());
    }
}

TEST_CASE("policy names, and the report says which policy ran") {
    CHECK(std::string(machsim::policy_name(Policy::RoundRobin)) == "round-robin");
    CHECK(std::string(machsim::policy_name(Policy::Random)) == "random");
    CHECK(std::string(machsim::policy_name(Policy::Pct)) == "pct");
    std::string order;
    machsim::RunReport rr = mt::run_kernel(two_writers(order));
    CHECK(rr.summary().find("policy") == std::string::npos);  // round robin's summary is as it always was
    CHECK(rr.kernel_entries >= 2 * kSteps);
    machsim::RunReport pct = mt::run_kernel(two_writers(order), with(Policy::Pct, 4));
    CHECK(pct.summary().find(", seed 4, policy pct\n") != std::string::npos);
}
