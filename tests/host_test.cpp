// The host port and its clocks, as programs written for macOS use them: the
// clock_get_time timing idiom, host_info and host_page_size, clock_sleep, and
// every code.
#include <cstring>

#include "mach/mach_time.h"
#include "tests/support.h"

namespace {

static_assert(HOST_BASIC_INFO_COUNT == 12);  // XNU's counts, in integer_t words
static_assert(HOST_SCHED_INFO_COUNT == 2);
static_assert(CPU_TYPE_X86_64 == 0x01000007);

uint64_t micros(mach_timespec_t t) { return uint64_t{t.tv_sec} * 1'000'000 + uint64_t(t.tv_nsec) / 1000; }

}  // namespace

TEST_CASE("the macOS timing idiom: host_get_clock_service, clock_get_time, mach_port_deallocate") {
    mach_timespec_t start{}, end{};
    uint64_t abs_start = 0;
    kern_return_t dealloc = -1;
    machsim::RunReport r = mt::run_task([&] {
        clock_serv_t cclock = MACH_PORT_NULL;
        host_t host = mach_host_self();
        REQUIRE_KR(host_get_clock_service(host, SYSTEM_CLOCK, &cclock), KERN_SUCCESS);
        REQUIRE(MACH_PORT_VALID(cclock));
        CHECK_KR(clock_get_time(cclock, &start), KERN_SUCCESS);
        abs_start = mach_absolute_time();
        machsim::compute(1'234'567);  // 1.234567 s of modelled work
        CHECK_KR(clock_get_time(cclock, &end), KERN_SUCCESS);
        dealloc = mach_port_deallocate(mach_task_self(), cclock);
        mach_port_deallocate(mach_task_self(), host);
    });
    INFO(r.summary());
    CHECK(r.clean());  // no right or port left behind
    CHECK_KR(dealloc, KERN_SUCCESS);
    CHECK(start.tv_nsec % 1000 == 0);  // a tick is a microsecond
    CHECK(micros(start) == abs_start);  // the same virtual clock (mach_absolute_time is no kernel entry)
    CHECK(micros(end) - micros(start) == 1'234'567 + 2);  // the work, and compute's and the read's entries
    CHECK(end.tv_sec == start.tv_sec + 1);
}

