// The run as a whole: how tasks end, deadlocks, limits, determinism.
#include <stdexcept>

#include "tests/support.h"

namespace {

// Two tasks that each wait for the other to speak first.
void stare_at_each_other(machsim::Kernel& k) {
    k.spawn("alice", [] {
        mach_port_t mine = MACH_PORT_NULL, theirs = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "alice", &mine), KERN_SUCCESS);
        while (bootstrap_look_up(bootstrap_port, "bob", &theirs) != KERN_SUCCESS) thread_switch(0, 0, 0);
        mt::SimpleReceived in;
        mt::receive_simple(mine, in);  // bob never sends
    });
    k.spawn("bob", [] {
        mach_port_t mine = MACH_PORT_NULL, theirs = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "bob", &mine), KERN_SUCCESS);
        CHECK_KR(bootstrap_look_up(bootstrap_port, "alice", &theirs), KERN_SUCCESS);
        mt::SimpleReceived in;
        mt::receive_simple(mine, in);  // alice never sends
    });
}

}  // namespace

TEST_SUITE("run") {

TEST_CASE("a task ends when its body returns, with the exit code it returned") {
    machsim::Kernel k;
    k.spawn("zero", [] {});
    k.spawn("seven", [] { return 7; });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    REQUIRE(r.task("zero"));
    CHECK(r.task("zero")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("seven")->exit_code == 7);
    CHECK(r.task("bootstrap")->end == machsim::TaskEnd::ShutDown);
    CHECK_FALSE(r.deadlock);
    CHECK(r.leaks.empty());
}

TEST_CASE("an exception escaping a task ends that task only; the others run on") {
    machsim::Kernel k;
    int after = 0;
    k.spawn("thrower", [] {
        mach_port_t p = mt::new_port_with_send();
        CHECK(MACH_PORT_VALID(p));
        throw std::runtime_error("boom");
    });
    k.spawn("survivor", [&after] {
        for (int i = 0; i < 3; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        after = 3;
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.task("thrower")->end == machsim::TaskEnd::Crashed);
    CHECK(r.task("thrower")->detail == "boom");
    CHECK(r.task("survivor")->end == machsim::TaskEnd::Exited);
    CHECK(after == 3);
    CHECK(r.leaks.empty());  // the crashed task's port and rights were released
}

TEST_CASE("a task that throws something that is not a std::exception is reported as crashed") {
    machsim::RunReport r = mt::run_task([] { throw 42; });
    CHECK(r.task("test")->end == machsim::TaskEnd::Crashed);
    CHECK(r.task("test")->detail.find("not a std::exception") != std::string::npos);
}

TEST_CASE("a crashed server's clients see its port die: their send right becomes a dead name") {
    machsim::Kernel k;
    k.spawn("server", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "svc", &p), KERN_SUCCESS);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        throw std::runtime_error("server bug");
    });
    k.spawn("client", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &p), KERN_SUCCESS);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // the server runs and dies
        CHECK(mt::type_of(p) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::refs(p, MACH_PORT_RIGHT_DEAD_NAME) == 1);
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 2), MACH_SEND_INVALID_DEST);
        CHECK_KR(bootstrap_look_up(bootstrap_port, "svc", &p), BOOTSTRAP_UNKNOWN_SERVICE);
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.task("server")->end == machsim::TaskEnd::Crashed);
    CHECK(r.task("client")->end == machsim::TaskEnd::Exited);
    CHECK(r.leaks.empty());
}

TEST_CASE("a run where no thread can ever run again ends as a deadlock naming who waits on what") {
    machsim::RunReport r = mt::run_kernel(stare_at_each_other);
    INFO(r.summary());
    CHECK(r.deadlock);
    REQUIRE(r.blocked.size() == 2);
    for (const machsim::BlockedThread& b : r.blocked) {
        CHECK(b.waiting == "receive");
        CHECK(b.port != 0);
        CHECK(b.holder == b.task);  // each waits on its own port
        CHECK(b.holder_name == b.task_name);
        CHECK(b.describe().find("waits to receive") != std::string::npos);
    }
    CHECK(r.task("alice")->end == machsim::TaskEnd::Deadlocked);
    CHECK(r.task("bob")->end == machsim::TaskEnd::Deadlocked);
    CHECK(r.task("bootstrap")->end == machsim::TaskEnd::ShutDown);
    CHECK(r.leaks.empty());  // the deadlocked tasks were unwound and their rights released
    CHECK_FALSE(r.clean());
}

