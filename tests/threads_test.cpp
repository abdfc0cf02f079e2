// Threads, task ports, tasks creating tasks, and semaphores.
#include <vector>

#include <fmt/format.h>

#include "tests/support.h"

TEST_SUITE("threads") {

TEST_CASE("past Config::max_threads no task or thread starts; a refused task_spawn gives its right back") {
    machsim::Config cfg;
    cfg.max_threads = 4;  // the bootstrap server, the test task, and two more
    machsim::RunReport r = mt::run_task(
        [] {
            mach_port_t go = mt::new_port_with_send();
            mach_port_t t = machsim::thread_start([go] {  // third thread alive
                mt::SimpleReceived in;
                CHECK_KR(mt::receive_simple(go, in), MACH_MSG_SUCCESS);
            });
            CHECK(t != MACH_PORT_NULL);
            mach_port_t wake = mt::new_port_with_send();
            mach_port_t child = machsim::task_spawn(  // fourth
                "waiter",
                [](mach_port_t p) {
                    mt::SimpleReceived in;
                    CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
                },
                wake, MACH_MSG_TYPE_MOVE_RECEIVE);
            CHECK(child != MACH_PORT_NULL);

            // Full: a spawn is refused and the right it was to take comes back, as a
            // failed send's rights do (a copied send right adds a uref to the caller's).
            mach_port_t gift = mt::new_receive_right();
            CHECK(machsim::task_spawn("refused", [](mach_port_t) {}, gift, MACH_MSG_TYPE_MAKE_SEND) ==
                  MACH_PORT_NULL);
            CHECK(mt::type_of(gift) == (MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND));
            CHECK(mt::refs(gift, MACH_PORT_RIGHT_SEND) == 1);
            CHECK(machsim::task_spawn("refused too", [](mach_port_t) {}, gift, MACH_MSG_TYPE_MOVE_RECEIVE) ==
                  MACH_PORT_NULL);
            CHECK(mt::type_of(gift) == (MACH_PORT_TYPE_RECEIVE | MACH_PORT_TYPE_SEND));
            CHECK(mt::refs(gift, MACH_PORT_RIGHT_RECEIVE) == 1);
            CHECK(machsim::thread_start([] {}) == MACH_PORT_NULL);

            // Two end; then there is room again.
            CHECK_KR(mt::send_simple(go, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
            CHECK_KR(mt::send_simple(wake, MACH_MSG_TYPE_COPY_SEND, 2), MACH_MSG_SUCCESS);
            CHECK_KR(mach_port_deallocate(mach_task_self(), t), KERN_SUCCESS);
            CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
            CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
            mach_port_t later = machsim::task_spawn("later", [](mach_port_t) {});
            CHECK(later != MACH_PORT_NULL);
            CHECK_KR(mach_port_deallocate(mach_task_self(), later), KERN_SUCCESS);
        },
        cfg);
    INFO(r.summary());
    mt::check_sound(r);
    REQUIRE(r.task("refused") != nullptr);
    CHECK(r.task("refused")->end == machsim::TaskEnd::Crashed);
    CHECK(r.task("refused")->detail == "no thread may start: 4 are alive (Config::max_threads)");
    CHECK(r.task("waiter")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("later")->end == machsim::TaskEnd::Exited);
}

TEST_CASE("when the host gives no stack at all, even the bootstrap server's, every task ends crashed, soundly") {
    machsim::Config cfg;
    cfg.stack_size = std::size_t(1) << 47;  // more than a 47-bit address space holds: mmap refuses it
    machsim::RunReport r = mt::run_task([] {}, cfg);  // the kernel's destructor used to find a name left in a dead space
    INFO(r.summary());
    mt::check_sound(r);
    REQUIRE(r.task("bootstrap") != nullptr);
    CHECK(r.task("bootstrap")->end == machsim::TaskEnd::Crashed);
    REQUIRE(r.task("test") != nullptr);
    CHECK(r.task("test")->end == machsim::TaskEnd::Crashed);
}

TEST_CASE("a task's threads run side by side and share its names") {
    std::vector<int> order;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t t = machsim::thread_start([&order, p] {
            order.push_back(2);
            CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);  // same space, same name
        });
        CHECK(MACH_PORT_VALID(t));
        CHECK(mt::type_of(t) == MACH_PORT_TYPE_SEND);
        order.push_back(1);
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 42);
        order.push_back(3);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(order == std::vector<int>{1, 2, 3});
}

TEST_CASE("mach_thread_self gives a new uref each call; a dead thread's port becomes a dead name") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t me = mach_thread_self();
        CHECK(mach_thread_self() == me);
        CHECK(mt::refs(me, MACH_PORT_RIGHT_SEND) == 2);
        mach_port_t t = machsim::thread_start([] {});
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // it runs and ends
        CHECK(mt::type_of(t) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK_KR(thread_suspend(t), MACH_SEND_INVALID_DEST);
    });
    CHECK(r.clean());
}