TEST_CASE("mach_host_self: a send right to the host port, a new uref each call; TASK_HOST_PORT names it too") {
    mach_port_t first = MACH_PORT_NULL, second = MACH_PORT_NULL, special = MACH_PORT_NULL;
    mach_port_urefs_t refs = 0;
    mach_port_type_t type = 0;
    machsim::RunReport r = mt::run_task([&] {
        first = mach_host_self();
        second = mach_host_self();
        refs = mt::refs(first, MACH_PORT_RIGHT_SEND);
        type = mt::type_of(first);
        CHECK_KR(task_get_special_port(mach_task_self(), TASK_HOST_PORT, &special), KERN_SUCCESS);
        CHECK(mt::refs(first, MACH_PORT_RIGHT_SEND) == 3);
        for (int i = 0; i < 3; ++i) CHECK_KR(mach_port_deallocate(mach_task_self(), first), KERN_SUCCESS);
        mach_port_type_t gone = 0;
        CHECK_KR(mach_port_type(mach_task_self(), first, &gone), KERN_INVALID_NAME);  // gone with its last uref
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(MACH_PORT_VALID(first));
    CHECK(second == first);
    CHECK(special == first);
    CHECK(refs == 2);
    CHECK(type == MACH_PORT_TYPE_SEND);
    CHECK(mach_host_self() == MACH_PORT_NULL);  // host code has no space to name it in
}

TEST_CASE("host_info describes the simulated machine: one CPU, x86-64, the task range, the quantum") {
    host_basic_info_data_t basic{};
    host_sched_info_data_t sched{};
    mach_msg_type_number_t basic_count = 0, old_count = 0, sched_count = 0;
    integer_t old[HOST_BASIC_INFO_COUNT];
    vm_size_t page = 0;
    machsim::Config cfg;
    cfg.quantum = 3'000;  // 3 ms
    machsim::RunReport r = mt::run_task([&] {
        host_t host = mach_host_self();
        basic_count = HOST_BASIC_INFO_COUNT;
        CHECK_KR(host_info(host, HOST_BASIC_INFO, reinterpret_cast<host_info_t>(&basic), &basic_count), KERN_SUCCESS);
        std::memset(old, 0x55, sizeof old);
        old_count = 5;  // a caller of the old structure gets only its 5 words
        CHECK_KR(host_info(host, HOST_BASIC_INFO, old, &old_count), KERN_SUCCESS);
        sched_count = HOST_SCHED_INFO_COUNT;
        CHECK_KR(host_info(host, HOST_SCHED_INFO, reinterpret_cast<host_info_t>(&sched), &sched_count), KERN_SUCCESS);
        CHECK_KR(host_page_size(host, &page), KERN_SUCCESS);
        mach_port_deallocate(mach_task_self(), host);
    }, cfg);
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(basic_count == HOST_BASIC_INFO_COUNT);
    CHECK(basic.max_cpus == 1);
    CHECK(basic.avail_cpus == 1);
    CHECK(basic.physical_cpu == 1);
    CHECK(basic.logical_cpu_max == 1);
    CHECK(basic.cpu_type == CPU_TYPE_X86_64);
    CHECK(basic.cpu_subtype == CPU_SUBTYPE_X86_64_ALL);
    CHECK(basic.cpu_threadtype == CPU_THREADTYPE_NONE);
    CHECK(basic.max_mem == (uint64_t{16} << 30));    // a task's address range
    CHECK(basic.memory_size == (uint64_t{1} << 31));  // capped at 2 GB, as XNU caps it
    CHECK(old_count == 5);
    CHECK(old[0] == 1);
    CHECK(old[3] == CPU_TYPE_X86_64);
    CHECK(old[5] == 0x55555555);  // nothing past the old structure
    CHECK(sched_count == HOST_SCHED_INFO_COUNT);
    CHECK(sched.min_quantum == 3);
    CHECK(sched.min_timeout == 3);
    CHECK(page == vm_page_size);
}

TEST_CASE("clock_sleep sleeps on the system clock, relative or absolute; a time already past returns at once") {
    mach_timespec_t before{}, woke{}, abs_target{}, abs_woke{}, past_woke{}, null_clock_woke{};
    kern_return_t calendar = -1, not_clock = -1, bad_type = -1, bad_nsec = -1;
    machsim::RunReport r = mt::run_task([&] {
        host_t host = mach_host_self();
        clock_serv_t sys = MACH_PORT_NULL, cal = MACH_PORT_NULL;
        REQUIRE_KR(host_get_clock_service(host, SYSTEM_CLOCK, &sys), KERN_SUCCESS);
        REQUIRE_KR(host_get_clock_service(host, CALENDAR_CLOCK, &cal), KERN_SUCCESS);
        CHECK(cal != sys);
        CHECK_KR(clock_get_time(sys, &before), KERN_SUCCESS);
        CHECK_KR(clock_sleep(sys, TIME_RELATIVE, mach_timespec_t{0, 2'500'000}, &woke), KERN_SUCCESS);  // 2.5 ms
        abs_target = mach_timespec_t{woke.tv_sec + 1, 0};
        CHECK_KR(clock_sleep(sys, TIME_ABSOLUTE, abs_target, &abs_woke), KERN_SUCCESS);
        CHECK_KR(clock_sleep(sys, TIME_ABSOLUTE, mach_timespec_t{0, 5'000}, &past_woke), KERN_SUCCESS);
        CHECK_KR(clock_sleep(MACH_PORT_NULL, TIME_RELATIVE, mach_timespec_t{0, 1'000'000}, &null_clock_woke),
                 KERN_SUCCESS);
        CHECK_KR(clock_sleep(sys, TIME_RELATIVE, mach_timespec_t{0, 1000}, nullptr), KERN_SUCCESS);
        calendar = clock_sleep(cal, TIME_RELATIVE, mach_timespec_t{0, 1000}, nullptr);
        not_clock = clock_sleep(host, TIME_RELATIVE, mach_timespec_t{0, 1000}, nullptr);
        bad_type = clock_sleep(sys, 2, mach_timespec_t{0, 1000}, nullptr);
        bad_nsec = clock_sleep(sys, TIME_RELATIVE, mach_timespec_t{0, 1'000'000'000}, nullptr);
        mach_port_deallocate(mach_task_self(), sys);
        mach_port_deallocate(mach_task_self(), cal);
        mach_port_deallocate(mach_task_self(), host);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(micros(woke) >= micros(before) + 2'500);
    CHECK(micros(woke) <= micros(before) + 2'502);  // woken at the deadline; the entries cost a tick each
    CHECK(micros(abs_woke) >= micros(abs_target));
    CHECK(micros(abs_woke) <= micros(abs_target) + 1);
    CHECK(micros(past_woke) - micros(abs_woke) <= 1);  // no wait: one kernel entry
    CHECK(micros(null_clock_woke) >= micros(past_woke) + 1'000);
    CHECK_KR(calendar, KERN_FAILURE);  // only the system clock sleeps
    CHECK_KR(not_clock, KERN_INVALID_ARGUMENT);
    CHECK_KR(bad_type, KERN_INVALID_VALUE);
    CHECK_KR(bad_nsec, KERN_INVALID_VALUE);
}

TEST_CASE("thread_abort cuts clock_sleep short with KERN_ABORTED, and it says when it woke") {
    kern_return_t aborted = -1;
    mach_timespec_t woke{};
    machsim::RunReport r = mt::run_task([&] {
        mach_port_t sleeper = machsim::thread_start([&] {
            aborted = clock_sleep(MACH_PORT_NULL, TIME_RELATIVE, mach_timespec_t{100, 0}, &woke);
        });
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);  // it sleeps
        CHECK_KR(thread_abort(sleeper), KERN_SUCCESS);
        CHECK_KR(thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0), KERN_SUCCESS);
        (void)mach_port_deallocate(mach_task_self(), sleeper);
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK_KR(aborted, KERN_ABORTED);
    CHECK(woke.tv_sec == 0);  // long before its 100 s
}

TEST_CASE("the calendar clock reads the same virtual time as the system clock; both are the same in every run") {
    auto run = [] {
        std::vector<uint64_t> times;
        machsim::RunReport r = mt::run_task([&] {
            host_t host = mach_host_self();
            clock_serv_t sys = MACH_PORT_NULL, cal = MACH_PORT_NULL;
            REQUIRE_KR(host_get_clock_service(host, SYSTEM_CLOCK, &sys), KERN_SUCCESS);
            REQUIRE_KR(host_get_clock_service(host, CALENDAR_CLOCK, &cal), KERN_SUCCESS);
            for (int i = 0; i < 3; ++i) {
                mach_timespec_t s{}, c{};
                CHECK_KR(clock_get_time(sys, &s), KERN_SUCCESS);
                CHECK_KR(clock_get_time(cal, &c), KERN_SUCCESS);
                times.push_back(micros(s));
                times.push_back(micros(c));
                machsim::compute(777);
            }
            mach_port_deallocate(mach_task_self(), sys);
            mach_port_deallocate(mach_task_self(), cal);
            mach_port_deallocate(mach_task_self(), host);
        });
        CHECK(r.clean());
        return times;
    };
    std::vector<uint64_t> first = run();
    REQUIRE(first.size() == 6);
    CHECK(first[1] == first[0] + 1);  // the next read, one kernel entry later
    CHECK(first[2] == first[1] + 777 + 2);  // the work, compute's entry and the read's
    CHECK(first == run());
}

TEST_CASE("host and clock calls: bad names, flavors, counts and pointers") {
    machsim::RunReport r = mt::run_task([&] {
        task_t task = mach_task_self();
        host_t host = mach_host_self();
        clock_serv_t clock = MACH_PORT_NULL;
        REQUIRE_KR(host_get_clock_service(host, SYSTEM_CLOCK, &clock), KERN_SUCCESS);
        mach_port_t receive_only = mt::new_receive_right();
        integer_t buf[16];
        mach_msg_type_number_t count = 0;
        vm_size_t page = 0;
        mach_timespec_t ts{};

        // Names that are not a send right to the host port (or to a clock).
        for (mach_port_name_t bad : {mach_port_name_t{MACH_PORT_NULL}, receive_only, task, clock}) {
            count = HOST_BASIC_INFO_COUNT;
            CHECK_KR(host_info(bad, HOST_BASIC_INFO, buf, &count), MACH_SEND_INVALID_DEST);
            CHECK_KR(host_page_size(bad, &page), MACH_SEND_INVALID_DEST);
            clock_serv_t c = 0x1234;
            CHECK_KR(host_get_clock_service(bad, SYSTEM_CLOCK, &c), MACH_SEND_INVALID_DEST);
        }
        for (mach_port_name_t bad : {mach_port_name_t{MACH_PORT_NULL}, receive_only, task, host}) {
            CHECK_KR(clock_get_time(bad, &ts), MACH_SEND_INVALID_DEST);
            count = 1;
            CHECK_KR(clock_get_attributes(bad, CLOCK_GET_TIME_RES, buf, &count), MACH_SEND_INVALID_DEST);
        }

        // host_info: flavors and room, as XNU answers them.
        count = 16;
        CHECK_KR(host_info(host, 2 /* HOST_VM_INFO, a host_statistics flavor */, buf, &count), KERN_INVALID_ARGUMENT);
        CHECK_KR(host_info(host, 99, buf, &count), KERN_INVALID_ARGUMENT);
        count = 4;
        CHECK_KR(host_info(host, HOST_BASIC_INFO, buf, &count), KERN_FAILURE);
        count = 1;
        CHECK_KR(host_info(host, HOST_SCHED_INFO, buf, &count), KERN_FAILURE);
        count = 5000;  // beyond HOST_INFO_MAX: bounded, as MIG does
        CHECK_KR(host_info(host, HOST_BASIC_INFO, buf, &count), KERN_SUCCESS);
        CHECK(count == HOST_BASIC_INFO_COUNT);

        // Clocks: ids and attributes.
        clock_serv_t none = 0x1234;
        CHECK_KR(host_get_clock_service(host, 2, &none), KERN_INVALID_ARGUMENT);
        CHECK(none == MACH_PORT_NULL);
        CHECK_KR(host_get_clock_service(host, -1, &none), KERN_INVALID_ARGUMENT);
        int res = 0;
        count = 1;
        CHECK_KR(clock_get_attributes(clock, CLOCK_GET_TIME_RES, &res, &count), KERN_SUCCESS);
        CHECK(res == 1000);  // a tick, in nanoseconds
        count = 4;           // MIG bounds it to the one word
        CHECK_KR(clock_get_attributes(clock, CLOCK_ALARM_MAXRES, &res, &count), KERN_SUCCESS);
        CHECK(res == 0);  // no alarms
        CHECK(count == 1);
        count = 0;
        CHECK_KR(clock_get_attributes(clock, CLOCK_GET_TIME_RES, &res, &count), KERN_FAILURE);
        count = 1;
        CHECK_KR(clock_get_attributes(clock, 2, &res, &count), KERN_INVALID_VALUE);

        // Pointers the kernel cannot use.
        count = HOST_BASIC_INFO_COUNT;
        CHECK_KR(host_info(host, HOST_BASIC_INFO, reinterpret_cast<host_info_t>(0x8), &count), KERN_INVALID_ADDRESS);
        CHECK_KR(host_info(host, HOST_BASIC_INFO, buf, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(host_page_size(host, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(host_get_clock_service(host, SYSTEM_CLOCK, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(clock_get_time(clock, nullptr), KERN_INVALID_ADDRESS);
        CHECK_KR(clock_get_attributes(clock, CLOCK_GET_TIME_RES, nullptr, &count), KERN_INVALID_ADDRESS);

        mach_port_deallocate(task, clock);
        mach_port_deallocate(task, host);
    });
    INFO(r.summary());
    CHECK(r.clean());
}
