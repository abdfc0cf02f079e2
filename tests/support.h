// Helpers for tests written as task programs: run tasks in a fresh kernel,
// send and receive simple messages, and compare Mach codes by name.
#pragma once

#include <dirent.h>
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "mach/mach.h"
#include "machsim.h"
#include "servers/bootstrap.h"

namespace mt {

// A Mach return code that prints as its name in failure messages.
struct Code {
    int value;
    bool operator==(const Code& o) const { return value == o.value; }
};

// Runs one task with `body` in a fresh kernel; returns the report.
inline machsim::RunReport run_task(std::function<void()> body, machsim::Config cfg = {}) {
    machsim::Kernel k(cfg);
    k.spawn("test", std::move(body));
    return k.run();
}

// For reports of runs where a task was terminated, crashed or killed by a signal
// (clean() is false by design): the run still ended well and nothing leaked.
inline void check_sound(const machsim::RunReport& r) {
    CHECK_FALSE(r.deadlock);
    CHECK_FALSE(r.time_limit);
    CHECK(r.leaks.empty());
    CHECK(r.accounting.empty());
}

// Runs the tasks `setup` spawns, with a trace recorded into `log` if given.
inline machsim::RunReport run_kernel(const std::function<void(machsim::Kernel&)>& setup, machsim::Config cfg = {},
                                     machsim::TraceSink* sink = nullptr) {
    machsim::Kernel k(cfg);
    if (sink) k.attach(*sink);
    setup(k);
    return k.run();
}

// The same run, as the text trace it prints.
inline std::string trace_text(const std::function<void(machsim::Kernel&)>& setup, machsim::Config cfg = {}) {
    std::ostringstream out;
    machsim::TextSink sink(out, true);
    machsim::RunReport r = run_kernel(setup, cfg, &sink);
    out << r.summary();
    return out.str();
}

struct SimpleMsg {
    mach_msg_header_t head;
    int payload;
};

struct SimpleReceived {
    SimpleMsg msg;
    mach_msg_audit_trailer_t trailer;
};

inline mach_msg_return_t send_simple(mach_port_t dest, mach_msg_type_name_t disposition, int payload,
                                     mach_msg_option_t extra = 0, mach_msg_timeout_t timeout = 0,
                                     mach_port_t reply = MACH_PORT_NULL, mach_msg_type_name_t reply_disp = 0,
                                     mach_msg_id_t id = 100) {
    SimpleMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(disposition, reply_disp);
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = dest;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = id;
    m.payload = payload;
    return mach_msg(&m.head, MACH_SEND_MSG | extra, sizeof m, 0, MACH_PORT_NULL, timeout, MACH_PORT_NULL);
}

inline mach_msg_return_t receive_simple(mach_port_t port, SimpleReceived& out, mach_msg_option_t extra = 0,
                                        mach_msg_timeout_t timeout = 0) {
    out = SimpleReceived{};
    return mach_msg(&out.msg.head, MACH_RCV_MSG | extra, 0, sizeof out, port, timeout, MACH_PORT_NULL);
}

// An RPC's buffer (a simple request goes out of it, the reply comes back into
// it): a request to dest (COPY_SEND) asking for a reply on reply (MAKE_SEND_ONCE).
inline SimpleReceived rpc_request(mach_port_t dest, mach_port_t reply, int payload = 0) {
    SimpleReceived buf{};
    buf.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
    buf.msg.head.msgh_size = sizeof buf.msg;
    buf.msg.head.msgh_remote_port = dest;
    buf.msg.head.msgh_local_port = reply;
    buf.msg.head.msgh_id = 100;
    buf.msg.payload = payload;
    return buf;
}

// mach_msg SEND|RCV of an rpc_request buffer, waiting for the reply on `reply`.
inline mach_msg_return_t rpc_call(SimpleReceived& buf, mach_port_t reply, mach_msg_option_t extra = 0,
                                  mach_msg_timeout_t timeout = MACH_MSG_TIMEOUT_NONE) {
    return mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG | extra, sizeof buf.msg, sizeof buf, reply, timeout,
                    MACH_PORT_NULL);
}