TEST_CASE("a sender blocked on a full queue nobody drains is reported as waiting to send") {
    machsim::Kernel k;
    k.spawn("hoarder", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "full", &p), KERN_SUCCESS);
        mt::SimpleReceived in;
        mach_port_t other = mt::new_receive_right();
        mt::receive_simple(other, in);  // waits elsewhere forever
    });
    k.spawn("pusher", [] {
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_look_up(bootstrap_port, "full", &p), KERN_SUCCESS);
        for (int i = 0; i < 6; ++i) mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, i);  // the 6th blocks (qlimit 5)
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(r.deadlock);
    bool found = false;
    for (const machsim::BlockedThread& b : r.blocked) {
        if (b.task_name != "pusher") continue;
        found = true;
        CHECK(b.waiting == "send");
        CHECK(b.holder_name == "hoarder");
    }
    CHECK(found);
    CHECK(r.leaks.empty());
}

TEST_CASE("a deadlock is a trace event too") {
    machsim::TraceLog log;
    machsim::RunReport r = mt::run_kernel(stare_at_each_other, {}, &log);
    CHECK(log.of_kind(machsim::EventKind::Deadlock).size() == 2);
}

TEST_CASE("the run stops at max_ticks and stops the tasks still running") {
    machsim::Config cfg;
    cfg.max_ticks = 5000;
    machsim::RunReport r = mt::run_task(
        [] {
            for (;;) machsim::compute(100);
        },
        cfg);
    INFO(r.summary());
    CHECK(r.time_limit);
    CHECK_FALSE(r.deadlock);
    CHECK(r.ticks >= 5000);
    CHECK(r.ticks < 5200);
    CHECK(r.task("test")->end == machsim::TaskEnd::Stopped);
    CHECK(r.leaks.empty());
}

TEST_CASE("max_ticks also ends a run that only waits on a far timer") {
    machsim::Config cfg;
    cfg.max_ticks = 1000;
    machsim::RunReport r = mt::run_task([] { thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1000); }, cfg);
    CHECK(r.time_limit);
    CHECK(r.ticks == 1000);
}

TEST_CASE("thread_switch with SWITCH_OPTION_WAIT sleeps for that many milliseconds of virtual time") {
    uint64_t before = 0, after = 0;
    machsim::RunReport r = mt::run_task([&] {
        before = machsim::now();
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 3), KERN_SUCCESS);
        after = machsim::now();
    });
    CHECK(r.clean());
    CHECK(after - before >= 3000);
    CHECK(after - before < 3010);
}

TEST_CASE("thread_switch rejects an unknown option") {
    machsim::RunReport r = mt::run_task([] { CHECK_KR(thread_switch(MACH_PORT_NULL, 77, 0), KERN_INVALID_ARGUMENT); });
    CHECK(r.clean());
}

TEST_CASE("the quantum makes a busy task give way to the others") {
    machsim::Config cfg;
    cfg.quantum = 50;
    std::vector<std::string> order;  // who got past a kernel entry, in order
    machsim::Kernel k(cfg);
    k.spawn("busy", [&] {
        for (int i = 0; i < 3; ++i) {
            machsim::compute(60);
            order.push_back("busy");
        }
    });
    k.spawn("other", [&] { order.push_back("other"); });
    machsim::RunReport r = k.run();
    CHECK(r.clean());
    REQUIRE(order.size() == 4);
    // busy's first compute(60) overruns its 50-tick quantum; at that kernel entry it gives way.
    CHECK(order[0] == "other");
    CHECK(order[1] == "busy");
}

TEST_CASE("the largest quantum means no time slicing, not a slice ending at every kernel entry") {
    std::vector<std::string> order;
    auto setup = [&order](machsim::Kernel& k) {
        k.spawn("busy", [&order] {
            for (int i = 0; i < 3; ++i) {
                machsim::compute(60);
                order.push_back("busy");
            }
        });
        k.spawn("other", [&order] { order.push_back("other"); });
    };
    machsim::Config cfg;
    cfg.quantum = UINT64_MAX;  // now + quantum used to wrap around to the past
    CHECK(mt::run_kernel(setup, cfg).clean());
    CHECK(order == std::vector<std::string>{"busy", "busy", "busy", "other"});
}