TEST_CASE("thread_abort makes a thread blocked in receive with MACH_RCV_INTERRUPT return MACH_RCV_INTERRUPTED") {
    mach_msg_return_t got = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t t = machsim::thread_start([&got, p] {
            mt::SimpleReceived in;
            got = mt::receive_simple(p, in, MACH_RCV_INTERRUPT);
        });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // it blocks
        CHECK_KR(thread_abort(t), KERN_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    });
    CHECK(r.clean());
    CHECK_KR(got, MACH_RCV_INTERRUPTED);
}

TEST_CASE("without MACH_RCV_INTERRUPT, an aborted receive keeps waiting and gets the next message") {
    mach_msg_return_t got = ~0u;
    int payload = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_port_with_send();
        mach_port_t t = machsim::thread_start([&got, &payload, p] {
            mt::SimpleReceived in;
            got = mt::receive_simple(p, in);
            payload = in.msg.payload;
        });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // it blocks
        CHECK_KR(thread_abort(t), KERN_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // it waits again
        CHECK(got == ~0u);  // still waiting
        CHECK_KR(mt::send_simple(p, MACH_MSG_TYPE_COPY_SEND, 42), MACH_MSG_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    });
    CHECK(r.clean());
    CHECK_KR(got, MACH_MSG_SUCCESS);
    CHECK(payload == 42);
}

TEST_CASE("a suspended thread does not run until resumed; resuming twice is KERN_FAILURE") {
    int steps = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t t = machsim::thread_start([&steps] {
            for (int i = 0; i < 3; ++i) {
                ++steps;
                thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            }
        });
        CHECK_KR(thread_suspend(t), KERN_SUCCESS);
        for (int i = 0; i < 5; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK(steps == 0);
        CHECK_KR(thread_resume(t), KERN_SUCCESS);
        CHECK_KR(thread_resume(t), KERN_FAILURE);
        for (int i = 0; i < 5; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK(steps == 3);
    });
    CHECK(r.clean());
}

TEST_CASE("thread_terminate ends another thread, running its destructors") {
    bool unwound = false;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t t = machsim::thread_start([&unwound, p] {
            struct Guard {
                bool* flag;
                ~Guard() { *flag = true; }
            } g{&unwound};
            mt::SimpleReceived in;
            mt::receive_simple(p, in);  // never returns normally
            CHECK(false);
        });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK_KR(thread_terminate(t), KERN_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK(unwound);
    });
    CHECK(r.clean());
}

TEST_CASE("task_threads lists the task's live threads") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        for (int i = 0; i < 2; ++i)
            machsim::thread_start([p] {
                mt::SimpleReceived in;
                mt::receive_simple(p, in, MACH_RCV_TIMEOUT, 5);
            });
        thread_act_array_t list = nullptr;
        mach_msg_type_number_t n = 0;
        CHECK_KR(task_threads(mach_task_self(), &list, &n), KERN_SUCCESS);
        CHECK(n == 3);
        for (mach_msg_type_number_t i = 0; i < n; ++i) CHECK(mt::type_of(list[i]) == MACH_PORT_TYPE_SEND);
        CHECK_KR(vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(list), n * sizeof *list), KERN_SUCCESS);
    });
    CHECK(r.clean());
}