inline mach_port_t new_receive_right() {
    mach_port_t p = MACH_PORT_NULL;
    if (mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_RECEIVE, &p) != KERN_SUCCESS) return MACH_PORT_NULL;
    return p;
}

// A receive right with a send right under the same name.
inline mach_port_t new_port_with_send() {
    mach_port_t p = new_receive_right();
    if (mach_port_insert_right(mach_task_self(), p, p, MACH_MSG_TYPE_MAKE_SEND) != KERN_SUCCESS) return MACH_PORT_NULL;
    return p;
}

inline mach_port_urefs_t refs(mach_port_name_t name, mach_port_right_t right) {
    mach_port_urefs_t n = 0xdead;
    if (mach_port_get_refs(mach_task_self(), name, right, &n) != KERN_SUCCESS) return 0xdead;
    return n;
}

inline mach_port_type_t type_of(mach_port_name_t name) {
    mach_port_type_t t = 0;
    if (mach_port_type(mach_task_self(), name, &t) != KERN_SUCCESS) return 0xdead;
    return t;
}

inline mach_port_status_t status_of(mach_port_name_t name) {
    mach_port_status_t st{};
    mach_msg_type_number_t count = MACH_PORT_RECEIVE_STATUS_COUNT;
    (void)mach_port_get_attributes(mach_task_self(), name, MACH_PORT_RECEIVE_STATUS,
                                   reinterpret_cast<mach_port_info_t>(&st), &count);
    return st;
}

// How many names the caller's space holds (mach_port_names; its arrays are given back).
inline mach_msg_type_number_t name_count() {
    mach_port_name_array_t names = nullptr;
    mach_port_type_array_t types = nullptr;
    mach_msg_type_number_t n = 0, m = 0;
    if (mach_port_names(mach_task_self(), &names, &n, &types, &m) != KERN_SUCCESS) return 0xdead;
    if (n) {
        (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(names), n * sizeof *names);
        (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(types), m * sizeof *types);
    }
    return n;
}

// Takes every free name of the caller's space with a dead name (use with a small
// Config::max_names); returns how many it took.
inline int fill_name_space() {
    int taken = 0;
    mach_port_name_t n = MACH_PORT_NULL;
    while (taken < (1 << 17) && mach_port_allocate(mach_task_self(), MACH_PORT_RIGHT_DEAD_NAME, &n) == KERN_SUCCESS)
        ++taken;
    return taken;
}

// How many live threads task_threads lists in `task` (its rights and array given back); 999 if it fails.
inline std::size_t thread_count(task_t task) {
    thread_act_array_t list = nullptr;
    mach_msg_type_number_t count = 0;
    if (task_threads(task, &list, &count) != KERN_SUCCESS) return 999;
    for (mach_msg_type_number_t i = 0; i < count; ++i) (void)mach_port_deallocate(mach_task_self(), list[i]);
    (void)vm_deallocate(mach_task_self(), reinterpret_cast<vm_address_t>(list), count * sizeof *list);
    return count;
}

inline kern_return_t set_qlimit(mach_port_name_t name, mach_port_msgcount_t limit) {
    mach_port_limits_t l{limit};
    return mach_port_set_attributes(mach_task_self(), name, MACH_PORT_LIMITS_INFO,
                                    reinterpret_cast<mach_port_info_t>(&l), MACH_PORT_LIMITS_INFO_COUNT);
}

// Task memory through raw pointers the compiler cannot prove anything about.
inline void poke(vm_address_t a, int value) { *reinterpret_cast<volatile int*>(a) = value; }
inline int peek(vm_address_t a) { return *reinterpret_cast<volatile int*>(a); }

