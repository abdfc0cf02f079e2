// Helpers shared by tests/lifecycle_test.cpp and tests/tasks_test.cpp.
#pragma once

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "tests/support.h"

namespace lt {

// Room for any message these tests receive, with the largest trailer.
struct Rcv {
    mach_msg_header_t head;
    uint8_t rest[512];
};

inline mach_msg_return_t poll(mach_port_t port, Rcv& b) {
    b = Rcv{};
    return mach_msg(&b.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof b, port, 0, MACH_PORT_NULL);
}

inline mach_msg_return_t wait_for(mach_port_t port, Rcv& b, mach_msg_timeout_t ms) {
    b = Rcv{};
    return mach_msg(&b.head, MACH_RCV_MSG | MACH_RCV_TIMEOUT, 0, sizeof b, port, ms, MACH_PORT_NULL);
}

// The word after the NDR record of a simple notification: a name or a make-send count.
inline uint32_t word_of(const Rcv& b) {
    uint32_t w = 0;
    std::memcpy(&w, reinterpret_cast<const uint8_t*>(&b) + sizeof(mach_msg_header_t) + sizeof(NDR_record_t), sizeof w);
    return w;
}

// Port descriptor i of a received complex message.
inline mach_msg_port_descriptor_t port_desc(const Rcv& b, int i = 0) {
    mach_msg_port_descriptor_t d{};
    std::memcpy(&d,
                reinterpret_cast<const uint8_t*>(&b) + sizeof(mach_msg_header_t) + sizeof(mach_msg_body_t) +
                    static_cast<std::size_t>(i) * sizeof(mach_msg_port_descriptor_t),
                sizeof d);
    return d;
}

// The ids of every message queued on `port` (polled off; carries no rights worth keeping).
inline std::vector<mach_msg_id_t> drain_ids(mach_port_t port) {
    std::vector<mach_msg_id_t> ids;
    Rcv b;
    while (poll(port, b) == MACH_MSG_SUCCESS) {
        ids.push_back(b.head.msgh_id);
        mach_msg_destroy(&b.head);
    }
    return ids;
}

inline mach_port_t send_once_to(mach_port_t port) {
    mach_port_t once = MACH_PORT_NULL;
    mach_msg_type_name_t t = 0;
    if (mach_port_extract_right(mach_task_self(), port, MACH_MSG_TYPE_MAKE_SEND_ONCE, &once, &t) != KERN_SUCCESS)
        return MACH_PORT_NULL;
    return once;
}

inline kern_return_t request(mach_port_name_t name, mach_msg_id_t id, mach_port_mscount_t sync, mach_port_t notify,
                             mach_port_t* previous = nullptr,
                             mach_msg_type_name_t poly = MACH_MSG_TYPE_MAKE_SEND_ONCE,
                             mach_port_t task = mach_task_self()) {
    mach_port_t ignored = MACH_PORT_NULL;
    return mach_port_request_notification(task, name, id, sync, notify, poly, previous ? previous : &ignored);
}

struct PortMsg {
    mach_msg_header_t head;
    mach_msg_body_t body;
    mach_msg_port_descriptor_t port;
};

// A complex message carrying one right (name with disposition).
inline mach_msg_return_t send_port(mach_port_t dest, mach_msg_type_name_t dest_disp, mach_port_t name,
                                   mach_msg_type_name_t disp, mach_msg_id_t id = 500) {
    PortMsg m{};
    m.head.msgh_bits = MACH_MSGH_BITS(dest_disp, 0) | MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_size = sizeof m;
    m.head.msgh_remote_port = dest;
    m.head.msgh_id = id;
    m.body.msgh_descriptor_count = 1;
    m.port.name = name;
    m.port.disposition = disp;
    m.port.type = MACH_MSG_PORT_DESCRIPTOR;
    return mach_msg(&m.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, sizeof m, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

// A complex message carrying up to six rights: (name, disposition) pairs.
inline mach_msg_return_t send_ports(mach_port_t dest, mach_msg_type_name_t dest_disp,
                                    std::initializer_list<std::pair<mach_port_t, mach_msg_type_name_t>> rights,
                                    mach_msg_id_t id = 501) {
    struct {
        mach_msg_header_t head;
        mach_msg_body_t body;
        mach_msg_port_descriptor_t port[6];
    } m{};
    mach_msg_size_t n = 0;
    for (const auto& [name, disp] : rights) {
        if (n == 6) break;
        m.port[n].name = name;
        m.port[n].disposition = disp;
        m.port[n].type = MACH_MSG_PORT_DESCRIPTOR;
        ++n;
    }
    mach_msg_size_t size = static_cast<mach_msg_size_t>(sizeof m.head + sizeof m.body + n * sizeof m.port[0]);
    m.head.msgh_bits = MACH_MSGH_BITS(dest_disp, 0) | MACH_MSGH_BITS_COMPLEX;
    m.head.msgh_size = size;
    m.head.msgh_remote_port = dest;
    m.head.msgh_id = id;
    m.body.msgh_descriptor_count = n;
    return mach_msg(&m.head, MACH_SEND_MSG | MACH_SEND_TIMEOUT, size, 0, MACH_PORT_NULL, 0, MACH_PORT_NULL);
}

inline void sleep_ms(mach_msg_timeout_t ms) { (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, ms); }
inline void yield(int times = 1) {
    for (int i = 0; i < times; ++i) (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
}

inline bool invariants_ok() {
    std::vector<std::string> v = machsim::check_invariants();
    for (const std::string& s : v) MESSAGE(s);
    return v.empty();
}

// Sets a flag when destroyed: shows a thread's stack was unwound.
struct Guard {
    bool* flag;
    ~Guard() { *flag = true; }
};

using mt::check_sound;

constexpr mach_port_type_t kNoReq = ~MACH_PORT_TYPE_DNREQUEST;

}  // namespace lt

namespace doctest {
// Vectors of ids, payloads or counts print as {a, b, c} in failure messages.
template <>
struct StringMaker<std::vector<int>> {
    static String convert(const std::vector<int>& v) {
        std::string out = "{";
        for (std::size_t i = 0; i < v.size(); ++i) out += (i ? ", " : "") + std::to_string(v[i]);
        return (out + "}").c_str();
    }
};
}  // namespace doctest