TEST_CASE("task_threads with a list or count it cannot write is KERN_INVALID_ADDRESS and names no thread") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t me = mach_thread_self();
        static const mach_msg_type_number_t kReadOnlyCount = 0;
        static thread_act_array_t const kReadOnlyList = nullptr;
        thread_act_array_t list = nullptr;
        mach_msg_type_number_t n = 0;
        CHECK_KR(task_threads(mach_task_self(), nullptr, &n), KERN_INVALID_ADDRESS);
        CHECK_KR(task_threads(mach_task_self(), &list, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(task_threads(mach_task_self(), &list, const_cast<mach_msg_type_number_t*>(&kReadOnlyCount)),
                 KERN_INVALID_ADDRESS);
        CHECK_KR(task_threads(mach_task_self(), const_cast<thread_act_array_t*>(&kReadOnlyList), &n),
                 KERN_INVALID_ADDRESS);
        CHECK(mt::refs(me, MACH_PORT_RIGHT_SEND) == 1);  // no uref was taken for the list
        CHECK_KR(mach_port_deallocate(mach_task_self(), me), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("task_threads into a full name space is KERN_RESOURCE_SHORTAGE and gives every right back, not a list "
          "holding MACH_PORT_NULL") {
    machsim::Config cfg;
    cfg.max_names = 64;
    machsim::RunReport r = mt::run_task(
        [] {
            mach_port_t go = mt::new_receive_right();
            mach_port_t other = machsim::thread_start([go] {
                mt::SimpleReceived in;
                (void)mt::receive_simple(go, in, MACH_RCV_TIMEOUT, 5);
            });
            REQUIRE(other != MACH_PORT_NULL);
            CHECK_KR(mach_port_deallocate(mach_task_self(), other), KERN_SUCCESS);  // not named any more
            mach_port_t me = mach_thread_self();  // named: a uref more fits
            CHECK(mt::fill_name_space() > 0);
            thread_act_array_t list = nullptr;
            mach_msg_type_number_t n = 99;
            CHECK_KR(task_threads(mach_task_self(), &list, &n), KERN_RESOURCE_SHORTAGE);
            CHECK(list == nullptr);
            CHECK(n == 0);
            CHECK(mt::refs(me, MACH_PORT_RIGHT_SEND) == 1);  // the uref it took is given back
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("with the caller's name space full, thread_start and task_spawn return MACH_PORT_NULL and start nothing") {
    machsim::Config cfg;
    cfg.max_names = 64;
    bool thread_ran = false, task_ran = false;
    machsim::RunReport r = mt::run_task(
        [&] {
            mach_port_t gift = mt::new_receive_right();
            CHECK(mt::fill_name_space() > 0);
            CHECK(machsim::thread_start([&] { thread_ran = true; }) == MACH_PORT_NULL);
            CHECK(machsim::task_spawn("child", [&](mach_port_t) { task_ran = true; }, gift,
                                      MACH_MSG_TYPE_MAKE_SEND) == MACH_PORT_NULL);
            CHECK(mt::status_of(gift).mps_mscount == 0);  // no right was made for it
            CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_FALSE(thread_ran);
    CHECK_FALSE(task_ran);
    CHECK(r.task("child") == nullptr);
}

}  // TEST_SUITE("threads")

TEST_SUITE("tasks") {

TEST_CASE("a task spawns a task and gives it a send right; they talk") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t p = mt::new_receive_right();
        mach_port_t child = machsim::task_spawn(
            "child", [](mach_port_t parent) { CHECK_KR(mt::send_simple(parent, MACH_MSG_TYPE_COPY_SEND, 7), MACH_MSG_SUCCESS); },
            p, MACH_MSG_TYPE_MAKE_SEND);
        CHECK(MACH_PORT_VALID(child));
        mt::SimpleReceived in;
        CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 7);
        CHECK(in.msg.head.msgh_id == 100);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(r.task("child"));
}

TEST_CASE("task_terminate ends another task; its port becomes a dead name; calls on it fail") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t child = machsim::task_spawn("sleeper", [](mach_port_t) {
            thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1000);
        });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK_KR(task_terminate(child), KERN_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
        mach_port_t x = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(child, MACH_PORT_RIGHT_RECEIVE, &x), MACH_SEND_INVALID_DEST);
    });
    INFO(r.summary());
    CHECK(r.task("test")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("sleeper")->end == machsim::TaskEnd::Terminated);
    mt::check_sound(r);
}

TEST_CASE("a suspended task runs no thread until task_resume") {
    int ran = 0;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t child = machsim::task_spawn("counter", [&ran](mach_port_t) {
            for (int i = 0; i < 3; ++i) {
                ++ran;
                thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
            }
        });
        CHECK_KR(task_suspend(child), KERN_SUCCESS);
        for (int i = 0; i < 5; ++i) thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK(ran == 0);
        CHECK_KR(task_resume(child), KERN_SUCCESS);
        CHECK_KR(task_resume(child), KERN_FAILURE);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(ran == 3);
}

}  // TEST_SUITE("tasks")

TEST_SUITE("semaphores") {

TEST_CASE("semaphore_wait blocks until semaphore_signal; the count keeps unconsumed signals") {
    std::vector<int> order;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        machsim::thread_start([&order, s] {
            CHECK_KR(semaphore_wait(s), KERN_SUCCESS);
            order.push_back(2);
        });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        order.push_back(1);
        CHECK_KR(semaphore_signal(s), KERN_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK_KR(semaphore_signal(s), KERN_SUCCESS);  // nobody waits: it is kept
        CHECK_KR(semaphore_wait(s), KERN_SUCCESS);   // and consumed
    });
    CHECK(r.clean());
    CHECK(order == std::vector<int>{1, 2});
}

TEST_CASE("semaphore_timedwait times out on the virtual clock with KERN_OPERATION_TIMED_OUT") {
    machsim::RunReport r = mt::run_task([] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        uint64_t before = machsim::now();
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 2000000}), KERN_OPERATION_TIMED_OUT);
        CHECK(machsim::now() - before >= 2000);
        CHECK_KR(semaphore_timedwait(s, mach_timespec_t{0, 0}), KERN_OPERATION_TIMED_OUT);
    });
    CHECK(r.clean());
}

