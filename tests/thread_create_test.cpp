// thread_create and thread_create_running: a thread made suspended with registers,
// started where its rip says with its arguments in rdi, rsi, ..., as Mach programs
// make threads below C Threads.
#include <cstdint>

#include "tests/support.h"

namespace {

// A thread's start function, as Mach code writes one: it gets its arguments in
// registers and reports them on the port it was given.
void report_arguments(mach_port_t port, uint64_t a, uint64_t b, uint64_t c, uint64_t d, uint64_t e) {
    const int sum = static_cast<int>(a + 10 * b + 100 * c + 1000 * d + 10000 * e);
    (void)mt::send_simple(port, MACH_MSG_TYPE_COPY_SEND, sum);
}

void report_one(mach_port_t port, int value) { (void)mt::send_simple(port, MACH_MSG_TYPE_COPY_SEND, value); }

x86_thread_state64_t state_of(mach_port_t thread) {
    x86_thread_state64_t s{};
    mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
    CHECK_KR(thread_get_state(thread, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), &count),
             KERN_SUCCESS);
    CHECK(count == x86_THREAD_STATE64_COUNT);
    return s;
}

}  // namespace

TEST_SUITE("threads") {

TEST_CASE("thread_create, thread_set_state, thread_resume: the thread starts at rip with its arguments") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t port = mt::new_port_with_send();
        thread_act_t child = MACH_PORT_NULL;
        REQUIRE_KR(thread_create(mach_task_self(), &child), KERN_SUCCESS);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_SEND);
        CHECK(mt::thread_count(mach_task_self()) == 2);

        // A new thread has registers, all zero but rflags and cs.
        x86_thread_state64_t s = state_of(child);
        CHECK(s.__rip == 0);
        CHECK(s.__rdi == 0);
        CHECK(s.__rsp == 0);
        CHECK(s.__rflags == 0x202);
        CHECK(s.__cs == 0x33);

        s.__rip = reinterpret_cast<uint64_t>(&report_arguments);
        s.__rdi = port;
        s.__rsi = 1;
        s.__rdx = 2;
        s.__rcx = 3;
        s.__r8 = 4;
        s.__r9 = 5;
        s.__rsp = 0x1000;  // kept, but not used: the thread runs on a stack of its own
        s.__rflags = 0x100 | 0x1;  // a trap flag is not taken, the carry flag is
        s.__cs = 0x7;              // nor is a code segment
        REQUIRE_KR(thread_set_state(child, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s),
                                    x86_THREAD_STATE64_COUNT),
                   KERN_SUCCESS);
        x86_thread_state64_t back = state_of(child);
        CHECK(back.__rip == reinterpret_cast<uint64_t>(&report_arguments));
        CHECK(back.__r9 == 5);
        CHECK(back.__rsp == 0x1000);
        CHECK(back.__rflags == 0x203);
        CHECK(back.__cs == 0x33);

        // Suspended: it does not run however long its creator lets it.
        mt::SimpleReceived in;
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 5), KERN_SUCCESS);
        CHECK_KR(mt::receive_simple(port, in, MACH_RCV_TIMEOUT, 0), MACH_RCV_TIMED_OUT);

        REQUIRE_KR(thread_resume(child), KERN_SUCCESS);
        REQUIRE_KR(mt::receive_simple(port, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 54321);

        // Its function returned: the thread has ended and its port is a dead name.
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::thread_count(mach_task_self()) == 1);
        CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_create_running starts the thread at once, from either flavor; a running thread has no registers") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t port = mt::new_port_with_send();
        x86_thread_state_t s{};
        s.tsh = {x86_THREAD_STATE64, x86_THREAD_STATE64_COUNT};
        s.uts.ts64.__rip = reinterpret_cast<uint64_t>(&report_one);
        s.uts.ts64.__rdi = port;
        s.uts.ts64.__rsi = 7;
        thread_act_t a = MACH_PORT_NULL;
        REQUIRE_KR(thread_create_running(mach_task_self(), x86_THREAD_STATE, reinterpret_cast<thread_state_t>(&s),
                                         x86_THREAD_STATE_COUNT, &a),
                   KERN_SUCCESS);
        s.uts.ts64.__rsi = 8;
        thread_act_t b = MACH_PORT_NULL;
        REQUIRE_KR(thread_create_running(mach_task_self(), x86_THREAD_STATE64,
                                         reinterpret_cast<thread_state_t>(&s.uts.ts64), x86_THREAD_STATE64_COUNT, &b),
                   KERN_SUCCESS);
        mt::SimpleReceived in;
        REQUIRE_KR(mt::receive_simple(port, in), MACH_MSG_SUCCESS);  // they run in the order they were made
        CHECK(in.msg.payload == 7);
        REQUIRE_KR(mt::receive_simple(port, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 8);
        CHECK_KR(mach_port_deallocate(mach_task_self(), a), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), b), KERN_SUCCESS);

        // Once a thread has run, it has registers only when stopped at a fault.
        mach_port_t go = mt::new_port_with_send();
        mach_port_t waiter = machsim::thread_start([go] {
            mt::SimpleReceived m;
            (void)mt::receive_simple(go, m);
        });
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
        x86_thread_state64_t st{};
        mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
        CHECK_KR(thread_get_state(waiter, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&st), &count),
                 KERN_FAILURE);
        CHECK_KR(mt::send_simple(go, MACH_MSG_TYPE_COPY_SEND, 0), MACH_MSG_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), waiter), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("thread_create and thread_create_running: codes, and nothing made when they fail") {
    machsim::Config cfg;
    cfg.max_names = 64;
    machsim::RunReport r = mt::run_task([] {
        thread_act_t t = 0x1234;
        CHECK_KR(thread_create(0x777, &t), MACH_SEND_INVALID_DEST);
        CHECK_KR(thread_create(mach_task_self(), reinterpret_cast<thread_act_t*>(8)), KERN_INVALID_ADDRESS);

        x86_thread_state64_t s{};
        s.__rip = reinterpret_cast<uint64_t>(&report_one);
        auto* words = reinterpret_cast<thread_state_t>(&s);
        CHECK_KR(thread_create_running(mach_task_self(), x86_EXCEPTION_STATE64, words, x86_EXCEPTION_STATE64_COUNT, &t),
                 KERN_INVALID_ARGUMENT);
        CHECK_KR(thread_create_running(mach_task_self(), x86_THREAD_STATE64, words, x86_THREAD_STATE64_COUNT - 1, &t),
                 KERN_INVALID_ARGUMENT);
        CHECK_KR(thread_create_running(mach_task_self(), x86_THREAD_STATE64, words, THREAD_STATE_MAX + 1, &t),
                 MIG_ARRAY_TOO_LARGE);
        CHECK_KR(thread_create_running(mach_task_self(), x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(8),
                                       x86_THREAD_STATE64_COUNT, &t),
                 KERN_INVALID_ADDRESS);
        CHECK(t == MACH_PORT_NULL);  // each call that got as far as the caller's pointer cleared it
        CHECK_KR(thread_create_running(0x777, x86_THREAD_STATE64, words, x86_THREAD_STATE64_COUNT, &t),
                 MACH_SEND_INVALID_DEST);
        CHECK(mt::thread_count(mach_task_self()) == 1);

        // With the name space full there is no name for the thread's port: no thread.
        int filled = mt::fill_name_space();
        CHECK(filled > 0);
        CHECK_KR(thread_create(mach_task_self(), &t), KERN_RESOURCE_SHORTAGE);
        CHECK(t == MACH_PORT_NULL);
    }, cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("past Config::max_threads thread_create is KERN_RESOURCE_SHORTAGE; a suspended thread counts") {
    machsim::Config cfg;
    cfg.max_threads = 3;  // the bootstrap server, the test task, and one more
    machsim::RunReport r = mt::run_task(
        [] {
            thread_act_t held = MACH_PORT_NULL, refused = 0x1234;
            REQUIRE_KR(thread_create(mach_task_self(), &held), KERN_SUCCESS);
            CHECK_KR(thread_create(mach_task_self(), &refused), KERN_RESOURCE_SHORTAGE);
            CHECK(refused == MACH_PORT_NULL);
            CHECK_KR(thread_terminate(held), KERN_SUCCESS);  // it never ran; it ends all the same
            CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
            CHECK(mt::type_of(held) == MACH_PORT_TYPE_DEAD_NAME);
            thread_act_t later = MACH_PORT_NULL;
            CHECK_KR(thread_create(mach_task_self(), &later), KERN_SUCCESS);  // room again
            CHECK_KR(mach_port_deallocate(mach_task_self(), held), KERN_SUCCESS);
        },
        cfg);
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("a thread made in another task belongs to it: it is listed there and ends with it") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t stop = mt::new_port_with_send();
        mach_port_t worker = machsim::task_spawn(
            "worker",
            [](mach_port_t p) {
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);
            },
            stop, MACH_MSG_TYPE_MOVE_RECEIVE);
        REQUIRE(worker != MACH_PORT_NULL);
        thread_act_t held = MACH_PORT_NULL;
        REQUIRE_KR(thread_create(worker, &held), KERN_SUCCESS);
        CHECK(mt::thread_count(worker) == 2);
        CHECK(mt::thread_count(mach_task_self()) == 1);

        // The worker's first thread returns: the task ends, and the thread it never resumed with it.
        CHECK_KR(mt::send_simple(stop, MACH_MSG_TYPE_COPY_SEND, 0), MACH_MSG_SUCCESS);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 5), KERN_SUCCESS);
        CHECK(mt::type_of(held) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::type_of(worker) == MACH_PORT_TYPE_DEAD_NAME);
        thread_act_t late = 0x1234;
        CHECK_KR(thread_create(worker, &late), MACH_SEND_INVALID_DEST);
        CHECK_KR(mach_port_deallocate(mach_task_self(), held), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), worker), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    REQUIRE(r.task("worker") != nullptr);
    CHECK(r.task("worker")->end == machsim::TaskEnd::Exited);
}