// A page of the caller's memory with protection `prot`; 0 if that fails.
inline vm_address_t page_with(vm_prot_t prot) {
    vm_address_t a = 0;
    if (vm_allocate(mach_task_self(), &a, vm_page_size, VM_FLAGS_ANYWHERE) != KERN_SUCCESS) return 0;
    if (vm_protect(mach_task_self(), a, vm_page_size, FALSE, prot) != KERN_SUCCESS) return 0;
    return a;
}

// Memory objects (each a memfd named "machsim-memory") open in this process now: the
// kernel's memory objects, counted from outside it.
inline std::size_t memory_objects() {
    std::size_t n = 0;
    DIR* d = opendir("/proc/self/fd");
    if (!d) return 0;
    while (dirent* e = readdir(d)) {
        char link[256];
        std::string path = std::string("/proc/self/fd/") + e->d_name;
        ssize_t len = readlink(path.c_str(), link, sizeof link - 1);
        if (len <= 0) continue;
        link[len] = 0;
        if (std::strstr(link, "machsim-memory")) ++n;
    }
    closedir(d);
    return n;
}

}  // namespace mt

namespace doctest {
template <>
struct StringMaker<mt::Code> {
    static String convert(const mt::Code& c) { return machsim::code_name(c.value).c_str(); }
};
}  // namespace doctest

// CHECK_KR(call, KERN_SUCCESS): compares Mach codes and prints their names.
#define CHECK_KR(expr, expected) CHECK(::mt::Code{static_cast<int>(expr)} == ::mt::Code{static_cast<int>(expected)})
#define REQUIRE_KR(expr, expected) REQUIRE(::mt::Code{static_cast<int>(expr)} == ::mt::Code{static_cast<int>(expected)})

namespace mt {

// Blocks the calling task for `ms` milliseconds of virtual time: a receive that
// times out on a private, empty port (the classic Mach sleep).
inline void sleep_ms(mach_msg_timeout_t ms) {
    mach_port_t p = new_receive_right();
    SimpleReceived in;
    CHECK_KR(receive_simple(p, in, MACH_RCV_TIMEOUT, ms), MACH_RCV_TIMED_OUT);
    CHECK_KR(mach_port_mod_refs(mach_task_self(), p, MACH_PORT_RIGHT_RECEIVE, -1), KERN_SUCCESS);
}

// The setup of the built-in or registered program of that name (machsim list).
inline std::function<void(machsim::Kernel&)> program(const char* name) {
    const machsim::Program* p = machsim::find_program(name);
    REQUIRE(p);
    return p->setup;
}

// The lines of `text`, without their line breaks.
inline std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
}

// A fresh port (receive + send under one name) registered with the bootstrap server.
inline mach_port_t publish(const char* service, mach_port_msgcount_t qlimit = MACH_PORT_QLIMIT_DEFAULT) {
    mach_port_t p = new_port_with_send();
    CHECK(MACH_PORT_VALID(p));
    if (qlimit != MACH_PORT_QLIMIT_DEFAULT) CHECK_KR(set_qlimit(p, qlimit), KERN_SUCCESS);
    CHECK_KR(bootstrap_register(bootstrap_port, service, p), BOOTSTRAP_SUCCESS);
    return p;
}

// A send right to a registered service, waiting (virtual time) for it to appear.
inline mach_port_t look_up(const char* service) {
    for (int i = 0; i < 100; ++i) {
        mach_port_t p = MACH_PORT_NULL;
        kern_return_t kr = bootstrap_look_up(bootstrap_port, service, &p);
        if (kr == KERN_SUCCESS) return p;
        if (kr != BOOTSTRAP_UNKNOWN_SERVICE) {
            CHECK_KR(kr, KERN_SUCCESS);
            return MACH_PORT_NULL;
        }
        sleep_ms(1);
    }
    FAIL_CHECK("bootstrap_look_up never found " << service);
    return MACH_PORT_NULL;
}

}  // namespace mt