TEST_CASE("semaphore_destroy wakes waiters with KERN_TERMINATED; only the owner may destroy") {
    kern_return_t waiter_got = 0;
    machsim::RunReport r = mt::run_task([&] {
        semaphore_t s = MACH_PORT_NULL;
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        machsim::thread_start([&waiter_got, s] { waiter_got = semaphore_wait(s); });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        mach_port_t child = machsim::task_spawn(
            "stranger", [](mach_port_t sem) {
                CHECK_KR(semaphore_signal(sem), KERN_SUCCESS);  // others may signal
                CHECK_KR(semaphore_destroy(mach_task_self(), sem), KERN_INVALID_RIGHT);  // (it uses up sem)
            },
            s, MACH_MSG_TYPE_COPY_SEND);
        (void)child;
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        machsim::thread_start([&waiter_got, s] { waiter_got = semaphore_wait(s); });
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
        CHECK_KR(semaphore_destroy(mach_task_self(), s), KERN_SUCCESS);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(waiter_got, KERN_TERMINATED);
}

TEST_CASE("a thread waiting forever on a semaphore is named in the deadlock report, with the semaphore's name") {
    semaphore_t s = MACH_PORT_NULL;
    machsim::RunReport r = mt::run_task([&s] {
        CHECK_KR(semaphore_create(mach_task_self(), &s, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        semaphore_wait(s);
    });
    CHECK(r.deadlock);
    REQUIRE(r.blocked.size() == 1);
    CHECK(r.blocked[0].waiting == "semaphore");
    CHECK(r.blocked[0].name == s);
    CHECK(r.blocked[0].describe().find(fmt::format("semaphore {:#x}", s)) != std::string::npos);
    CHECK(r.leaks.empty());
}

}  // TEST_SUITE("semaphores")
