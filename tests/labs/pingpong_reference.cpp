// A solution of labs/pingpong, for the tests: `make grade LAB=pingpong SOLUTION=...` must give it
// every point, and built with -DPINGPONG_NO_RETRY all but the schedule test's (tests/run.sh).
#include <mach/mach.h>
#include <machsim.h>
#include <servers/bootstrap.h>

#include <cstdio>

namespace {

constexpr mach_msg_id_t kPing = 1000, kPong = 1100;
constexpr int kRounds = 10;

struct CounterMsg {
    mach_msg_header_t head;
    int counter;
};
struct CounterReceived {
    CounterMsg msg;
    mach_msg_trailer_t trailer;
};

int pong() {
    mach_port_t port = MACH_PORT_NULL;
    if (bootstrap_check_in(bootstrap_port, "pong", &port) != KERN_SUCCESS) return 1;
    for (int i = 0; i < kRounds; ++i) {
        CounterReceived in{};
        if (mach_msg(&in.msg.head, MACH_RCV_MSG, 0, sizeof in, port, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
                MACH_MSG_SUCCESS ||
            in.msg.head.msgh_id != kPing)
            return 1;
        CounterMsg out{};
        out.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_MOVE_SEND_ONCE, 0);
        out.head.msgh_size = sizeof out;
        out.head.msgh_remote_port = in.msg.head.msgh_remote_port;
        out.head.msgh_id = kPong;
        out.counter = in.msg.counter + 1;
        if (mach_msg(&out.head, MACH_SEND_MSG, sizeof out, 0, MACH_PORT_NULL, MACH_MSG_TIMEOUT_NONE, MACH_PORT_NULL) !=
            MACH_MSG_SUCCESS)
            return 1;
    }
    return 0;
}

int ping() {
    mach_port_t pong_port = MACH_PORT_NULL;
    kern_return_t kr = bootstrap_look_up(bootstrap_port, "pong", &pong_port);
#ifndef PINGPONG_NO_RETRY  // without it, the mistake the schedule test is for: right under round robin only
    for (int tries = 0; kr == BOOTSTRAP_UNKNOWN_SERVICE && tries < 100; ++tries) {
        thread_switch(MACH_PORT_NULL, SWITCH_OPTION_WAIT, 1);
        kr = bootstrap_look_up(bootstrap_port, "pong", &pong_port);
    }
#endif
    if (kr != KERN_SUCCESS) return 1;
    mach_port_t reply = mach_reply_port();
    int counter = 0;
    for (int i = 0; i < kRounds; ++i) {
        CounterReceived m{};
        m.msg.head.msgh_bits = MACH_MSGH_BITS(MACH_MSG_TYPE_COPY_SEND, MACH_MSG_TYPE_MAKE_SEND_ONCE);
        m.msg.head.msgh_size = sizeof m.msg;
        m.msg.head.msgh_remote_port = pong_port;
        m.msg.head.msgh_local_port = reply;
        m.msg.head.msgh_id = kPing;
        m.msg.counter = counter;
        if (mach_msg(&m.msg.head, MACH_SEND_MSG | MACH_RCV_MSG, sizeof m.msg, sizeof m, reply, MACH_MSG_TIMEOUT_NONE,
                     MACH_PORT_NULL) != MACH_MSG_SUCCESS ||
            m.msg.head.msgh_id != kPong || m.msg.counter != counter + 1)
            return 1;
        counter = m.msg.counter;
        std::printf("ping: %d\n", counter);
    }
    return 0;
}

}  // namespace

MACHSIM_PROGRAM(pingpong, "lab: ping and pong bounce a counter 10 times") {
    k.spawn("pong", pong);
    k.spawn("ping", ping);
}