TEST_CASE("compute of a huge count (a negative one cast to unsigned) does not wrap virtual time around") {
    machsim::TraceLog log;
    mach_msg_return_t waited = MACH_MSG_SUCCESS;
    machsim::RunReport r = mt::run_kernel(
        [&waited](machsim::Kernel& k) {
            k.spawn("busy", [] {
                machsim::compute(static_cast<uint64_t>(-5));
                machsim::compute(10);
            });
            k.spawn("waiter", [&waited] {
                mt::SimpleReceived in;
                waited = mt::receive_simple(mt::new_receive_right(), in, MACH_RCV_TIMEOUT, 1);
            });
        },
        {}, &log);
    INFO(r.summary());
    CHECK(r.clean());  // it used to end in a "deadlock" at tick 2^64-1
    CHECK_KR(waited, MACH_RCV_TIMED_OUT);
    uint64_t tick = 0;
    for (const auto& e : log.entries()) {
        CHECK(e.event.tick >= tick);
        tick = e.event.tick;
    }
    CHECK(r.ticks >= uint64_t{1} << 62);  // time went as far as it goes
}

TEST_CASE("a task body may spawn more tasks while the kernel runs") {
    machsim::Kernel k;
    bool child_ran = false;
    k.spawn("parent", [&] {
        k.spawn("child", [&] {
            mach_port_t p = MACH_PORT_NULL;
            CHECK_KR(bootstrap_look_up(bootstrap_port, "from-parent", &p), KERN_SUCCESS);
            child_ran = true;
        });
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(bootstrap_check_in(bootstrap_port, "from-parent", &p), KERN_SUCCESS);
        mt::SimpleReceived in;
        mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 5);
    });
    machsim::RunReport r = k.run();
    INFO(r.summary());
    CHECK(child_ran);
    CHECK(r.clean());
}

TEST_CASE("the task API called from host code, outside any task, returns an error and does not crash") {
    mach_port_t p = 123;
    CHECK(mach_task_self() == MACH_PORT_NULL);
    CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p), MACH_SEND_INVALID_DEST);
    CHECK_KR(mt::send_simple(1, MACH_MSG_TYPE_COPY_SEND, 0), MACH_SEND_INVALID_DEST);
    mt::SimpleReceived in;
    CHECK_KR(mt::receive_simple(1, in), MACH_RCV_INVALID_NAME);
    CHECK(mach_reply_port() == MACH_PORT_NULL);
}

TEST_CASE("a kernel that is never run releases its tasks cleanly") {
    machsim::Kernel k;
    k.spawn("never", [] { CHECK(false); });
}

TEST_CASE("a task holding rights when it exits releases them; nothing leaks") {
    machsim::RunReport r = mt::run_task([] {
        for (int i = 0; i < 10; ++i) {
            mach_port_t p = mt::new_port_with_send();
            mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, i);  // leave a message queued, holding a send right
        }
        mach_port_t set = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_PORT_SET, &set), KERN_SUCCESS);
        vm_address_t a = 0;
        CHECK_KR(vm_allocate(mach_task_self(), &a, 3 * vm_page_size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

}  // TEST_SUITE("run")

TEST_SUITE("determinism") {

TEST_CASE("the same program and seed give a byte-identical trace") {
    for (const char* name : {"echo", "prodcons"}) {
        INFO(name);
        const machsim::Program* p = machsim::find_program(name);
        REQUIRE(p);
        machsim::Config cfg;
        cfg.seed = 17;
        std::string first = mt::trace_text(p->setup, cfg);
        std::string second = mt::trace_text(p->setup, cfg);
        CHECK(first.size() > 1000);
        CHECK(first == second);
    }
}

TEST_CASE("timeouts and crashes replay identically too") {
    auto setup = [](machsim::Kernel& k) {
        k.spawn("waiter", [] {
            mach_port_t p = mt::new_receive_right();
            mt::SimpleReceived in;
            CHECK_KR(mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 2), MACH_RCV_TIMED_OUT);
        });
        k.spawn("crasher", [] {
            machsim::compute(500);
            throw std::logic_error("replayable");
        });
        stare_at_each_other(k);
    };
    std::string first = mt::trace_text(setup);
    CHECK(first.find("timeout") != std::string::npos);
    CHECK(first.find("replayable") != std::string::npos);
    CHECK(first.find("deadlock") != std::string::npos);
    CHECK(first == mt::trace_text(setup));
}

}  // TEST_SUITE("determinism")
