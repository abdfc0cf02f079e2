// task_create: an empty task, given a thread with thread_create, as Mach programs
// make tasks (the textbooks' task_create + thread_create + thread_set_state +
// thread_resume).
#include <cstdint>

#include "tests/support.h"

namespace {

// Starts a thread in `task` at fn(a, b), through thread_create, thread_set_state and thread_resume.
thread_act_t start_in(task_t task, void (*fn)(uint64_t, uint64_t), uint64_t a, uint64_t b) {
    thread_act_t t = MACH_PORT_NULL;
    if (thread_create(task, &t) != KERN_SUCCESS) return MACH_PORT_NULL;
    x86_thread_state64_t s{};
    mach_msg_type_number_t count = x86_THREAD_STATE64_COUNT;
    CHECK_KR(thread_get_state(t, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), &count), KERN_SUCCESS);
    s.__rip = reinterpret_cast<uint64_t>(fn);
    s.__rdi = a;
    s.__rsi = b;
    CHECK_KR(thread_set_state(t, x86_THREAD_STATE64, reinterpret_cast<thread_state_t>(&s), count), KERN_SUCCESS);
    CHECK_KR(thread_resume(t), KERN_SUCCESS);
    return t;
}

// The child's code: it finds its parent through the bootstrap port it inherited.
void greet_parent(uint64_t value, uint64_t) {
    mach_port_t parent = mt::look_up("parent");
    (void)mt::send_simple(parent, MACH_MSG_TYPE_COPY_SEND, static_cast<int>(value));
}

// Reads an int at `address` in its own task's memory and reports it to the parent.
void report_memory(uint64_t address, uint64_t) {
    mach_port_t parent = mt::look_up("parent");
    (void)mt::send_simple(parent, MACH_MSG_TYPE_COPY_SEND, mt::peek(static_cast<vm_address_t>(address)));
}

}  // namespace

TEST_SUITE("tasks") {

TEST_CASE("task_create, then thread_create in it: the child runs in its own task and ends with its last thread") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t mine = mt::publish("parent");
        task_t child = MACH_PORT_NULL;
        REQUIRE_KR(task_create(mach_task_self(), nullptr, 0, FALSE, &child), KERN_SUCCESS);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_SEND);
        CHECK(mt::thread_count(child) == 0);

        thread_act_t t = start_in(child, &greet_parent, 42, 0);
        REQUIRE(t != MACH_PORT_NULL);
        CHECK(mt::thread_count(child) == 1);
        CHECK(mt::thread_count(mach_task_self()) == 1);
        mt::SimpleReceived in;
        REQUIRE_KR(mt::receive_simple(mine, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 42);

        // Its only thread returned: the task has ended; its port is a dead name.
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1), KERN_SUCCESS);
        CHECK(mt::type_of(child) == MACH_PORT_TYPE_DEAD_NAME);
        thread_act_t late = 0x1234;
        CHECK_KR(thread_create(child, &late), MACH_SEND_INVALID_DEST);
        CHECK_KR(mach_port_deallocate(mach_task_self(), t), KERN_SUCCESS);
        CHECK_KR(mach_port_deallocate(mach_task_self(), child), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    REQUIRE(r.task("test.3") != nullptr);  // named after its parent and its own number
    CHECK(r.task("test.3")->id == 3);
    CHECK(r.task("test.3")->end == machsim::TaskEnd::Exited);
}