TEST_CASE("in a task that is ending (a destructor run by task_terminate), thread_create is KERN_FAILURE and "
          "thread_start starts nothing") {
    static kern_return_t seen = KERN_SUCCESS;
    static thread_act_t made = 0x1234, started = 0x1234;
    seen = KERN_SUCCESS;
    machsim::RunReport r = mt::run_task([] {
        mach_port_t go = mt::new_port_with_send();
        mach_port_t doomed = machsim::task_spawn(
            "doomed",
            [](mach_port_t p) {
                struct AtEnd {
                    ~AtEnd() {
                        seen = thread_create(mach_task_self(), &made);
                        started = machsim::thread_start([] {});
                    }
                } at_end;
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);  // never answered: terminated while waiting
            },
            go, MACH_MSG_TYPE_MOVE_RECEIVE);
        REQUIRE(doomed != MACH_PORT_NULL);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
        CHECK_KR(task_terminate(doomed), KERN_SUCCESS);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), doomed), KERN_SUCCESS);
    });
    INFO(r.summary());
    mt::check_sound(r);
    CHECK_KR(seen, KERN_FAILURE);
    CHECK(made == MACH_PORT_NULL);
    CHECK(started == MACH_PORT_NULL);
    REQUIRE(r.task("doomed") != nullptr);
    CHECK(r.task("doomed")->end == machsim::TaskEnd::Terminated);
}

