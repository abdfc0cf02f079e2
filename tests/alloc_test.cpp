// The message path allocates nothing once warm: every operator new of the test
// program is counted, and a window of RPCs or one-way messages must add none.
// (The suite runs with the fast path on and off: both paths are held to it.)
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "tests/support.h"

namespace {

std::atomic<uint64_t> news{0};

}  // namespace

// Replaces the program's operator new (the other forms of new call this one).
void* operator new(std::size_t n) {
    news.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc{};
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

constexpr int kWarmup = 200;  // fills the message pool and the name tables
constexpr int kWindow = 2000;
constexpr int kTail = 20;  // after the window, so that no task ends (and is torn down) inside it
constexpr int kTotal = kWarmup + kWindow + kTail;

struct Request {
    mach_msg_header_t head;
    uint64_t value;
};
struct Received {
    Request msg;
    mach_msg_audit_trailer_t trailer;
};

// A send right to a service checked in by another task, yielding until it is there.
mach_port_t look_up(const char* service) {
    for (int i = 0; i < 1000; ++i) {
        mach_port_t p = MACH_PORT_NULL;
        if (bootstrap_look_up(bootstrap_port, service, &p) == KERN_SUCCESS) return p;
        (void)thread_switch(MACH_PORT_NULL, SWITCH_OPTION_NONE, 0);
    }
    return MACH_PORT_NULL;
}

Request simple(mach_msg_type_name_t remote, mach_port_t dest, mach_msg_type_name_t local, mach_port_t reply,
               uint64_t value) {
    Request m{};
    m.head.msgh_bits = MACH_MSGH_BITS(remote, local);
    m.head.msgh_size = sizeof m.head + sizeof m.value;
    m.head.msgh_remote_port = dest;
    m.head.msgh_local_port = reply;
    m.head.msgh_id = 500;
    m.value = value;
    return m;
}

}  // namespace

TEST_SUITE("allocation") {

TEST_CASE("RPC round trips allocate nothing once warm") {
    uint64_t added = ~uint64_t{0};
    int wrong = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("server", [&] {
            mach_port_t port = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "alloc.rpc", &port), KERN_SUCCESS);
            Received in{};
            mach_msg_return_t mr =
                mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
            for (int i = 0; mr == MACH_MSG_SUCCESS && i < kTotal; ++i) {
                // Reply with the value doubled, and wait for the next request in the same call.
                Request reply = simple(MACH_MSG_TYPE_MOVE_SEND_ONCE, in.msg.head.msgh_remote_port, 0,
                                       MACH_PORT_NULL, in.msg.value * 2);
                static_assert(sizeof in >= sizeof reply);
                std::memcpy(&in.msg, &reply, sizeof reply);
                mach_msg_option_t option = MACH_SEND_MSG | (i + 1 < kTotal ? MACH_RCV_MSG : 0);
                mr = mach_msg(&in.msg.head, option, sizeof reply, sizeof in, port, MACH_MSG_TIMEOUT_NONE,
                              MACH_PORT_NULL);
            }
            CHECK_KR(mr, MACH_MSG_SUCCESS);
        });
        k.spawn("client", [&] {
            mach_port_t service = look_up("alloc.rpc");
            CHECK(MACH_PORT_VALID(service));
            mach_port_t reply = mach_reply_port();
            uint64_t before = 0;
            for (int i = 0; i < kTotal; ++i) {
                if (i == kWarmup) before = news.load();
                if (i == kWarmup + kWindow) added = news.load() - before;
                Received buf{};
                buf.msg = simple(MACH_MSG_TYPE_COPY_SEND, service, MACH_MSG_TYPE_MAKE_SEND_ONCE, reply, i);
                mach_msg_return_t mr = mach_msg(&buf.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof buf.msg,
                                                sizeof buf, reply, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
                if (mr != MACH_MSG_SUCCESS || buf.msg.value != uint64_t(i) * 2) ++wrong;
            }
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(wrong == 0);
    CHECK(added == 0);
}

TEST_CASE("one-way messages through a full queue (qlimit 16) allocate nothing once warm") {
    uint64_t added = ~uint64_t{0};
    int wrong = 0;
    machsim::RunReport r = mt::run_kernel([&](machsim::Kernel& k) {
        k.spawn("consumer", [&] {
            mach_port_t port = MACH_PORT_NULL;
            CHECK_KR(bootstrap_check_in(bootstrap_port, "alloc.oneway", &port), KERN_SUCCESS);
            CHECK_KR(mt::set_qlimit(port, 16), KERN_SUCCESS);
            for (int i = 0; i < kTotal; ++i) {
                Received in{};
                mach_msg_return_t mr =
                    mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL);
                if (mr != MACH_MSG_SUCCESS || in.msg.value != uint64_t(i)) ++wrong;
            }
        });
        k.spawn("producer", [&] {
            mach_port_t port = look_up("alloc.oneway");
            CHECK(MACH_PORT_VALID(port));
            uint64_t before = 0;
            for (int i = 0; i < kTotal; ++i) {
                if (i == kWarmup) before = news.load();
                if (i == kWarmup + kWindow) added = news.load() - before;
                Request m = simple(MACH_MSG_TYPE_COPY_SEND, port, 0, MACH_PORT_NULL, i);
                if (mach_msg(&m.head, MACH_SEND_MSG, sizeof m, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE,
                             MACH_PORT_NULL) != MACH_MSG_SUCCESS)
                    ++wrong;
            }
        });
    });
    INFO(r.summary());
    CHECK(r.clean());
    CHECK(wrong == 0);
    CHECK(added == 0);
}

}  // TEST_SUITE("allocation")