TEST_CASE("task_create with inherit_memory: the child has a copy of the parent's memory; without, none") {
    machsim::RunReport r = mt::run_task([] {
        mach_port_t mine = mt::publish("parent");
        vm_address_t a = 0;
        REQUIRE_KR(vm_allocate(mach_task_self(), &a, vm_page_size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        mt::poke(a, 1234);

        task_t copy = MACH_PORT_NULL;
        REQUIRE_KR(task_create(mach_task_self(), nullptr, 0, TRUE, &copy), KERN_SUCCESS);
        mt::poke(a, 99);  // after the copy was made: the child does not see it
        REQUIRE(start_in(copy, &report_memory, a, 0) != MACH_PORT_NULL);
        mt::SimpleReceived in;
        REQUIRE_KR(mt::receive_simple(mine, in), MACH_MSG_SUCCESS);
        CHECK(in.msg.payload == 1234);

        task_t bare = MACH_PORT_NULL;
        REQUIRE_KR(task_create(mach_task_self(), nullptr, 0, FALSE, &bare), KERN_SUCCESS);
        REQUIRE(start_in(bare, &report_memory, a, 0) != MACH_PORT_NULL);  // faults: nothing is mapped there
        CHECK_KR(mt::receive_simple(mine, in, MACH_RCV_TIMEOUT, 10), MACH_RCV_TIMED_OUT);
        CHECK(mt::type_of(bare) == MACH_PORT_TYPE_DEAD_NAME);
    });
    INFO(r.summary());
    mt::check_sound(r);
    REQUIRE(r.task("test.3") != nullptr);
    CHECK(r.task("test.3")->end == machsim::TaskEnd::Exited);
    REQUIRE(r.task("test.4") != nullptr);
    CHECK(r.task("test.4")->end == machsim::TaskEnd::Signaled);
}

TEST_CASE("a task with no thread does not hold the run open; task_terminate ends it at once") {
    machsim::RunReport r = mt::run_task([] {
        task_t idle = MACH_PORT_NULL, doomed = MACH_PORT_NULL;
        REQUIRE_KR(task_create(mach_task_self(), nullptr, 0, FALSE, &idle), KERN_SUCCESS);
        REQUIRE_KR(task_create(mach_task_self(), nullptr, 0, FALSE, &doomed), KERN_SUCCESS);
        // Its memory and names can be used before it has a thread.
        vm_address_t a = 0;
        CHECK_KR(vm_allocate(idle, &a, vm_page_size, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        mach_port_t p = MACH_PORT_NULL;
        CHECK_KR(mach_port_allocate(idle, MACH_PORT_RIGHT_RECEIVE, &p), KERN_SUCCESS);

        CHECK_KR(task_terminate(doomed), KERN_SUCCESS);
        CHECK(mt::type_of(doomed) == MACH_PORT_TYPE_DEAD_NAME);
        thread_act_t t = 0x1234;
        CHECK_KR(thread_create(doomed, &t), MACH_SEND_INVALID_DEST);
        CHECK_KR(mach_port_deallocate(mach_task_self(), doomed), KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK_FALSE(r.deadlock);
    REQUIRE(r.task("test.3") != nullptr);
    CHECK(r.task("test.3")->end == machsim::TaskEnd::Exited);
    CHECK(r.task("test.3")->detail == "it never had a thread");
    REQUIRE(r.task("test.4") != nullptr);
    CHECK(r.task("test.4")->end == machsim::TaskEnd::Terminated);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
    CHECK(r.clean() == false);  // a terminated task is not a clean end
}

TEST_CASE("task_create: codes, and no task made when it fails") {
    machsim::Config cfg;
    cfg.max_names = 64;
    machsim::RunReport r = mt::run_task([] {
        task_t child = 0x1234;
        CHECK_KR(task_create(0x777, nullptr, 0, FALSE, &child), MACH_SEND_INVALID_DEST);
        CHECK_KR(task_create(mach_task_self(), nullptr, 0, FALSE, reinterpret_cast<task_t*>(8)),
                 KERN_INVALID_ADDRESS);
        int filled = mt::fill_name_space();
        CHECK(filled > 0);
        CHECK_KR(task_create(mach_task_self(), nullptr, 0, FALSE, &child), KERN_RESOURCE_SHORTAGE);
        CHECK(child == MACH_PORT_NULL);
    }, cfg);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(r.tasks.size() == 2);  // the bootstrap server and the test: no child was made
}

}  // TEST_SUITE
