// Mach absolute time over the virtual clock: mach_absolute_time,
// mach_timebase_info and mach_wait_until, as a program timing its own work or
// pacing itself would use them.
#include "mach/mach_time.h"
#include "tests/support.h"

namespace {

int g_signals = 0;
void count_signal(int) { ++g_signals; }

}  // namespace

TEST_CASE("mach_absolute_time reads the virtual clock; the timebase turns its units into nanoseconds") {
    uint64_t t0 = 0, t1 = 0, clock = 0;
    mach_timebase_info_data_t base{};
    machsim::RunReport r = mt::run_task([&] {
        CHECK_KR(mach_timebase_info(&base), KERN_SUCCESS);
        t0 = mach_absolute_time();
        clock = machsim::now();
        machsim::compute(500);  // 500 µs of modelled work
        t1 = mach_absolute_time();
        CHECK_KR(mach_timebase_info(reinterpret_cast<mach_timebase_info_t>(0x8)), KERN_INVALID_ADDRESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(t0 == clock);  // reading the clock is no kernel entry: it costs no time
    CHECK(base.numer == 1000);
    CHECK(base.denom == 1);
    CHECK((t1 - t0) * base.numer / base.denom == 501'000);  // the work, and compute's own entry
}

TEST_CASE("mach_wait_until sleeps to its deadline; a deadline already past returns at once") {
    uint64_t woke = 0, deadline = 0, before_past = 0, after_past = 0;
    machsim::RunReport r = mt::run_task([&] {
        deadline = mach_absolute_time() + 2500;
        CHECK_KR(mach_wait_until(deadline), KERN_SUCCESS);
        woke = mach_absolute_time();
        before_past = mach_absolute_time();
        CHECK_KR(mach_wait_until(before_past - 1), KERN_SUCCESS);
        after_past = mach_absolute_time();
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(woke >= deadline);
    CHECK(woke <= deadline + 2);  // woken at the deadline; the call's exit costs a tick
    CHECK(after_past - before_past <= 1);  // one kernel entry, no wait
}

TEST_CASE("tasks pacing themselves with mach_wait_until run in deadline order, the same in every run") {
    auto run = [] {
        std::vector<std::string> order;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            for (int i = 0; i < 3; ++i) {
                std::string name = "ticker" + std::to_string(i);
                k.spawn(name, [&order, name, i] {
                    uint64_t next = mach_absolute_time();
                    for (int round = 0; round < 3; ++round) {
                        next += 1000 * static_cast<uint64_t>(i + 1);  // every 1, 2 or 3 ms
                        CHECK_KR(mach_wait_until(next), KERN_SUCCESS);
                        order.push_back(name + "@" + std::to_string(next / 1000));
                    }
                });
            }
        });
        CHECK(r.clean());
        return order;
    };
    std::vector<std::string> first = run();
    CHECK(first == run());
    REQUIRE(first.size() == 9);
    CHECK(first.front() == "ticker0@1");
    CHECK(first.back() == "ticker2@9");
    // Deadlines never go backwards in the order the tasks woke.
    uint64_t last = 0;
    for (const std::string& e : first) {
        uint64_t ms = std::stoull(e.substr(e.find('@') + 1));
        CHECK(ms >= last);
        last = ms;
    }
}

TEST_CASE("thread_abort or a caught signal cuts mach_wait_until short with KERN_ABORTED") {
    kern_return_t aborted = -1, signalled = -1;
    uint64_t woke = 0;
    g_signals = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t sleeper = machsim::thread_start([&] {
            aborted = mach_wait_until(mach_absolute_time() + 1'000'000);
            woke = mach_absolute_time();
        });
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);  // it sleeps
        CHECK_KR(thread_abort(sleeper), KERN_SUCCESS);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);
        (void)mach_port_deallocate(mach_task_self(), sleeper);

        // A signal from another task, taken while the only thread of the target sleeps.
        bool armed = false;
        mach_port_t target = machsim::task_spawn("target", [&](mach_port_t) {
            machsim::SignalAction act{machsim::SignalAction::Handle, count_signal, 0};
            CHECK_KR(machsim::signal_action(machsim::sig::USR1, &act, nullptr), KERN_SUCCESS);
            armed = true;
            signalled = mach_wait_until(mach_absolute_time() + 1'000'000);
        });
        REQUIRE(MACH_PORT_VALID(target));
        while (!armed) CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);  // it sleeps
        CHECK_KR(machsim::task_signal(target, machsim::sig::USR1), KERN_SUCCESS);
        (void)mach_port_deallocate(mach_task_self(), target);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(aborted, KERN_ABORTED);
    CHECK(woke < 1'000'000);
    CHECK_KR(signalled, KERN_ABORTED);
    CHECK(g_signals == 1);
}
