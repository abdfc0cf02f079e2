// task_info and thread_info, as a program looking at its own threads, another
// thread, or a child task would call them: times (virtual), run states, memory,
// identifiers, and every code.
#include <cstring>

#include "cthreads.h"
#include "tests/support.h"

namespace {

static_assert(TASK_BASIC_INFO_32_COUNT == 8);  // XNU's counts, in natural_t words
static_assert(TASK_BASIC_INFO_64_COUNT == 10);
static_assert(TASK_BASIC_INFO_COUNT == 10);
static_assert(MACH_TASK_BASIC_INFO_COUNT == 12);
static_assert(TASK_THREAD_TIMES_INFO_COUNT == 4);
static_assert(THREAD_BASIC_INFO_COUNT == 10);
static_assert(THREAD_IDENTIFIER_INFO_COUNT == 6);

thread_basic_info_data_t basic_info(thread_act_t thread) {
    thread_basic_info_data_t info{};
    mach_msg_type_number_t count = THREAD_BASIC_INFO_COUNT;
    CHECK_KR(thread_info(thread, THREAD_BASIC_INFO, reinterpret_cast<thread_info_t>(&info), &count), KERN_SUCCESS);
    CHECK(count == THREAD_BASIC_INFO_COUNT);
    return info;
}

uint64_t micros(time_value_t t) { return uint64_t(t.seconds) * 1'000'000 + uint64_t(t.microseconds); }

template <class Info>
kern_return_t get_task_info(task_t task, task_flavor_t flavor, Info& info, mach_msg_type_number_t want) {
    mach_msg_type_number_t count = want;
    kern_return_t kr = task_info(task, flavor, reinterpret_cast<task_info_t>(&info), &count);
    if (kr == KERN_SUCCESS) CHECK(count == want);
    return kr;
}

}  // namespace