TEST_CASE("a thread started at a bad rip faults like any task code: SIGSEGV ends its task, the run goes on") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t stop = mt::new_port_with_send();
        mach_port_t victim = machsim::task_spawn(
            "victim",
            [](mach_port_t p) {
                mt::SimpleReceived in;
                (void)mt::receive_simple(p, in);
            },
            stop, MACH_MSG_TYPE_MOVE_RECEIVE);
        REQUIRE(victim != MACH_PORT_NULL);
        x86_thread_state64_t s{};  // rip 0
        thread_act_t t = MACH_PORT_NULL;
        REQUIRE_KR(thread_create_running(victim, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s),
                                         x86_THREAD_STATE64_COUNT, &t),
                   KERN_SUCCESS);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 5), KERN_SUCCESS);
        CHECK(mt::type_of(victim) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK(mt::type_of(t) == MACH_PORT_TYPE_DEAD_NAME);
        CHECK_KR(mach_port_deallocate(mach_task_self(), t), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), victim), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), stop), KERN_SUCCESS);
    });
    INFO(r.summary());
    mt::check_sound(r);
    REQUIRE(r.task("victim") != nullptr);
    CHECK(r.task("victim")->end == machsim::TaskEnd::Signaled);
    CHECK(r.task("victim")->detail == "SIGSEGV: thread 4 touched 0x0 (outside the task's memory)");
    REQUIRE(r.task("test") != nullptr);
    CHECK(r.task("test")->end == machsim::TaskEnd::Exited);
}

}  // TEST_SUITE