TEST_CASE("thread_info on itself: compute() is user time, kernel entries are system time, one tick each") {
    thread_basic_info_data_t info{};
    machsim::RunReport r = mt::run_task([&] {
        machsim::compute(2'500'000);           // 2.5 s of modelled work: user time
        thread_act_t self = mach_thread_self();  // kernel entries: compute, mach_thread_self, thread_info
        info = basic_info(self);
        mach_port_deallocate(mach_task_self(), self);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(info.user_time.seconds == 2);
    CHECK(info.user_time.microseconds == 500'000);
    CHECK(micros(info.system_time) == 3);
    CHECK(info.run_state == TH_STATE_RUNNING);
    CHECK(info.policy == POLICY_TIMESHARE);
    CHECK(info.suspend_count == 0);
    CHECK(info.sleep_time == 0);
    CHECK(info.flags == 0);
    CHECK(info.cpu_usage > 990);  // it ran nearly all the time since it began
    CHECK(info.cpu_usage <= TH_USAGE_SCALE);
}

TEST_CASE("thread_info on another thread: waiting, stopped while suspended, and gone once it ends") {
    thread_basic_info_data_t waiting{}, stopped{}, resumed{}, after{};
    kern_return_t gone = KERN_SUCCESS;
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = mt::new_port_with_send();
        thread_act_t t = machsim::thread_start([port] {
            mt::SimpleReceived in{};
            CHECK_KR(mt::receive_simple(port, in), MACH_MSG_SUCCESS);
            machsim::compute(300);
        });
        REQUIRE(t != MACH_PORT_NULL);
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);  // it runs, and waits for a message
        waiting = basic_info(t);
        CHECK_KR(thread_suspend(t), KERN_SUCCESS);
        stopped = basic_info(t);
        CHECK_KR(thread_resume(t), KERN_SUCCESS);
        resumed = basic_info(t);
        CHECK_KR(mt::send_simple(port, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
        after = basic_info(t);  // woken, not yet run: runnable
        mt::sleep_ms(5);        // it computes, and ends
        thread_basic_info_data_t info{};
        mach_msg_type_number_t count = THREAD_BASIC_INFO_COUNT;
        gone = thread_info(t, THREAD_BASIC_INFO, reinterpret_cast<thread_info_t>(&info), &count);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(waiting.run_state == TH_STATE_WAITING);
    CHECK(waiting.suspend_count == 0);
    CHECK(micros(waiting.user_time) == 0);
    CHECK(stopped.run_state == TH_STATE_STOPPED);
    CHECK(stopped.suspend_count == 1);
    CHECK(resumed.run_state == TH_STATE_WAITING);
    CHECK(after.run_state == TH_STATE_RUNNING);
    CHECK_KR(gone, MACH_SEND_INVALID_DEST);  // its port died with it
}

TEST_CASE("THREAD_IDENTIFIER_INFO: a thread id of its own, the same each time; the handle is its C Threads record") {
    uint64_t main_id = 0, main_again = 0, other_id = 0, plain_handle = 1, handle = 0, cthread = 0;
    machsim::RunReport r = mt::run_task([&] {
        auto ident = [](thread_act_t t) {
            thread_identifier_info_data_t id{};
            mach_msg_type_number_t count = THREAD_IDENTIFIER_INFO_COUNT;
            CHECK_KR(thread_info(t, THREAD_IDENTIFIER_INFO, reinterpret_cast<thread_info_t>(&id), &count),
                     KERN_SUCCESS);
            CHECK(count == THREAD_IDENTIFIER_INFO_COUNT);
            CHECK(id.dispatch_qaddr == 0);
            return id;
        };
        thread_act_t self = mach_thread_self();
        thread_identifier_info_data_t first = ident(self);
        main_id = first.thread_id;
        plain_handle = first.thread_handle;  // no C Threads call yet: no record
        main_again = ident(self).thread_id;
        cthread = reinterpret_cast<uintptr_t>(cthread_self());
        handle = ident(self).thread_handle;
        thread_act_t t = machsim::thread_start([] { mt::sleep_ms(1); });
        other_id = ident(t).thread_id;
        mach_port_deallocate(mach_task_self(), self);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(main_id != 0);
    CHECK(main_again == main_id);
    CHECK(other_id != 0);
    CHECK(other_id != main_id);
    CHECK(plain_handle == 0);
    CHECK(cthread != 0);
    CHECK(handle == cthread);
}

TEST_CASE("task_info: ended threads' times in the basic flavors, live threads' in TASK_THREAD_TIMES_INFO") {
    task_basic_info_data_t basic{};
    mach_task_basic_info_data_t mach_basic{};
    task_basic_info_32_data_t basic32{};
    task_thread_times_info_data_t live{};
    machsim::RunReport r = mt::run_task([&] {
        machsim::compute(700);  // this thread's: it is alive when asked
        semaphore_t done = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(mach_task_self(), &done, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        machsim::thread_start([done] {
            machsim::compute(1'000'000);
            machsim::compute(234);
            semaphore_signal(done);
        });
        CHECK_KR(semaphore_wait(done), KERN_SUCCESS);
        mt::sleep_ms(1);  // the thread returns and ends
        CHECK_KR(get_task_info(mach_task_self(), TASK_BASIC_INFO, basic, TASK_BASIC_INFO_COUNT), KERN_SUCCESS);
        CHECK_KR(get_task_info(mach_task_self(), MACH_TASK_BASIC_INFO, mach_basic, MACH_TASK_BASIC_INFO_COUNT),
                 KERN_SUCCESS);
        CHECK_KR(get_task_info(mach_task_self(), TASK_BASIC_INFO_32, basic32, TASK_BASIC_INFO_32_COUNT), KERN_SUCCESS);
        CHECK_KR(get_task_info(mach_task_self(), TASK_THREAD_TIMES_INFO, live, TASK_THREAD_TIMES_INFO_COUNT),
                 KERN_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(micros(basic.user_time) == 1'000'234);  // the ended thread's compute()
    CHECK(micros(basic.system_time) == 3);        // its kernel entries: two computes and the signal
    CHECK(micros(mach_basic.user_time) == 1'000'234);
    CHECK(micros(basic32.user_time) == 1'000'234);
    CHECK(micros(live.user_time) == 700);  // the first thread's only
    CHECK(micros(live.system_time) > 0);
    CHECK(basic.policy == POLICY_TIMESHARE);
    CHECK(basic.suspend_count == 0);
    CHECK(mach_basic.policy == POLICY_TIMESHARE);
}

TEST_CASE("task_info follows the task's memory: virtual and resident size, and the largest it has been") {
    mach_vm_size_t before = 0, during = 0, after = 0, peak = 0, resident = 0;
    vm_size_t page = 0;
    machsim::RunReport r = mt::run_task([&] {
        page = vm_page_size;
        mach_task_basic_info_data_t info{};
        CHECK_KR(get_task_info(mach_task_self(), MACH_TASK_BASIC_INFO, info, MACH_TASK_BASIC_INFO_COUNT), KERN_SUCCESS);
        before = info.virtual_size;
        vm_address_t a = 0;
        REQUIRE_KR(vm_allocate(mach_task_self(), &a, 5 * page, VM_FLAGS_ANYWHERE), KERN_SUCCESS);
        CHECK_KR(get_task_info(mach_task_self(), MACH_TASK_BASIC_INFO, info, MACH_TASK_BASIC_INFO_COUNT), KERN_SUCCESS);
        during = info.virtual_size;
        resident = info.resident_size;
        CHECK_KR(vm_deallocate(mach_task_self(), a, 5 * page), KERN_SUCCESS);
        CHECK_KR(get_task_info(mach_task_self(), MACH_TASK_BASIC_INFO, info, MACH_TASK_BASIC_INFO_COUNT), KERN_SUCCESS);
        after = info.virtual_size;
        peak = info.resident_size_max;
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(during == before + 5 * page);
    CHECK(resident == during);  // nothing is paged out here
    CHECK(after == before);
    CHECK(peak >= during);
}

TEST_CASE("task_info on a child task: its suspend count, through the task port task_spawn gave") {
    integer_t suspended = -1, running = -1;
    thread_basic_info_data_t child_thread{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = mt::new_port_with_send();
        task_t child = machsim::task_spawn("child", [](mach_port_t p) {
            mt::SimpleReceived in{};
            CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        }, port, MACH_MSG_TYPE_MOVE_RECEIVE);  // the send right stays here
        REQUIRE(child != MACH_PORT_NULL);
        mt::sleep_ms(1);  // it waits for a message
        CHECK_KR(task_suspend(child), KERN_SUCCESS);
        task_basic_info_data_t info{};
        CHECK_KR(get_task_info(child, TASK_BASIC_INFO, info, TASK_BASIC_INFO_COUNT), KERN_SUCCESS);
        suspended = info.suspend_count;
        thread_act_array_t threads = nullptr;
        mach_msg_type_number_t n = 0;
        REQUIRE_KR(task_threads(child, &threads, &n), KERN_SUCCESS);
        REQUIRE(n == 1);
        child_thread = basic_info(threads[0]);
        CHECK_KR(task_resume(child), KERN_SUCCESS);
        CHECK_KR(get_task_info(child, TASK_BASIC_INFO, info, TASK_BASIC_INFO_COUNT), KERN_SUCCESS);
        running = info.suspend_count;
        CHECK_KR(mt::send_simple(port, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(suspended == 1);
    CHECK(child_thread.run_state == TH_STATE_STOPPED);  // its task is suspended
    CHECK(child_thread.suspend_count == 0);             // the thread's own count
    CHECK(running == 0);
}

TEST_CASE("thread_info: a thread of a task stopped by SIGSTOP is stopped, and waits again after SIGCONT") {
    thread_basic_info_data_t stopped{}, continued{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t port = mt::new_port_with_send();
        task_t child = machsim::task_spawn("child", [](mach_port_t p) {
            mt::SimpleReceived in{};
            CHECK_KR(mt::receive_simple(p, in), MACH_MSG_SUCCESS);
        }, port, MACH_MSG_TYPE_MOVE_RECEIVE);
        REQUIRE(child != MACH_PORT_NULL);
        mt::sleep_ms(1);  // it waits for a message
        thread_act_array_t threads = nullptr;
        mach_msg_type_number_t n = 0;
        REQUIRE_KR(task_threads(child, &threads, &n), KERN_SUCCESS);
        REQUIRE(n == 1);
        CHECK_KR(machsim::task_signal(child, machsim::sig::STOP), KERN_SUCCESS);
        mt::sleep_ms(1);
        stopped = basic_info(threads[0]);
        CHECK_KR(machsim::task_signal(child, machsim::sig::CONT), KERN_SUCCESS);
        mt::sleep_ms(1);
        continued = basic_info(threads[0]);
        CHECK_KR(mt::send_simple(port, MACH_MSG_TYPE_COPY_SEND, 1), MACH_MSG_SUCCESS);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(stopped.run_state == TH_STATE_STOPPED);
    CHECK(stopped.suspend_count == 0);  // no thread_suspend: the signal stopped it
    CHECK(continued.run_state == TH_STATE_WAITING);
}

TEST_CASE("task_info and thread_info codes: bad names, flavors, counts and pointers; nothing written on failure") {
    machsim::RunReport r = mt::run_task([&] {
        task_t task = mach_task_self();
        thread_act_t self = mach_thread_self();
        integer_t buf[64];
        mach_msg_type_number_t count = 0;
        auto fresh = [&](mach_msg_type_number_t c) {
            std::memset(buf, 0x55, sizeof buf);
            count = c;
        };
        auto untouched = [&] {
            for (integer_t w : buf)
                if (w != 0x55555555) return false;
            return true;
        };

        // Names that are not a send right to a live task (or thread) port.
        mach_port_t receive_only = mt::new_receive_right();
        semaphore_t sem = MACH_PORT_NULL;
        REQUIRE_KR(semaphore_create(task, &sem, SYNC_POLICY_FIFO, 0), KERN_SUCCESS);
        for (mach_port_name_t bad : {mach_port_name_t{MACH_PORT_NULL}, receive_only, sem, self, mach_port_name_t{0x999}}) {
            fresh(TASK_BASIC_INFO_COUNT);
            CHECK_KR(task_info(bad, TASK_BASIC_INFO, buf, &count), MACH_SEND_INVALID_DEST);
            CHECK(untouched());
            CHECK(count == TASK_BASIC_INFO_COUNT);
        }
        for (mach_port_name_t bad : {mach_port_name_t{MACH_PORT_NULL}, receive_only, sem, task}) {
            fresh(THREAD_BASIC_INFO_COUNT);
            CHECK_KR(thread_info(bad, THREAD_BASIC_INFO, buf, &count), MACH_SEND_INVALID_DEST);
            CHECK(untouched());
        }

        // Flavors machsim does not give.
        fresh(64);
        CHECK_KR(task_info(task, 99, buf, &count), KERN_INVALID_ARGUMENT);
        CHECK_KR(task_info(task, 2 /* TASK_EVENTS_INFO */, buf, &count), KERN_INVALID_ARGUMENT);
        CHECK_KR(thread_info(self, 5 /* THREAD_EXTENDED_INFO */, buf, &count), KERN_INVALID_ARGUMENT);
        CHECK(untouched());
        CHECK(count == 64);

        // Too little room: refused, as XNU does; room beyond the maximum is bounded, as MIG does.
        fresh(TASK_BASIC_INFO_COUNT - 1);
        CHECK_KR(task_info(task, TASK_BASIC_INFO, buf, &count), KERN_INVALID_ARGUMENT);
        fresh(THREAD_BASIC_INFO_COUNT - 1);
        CHECK_KR(thread_info(self, THREAD_BASIC_INFO, buf, &count), KERN_INVALID_ARGUMENT);
        fresh(0);
        CHECK_KR(thread_info(self, THREAD_IDENTIFIER_INFO, buf, &count), KERN_INVALID_ARGUMENT);
        CHECK(untouched());
        fresh(1'000'000);
        CHECK_KR(task_info(task, TASK_THREAD_TIMES_INFO, buf, &count), KERN_SUCCESS);
        CHECK(count == TASK_THREAD_TIMES_INFO_COUNT);
        CHECK(buf[TASK_THREAD_TIMES_INFO_COUNT] == 0x55555555);  // only the flavor's words are written
        fresh(1'000'000);
        CHECK_KR(thread_info(self, THREAD_BASIC_INFO, buf, &count), KERN_SUCCESS);
        CHECK(count == THREAD_BASIC_INFO_COUNT);
        CHECK(buf[THREAD_BASIC_INFO_COUNT] == 0x55555555);

        // Pointers the kernel cannot use.
        fresh(TASK_BASIC_INFO_COUNT);
        CHECK_KR(task_info(task, TASK_BASIC_INFO, buf, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(task_info(task, TASK_BASIC_INFO, reinterpret_cast<task_info_t>(0x8), &count), KERN_INVALID_ADDRESS);
        CHECK_KR(thread_info(self, THREAD_BASIC_INFO, buf, reinterpret_cast<mach_msg_type_number_t*>(0x8)),
                 KERN_INVALID_ADDRESS);
        CHECK_KR(thread_info(self, THREAD_BASIC_INFO, reinterpret_cast<thread_info_t>(0x8), &count),
                 KERN_INVALID_ADDRESS);
        CHECK(untouched());
        mach_port_deallocate(task, self);
    });
    INFO(r.summary());
    CHECK(r.clean());
}

TEST_CASE("the times and states task_info and thread_info report are the same in every run") {
    auto run = [] {
        std::vector<integer_t> words;
        machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
            for (int i = 0; i < 2; ++i) {
                k.spawn("worker" + std::to_string(i), [&words, i] {
                    for (int round = 0; round < 20; ++round) {
                        machsim::compute(37 * (i + 1));
                        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
                    }
                    thread_act_t self = mach_thread_self();
                    thread_basic_info_data_t t = basic_info(self);
                    task_thread_times_info_data_t tt{};
                    CHECK_KR(get_task_info(mach_task_self(), TASK_THREAD_TIMES_INFO, tt, TASK_THREAD_TIMES_INFO_COUNT),
                             KERN_SUCCESS);
                    const auto* a = reinterpret_cast<const integer_t*>(&t);
                    words.insert(words.end(), a, a + THREAD_BASIC_INFO_COUNT);
                    words.push_back(tt.user_time.microseconds);
                    words.push_back(tt.system_time.microseconds);
                    mach_port_deallocate(mach_task_self(), self);
                });
            }
        });
        CHECK(r.clean());
        return words;
    };
    std::vector<integer_t> first = run();
    CHECK(first.size() == 2 * (THREAD_BASIC_INFO_COUNT + 2));
    CHECK(first == run());
}
